/**
 * Node caching (`cachePolicy` with `compile({ cache })`) beyond what the differential suite compares with
 * LangGraph.js: the cache lives in a storage adapter, so it outlasts the graph object (a reload), keys of any size
 * fit, routing by Command and Send is reused, and a node without a cache to keep results in just runs.
 */
import { describe, expect, it } from 'vitest'
import { Command, END, START, Send, StateGraph } from '../src/index.js'
import { createCache } from '../src/cache.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { appendList, collect } from './helpers.js'

describe('node cache', () => {
  const build = (calls: string[], cachePolicy: object | boolean, options: object) =>
    new StateGraph({ text: { default: () => '' }, log: appendList })
      .addNode(
        'embed',
        (s) => {
          calls.push(s.text)
          return new Command({ update: { log: [`embed ${s.text.length}`] }, goto: s.text.length > 3 ? 'long' : END })
        },
        { cachePolicy, ends: ['long', END] },
      )
      .addNode('long', () => ({ log: ['long'] }))
      .addEdge(START, 'embed')
      .compile(options)

  it('outlasts the graph object: a new graph on the same adapter reuses results, including Command routing', async () => {
    const adapter = createMemoryAdapter()
    const calls: string[] = []
    const keyFunc = ([s]: unknown[]) => (s as { text: string }).text
    const first = await build(calls, { keyFunc }, { checkpointer: adapter, cache: createCache(adapter) }).invoke({ text: 'hello' }, { threadId: 'a' })
    // As after a reload: new graph, new cache object, same adapter, another thread.
    const second = await build(calls, { keyFunc }, { checkpointer: adapter, cache: createCache(adapter) }).invoke({ text: 'hello' }, { threadId: 'b' })
    expect(calls).toEqual(['hello'])
    expect(first.log).toEqual(['embed 5', 'long'])
    expect(second.log).toEqual(first.log)
    // The results are kept in the cross-thread store (edgegraph/store) named 'node-cache', beside the two threads.
    expect((await collect(adapter.threads())).map((t) => t.thread).sort()).toEqual(['.store/node-cache', 'a', 'b'])
  })

  it('cachePolicy: true caches by the whole input; keys of any size fit', async () => {
    const calls: string[] = []
    const graph = build(calls, true, { cache: createCache(createMemoryAdapter(), { name: 'embeddings' }) })
    const big = 'x'.repeat(200_000)
    await graph.invoke({ text: big })
    const again = await graph.invoke({ text: big })
    expect(calls).toHaveLength(1)
    expect(again.log).toEqual(['embed 200000', 'long'])
  })

  it('without compile({ cache }), or with cachePolicy: false, the node runs every time', async () => {
    for (const [policy, options] of [[{}, {}], [false, { cache: createCache(createMemoryAdapter()) }]] as const) {
      const calls: string[] = []
      const graph = build(calls, policy, options)
      await graph.invoke({ text: 'hi' })
      await graph.invoke({ text: 'hi' })
      expect(calls).toEqual(['hi', 'hi'])
    }
  })

  it('each Send is cached by its own argument', async () => {
    const calls: number[] = []
    const graph = new StateGraph({ items: { default: (): number[] => [] }, squares: { default: (): number[] => [], reducer: (a: number[], b: number[]) => [...a, ...b] } })
      .addNode(
        'square',
        (n: unknown) => {
          calls.push(n as number)
          return { squares: [(n as number) ** 2] }
        },
        { cachePolicy: {} },
      )
      .addConditionalEdges(START, (s) => s.items.map((n) => new Send('square', n)))
      .compile({ cache: createCache(createMemoryAdapter()) })
    expect((await graph.invoke({ items: [1, 2] })).squares).toEqual([1, 4])
    // The two Sends of the first run look the cache up at once (its keys are hashed by WebCrypto, off the main
    // thread), so they may be called in either order; the second run calls only the new argument.
    expect([...calls].sort()).toEqual([1, 2])
    expect((await graph.invoke({ items: [2, 3, 1] })).squares).toEqual([4, 9, 1])
    expect(calls.slice(2)).toEqual([3])
  })

  it('a node that fails is not cached: the next run calls it again', async () => {
    let n = 0
    const adapter = createMemoryAdapter()
    const graph = new StateGraph({ out: { default: () => '' } })
      .addNode(
        'flaky',
        () => {
          if (++n === 1) throw new Error('first call fails')
          return { out: `call ${n}` }
        },
        { cachePolicy: { keyFunc: () => 'same' } },
      )
      .addEdge(START, 'flaky')
      .compile({ cache: createCache(adapter) })
    await expect(graph.invoke({})).rejects.toThrow('first call fails')
    expect((await graph.invoke({})).out).toBe('call 2')
    expect((await graph.invoke({})).out).toBe('call 2')
  })
})
