// Tongban 通办 service worker: an installable shell and an offline page, nothing cleverer.
// The server (app/core/pages.py) fills in the two constants below when it serves /sw.js: the
// version is a digest of every static file and template, so any change to the shell produces a
// byte-different worker, which the browser installs as an update (Service Workers spec, "Update").
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__; // "/offline", "/manifest.webmanifest" and every /static/ file

// The courier app's outbox (IndexedDB), replayed here on Background Sync (docs/courier.md).
importScripts("/static/js/courier-outbox.js");

const SHELL_CACHE = "tongban-shell-" + VERSION;
const PAGES_CACHE = "tongban-pages-" + VERSION;
const OFFLINE_URL = "/offline";
// A courier's jobs of the day, kept by the job list (courier.js, docs/courier.md): not versioned,
// so a worker update keeps them; deleted when anyone signs in or out on this phone.
const KEPT_CACHE = "tongban-courier-jobs";
const ACCOUNT_CHANGES = new Set(["/signout", "/signin/verify", "/signin/passkey/verify"]);
// Health probes must always reach the server; a cached "ok" would hide an outage.
const BYPASS = new Set(["/healthz", "/readyz"]);

self.addEventListener("install", (event) => {
  // cache: "reload" skips the HTTP cache, so the precache never stores a stale copy of a file.
  // addAll is all-or-nothing: if any file fails, this version does not install and the previous,
  // complete shell stays in charge.
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" }))))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      // Drop the caches of earlier versions (and only ours: other code may share the origin).
      const names = await caches.keys();
      await Promise.all(
        names
          .filter(
            (name) =>
              name.startsWith("tongban-") &&
              name !== SHELL_CACHE &&
              name !== PAGES_CACHE &&
              name !== KEPT_CACHE
          )
          .map((name) => caches.delete(name))
      );
      // Navigation preload starts the page request while this worker boots, so network-first
      // pages cost no extra latency.
      if (self.registration.navigationPreload) {
        await self.registration.navigationPreload.enable();
      }
      await self.clients.claim();
    })()
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Someone signs in or out: the kept jobs were the previous person's (the request itself goes
  // on to the server untouched).
  if (request.method === "POST" && url.origin === self.location.origin && ACCOUNT_CHANGES.has(url.pathname)) {
    event.waitUntil(caches.delete(KEPT_CACHE));
    return;
  }
  // Only same-origin reads are ours to answer; posts (forms, htmx actions) always hit the server.
  if (request.method !== "GET" || url.origin !== self.location.origin || BYPASS.has(url.pathname)) {
    return;
  }
  // An htmx request wants a fragment: a cached full page would be swapped into the wrong place,
  // so it goes to the network and htmx reports a failure itself.
  if (request.headers.has("HX-Request")) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(event));
  } else if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(cacheFirst(request));
  } else {
    event.respondWith(networkThenCache(request));
  }
});

// Pages are always fresh when there is a network. A copy is kept for offline use, unless the server
// said no-store (RFC 9111 §5.2.2.5) — personal pages must say so, so they never reach the disk.
// The one exception is chosen by the page, not here: a courier's job list keeps the day's jobs in
// KEPT_CACHE, and a kept page opened online replaces its copy, so offline it is as last seen.
async function networkFirstPage(event) {
  const request = event.request;
  try {
    const response = (await event.preloadResponse) || (await fetch(request));
    const cacheControl = response.headers.get("Cache-Control") || "";
    if (response.ok && !/\bno-store\b/i.test(cacheControl)) {
      const copy = response.clone();
      event.waitUntil(caches.open(PAGES_CACHE).then((cache) => cache.put(request, copy)));
    } else if (response.ok && !response.redirected) {
      event.waitUntil(refreshKept(request.url, response.clone()));
    }
    return response;
  } catch (error) {
    // Offline (a lift, a basement): the page as last seen, else the offline page.
    return (await caches.match(request)) || (await caches.match(OFFLINE_URL)) || Response.error();
  }
}

async function refreshKept(url, copy) {
  const cache = await caches.open(KEPT_CACHE);
  if (await cache.match(url)) {
    await cache.put(url, copy);
  }
}

// Static files are versioned by the worker itself (a new digest means a new precache), so the cached
// copy is always the right one; the network is only a fallback for a file missing from the cache.
async function cacheFirst(request) {
  return (await caches.match(request)) || fetch(request);
}

// Anything else (e.g. JSON): the network, or whatever we happen to hold when it is unreachable.
async function networkThenCache(request) {
  try {
    return await fetch(request);
  } catch (error) {
    return (await caches.match(request)) || Response.error();
  }
}

// Background Sync: the browser wakes this worker when the phone is back online, even with the
// courier app closed. Events keep the CSRF token of the page they were recorded on; the server
// finds a replayed event by its idempotency key and records it once.
self.addEventListener("sync", (event) => {
  if (event.tag !== "courier-outbox") {
    return;
  }
  event.waitUntil(
    self.TongbanCourierOutbox.flush().then(async (sent) => {
      const clients = await self.clients.matchAll({ type: "window" });
      clients.forEach((client) => client.postMessage({ type: "courier-synced", sent }));
      if (sent === 0 && (await self.TongbanCourierOutbox.pending()).length > 0) {
        // Still offline (or the session changed): a rejected promise asks the browser to retry.
        throw new Error("courier outbox not sent yet");
      }
    })
  );
});
