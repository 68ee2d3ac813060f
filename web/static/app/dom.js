/* Building the page: the one element helper every module uses (h, and fill to replace
 * what an element holds), and the toast.
 * Elements are made through the DOM, never from HTML strings, so text from the server
 * or a file is always text; style goes through el.style, which the page's
 * Content-Security-Policy allows (style attributes in markup it refuses). */

/** The first element matching ``sel`` (in ``root``, the document by default). */
export const $ = (sel, root = document) => root.querySelector(sel);

/**
 * A new element: ``h("a", {href, text: "…", onclick: fn}, child, [children], …)``.
 *
 * ``text`` sets textContent, ``style`` the inline style (through the DOM), ``on…``
 * adds an event listener; ``null``, ``undefined`` and ``false`` leave an attribute
 * out. Children are nodes or text (strings, numbers), arrays of them, or null.
 */
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") el.textContent = v === null || v === undefined ? "" : String(v);
    else if (k === "style") el.style.cssText = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v);
  }
  el.append(...nodes(kids));
  return el;
}

/** Replace what ``el`` holds with ``kids`` (as h() takes them; none: empty it). */
export function fill(el, ...kids) {
  el.replaceChildren(...nodes(kids));
  return el;
}

/** Children as h() takes them → nodes and strings (null, undefined, false left out). */
const nodes = (kids) => kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false)
  .map((k) => (k.nodeType ? k : String(k)));

let toastTimer = null;
/** A short message at the bottom of the page (#toast, a live region). */
export function toast(msg, ms = 3000) {
  const el = $("#toast");
  if (!el) return;
  el.textContent = msg;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), ms);
}
