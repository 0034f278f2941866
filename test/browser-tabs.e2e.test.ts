/** Two real Chromium tabs on one IndexedDB: thread locks (THREAD_BUSY / wait), the head guard (CONFLICT), change events. */
import type { Page } from 'playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainOf, failed, ok, startHarness, type Harness } from './chromium/harness.js'

const db = 'tabs'
let h: Harness
let a: Page
let b: Page

beforeAll(async () => {
  h = await startHarness()
  a = await h.newPage()
  b = await h.newPage()
  for (const page of [a, b]) await page.evaluate((name) => window.eg.open(name), db)
})
afterAll(() => h?.close())

/** Resolves once a node of `page` has reached `gate` (see RunOptions.gate): that run is in flight and holds its lock. */
const atGate = (page: Page, gate: string) => page.waitForFunction((g) => window.eg.atGate[g] === true, gate, { polling: 5 })

describe('two tabs, one thread', () => {
  it('a run aborted while it waits for the other tab gets ABORTED and writes nothing', async () => {
    // A holds the thread until the test opens its gate, so B can only wait for the lock until its signal aborts it.
    await a.evaluate((name) => window.eg.start('A0', name, 'W', { target: 15 }, { gate: 'W', gateAt: 1 }), db)
    await atGate(a, 'W')
    const aborted = failed(await b.evaluate((name) => window.eg.run(name, 'W', { target: 50 }, { abortAfterMs: 60 }), db), 'ABORTED')
    expect(aborted.message).toContain('while waiting for another tab')
    await a.evaluate(() => window.eg.openGate('W'))
    ok(await a.evaluate(() => window.eg.wait('A0')))
    const history = ok(await a.evaluate((name) => window.eg.history(name, 'W'), db))
    expect(chainOf(history).map((s) => s.summary.count)).toEqual(Array.from({ length: 16 }, (_, i) => i))
  })

  it("B gets THREAD_BUSY with ifBusy: 'fail' while A runs, and with 'wait' runs after A, on A's head", async () => {
    await a.evaluate((name) => window.eg.start('A', name, 'T', { target: 10 }, { gate: 'T', gateAt: 1 }), db)
    await atGate(a, 'T')

    // A keeps the lock until its gate opens below, so this call can only come back by failing at once: had it
    // queued for the lock, it would still be waiting (and the test would time out here).
    const busy = failed(await b.evaluate((name) => window.eg.run(name, 'T', null, { ifBusy: 'fail' }), db), 'THREAD_BUSY')
    expect(busy.message).toContain('"T"')
    expect(await a.evaluate(() => window.eg.progress.T)).toBe(1) // A is still at its gate

    // A new turn from B (target 15) queued behind A: it must start from A's final checkpoint.
    const queued = b.evaluate((name) => window.eg.run(name, 'T', { target: 15 }, {}), db)
    const waiting = () => b.evaluate(async () => ((await navigator.locks.query()).pending ?? []).length)
    await expect.poll(waiting, { interval: 5, timeout: 10_000, message: "B's run waits for the thread lock A holds" }).toBe(1)
    await a.evaluate(() => window.eg.openGate('T'))
    expect(ok(await a.evaluate(() => window.eg.wait('A')))).toMatchObject({ count: 10, logLength: 10 })
    expect(ok(await queued)).toMatchObject({ count: 15, target: 15, logLength: 15 })

    const history = ok(await b.evaluate((name) => window.eg.history(name, 'T'), db))
    const chain = chainOf(history) // steps 0..16 consecutive, ids unique, no gaps
    expect(history).toHaveLength(17) // A: input + 10 steps; B: input + 5 steps; nothing else (no orphan branch)
    expect(chain.map((s) => s.summary.count)).toEqual([0, ...Array.from({ length: 10 }, (_, i) => i + 1), 10, 11, 12, 13, 14, 15])
    expect(chain[11]).toMatchObject({ source: 'input', parentId: chain[10]?.id })
  })

  it('a writer that ignores the lock gets CONFLICT, and the locked run loses nothing', async () => {
    const reference = ok(await a.evaluate((name) => window.eg.run(name, 'U-reference', { target: 12 }, {}), db))
    await a.evaluate((name) => window.eg.start('A2', name, 'U', { target: 12 }, { gate: 'U-A', gateAt: 2 }), db)
    await atGate(a, 'U-A')

    // B reads the head (count 2) and stops in its node; A then runs to the end; B's commit, on the old head, must be refused.
    await b.evaluate((name) => window.eg.start('B-rogue', name, 'U', null, { lock: false, gate: 'U-B' }), db)
    await atGate(b, 'U-B')
    await a.evaluate(() => window.eg.openGate('U-A'))
    expect(ok(await a.evaluate(() => window.eg.wait('A2')))).toEqual(reference)
    await b.evaluate(() => window.eg.openGate('U-B'))
    const rogue = failed(await b.evaluate(() => window.eg.wait('B-rogue')), 'CONFLICT')
    expect(rogue.message).toContain('"U"')

    const history = ok(await a.evaluate((name) => window.eg.history(name, 'U'), db))
    expect(chainOf(history).map((s) => s.summary.count)).toEqual(Array.from({ length: 13 }, (_, i) => i))
    expect(history).toHaveLength(13)
  })

  it("a subscriber in tab B hears every commit tab A makes on a thread B never touched", async () => {
    await b.evaluate((name) => window.eg.subscribe(name), db)
    expect(ok(await a.evaluate((name) => window.eg.run(name, 'S', { target: 5 }, {}), db))).toMatchObject({ count: 5 })
    // BroadcastChannel delivers one sender's messages in order: once B has heard of a commit A made after the run,
    // every notice of the run's commits has arrived, and no more can come.
    expect(ok(await a.evaluate((name) => window.eg.run(name, 'S-after', { target: 1 }, {}), db))).toMatchObject({ count: 1 })
    await b.waitForFunction(() => window.eg.events.includes('S-after'), undefined, { polling: 5 })
    expect(await b.evaluate(() => window.eg.events.filter((t) => t === 'S').length)).toBe(6) // input + 5 steps
  })
})
