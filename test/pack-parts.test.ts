/**
 * Packs built from the parts a process kept of the records it wrote (issue 15): the same pack as one built by parsing
 * the records' texts, and the same as the columns packs were always built as (the reference below is the builder this
 * replaced); the parts are kept only for records a pack may take, and handed back once, for the bytes written.
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { END, START, Send, StateGraph, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { diff, fullDelta, type Delta } from '../src/checkpoint/delta.js'
import { nextCheckpointId } from '../src/checkpoint/ids.js'
import { decodePack, decodeRecord, encodePack, encodeRecord, encodeTask, type RawRecord, type RecordInput } from '../src/checkpoint/record.js'
import type { TaskRef } from '../src/checkpoint/model.js'
import { encodeValue } from '../src/checkpoint/serde.js'
import { ChunkedStorage } from '../src/checkpoint/storage.js'
import { appendList, collect, counter, logChat, over, readStored } from './helpers.js'
import { isPackKey } from '../src/checkpoint/keys.js'

// ---- the reference: records and packs as they were built before parts (src/checkpoint/record.ts, 2026-11-30) ----

function referenceRecord(rec: RecordInput): string {
  const changed = rec.deltas.map(([ch]) => ch)
  const header: Record<string, unknown> = { s: rec.step, n: rec.next.map(encodeTask) }
  if (rec.parentId !== undefined) header.p = rec.parentId
  if (rec.base) header.b = 1
  if (rec.version > 1) header.v = rec.version
  if (rec.source !== 'loop') header.src = rec.source
  const nodes = Object.keys(rec.writes)
  if (nodes.length > 0) {
    const w: Record<string, string[] | 1> = (header.w = {})
    for (const node of nodes) {
      const chans = rec.writes[node] as string[]
      w[node] = chans.length === changed.length && chans.every((c, i) => c === changed[i]) ? 1 : chans
    }
  }
  if (rec.durationUs !== undefined) header.d = rec.durationUs
  if (rec.usage) header.u = rec.usage
  if (rec.usageTotal) header.ut = rec.usageTotal
  if (rec.interrupts.length > 0) header.i = rec.interrupts.map((x) => [x.node, x.when === 'before' ? 'b' : 'a'])
  if (rec.metadata !== undefined) header.m = encodeValue(rec.metadata, { channel: 'metadata', path: [] })
  if (rec.waiting) header.q = { j: rec.waiting.joins, d: rec.waiting.deferred?.map(encodeTask) }
  const head = JSON.stringify(header)
  let body = ''
  for (const [channel, json] of rec.deltas) body += (body ? ',' : '') + JSON.stringify(channel) + ':' + json
  return `${head.slice(0, -1)},"c":{${body}}}`
}

function referencePack(entries: [id: string, text: string][]): string {
  const records = entries.map(([id, text]): [string, number, RawRecord] => [id, text.length, JSON.parse(text)])
  const pack: Record<string, unknown> & { i: string[]; p: unknown[]; s: number[]; n: number[]; h: string[]; c: Record<string, unknown[]>; x?: Record<string, unknown> } = { f: 2, i: [], p: [], s: [], n: [], h: [], c: {} }
  records.forEach(([, , rec], k) => {
    for (const [channel, d] of Object.entries(rec.c)) {
      if (!Object.hasOwn(pack.c, channel)) Object.defineProperty(pack.c, channel, { value: new Array(records.length).fill(0), writable: true, enumerable: true, configurable: true })
      ;(pack.c[channel] as unknown[])[k] = 'a' in d && d.t === undefined ? d.a : d
    }
  })
  const order = Object.keys(pack.c)
  records.forEach(([id, bytes, { p, s, b, v, ut, c, ...rest }], k) => {
    pack.i.push(id)
    pack.p.push(p === undefined ? null : p === records[k - 1]?.[0] ? 0 : p)
    pack.s.push(s)
    pack.n.push(bytes)
    if (b ?? v ?? ut) (pack.x ??= {})[k] = { b, v, ut }
    if (rest.w && Object.keys(c).join() !== order.filter((ch) => Object.hasOwn(c, ch)).join()) {
      for (const node in rest.w) if (rest.w[node] === 1) rest.w[node] = Object.keys(c)
    }
    pack.h.push(JSON.stringify(rest))
  })
  return JSON.stringify(pack)
}

/** JSON text with every object's keys sorted: equal for equal values, whatever order the keys were written in. */
const canonical = (text: string) =>
  JSON.stringify(JSON.parse(text), (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v))

