// Tongban 通办 — the selfie camera of identity verification (frontend/templates/identity/_parts.html).
// The page works without this file: its form has a file input that opens the front camera
// (capture="user"). Here, where getUserMedia is available, a live preview and a "Take photo"
// button send one frame as a JPEG to that same form's action, as the field "file".
// No inline handlers and no eval: the Content-Security-Policy allows neither.
(function () {
  "use strict";

  var streams = [];

  function stopAll() {
    streams.forEach(function (stream) {
      stream.getTracks().forEach(function (track) {
        track.stop();
      });
    });
    streams = [];
  }

  function unavailable(section) {
    var root = section.parentElement;
    section.hidden = true;
    var note = root.querySelector("[data-camera-unavailable]");
    if (note) {
      note.hidden = false;
    }
  }

  function say(section, text) {
    var status = section.querySelector("[data-camera-status]");
    if (status) {
      status.textContent = text;
    }
  }

  function again(section, text) {
    say(section, text);
    section.querySelector("[data-camera-take]").disabled = false;
  }

  // The server answers a refused photo with the page and its message (role="alert"): show it here.
  function refusal(html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    var alert = page.querySelector("main [role='alert']");
    return alert ? alert.textContent.trim() : "";
  }

  function send(section, form, blob) {
    var data = new FormData(form);
    data.set("file", blob, "selfie.jpg");
    say(section, section.dataset.sending || "");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (response) {
        if (response.ok) {
          stopAll();
          window.location.assign(response.url);
          return null;
        }
        return response.text().then(function (html) {
          again(section, refusal(html) || section.dataset.failed || "");
        });
      })
      .catch(function () {
        again(section, section.dataset.failed || "");
      });
  }

  function take(section, form, video) {
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(
      function (blob) {
        if (blob) {
          send(section, form, blob);
        }
      },
      "image/jpeg",
      0.92
    );
  }

  function start(section, form) {
    var video = section.querySelector("[data-camera-preview]");
    var startButton = section.querySelector("[data-camera-start]");
    var takeButton = section.querySelector("[data-camera-take]");
    navigator.mediaDevices
      .getUserMedia({
        video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
        audio: false,
      })
      .then(function (stream) {
        streams.push(stream);
        video.srcObject = stream;
        startButton.hidden = true;
        takeButton.hidden = false;
        takeButton.focus();
      })
      .catch(function () {
        // Permission refused, no camera, or the camera is busy: the file input still works.
        unavailable(section);
      });
    takeButton.addEventListener("click", function () {
      if (video.videoWidth) {
        takeButton.disabled = true;
        take(section, form, video);
      }
    });
  }

  function setUp(root) {
    root.querySelectorAll("[data-camera]").forEach(function (section) {
      var form = document.getElementById(section.dataset.cameraForm);
      if (!form) {
        return;
      }
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        unavailable(section);
        return;
      }
      section.hidden = false;
      section.querySelector("[data-camera-start]").addEventListener("click", function () {
        start(section, form);
      });
    });
  }

  // While the camera is on or a photo is chosen but not sent, the page's own refresh (htmx
  // polling while the other part is checked) waits: it would swap the preview away.
  function busy(element) {
    if (streams.length) {
      return true;
    }
    return Array.prototype.some.call(element.querySelectorAll("input[type=file]"), function (input) {
      return input.files && input.files.length > 0;
    });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var element = event.detail && event.detail.elt;
    if (element && element.id === "identity-parts" && busy(element)) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:load", function (event) {
    if (event.detail && event.detail.elt && event.detail.elt.id === "identity-parts") {
      setUp(event.detail.elt);
    }
  });
  window.addEventListener("pagehide", stopAll);
  setUp(document);
})();
