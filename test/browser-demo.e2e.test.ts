/**
 * The `npm start` demo as a user drives it, in real Chromium against the real Worker in `wrangler dev` (which serves
 * the page as static assets): a run with tool calls and an approval, a reload and a killed tab mid-run that come back
 * and continue,
 * a fork from the devtools timeline, an offline reload that still loads and keeps running, and sync once back online.
 * Screenshots go to test-output/demo/; the page must log no errors.
 */
import { mkdir } from 'node:fs/promises'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { chromiumArgs, chromiumPath } from '../vitest.config.js'
import { call, groupGone, removeDir, startServer, tempDir, threadPath, tokenFor, type DevServer } from './wrangler-fixture.js'

vi.setConfig({ testTimeout: 90_000, hookTimeout: 120_000 })

const shots = new URL('../test-output/demo/', import.meta.url).pathname
let server: DevServer
let persistTo: string
let token: string
let browser: Browser
let context: BrowserContext
let page: Page
/** Console errors and page errors, except network failures while the test has the browser offline. */
const errors: string[] = []
let offline = false

beforeAll(async () => {
  await mkdir(shots, { recursive: true })
  persistTo = await tempDir()
  server = await startServer(persistTo)
  token = await tokenFor(server, { tenant: 'demo', rights: ['read', 'run'] })
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true })
  context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
  page = await context.newPage()
  watch(page)
})

/** Collects the page's console errors and uncaught exceptions. */
function watch(p: Page): void {
  p.on('console', (m) => {
    if (m.type() !== 'error') return
    if (offline && /ERR_INTERNET_DISCONNECTED|Failed to fetch|Failed to load resource/.test(m.text())) return
    errors.push(m.text())
  })
  p.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`))
}

afterAll(async () => {
  await browser?.close()
  if (server !== undefined) {
    await server.dev.stop()
    expect(await groupGone(server.dev.pid)).toBe(true)
  }
  if (persistTo !== undefined) await removeDir(persistTo)
})

const thread = () => page.evaluate(() => window.demo.thread())
const messages = () => page.locator('#messages li').allTextContents()
const shot = (name: string) => page.screenshot({ path: `${shots}${name}.png`, fullPage: true })

async function ask(text: string): Promise<void> {
  await page.fill('#ask-input', text)
  await page.click('#ask button[type=submit]')
}

/** What the page's sync did (its status and last results), for failure messages. */
const syncReport = () => page.evaluate(() => ({ status: { ...window.demo.sync.status, error: window.demo.sync.status.error?.message }, log: window.demo.syncLog }))

/**
 * The Worker's head of the thread, once sync has pushed it (background sync runs on commits). One device forks and
 * runs here, so a sync conflict is always a bug: it fails at once, saying which heads the sync saw.
 */
async function workerHeadBecomes(threadId: string, id: string): Promise<void> {
  let last: unknown
  for (let i = 0; i < 300; i++) {
    const state = await call(server, 'GET', threadPath(threadId, '/state'), { token })
    if (state.status === 200 && state.json.checkpointId === id) return
    last = state.json?.checkpointId ?? state.json
    const sync = await syncReport()
    if (sync.log.some((r) => (r as { conflict?: unknown }).conflict !== undefined)) {
      throw new Error(`sync reported a conflict on a thread only this page writes (the Worker's head is ${JSON.stringify(last)}, the page's ${id}): ${JSON.stringify(sync)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the Worker's head of ${threadId} never became ${id} (it is ${JSON.stringify(last)}); the page's sync: ${JSON.stringify(await syncReport())}`)
}

/** Checkpoints of the page's thread. */
const checkpointCount = () =>
  page.evaluate(async () => {
    let n = 0
    for await (const _ of window.demo.agent.getStateHistory({ threadId: window.demo.thread() })) n++
    return n
  })

const localHead = async () => page.evaluate(async () => (await window.demo.agent.getState({ threadId: window.demo.thread() })).config.checkpointId)

/** The ids of the head's line in the page's store, newest first (the head, its parent, ...). */
const headLine = () =>
  page.evaluate(async () => {
    const parents = new Map<string, string | undefined>()
    for await (const s of window.demo.agent.getStateHistory({ threadId: window.demo.thread() })) parents.set(s.config.checkpointId, s.parentConfig?.checkpointId)
    const line: string[] = []
    for (let id: string | undefined = (await window.demo.agent.getState({ threadId: window.demo.thread() })).config.checkpointId; id !== undefined; id = parents.get(id)) line.push(id)
    return line
  })

/** The checkpoint the devtools fork wrote (the next test reloads onto it). */
let forkId: string | undefined

it('runs the agent: tool calls fanned out, a draft, the approval; then the Worker has the thread', async () => {
  await page.goto(`${server.url}/#token=${token}`)
  await page.waitForFunction(() => window.demo !== undefined)
  expect(page.url()).not.toContain('token=') // taken from the link, kept locally, removed from the address bar
  await ask('weather in Paris and 12*7')
  await page.waitForSelector('#approval:not([hidden])')
  expect(await page.inputValue('#approval-text')).toMatch(/^Here is what I found\. Paris: .+ 12\*7 = 84$/)
  expect(await messages()).toEqual([expect.stringContaining('weather in Paris and 12*7'), expect.stringContaining("I'll use weather, calculator."), expect.stringContaining('Paris:'), expect.stringContaining('12*7 = 84')])
  await shot('1-approval')
  await page.click('#approve')
  await page.waitForFunction(() => document.querySelectorAll('#messages li').length === 5 && document.querySelector('#approval')?.hasAttribute('hidden'))
  expect((await messages())[4]).toContain('Here is what I found.')
  // Usage per step: the two model steps, with their cost.
  expect(await page.locator('#usage-rows tr').count()).toBe(2)
  expect(await page.textContent('#usage-total')).toMatch(/Thread total: \d+ tokens in, \d+ out, \$0\.0000\d+/)
  await workerHeadBecomes(await thread(), await localHead())
  await page.waitForFunction(() => document.querySelector('#sync-badge')?.textContent === 'sync: idle')
  // The devtools: one graph node per node, a timeline row per checkpoint.
  const devtools = page.locator('edgegraph-devtools')
  for (const node of ['plan', 'tool', 'write', 'review']) await expect.poll(() => devtools.locator('svg').getByText(node, { exact: true }).count()).toBe(1)
  await expect.poll(() => devtools.locator('[role=option]').count()).toBe(5) // input, plan, tool, write, review
  await shot('2-answered')
})

