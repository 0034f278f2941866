/// <reference lib="webworker" />
/**
 * The demo's service worker: keeps the app loadable with no network. The app shell is served from the cache and
 * refreshed in the background (stale-while-revalidate); the Worker's API (`/v1/...`) always goes to the network.
 */
declare const self: ServiceWorkerGlobalScope
const CACHE = 'edgegraph-demo-v1'
const SHELL = ['/', '/app.js', '/style.css']

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .then(() => self.skipWaiting()),
  )
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.startsWith('/v1/')) return
  const key = url.pathname === '/index.html' ? '/' : url.pathname
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(key)
      const fresh = fetch(event.request)
        .then((res) => {
          if (res.ok) void cache.put(key, res.clone())
          return res
        })
        .catch(() => undefined)
      if (cached) {
        event.waitUntil(fresh)
        return cached
      }
      return (await fresh) ?? new Response('offline, and this page was never loaded online', { status: 503 })
    }),
  )
})
