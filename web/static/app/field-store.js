/* The field app's storage on the phone: one IndexedDB database, so nothing recorded is
 * lost when the page is closed or the browser restarts.
 *
 *   queue   every record, in the order it was made (seq), until the server has it
 *   photos  the downscaled photos (Blobs) of queued records, until uploaded and sent
 *   assets  assets the phone has seen (nearby searches, offline areas): "附近" offline
 *   areas   the offline areas downloaded (tile URLs are re-derived from the bbox)
 *
 * A tiny promise wrapper over IndexedDB's requests; every write is its own
 * transaction, committed before the promise resolves. */

const DB_NAME = "jiaozuo-field";
const DB_VERSION = 1;

let opening = null;

/** The database (opened once per page, created on first use). */
export function db() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains("queue")) d.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
        if (!d.objectStoreNames.contains("photos")) d.createObjectStore("photos", { keyPath: "id" });
        if (!d.objectStoreNames.contains("assets")) d.createObjectStore("assets", { keyPath: "key" });
        if (!d.objectStoreNames.contains("areas")) d.createObjectStore("areas", { keyPath: "id" });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }
  return opening;
}

const done = (req) => new Promise((resolve, reject) => {
  req.onsuccess = () => resolve(req.result);
  req.onerror = () => reject(req.error);
});

async function run(storeName, mode, fn) {
  const d = await db();
  const tx = d.transaction(storeName, mode);
  const result = await fn(tx.objectStore(storeName));
  await new Promise((resolve, reject) => {
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
  });
  return result;
}

/** Every record of a store. */
export const all = (store) => run(store, "readonly", (s) => done(s.getAll()));
/** One record by key (undefined when absent). */
export const get = (store, key) => run(store, "readonly", (s) => done(s.get(key)));
/** Write a record; resolves to its key (the queue's seq for a new item). */
export const put = (store, value) => run(store, "readwrite", (s) => done(s.put(value)));
/** Remove a record. */
export const remove = (store, key) => run(store, "readwrite", (s) => done(s.delete(key)));
/** Write many records in one transaction. */
export const putMany = (store, values) => run(store, "readwrite", (s) => Promise.all(values.map((v) => done(s.put(v)))));

/** The store as the sync needs it (see field-sync.js: the same shape is kept in memory
 * by its tests). */
export const QueueStore = {
  items: () => all("queue"),
  add: (item) => put("queue", item),
  update: (item) => put("queue", item),
  /** The item and its photos, in one transaction (never an item without its photos). */
  async remove(item) {
    const d = await db();
    const tx = d.transaction(["queue", "photos"], "readwrite");
    for (const id of item.photo_ids || []) tx.objectStore("photos").delete(id);
    tx.objectStore("queue").delete(item.seq);
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("transaction aborted"));
    });
  },
  photo: (id) => get("photos", id),
  savePhoto: (photo) => put("photos", photo),
};