it('a reload while the answer streams comes back, says from which step, and finishes the run', async () => {
  await ask('search for offline-first apps')
  await page.waitForSelector('#messages li.streaming')
  await page.reload()
  await page.waitForFunction(() => window.demo !== undefined)
  const note = page.locator('#resume-note')
  await expect.poll(() => note.isVisible()).toBe(true)
  expect(await note.textContent()).toMatch(/stopped at step \d+ \(the tab was reloaded or closed mid-run\)\. Continuing from there/)
  await page.waitForSelector('#approval:not([hidden])')
  expect(await page.inputValue('#approval-text')).toContain('Top result for "offline-first apps"')
  await shot('3-resumed')
  await page.click('#approve-edited')
  await page.waitForFunction(() => document.querySelector('#approval')?.hasAttribute('hidden') && document.querySelectorAll('#messages li').length === 9)
})

it('a killed tab (renderer crash) mid-run: a new tab comes back where it stopped and finishes', async () => {
  await ask('search for durable objects')
  await page.waitForSelector('#messages li.streaming')
  const crashed = new Promise((resolve) => page.once('crash', resolve))
  const cdp = await context.newCDPSession(page)
  cdp.send('Page.crash').catch(() => {}) // no answer comes from a renderer that is gone
  await crashed
  await page.close().catch(() => {})
  page = await context.newPage()
  watch(page)
  await page.goto(server.url)
  await page.waitForFunction(() => window.demo !== undefined)
  await expect.poll(() => page.locator('#resume-note').isVisible()).toBe(true)
  await page.waitForSelector('#approval:not([hidden])')
  expect(await page.inputValue('#approval-text')).toContain('Top result for "durable objects"')
  await page.click('#reject')
  await page.waitForFunction(() => document.querySelector('#approval')?.hasAttribute('hidden'))
  expect((await messages()).at(-1)).toContain('(answer withheld by the reviewer)')
})

