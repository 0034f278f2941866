/** @module Conformance, store level: cross-thread memory (`edgegraph/store`) kept in the adapter beside graph threads. */
import { describe, expect } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../../src/index.js'
import { createStore, type Item, type Store } from '../../src/store/index.js'
import { clockPast, collect, dump, keysOf, noise, ordered, rejectsWith, type ConformanceOptions, type Test } from './suite.js'

/** Code point order (not UTF-16 code unit order, which puts U+1F600 before U+FFFD). */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) as number)
  const y = [...b].map((c) => c.codePointAt(0) as number)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  return x.length - y.length
}

/** The store's documented item order: namespace label by label, then key. */
export function itemOrder(a: { namespace: string[]; key: string }, b: { namespace: string[]; key: string }): number {
  return namespaceOrder(a.namespace, b.namespace) || byCodePoint(a.key, b.key)
}

/** Namespace order: label by label, a namespace before its children. */
export function namespaceOrder(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = byCodePoint(a[i] as string, b[i] as string)
    if (c !== 0) return c
  }
  return a.length - b.length
}

const where = (items: Item[]) => items.map((i) => [...i.namespace, i.key].join(' / '))
const PRINTABLE = /^[\x20-\x7e]+$/

/** An adapter that runs `before(method, args)` before each call it passes on, so a test can slip a write in between. */
function intercept(adapter: StorageAdapter, before: (method: 'get' | 'commit', arg: unknown) => Promise<void>): StorageAdapter {
  return {
    name: adapter.name,
    limits: adapter.limits,
    get: async (thread, keys) => {
      await before('get', keys)
      return adapter.get(thread, keys)
    },
    scan: (thread, range) => adapter.scan(thread, range),
    commit: async (thread, batch, guard) => {
      await before('commit', batch)
      return adapter.commit(thread, batch, guard)
    },
    deleteThread: (thread) => adapter.deleteThread(thread),
    threads: (options) => adapter.threads(options),
  }
}

/** Items written in no particular order, whose order tells code points from code units and labels from keys. */
const ORDER_CASES: [string[], string][] = [
  [['b'], 'k'],
  [['a', 'é'], 'k'],
  [['a'], 'z'],
  [['a'], '😀'],
  [['a-b'], 'k'],
  [['a', 'b'], 'k'],
  [['ab'], 'k'],
  [['a'], '\uFFFD'],
  [['A'], 'k'],
  [['a'], ' '],
  [['a'], 'é'],
]

