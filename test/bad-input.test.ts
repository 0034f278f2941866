/** Bad input gets a typed error that says what was wrong, and stored history is left exactly as it was. */
import { describe, expect, it } from 'vitest'
import { InMemoryCache } from '@langchain/langgraph-checkpoint'
import { Command, END, START, Send, StateGraph, isEdgegraphError } from '../src/index.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { collect, counter, rejectsWith } from './helpers.js'

/** Everything stored for a thread, as text, to prove nothing changed. */
async function dump(store: MemoryAdapter, thread: string): Promise<string> {
  const rows = await collect(store.scan(thread))
  return rows.map(([k, v]) => `${k}=${new TextDecoder().decode(v)}`).join('\n')
}

describe('bad input leaves history intact', () => {
  it('rejects unserializable state before writing anything, naming channel and path', async () => {
    const store = createMemoryAdapter()
    const g = new StateGraph({ items: { default: (): unknown[] => [], reducer: (a: unknown[], b: unknown[]) => [...a, ...b] } })
      .addNode('add', (s) => ({ items: s.items.length === 0 ? [{ ok: 1 }] : [{ callback: () => 'no' }] }))
      .addEdge(START, 'add')
      .addConditionalEdges('add', (s) => (s.items.length >= 2 ? END : 'add'))
      .compile({ checkpointer: store })
    const err = await rejectsWith(g.invoke({}, { threadId: 'u' }), 'UNSERIALIZABLE')
    expect(err.message).toContain('items[1].callback')
    expect(err.message).toContain('a function')
    const state = await g.getState({ threadId: 'u' })
    expect(state.values).toEqual({ items: [{ ok: 1 }] })
    expect((await collect(g.getStateHistory({ threadId: 'u' }))).length).toBe(2)
  })

  it('rejects unserializable input without creating the thread', async () => {
    const store = createMemoryAdapter()
    const g = counter(store)
    await rejectsWith(g.invoke({ count: new (class Counter {})() as unknown as number }, { threadId: 'cls' }), 'UNSERIALIZABLE')
    expect(await dump(store, 'cls')).toBe('')
  })

  it('rejects an unknown node in Command.goto, naming it', async () => {
    const store = createMemoryAdapter()
    const g = new StateGraph({ n: { default: () => 0 } })
      .addNode('a', (s) => (s.n > 0 ? new Command({ goto: 'nowhere' }) : { n: 1 }), { ends: [END] })
      .addEdge(START, 'a')
      .addConditionalEdges('a', (s) => (s.n > 0 ? 'a' : END))
      .compile({ checkpointer: store })
    const err = await rejectsWith(g.invoke({}, { threadId: 'g' }), 'UNKNOWN_NODE')
    expect(err.message).toContain('"nowhere"')
    expect(err.context.node).toBe('a')
    expect((await g.getState({ threadId: 'g' })).values).toEqual({ n: 1 })
  })

  it('rejects a Send or a conditional edge to an unknown node', async () => {
    const send = new StateGraph({ n: { default: () => 0 } })
      .addNode('a', () => ({}))
      .addConditionalEdges(START, () => [new Send('ghost', {})])
      .compile()
    expect((await rejectsWith(send.invoke({}), 'UNKNOWN_NODE')).message).toContain('"ghost"')
    const mapped = new StateGraph({ n: { default: () => 0 } })
      .addNode('a', () => ({}))
      .addEdge(START, 'a')
      .addConditionalEdges('a', () => 'maybe' as 'yes', { yes: END })
      .compile()
    expect((await rejectsWith(mapped.invoke({}), 'UNKNOWN_NODE')).message).toContain('not in its path map')
  })

  it('rejects resume of an unknown thread or checkpoint, and resume without a pending interrupt', async () => {
    const store = createMemoryAdapter()
    const g = counter(store)
    await rejectsWith(g.invoke(null, { threadId: 'ghost' }), 'THREAD_NOT_FOUND')
    await rejectsWith(g.invoke(new Command({ resume: 1 }), { threadId: 'ghost' }), 'THREAD_NOT_FOUND')
    await g.invoke({ count: 0 }, { threadId: 't' })
    const before = await dump(store, 't')
    await rejectsWith(g.invoke(null, { threadId: 't', checkpointId: 'aaaaaaaaaaa' }), 'CHECKPOINT_NOT_FOUND')
    await rejectsWith(g.invoke(new Command({ resume: 'x' }), { threadId: 't' }), 'NO_PENDING_INTERRUPT')
    expect(await dump(store, 't')).toBe(before)
  })

  it('rejects malformed calls with INVALID_ARGUMENT', async () => {
    const g = counter()
    await rejectsWith(g.invoke({ count: 0 }), 'INVALID_ARGUMENT')
    await rejectsWith(g.invoke([1] as never, { threadId: 't' }), 'INVALID_ARGUMENT')
    await rejectsWith(g.getState({} as never), 'INVALID_ARGUMENT')
    await rejectsWith(g.updateState({ threadId: 't' }, 'x' as never), 'INVALID_ARGUMENT')
    expect(() => counter(createMemoryAdapter(), 5, { checkpointEvery: 0 })).toThrow(/checkpointEvery/)
    expect(() => new StateGraph({ n: {} }).addNode('a', () => ({})).addEdge(START, 'a').compile({ checkpointer: {} as never })).toThrow(/storage adapter/)
  })

  it('reports a corrupted record naming the checkpoint; checkpoints before it stay readable', async () => {
    const store = createMemoryAdapter()
    const g = counter(store, 3)
    await g.invoke({ count: 0 }, { threadId: 'c' })
    const history = await collect(g.getStateHistory({ threadId: 'c' }))
    const victim = history[1]?.config.checkpointId as string
    await store.commit('c', { put: [[`c/${victim}`, new TextEncoder().encode('{"s":2,"n":[tru')]] })
    const err = await rejectsWith(g.getState({ threadId: 'c', checkpointId: victim }), 'CORRUPT_RECORD')
    expect(err.message).toContain(victim)
    expect(err.context.checkpointId).toBe(victim)
    for (const s of history.slice(2)) expect((await g.getState(s.config)).values).toEqual(s.values)
    await rejectsWith(collect(g.getStateHistory({ threadId: 'c' })), 'CORRUPT_RECORD')
    // Recovery path: fork from a good checkpoint.
    const fork = await g.updateState(history[2]?.config as never, { count: 1 })
    expect(await g.invoke(null, fork)).toEqual({ count: 3 })
  })

  it('reports quota exhaustion as a typed error; the thread resumes once space is freed', async () => {
    // Size a quota so that a filler thread plus part of the real run fit, but not the whole run.
    const probe = createMemoryAdapter()
    await counter(probe, 5).invoke({ count: 0 }, { threadId: 'filler' })
    const fillerBytes = probe.bytes()
    const store = createMemoryAdapter({ quotaBytes: fillerBytes + 500 })
    await counter(store, 5).invoke({ count: 0 }, { threadId: 'filler' })
    const g = counter(store, 8)
    const err = await g.invoke({ count: 0 }, { threadId: 'q' }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'QUOTA_EXCEEDED')).toBe(true)
    expect((err as Error).message).toContain('thread "q"')
    const stuck = await g.getState({ threadId: 'q' })
    expect(stuck.values.count).toBeGreaterThan(0)
    expect(stuck.values.count).toBeLessThan(8)
    const counts = (await collect(g.getStateHistory({ threadId: 'q' }))).map((s) => s.values.count)
    expect(counts).toEqual(Array.from({ length: stuck.values.count + 1 }, (_, i) => stuck.values.count - i))
    await g.deleteThread('filler')
    expect(await g.invoke(null, { threadId: 'q' })).toEqual({ count: 8 })
  })
})

