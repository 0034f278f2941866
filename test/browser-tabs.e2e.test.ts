/** Two real Chromium tabs on one IndexedDB: thread locks (THREAD_BUSY / wait), the head guard (CONFLICT), change events. */
import type { Page } from 'playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chainOf, failed, ok, startHarness, untilStep, type Harness } from './chromium/harness.js'

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

describe('two tabs, one thread', () => {
  it('a run aborted while it waits for the other tab gets ABORTED and writes nothing', async () => {
    // A runs ~600 ms; B gives up after 60 ms, long before A could release the lock even on a loaded machine.
    await a.evaluate((name) => window.eg.start('A0', name, 'W', { target: 15 }, { delayMs: 40 }), db)
    await untilStep(a, 'W', 1)
    const aborted = failed(await b.evaluate((name) => window.eg.run(name, 'W', { target: 50 }, { abortAfterMs: 60 }), db), 'ABORTED')
    expect(aborted.message).toContain('while waiting for another tab')
    ok(await a.evaluate(() => window.eg.wait('A0')))
    const history = ok(await a.evaluate((name) => window.eg.history(name, 'W'), db))
    expect(chainOf(history).map((s) => s.summary.count)).toEqual(Array.from({ length: 16 }, (_, i) => i))
  })

  it("B gets THREAD_BUSY with ifBusy: 'fail' while A runs, and with 'wait' runs after A, on A's head", async () => {
    await a.evaluate((name) => window.eg.start('A', name, 'T', { target: 10 }, { delayMs: 40 }), db)
    await untilStep(a, 'T', 1)

    const busy = failed(await b.evaluate((name) => window.eg.run(name, 'T', null, { ifBusy: 'fail' }), db), 'THREAD_BUSY')
    expect(busy.message).toContain('"T"')
    expect(busy.ms).toBeLessThan(1000) // fails at once, does not queue

    // A new turn from B (target 15) queued behind A: it must start from A's final checkpoint.
    const queued = b.evaluate((name) => window.eg.run(name, 'T', { target: 15 }, {}), db)
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
    await a.evaluate((name) => window.eg.start('A2', name, 'U', { target: 12 }, { delayMs: 40 }), db)
    await untilStep(a, 'U', 2)

    // Reads the head, then spends 300 ms in its node while A commits several steps: its commit must be refused.
    const rogue = failed(await b.evaluate((name) => window.eg.run(name, 'U', null, { lock: false, delayMs: 300 }), db), 'CONFLICT')
    expect(rogue.message).toContain('"U"')

    expect(ok(await a.evaluate(() => window.eg.wait('A2')))).toEqual(reference)
    const history = ok(await a.evaluate((name) => window.eg.history(name, 'U'), db))
    expect(chainOf(history).map((s) => s.summary.count)).toEqual(Array.from({ length: 13 }, (_, i) => i))
    expect(history).toHaveLength(13)
  })

  it("a subscriber in tab B hears every commit tab A makes on a thread B never touched", async () => {
    await b.evaluate((name) => window.eg.subscribe(name), db)
    expect(ok(await a.evaluate((name) => window.eg.run(name, 'S', { target: 5 }, {}), db))).toMatchObject({ count: 5 })
    // BroadcastChannel delivery is asynchronous: wait for all 6 commits (input + 5 steps), then check no more came.
    await b.waitForFunction(() => window.eg.events.filter((t) => t === 'S').length >= 6)
    await b.waitForTimeout(100)
    expect(await b.evaluate(() => window.eg.events.filter((t) => t === 'S').length)).toBe(6)
  })
})
