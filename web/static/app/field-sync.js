/* Sending the queue: every item in the order it was recorded, each exactly once.
 *
 * For each pending item: its photos are uploaded first (idempotent by content; the
 * hash is written back to the phone's copy so a retry does not upload again), then
 * the submission that references them, under the item's idempotency key (a retry after
 * a lost answer is replayed by the server, never applied twice). Only when the server
 * has answered 2xx is the item removed from the phone. A 409 keeps the item as a
 * conflict with both versions, a 422 as rejected with the server's words; no network,
 * 401 or 5xx stops the sync with everything still queued, in order.
 *
 * ``store`` and ``api`` are passed in (field-store.js and field.js in the page; an
 * in-memory store and a fake server in tests/js/field-sync.test.js). */

import { CONFLICT, REJECTED, outcomeOf, sendable, submissionBody } from "./field-logic.js";

/**
 * Send what is pending. ``api.uploadPhoto(photo)`` → {sha256}; ``api.submit(key, body)``
 * → the server's answer; both throw ``{status, data, message}`` errors.
 * Resolves to {sent, conflicts, rejected, stopped: null | the error that stopped it}.
 */
export async function syncQueue(store, api, onItem = () => {}) {
  const result = { sent: 0, conflicts: 0, rejected: 0, stopped: null };
  for (const item of sendable(await store.items())) {
    let photos;
    try {
      photos = await uploadPhotos(store, api, item);
    } catch (err) {
      if (outcomeOf(err.status, err.data) === "stop") {
        result.stopped = err;
        return result;
      }
      // a photo the server refuses (not an image, too large): the item waits for the user
      await store.update({ ...item, state: REJECTED, error: errorWords(err), problem: err.data || null });
      result.rejected++;
      onItem(item, "rejected");
      continue;
    }
    try {
      const answer = await api.submit(item.key, submissionBody(item, photos));
      await store.remove(item);
      result.sent++;
      onItem(item, "sent", answer);
    } catch (err) {
      const outcome = outcomeOf(err.status, err.data);
      if (outcome === "stop") {
        result.stopped = err;
        return result;
      }
      if (outcome === "conflict") {
        await store.update({ ...item, state: CONFLICT, conflict: err.data || {}, error: errorWords(err) });
        result.conflicts++;
      } else {
        await store.update({ ...item, state: REJECTED, error: errorWords(err), problem: err.data || null });
        result.rejected++;
      }
      onItem(item, outcome);
    }
  }
  return result;
}

async function uploadPhotos(store, api, item) {
  const out = [];
  for (const id of item.photo_ids || []) {
    const photo = await store.photo(id);
    if (!photo) continue; // never stored (the phone refused the file): nothing to send
    if (!photo.sha256) {
      const answer = await api.uploadPhoto(photo);
      photo.sha256 = answer.sha256;
      await store.savePhoto(photo);
    }
    out.push(photo);
  }
  return out;
}

/** The server's words for a refused item (its field errors, else its detail). A field
 * is named by the label the server gave, else by ``label(name)`` (the layer's own, in the
 * page's language), its code (found_on) only when neither knows it. */
export function errorWords(err, label = () => null) {
  const d = err && err.data;
  if (d && Array.isArray(d.errors) && d.errors.length) {
    return d.errors.map((e) => [e.field_label || (e.field && label(e.field)) || e.field || e.parameter, e.message || e.reason]
      .filter(Boolean).join(": ")).join("; ");
  }
  if (d && typeof d.detail === "string") return d.detail;
  if (d && typeof d.title === "string") return d.title;
  return (err && err.message) || String(err);
}
