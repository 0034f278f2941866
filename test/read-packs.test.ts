/**
 * Reading packs: a pack reads exactly when every id in it is a checkpoint id; checked text reads back whole; one
 * checkpoint loaded (loadChain, which takes runs of plain entries in a quick loop) is what its records rebuild, on any
 * mix of forks, snapshots, versions and usage; packs read ahead of a chain's end are dropped, damaged or not.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isCheckpointId } from '../src/checkpoint/ids.js'
import { decodePack, encodePack } from '../src/checkpoint/record.js'
import { ChunkedStorage, sealText } from '../src/checkpoint/storage.js'
import { collectRecords, loadChain, rebuild } from '../src/checkpoint/read.js'
import type { StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { collect, logChat, rejectsWith, storedBytes } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const T = 'read'
/** The id of record `k` of a hand-made thread: ids sort as their records were made. */
const id = (k: number) => `mx3k1492${k.toString(36).padStart(3, '0')}00000`

/** A pack of one snapshot record per id (any value: the writer does not check ids, the reader must). */
const packOf = (ids: unknown[]) => encodePack(ids.map((id, k) => [id as string, JSON.stringify({ s: k, n: ['a'], c: { x: { f: k } } })]))

/** Id-like strings: ids of both lengths, and strings of about their length with a character ids never hold. */
const idLike = fc.oneof(
  fc.stringMatching(/^[0-9a-z]{16}$/),
  fc.stringMatching(/^[0-9a-z]{11}$/),
  fc.string({ unit: fc.constantFrom(...'09az', 'A', 'Z', ',', '-', '_', ' ', 'é', '"'), minLength: 10, maxLength: 17 }),
)

