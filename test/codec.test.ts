/** The delta codec and serde: property-based round trips, size behaviour, and what is rejected. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyDelta, deepEqual, diff } from '../src/checkpoint/delta.js'
import { decodeValue, encodeValue } from '../src/checkpoint/serde.js'
import { END, START, StateGraph, isEdgegraphError, registerClass } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, rejectsWith, storedBytes, storedText } from './helpers.js'

const where = () => ({ channel: 'ch', path: [] as (string | number)[] })
/** Encode to JSON text and back, as storage does. */
const roundTrip = (v: unknown) => decodeValue(JSON.parse(JSON.stringify(encodeValue(v, where()))))

// Values the serde promises to round-trip.
const leaf = fc.oneof(
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date(),
  fc.uint8Array({ maxLength: 8 }),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.oneof(fc.string(), fc.constant('$t'), fc.constant('__proto__')), tie('value'), { maxKeys: 5 }),
  map: fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 3 }).map((e) => new Map(e)),
  set: fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }).map((e) => new Set(e)),
}))

describe('serde', () => {
  it('round-trips JSON plus Date, Map, Set, BigInt, Uint8Array, undefined, NaN and -0', () => {
    fc.assert(fc.property(value, (v) => deepEqual(roundTrip(v), v)), { numRuns: 500 })
    const sample = { d: new Date(5), m: new Map([[1, { u: undefined }]]), s: new Set(['a']), b: 10n ** 30n, y: new Uint8Array([0, 255]), n: Number.NaN, z: -0, inf: -Infinity, $t: 'tag-like key' }
    const back = roundTrip(sample) as typeof sample
    expect(back).toEqual(sample)
    expect(Object.hasOwn(back.m.get(1) as object, 'u')).toBe(true)
    expect(Object.is(back.z, -0)).toBe(true)
  })

  it.each([
    ['a function', { tools: [{ run: () => 1 }] }, 'ch.tools[0].run'],
    ['a class instance', { at: { when: new (class Clock {})() } }, 'ch.at.when'],
    ['a Map key that is a function', { m: new Map([[() => 1, 'v']]) }, 'ch.m["<map entry 0>"][0]'],
    ['a Set item that is a symbol', { s: new Set([1, Symbol('x')]) }, 'ch.s["<set item 1>"]'],
    ['a symbol', { kind: Symbol('x') }, 'ch.kind'],
    ['a cycle', (() => { const o: Record<string, unknown> = { a: {} }; (o.a as Record<string, unknown>).back = o; return o })(), 'ch.a.back'],
    ['symbol keys', { nested: { [Symbol('k')]: 1 } }, 'ch.nested'],
    ['a typed array other than Uint8Array', { buf: new Float32Array(2) }, 'ch.buf'],
  ])('rejects %s, naming channel and path', (_what, bad, path) => {
    try {
      encodeValue(bad, where())
      throw new Error('accepted')
    } catch (err) {
      expect(isEdgegraphError(err, 'UNSERIALIZABLE')).toBe(true)
      expect((err as Error).message).toContain(path)
      expect((err as Error).message).toContain('"ch"')
    }
  })

  it('keeps the insertion order of Map entries and Set items, whatever order their keys sort in', () => {
    // deepEqual compares Maps and Sets in order; toEqual would not.
    const entries = fc.uniqueArray(fc.tuple(fc.oneof(fc.string({ maxLength: 3 }), fc.integer()), value), { selector: ([k]) => k, maxLength: 8 })
    fc.assert(
      fc.property(entries, (e) => {
        const map = new Map(e)
        const set = new Set(e.map(([k]) => k))
        const back = roundTrip({ map, set }) as { map: Map<unknown, unknown>; set: Set<unknown> }
        expect([...back.map.keys()]).toEqual([...map.keys()])
        expect([...back.set]).toEqual([...set])
        expect(deepEqual(back, { map, set })).toBe(true)
      }),
      { numRuns: 300 },
    )
    const back = roundTrip(new Map<unknown, number>([['b', 1], ['a', 2], ['r10', 3], ['r9', 4], [2, 5], [10, 6]])) as Map<unknown, unknown>
    expect([...back.keys()]).toEqual(['b', 'a', 'r10', 'r9', 2, 10])
  })

  it('accepts shared references that are not cycles', () => {
    const shared = { x: 1 }
    expect(roundTrip({ a: shared, b: [shared] })).toEqual({ a: { x: 1 }, b: [{ x: 1 }] })
  })
})

