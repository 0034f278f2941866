/**
 * @module The crash matrix (issue 13) sampled inside workerd against the Durable Object adapter: the scenario of
 * test/crash-matrix.test.ts, crashed before or after a sample of its adapter calls (fixed seed, spread over the whole
 * script, in each durability mode). Each crash point gets a Durable Object and a thread of its own. The script runs
 * inside the object, as in production; after the crash the object is reset (`state.abort`: its memory is gone, its
 * storage stays) and a new instance of it, with a new adapter, recovers on that storage and finishes the script. Checks as in memory: same history (or, with 'exit', same end state and no
 * checkpoint stored twice), no orphans.
 */
import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createDurableObjectAdapter } from '../../adapters/durable-object.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import { crashRun, durabilities, expectations, recover, reference, samplePoints, type Shaped } from '../crash/script.js'

const SEED = 13
const PER_MODE = 24

// The script's adapter calls, counted in memory (the same engine makes the same calls on any adapter; checked below).
const plans = await Promise.all(
  durabilities.map(async (durability) => {
    const { calls } = await reference(createMemoryAdapter(), durability)
    return { durability, calls, points: samplePoints(calls, PER_MODE, SEED) }
  }),
)

/** Runs `fn` inside the Durable Object `id`, in a request of its own (a fresh stub each time, as a Worker makes per request). */
const inside = <T>(id: DurableObjectId, fn: (storage: DurableObjectStorage, instance: object) => Promise<T>) =>
  runInDurableObject(env.STORE.get(id), (instance, state) => fn(state.storage, instance))

/** Instances that crashed: the one that recovers must be another (the restart really happened). */
const crashedInstances = new WeakSet<object>()

for (const { durability, calls, points } of plans) {
  describe(`crash matrix in workerd (Durable Object), durability ${durability}: ${points.length} of ${calls * 2} crash points (seed ${SEED})`, () => {
    let expected: Shaped[] = []

    it('the uninterrupted run in a Durable Object: the reference history, and the same adapter calls as in memory', async () => {
      const ref = await inside(env.STORE.newUniqueId(), (storage) => reference(createDurableObjectAdapter(storage), durability, `reference-${durability}`))
      expected = ref.history
      // With 'async', checkpoints written while a commit is in flight join one commit (group commit), and how many do
      // depends on the store's timing: never more calls than in memory. Points past the end then run without a crash.
      if (durability === 'async') expect(ref.calls).toBeLessThanOrEqual(calls)
      else expect(ref.calls).toBe(calls)
      expect(expected.length).toBeGreaterThan(0)
    })

    for (const point of points) {
      it(`crash ${point.when} call ${point.at}: the reset object recovers and ends where the uninterrupted run does`, async () => {
        expect(expected.length, 'the reference run failed').toBeGreaterThan(0)
        const id = env.STORE.newUniqueId()
        const thread = `crash-${durability}-${point.when}-${point.at}`
        // The process that crashes: its request ends at the crash, with what it wrote up to there kept (in
        // production a node's I/O awaits let the object confirm earlier writes; a reset before the output gate
        // would drop the whole request's writes, which the 'before' points of each operation's first call cover).
        const crashed = await inside(id, (storage, instance) => {
          crashedInstances.add(instance)
          return crashRun(createDurableObjectAdapter(storage), durability, point, thread)
        })
        // The object is restarted (evicted, as a crash or the platform does): its memory is gone, its storage stays.
        await evictDurableObject(env.STORE.get(id))
        const outcome = await inside(id, (storage, instance) => {
          expect(crashedInstances.has(instance), 'a new instance recovers').toBe(false)
          return recover(createDurableObjectAdapter(storage), durability, crashed, thread)
        })
        for (const { label, got, want } of expectations(expected, outcome, durability)) expect(got, label).toEqual(want)
      })
    }
  })
}