it('forks from the devtools timeline: the new checkpoint is a branch of its own', async () => {
  const devtools = page.locator('edgegraph-devtools')
  const rows = devtools.locator('[role=option]')
  const before = await checkpointCount()
  await expect.poll(() => rows.count()).toBe(before) // the panel has caught up with the last run
  // The checkpoint after the first answer: step 4 of the first turn.
  const base = rows.filter({ hasText: 'step 4' }).first()
  const baseId = await base.getAttribute('data-id')
  await base.click()
  await devtools.getByText('Fork here…').click()
  await devtools.locator('textarea').fill('{"messages":[{"role":"user","content":"a forked question"}]}')
  await devtools.getByRole('button', { name: 'Write fork' }).click()
  await expect.poll(() => rows.count()).toBe(before + 1)
  const state = await page.evaluate(async () => (await window.demo.agent.getState({ threadId: window.demo.thread() })).values.messages.map((m) => m.content))
  expect(state).toHaveLength(6)
  expect(state.at(-1)).toBe('a forked question')
  await expect.poll(() => page.locator('#messages li').count()).toBe(6)
  // The fork is the thread's head, on a branch of its own from the checkpoint picked.
  const line = await headLine()
  expect(line[1], 'the fork continues the checkpoint picked in the timeline').toBe(baseId)
  forkId = line[0]
  await shot('4-forked')
})

it('offline: the page reloads from the service worker, runs into IndexedDB, and syncs once back online', async () => {
  offline = true
  await context.setOffline(true)
  // Right after the fork, often while the page's sync is still pushing it (the reload cuts that sync off).
  await page.reload()
  await page.waitForFunction(() => window.demo !== undefined)
  expect(forkId, 'the fork test ran first').toBeDefined()
  expect(await localHead(), 'the reloaded page is on the fork').toBe(forkId)
  await expect.poll(() => page.textContent('#net-badge')).toBe('offline')
  await ask('weather in Oslo')
  await page.waitForSelector('#approval:not([hidden])')
  await page.click('#approve')
  await page.waitForFunction(() => document.querySelector('#approval')?.hasAttribute('hidden'))
  await expect.poll(() => page.textContent('#sync-badge')).toMatch(/^sync: offline, \d+ checkpoints? to push$/)
  const offlineHead = await localHead()
  expect(await headLine(), 'the offline run continued the fork').toContain(forkId)
  await shot('5-offline')
  await context.setOffline(false)
  offline = false
  // The sync takes the offline run to the Worker, as the thread's head: no conflict with the line the fork left.
  await workerHeadBecomes(await thread(), offlineHead)
  await expect.poll(() => page.textContent('#sync-badge'), { timeout: 10_000 }).toBe('sync: idle')
  expect(await localHead(), 'the page stays on its own line').toBe(offlineHead)
  // Every checkpoint of the thread is on the Worker, the fork's branch included.
  const local = await page.evaluate(async () => {
    const ids: string[] = []
    for await (const s of window.demo.agent.getStateHistory({ threadId: window.demo.thread() })) ids.push(s.config.checkpointId)
    return ids
  })
  const remote = await call(server, 'GET', threadPath(await thread(), '/history?limit=100'), { token })
  expect(remote.json.checkpoints.map((c: { checkpointId: string }) => c.checkpointId)).toEqual(local)
  await shot('6-synced')
})

it('works at 360 px wide, and logged no errors', async () => {
  await page.setViewportSize({ width: 360, height: 800 })
  await page.reload()
  await page.waitForFunction(() => window.demo !== undefined)
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360)
  await shot('7-narrow')
  expect(errors).toEqual([])
})
