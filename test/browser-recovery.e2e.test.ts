/** A run cut short by a page reload or a renderer crash in real Chromium resumes to exactly the uninterrupted result. */
import type { Page } from 'playwright'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { chainOf, ok, startHarness, untilStep, type Harness, type Summary } from './chromium/harness.js'
import type { Durability } from '../src/index.js'

const N = 20 // steps per run
const K = 8 // the step after which the tab goes away
let h: Harness
let reference: Summary

beforeAll(async () => {
  h = await startHarness()
  const page = await h.newPage()
  await page.evaluate(() => window.eg.open('reference'))
  reference = ok(await page.evaluate((n) => window.eg.run('reference', 'ref', { target: n }, {}), N))
  await page.close()
})
afterAll(() => h?.close())

/**
 * Starts an N-step run, lets `cut` end the tab while the run is held at a gate in step K + 1 (so the cut lands
 * mid-run whatever the machine's speed), resumes in the tab `cut` returns, checks everything.
 */
async function interrupted(db: string, durability: Durability, cut: (page: Page) => Promise<Page>): Promise<void> {
  const page = await h.newPage()
  await page.evaluate(([name, n, d, k]) => (window.eg.open(name), window.eg.start('run', name, 't', { target: n }, { gate: 'cut', gateAt: k, durability: d })), [db, N, durability, K] as const)
  await untilStep(page, 't', K)
  await page.waitForFunction(() => window.eg.atGate['cut'] === true)
  // With 'async' the commits run behind the nodes, and the K steps can all run before the first commit lands: a cut
  // then would leave no thread to resume (which async durability allows). Cut once one has landed, still mid-run.
  for (let i = 0; durability === 'async' && !(await page.evaluate((name) => window.eg.getState(name, 't'), db)).ok; i++) {
    if (i === 500) throw new Error('no checkpoint landed within 5 s while the run waited at the gate')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const fresh = await cut(page)
  await fresh.evaluate((name) => window.eg.open(name), db)

  // The cut landed mid-run: the stored head still has work to do. With 'sync' it is exactly step K (a step is
  // stored before the next one runs); with 'async' it is wherever the commits running behind the nodes had got to.
  const head = ok(await fresh.evaluate((name) => window.eg.getState(name, 't'), db))
  expect(head.next).toEqual(['step'])
  if (durability === 'sync') expect(head.summary.count).toBe(K)
  else expect(head.summary.count).toBeLessThanOrEqual(K)

  expect(ok(await fresh.evaluate((name) => window.eg.run(name, 't', null, {}), db))).toEqual(reference)
  const history = ok(await fresh.evaluate((name) => window.eg.history(name, 't'), db))
  // Every step 0..N exactly once along the head's parent chain, each with the count it must have.
  expect(chainOf(history).map((s) => s.summary.count)).toEqual(Array.from({ length: N + 1 }, (_, i) => i))
  expect(history, 'total checkpoints stored for the thread').toHaveLength(N + 1)
  console.info(`${db}: cut at stored step ${head.summary.count}, resumed to step ${N}; ${history.length} checkpoints in total`)
  await fresh.close()
}

const reload = async (page: Page) => {
  await page.reload()
  await page.waitForFunction(() => window.eg !== undefined)
  return page
}

/** Kills the renderer (CDP Page.crash) and opens a new tab in the same profile. */
const crash = async (page: Page) => {
  const crashed = new Promise((resolve) => page.once('crash', resolve))
  const cdp = await page.context().newCDPSession(page)
  // Not awaited: the reply never comes from a renderer that is gone; the page's crash event is the signal.
  cdp.send('Page.crash').catch(() => {})
  await crashed
  return h.newPage()
}

it('a reload mid-run, then invoke(null), ends in the uninterrupted state with a gapless history', () => interrupted('reload', 'sync', reload))
it("a reload mid-run with durability: 'async' resumes the same way", () => interrupted('reload-async', 'async', reload))
it('a renderer crash mid-run, then invoke(null) in a new tab, ends in the uninterrupted state', () => interrupted('crash', 'sync', crash))
it("a renderer crash mid-run with durability: 'async' resumes the same way", () => interrupted('crash-async', 'async', crash))