// ---- random records ---------------------------------------------------------------------------------

const leaf = fc.oneof(fc.string(), fc.constantFrom('héllo wörld', '日本語のテキスト', 'emoji 🎉 "quoted" \\ back', '$&$1'), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.bigInt(), fc.date({ noInvalidDate: true }))
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.constantFrom('a', 'b', 'ü', '0', '__proto__'), tie('value'), { maxKeys: 3 }),
  map: fc.array(fc.tuple(fc.string({ maxLength: 3 }), tie('value')), { maxLength: 2 }).map((e) => new Map(e)),
}))
/** A channel's change as the writer stores it: appended items (with or without a cut), changed keys, or a full value. */
const change = fc.oneof(
  fc.tuple(fc.array(value, { maxLength: 3 }), fc.array(value, { minLength: 1, maxLength: 3 })).map(([old, added]) => diff(old, [...old, ...added], { channel: 'x', path: [] })),
  fc.tuple(fc.array(value, { minLength: 2, maxLength: 3 }), fc.array(value, { minLength: 1, maxLength: 2 })).map(([old, added]) => diff(old, [old[0], ...added], { channel: 'x', path: [] })),
  fc.tuple(value, value).map(([a, b]) => diff({ k: a, j: 1 }, { k: b, j: 1 }, { channel: 'x', path: [] })),
  value.map((v) => fullDelta(v, { channel: 'x', path: [] })),
)
const channels = fc.uniqueArray(fc.tuple(fc.constantFrom('messages', 'note', 'ché', '日本', '0', '12', '__proto__', 'a"b'), change), { selector: ([ch]) => ch, maxLength: 4 })
const usage = fc.record({ inputTokens: fc.nat(), outputTokens: fc.nat(), costUsd: fc.double({ min: 0, max: 1, noNaN: true }) })
const task = fc.oneof(fc.constantFrom('chat', 'tools', 'ñode'), fc.tuple(fc.constantFrom('work', 'map'), value).map(([node, v]) => ({ node, arg: { value: v } })))

const record = fc.record({
  parent: fc.constantFrom('previous', 'previous', 'fork', 'outside', 'none'),
  step: fc.integer({ min: -1, max: 10_000 }),
  base: fc.boolean(),
  version: fc.constantFrom(1, 1, 2, 7),
  source: fc.constantFrom('loop', 'loop', 'input', 'update', 'fork'),
  next: fc.array(task, { maxLength: 3 }),
  deltas: channels,
  writesAll: fc.boolean(),
  otherWrites: fc.dictionary(fc.constantFrom('a', 'b'), fc.array(fc.constantFrom('note', 'messages'), { maxLength: 2 }), { maxKeys: 2 }),
  durationUs: fc.option(fc.nat(), { nil: undefined }),
  usage: fc.option(usage, { nil: undefined }),
  usageTotal: fc.option(usage, { nil: undefined }),
  interrupts: fc.array(fc.record({ node: fc.constantFrom('a', 'b'), when: fc.constantFrom('before' as const, 'after' as const) }), { maxLength: 2 }),
  metadata: fc.option(fc.dictionary(fc.constantFrom('k', 'when', 'n'), value, { maxKeys: 3 }), { nil: undefined }),
  waiting: fc.option(fc.record({ joins: fc.option(fc.dictionary(fc.constantFrom('a,b>c'), fc.array(fc.constantFrom('a', 'b'))), { nil: undefined }), deferred: fc.option(fc.array(task, { maxLength: 2 }), { nil: undefined }) }), { nil: undefined }),
})

type Generated = typeof record extends fc.Arbitrary<infer T> ? T : never

