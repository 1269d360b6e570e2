// Passkeys: a form marked data-passkey="create" or "get" asks its data-options-url for the WebAuthn options,
// lets the browser make or use the passkey, and posts the answer in its hidden `credential` field.
// Without JavaScript (or WebAuthn) the form stays hidden and the code path is there for everyone else.
(function () {
  "use strict";
  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var raw = atob(base64), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes.buffer;
  }
  function toText(buffer) {
    var bytes = new Uint8Array(buffer), raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withBytes(list) {
    return (list || []).map(function (item) { return Object.assign({}, item, { id: toBytes(item.id) }); });
  }
  function answer(credential) {
    var r = credential.response, out = {
      id: credential.id, rawId: toText(credential.rawId), type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = toText(r.attestationObject);
      out.response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      out.response.authenticatorData = toText(r.authenticatorData);
      out.response.signature = toText(r.signature);
      out.response.userHandle = r.userHandle ? toText(r.userHandle) : null;
    }
    return JSON.stringify(out);
  }
  function ceremony(form, kind, options) {
    options.challenge = toBytes(options.challenge);
    if (kind === "create") {
      options.user.id = toBytes(options.user.id);
      options.excludeCredentials = withBytes(options.excludeCredentials);
      return navigator.credentials.create({ publicKey: options });
    }
    options.allowCredentials = withBytes(options.allowCredentials);
    return navigator.credentials.get({ publicKey: options });
  }
  function start(form, event) {
    event.preventDefault();
    var error = form.querySelector("[data-passkey-error]"), kind = form.getAttribute("data-passkey");
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    error.textContent = "";
    fetch(form.getAttribute("data-options-url"), {
      method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": token, "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) { throw new Error(body.error || response.statusText); }
        return body;
      });
    }).then(function (options) {
      return ceremony(form, kind, options);
    }).then(function (credential) {
      form.querySelector("input[name=credential]").value = answer(credential);
      form.submit();
    }).catch(function (problem) {
      error.textContent = form.getAttribute("data-failed") + " (" + (problem && problem.name || "Error") + ")";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.PublicKeyCredential || !navigator.credentials) { return; }
    document.querySelectorAll("form[data-passkey]").forEach(function (form) {
      form.hidden = false;
      form.addEventListener("submit", function (event) { start(form, event); });
    });
    document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) { note.hidden = true; });
  });
})();
