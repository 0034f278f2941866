/** Durability modes and checkpoint frequency: what gets committed, when, and that runs still resume. */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, counter, deferred, rejectsWith } from './helpers.js'

/** Wraps an adapter to log commits and optionally hold them until released. */
function recording(inner = createMemoryAdapter()) {
  const log: string[] = []
  let hold: Promise<void> | undefined
  const adapter: StorageAdapter = {
    ...inner,
    name: inner.name,
    limits: inner.limits,
    get: inner.get,
    scan: inner.scan,
    deleteThread: inner.deleteThread,
    threads: inner.threads,
    async commit(thread, batch, guard) {
      log.push(`commit:start`)
      if (hold) await hold
      await inner.commit(thread, batch, guard)
      log.push(`commit:end`)
    },
  }
  return { adapter, log, inner, holdCommits: (p: Promise<void> | undefined) => (hold = p) }
}

function loggingCounter(adapter: StorageAdapter, log: string[], until = 3, fail?: number, onNode?: () => void) {
  return new StateGraph({ count: { default: () => 0 } })
    .addNode('increment', (s) => {
      log.push(`node:${s.count}`)
      onNode?.()
      if (s.count === fail) throw new Error('boom')
      return { count: s.count + 1 }
    })
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= until ? END : 'increment'))
    .compile({ checkpointer: adapter })
}

describe('durability', () => {
  it('sync: each step returns only after its commit', async () => {
    const { adapter, log } = recording()
    await loggingCounter(adapter, log).invoke({}, { threadId: 's', durability: 'sync' })
    expect(log).toEqual(['commit:start', 'commit:end', 'node:0', 'commit:start', 'commit:end', 'node:1', 'commit:start', 'commit:end', 'node:2', 'commit:start', 'commit:end'])
  })

  it('async: commits overlap the next step, stay in order, and all land before invoke returns', async () => {
    const { adapter, log, holdCommits } = recording()
    const gate = deferred()
    const nodeRan = deferred()
    holdCommits(gate.promise)
    const run = loggingCounter(adapter, log, 3, undefined, nodeRan.resolve).invoke({}, { threadId: 'a', durability: 'async' })
    // The input checkpoint's commit is held (released only below), yet a step runs: with 'sync' this never happens
    // and the test times out here.
    await nodeRan.promise
    expect(log.slice(0, 2)).toEqual(['commit:start', 'node:0'])
    expect(log).not.toContain('commit:end')
    gate.resolve()
    expect(await run).toEqual({ count: 3 })
    expect(log.filter((l) => l === 'commit:end')).toHaveLength(4)
    const history = await collect(loggingCounter(adapter, []).getStateHistory({ threadId: 'a' }))
    expect(history.map((h) => h.values.count)).toEqual([3, 2, 1, 0])
  })

  it('async: a failed commit stops the run at the next step boundary instead of running on', async () => {
    const store = createMemoryAdapter({ quotaBytes: 3_000 })
    const ran: number[] = []
    const g = new StateGraph({ count: { default: () => 0 } })
      .addNode('increment', (s) => {
        ran.push(s.count)
        return { count: s.count + 1 }
      })
      .addEdge(START, 'increment')
      .addConditionalEdges('increment', (s) => (s.count >= 50 ? END : 'increment'))
      .compile({ checkpointer: store })
    await rejectsWith(g.invoke({ count: 0 }, { threadId: 'q', durability: 'async', recursionLimit: 100 }), 'QUOTA_EXCEEDED')
    const head = (await g.getState({ threadId: 'q' })).values.count
    // At most the step that overlapped the failed commit ran past the stored head.
    expect(ran.length).toBeLessThanOrEqual(head + 2)
  })

  it('async: packs a long chain as sync does, without a pack attempt per step', async () => {
    const counts: Record<string, { scans: number; packs: number }> = {}
    for (const durability of ['sync', 'async'] as const) {
      const mem = createMemoryAdapter()
      const c = (counts[durability] = { scans: 0, packs: 0 })
      // Each commit waits for a turn of the event loop, as an IndexedDB transaction does, so async steps (all
      // microtasks) always run ahead of their commits: the same interleaving every time, whatever the machine.
      const store: StorageAdapter = {
        ...mem,
        scan: (t, r) => (c.scans++, mem.scan(t, r)),
        commit: async (t, b, g) => {
          if (b.put?.some(([k]) => k.startsWith('p/'))) c.packs++
          await new Promise((r) => setImmediate(r))
          return mem.commit(t, b, g)
        },
      }
      const g = new StateGraph({ messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] } })
        .addNode('chat', () => ({ messages: ['x'.repeat(500)] }))
        .addEdge(START, 'chat')
        .addConditionalEdges('chat', (s) => (s.messages.length >= 300 ? END : 'chat'))
        .compile({ checkpointer: store })
      await g.invoke({ messages: [] }, { threadId: 't', recursionLimit: 400, durability })
      expect((await g.getState({ threadId: 't' })).values.messages).toHaveLength(300)
    }
    expect(counts.sync?.packs).toBe(4)
    expect(counts.async?.packs).toBe(4)
    expect(counts.async?.scans).toBeLessThan(12)
  })

  it('exit: commits once at the end, and the result resumes like any other', async () => {
    const { adapter, log } = recording()
    await loggingCounter(adapter, log).invoke({ count: 0 }, { threadId: 'e', durability: 'exit' })
    expect(log.filter((l) => l === 'commit:end')).toHaveLength(1)
    const g = loggingCounter(adapter, [])
    const history = await collect(g.getStateHistory({ threadId: 'e' }))
    expect(history).toHaveLength(1)
    expect(history[0]?.values).toEqual({ count: 3 })
    expect(history[0]?.metadata.writes).toEqual({ __start__: ['count'], increment: ['count'] })
  })

  it('exit: an error stores the last good state and the failed step as pending, so resume works', async () => {
    const { adapter, log } = recording()
    await rejectsWith(loggingCounter(adapter, log, 5, 3).invoke({}, { threadId: 'x', durability: 'exit' }), 'NODE_FAILED')
    const g = loggingCounter(adapter, [], 5)
    const state = await g.getState({ threadId: 'x' })
    expect(state.values).toEqual({ count: 3 })
    expect(state.tasks[0]?.error?.message).toBe('boom')
    expect(await g.invoke(null, { threadId: 'x' })).toEqual({ count: 5 })
  })

  it('checkpointEvery: stores every N steps plus the final one', async () => {
    const store = createMemoryAdapter()
    const g = counter(store, 10, { checkpointEvery: 4 })
    await g.invoke({ count: 0 }, { threadId: 'n' })
    const steps = (await collect(g.getStateHistory({ threadId: 'n' }))).map((h) => h.metadata.step)
    expect(steps).toEqual([10, 7, 3])
    expect((await g.getState({ threadId: 'n' })).values).toEqual({ count: 10 })
  })
})
