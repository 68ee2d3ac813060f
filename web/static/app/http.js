/* Requests to the registry: the one way every module talks to the server.
 *
 * Same-origin credentials; the session's CSRF token (cookie ``registry_csrf``, set at
 * sign-in) echoed in X-CSRF-Token on every state change; JSON bodies encoded; a non-2xx
 * answer (RFC 9457 problem+json) thrown as a RequestError, and errorText() turns it
 * into words for the user: a headline in the page's language (Chinese first), then what
 * the server said about the field or parameter. Every request says the page's language
 * (Accept-Language), so the server words its problems in it (web/errors.py renders them
 * from the zh/en message table); clients key on the problem's ``code`` and each field
 * error's ``code``, never on the words. */

import { I18n, t } from "./i18n.js";

const CSRF_COOKIE = "registry_csrf"; // web/auth.py CSRF_COOKIE
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

/** A request the server answered with an error, or that never reached it (status 0). */
export class RequestError extends Error {
  constructor(message, { status = 0, data = null, response = null, url = "" } = {}) {
    super(message);
    this.name = "RequestError";
    this.status = status;
    this.data = data; // the problem document (or the JSON body) of the answer
    this.response = response;
    this.url = url;
  }
}

/** The session's CSRF token, or "" when signed out. */
export function csrfToken() {
  const m = document.cookie.match(new RegExp("(?:^|;\\s*)" + CSRF_COOKIE + "=([^;]+)"));
  return m ? decodeURIComponent(m[1]) : "";
}

let unauthorized = null;
/** Called with the error when the server answers 401 (the session ended). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

/**
 * ``fetch`` for the registry's API: resolves to ``{data, res}`` (data: the parsed JSON
 * body, or null), throws a RequestError for a non-2xx answer or a network failure.
 *
 * ``opts`` are fetch's; a ``body`` that is not a string, FormData or Blob is sent as
 * JSON (Content-Type application/json unless given).
 */
export async function request(url, opts = {}) {
  const method = (opts.method || "GET").toUpperCase();
  const headers = { Accept: "application/json", "Accept-Language": acceptLanguage(), ...opts.headers };
  let body = opts.body;
  if (body !== undefined && body !== null && typeof body !== "string" && !(body instanceof FormData) && !(body instanceof Blob)) {
    body = JSON.stringify(body);
    headers["Content-Type"] = headers["Content-Type"] || "application/json";
  }
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  let res;
  try {
    res = await fetch(url, { ...opts, method, headers, body, credentials: "same-origin" });
  } catch (err) {
    throw new RequestError(err.message, { url });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null; // not JSON (a proxy's error page): the status speaks for it
    }
  }
  if (!res.ok) {
    const err = new RequestError((data && (data.detail || data.title)) || res.statusText || String(res.status),
      { status: res.status, data, response: res, url });
    if (res.status === 401 && unauthorized) unauthorized(err);
    throw err;
  }
  return { data, res };
}

/** The page's language as an Accept-Language header (the server answers in it). */
export function acceptLanguage() {
  return I18n.lang === "en" ? "en" : "zh-CN";
}

/** The headline of an error status, in the page's language. */
function headline(status) {
  if (status === 400 || status === 422) return t("bad_request");
  if (status === 403) return t("forbidden");
  if (status === 404 || status === 410) return t("not_found");
  if (status === 409) return t("conflict_409");
  if (status === 412) return t("changed_meanwhile");
  if (status === 413 || status === 414 || status === 431) return t("too_large");
  if (status === 429) return t("too_many");
  if (status === 503) return t("unavailable");
  if (status >= 500) return t("server_error");
  return t("error");
}

/** What the problem says about the input: its field errors, else its detail. (Errors
 * that offer ``choices`` are a question the page asks with a list; the detail asks it.) */
function specifics(data) {
  if (!data || typeof data !== "object") return "";
  const errors = Array.isArray(data.errors) ? data.errors : Array.isArray(data.detail) ? data.detail : [];
  if (errors.length && !errors.some((e) => e.choices)) {
    return errors.slice(0, 10).map((e) => {
      // the field's label (the server gives it in the page's language), else its name
      const where = e.field_label || e.field || e.parameter || (Array.isArray(e.loc) ? e.loc.join(".") : "");
      const row = e.row !== undefined && e.row !== null ? `${I18n.t("row")} ${e.row} ` : "";
      return row + (where ? where + ": " : "") + (e.message || e.msg || e.reason || "");
    }).join("; ");
  }
  return typeof data.detail === "string" ? data.detail : "";
}

/** An error (a RequestError or any other) as one line for the user. */
export function errorText(err) {
  const colon = I18n.pick("：", ": ");
  if (!(err instanceof RequestError)) return t("error") + colon + ((err && err.message) || String(err));
  if (err.status === 401) return t("session_expired");
  if (err.status === 0) return t("network_error");
  const more = specifics(err.data);
  const head = headline(err.status);
  return more ? head + colon + more : `${head} (HTTP ${err.status})`;
}
