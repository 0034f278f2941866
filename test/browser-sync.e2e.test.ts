/**
 * edgegraph/sync in real Chromium (IndexedDB) against the real Worker in `wrangler dev`: runs offline, a reload
 * mid-run while offline (a service worker keeps the page loadable), back online the Worker holds exactly the
 * device's checkpoints; two browser contexts (two devices) diverge offline and both lines end up everywhere; a push
 * whose answer is lost, and a Worker restarted mid-sync, then a retry: no duplicates, no loss.
 */
import type { BrowserContext, Page } from 'playwright'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { startHarness, type Harness } from './chromium/harness.js'
import { startWranglerDev } from '../worker/wrangler-dev.js'
import { call, groupGone, removeDir, startServer, tempDir, tokenFor, threadPath, type DevServer } from './wrangler-fixture.js'

vi.setConfig({ testTimeout: 60_000, hookTimeout: 120_000 })

const html = `<!doctype html><meta charset="utf-8"><title>edgegraph sync e2e</title>
<script>navigator.serviceWorker.register('/sw.js')</script><script type="module" src="/bundle.js"></script>`
// Cache-first for the page and its bundle, so a reload with no network still loads; everything else (the Worker) goes to the network.
const sw = `const FILES = ['/', '/bundle.js']
self.addEventListener('install', (e) => e.waitUntil(caches.open('app').then((c) => c.addAll(FILES)).then(() => self.skipWaiting())))
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()))
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url)
  if (url.origin !== location.origin || !FILES.includes(url.pathname)) return
  e.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(e.request)))
})`

let h: Harness
let server: DevServer
let persistTo: string
let token: string

beforeAll(async () => {
  persistTo = await tempDir()
  server = await startServer(persistTo)
  token = await tokenFor(server, { tenant: 'sync' })
  h = await startHarness({ entry: new URL('./chromium/sync-page.ts', import.meta.url), ready: 'sy', html, files: { '/sw.js': { type: 'text/javascript', body: sw } } })
})

afterAll(async () => {
  await h?.close()
  if (server !== undefined) {
    await server.dev.stop()
    expect(await groupGone(server.dev.pid)).toBe(true)
  }
  if (persistTo !== undefined) await removeDir(persistTo)
})

type Checkpoint = { id: string; parent: string | undefined; count: number }

async function open(page: Page, db: string): Promise<void> {
  await page.evaluate(([d, url, t]) => window.sy.open(d, url, t), [db, server.url, token] as const)
}

/** A page controlled by the service worker (so it reloads offline), with the store opened. */
async function devicePage(context: BrowserContext, db: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(h.origin)
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null || window.sy === undefined)
  await page.evaluate(() => navigator.serviceWorker.ready)
  if ((await page.evaluate(() => navigator.serviceWorker.controller)) === null) await page.reload()
  await page.waitForFunction(() => window.sy !== undefined && navigator.serviceWorker.controller !== null)
  await open(page, db)
  return page
}

const ok = <T,>(r: { ok: true; value: T } | { ok: false; code: string | undefined; message: string }): T => {
  if (!r.ok) throw new Error(`${r.code}: ${r.message}`)
  return r.value
}

/** The Worker's checkpoints of a thread, oldest first, following its history pages. */
async function workerHistory(thread: string): Promise<Checkpoint[]> {
  const out: Checkpoint[] = []
  let before: string | null = null
  for (;;) {
    const page = await call(server, 'GET', threadPath(thread, `/history?limit=100${before ? `&before=${before}` : ''}`), { token })
    expect(page.status).toBe(200)
    for (const c of page.json.checkpoints) out.push({ id: c.checkpointId, parent: c.parentId ?? undefined, count: c.values.count })
    before = page.json.nextBefore
    if (before === null) return out.reverse()
  }
}

const workerHead = async (thread: string) => (await call(server, 'GET', threadPath(thread, '/state'), { token })).json.checkpointId as string

it('runs offline, survives a reload mid-run while offline, and pushes exactly its checkpoints once back online', async () => {
  const context = h.context
  const page = await devicePage(context, 'offline')
  await context.setOffline(true)
  try {
    await offlineThenOnline(context, page)
  } finally {
    await context.setOffline(false)
    await page.close()
  }
})

async function offlineThenOnline(context: BrowserContext, page: Page): Promise<void> {
  expect(await page.evaluate(() => window.sy.online())).toBe(false)
  await page.evaluate(() => window.sy.start('t1', { target: 12, delayMs: 250 }))
  await page.waitForFunction(async () => {
    const s = await window.sy.state('t1')
    return s.ok && s.value.count >= 2
  })
  // Offline, a sync fails cleanly and changes nothing.
  const offlineSync = await page.evaluate(() => window.sy.sync('t1'))
  expect(offlineSync.error?.code).toBe('STORAGE_FAILED')
  expect(await page.evaluate(() => window.sy.status().state)).toBe('offline')
  await page.reload() // still offline: the service worker serves the page
  await page.waitForFunction(() => window.sy !== undefined)
  await open(page, 'offline')
  const stopped = ok(await page.evaluate(() => window.sy.state('t1')))
  expect(stopped.next).toEqual(['increment'])
  expect(ok(await page.evaluate(() => window.sy.run('t1', null)))).toBe(12)
  const local = ok(await page.evaluate(() => window.sy.history('t1')))
  expect(local.map((c) => c.count)).toEqual(Array.from({ length: 13 }, (_, i) => i))

  // Back online: background sync hears the online event and pushes.
  await page.evaluate(() => window.sy.startBackground(['t1']))
  await context.setOffline(false)
  await page.waitForFunction(() => window.sy.results().some((r) => r.threadId === 't1' && r.pushed > 0 && !r.error), undefined, { timeout: 20_000 })
  expect(await workerHistory('t1')).toEqual(local)
  expect(await workerHead('t1')).toBe(local.at(-1)?.id)
  expect(await page.evaluate(() => window.sy.status())).toMatchObject({ state: 'idle', pending: 0 })
}