describe('delta codec', () => {
  const applyStored = (prev: unknown, d: ReturnType<typeof diff>) => (d === undefined ? prev : applyDelta(prev, JSON.parse(JSON.stringify(d))))

  it('rebuilds any value from any previous one (random histories)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), (history) => {
        let stored: unknown = roundTrip(history[0])
        for (const next of history.slice(1)) {
          stored = applyStored(stored, diff(stored, next, where()))
          expect(deepEqual(stored, next)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('keeps the key order of objects: a delta lists the order when applying the changes would not rebuild it', () => {
    const keys = (v: unknown) => JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.keys(x) : x))
    const cases: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ a: 1 }, { b: 2, a: 1 }],
      [{ a: 1, b: 2 }, { b: 2, a: 1 }],
      [{ a: 1, b: 2 }, { b: 3, a: 1 }],
      [{ a: 1, b: 2, c: 3 }, { c: 3, a: 1 }],
      [{ x: { a: 1 } }, { x: { b: 2, a: 1 } }],
      [{ a: 1 }, { 1: 'n', a: 1 }],
    ]
    for (const [prev, next] of cases) {
      const back = applyStored(roundTrip(prev), diff(prev, next, where()))
      expect(keys(back)).toBe(keys(next))
      expect(deepEqual(back, next)).toBe(true)
    }
    expect(diff({ a: 1, b: 2 }, { a: 1, b: 2, c: 3 }, where())).toEqual({ o: { c: { f: 3 } } })
    expect(diff({ a: 1, b: 2, c: 3 }, { a: 1, c: 4 }, where())).toEqual({ o: { c: { f: 4 } }, r: ['b'] })
    // Out of order: the changes and the order, not the whole object (LangGraph's channel_values gain `__start__` mid-object).
    const long = 'x'.repeat(100)
    expect(diff({ m: [long], t: 1 }, { m: [long, 'y'], s: 2, t: 1 }, where())).toEqual({ o: { m: { a: ['y'] }, s: { f: 2 } }, k: ['m', 's', 't'] })
    expect(diff({ a: 1, b: 2 }, { b: 2, a: 1 }, where())).toEqual({ o: {}, k: ['b', 'a'] })
    expect(() => applyDelta({ a: 1 }, { o: {}, k: ['a', 'a'] })).toThrow(/orders keys/)
    expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false)
  })

  it('rebuilds evolving structures: appends, truncations, nested edits, removed keys', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), v: value }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('set' as const), k: fc.constantFrom('a', 'b', 'c'), v: value }),
      fc.record({ kind: fc.constant('del' as const), k: fc.constantFrom('a', 'b', 'c') }),
    )
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        let cur: { list: unknown[]; obj: Record<string, unknown> } = { list: [], obj: {} }
        let stored: unknown = roundTrip(cur)
        for (const o of ops) {
          if (o.kind === 'push') cur = { ...cur, list: [...cur.list, o.v] }
          else if (o.kind === 'pop') cur = { ...cur, list: cur.list.slice(0, -1) }
          else if (o.kind === 'set') cur = { ...cur, obj: { ...cur.obj, [o.k]: o.v } }
          else {
            const { [o.k]: _gone, ...rest } = cur.obj
            cur = { ...cur, obj: rest }
          }
          stored = applyStored(stored, diff(stored, cur, where()))
          expect(deepEqual(stored, cur)).toBe(true)
        }
      }),
      { numRuns: 200 },
    )
  })

  it('stores any number of items appended in one step as the tail, and rebuilds every one of them', () => {
    // Appends of 0 to 12 items at once, onto a kept prefix (`t`) or the whole array: chat turns add several messages.
    fc.assert(
      fc.property(fc.array(value, { maxLength: 6 }), fc.nat(6), fc.array(value, { maxLength: 12 }), (prev, cut, added) => {
        const keep = Math.min(cut, prev.length)
        const next = [...prev.slice(0, keep), ...added]
        const stored = roundTrip(prev)
        const d = diff(stored, next, where())
        if (keep === prev.length && added.length === 0) expect(d).toBeUndefined()
        // A pure append onto a non-empty array is stored as exactly the appended items.
        else if (keep === prev.length && keep > 0) expect({ t: d && 't' in d, appended: d && 'a' in d ? d.a.length : undefined }).toEqual({ t: false, appended: added.length })
        const rebuilt = applyStored(stored, d) as unknown[]
        expect(rebuilt.length).toBe(next.length)
        expect(deepEqual(rebuilt, next)).toBe(true)
      }),
      { numRuns: 500 },
    )
    const messages = Array.from({ length: 5 }, (_, i) => `m${i}`)
    for (let n = 0; n <= 10; n++) {
      const added = Array.from({ length: n }, (_, i) => `new ${i}`)
      const d = diff(messages, [...messages, ...added], where())
      expect({ n, d }).toEqual({ n, d: n === 0 ? undefined : { a: added } })
      expect(applyStored(messages, d)).toEqual([...messages, ...added])
    }
  })

  it('stores an appended array as its tail and an edited object as its changed keys', () => {
    const messages = Array.from({ length: 100 }, (_, i) => ({ role: 'user', content: `message ${i}` }))
    const grown = [...messages, { role: 'ai', content: 'new' }]
    expect(diff(messages, grown, where())).toEqual({ a: [{ role: 'ai', content: 'new' }] })
    const big = { title: 'x', body: 'y'.repeat(1000), tags: ['a'] }
    expect(diff(big, { ...big, title: 'z' }, where())).toEqual({ o: { title: { f: 'z' } } })
    expect(diff(big, { ...big }, where())).toBeUndefined()
    expect(diff(grown, grown.slice(0, 50), where())).toEqual({ a: [], t: 50 })
  })

  it('validates only what changed, so an unserializable new value is caught with its path', () => {
    const prev = { items: [1, 2] }
    try {
      diff(prev, { items: [1, 2, () => 3] }, where())
      throw new Error('accepted')
    } catch (err) {
      expect(isEdgegraphError(err, 'UNSERIALIZABLE')).toBe(true)
      expect((err as Error).message).toContain('ch.items[2]')
    }
  })
})

