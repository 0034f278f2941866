/** Time travel: getState at any checkpoint, history paging and filters, updateState forks, replay, diff. */
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { appendList, collect, counter, rejectsWith } from './helpers.js'

describe('getState and getStateHistory', () => {
  it('shows every checkpoint newest first with ids, parents, metadata and createdAt', async () => {
    const g = counter()
    await g.invoke({ count: 0 }, { threadId: 't' })
    const history = await collect(g.getStateHistory({ threadId: 't' }))
    expect(history.map((s) => s.values.count)).toEqual([5, 4, 3, 2, 1, 0])
    expect(history.map((s) => s.metadata.step)).toEqual([5, 4, 3, 2, 1, 0])
    for (const [i, s] of history.entries()) {
      expect(s.parentConfig?.checkpointId).toBe(history[i + 1]?.config.checkpointId)
      expect(s.metadata.parentId).toBe(history[i + 1]?.config.checkpointId)
      expect(Date.parse(s.createdAt)).toBeGreaterThan(Date.now() - 60_000)
    }
    const old = await g.getState({ threadId: 't', checkpointId: history[3]?.config.checkpointId as string })
    expect(old.values).toEqual({ count: 2 })
    expect(old.next).toEqual(['increment'])
  })

  it('pages with limit and before, and filters on metadata', async () => {
    const g = counter()
    await g.invoke({ count: 0 }, { threadId: 't' })
    const page1 = await collect(g.getStateHistory({ threadId: 't' }, { limit: 2 }))
    expect(page1.map((s) => s.values.count)).toEqual([5, 4])
    const page2 = await collect(g.getStateHistory({ threadId: 't' }, { limit: 2, before: page1[1]?.config.checkpointId as string }))
    expect(page2.map((s) => s.values.count)).toEqual([3, 2])
    const inputs = await collect(g.getStateHistory({ threadId: 't' }, { filter: { source: 'input' } }))
    expect(inputs.map((s) => s.values.count)).toEqual([0])
    expect(await collect(g.getStateHistory({ threadId: 't' }, { filter: { step: 3 } }))).toHaveLength(1)
  })

  it("pages with before given as a checkpoint config (LangGraph's shape) as well as an id", async () => {
    const g = counter()
    await g.invoke({ count: 0 }, { threadId: 't' })
    const [, second] = await collect(g.getStateHistory({ threadId: 't' }, { limit: 2 }))
    const byConfig = await collect(g.getStateHistory({ threadId: 't' }, { limit: 2, before: second?.config as { threadId: string; checkpointId: string } }))
    const byId = await collect(g.getStateHistory({ threadId: 't' }, { limit: 2, before: second?.config.checkpointId as string }))
    expect(byConfig.map((s) => s.values.count)).toEqual([3, 2])
    expect(byConfig).toEqual(byId)
    for (const before of [{ threadId: 't' }, 42, { configurable: { checkpoint_id: 'x' } }]) {
      const err = await rejectsWith(collect(g.getStateHistory({ threadId: 't' }, { before: before as never })), 'INVALID_ARGUMENT')
      expect(err.message).toContain('before must be a checkpoint id or a config')
    }
  })

  it('rejects an unknown thread or checkpoint with typed errors', async () => {
    const g = counter()
    await rejectsWith(g.getState({ threadId: 'nope' }), 'THREAD_NOT_FOUND')
    await rejectsWith(g.invoke(null, { threadId: 'nope' }), 'THREAD_NOT_FOUND')
    await g.invoke({ count: 0 }, { threadId: 't' })
    const err = await rejectsWith(g.getState({ threadId: 't', checkpointId: 'zzzzzzzzzzz' }), 'CHECKPOINT_NOT_FOUND')
    expect(err.message).toContain('"zzzzzzzzzzz"')
    await rejectsWith(g.invoke(null, { threadId: 't', checkpointId: 'zzzzzzzzzzz' }), 'CHECKPOINT_NOT_FOUND')
  })
})

