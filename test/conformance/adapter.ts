/** @module Conformance, storage level: the StorageAdapter contract checked directly, key by key and batch by batch. */
import fc from 'fast-check'
import { describe, expect } from 'vitest'
import type { ScanRange, StorageAdapter } from '../../src/index.js'
import type { ThreadInfo, ThreadsOptions } from '../../src/checkpoint/adapter.js'
import { QUOTA, clockPast, collect, dump, keysOf, needing, noise, rejectsWith, runsOf, utf8, type ConformanceOptions, type Test } from './suite.js'

/** Plain string order (UTF-16 code units), never locale order. */
const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** What a scan of `keys` over `range` must yield, computed on a sorted array. */
function scanModel(keys: readonly string[], range: ScanRange): string[] {
  let out = keys.filter((k) => (range.from === undefined || k >= range.from) && (range.to === undefined || k < range.to)).sort(byString)
  if (range.reverse === true) out.reverse()
  if (range.limit !== undefined) out = out.slice(0, range.limit)
  return out
}
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes))

async function fill(adapter: StorageAdapter, thread: string, keys: string[]): Promise<void> {
  await adapter.commit(thread, { put: keys.map((k) => [k, utf8(`${thread}:${k}`)]) })
}

/** Keys that trip up naive orderings: shared prefixes, '.' < '/' < '0', upper before lower case, '~' last. */
const TRICKY = ['c/a', 'c/a.1', 'c/a/0', 'c/b', 'c0', 'c/', 'C', '_', 'h', 'k/c/a/0000', 'k/c/a/0001', 'w/a/000', 'w/a.1/000', 'w/ab/000', '~', 'a', 'a~', 'ab']

