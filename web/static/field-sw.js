/* The field app's service worker (scope /field): the app shell precached so the page
 * opens with no network after the first load, the data it last read kept for when the
 * network is gone, and the tiles of the offline areas the user downloaded.
 *
 * Served by web/routes/field_app.py at /field-sw.js with ``SHELL`` written before this
 * text: {version, files}. The version is a hash of the shell's files, so any change to
 * them changes this script's bytes, which is what makes the browser install the new
 * worker; the old shell cache is deleted when the new one activates.
 *
 * Hand-written rather than Workbox: Workbox's precache list (with revisions) comes from
 * a build step (workbox-build / its webpack plugin, injectManifest), and this project has
 * no build; here the route that serves the worker writes the list and its hash. The four
 * strategies below are a few lines each, and the offline tiles are put in their cache by
 * the page (with its progress bar), not by the worker.
 *
 * Strategies:
 *   shell files             cache first (precached at install, fetched with cache: "reload")
 *   /field (the page)       network first (a 4 s limit), else the cached shell
 *   /api/field/config, /api/layers, /api/districts, /auth/me
 *                           network first, else the last good answer
 *   tiles (/ogc/.../tiles, /basemaps/...)
 *                           network first (a 4 s limit), else the offline-area cache;
 *                           a fresh tile also refreshes a cached one
 *   everything else         the network, untouched (writes, searches, photos)
 */

const SHELL_CACHE = "field-shell-" + SHELL.version;
const DATA_CACHE = "field-data";
const TILE_CACHE = "field-tiles"; // filled by the page (field-offline.js), read here
const NETWORK_LIMIT_MS = 4000;
const DATA_PATHS = ["/api/field/config", "/api/layers", "/api/districts", "/auth/me"];
const isTile = (path) => /^\/ogc\/(collections\/[^/]+\/)?tiles\/WebMercatorQuad\/\d+\/\d+\/\d+$/.test(path) || /^\/basemaps\/[^/]+\/\d+\/\d+\/\d+\.\w+$/.test(path);

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    // "reload": the network copy, never a stale one from the HTTP cache
    await cache.addAll(SHELL.files.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("field-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** fetch(), failing after ``ms`` (a weak signal must not hold the page). */
function fetchWithin(request, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("network too slow")), ms);
    fetch(request).then((res) => { clearTimeout(timer); resolve(res); }, (err) => { clearTimeout(timer); reject(err); });
  });
}

async function page(request) {
  try {
    return await fetchWithin(request, NETWORK_LIMIT_MS);
  } catch (err) {
    const cached = await caches.match("/field", { cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw err;
  }
}

async function shellFile(request) {
  const cached = await caches.match(request, { cacheName: SHELL_CACHE, ignoreVary: true });
  return cached || fetch(request);
}

async function data(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const res = await fetchWithin(request, NETWORK_LIMIT_MS);
    if (res.ok) await cache.put(request, res.clone());
    // signed out: nothing of the last session is kept for an offline start
    else if (res.status === 401) for (const path of DATA_PATHS) await cache.delete(path);
    return res;
  } catch (err) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    throw err;
  }
}

async function tile(request) {
  const cache = await caches.open(TILE_CACHE);
  try {
    const res = await fetchWithin(request, NETWORK_LIMIT_MS);
    if ((res.status === 200 || res.status === 204) && (await cache.match(request, { ignoreVary: true }))) {
      await cache.put(request, res.clone());
    }
    return res;
  } catch (err) {
    const cached = await cache.match(request, { ignoreVary: true });
    if (cached) return cached;
    throw err;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (request.mode === "navigate" && path === "/field") event.respondWith(page(request));
  else if (SHELL.files.includes(path)) event.respondWith(shellFile(request));
  else if (DATA_PATHS.includes(path)) event.respondWith(data(request));
  else if (isTile(path)) event.respondWith(tile(request));
});

/* The page asks which shell it runs (its tests and the status line). */
self.addEventListener("message", (event) => {
  if (event.data === "version" && event.source) event.source.postMessage({ version: SHELL.version });
});
