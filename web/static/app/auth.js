/* Signing in on the map and upload pages: who is here (/auth/me), the sign-in form
 * (shown when the server says 401, or on demand in a public-read deployment), the
 * user box with role and sign-out, the CSRF token for writes, and what the role may
 * do per layer (to show or hide controls; the server still decides every request). */
(function () {
  "use strict";
  const t = (k, v) => I18n.t(k, v);
  const CSRF_COOKIE = "registry_csrf"; // web/auth.py CSRF_COOKIE
  const CFG = window.REGISTRY_CONFIG || {};
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid.nodeType ? kid : String(kid));
    return e;
  };

  const Auth = {
    user: null, // /auth/me: {username, role, role_label, permissions: {layer: [actions], "*": [...]}}
    publicRead: !!CFG.public_read,
    listeners: [],
    /** The CSRF token the server set at sign-in, echoed in X-CSRF-Token on writes. */
    csrf() {
      const m = document.cookie.match(new RegExp("(?:^|;\\s*)" + CSRF_COOKIE + "=([^;]+)"));
      return m ? decodeURIComponent(m[1]) : "";
    },
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
    onChange(fn) { Auth.listeners.push(fn); },
    async refresh() {
      const res = await fetch("/auth/me", { credentials: "same-origin", headers: { Accept: "application/json" } });
      Auth.user = res.ok ? await res.json() : null;
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
      if (!document.getElementById("login-dialog")) showForm(() => Auth.listeners.forEach((fn) => fn(Auth.user)), true);
    },
    showForm(cancellable) { showForm(() => Auth.listeners.forEach((fn) => fn(Auth.user)), cancellable); },
    async logout() {
      await fetch("/auth/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": Auth.csrf() } });
      Auth.user = null;
      renderBox();
      if (Auth.publicRead) Auth.listeners.forEach((fn) => fn(null));
      else location.reload(); // nothing of the last user's data stays on screen
    },
    relabel() { renderBox(); const d = document.getElementById("login-dialog"); if (d) relabelForm(d); },
  };

  function renderBox() {
    const box = document.getElementById("user-box");
    if (!box) return;
    box.innerHTML = "";
    const u = Auth.user;
    if (u) {
      const role = u.role_label ? I18n.label(u.role_label) : u.role;
      box.append(
        el("span", { id: "user-name", class: "user", title: u.username, text: (u.display_name || u.username) }),
        el("span", { id: "user-role", class: "role", text: role }),
        el("button", { type: "button", id: "logout-btn", onclick: () => Auth.logout() }, t("logout")));
    } else if (Auth.publicRead) {
      box.append(el("button", { type: "button", id: "login-btn", onclick: () => Auth.showForm(true) }, t("login_button")));
    }
  }

  function relabelForm(dialog) {
    dialog.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  }

  function showForm(done, cancellable) {
    const old = document.getElementById("login-dialog");
    if (old) old.remove();
    const msg = el("p", { id: "login-msg", class: "problems", role: "alert" });
    const user = el("input", { id: "login-user", name: "username", autocomplete: "username", required: "required" });
    const pass = el("input", { id: "login-pass", name: "password", type: "password", autocomplete: "current-password", required: "required" });
    const form = el("form", { id: "login-form", class: "attr-form" },
      el("h2", { id: "login-title", "data-i18n": "login_title", text: t("login_title") }),
      el("label", { for: "login-user" }, el("span", { "data-i18n": "username", text: t("username") }), user),
      el("label", { for: "login-pass" }, el("span", { "data-i18n": "password", text: t("password") }), pass),
      el("div", { class: "row" },
        el("button", { type: "submit", id: "login-submit", "data-i18n": "login", text: t("login") }),
        el("button", { type: "button", id: "login-lang", "data-i18n": "lang_toggle", text: t("lang_toggle"),
          onclick: () => { I18n.set(I18n.lang === "zh" ? "en" : "zh"); I18n.apply(); relabelForm(dialog); if (Auth.onLang) Auth.onLang(); } }),
        cancellable ? el("button", { type: "button", id: "login-cancel", "data-i18n": "cancel", text: t("cancel"), onclick: () => dialog.remove() }) : null),
      msg);
    const dialog = el("div", { id: "login-dialog", class: "login-backdrop", role: "dialog", "aria-modal": "true", "aria-labelledby": "login-title" },
      el("div", { class: "login-box panel" }, form));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      msg.textContent = "";
      const res = await fetch("/auth/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username: user.value.trim(), password: pass.value }),
      });
      pass.value = "";
      if (!res.ok) {
        msg.textContent = res.status === 429 ? t("login_throttled") : res.status === 401 || res.status === 403 ? t("login_failed") : t("error") + " (" + res.status + ")";
        pass.focus();
        return;
      }
      Auth.user = (await res.json()).user;
      dialog.remove();
      renderBox();
      done(Auth.user);
    });
    dialog.addEventListener("keydown", (e) => { if (e.key === "Escape" && cancellable) dialog.remove(); });
    document.body.append(dialog);
    user.focus();
  }

  window.Auth = Auth;
})();