it('two devices diverge offline: after sync both lines are on both devices and the Worker, the head the same everywhere', async () => {
  const other = await h.browser.newContext() // a second device: its own IndexedDB
  try {
    const a = await devicePage(h.context, 'device-a')
    const b = await devicePage(other, 'device-b')
    expect(ok(await a.evaluate(() => window.sy.run('t2', { target: 3 })))).toBe(3)
    expect((await a.evaluate(() => window.sy.sync('t2'))).pushed).toBe(4)
    expect((await b.evaluate(() => window.sy.sync('t2'))).pulled).toBe(4)
    await h.context.setOffline(true)
    await other.setOffline(true)
    expect(ok(await a.evaluate(() => window.sy.run('t2', { target: 5 })))).toBe(5)
    expect(ok(await b.evaluate(() => window.sy.run('t2', { target: 7 })))).toBe(7)
    const headA = ok(await a.evaluate(() => window.sy.state('t2'))).id
    const headB = ok(await b.evaluate(() => window.sy.state('t2'))).id
    await h.context.setOffline(false)
    await other.setOffline(false)
    const ra = await a.evaluate(() => window.sy.sync('t2'))
    expect(ra, JSON.stringify(ra)).toMatchObject({ pushed: 3 })
    // A second tab of device B hears about what B's sync pulls (the adapter's subscribe).
    const b2 = await devicePage(other, 'device-b')
    const rb = await b.evaluate(() => window.sy.sync('t2'))
    await b2.waitForFunction(() => window.sy.events().includes('t2'))
    expect(ok(await b2.evaluate(() => window.sy.state('t2'))).id).toBe(headA)
    expect(rb).toMatchObject({ pushed: 5, pulled: 3, conflict: { local: headB, remote: headA, head: headA } })
    await a.evaluate(() => window.sy.sync('t2'))
    const onA = ok(await a.evaluate(() => window.sy.history('t2')))
    const onB = ok(await b.evaluate(() => window.sy.history('t2')))
    expect(onA).toEqual(onB)
    expect(await workerHistory('t2')).toEqual(onA)
    expect(onA.map((c) => c.id)).toEqual(expect.arrayContaining([headA, headB]))
    expect(onA).toHaveLength(4 + 3 + 5)
    for (const p of [a, b]) expect(ok(await p.evaluate(() => window.sy.state('t2'))).id).toBe(headA)
    expect(await workerHead('t2')).toBe(headA)
  } finally {
    await h.context.setOffline(false)
    await other.close()
  }
})

it('a push whose answer is lost, then a retry: each checkpoint stored once', async () => {
  const page = await devicePage(h.context, 'cut')
  expect(ok(await page.evaluate(() => window.sy.run('t3', { target: 6 })))).toBe(6)
  // The first push reaches the Worker and is stored, but the device never hears back.
  let cut = 0
  await page.route(`${server.url}/v1/threads/*/sync/push`, async (route) => {
    if (cut++ > 0) return route.continue()
    await route.fetch()
    await route.abort('connectionreset')
  })
  const first = await page.evaluate(() => window.sy.sync('t3'))
  expect(first.error?.code).toBe('STORAGE_FAILED')
  expect(await workerHistory('t3')).toHaveLength(7)
  const retry = await page.evaluate(() => window.sy.sync('t3'))
  expect(retry.error).toBeUndefined()
  expect(retry.pushed).toBe(0)
  expect(await workerHistory('t3')).toEqual(ok(await page.evaluate(() => window.sy.history('t3'))))
  expect(await workerHead('t3')).toBe(ok(await page.evaluate(() => window.sy.state('t3'))).id)
  await page.unrouteAll()
  await page.close()
})

it('the Worker restarted mid-sync: the sync fails cleanly, the retry completes with nothing duplicated or lost', async () => {
  const page = await devicePage(h.context, 'restart')
  expect(ok(await page.evaluate(() => window.sy.run('t4', { target: 5 })))).toBe(5)
  // Hold the push until the Worker is gone, then let it go to the dead server.
  let release!: () => void
  const held = new Promise<void>((resolve) => (release = resolve))
  await page.route(`${server.url}/v1/threads/*/sync/push`, async (route) => {
    await held
    await route.continue().catch(() => undefined)
  })
  const pending = page.evaluate(() => window.sy.sync('t4'))
  const port = Number(new URL(server.url).port)
  await server.dev.stop()
  release()
  const failed = await pending
  expect(failed.error?.code).toBe('STORAGE_FAILED')
  await page.unrouteAll()
  // Same port and persisted state: the Worker comes back as it was.
  const dev = await startWranglerDev({ persistTo, port, vars: { EDGEGRAPH_JWT_SECRET: server.secret } })
  server = { ...server, dev }
  const again = await page.evaluate(() => window.sy.sync('t4'))
  expect(again.error).toBeUndefined()
  expect(await workerHistory('t4')).toEqual(ok(await page.evaluate(() => window.sy.history('t4'))))
  await page.close()
})

