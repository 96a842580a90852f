// passkey.js is the console's one script. It runs the WebAuthn ceremonies
// of the elements marked data-passkey: adding a passkey (a form, "register")
// and proving the second factor with one ("login" after the password,
// "reauth" before a sensitive action; buttons). The server decides every
// outcome and answers with where to go next; this script only carries the
// browser's credential between navigator.credentials and the server. The
// pages it runs on work without it: they fall back to the TOTP code.
"use strict";

(function () {
  // Only paths on this origin are followed.
  function go(url) {
    if (typeof url === "string" && url.startsWith("/") && !url.startsWith("//")) {
      window.location.assign(url);
      return true;
    }
    return false;
  }

  function fromB64url(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // post sends JSON and returns the answer's JSON, or null when the answer
  // is not JSON (the console sent the browser to sign in or to confirm the
  // second factor: the fetch followed that redirect to a page).
  async function post(url, body) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.redirected) {
      window.location.assign(res.url);
      return null;
    }
    if (!(res.headers.get("Content-Type") || "").startsWith("application/json")) {
      window.location.reload();
      return null;
    }
    return res.json();
  }

  function encodeCredential(cred) {
    const r = cred.response;
    const out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(),
      response: { clientDataJSON: toB64url(r.clientDataJSON) },
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = toB64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) {
        out.response.userHandle = toB64url(r.userHandle);
      }
    }
    return out;
  }

  async function ceremony(el, name) {
    const kind = el.dataset.passkey;
    const options = await post(el.dataset.optionsUrl, kind === "register" ? { name: name } : {});
    if (options === null) {
      return;
    }
    if (!options.publicKey) {
      if (!go(options.redirect)) {
        go(el.dataset.failUrl);
      }
      return;
    }
    const pk = options.publicKey;
    pk.challenge = fromB64url(pk.challenge);
    let cred;
    if (kind === "register") {
      pk.user.id = fromB64url(pk.user.id);
      (pk.excludeCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
      cred = await navigator.credentials.create({ publicKey: pk });
    } else {
      (pk.allowCredentials || []).forEach(function (c) { c.id = fromB64url(c.id); });
      cred = await navigator.credentials.get({ publicKey: pk });
    }
    const answer = await post(el.dataset.finishUrl, { credential: encodeCredential(cred), next: el.dataset.next || "" });
    if (answer !== null && !go(answer.redirect)) {
      go(el.dataset.failUrl);
    }
  }

  function start(el, name) {
    if (el.dataset.busy) {
      return;
    }
    el.dataset.busy = "1";
    // A refusal by the browser or the person (cancelled, timed out, no
    // matching passkey) lands on the page's own error message.
    ceremony(el, name).catch(function () { go(el.dataset.failUrl); });
  }

  function init() {
    const supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
    document.querySelectorAll("[data-passkey-nojs]").forEach(function (e) { e.hidden = true; });
    document.querySelectorAll(supported ? "[data-passkey-js]" : "[data-passkey-unsupported]")
      .forEach(function (e) { e.hidden = false; });
    if (!supported) {
      return;
    }
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        start(form, form.elements.namedItem("name").value);
      });
    });
    document.querySelectorAll("button[data-passkey]").forEach(function (button) {
      button.addEventListener("click", function () { start(button, ""); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
