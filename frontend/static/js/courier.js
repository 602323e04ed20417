// The courier app's offline updates (docs/courier.md). A press on a step's button is saved in
// IndexedDB first (courier-outbox.js), then sent at once when online; offline, it waits for
// Background Sync (the service worker replays it), for the "online" event or for the next page
// load. Without JavaScript the forms post as plain forms.
(function () {
  "use strict";
  var outbox = window.TongbanCourierOutbox;
  var region = document.querySelector("[data-courier-outbox]");
  if (!outbox || !region || !window.indexedDB) return;
  var text = {
    zh: {
      waiting: "已保存在手机上，联网后自动发送：",
      sent: "已发送：",
      refused: "未能记录：",
      offline: "当前离线。",
    },
    en: {
      waiting: "Saved on this phone, sent when online: ",
      sent: "Sent: ",
      refused: "Not recorded: ",
      offline: "You are offline.",
    },
  }[document.documentElement.lang === "en" ? "en" : "zh"];

  function token() {
    var field = document.querySelector('input[name="_csrf_token"]');
    return field ? field.value : "";
  }

  function line(message, kind) {
    var p = document.createElement("p");
    p.className = "flash flash-" + kind;
    p.textContent = message;
    region.appendChild(p);
  }

  function show() {
    return Promise.all([outbox.pending(), outbox.results()]).then(function (found) {
      region.textContent = "";
      var pending = found[0], results = found[1];
      if (!navigator.onLine) line(text.offline, "info");
      pending.forEach(function (record) { line(text.waiting + record.label, "info"); });
      // Results stay shown for two minutes (the page may reload meanwhile), then go.
      var now = Date.now();
      results.forEach(function (result) {
        if (now - result.at > 120000) {
          outbox.forget(result.key);
          return;
        }
        line((result.ok ? text.sent : text.refused) + (result.message || result.label), result.ok ? "success" : "error");
      });
      return { pending: pending.length, results: results.length };
    });
  }

  function flush() {
    if (!navigator.onLine) return show();
    return outbox.flush(token()).then(function (sent) {
      // The job moved on: the reloaded page shows its new state and next step, and the
      // results kept in IndexedDB until then.
      if (sent > 0) return window.location.reload();
      return show();
    });
  }

  function position() {
    if (!navigator.permissions || !navigator.geolocation) return Promise.resolve(null);
    return navigator.permissions.query({ name: "geolocation" }).then(function (status) {
      if (status.state !== "granted") return null;
      return new Promise(function (resolve) {
        navigator.geolocation.getCurrentPosition(
          function (found) { resolve(found.coords); },
          function () { resolve(null); },
          { timeout: 3000, maximumAge: 60000 }
        );
      });
    }, function () { return null; });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-courier-event]")) return;
    event.preventDefault();
    var data = new FormData(form);
    var fields = [];
    var photo = null, photoName = "";
    data.forEach(function (value, name) {
      if (name === "_csrf_token") return;
      if (name === "photo") {
        if (value && value.size > 0) { photo = value; photoName = value.name; }
        return;
      }
      fields.push([name, value]);
    });
    fields.push(["at", new Date().toISOString()]);
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    position().then(function (coords) {
      if (coords) {
        fields.push(["lat", String(coords.latitude)]);
        fields.push(["lng", String(coords.longitude)]);
      }
      return outbox.queue({
        key: data.get("key"),
        url: form.getAttribute("action"),
        job: form.getAttribute("data-job"),
        label: form.getAttribute("data-label"),
        fields: fields,
        photo: photo,
        photoName: photoName,
        csrf: token(),
        queuedAt: Date.now(),
      });
    }).then(function () {
      if ("serviceWorker" in navigator) {
        navigator.serviceWorker.ready.then(function (registration) {
          if (registration.sync) return registration.sync.register("courier-outbox");
        }).catch(function () { /* no Background Sync: the online event and page loads replay */ });
      }
      return flush();
    });
  });

  // The day's jobs kept on the phone (docs/courier.md, "Offline"): the job list stores itself and
  // every job page it links to, so a job never opened before still opens in a lift, and drops
  // the jobs no longer listed. The service worker answers from this cache only when the network
  // fails, refreshes a kept page whenever it is opened online, and deletes the cache when
  // anyone signs in or out.
  function keepJobs() {
    var list = document.querySelector("[data-courier-jobs]");
    if (!list || !window.caches || !navigator.onLine) return;
    var urls = [window.location.pathname];
    list.querySelectorAll('a[href^="/courier/jobs/"]').forEach(function (link) {
      urls.push(link.getAttribute("href"));
    });
    caches.open("tongban-courier-jobs").then(function (cache) {
      // Only pages not kept yet are fetched: a kept one is refreshed by the service worker
      // each time it is opened online, so a list reloaded after every step costs nothing.
      return Promise.all(urls.map(function (url) {
        return cache.match(url).then(function (kept) {
          if (kept) return null;
          return fetch(url, { credentials: "same-origin" }).then(function (response) {
            // A session that ended answers with the sign-in page: not a job to keep.
            if (response.ok && !response.redirected) return cache.put(url, response);
          }, function () { /* the network went: keep what was kept */ });
        });
      })).then(function () {
        return cache.keys();
      }).then(function (requests) {
        // Jobs no longer on the list (done, reassigned) leave the phone.
        return Promise.all(requests.filter(function (request) {
          return urls.indexOf(new URL(request.url).pathname) < 0;
        }).map(function (request) { return cache.delete(request); }));
      });
    }).catch(function () { /* no Cache Storage (private window): the pages need the network */ });
  }

  keepJobs();
  window.addEventListener("online", flush);
  window.addEventListener("offline", show);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "courier-synced" && event.data.sent > 0) window.location.reload();
    });
  }
  flush();
})();
