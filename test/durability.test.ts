/** Durability modes and checkpoint frequency: what gets committed, when, and that runs still resume. */
import { describe, expect, it } from 'vitest'
import { Command, END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, counter, deferred, over, rejectsWith } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

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
    // Every commit started has landed. Checkpoints written while one is held may join one commit (group commit): how
    // many do depends on how many steps run meanwhile, so the count is not fixed.
    const commits = log.filter((l) => l === 'commit:start').length
    expect(log.filter((l) => l === 'commit:end')).toHaveLength(commits)
    expect(commits).toBeGreaterThanOrEqual(2)
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
          if (b.put?.some(([k]) => isPackKey(k))) c.packs++
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

  describe('async group commit', () => {
    /** A memory adapter whose commits each take a timer turn (a round trip), logging each batch. */
    function slow(quotaBytes?: number) {
      const inner = createMemoryAdapter(quotaBytes === undefined ? {} : { quotaBytes })
      const batches: { put: string[]; del: string[] }[] = []
      const adapter = over(inner, {
        async commit(thread, batch, guard) {
          await new Promise((r) => setTimeout(r, 1))
          await inner.commit(thread, batch, guard)
          batches.push({ put: (batch.put ?? []).map(([k]) => k), del: batch.del ?? [] })
        },
      })
      return { adapter, inner, batches }
    }

    it('checkpoints written while a commit is in flight join one commit; history keeps every one of them', async () => {
      const { adapter, batches } = slow()
      const g = counter(adapter as never, 200)
      expect(await g.invoke({ count: 0 }, { threadId: 'g', durability: 'async', recursionLimit: 300 })).toEqual({ count: 200 })
      const checkpoints = batches.flatMap((b) => b.put.filter((k) => k.startsWith('c/')))
      // Far fewer commits than steps (one per timer turn, not one per step), none of them a key put twice.
      expect(batches.filter((b) => b.put.includes('h')).length).toBeLessThan(50)
      for (const b of batches) expect(new Set(b.put).size).toBe(b.put.length)
      const history = await collect(g.getStateHistory({ threadId: 'g' }))
      expect(history.map((h) => h.values.count)).toEqual(Array.from({ length: 201 }, (_, i) => 200 - i))
      expect(new Set(checkpoints)).toEqual(new Set(history.map((h) => `c/${h.config.checkpointId}`)))
      // Any checkpoint of the group can be resumed from (a fork): it was stored as its own record.
      expect(await g.invoke(null, { threadId: 'g', checkpointId: history[150]?.config.checkpointId as string, recursionLimit: 300 })).toEqual({ count: 200 })
    })

    it('a group commit that is refused stops the run at the next boundary; what was stored stays readable', async () => {
      const { adapter, inner } = slow(6_000)
      const ran: number[] = []
      const g = new StateGraph({ count: { default: () => 0 } })
        // Each step waits a turn of the event loop (as a model call would), so commits land while the run goes on.
        .addNode('increment', async (s) => {
          ran.push(s.count)
          await new Promise((r) => setImmediate(r))
          return { count: s.count + 1 }
        })
        .addEdge(START, 'increment')
        .addConditionalEdges('increment', (s) => (s.count >= 500 ? END : 'increment'))
        .compile({ checkpointer: adapter })
      await rejectsWith(g.invoke({ count: 0 }, { threadId: 'q', durability: 'async', recursionLimit: 600 }), 'QUOTA_EXCEEDED')
      const head = (await g.getState({ threadId: 'q' })).values.count
      expect(ran.length).toBeLessThan(500)
      // The stored line is whole: each checkpoint back to the input reads, one step apart.
      const history = await collect(g.getStateHistory({ threadId: 'q' }))
      expect(history.map((h) => h.values.count)).toEqual(Array.from({ length: head + 1 }, (_, i) => head - i))
      expect(inner.bytes()).toBeLessThanOrEqual(6_000)
    })

    it('pending writes a resumed step completes are deleted by the group that stores it', async () => {
      const { adapter, inner, batches } = slow()
      const g = new StateGraph({ log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] } })
        .addNode('ask', (_s, ctx) => ({ log: [`asked ${ctx.interrupt<string>('go?')}`] }))
        .addNode('side', () => ({ log: ['side'] }))
        .addNode('more', (s) => ({ log: [`more ${s.log.length}`] }))
        .addEdge(START, 'ask')
        .addEdge(START, 'side')
        .addConditionalEdges('ask', () => 'more')
        .addConditionalEdges('more', (s) => (s.log.length >= 30 ? END : 'more'))
        .compile({ checkpointer: adapter })
      await g.invoke({ log: [] }, { threadId: 'p', durability: 'async' })
      const keys = async () => (await collect(inner.scan('p'))).map(([k]) => k)
      // The finished sibling's writes wait as a pending record on the checkpoint before the step.
      const pendingBefore = (await keys()).filter((k) => k.startsWith('w/'))
      expect(pendingBefore.length).toBeGreaterThan(0)
      batches.length = 0
      const out = await g.invoke(new Command({ resume: 'yes' }), { threadId: 'p', durability: 'async', recursionLimit: 100 })
      expect(new Set(out.log.slice(0, 2))).toEqual(new Set(['asked yes', 'side']))
      expect(out.log[2]).toBe('more 2')
      expect(out.log).toHaveLength(30)
      for (const key of pendingBefore) expect(await keys()).not.toContain(key)
      expect(batches.some((b) => b.put.filter((k) => k.startsWith('c/')).length > 1)).toBe(true)
      expect((await g.getState({ threadId: 'p' })).values.log).toEqual(out.log)
    })
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