// ---- Registered classes ---------------------------------------------------------------------------------------

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
  norm() {
    return Math.hypot(this.x, this.y)
  }
}
/** Holds any storable value, registered classes included, so instances nest. */
class Box {
  constructor(public inside: unknown) {}
}
class Point3 extends Point {}
registerClass({ tag: 'test.Point', type: Point, encode: (p) => [p.x, p.y], decode: (v) => new Point(...(v as [number, number])) })
registerClass({ tag: 'test.Box', type: Box, encode: (b) => b.inside, decode: (v) => new Box(v) })

const { withClasses } = fc.letrec((tie) => ({
  withClasses: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('point'), tie('box'), tie('array'), tie('object'), tie('map')),
  point: fc.tuple(fc.double(), fc.integer()).map(([x, y]) => new Point(x, y)),
  box: tie('withClasses').map((v) => new Box(v)),
  array: fc.array(tie('withClasses'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(fc.string(), fc.constant('$t')), tie('withClasses'), { maxKeys: 4, noNullPrototype: true }),
  map: fc.array(fc.tuple(fc.string(), tie('withClasses')), { maxLength: 3 }).map((e) => new Map(e)),
}))
/** The stored form: equal for two values exactly when they read back the same (Map order, classes and all). */
const stored = (v: unknown) => JSON.stringify(encodeValue(v, where()))

