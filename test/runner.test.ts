/**
 * The runner (edgegraph/runner) in one process: several runners share one store, as processes share one database.
 * Every queued thread finishes exactly once; a runner that dies mid-run has its thread taken over after its lease,
 * continued from the last checkpoint, with no step stored twice and one line of history. The same with real
 * processes on PostgreSQL is in test/runner-postgres.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph, isEdgegraphError, type StorageAdapter } from '../src/index.js'
import { createRunner, type RunnerEvent } from '../src/runner.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { appendList, collect, deferred, over, rejectsWith } from './helpers.js'

const STEPS = 5

/** A thread appends `step i` STEPS times; `gate` (when given) holds the node of one step until opened. */
function worker(store: StorageAdapter, calls: Map<string, number>, gate?: { thread: string; step: number; reached: () => void; open: Promise<void> }) {
  return new StateGraph({ log: appendList })
    .addNode('work', async (s, ctx) => {
      const step = s.log.length
      const key = `${ctx.threadId}:${step}`
      calls.set(key, (calls.get(key) ?? 0) + 1)
      if (gate && ctx.threadId === gate.thread && step === gate.step) {
        gate.reached()
        await gate.open
      }
      return { log: [`step ${step}`] }
    })
    .addEdge(START, 'work')
    .addConditionalEdges('work', (s) => (s.log.length >= STEPS + 1 ? END : 'work'))
    .compile({ checkpointer: store })
}

/** Each checkpoint's parent is the one before it: no fork, no step stored twice. */
async function linear(store: StorageAdapter, threadId: string): Promise<string[]> {
  const g = worker(store, new Map())
  const history = await collect(g.getStateHistory({ threadId }))
  history.reverse()
  history.forEach((s, i) => expect(s.parentConfig?.checkpointId, `${threadId} checkpoint ${i}`).toBe(history[i - 1]?.config.checkpointId))
  return (history.at(-1)?.values.log ?? []) as string[]
}

const expectedLog = (input: string) => [input, ...Array.from({ length: STEPS }, (_, i) => `step ${i + 1}`)]