export function adapterTests(options: ConformanceOptions, test: Test): void {
  const create = async () => options.create()
  const createWithQuota = async (bytes: number) => (options.createWithQuota as NonNullable<ConformanceOptions['createWithQuota']>)(bytes)
  const quotaTest = needing(options, test, 'createWithQuota')

  describe('storage adapter', () => {
    test('get returns the values of present keys and undefined for missing ones, in position', async () => {
      const adapter = await create()
      await fill(adapter, 't', ['a', 'c'])
      const got = await adapter.get('t', ['a', 'b', 'c', 'a', 'zz'])
      expect(got.map(text)).toEqual(['t:a', undefined, 't:c', 't:a', undefined])
      expect(got[1]).toBeUndefined()
      expect(await adapter.get('t', [])).toEqual([])
      expect(await adapter.get('never-written', ['a'])).toEqual([undefined])
    })

    test('scan yields every key of a thread in plain string order with its value', async () => {
      const adapter = await create()
      // Written in several batches and in no particular order.
      const shuffled = [...TRICKY.filter((_, i) => i % 2 === 1), ...TRICKY.filter((_, i) => i % 2 === 0).reverse()]
      await fill(adapter, 't', shuffled.slice(0, 6))
      await fill(adapter, 't', shuffled.slice(6))
      const entries = await collect(adapter.scan('t'))
      expect(entries.map(([k]) => k)).toEqual([...TRICKY].sort(byString))
      for (const [key, value] of entries) expect(text(value)).toBe(`t:${key}`)
    })

    test('scan honours from (inclusive), to (exclusive), reverse and limit', async () => {
      const adapter = await create()
      await fill(adapter, 't', TRICKY)
      const sorted = [...TRICKY].sort(byString)
      const cases: [ScanRange, string[]][] = [
        [{ from: 'c/a', to: 'c/b' }, ['c/a', 'c/a.1', 'c/a/0']],
        [{ from: 'c/a.1' }, sorted.filter((k) => k >= 'c/a.1')],
        [{ to: 'c/a.1' }, sorted.filter((k) => k < 'c/a.1')],
        [{ from: 'c/', to: 'c0' }, ['c/', 'c/a', 'c/a.1', 'c/a/0', 'c/b']],
        [{ from: 'w/a/', to: 'w/a/~' }, ['w/a/000']],
        [{ from: 'k/c/a/', to: 'k/c/a/~' }, ['k/c/a/0000', 'k/c/a/0001']],
        [{ from: 'b', to: 'c' }, []],
        [{ from: 'c/', to: 'c0', reverse: true }, ['c/b', 'c/a/0', 'c/a.1', 'c/a', 'c/']],
        [{ from: 'c/', to: 'c0', limit: 2 }, ['c/', 'c/a']],
        [{ from: 'c/', to: 'c0', reverse: true, limit: 2 }, ['c/b', 'c/a/0']],
        [{ reverse: true, limit: 3 }, sorted.slice(-3).reverse()],
        [{ to: 'c/a/0~', reverse: true, limit: 1 }, ['c/a/0']],
        [{ limit: 0 }, []],
        [{ limit: 1000 }, sorted],
      ]
      for (const [range, expected] of cases) {
        expect({ range, keys: await keysOf(adapter, 't', range) }).toEqual({ range, keys: expected })
      }
    })

    test('scan of an empty or inverted range yields nothing', async () => {
      const adapter = await create()
      await fill(adapter, 't', TRICKY)
      for (const range of [{ from: 'c/a', to: 'c/a' }, { from: 'h', to: 'c' }, { from: 'h', to: 'c', reverse: true }, { from: '~~' }, { to: ' ' }]) {
        expect({ range, keys: await keysOf(adapter, 't', range) }).toEqual({ range, keys: [] })
      }
      expect(await keysOf(adapter, 'empty-thread')).toEqual([])
    })

    test('scan over random keys and ranges matches a sorted model', async () => {
      const unit = fc.constantFrom('a', 'b', 'B', '/', '.', '0', '~', '_', ' ')
      const key = fc.string({ unit, minLength: 1, maxLength: 4 })
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(key, { maxLength: 16 }),
          fc.record({ from: fc.option(key, { nil: undefined }), to: fc.option(key, { nil: undefined }), reverse: fc.boolean(), limit: fc.option(fc.nat(6), { nil: undefined }) }),
          async (keys, r) => {
            const adapter = await create()
            if (keys.length > 0) await fill(adapter, 't', keys)
            const range: ScanRange = { reverse: r.reverse }
            if (r.from !== undefined) range.from = r.from
            if (r.to !== undefined) range.to = r.to
            if (r.limit !== undefined) range.limit = r.limit
            expect(await keysOf(adapter, 't', range)).toEqual(scanModel(keys, range))
          },
        ),
        { numRuns: runsOf(options, 60) },
      )
    })

    test('scan pages through more keys than any adapter reads at once: each key exactly once, in order, within bounds and limit', async () => {
      const adapter = await create()
      // 600 keys in one commit: more than two pages of the largest page an adapter reads (256: remote, IndexedDB,
      // Dexie) and many of the smallest (32: D1). A scan that resumes a page at its last key repeats that key;
      // one that resumes a key too far skips one.
      const key = (i: number) => `c/${String(i).padStart(4, '0')}`
      const keys = Array.from({ length: 600 }, (_, i) => key(i))
      // Neighbours just outside 'c/'..'c0', which bounded scans must not reach.
      const all = [...keys, 'c.', 'c0', 'b', 'd']
      await fill(adapter, 't', all)
      const ranges: ScanRange[] = [
        {},
        { reverse: true },
        { from: 'c/', to: 'c0' },
        { from: 'c/', to: 'c0', reverse: true },
        // Limits at, just above and between page sizes.
        ...[32, 33, 64, 65, 256, 257, 300, 512, 513].flatMap((limit) => [{ limit }, { limit, reverse: true }]),
        // Bounds in the middle of a page, on keys and between keys.
        { from: key(100), to: key(500) },
        { from: key(100), to: key(500), reverse: true },
        { from: `${key(100)}x`, to: `${key(500)}x` },
        { from: `${key(100)}x`, to: `${key(500)}x`, reverse: true },
        // Exactly one and two pages of 256 (and whole pages of 32 and 64) between the bounds.
        { from: key(37), to: key(37 + 256) },
        { from: key(37), to: key(37 + 256), reverse: true },
        { from: key(37), to: key(37 + 512), limit: 512 },
        { from: key(37), to: key(37 + 512), limit: 512, reverse: true },
        { from: key(5), to: key(590), limit: 257 },
        { from: key(10), to: key(590), limit: 257, reverse: true },
        { from: key(1), limit: 300 },
        { to: key(450), limit: 300, reverse: true },
        { from: key(599) },
        { to: key(1), reverse: true },
      ]
      for (const range of ranges) {
        const entries = await collect(adapter.scan('t', range))
        const wrongValues = entries.filter(([k, v]) => text(v) !== `t:${k}`).map(([k]) => k)
        expect({ range, keys: entries.map(([k]) => k), wrongValues }).toEqual({ range, keys: scanModel(all, range), wrongValues: [] })
      }
    })

    test('each thread sees only its own keys, even threads whose names share a prefix', async () => {
      const adapter = await create()
      const threads = ['t', 't2', 't/x', 'T', 'tt']
      for (const thread of threads) await fill(adapter, thread, ['c/a', 'h', `only-${thread}`])
      for (const thread of threads) {
        expect(await keysOf(adapter, thread)).toEqual(['c/a', 'h', `only-${thread}`])
        expect((await adapter.get(thread, ['h', ...threads.map((t) => `only-${t}`)])).map(text)).toEqual([`${thread}:h`, ...threads.map((t) => (t === thread ? `${thread}:only-${t}` : undefined))])
        expect(await keysOf(adapter, thread, { from: 'c/', to: 'c0' })).toEqual(['c/a'])
      }
    })

    test('commit applies puts and deletes of one batch together', async () => {
      const adapter = await create()
      await fill(adapter, 't', ['a', 'b'])
      await adapter.commit('t', { put: [['c', utf8('C')], ['b', utf8('B2')]], del: ['a', 'not-there'] })
      expect(await keysOf(adapter, 't')).toEqual(['b', 'c'])
      expect((await adapter.get('t', ['a', 'b', 'c'])).map(text)).toEqual([undefined, 'B2', 'C'])
      await adapter.commit('t', { del: ['b'] })
      expect(await keysOf(adapter, 't')).toEqual(['c'])
    })

    test('a batch with a value above maxValueBytes fails with VALUE_TOO_LARGE and writes nothing', async () => {
      const adapter = await create()
      await fill(adapter, 't', ['keep', 'x'])
      const before = await dump(adapter, 't')
      const threadsBefore = await collect(adapter.threads())
      const big = new Uint8Array(adapter.limits.maxValueBytes + 1).fill(7)
      const batch = { put: [['a', utf8('A')], ['b', big], ['c', utf8('C')], ['keep', utf8('changed')]] as [string, Uint8Array][], del: ['x'] }
      const err = await rejectsWith(adapter.commit('t', batch, { key: 'h', expect: undefined }), 'VALUE_TOO_LARGE')
      expect(err.message).toContain(adapter.name)
      expect(await dump(adapter, 't')).toEqual(before)
      // Also on a thread that did not exist yet: no keys, and not listed.
      await rejectsWith(adapter.commit('new', batch), 'VALUE_TOO_LARGE')
      expect(await keysOf(adapter, 'new')).toEqual([])
      expect(await collect(adapter.threads())).toEqual(threadsBefore)
    })

    test('a batch with a value that is not bytes is rejected and writes nothing', async () => {
      const adapter = await create()
      await fill(adapter, 't', ['keep', 'x'])
      const before = await dump(adapter, 't')
      const batch = { put: [['a', utf8('A')], ['b', 'not bytes' as unknown as Uint8Array], ['c', utf8('C')]] as [string, Uint8Array][], del: ['x'] }
      await rejectsWith(adapter.commit('t', batch), ['INVALID_ARGUMENT', 'STORAGE_FAILED'])
      expect(await dump(adapter, 't')).toEqual(before)
    })

    quotaTest('a commit refused with QUOTA_EXCEEDED changes nothing: none of its puts or deletes, on any thread', async () => {
      const adapter = await createWithQuota(QUOTA)
      // 40 KiB elsewhere leaves the thread below about 24 KiB; the 32 KiB commit cannot fit until it is freed.
      await adapter.commit('other', { put: [['filler', noise(40 * 1024)]] })
      await fill(adapter, 't', ['a', 'b', 'c', 'd', 'h'])
      const state = async () => ({ t: await dump(adapter, 't'), other: await dump(adapter, 'other'), fresh: await keysOf(adapter, 'fresh'), threads: await collect(adapter.threads()) })
      const before = await state()
      // New keys and overwrites on both sides of the big one, and deletes: a partly applied batch shows in the dump.
      const bigValue = noise(32 * 1024, 7)
      const batch = {
        put: [['a', utf8('A2')], ['new1', utf8('N1')], ['big', bigValue], ['c', utf8('C2')], ['new2', utf8('N2')]] as [string, Uint8Array][],
        del: ['b', 'd'],
      }
      const guard = { key: 'h', expect: utf8('t:h') }
      const err = await rejectsWith(adapter.commit('t', batch, guard), 'QUOTA_EXCEEDED')
      expect(err.message).toContain(adapter.name)
      expect(await state()).toEqual(before)
      await rejectsWith(adapter.commit('t', batch), 'QUOTA_EXCEEDED')
      expect(await state()).toEqual(before)
      // A thread that did not exist yet stays absent, and unlisted.
      await rejectsWith(adapter.commit('fresh', batch), 'QUOTA_EXCEEDED')
      expect(await state()).toEqual(before)

      // Once space is freed the same commit goes through, whole.
      await adapter.deleteThread('other')
      await adapter.commit('t', batch, guard)
      expect(await keysOf(adapter, 't')).toEqual(['a', 'big', 'c', 'h', 'new1', 'new2'])
      const got = await adapter.get('t', ['a', 'b', 'c', 'd', 'new1', 'new2'])
      expect(got.map(text)).toEqual(['A2', undefined, 'C2', undefined, 'N1', 'N2'])
      const [big] = await adapter.get('t', ['big'])
      expect(big?.length === bigValue.length && big.every((b, i) => b === bigValue[i])).toBe(true)
    })

    test('a value of exactly maxValueBytes is stored; one byte more is VALUE_TOO_LARGE', async () => {
      const adapter = await create()
      const max = adapter.limits.maxValueBytes
      expect(Number.isInteger(max) && max > 0).toBe(true)
      const value = new Uint8Array(max).map((_, i) => i % 251)
      await adapter.commit('t', { put: [['max', value]] })
      const [stored] = await adapter.get('t', ['max'])
      expect(stored?.length).toBe(max)
      // A byte loop: deep equality on megabytes is slow.
      expect(stored?.every((b, i) => b === value[i])).toBe(true)
      await rejectsWith(adapter.commit('t', { put: [['over', new Uint8Array(max + 1)]] }), 'VALUE_TOO_LARGE')
      expect(await keysOf(adapter, 't')).toEqual(['max'])
    })

    test('a guarded commit succeeds when the guard matches, including a guard on an absent key', async () => {
      const adapter = await create()
      await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] }, { key: 'h', expect: undefined })
      await adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]] }, { key: 'h', expect: utf8('1') })
      // The guard key need not be written by the batch.
      await adapter.commit('t', { put: [['c/3', utf8('three')]] }, { key: 'h', expect: utf8('2') })
      await adapter.commit('t', { put: [['c/4', utf8('four')]] }, { key: 'absent', expect: undefined })
      expect((await adapter.get('t', ['h', 'c/1', 'c/2', 'c/3', 'c/4'])).map(text)).toEqual(['2', 'one', 'two', 'three', 'four'])
    })

    test('a commit whose guard does not match fails with CONFLICT, writes nothing and loses nothing', async () => {
      const adapter = await create()
      await adapter.commit('t', { put: [['h', utf8('abc')], ['c/1', utf8('one')]] })
      const before = await dump(adapter, 't')
      const threadsBefore = await collect(adapter.threads())
      const stale: [string, Uint8Array | undefined][] = [
        ['h', undefined], // expects absent, but present
        ['h', utf8('abd')], // same length, one byte differs
        ['h', utf8('ab')], // a prefix
        ['h', utf8('abcd')], // longer
        ['h', new Uint8Array(0)], // empty is not absent
        ['missing', utf8('abc')], // expects present, but absent
      ]
      for (const [key, expectBytes] of stale) {
        const err = await rejectsWith(adapter.commit('t', { put: [['h', utf8('new')], ['c/2', utf8('two')]], del: ['c/1'] }, { key, expect: expectBytes }), 'CONFLICT')
        expect(err.message).toContain(adapter.name)
        expect(await dump(adapter, 't')).toEqual(before)
      }
      expect(await collect(adapter.threads())).toEqual(threadsBefore)
    })

    test('of two concurrent commits guarded on the same head, exactly one wins', async () => {
      const adapter = await create()
      await adapter.commit('t', { put: [['h', utf8('0')]] })
      for (let round = 1; round <= 20; round++) {
        const head = utf8(String(round - 1))
        const attempt = (who: string) => adapter.commit('t', { put: [['h', utf8(String(round))], [`by/${round}/${who}`, utf8(who)]] }, { key: 'h', expect: head })
        const results = await Promise.allSettled([attempt('x'), attempt('y')])
        const won = results.map((r) => r.status === 'fulfilled')
        expect(won.filter(Boolean)).toHaveLength(1)
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
        await rejectsWith(Promise.reject(lost.reason), 'CONFLICT')
        expect(await keysOf(adapter, 't', { from: `by/${round}/`, to: `by/${round}/~` })).toEqual([`by/${round}/${won[0] ? 'x' : 'y'}`])
        expect(text((await adapter.get('t', ['h']))[0])).toBe(String(round))
      }
    })

    test('stored bytes are copies: mutating the committed array or a returned one changes nothing', async () => {
      const adapter = await create()
      const input = utf8('original')
      await adapter.commit('t', { put: [['k', input]] })
      input.fill(0)
      expect(text((await adapter.get('t', ['k']))[0])).toBe('original')
      const [got] = await adapter.get('t', ['k'])
      got?.fill(0)
      expect(text((await adapter.get('t', ['k']))[0])).toBe('original')
      for await (const [, value] of adapter.scan('t')) value.fill(0)
      expect(text((await adapter.get('t', ['k']))[0])).toBe('original')
    })

    test('a value that is a view into a larger buffer stores exactly its own bytes', async () => {
      const adapter = await create()
      // The history layer hands over chunks as subarrays of one encoded record.
      const buffer = utf8('0123456789')
      await adapter.commit('t', { put: [['mid', buffer.subarray(3, 7)], ['end', buffer.subarray(8)]] })
      expect((await adapter.get('t', ['mid', 'end'])).map(text)).toEqual(['3456', '89'])
      expect((await collect(adapter.scan('t'))).map(([k, v]) => [k, text(v)])).toEqual([['end', '89'], ['mid', '3456']])
    })

    test('an empty value is stored and is not the same as an absent key', async () => {
      const adapter = await create()
      await adapter.commit('t', { put: [['empty', new Uint8Array(0)]] })
      const [got] = await adapter.get('t', ['empty'])
      expect(got).toBeInstanceOf(Uint8Array)
      expect(got?.length).toBe(0)
      expect(await keysOf(adapter, 't')).toEqual(['empty'])
      await adapter.commit('t', { put: [['x', utf8('x')]] }, { key: 'empty', expect: new Uint8Array(0) })
      await rejectsWith(adapter.commit('t', { put: [['y', utf8('y')]] }, { key: 'empty', expect: undefined }), 'CONFLICT')
    })

    test('deleteThread removes every key of that thread and nothing of another', async () => {
      const adapter = await create()
      await fill(adapter, 'a', TRICKY)
      await fill(adapter, 'a2', TRICKY)
      await fill(adapter, 'b', ['h', 'c/1'])
      const others = [await dump(adapter, 'a2'), await dump(adapter, 'b')]
      await adapter.deleteThread('a')
      expect(await keysOf(adapter, 'a')).toEqual([])
      expect(await adapter.get('a', ['h', 'c/a'])).toEqual([undefined, undefined])
      expect([await dump(adapter, 'a2'), await dump(adapter, 'b')]).toEqual(others)
      expect((await collect(adapter.threads())).map((t) => t.thread).sort()).toEqual(['a2', 'b'])
      await adapter.deleteThread('never-written')
      // The thread can start over.
      await adapter.commit('a', { put: [['h', utf8('again')]] }, { key: 'h', expect: undefined })
      expect(await keysOf(adapter, 'a')).toEqual(['h'])
    })

    test('threads lists each thread once with the time of its last commit, oldest first', async () => {
      const adapter = await create()
      const t0 = Date.now()
      await fill(adapter, 'one', ['h'])
      // 'one' was stamped at or before this reading; 'two' is stamped after it.
      const t1 = await clockPast(Date.now())
      await fill(adapter, 'two', ['h'])
      await fill(adapter, 'two', ['c/1'])
      const t2 = Date.now()
      let list = await collect(adapter.threads())
      expect(list.map((t) => t.thread)).toEqual(['one', 'two'])
      const [one, two] = list as [{ thread: string; updatedAt: number }, { thread: string; updatedAt: number }]
      expect(one.updatedAt).toBeGreaterThanOrEqual(t0)
      expect(one.updatedAt).toBeLessThan(t1)
      expect(two.updatedAt).toBeGreaterThanOrEqual(t1)
      expect(two.updatedAt).toBeLessThanOrEqual(t2)
      await clockPast(t2)
      await fill(adapter, 'one', ['c/1'])
      list = await collect(adapter.threads())
      expect(list.map((t) => t.thread)).toEqual(['two', 'one'])
      expect(list[1]?.updatedAt).toBeGreaterThan(one.updatedAt)
    })

    test('threads honours updatedBefore and limit', async () => {
      const adapter = await create()
      const names = ['a', 'b', 'c', 'd']
      const times: number[] = []
      for (const name of names) {
        await fill(adapter, name, ['h'])
        times.push(((await collect(adapter.threads())).find((t) => t.thread === name) as { updatedAt: number }).updatedAt)
        // The next thread is stamped later than this one.
        await clockPast(times.at(-1) as number)
      }
      const ids = async (opts: { updatedBefore?: number; limit?: number }) => (await collect(adapter.threads(opts))).map((t) => t.thread)
      expect(await ids({})).toEqual(names)
      expect(await ids({ updatedBefore: times[2] as number })).toEqual(['a', 'b'])
      expect(await ids({ updatedBefore: (times[2] as number) + 1 })).toEqual(['a', 'b', 'c'])
      expect(await ids({ updatedBefore: times[0] as number })).toEqual([])
      expect(await ids({ limit: 2 })).toEqual(['a', 'b'])
      expect(await ids({ limit: 0 })).toEqual([])
      expect(await ids({ updatedBefore: times[3] as number, limit: 2 })).toEqual(['a', 'b'])
      expect(await ids({ updatedBefore: (times[3] as number) + 1, limit: 10 })).toEqual(names)
    })

    test('threads lists a prefix and continues after a cursor', async () => {
      const adapter = await create()
      const names = ['t1/a', 'u/x', 't1/b', 't10/c', 't1/c']
      for (const name of names) {
        await fill(adapter, name, ['h'])
        await clockPast(((await collect(adapter.threads())).find((t) => t.thread === name) as { updatedAt: number }).updatedAt)
      }
      const list = async (opts: ThreadsOptions) => (await collect(adapter.threads(opts))).map((t) => t.thread)
      expect(await list({ prefix: 't1/' })).toEqual(['t1/a', 't1/b', 't1/c'])
      expect(await list({ prefix: 't1' })).toEqual(['t1/a', 't1/b', 't10/c', 't1/c'])
      expect(await list({ prefix: 'none/' })).toEqual([])
      expect(await list({ prefix: '' })).toEqual(names)
      const all = await collect(adapter.threads({ prefix: 't1/' }))
      expect(await list({ prefix: 't1/', after: all[0] as ThreadInfo })).toEqual(['t1/b', 't1/c'])
      expect(await list({ prefix: 't1/', after: all[0] as ThreadInfo, limit: 1 })).toEqual(['t1/b'])
      expect(await list({ after: all[2] as ThreadInfo })).toEqual([])
    })
  })
}