describe('options edgegraph does not support fail loudly, naming the option', () => {
  const sync = (fn: () => unknown): Error & { code?: string } => {
    try {
      fn()
    } catch (err) {
      return err as Error & { code?: string }
    }
    throw new Error('expected a throw')
  }

  it('stream modes that do not exist, and a subgraphs option that is not a boolean', async () => {
    const g = counter()
    for (const mode of ['bogus', 'events', 'Values']) {
      const err = sync(() => g.stream({ count: 0 }, { threadId: 's', streamMode: mode as 'values' }))
      expect(err.code, mode).toBe('INVALID_ARGUMENT')
      expect(err.message).toContain(`"${mode}"`)
    }
    expect(sync(() => g.stream({ count: 0 }, { threadId: 's', streamMode: ['values', 'events' as 'values'] })).message).toContain('"events"')
    expect(sync(() => g.stream({ count: 0 }, { threadId: 's', subgraphs: 'yes' } as never)).message).toContain('subgraphs must be true or false')
    // Nothing ran, nothing was stored.
    await rejectsWith(g.getState({ threadId: 's' }), 'THREAD_NOT_FOUND')
    expect(await collect(g.stream({ count: 3 }, { threadId: 's', subgraphs: false } as never))).toHaveLength(3)
  })

  it('a retryPolicy field edgegraph does not know, or of the wrong kind', () => {
    const add = (retryPolicy: unknown) => sync(() => new StateGraph({ n: { default: () => 0 } }).addNode('a', () => ({}), { retryPolicy } as never))
    expect(add({ maxAttempts: 3, tries: 2 }).message).toContain('option "tries"')
    expect(add({ maxAttempts: 0 }).message).toContain('maxAttempts must be a whole number ≥ 1')
    expect(add({ retryOn: true }).message).toContain('retryOn must be a function')
  })

  it('a cachePolicy field edgegraph does not know, or of the wrong kind', () => {
    const add = (cachePolicy: unknown) => sync(() => new StateGraph({ n: { default: () => 0 } }).addNode('a', () => ({}), { cachePolicy } as never))
    expect(add({ ttl: 60, maxSize: 10 }).message).toContain('option "maxSize"')
    expect(add({ ttl: -1 }).message).toContain('ttl must be a number ≥ 0 (seconds)')
    expect(add({ keyFunc: 'text' }).message).toContain('keyFunc must be a function')
    expect(add('yes').message).toContain('cachePolicy must be an object, true or false')
  })

  it('node options edgegraph does not have yet (input, timeout)', () => {
    for (const option of [{ input: {} }, { timeout: 1000 }]) {
      const [name] = Object.keys(option)
      const err = sync(() => new StateGraph({ n: { default: () => 0 } }).addNode('a', () => ({}), option as never))
      expect(err.code, name).toBe('INVALID_ARGUMENT')
      expect(err.message).toContain(`option "${name}"`)
      expect(err.message).toContain('addNode("a")')
    }
  })

  it('run config and compile options LangGraph.js has and edgegraph does not, with a hint', async () => {
    const store = createMemoryAdapter()
    const g = counter(store)
    const configurable = await rejectsWith(g.invoke({ count: 0 }, { configurable: { thread_id: 'c' } } as never), 'INVALID_ARGUMENT')
    expect(configurable.message).toContain('option "configurable"')
    expect(configurable.message).toContain('pass threadId and checkpointId at the top level')
    await rejectsWith(g.invoke({ count: 0 }, { threadId: 'c', callbacks: [] } as never), 'INVALID_ARGUMENT')
    await rejectsWith(g.invoke({ count: 0 }, { threadId: 'c', durability: 'later' as 'sync' }), 'INVALID_ARGUMENT')
    await rejectsWith(g.invoke({ count: 0 }, { threadId: 'c', recursionLimit: 0 }), 'INVALID_ARGUMENT')
    await rejectsWith(g.getState({ configurable: { thread_id: 'c' } } as never), 'INVALID_ARGUMENT')
    expect(await dump(store, 'c')).toBe('')
    const build = () => new StateGraph({ n: { default: () => 0 } }).addNode('a', () => ({})).addEdge(START, 'a')
    expect(sync(() => build().compile({ cache: {} } as never)).message).toContain("cache must be createCache(adapter) from 'edgegraph/cache'")
    expect(sync(() => build().compile({ cache: new InMemoryCache() } as never)).message).toContain("LangGraph's InMemoryCache does not plug in")
    expect(sync(() => build().compile({ store: 'mem' } as never)).message).toContain('store must be an object')
    await rejectsWith(g.invoke({ count: 0 }, { threadId: '.store/default' }), 'INVALID_ARGUMENT')
    expect(sync(() => build().compile({ checkpointer: false } as never)).code).toBe('INVALID_ARGUMENT')
    expect(sync(() => build().compile({ checkpointer: { adapter: store, snapshotEvery: 3 } } as never)).message).toContain('"snapshotEvery"')
  })
})