/** Random records as a writer hands them over: ids in order, parents before, in the pack, or outside it. */
function inputsOf(generated: Generated[]): [string, RecordInput][] {
  const outside = nextCheckpointId(undefined, 1_700_000_000_000)
  const ids: string[] = []
  for (let k = 0; k < generated.length; k++) ids.push(nextCheckpointId(ids[k - 1] ?? outside))
  return generated.map((g, k): [string, RecordInput] => {
    const parentId = { previous: ids[k - 1], fork: ids[Math.max(0, k - 2)], outside, none: undefined }[g.parent]
    // In the order a writer lists channels, an object's keys ('12' before 'messages'), as a parse of the text has them.
    // An unchanged channel (no delta) is not stored.
    const deltas = Object.entries(Object.fromEntries(g.deltas.filter(([, d]) => d !== undefined))).map(([ch, d]): [string, string] => [ch, JSON.stringify(d as Delta)])
    const writes: Record<string, string[]> = { ...g.otherWrites }
    if (g.writesAll) writes.step = deltas.map(([ch]) => ch)
    const { parent: _p, writesAll: _w, otherWrites: _o, ...fields } = g
    const tasks = (list: (string | TaskRef)[]) => list.map((t) => (typeof t === 'string' ? { node: t } : t))
    const waiting = g.waiting && { joins: g.waiting.joins, deferred: g.waiting.deferred && tasks(g.waiting.deferred) }
    return [ids[k] as string, { ...fields, parentId: k === 0 && parentId === ids[k - 1] ? outside : parentId, deltas, writes, next: tasks(g.next), waiting } as RecordInput]
  })
}

describe('packs built from the parts of records this process wrote', () => {
  it('equal the packs built from the records\' texts, byte for byte, and the reference columns after parsing', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (generated, kept) => {
        const inputs = inputsOf(generated)
        const texts = inputs.map(([id, rec]): [string, string] => [id, encodeRecord(rec).text])
        // The record text itself is what it always was.
        inputs.forEach(([, rec], k) => expect(texts[k]?.[1]).toBe(referenceRecord(rec)))
        const fromParts = encodePack(inputs.map(([id, rec]) => [id, encodeRecord(rec).parts]))
        // Some records kept, others read back (written by another process, or forgotten).
        const mixed = encodePack(inputs.map(([id, rec], k) => [id, kept[k] ? encodeRecord(rec).parts : (texts[k] as [string, string])[1]]))
        expect(fromParts).toBe(encodePack(texts))
        expect(mixed).toBe(fromParts)
        expect(canonical(fromParts)).toBe(canonical(referencePack(texts)))
        // And it reads back as the loose records read.
        decodePack(fromParts).forEach((rec, k) => {
          const [id, text] = texts[k] as [string, string]
          const loose = decodeRecord(id, text)
          const { bytes, packed: _p, ...fields } = rec
          const { bytes: looseBytes, packed: _q, ...looseFields } = loose
          expect(fields).toEqual(looseFields)
          expect(bytes).toBe(looseBytes)
          expect(rec.details()).toEqual(loose.details())
        })
      }),
      { numRuns: 150 },
    )
  }, 60_000)
})

