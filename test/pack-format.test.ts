/**
 * Packs as columns (format 2, issue 15): a pack keeps each record's meaning (channels, writes, next tasks, usage,
 * versions, snapshots) while reading as a few objects per record; packs written as lists of records (format 1) still
 * read and are carried on from; a pack whose columns do not line up is CORRUPT_RECORD.
 */
import { describe, expect, it, vi } from 'vitest'
import { END, START, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { decodePack, decodeRecord, encodePack, packTexts } from '../src/checkpoint/record.js'
import { ChunkedStorage } from '../src/checkpoint/storage.js'
import { appendList, collect, logChat, readStored, rejectsWith, storedBytes } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

const T = 'packs'
/** Items long enough that the chain stays deltas (short ones make every few steps a snapshot). */
const item = (i: number) => `l${i} `.padEnd(200, '.')

/** Two channels written in turn, a Send-free loop with usage on some steps and metadata on others. */
function graph(adapter: StorageAdapter, n = 30) {
  return new StateGraph({ log: appendList, note: { default: () => '' } })
    .addNode('step', (s) => (s.log.length % 3 === 0 ? { note: `n${s.log.length}`, log: [item(s.log.length)] } : { log: [item(s.log.length)] }))
    .addEdge(START, 'step')
    .addConditionalEdges('step', (s) => (s.log.length >= n ? END : 'step'))
    .compile({ checkpointer: { adapter, packSize: 4 } })
}

const summary = (snaps: { config: { checkpointId?: string }; values: unknown; next: string[]; metadata: unknown; parentConfig?: unknown }[]) =>
  snaps.map((s) => ({ id: s.config.checkpointId, values: s.values, next: s.next, metadata: s.metadata, parent: s.parentConfig }))

describe('pack format 2', () => {
  it('a record read from a pack means what it meant loose: every field, and writes naming channels out of column order', () => {
    const id = (k: number) => `mx3k14920${String(k).padStart(2, '0')}00000`
    const texts: [string, string][] = [
      [id(1), JSON.stringify({ s: 0, n: ['a'], src: 'input', c: { x: { f: 1 } }, w: { __start__: 1 }, m: { t: 'object', v: { k: 1 } } })],
      // Channels in the other order than the columns, written by a node that wrote exactly them (`w: 1`).
      [id(2), JSON.stringify({ s: 1, p: id(1), n: [['b', { t: 'object', v: { q: 2 } }]], c: { y: { a: ['s'] }, x: { f: 2 } }, w: { a: 1 }, u: { inputTokens: 3 }, ut: { inputTokens: 3 }, d: 12 })],
      [id(3), JSON.stringify({ s: 2, p: id(2), b: 1, v: 3, n: [], c: { x: { f: 3 }, y: { f: ['s', 't'] } }, i: [['b', 'a']], q: { j: { j: ['a'] } } })],
      // A parent outside the pack (a fork's record packed after another line's).
      [id(4), JSON.stringify({ s: 3, p: id(1), n: ['a'], c: { y: { a: ['u'], t: 0 } }, w: { a: ['y'] } })],
    ]
    const pack = encodePack(texts)
    const records = decodePack(pack)
    const texts2 = packTexts(pack)
    texts.forEach(([rid, text], k) => {
      const loose = decodeRecord(rid, text)
      for (const rec of [records[k], decodeRecord(rid, texts2.get(rid) as string)]) {
        expect(rec).toBeDefined()
        const { bytes: _bytes, packed: _packed, ...fields } = rec as NonNullable<typeof rec>
        const { bytes: _b, packed: _p, ...looseFields } = loose
        expect(fields).toEqual(looseFields)
        expect(rec?.details()).toEqual(loose.details())
        expect(Object.keys(fields.deltas)).toEqual(expect.arrayContaining(Object.keys(loose.deltas)))
      }
      expect(records[k]?.bytes).toBe(text.length)
    })
    expect(records[1]?.details().writes).toEqual({ a: ['y', 'x'] })
  })

  it('packs written as lists of records (format 1) read as before, and the thread carries on and packs again', async () => {
    const store = createMemoryAdapter()
    await graph(store, 30).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    const before = summary(await collect(graph(store).getStateHistory({ threadId: T })))
    // Rewrite every pack as format 1: `[[id, bytes, record], ...]`.
    const old = createMemoryAdapter()
    const put: [string, Uint8Array][] = []
    for (const [key, raw] of await collect(store.scan(T))) {
      if (!isPackKey(key)) put.push([key, raw])
      else put.push([key, storedBytes(`[${[...packTexts(await readStored(store, T, key, raw))].map(([id, text]) => `["${id}",${text.length},${text}]`).join(',')}]`)])
    }
    await old.commit(T, { put })
    const packs = (await collect(old.scan(T))).filter(([k]) => isPackKey(k))
    expect(packs.length).toBeGreaterThanOrEqual(5)
    for (const [key, raw] of packs) expect((await readStored(old, T, key, raw)).startsWith('[[')).toBe(true)
    expect(summary(await collect(graph(old).getStateHistory({ threadId: T })))).toEqual(before)
    // Carried on: new packs are format 2 beside the old ones, and the whole history still reads.
    const n = await graph(old, 60).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    expect(n.log).toHaveLength(60)
    const after = (await collect(old.scan(T))).filter(([k]) => isPackKey(k))
    const formats = await Promise.all(after.map(async ([key, raw]) => (await readStored(old, T, key, raw))[0]))
    expect(new Set(formats)).toEqual(new Set(['[', '{']))
    const history = summary(await collect(graph(old, 60).getStateHistory({ threadId: T })))
    expect(history.slice(-before.length)).toEqual(before)
    expect(history[0]?.values).toEqual({ log: Array.from({ length: 60 }, (_, i) => item(i)), note: 'n57' })
  })

  it('a pack whose columns do not line up, or that holds a bad id or version, is CORRUPT_RECORD naming the thread', async () => {
    const store = createMemoryAdapter()
    await graph(store, 30).invoke({ log: [] }, { threadId: T, recursionLimit: 100 })
    const all = await collect(store.scan(T))
    const [packKey, raw] = all.find(([k]) => isPackKey(k)) as [string, Uint8Array]
    const good = JSON.parse(await readStored(store, T, packKey, raw)) as Record<string, unknown[] | unknown>
    const damaged: [string, Record<string, unknown>][] = [
      ['short id column', { ...good, i: (good.i as unknown[]).slice(1) }],
      ['short channel column', { ...good, c: { log: ((good.c as Record<string, unknown[]>).log as unknown[]).slice(1) } }],
      ['bad id', { ...good, i: ['nope', ...(good.i as unknown[]).slice(1)] }],
      ['bad parent', { ...good, p: ['nope', ...(good.p as unknown[]).slice(1)] }],
      ['step not a number', { ...good, s: ['1', ...(good.s as unknown[]).slice(1)] }],
      ['bad version', { ...good, x: { 0: { v: 0.5 } } }],
      ['unknown format', { ...good, f: 3 }],
      ['delta not an object', { ...good, c: { log: ['x', ...((good.c as Record<string, unknown[]>).log as unknown[]).slice(1)] } }],
    ]
    for (const [what, pack] of damaged) {
      const copy = createMemoryAdapter()
      await copy.commit(T, { put: all.map(([k, v]) => [k, k === packKey ? storedBytes(JSON.stringify(pack)) : v]) })
      const err = await rejectsWith(graph(copy).getState({ threadId: T }), 'CORRUPT_RECORD')
      expect(err.message, what).toContain(`"${T}"`)
    }
    // Details are read lazily: a header that is not JSON fails when the history asks for it, as CORRUPT_RECORD.
    const copy = createMemoryAdapter()
    const pack = { ...good, h: ['{not json', ...(good.h as unknown[]).slice(1)] }
    await copy.commit(T, { put: all.map(([k, v]) => [k, k === packKey ? storedBytes(JSON.stringify(pack)) : v]) })
    await rejectsWith(collect(graph(copy).getStateHistory({ threadId: T })), 'CORRUPT_RECORD')
  })
})

describe('records kept for packing', () => {
  it('packing a run\'s own records reads none of them back, however far the steps run ahead of the packs', async () => {
    const text = vi.spyOn(ChunkedStorage.prototype, 'text')
    try {
      const store = createMemoryAdapter()
      // Nodes of plain functions: thousands of steps go by while packs are built.
      const g = logChat(store, 3000, item)
      await g.invoke({ log: [] }, { threadId: T, recursionLimit: 3100 })
      expect((await collect(store.scan(T))).filter(([k]) => isPackKey(k)).length).toBeGreaterThan(40)
      expect(text).not.toHaveBeenCalled()
    } finally {
      text.mockRestore()
    }
  })
})