describe('reading packs', () => {
  it('reads a pack exactly when every id in it is a checkpoint id', () => {
    fc.assert(
      fc.property(fc.array(idLike, { minLength: 1, maxLength: 8 }), (ids) => {
        const pack = packOf(ids)
        if (ids.every(isCheckpointId)) expect(decodePack(pack).map((r) => r.id)).toEqual(ids)
        else expect(() => decodePack(pack)).toThrow('an entry is malformed')
      }),
      { numRuns: 500 },
    )
  })

  it('rejects ids that only look right together: a comma splitting one, a number, an id in a list', () => {
    const good = '0123456789abcdef'
    for (const bad of ['0123456789a,bcde', '0123456789a,0123456789a', 12345678901, 1234567890123456, [good]]) {
      expect(() => decodePack(packOf([good, bad, good]))).toThrow('an entry is malformed')
    }
    expect(decodePack(packOf([good, '0123456789a', good.replace('0', 'z')])).map((r) => r.step)).toEqual([0, 1, 2])
  })

  it('reads back checked text of every kind of character, and rejects unchecked bytes that are not UTF-8', async () => {
    const store = createMemoryAdapter()
    const storage = new ChunkedStorage(store)
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme' }), async (text) => {
        expect(await storage.text(T, 'c/x', sealText(text))).toBe(text)
      }),
    )
    const err = await rejectsWith(storage.text(T, 'c/0123456789abcdef', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'CORRUPT_RECORD')
    expect(err.message).toContain('not valid UTF-8')
  })

  it('loads each checkpoint as its records rebuild it, through forks, snapshots, versions, usage and loose records', async () => {
    // Per record: its parent (most often the one before it, else an older one, or none), and now and then a snapshot,
    // another version or usage (each gives its pack rare fields, so most packs have none, as a chat's).
    const rarely = fc.nat(9).map((n) => n === 0)
    const entry = fc.record({ back: fc.oneof(fc.constant(1), fc.constant(1), fc.nat(6)), snapshot: rarely, version: fc.constantFrom(1, 1, 1, 1, 1, 1, 1, 2), usage: rarely })
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 8 }), fc.nat(5), async (entries, size, loose) => {
        const parents = entries.map(({ back }, k) => (back === 0 || back > k ? undefined : k - back))
        const bases = entries.map(({ snapshot }, k) => snapshot || parents[k] === undefined)
        const texts = entries.map(({ version, usage }, k) => {
          const parent = parents[k]
          return JSON.stringify({
            s: k,
            ...(parent !== undefined ? { p: id(parent) } : {}),
            ...(bases[k] && parent !== undefined ? { b: 1 } : {}),
            ...(version > 1 ? { v: version } : {}),
            ...(usage ? { ut: { inputTokens: k, outputTokens: 1, costUsd: 0 } } : {}),
            n: ['a'],
            c: { x: bases[k] ? { f: [k] } : { a: [k] } },
          })
        })
        // A delta on a parent of another version is corrupt: loading names the newest such delta on the chain.
        const acrossVersions = (k: number): string | undefined => {
          for (let c = k; !bases[c]; c = parents[c] as number) if (entries[parents[c] as number]?.version !== entries[c]?.version) return id(c)
        }
        const packed = Math.max(0, texts.length - loose)
        const put: [string, Uint8Array][] = []
        for (let k = 0; k < packed; k += size) put.push([`p/${id(k)}`, sealText(encodePack(texts.slice(k, Math.min(k + size, packed)).map((t, j) => [id(k + j), t])))])
        for (let k = packed; k < texts.length; k++) put.push([`c/${id(k)}`, sealText(texts[k] as string)])
        const store = createMemoryAdapter()
        await store.commit(T, { put })
        const storage = new ChunkedStorage(store)
        for (let k = 0; k < texts.length; k++) {
          const outcome = async (read: () => Promise<unknown>) => {
            try {
              const c = (await read()) as Record<string, unknown>
              return { id: c.id, parentId: c.parentId, step: c.step, values: c.values, version: c.version, chainBytes: c.chainBytes, looseChain: c.looseChain, usageTotal: c.usageTotal }
            } catch (err) {
              const { code, context } = err as { code: string; context: unknown }
              return { code, context }
            }
          }
          const loaded = await outcome(() => loadChain(storage, T, id(k)))
          const corrupt = acrossVersions(k)
          if (corrupt) expect(loaded).toEqual({ code: 'CORRUPT_RECORD', context: { threadId: T, checkpointId: corrupt } })
          else expect(loaded).toEqual(await outcome(async () => rebuild(T, await collectRecords(storage, T, { targets: [id(k)] }), [id(k)])[0]))
        }
      }),
      { numRuns: 150 },
    )
  })

  it('reads the state at any point of a chain through 80 packs', async () => {
    const LONG = 'z'.repeat(200)
    const chat = (adapter: StorageAdapter) => logChat({ adapter, packSize: 2 }, 170, (n) => `${n} ${LONG}`)
    const store = createMemoryAdapter()
    const final = await chat(store).invoke({ log: [] }, { threadId: T, recursionLimit: 200 })
    expect((await collect(store.scan(T))).filter(([k]) => isPackKey(k)).length).toBeGreaterThanOrEqual(80)
    const g = chat(store)
    expect((await g.getState({ threadId: T })).values).toEqual(final)
    const history = await collect(g.getStateHistory({ threadId: T }))
    for (const snap of history.filter((_, k) => k % 13 === 0)) {
      expect((await g.getState({ threadId: T, checkpointId: snap.config.checkpointId as string })).values).toEqual(snap.values)
    }
  })

  it('a chain that ends in the newest packs reads whatever the older packs it read ahead hold', async () => {
    // 120 records, two per pack, appending to a list; record 100 a snapshot. The packs before it are damaged.
    const record = (k: number) => JSON.stringify(k === 0 || k === 100 ? { s: k, ...(k ? { p: id(k - 1), b: 1 } : {}), n: ['a'], c: { x: { f: [k] } } } : { s: k, p: id(k - 1), n: ['a'], c: { x: { a: [k] } } })
    const store = createMemoryAdapter()
    const put: [string, Uint8Array][] = []
    for (let k = 0; k < 120; k += 2) put.push([`p/${id(k)}`, k < 100 ? storedBytes('not a pack') : sealText(encodePack([k, k + 1].map((j) => [id(j), record(j)])))])
    await store.commit(T, { put })
    const storage = new ChunkedStorage(store)
    expect((await loadChain(storage, T, id(119))).values).toEqual({ x: Array.from({ length: 20 }, (_, j) => 100 + j) })
    await rejectsWith(loadChain(storage, T, id(99)), 'CORRUPT_RECORD')
  })
})