describe('forks and replays', () => {
  it('updateState on an old checkpoint forks a branch; the old branch stays readable', async () => {
    const g = counter()
    await g.invoke({ count: 0 }, { threadId: 't' })
    const original = await collect(g.getStateHistory({ threadId: 't' }))
    const atTwo = original.find((s) => s.values.count === 2)?.config.checkpointId as string
    // As in LangGraph.js, an update without asNode goes as the node that made the checkpoint ('increment'), whose
    // conditional edge then decides what runs next on the new state.
    const fork = await g.updateState({ threadId: 't', checkpointId: atTwo }, { count: 3 })
    const forked = await g.getState(fork)
    expect(forked.values).toEqual({ count: 3 })
    expect(forked.metadata.source).toBe('fork')
    expect(forked.metadata.writes).toEqual({ increment: ['count'] })
    expect(forked.parentConfig?.checkpointId).toBe(atTwo)
    expect(forked.next).toEqual(['increment'])
    expect((await g.getState(await g.updateState({ threadId: 't', checkpointId: atTwo }, { count: 10 }))).next).toEqual([])

    expect(await g.invoke(null, { threadId: 't', checkpointId: fork.checkpointId })).toEqual({ count: 5 })
    // The old branch is intact: same ids, same values.
    for (const s of original) expect((await g.getState(s.config)).values).toEqual(s.values)
    const all = await collect(g.getStateHistory({ threadId: 't' }))
    expect(all).toHaveLength(original.length + 4)
  })

  it('replays from any checkpoint onto a new branch with invoke(null, { checkpointId })', async () => {
    let calls = 0
    const g = new StateGraph({ count: { default: () => 0 } })
      .addNode('increment', (s) => {
        calls++
        return { count: s.count + 1 }
      })
      .addEdge(START, 'increment')
      .addConditionalEdges('increment', (s) => (s.count >= 3 ? END : 'increment'))
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({ count: 0 }, { threadId: 'r' })
    const original = await collect(g.getStateHistory({ threadId: 'r' }))
    const atOne = original.find((s) => s.values.count === 1)?.config as { threadId: string; checkpointId: string }
    calls = 0
    expect(await g.invoke(null, atOne)).toEqual({ count: 3 })
    expect(calls).toBe(2)
    const head = await g.getState({ threadId: 'r' })
    expect(head.config.checkpointId).not.toBe(original[0]?.config.checkpointId)
    const branch = await collect(g.getStateHistory({ threadId: 'r' }, { limit: 2 }))
    expect(branch[1]?.parentConfig?.checkpointId).toBe(atOne.checkpointId)
    expect(branch[1]?.metadata.source).toBe('fork')
    expect((await g.getState(original[0]?.config as typeof atOne)).values).toEqual({ count: 3 })
  })

  it('updateState with asNode routes as if that node had run', async () => {
    const g = new StateGraph({ log: appendList })
      .addNode('a', () => ({ log: ['a'] }))
      .addNode('b', () => ({ log: ['b'] }))
      .addEdge(START, 'a')
      .addEdge('a', 'b')
      .addEdge('b', END)
      .compile({ checkpointer: createMemoryAdapter(), interruptBefore: ['a'] })
    await g.invoke({}, { threadId: 'n' })
    const cfg = await g.updateState({ threadId: 'n' }, { log: ['human did a'] }, 'a')
    expect((await g.getState(cfg)).next).toEqual(['b'])
    expect(await g.invoke(null, { threadId: 'n' })).toEqual({ log: ['human did a', 'b'] })
    await rejectsWith(g.updateState({ threadId: 'n' }, { log: [] }, 'ghost' as 'a'), 'UNKNOWN_NODE')
  })
})

describe('diff', () => {
  it('returns an RFC 6902 patch between any two checkpoints, across branches', async () => {
    const g = new StateGraph({ log: appendList, meta: { default: (): Record<string, unknown> => ({ a: 1, gone: true }) } })
      .addNode('step', (s) => ({ log: [`m${s.log.length}`], meta: { a: s.log.length + 1, 'x/y': 'slash' } }))
      .addEdge(START, 'step')
      .addConditionalEdges('step', (s) => (s.log.length >= 3 ? END : 'step'))
      .compile({ checkpointer: createMemoryAdapter() })
    await g.invoke({}, { threadId: 'd' })
    const [last, , , first] = await collect(g.getStateHistory({ threadId: 'd' }))
    const patch = await g.diff(first?.config as never, last?.config as never)
    expect(patch).toEqual([
      { op: 'add', path: '/log/0', value: 'm0' },
      { op: 'add', path: '/log/1', value: 'm1' },
      { op: 'add', path: '/log/2', value: 'm2' },
      { op: 'remove', path: '/meta/gone' },
      { op: 'replace', path: '/meta/a', value: 3 },
      { op: 'add', path: '/meta/x~1y', value: 'slash' },
    ])
    expect(applyPatch(structuredClone(first?.values), patch)).toEqual(last?.values)
    expect(applyPatch(structuredClone(last?.values), await g.diff(last?.config as never, first?.config as never))).toEqual(first?.values)
  })
})

/** A minimal RFC 6902 applier (add/remove/replace), enough to check our patches round-trip. */
function applyPatch(doc: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    const last = parts.pop() as string
    let target = doc as Record<string, unknown>
    for (const p of parts) target = target[p] as Record<string, unknown>
    if (Array.isArray(target)) {
      const i = last === '-' ? target.length : Number(last)
      if (op.op === 'add') target.splice(i, 0, op.value)
      else if (op.op === 'remove') target.splice(i, 1)
      else target[i] = op.value
    } else if (op.op === 'remove') delete target[last]
    else target[last] = op.value
  }
  return doc
}
