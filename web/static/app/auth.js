/* Signing in on the map and upload pages: who is here (/auth/me), the sign-in form
 * (shown when the server says 401, or on demand in a public-read deployment), the
 * user box with role and sign-out, and what the role may do per layer (to show or hide
 * controls; the server still decides every request). */

import { CONFIG } from "./config.js";
import { $, fill, h, toast } from "./dom.js";
import { errorText, onUnauthorized, request } from "./http.js";
import { I18n, t } from "./i18n.js";

const listeners = [];
const notify = () => listeners.forEach((fn) => fn(Auth.user));

export const Auth = {
  user: null, // /auth/me: {username, role, role_label, permissions: {layer: [actions], "*": [...]}}
  publicRead: !!CONFIG.public_read,
  /** Called when the sign-in form switches the language (the page relabels itself). */
  onLang: null,
  /** Whether the signed-in role may do ``action`` on ``layer`` (global actions: no layer). */
  can(action, layer) {
    const p = Auth.user && Auth.user.permissions;
    if (!p) return false;
    return ((layer ? p[layer] : p["*"]) || []).includes(action);
  },
  canAny(action) {
    const p = Auth.user && Auth.user.permissions;
    return !!p && Object.keys(p).some((k) => k !== "*" && p[k].includes(action));
  },
  /** ``fn(user)`` after every sign-in or sign-out that keeps the page. */
  onChange(fn) { listeners.push(fn); },
  /** Who is signed in (null: nobody). Other errors than 401 are thrown. */
  async refresh() {
    try {
      ({ data: Auth.user } = await request("/auth/me"));
    } catch (err) {
      if (err.status !== 401) throw err;
      Auth.user = null;
    }
    renderBox();
    return Auth.user;
  },
  /** Resolves once the page may load data: signed in, or browsing a public-read deployment. */
  async ensure() {
    await Auth.refresh();
    if (Auth.user || Auth.publicRead) return Auth.user;
    return new Promise((resolve) => showForm(resolve, false));
  },
  /** The session ended (expired, signed out elsewhere): ask again, keep the page. */
  expired() {
    Auth.user = null;
    renderBox();
    if (!$("#login-dialog")) showForm(notify, true);
  },
  showForm(cancellable) { showForm(notify, cancellable); },
  async logout() {
    try {
      await request("/auth/logout", { method: "POST" });
    } catch (err) {
      // a session that had already ended is signed out all the same
      if (err.status !== 401) return toast(errorText(err), 5000);
    }
    Auth.user = null;
    renderBox();
    if (Auth.publicRead) notify();
    else location.reload(); // nothing of the last user's data stays on screen
  },
  relabel() {
    renderBox();
    const d = $("#login-dialog");
    if (d) relabelForm(d);
  },
};

// A 401 on any request while signed in: the session ended elsewhere or expired.
onUnauthorized(() => { if (Auth.user) Auth.expired(); });

function renderBox() {
  const box = $("#user-box");
  if (!box) return;
  const u = Auth.user;
  if (u) {
    fill(box,
      h("span", { id: "user-name", class: "user", title: u.username, text: u.display_name || u.username }),
      h("span", { id: "user-role", class: "role", text: u.role_label ? I18n.label(u.role_label) : u.role }),
      h("button", { type: "button", id: "logout-btn", onclick: () => Auth.logout() }, t("logout")));
  } else if (Auth.publicRead) {
    fill(box, h("button", { type: "button", id: "login-btn", onclick: () => Auth.showForm(true) }, t("login_button")));
  } else {
    fill(box);
  }
}

function relabelForm(dialog) {
  dialog.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
}

function showForm(done, cancellable) {
  const old = $("#login-dialog");
  if (old) old.remove();
  const msg = h("p", { id: "login-msg", class: "problems", role: "alert" });
  const user = h("input", { id: "login-user", name: "username", autocomplete: "username", required: "required" });
  const pass = h("input", { id: "login-pass", name: "password", type: "password", autocomplete: "current-password", required: "required" });
  const switchLang = () => {
    I18n.toggle();
    I18n.apply();
    relabelForm(dialog);
    if (Auth.onLang) Auth.onLang();
  };
  const form = h("form", { id: "login-form", class: "attr-form" },
    h("h2", { id: "login-title", "data-i18n": "login_title", text: t("login_title") }),
    h("label", { for: "login-user" }, h("span", { "data-i18n": "username", text: t("username") }), user),
    h("label", { for: "login-pass" }, h("span", { "data-i18n": "password", text: t("password") }), pass),
    h("div", { class: "row" },
      h("button", { type: "submit", id: "login-submit", "data-i18n": "login", text: t("login") }),
      h("button", { type: "button", id: "login-lang", "data-i18n": "lang_toggle", text: t("lang_toggle"), onclick: switchLang }),
      cancellable ? h("button", { type: "button", id: "login-cancel", "data-i18n": "cancel", text: t("cancel"), onclick: () => dialog.remove() }) : null),
    msg);
  const dialog = h("div", { id: "login-dialog", class: "login-backdrop", role: "dialog", "aria-modal": "true", "aria-labelledby": "login-title" },
    h("div", { class: "login-box panel" }, form));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    msg.textContent = "";
    let data;
    try {
      ({ data } = await request("/auth/login", { method: "POST", body: { username: user.value.trim(), password: pass.value } }));
    } catch (err) {
      msg.textContent = err.status === 429 ? t("login_throttled") : err.status === 401 || err.status === 403 ? t("login_failed") : errorText(err);
      pass.value = "";
      pass.focus();
      return;
    }
    pass.value = "";
    Auth.user = data.user;
    dialog.remove();
    renderBox();
    done(Auth.user);
  });
  dialog.addEventListener("keydown", (e) => { if (e.key === "Escape" && cancellable) dialog.remove(); });
  document.body.append(dialog);
  user.focus();
}