describe('registered classes', () => {
  it('round-trip as instances of their class, nested in anything and holding anything', () => {
    fc.assert(
      fc.property(withClasses, (v) => {
        const back = roundTrip(v)
        expect(stored(back)).toBe(stored(v))
        expect(back).toStrictEqual(v)
      }),
      { numRuns: 500 },
    )
    const back = roundTrip({ at: new Point(3, 4), box: new Box([new Point(0, 1), new Map([['k', new Box(new Date(7))]])]) }) as { at: Point; box: Box }
    expect(back.at).toBeInstanceOf(Point)
    expect(back.at.norm()).toBe(5)
    expect(((back.box.inside as unknown[])[1] as Map<string, Box>).get('k')?.inside).toEqual(new Date(7))
    expect(encodeValue(new Point(1, 2), where())).toEqual({ $t: 'c:test.Point', v: [1, 2] })
  })

  it('are stored whole when they change and not at all when the same instance stays, in random histories', () => {
    fc.assert(
      fc.property(fc.array(withClasses, { minLength: 1, maxLength: 6 }), (history) => {
        let state: unknown = roundTrip(history[0])
        for (const next of history.slice(1)) {
          const d = diff(state, next, where())
          state = d === undefined ? state : applyDelta(state, JSON.parse(JSON.stringify(d)))
          expect(stored(state)).toBe(stored(next))
        }
      }),
      { numRuns: 300 },
    )
    const points = [new Point(0, 0), new Point(1, 1)]
    expect(diff(points, [...points, new Point(2, 2)], where())).toEqual({ a: [{ $t: 'c:test.Point', v: [2, 2] }] })
    expect(diff({ p: points[0] }, { p: new Point(0, 0) }, where())).toEqual({ f: { p: { $t: 'c:test.Point', v: [0, 0] } } })
  })

  it('cover the exact class only: a subclass, or any other class, is still UNSERIALIZABLE, naming registerClass', () => {
    for (const bad of [new Point3(1, 2), new (class Clock {})()]) {
      try {
        encodeValue({ at: bad }, where())
        throw new Error('accepted')
      } catch (err) {
        expect(isEdgegraphError(err, 'UNSERIALIZABLE')).toBe(true)
        expect((err as Error).message).toMatch(/holds an instance of (Point3|Clock) at ch\.at, .*classes given to registerClass\(\)/)
      }
    }
  })

  it('an unknown class tag fails decoding, naming the tag and registerClass; in a thread it is CORRUPT_RECORD', async () => {
    expect(() => decodeValue({ $t: 'c:test.Gone', v: 1 })).toThrow('unknown value tag "c:test.Gone": registerClass() its class before reading')
    // A thread written by an app that registered a class this one does not know.
    const store = createMemoryAdapter()
    const graph = new StateGraph({ points: { default: (): Point[] => [], reducer: (a: Point[], b: Point[]) => [...a, ...b] } })
      .addNode('add', (s) => ({ points: [new Point(s.points.length, 0)] }))
      .addEdge(START, 'add')
      .addEdge('add', END)
      .compile({ checkpointer: store })
    await graph.invoke({ points: [new Point(9, 9)] }, { threadId: 't' })
    expect((await graph.getState({ threadId: 't' })).values.points).toEqual([new Point(9, 9), new Point(1, 0)])
    for (const [key, value] of await collect(store.scan('t', { from: 'c/', to: 'c0' }))) {
      await store.commit('t', { put: [[key, storedBytes(storedText(value).replaceAll('c:test.Point', 'c:test.Gone'))]] })
    }
    const err = await rejectsWith(graph.getState({ threadId: 't' }), 'CORRUPT_RECORD')
    expect(err.message).toContain('unknown value tag "c:test.Gone": registerClass() its class before reading')
  })
})
