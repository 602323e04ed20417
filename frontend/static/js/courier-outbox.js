// Tongban courier outbox: events a courier records are kept in IndexedDB until the server has
// them. Loaded by the courier pages and, with importScripts, by the service worker (sw.js), which
// replays the queue on Background Sync. Each event has an idempotency key made when its button
// was pressed, so a replay from the page and one from the worker at the same moment still make
// one event on the server (docs/courier.md).
(function (scope) {
  "use strict";
  var DB_NAME = "tongban-courier";
  var OUTBOX = "outbox";
  var RESULTS = "results";
  var flushing = null;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = scope.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains(OUTBOX)) db.createObjectStore(OUTBOX, { keyPath: "key" });
        if (!db.objectStoreNames.contains(RESULTS)) db.createObjectStore(RESULTS, { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result;
        Promise.resolve(work(tx.objectStore(store))).then(function (value) { result = value; });
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
        tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all(store) {
    return run(store, "readonly", function (objects) {
      return new Promise(function (resolve) {
        var request = objects.getAll();
        request.onsuccess = function () { resolve(request.result || []); };
      });
    });
  }

  function put(store, value) {
    return run(store, "readwrite", function (objects) { objects.put(value); });
  }

  function remove(store, key) {
    return run(store, "readwrite", function (objects) { objects.delete(key); });
  }

  function body(record) {
    var data = new FormData();
    record.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    if (record.photo) data.append("photo", record.photo, record.photoName || "photo.jpg");
    return data;
  }

  // Sends every queued event, oldest first. A network failure stops (still offline); a refusal
  // (400, 404, 409: the job moved on, was reassigned or cancelled) is kept as a result to show,
  // never dropped silently; a 403 (the session or the CSRF token changed) keeps the event for the
  // next page load, which sends it with that page's token.
  function sendAll(token) {
    return all(OUTBOX).then(function (records) {
      records.sort(function (a, b) { return a.queuedAt - b.queuedAt; });
      var sent = 0;
      var chain = Promise.resolve(true);
      records.forEach(function (record) {
        chain = chain.then(function (goOn) {
          if (!goOn) return false;
          return scope.fetch(record.url, {
            method: "POST",
            body: body(record),
            credentials: "same-origin",
            headers: { "x-csrftoken": token || record.csrf, Accept: "application/json" },
          }).then(function (response) {
            if (response.status === 403 || response.status === 401 || response.status >= 500) return false;
            return response.json().catch(function () { return {}; }).then(function (answer) {
              sent += 1;
              return put(RESULTS, {
                key: record.key,
                job: record.job,
                label: record.label,
                ok: response.ok,
                message: answer.message || "",
                at: Date.now(),
              }).then(function () { return remove(OUTBOX, record.key); }).then(function () { return true; });
            });
          }, function () { return false; });
        });
      });
      return chain.then(function () { return sent; });
    });
  }

  scope.TongbanCourierOutbox = {
    queue: function (record) { return put(OUTBOX, record); },
    pending: function () { return all(OUTBOX); },
    results: function () { return all(RESULTS); },
    forget: function (key) { return remove(RESULTS, key); },
    flush: function (token) {
      // One flush at a time per page or worker; the server's idempotency keys cover the rest.
      if (!flushing) {
        flushing = sendAll(token).finally(function () { flushing = null; });
      }
      return flushing;
    },
  };
})(self);