export function storeTests(options: ConformanceOptions, test: Test): void {
  const create = async () => options.create()
  const createSmall = async () => (options.createSmall ?? options.create)()
  const corrupt = options.corrupt ?? ((adapter, thread, key, bytes) => adapter.commit(thread, { put: [[key, bytes]] }))

  describe('store (cross-thread memory)', () => {
    test('put then get returns the item; putting it again keeps createdAt and moves updatedAt; after a delete it starts anew', async () => {
      const store = createStore(await create())
      const before = Date.now()
      await store.put(['users', 'u1'], 'prefs', { theme: 'dark' })
      const first = (await store.get(['users', 'u1'], 'prefs')) as Item
      expect(first).toEqual({ value: { theme: 'dark' }, key: 'prefs', namespace: ['users', 'u1'], createdAt: first.createdAt, updatedAt: first.createdAt })
      expect(first.createdAt.getTime()).toBeGreaterThanOrEqual(before)
      expect(first.createdAt.getTime()).toBeLessThanOrEqual(Date.now())

      await clockPast(first.updatedAt.getTime())
      await store.put(['users', 'u1'], 'prefs', { theme: 'light', size: 2 })
      const second = (await store.get(['users', 'u1'], 'prefs')) as Item
      expect(second.value).toEqual({ theme: 'light', size: 2 })
      expect(second.createdAt).toEqual(first.createdAt)
      expect(second.updatedAt.getTime()).toBeGreaterThan(first.updatedAt.getTime())

      await store.delete(['users', 'u1'], 'prefs')
      expect(await store.get(['users', 'u1'], 'prefs')).toBeNull()
      await clockPast(second.updatedAt.getTime())
      await store.put(['users', 'u1'], 'prefs', { theme: 'dark' })
      const third = (await store.get(['users', 'u1'], 'prefs')) as Item
      expect(third.createdAt.getTime()).toBeGreaterThan(second.updatedAt.getTime())
      expect(third.updatedAt).toEqual(third.createdAt)
    })

    test('get of a missing item is null, delete of one does nothing, and reads return fresh copies', async () => {
      const adapter = await create()
      const store = createStore(adapter)
      expect(await store.get(['nobody'], 'k')).toBeNull()
      await store.delete(['nobody'], 'k')
      expect(await keysOf(adapter, store.thread)).toEqual([])
      await store.put(['a'], 'k', { list: [1] })
      const item = (await store.get(['a'], 'k')) as Item<{ list: number[] }>
      item.value.list.push(2)
      item.namespace.push('x')
      expect(await store.get(['a'], 'k')).toMatchObject({ value: { list: [1] }, namespace: ['a'] })
    })

    test('values round-trip through the checkpoint serde: Dates, Maps, Sets, BigInts, Uint8Arrays, undefined, -0', async () => {
      const store = createStore(await create())
      const value = {
        at: new Date(Date.UTC(2024, 1, 29)),
        tags: new Set(['z', 'a']),
        seen: new Map<unknown, unknown>([['b', 1], [2, { deep: [null, undefined] }]]),
        big: 2n ** 70n,
        bytes: new Uint8Array([0, 255, 7]),
        gone: undefined,
        zero: -0,
        nested: { $t: 'looks like a tag', text: 'ok' },
      }
      await store.put(['v'], 'all', value)
      const read = (await store.get(['v'], 'all')) as Item
      expect(ordered(read.value)).toStrictEqual(ordered(value))
      expect(Object.is(read.value.zero, -0)).toBe(true)
      expect(ordered((await store.search(['v']))[0]?.value)).toStrictEqual(ordered(value))
    })

    test('search returns items by namespace label by label, then key, comparing code points; a prefix takes a namespace and its children', async () => {
      const store = createStore(await create())
      for (const [namespace, key] of ORDER_CASES) await store.put(namespace, key, { at: `${namespace.join('/')}:${key}` })
      const all = ['A / k', 'a /  ', 'a / z', 'a / é', 'a / \uFFFD', 'a / 😀', 'a / b / k', 'a / é / k', 'a-b / k', 'ab / k', 'b / k']
      expect(where(await store.search([], { limit: 100 }))).toEqual(all)
      expect([...ORDER_CASES].map(([namespace, key]) => ({ namespace, key })).sort(itemOrder).map((i) => [...i.namespace, i.key].join(' / '))).toEqual(all)
      expect(where(await store.search(['a'], { limit: 100 }))).toEqual(all.slice(1, 8))
      expect(where(await store.search(['a', 'é']))).toEqual(['a / é / k'])
      expect(where(await store.search(['a', 'b', 'k']))).toEqual([])
      expect(where(await store.search(['c']))).toEqual([])
      // The default limit is 10, as in LangGraph.
      expect(where(await store.search([]))).toEqual(all.slice(0, 10))
      expect(where(await store.search([], { offset: 3, limit: 4 }))).toEqual(all.slice(3, 7))
      expect(where(await store.search([], { offset: 10, limit: 4 }))).toEqual(all.slice(10))
      expect(await store.search([], { limit: 0 })).toEqual([])
      const item = (await store.search(['b']))[0] as Item
      expect(item).toEqual(await store.get(['b'], 'k'))
    })

    test('search filters on top-level value fields with equality and every LangGraph operator, before offset and limit', async () => {
      const store = createStore(await create())
      const values: Record<string, Record<string, unknown>> = {
        k1: { n: 1, s: 'x', ok: true, at: new Date(1000) },
        k2: { n: 2, s: 'y', ok: false },
        k3: { n: 3, s: 'x', nil: null, at: new Date(3000) },
        k4: { n: '4', s: 'z', big: 5n },
        k5: { s: 'x', nested: { n: 1 } },
      }
      for (const [key, value] of Object.entries(values)) await store.put(['f'], key, value)
      await store.put(['f', 'child'], 'k6', { n: 6, s: 'x' })
      await store.put(['g'], 'k7', { n: 1, s: 'x' })
      const keys = async (filter: object, more: { limit?: number; offset?: number } = {}) => (await store.search(['f'], { filter, ...more } as never)).map((i) => i.key)
      expect(await keys({ s: 'x' })).toEqual(['k1', 'k3', 'k5', 'k6'])
      expect(await keys({ s: 'x', n: 1 })).toEqual(['k1'])
      expect(await keys({ n: 4 })).toEqual([])
      expect(await keys({ n: '4' })).toEqual(['k4'])
      expect(await keys({ nil: null })).toEqual(['k3'])
      expect(await keys({ nil: undefined })).toEqual(['k1', 'k2', 'k4', 'k5', 'k6'])
      expect(await keys({ big: 5n })).toEqual(['k4'])
      expect(await keys({ n: { $eq: 2 } })).toEqual(['k2'])
      expect(await keys({ s: { $ne: 'x' } })).toEqual(['k2', 'k4'])
      expect(await keys({ n: { $gt: 2 } })).toEqual(['k3', 'k4', 'k6'])
      expect(await keys({ n: { $gte: 2, $lt: 4 } })).toEqual(['k2', 'k3'])
      expect(await keys({ n: { $lte: 1 } })).toEqual(['k1'])
      expect(await keys({ at: { $gt: new Date(2000) } })).toEqual(['k3'])
      expect(await keys({ s: { $in: ['y', 'z'] } })).toEqual(['k2', 'k4'])
      expect(await keys({ s: { $nin: ['x'] }, ok: { $in: [false, undefined] } })).toEqual(['k2', 'k4'])
      expect(await keys({ s: 'x' }, { offset: 1, limit: 2 })).toEqual(['k3', 'k5'])
      expect(await keys({ s: 'x' }, { offset: 4 })).toEqual([])
      expect(await keys({})).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6'])
    })

    test('search refuses a semantic query, unknown operators and filters that could never match with INVALID_ARGUMENT', async () => {
      const store = createStore(await create())
      await store.put(['f'], 'k', { n: 1, nested: { n: 1 } })
      const refused = [
        { query: 'what does the user like?' },
        { filter: { n: { $regex: '1' } } },
        { filter: { n: { $gt: 0, other: 1 } } },
        { filter: { nested: { n: 1 } } },
        { filter: { nested: {} } },
        { filter: { n: [1] } },
        { filter: { n: { $in: 1 } } },
        { filter: { n: { $eq: { n: 1 } } } },
        { filter: 'n = 1' },
        { limit: -1 },
        { limit: 1.5 },
        { offset: Number.NaN },
      ]
      for (const bad of refused) {
        const err = await rejectsWith(store.search(['f'], bad as never), 'INVALID_ARGUMENT')
        expect(err.message).toMatch(/^store\.search: /)
      }
    })

    test('listNamespaces lists namespaces holding items, in order, with prefix, suffix, * wildcards, maxDepth, limit and offset', async () => {
      const store = createStore(await create())
      for (const ns of [['b', 'c'], ['a', 'x', 'c'], ['a'], ['a', 'b', 'c'], ['a', 'b'], ['d']]) await store.put(ns, 'k', { ns })
      await store.put(['a', 'b'], 'k2', {})
      await store.delete(['d'], 'k')
      const cases: [Parameters<Store['listNamespaces']>[0], string[][]][] = [
        [undefined, [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'x', 'c'], ['b', 'c']]],
        [{ prefix: ['a'] }, [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'x', 'c']]],
        [{ prefix: ['a', '*'] }, [['a', 'b'], ['a', 'b', 'c'], ['a', 'x', 'c']]],
        [{ prefix: ['*', 'b'] }, [['a', 'b'], ['a', 'b', 'c']]],
        [{ suffix: ['c'] }, [['a', 'b', 'c'], ['a', 'x', 'c'], ['b', 'c']]],
        [{ suffix: ['*', 'c'] }, [['a', 'b', 'c'], ['a', 'x', 'c'], ['b', 'c']]],
        [{ prefix: ['a'], suffix: ['c'] }, [['a', 'b', 'c'], ['a', 'x', 'c']]],
        [{ maxDepth: 1 }, [['a'], ['b']]],
        [{ maxDepth: 2 }, [['a'], ['a', 'b'], ['a', 'x'], ['b', 'c']]],
        [{ maxDepth: 2, suffix: ['c'] }, [['a', 'b'], ['a', 'x'], ['b', 'c']]],
        [{ limit: 2, offset: 1 }, [['a', 'b'], ['a', 'b', 'c']]],
        [{ offset: 5 }, []],
        [{ limit: 0 }, []],
        [{ prefix: ['zz'] }, []],
        [{ prefix: ['d'] }, []],
      ]
      for (const [query, expected] of cases) expect({ query, got: await store.listNamespaces(query) }).toEqual({ query, got: expected })
      for (const bad of [{ maxDepth: 0 }, { limit: -1 }, { prefix: ['a.b'] }, { suffix: 'c' }]) await rejectsWith(store.listNamespaces(bad as never), 'INVALID_ARGUMENT')
    })

    test('namespaces and keys outside ASCII round-trip, and every stored key is printable ASCII', async () => {
      const adapter = await create()
      const store = createStore(adapter)
      const cases: [string[], string][] = [
        [['ユーザー', 'été'], 'clé ✓'],
        [['😀', 'a b', 'x/y', '$!%~'], '\u0000\u007f'],
        [['\uFEFFbom'], ''],
        [['tab\there'], 'key:with.dots/and~tilde'],
      ]
      for (const [namespace, key] of cases) await store.put(namespace, key, { namespace, key })
      for (const [namespace, key] of cases) expect(await store.get(namespace, key)).toMatchObject({ namespace, key, value: { namespace, key } })
      expect((await store.search([], { limit: 10 })).map((i) => [i.namespace, i.key])).toEqual([...cases].map(([namespace, key]) => ({ namespace, key })).sort(itemOrder).map((i) => [i.namespace, i.key]))
      expect(await store.listNamespaces()).toEqual(cases.map(([ns]) => ns).sort(namespaceOrder))
      expect(await store.listNamespaces({ prefix: ['😀', 'a b'] })).toEqual([['😀', 'a b', 'x/y', '$!%~']])
      const keys = await keysOf(adapter, store.thread)
      expect(keys.length).toBe(cases.length)
      for (const key of keys) expect({ key, printable: PRINTABLE.test(key) }).toEqual({ key, printable: true })
    })

    test("a value above the adapter's maxValueBytes is stored in chunks, read back whole, and its chunks go when it is replaced or deleted", async () => {
      const adapter = await createSmall()
      const store = createStore(adapter)
      const max = adapter.limits.maxValueBytes
      const big = (seed: number) => ({ text: `${seed}:${'aé€𝄞'.repeat(Math.ceil(max / 4))}`, bytes: noise(max, seed), seed })
      await store.put(['docs'], 'big', big(1))
      await store.put(['docs'], 'small', { n: 1 })
      const stored = await dump(adapter, store.thread)
      expect(stored.length).toBeGreaterThan(3)
      for await (const [key, value] of adapter.scan(store.thread)) expect({ key, fits: value.length <= max }).toEqual({ key, fits: true })
      expect(ordered((await store.get(['docs'], 'big'))?.value)).toStrictEqual(ordered(big(1)))
      expect((await store.search(['docs'])).map((i) => i.key)).toEqual(['big', 'small'])
      expect((await store.search(['docs'], { filter: { seed: 1 } })).map((i) => ordered(i.value))).toEqual([ordered(big(1))])
      expect(await store.listNamespaces()).toEqual([['docs']])

      await store.put(['docs'], 'big', big(2))
      expect(ordered((await store.get(['docs'], 'big'))?.value)).toStrictEqual(ordered(big(2)))
      expect((await keysOf(adapter, store.thread)).length).toBe(stored.length)
      await store.put(['docs'], 'big', { seed: 3 })
      expect(await keysOf(adapter, store.thread)).toEqual(['i/docs!big', 'i/docs!small'])
      await store.put(['docs'], 'big', big(4))
      await store.delete(['docs'], 'big')
      expect(await keysOf(adapter, store.thread)).toEqual(['i/docs!small'])
    })

    test("a read that finds a big item's chunks replaced under it reads the item again", async () => {
      const adapter = await createSmall()
      const max = adapter.limits.maxValueBytes
      const big = (seed: number) => ({ text: String(seed).repeat(3 * max) })
      const writer = createStore(adapter)
      await writer.put(['docs'], 'big', big(1))
      let slipped = false
      const reader = createStore(
        intercept(adapter, async (method, keys) => {
          if (method === 'get' && !slipped && (keys as string[])[0]?.startsWith('x/')) {
            slipped = true
            await writer.put(['docs'], 'big', big(2))
          }
        }),
      )
      expect((await reader.get(['docs'], 'big'))?.value).toEqual(big(2))
      expect(slipped).toBe(true)
    })

    test('an unserializable value is refused with UNSERIALIZABLE naming where it is, before anything is written, in a batch too', async () => {
      const adapter = await create()
      const store = createStore(adapter)
      await store.put(['a'], 'kept', { n: 1 })
      const before = await dump(adapter, store.thread)
      const err = await rejectsWith(store.put(['a'], 'bad', { ok: 1, nested: { fn: () => 1 } }), 'UNSERIALIZABLE')
      expect(err.message).toContain('nested.fn')
      expect(err.message).toContain('["a"]')
      await rejectsWith(store.put(['a'], 'kept', { when: new (class Custom {})() }), 'UNSERIALIZABLE')
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      await rejectsWith(store.put(['a'], 'kept', cyclic), 'UNSERIALIZABLE')
      await rejectsWith(
        store.batch([
          { namespace: ['a'], key: 'first', value: { fine: true } },
          { namespace: ['a'], key: 'kept', value: null },
          { namespace: ['a'], key: 'bad', value: { s: Symbol('no') } },
        ]),
        'UNSERIALIZABLE',
      )
      expect(await dump(adapter, store.thread)).toEqual(before)
    })

    test('invalid namespaces, keys, values and options are refused with INVALID_ARGUMENT, as LangGraph refuses them, writing nothing', async () => {
      const adapter = await create()
      const store = createStore(adapter)
      const badNamespaces: unknown[] = [[], ['a.b'], ['a:b'], ['a', ''], ['\u0000'], ['\uD800'], 'a', [1], ['langgraph']]
      for (const ns of badNamespaces) await rejectsWith(store.put(ns as string[], 'k', {}), 'INVALID_ARGUMENT')
      for (const ns of badNamespaces.slice(0, -1)) await rejectsWith(store.get(ns as string[], 'k'), 'INVALID_ARGUMENT')
      await rejectsWith(store.put(['a'], 'lone \uDC00', {}), 'INVALID_ARGUMENT')
      await rejectsWith(store.put(['a'], 7 as never, {}), 'INVALID_ARGUMENT')
      await rejectsWith(store.put(['a'], 'x'.repeat(1000), {}), 'INVALID_ARGUMENT')
      for (const value of [[1], 'text', 5, new Map(), new Date()]) await rejectsWith(store.put(['a'], 'k', value as never), 'INVALID_ARGUMENT')
      await rejectsWith(store.put(['a'], 'k', {}, ['text'] as never), 'INVALID_ARGUMENT')
      await rejectsWith(store.search(['a.b']), 'INVALID_ARGUMENT')
      await rejectsWith(store.batch([{ nothing: true } as never]), 'INVALID_ARGUMENT')
      expect(() => createStore(adapter, { name: 'a b' })).toThrow(/name/)
      expect(() => createStore(adapter, { name: '../x' })).toThrow(/name/)
      expect(() => createStore({} as never)).toThrow(/storage adapter/)
      expect(await keysOf(adapter, store.thread)).toEqual([])
      // LangGraph reserves the root label "langgraph" for writes only.
      expect(await store.get(['langgraph'], 'k')).toBeNull()
    })

    test('a store and graphs on one adapter do not see each other, and stores of different names are separate', async () => {
      const adapter = await create()
      const graph = new StateGraph({ count: { default: () => 0 } })
        .addNode('inc', (s) => ({ count: s.count + 1 }))
        .addEdge(START, 'inc')
        .addEdge('inc', END)
        .compile({ checkpointer: adapter })
      const store = createStore(adapter)
      const other = createStore(adapter, { name: 'team/b' })
      await graph.invoke({ count: 0 }, { threadId: 'chat' })
      await store.put(['mem'], 'k', { n: 1 })
      await other.put(['mem'], 'k', { n: 2 })
      await graph.invoke({ count: 5 }, { threadId: 'chat' })

      expect(store.thread).toBe('.store/default')
      expect(other.thread).toBe('.store/team/b')
      expect((await store.search([])).map((i) => i.value)).toEqual([{ n: 1 }])
      expect((await other.search([])).map((i) => i.value)).toEqual([{ n: 2 }])
      expect(await store.listNamespaces()).toEqual([['mem']])
      expect((await graph.getState({ threadId: 'chat' })).values).toEqual({ count: 6 })
      expect((await collect(graph.getStateHistory({ threadId: 'chat' }))).length).toBeGreaterThan(2)
      for (const key of await keysOf(adapter, 'chat')) expect(key).toMatch(/^(h$|[cwpk]\/)/)
      for (const thread of [store.thread, other.thread]) for (const key of await keysOf(adapter, thread)) expect(key).toMatch(/^[ix]\//)
      expect((await collect(adapter.threads())).map((t) => t.thread).sort()).toEqual(['.store/default', '.store/team/b', 'chat'])

      await graph.deleteThread('chat')
      expect(await store.get(['mem'], 'k')).toMatchObject({ value: { n: 1 } })
      await adapter.deleteThread(store.thread)
      expect(await store.get(['mem'], 'k')).toBeNull()
      expect(await other.get(['mem'], 'k')).toMatchObject({ value: { n: 2 } })
    })

    test('writers of different items never conflict: concurrent puts from two stores on one adapter all land', async () => {
      const adapter = await create()
      const [a, b] = [createStore(adapter), createStore(adapter)]
      const keys = Array.from({ length: 12 }, (_, i) => `k${String(i).padStart(2, '0')}`)
      await Promise.all(keys.map((key, i) => (i % 2 === 0 ? a : b).put(['shared'], key, { i })))
      expect((await a.search(['shared'], { limit: 100 })).map((item) => [item.key, item.value.i])).toEqual(keys.map((key, i) => [key, i]))
    })

    test('concurrent puts of one big item all succeed and leave exactly one whole version, with no stray chunks', async () => {
      const adapter = await createSmall()
      const max = adapter.limits.maxValueBytes
      const stores = [createStore(adapter), createStore(adapter), createStore(adapter)]
      const value = (i: number) => ({ i, text: String(i).repeat(2 * max + i) })
      await Promise.all(stores.flatMap((store, s) => [0, 1].map((j) => store.put(['doc'], 'one', value(s * 2 + j)))))
      const item = (await stores[0]?.get(['doc'], 'one')) as Item<{ i: number; text: string }>
      expect(item.value).toEqual(value(item.value.i))
      const keys = await keysOf(adapter, stores[0]?.thread as string)
      expect(keys.length).toBe(1 + Math.ceil(JSON.stringify(value(item.value.i)).length / max))
    })

    test('a put that loses a race on its item reads it again and retries: it lands, keeping the createdAt of the write it lost to', async () => {
      const adapter = await create()
      const rival = createStore(adapter)
      let slipped: Item | null = null
      const store = createStore(
        intercept(adapter, async (method) => {
          if (method === 'commit' && slipped === null) {
            await rival.put(['race'], 'k', { by: 'rival' })
            slipped = await rival.get(['race'], 'k')
          }
        }),
      )
      await store.put(['race'], 'k', { by: 'store' })
      const item = (await rival.get(['race'], 'k')) as Item
      expect(item.value).toEqual({ by: 'store' })
      expect(item.createdAt).toEqual((slipped as Item | null)?.createdAt)
    })

    test('batch: reads see the store as before its writes, which then apply in order, the last write of an item winning', async () => {
      const store = createStore(await create())
      await store.put(['b'], 'old', { v: 0 })
      const results = await store.batch([
        { namespace: ['b'], key: 'new', value: { v: 1 } },
        { namespace: ['b'], key: 'new' },
        { namespace: ['b'], key: 'old', value: null },
        { namespacePrefix: ['b'], limit: 10, offset: 0 },
        { namespace: ['b'], key: 'new', value: { v: 2 } },
        { matchConditions: [{ matchType: 'prefix', path: ['b'] }], limit: 10, offset: 0 },
        { namespace: ['b'], key: 'old' },
      ] as const)
      expect(results[0]).toBeUndefined()
      expect(results[1]).toBeNull()
      expect(where(results[3])).toEqual(['b / old'])
      expect(results[5]).toEqual([['b']])
      expect(results[6]?.value).toEqual({ v: 0 })
      expect(await store.get(['b'], 'old')).toBeNull()
      expect((await store.get(['b'], 'new'))?.value).toEqual({ v: 2 })
    })

    test('a corrupt item fails with CORRUPT_RECORD naming it, other items stay readable, and a put replaces it', async () => {
      const adapter = await create()
      const store = createStore(adapter)
      await store.put(['c'], 'bad', { n: 1 })
      await store.put(['c'], 'good', { n: 2 })
      await corrupt(adapter, store.thread, 'i/c!bad', new TextEncoder().encode('{"c":1,"u":'))
      const err = await rejectsWith(store.get(['c'], 'bad'), 'CORRUPT_RECORD')
      expect(err.message).toContain('i/c!bad')
      expect(err.context.threadId).toBe(store.thread)
      await rejectsWith(store.search(['c']), 'CORRUPT_RECORD')
      expect((await store.get(['c'], 'good'))?.value).toEqual({ n: 2 })
      await store.put(['c'], 'bad', { n: 3 })
      expect((await store.search(['c'])).map((i) => i.value)).toEqual([{ n: 3 }, { n: 2 }])
    })
  })
}