describe('the parts kept for packing', () => {
  it('are handed back once, and only for the bytes written; without parts, or chunked, nothing is kept', () => {
    const storage = new ChunkedStorage(createMemoryAdapter())
    const parts = encodeRecord({ parentId: undefined, step: 0, base: true, version: 1, source: 'input', next: [], deltas: [['x', '{"f":1}']], writes: {}, usageTotal: undefined, interrupts: [] }).parts
    const [[key, bytes]] = storage.puts('c/a', '{"s":0}', parts) as [[string, Uint8Array]]
    expect(storage.recall(key, storage.puts('c/a', '{"s":1}')[0]?.[1] as Uint8Array)).toBeUndefined()
    // A miss on other bytes forgets them too: the record was rewritten, its parts are stale.
    expect(storage.recall(key, bytes)).toBeUndefined()
    storage.puts('c/a', '{"s":0}', parts)
    expect(storage.recall(key, bytes)).toBe(parts)
    expect(storage.recall(key, bytes)).toBeUndefined()
    storage.puts('c/b', '{"s":0}')
    expect(storage.recall('c/b', bytes)).toBeUndefined()
    // Steps can run far ahead of packing (a graph of plain functions in memory): thousands are kept.
    const written = Array.from({ length: 3000 }, (_, i) => storage.puts(`c/${String(i).padStart(4, '0')}`, `{"s":${i}}`, parts)[0] as [string, Uint8Array])
    expect(written.every(([k, v]) => storage.recall(k, v) === parts)).toBe(true)
    // A record split into chunks is not kept: its marker alone would not show that it was rewritten.
    const small = new ChunkedStorage({ ...createMemoryAdapter(), limits: { maxValueBytes: 16 } } as StorageAdapter)
    const chunked = small.puts('c/c', `{"s":0,"n":[],"c":{"x":{"f":"${'x'.repeat(40)}"}}}`, parts)
    expect(chunked.length).toBeGreaterThan(2)
    expect(small.recall('c/c', (chunked[0] as [string, Uint8Array])[1])).toBeUndefined()
  })

  it('are kept only when a pack may follow: not for a thread that stores a snapshot every step', async () => {
    const puts = vi.spyOn(ChunkedStorage.prototype, 'puts')
    try {
      await counter(createMemoryAdapter(), 50).invoke({ count: 0 }, { threadId: 'c', recursionLimit: 100 })
      const records = puts.mock.calls.filter(([key]) => key.startsWith('c/'))
      expect(records.length).toBe(51)
      // The thread's first record is kept (a pack may follow it), none of the snapshots after it.
      expect(records.filter(([, , parts]) => parts !== undefined).length).toBe(1)
      puts.mockClear()
      const chat = logChat(createMemoryAdapter(), 50, (n) => `message ${n} `.padEnd(300, '.'))
      await chat.invoke({ log: [] }, { threadId: 'c', recursionLimit: 100 })
      const chatRecords = puts.mock.calls.filter(([key]) => key.startsWith('c/'))
      expect(chatRecords.length).toBe(51)
      expect(chatRecords.every(([, , parts]) => parts !== undefined)).toBe(true)
    } finally {
      puts.mockRestore()
    }
  })

  it('make every pack a run writes what the reference builds from the records it replaces: Sends, forks, metadata, several channels', async () => {
    const memory = createMemoryAdapter()
    const texts = new Map<string, string>()
    const packs: [string, string[]][] = []
    // Sees every commit: the loose records' texts as put, and each pack with the keys it replaced.
    const store = over(memory, {
      commit: async (t, batch, guard) => {
        for (const [key, value] of batch.put ?? []) {
          if (key.startsWith('c/')) texts.set(key, new TextDecoder().decode(value.subarray(5)))
          if (isPackKey(key)) packs.push([key, batch.del ?? []])
        }
        return memory.commit(t, batch, guard)
      },
    })
    const when = new Date(Date.UTC(2026, 0, 2))
    const graph = new StateGraph({ log: appendList, note: { default: () => '' }, facts: { default: (): Map<string, unknown> => new Map() }, done: appendList })
      .addNode('plan', (s) => {
        const log = [`plan ${s.log.length} `.padEnd(200, '·')]
        if (s.log.length % 3 === 1) return { note: `héllo ${s.log.length} 日本`, log }
        return s.log.length % 5 ? { log } : { log, facts: new Map<string, unknown>([['at', when], ['big', BigInt(s.log.length) ** 20n]]) }
      })
      .addNode('work', (input) => {
        const task = input as unknown as { i: number; text: string }
        return { done: [`${task.text} ${task.i}`] }
      })
      .addEdge(START, 'plan')
      .addConditionalEdges('plan', (s) => (s.log.length >= 40 ? END : s.log.length % 2 ? [new Send('work', { i: s.log.length, text: 'ünïcode "q"' }), new Send('work', { i: -1, text: '\\' })] : 'plan'), ['plan', 'work', END])
      .addEdge('work', 'plan')
      .compile({ checkpointer: { adapter: store, packSize: 4 } })
    const recall = vi.spyOn(ChunkedStorage.prototype, 'recall')
    const final = await graph.invoke({ log: [] }, { threadId: 'p', recursionLimit: 200, metadata: { who: 'tester', at: when } } as never)
    // The packs were built from the parts kept: only snapshots written after a parent are read back.
    const hits = recall.mock.results.filter((r) => r.value !== undefined).length
    recall.mockRestore()
    expect(hits).toBeGreaterThan(packs.length * 3)
    // A fork: a second line from an older checkpoint, packed beside the first.
    const history = await collect(graph.getStateHistory({ threadId: 'p' }))
    const old = history[Math.floor(history.length / 2)] as (typeof history)[number]
    await graph.invoke(null, { threadId: 'p', checkpointId: old.config.checkpointId, recursionLimit: 200 } as never)
    expect(final.log.length).toBeGreaterThanOrEqual(40)
    expect(packs.length).toBeGreaterThan(10)
    for (const [key, replaced] of packs) {
      const entries = replaced.filter((k) => k.startsWith('c/')).map((k): [string, string] => [k.slice(2), texts.get(k) as string])
      const stored = await readStored(memory, 'p', key)
      expect(canonical(stored)).toBe(canonical(referencePack(entries)))
    }
  })
})
