// Passkeys (WebAuthn) for sign-in and for adding a passkey on the account page.
// The pages work without this file: they say plainly that passkeys need JavaScript and a
// browser that supports them, and offer the SMS code instead.
(function () {
  "use strict";

  var supported = !!(window.PublicKeyCredential && navigator.credentials);

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["x-csrftoken"] || "";
    } catch (error) {
      return "";
    }
  }

  function say(message, kind) {
    var region = document.getElementById("messages");
    if (!region) return;
    var line = document.createElement("p");
    line.className = "flash flash-" + (kind || "error");
    line.setAttribute("role", kind === "error" ? "alert" : "status");
    line.textContent = message;
    region.replaceChildren(line);
  }

  // base64url <-> ArrayBuffer, for browsers without the JSON helpers of WebAuthn Level 3.
  function fromB64url(value) {
    var text = value.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) text += "=";
    var raw = atob(text);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromB64url(json.challenge);
    options.user = Object.assign({}, json.user, { id: fromB64url(json.user.id) });
    options.excludeCredentials = (json.excludeCredentials || []).map(function (item) {
      return Object.assign({}, item, { id: fromB64url(item.id) });
    });
    return options;
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var options = Object.assign({}, json);
    options.challenge = fromB64url(json.challenge);
    options.allowCredentials = (json.allowCredentials || []).map(function (item) {
      return Object.assign({}, item, { id: fromB64url(item.id) });
    });
    return options;
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
      response: { clientDataJSON: toB64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toB64url(response.attestationObject);
      out.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      out.response.authenticatorData = toB64url(response.authenticatorData);
      out.response.signature = toB64url(response.signature);
      out.response.userHandle = response.userHandle ? toB64url(response.userHandle) : null;
    }
    return out;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "x-csrftoken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  var failed = document.documentElement.lang === "en"
    ? "The passkey was not used. You can try again or use a text message code."
    : "未使用通行密钥。您可以重试，或改用短信验证码。";

  function signIn(button, conditional, abort) {
    return post("/signin/passkey/options").then(function (started) {
      var request = { publicKey: requestOptions(started.options) };
      if (conditional) {
        request.mediation = "conditional";
        request.signal = abort.signal;
      }
      return navigator.credentials.get(request).then(function (credential) {
        return post("/signin/passkey/verify", {
          challenge_id: started.challenge_id,
          credential: credentialJSON(credential),
          next: button.getAttribute("data-next") || "/account",
        });
      });
    }).then(function (result) {
      window.location.assign(result.redirect);
    });
  }

  function setupSignIn(button) {
    button.hidden = false;
    var conditional = null;
    var pending = Promise.resolve();
    // Passkey autofill on the phone field (conditional mediation), where the browser offers it.
    if (PublicKeyCredential.isConditionalMediationAvailable) {
      pending = PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        conditional = new AbortController();
        return signIn(button, true, conditional).catch(function (error) {
          if (error && error.name !== "AbortError" && error.name !== "NotAllowedError") say(error.message || failed);
        });
      });
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      // One WebAuthn request at a time: end the autofill request, wait until it has settled,
      // then ask with the browser's own dialog.
      if (conditional) conditional.abort();
      pending.then(function () {
        return signIn(button, false, null);
      }).catch(function (error) {
        say(error && error.name === "NotAllowedError" ? failed : (error.message || failed));
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  function setupRegister(section) {
    section.hidden = false;
    var button = section.querySelector("[data-passkey-register]");
    var nameField = section.querySelector("input");
    button.addEventListener("click", function () {
      button.disabled = true;
      post("/account/passkeys/options").then(function (started) {
        return navigator.credentials.create({ publicKey: creationOptions(started.options) }).then(function (credential) {
          return post("/account/passkeys/verify", {
            challenge_id: started.challenge_id,
            credential: credentialJSON(credential),
            name: nameField ? nameField.value : "",
          });
        });
      }).then(function (result) {
        window.location.assign(result.redirect);
      }).catch(function (error) {
        say(error && error.name === "NotAllowedError" ? failed : (error.message || failed));
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  // Signing a document: the server's challenge binds this document's hash; the passkey signs it.
  function setupSign(section) {
    section.hidden = false;
    var button = section.querySelector("[data-sign]");
    button.addEventListener("click", function () {
      button.disabled = true;
      post(section.getAttribute("data-options-url")).then(function (started) {
        return navigator.credentials.get({ publicKey: requestOptions(started.options) }).then(function (credential) {
          return post(section.getAttribute("data-finish-url"), {
            challenge_id: started.challenge_id,
            credential: credentialJSON(credential),
            next: section.getAttribute("data-next") || "",
          });
        });
      }).then(function (result) {
        window.location.assign(result.redirect);
      }).catch(function (error) {
        say(error && error.name === "NotAllowedError" ? notSigned : (error.message || notSigned));
      }).finally(function () {
        button.disabled = false;
      });
    });
  }

  var notSigned = document.documentElement.lang === "en"
    ? "Nothing was signed: the passkey was not used. You can try again."
    : "未签名：未使用通行密钥。您可以重试。";

  // WebAuthn refuses an IP address as the relying party ("This is an invalid domain."): say
  // plainly where passkeys work instead of letting the browser's raw error through.
  var ipHost = /^[0-9.]+$/.test(location.hostname) || location.hostname.indexOf(":") >= 0 ||
    location.hostname.charAt(0) === "[";

  document.addEventListener("DOMContentLoaded", function () {
    if (ipHost) {
      document.querySelectorAll("[data-webauthn-ip-host]").forEach(function (node) { node.hidden = false; });
      return;
    }
    if (!supported) {
      document.querySelectorAll("[data-webauthn-unsupported]").forEach(function (node) { node.hidden = false; });
      return;
    }
    document.querySelectorAll("[data-passkey-signin]").forEach(setupSignIn);
    document.querySelectorAll("[data-passkey-register-section]").forEach(setupRegister);
    document.querySelectorAll("[data-sign-section]").forEach(setupSign);
  });
})();