describe('createRunner', () => {
  it('three runners (two slots each) on one store finish 30 queued threads, each once, each history one line', async () => {
    const store = createMemoryAdapter()
    const calls = new Map<string, number>()
    const events: RunnerEvent[] = []
    const runners = Array.from({ length: 3 }, (_, i) => createRunner({ graph: worker(store, calls), queue: store, concurrency: 2, pollMs: 5, owner: `r${i}`, onEvent: (e) => events.push(e) }))
    const threads = Array.from({ length: 30 }, (_, i) => `t${i}`)
    for (const t of threads) await runners[0]?.enqueue(t, { log: [`in ${t}`] })
    const done = deferred()
    const check = () => events.filter((e) => e.type === 'done').length === threads.length && done.resolve()
    for (const r of runners) {
      r.start()
    }
    const poll = setInterval(check, 5)
    await done.promise
    clearInterval(poll)
    await Promise.all(runners.map((r) => r.stop()))
    for (const t of threads) expect(await linear(store, t)).toEqual(expectedLog(`in ${t}`))
    // Each node call ran exactly once: no thread was run by two runners.
    expect([...calls.values()].every((n) => n === 1)).toBe(true)
    expect(calls.size).toBe(threads.length * STEPS)
    const jobs = await runners[1]?.jobs()
    expect(jobs?.map((j) => j.status)).toEqual(threads.map(() => 'done'))
    // More than one runner did work.
    expect(new Set(events.filter((e) => e.type === 'done').map((e) => e.owner)).size).toBeGreaterThan(1)
  })

  it('a runner that dies mid-run: after its lease another runner takes the thread over and continues from the last checkpoint', async () => {
    const store = createMemoryAdapter()
    const calls = new Map<string, number>()
    let dead = false
    // What the dying process sees of the store: once dead, every call fails, as a killed process makes none.
    const dying = over(store, {
      get: (t, k) => (dead ? Promise.reject(new Error('process killed')) : store.get(t, k)),
      commit: (t, b, g) => (dead ? Promise.reject(new Error('process killed')) : store.commit(t, b, g)),
      scan: (t, r) => {
        if (dead) throw new Error('process killed')
        return store.scan(t, r)
      },
    })
    const reached = deferred()
    const never = new Promise<void>(() => {})
    const events: RunnerEvent[] = []
    const a = createRunner({ graph: worker(dying, calls, { thread: 'x', step: 3, reached: reached.resolve, open: never }), queue: dying, leaseMs: 60, pollMs: 5, owner: 'a', onEvent: (e) => events.push(e) })
    await a.enqueue('x', { log: ['in x'] })
    a.start()
    await reached.promise
    dead = true // a is killed while its node runs step 3; it renews its lease no more

    const b = createRunner({ graph: worker(store, calls), queue: store, leaseMs: 60, pollMs: 5, owner: 'b', onEvent: (e) => events.push(e) })
    const finished = deferred()
    const poll = setInterval(() => events.some((e) => e.type === 'done' && e.owner === 'b') && finished.resolve(), 5)
    b.start()
    await finished.promise
    clearInterval(poll)
    await b.stop()
    expect(events.find((e) => e.type === 'claimed' && e.owner === 'b')).toMatchObject({ takeover: true, threadId: 'x' })
    expect(await linear(store, 'x')).toEqual(expectedLog('in x'))
    // Steps 1 and 2 were stored by a and not run again; step 3 ran on a (cut off before it was stored) and on b.
    expect(Object.fromEntries(calls)).toEqual({ 'x:1': 1, 'x:2': 1, 'x:3': 2, 'x:4': 1, 'x:5': 1 })
    expect((await b.jobs())[0]).toMatchObject({ status: 'done', owner: 'b', claims: 2 })
  })

  it('retries a failing node up to maxAttempts, continuing the thread each time; then marks the job failed', async () => {
    const store = createMemoryAdapter()
    let failures = 2
    const g = new StateGraph({ log: appendList })
      .addNode('flaky', (s) => {
        if (failures-- > 0) throw new Error('flaky')
        return { log: [`ok ${s.log.length}`] }
      })
      .addEdge(START, 'flaky')
      .addEdge('flaky', END)
      .compile({ checkpointer: store })
    const events: RunnerEvent[] = []
    const r = createRunner({ graph: g, queue: store, pollMs: 5, onEvent: (e) => events.push(e) })
    await r.enqueue('f', { log: ['in'] })
    r.start()
    const settled = deferred()
    const poll = setInterval(() => events.some((e) => e.type === 'done' || e.type === 'failed') && settled.resolve(), 5)
    await settled.promise
    clearInterval(poll)
    await r.stop()
    expect(events.filter((e) => e.type === 'released')).toHaveLength(2)
    expect((await g.getState({ threadId: 'f' })).values.log).toEqual(['in', 'ok 1'])
    // The input was stored once, by the first attempt.
    expect((await collect(g.getStateHistory({ threadId: 'f' }))).filter((s) => s.metadata.source === 'input')).toHaveLength(1)

    failures = 99
    await r.enqueue('g', { log: ['in'] })
    const failed = deferred()
    const poll2 = setInterval(() => events.some((e) => e.type === 'failed') && failed.resolve(), 5)
    r.start()
    await failed.promise
    clearInterval(poll2)
    await r.stop()
    expect((await r.jobs()).find((j) => j.threadId === 'g')).toMatchObject({ status: 'failed', claims: 3 })
  })

  it('refuses a second job for a thread while one is queued, and bad options', async () => {
    const store = createMemoryAdapter()
    const r = createRunner({ graph: worker(store, new Map()), queue: store })
    await r.enqueue('t', { log: ['a'] })
    await rejectsWith(r.enqueue('t', { log: ['b'] }), 'THREAD_BUSY')
    expect(() => createRunner({ graph: worker(store, new Map()), queue: store, leaseMs: 0 })).toThrow(/leaseMs must be a positive number/)
    expect(() => createRunner({ graph: undefined as never, queue: store })).toThrow(/needs \{ graph, queue \}/)
    expect(isEdgegraphError(await r.enqueue('', null).catch((e: unknown) => e), 'INVALID_ARGUMENT')).toBe(true)
  })
})
