/**
 * @module The crash matrix (issue 13) sampled in real Chromium against the IndexedDB adapter: the scenario of
 * test/crash-matrix.test.ts, crashed before or after a sample of its adapter calls (fixed seed, spread over the whole
 * script, in each durability mode). Each crash point gets a database of its own; after the crash the crashed
 * adapter's connection is closed (the browser does that for a killed tab) and a new adapter on the same database
 * (a reloaded tab) recovers and finishes the script. Checks as in memory: same history (or, with 'exit', same end
 * state and no checkpoint stored twice), no orphans.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createIndexedDBAdapter, type IndexedDBAdapter } from '../adapters/indexeddb.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { durabilities, expectations, reference, runCrashPoint, samplePoints, type Shaped } from './crash/script.js'

const SEED = 13
const PER_MODE = 24
const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
let databases = 0
const opened: IndexedDBAdapter[] = []
const names: string[] = []

/** A database name of its own, and a way to open adapters on it (each a new connection, as a new tab would make). */
function database() {
  const name = `crash-matrix-${run}-${databases++}`
  names.push(name)
  return () => {
    const adapter = createIndexedDBAdapter({ name })
    opened.push(adapter)
    return adapter
  }
}

afterAll(async () => {
  await Promise.all(opened.map((a) => a.close().catch(() => undefined)))
  await Promise.all(
    names.map(
      (name) =>
        new Promise<void>((resolve) => {
          const req = indexedDB.deleteDatabase(name)
          req.onsuccess = req.onerror = req.onblocked = () => resolve()
        }),
    ),
  )
})

// The script's adapter calls, counted in memory (the same engine makes the same calls on any adapter; checked below).
const plans = await Promise.all(
  durabilities.map(async (durability) => {
    const { calls } = await reference(createMemoryAdapter(), durability)
    return { durability, calls, points: samplePoints(calls, PER_MODE, SEED) }
  }),
)

for (const { durability, calls, points } of plans) {
  describe(`crash matrix in Chromium (IndexedDB), durability ${durability}: ${points.length} of ${calls * 2} crash points (seed ${SEED})`, () => {
    let expected: Shaped[] = []

    it('the uninterrupted run on IndexedDB: the reference history, and the same adapter calls as in memory', async () => {
      const open = database()
      const ref = await reference(open(), durability)
      expected = ref.history
      // With 'async', checkpoints written while a commit is in flight join one commit (group commit), and how many do
      // depends on the store's timing: never more calls than in memory. Points past the end then run without a crash.
      if (durability === 'async') expect(ref.calls).toBeLessThanOrEqual(calls)
      else expect(ref.calls).toBe(calls)
      expect(expected.length).toBeGreaterThan(0)
    })

    for (const point of points) {
      it(`crash ${point.when} call ${point.at}: a reloaded tab recovers and ends where the uninterrupted run does`, async () => {
        expect(expected.length, 'the reference run failed').toBeGreaterThan(0)
        const open = database()
        const outcome = await runCrashPoint({ durability, point, open, abandon: (store) => (store as IndexedDBAdapter).close() })
        for (const { label, got, want } of expectations(expected, outcome, durability)) expect(got, label).toEqual(want)
      })
    }
  })
}
