/**
 * @module The stored form of checkpoints: compact JSON records (channel deltas plus what the step did), and packs,
 * which hold the records of a run of old checkpoints verbatim. Key layout is in keys.ts, pending writes in pending.ts.
 */
import type { Delta } from './delta.js'
import { isCheckpointId } from './ids.js'
import type { CheckpointFields, Source, StepFields, TaskRef, Usage } from './model.js'
import { decodeValue, encodeValue, setOwn, type Encoded } from './serde.js'

/** The fields of a record that rebuilding values does not need, decoded only when asked for. */
export type RecordDetails = Omit<CheckpointFields, 'id' | 'parentId' | 'step' | 'usageTotal'>

/** A decoded checkpoint record, before its channel deltas are applied. */
export interface CheckpointRecord extends Pick<CheckpointFields, 'id' | 'parentId' | 'step' | 'usageTotal'> {
  base: boolean
  /** The state version the record was written with (`compile({ version })`). */
  version: number
  /** Read from a pack rather than from its own key. */
  packed: boolean
  deltas: Record<string, Delta>
  bytes: number
  /**
   * Next tasks, writes, metadata...: most records read are only stepping stones towards the checkpoint asked
   * for, so these are decoded on first use. Throws a plain Error when they are malformed.
   */
  details(): RecordDetails
  /** The record as a loose record's JSON value (to move it into another pack). */
  stored(): RawRecord
}

// ---- checkpoint records ---------------------------------------------------------------------------

export type StoredTask = string | [node: string, arg: Encoded]

/** A plain task is stored as its node name; a `Send` task as `[node, arg]`. */
export function encodeTask(t: TaskRef): StoredTask {
  return t.arg ? [t.node, encodeValue(t.arg.value, { channel: `Send(${t.node})`, path: [] })] : t.node
}

export function decodeTask(t: StoredTask): TaskRef {
  return typeof t === 'string' ? { node: t } : { node: t[0], arg: { value: decodeValue(t[1]) } }
}

interface RecordHeader {
  p?: string | undefined
  s: number
  b?: 1 | undefined
  /** State version, absent when 1. */
  v?: number | undefined
  src?: Source
  n: StoredTask[]
  w?: Record<string, string[] | 1>
  d?: number
  u?: Usage
  ut?: Usage | undefined
  i?: [string, 'b' | 'a'][]
  m?: Encoded
  q?: { j?: Record<string, string[]> | undefined; d?: StoredTask[] | undefined }
}

/** What a record stores: a checkpoint's fields (a checkpoint or a new one can be passed as it is), and its deltas. */
export interface RecordInput extends StepFields {
  parentId: string | undefined
  step: number
  base: boolean
  version: number
  /** Channel deltas, already serialized to JSON (so their sizes are known). */
  deltas: [channel: string, json: string][]
  usageTotal: Usage | undefined
}

/**
 * A record as a pack takes it: its header (every field but `c`), its text's length, and each changed channel's delta
 * as JSON text. Kept for the records a process wrote, so packing them parses and stringifies no channel value again.
 */
export interface RecordParts {
  r: RecordHeader
  n: number
  c: [channel: string, json: string][]
}

/** Serializes a checkpoint record to its JSON text, and the parts a pack of it is made of. */
export function encodeRecord(rec: RecordInput): { text: string; parts: RecordParts } {
  const { deltas } = rec
  const header: RecordHeader = {
    s: rec.step,
    n: rec.next.map(encodeTask),
  }
  if (rec.parentId !== undefined) header.p = rec.parentId
  if (rec.base) header.b = 1
  if (rec.version > 1) header.v = rec.version
  if (rec.source !== 'loop') header.src = rec.source
  const nodes = Object.keys(rec.writes)
  if (nodes.length > 0) {
    // `1` = "this node wrote exactly the channels stored in this record", the common case, in two bytes.
    header.w = {}
    for (const node of nodes) {
      const chans = rec.writes[node] as string[]
      header.w[node] = chans.length === deltas.length && chans.every((c, i) => c === deltas[i]?.[0]) ? 1 : chans
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
  for (const [channel, json] of deltas) body += (body ? ',' : '') + JSON.stringify(channel) + ':' + json
  const text = `${head.slice(0, -1)},"c":{${body}}}`
  return { text, parts: { r: header, n: text.length, c: deltas } }
}

/** Parses a checkpoint record. Throws a plain Error describing what is malformed. */
export function decodeRecord(id: string, text: string): CheckpointRecord {
  return recordAt(readColumns(text, id), 0)
}

/** A class rather than an object with closures: thousands are made per read of a long thread. */
class StoredRecord implements CheckpointRecord {
  declare readonly id: string
  declare readonly parentId: string | undefined
  declare readonly step: number
  declare readonly base: boolean
  declare readonly version: number
  declare readonly deltas: Record<string, Delta>
  declare readonly usageTotal: Usage | undefined
  declare readonly bytes: number
  declare readonly packed: boolean
  #raw: RawRecord | string
  #details: RecordDetails | undefined
  constructor(pack: Pack, k: number) {
    const deltas: Record<string, Delta> = {}
    for (const channel in pack.c) {
      const e = (pack.c[channel] as (Delta | Encoded[] | 0)[])[k]
      if (e !== 0) setOwn(deltas, channel, Array.isArray(e) ? { a: e } : e)
    }
    const rare = pack.x?.[k]
    const parentId = parentAt(pack, k)
    this.id = pack.i[k] as string
    this.parentId = parentId
    this.step = pack.s[k] as number
    this.base = rare?.b === 1 || parentId === undefined
    this.version = rare?.v ?? 1
    this.deltas = deltas
    this.usageTotal = rare?.ut
    this.bytes = pack.n[k] as number
    this.packed = !pack.loose
    this.#raw = pack.h[k] as string
  }

  details(): RecordDetails {
    return (this.#details ??= recordDetails(this.stored()))
  }

  stored(): RawRecord {
    if (typeof this.#raw !== 'string') return this.#raw
    // Fields set on the parsed object, not spread into a new one: that made objects ten times slower to build and read.
    const raw = JSON.parse(this.#raw) as RawRecord
    if (this.parentId !== undefined) raw.p = this.parentId
    raw.s = this.step
    if (this.base) raw.b = 1
    if (this.version > 1) raw.v = this.version
    if (this.usageTotal) raw.ut = this.usageTotal
    raw.c = this.deltas
    return (this.#raw = raw)
  }
}

function recordDetails(raw: RawRecord): RecordDetails {
  if (raw === null || typeof raw !== 'object' || !Array.isArray(raw.n)) throw new Error('missing next tasks')
  const changed = Object.keys(raw.c)
  const writes: Record<string, string[]> = {}
  for (const [node, chans] of Object.entries(raw.w ?? {})) writes[node] = chans === 1 ? changed : chans
  return {
    source: raw.src ?? 'loop',
    next: raw.n.map(decodeTask),
    writes,
    durationUs: raw.d,
    usage: raw.u,
    interrupts: (raw.i ?? []).map(([node, w]) => ({ node, when: w === 'b' ? 'before' : 'after' })),
    metadata: raw.m === undefined ? undefined : (decodeValue(raw.m) as Record<string, unknown>),
    waiting: raw.q && { joins: raw.q.j, deferred: raw.q.d?.map(decodeTask) },
  }
}

// ---- packs ----------------------------------------------------------------------------------------

/**
 * A pack (format 2) holds its records as columns, so reading one parses a few objects per record rather than a tree
 * each: `i` ids, oldest first; `p` parent ids (`0`: the entry before, `null`: none); `s` steps; `n` each record's
 * text length; `x` by entry index, the rarer fields rebuilding needs (`b` snapshot, `v` version, `ut` usage total);
 * `h` the rest of each record's header as JSON text, parsed only when its details are asked for; `c` per channel,
 * each entry's delta (an array: "append these"; `0`: none). Format 1, `[[id, bytes, record], ...]`, is still read.
 */
interface PackColumns<Entry = Delta | Encoded[]> {
  f: 2
  i: string[]
  p: (string | 0 | null)[]
  s: number[]
  n: number[]
  x?: Record<string, { b?: 1 | undefined; v?: number | undefined; ut?: Usage | undefined }>
  h: string[]
  c: Record<string, (Entry | 0)[]>
}

export type RawRecord = RecordHeader & { c: Record<string, Delta> }

/**
 * Packs records, oldest first, as the text of their columns: given as texts (parsed here), or as the parts
 * {@link encodeRecord} made, whose deltas are joined as they are, without parsing or stringifying them again.
 */
export function encodePack(entries: [id: string, record: string | RecordParts][]): string {
  const { c, ...pack } = columnsOf<string | Delta, unknown>(
    entries.map(([id, r]) => [id, typeof r === 'string' ? partsOf(JSON.parse(r), r.length) : r]),
    // An append that keeps every old item (`{"a":[...]}`, no `t`) is stored as its items alone.
    (d) => (typeof d !== 'string' ? JSON.stringify(entryOf(d)) : d.startsWith('{"a":') && d.endsWith(']}') ? d.slice(5, -1) : d),
  )
  return `${JSON.stringify(pack).slice(0, -1)},"c":{${Object.keys(c).map((ch) => `${JSON.stringify(ch)}:[${c[ch]}]`)}}}`
}

/** A parsed record, its text `n` long, in parts. */
const partsOf = ({ c, ...r }: RawRecord, n: number) => ({ r, n, c: Object.entries(c) })

/** A delta as a column holds it. */
const entryOf = (d: Delta) => ('a' in d && d.t === undefined ? d.a : d)

/** Records (oldest first) as columns: each channel's entry is what `entry` makes of the record's delta. */
function columnsOf<D, E>(entries: [id: string, record: { r: RecordHeader; n: number; c: [channel: string, delta: D][] }][], entry: (d: D) => E): PackColumns<E> {
  const pack: PackColumns<E> = { f: 2, i: [], p: [], s: [], n: [], h: [], c: {} }
  entries.forEach(([id, { r: { p, s, b, v, ut, ...rest }, n, c: deltas }], k) => {
    const mine: string[] = []
    for (const [channel, d] of deltas) {
      if (!Object.hasOwn(pack.c, channel)) setOwn(pack.c, channel, new Array(entries.length).fill(0))
      ;(pack.c[channel] as E[])[k] = entry(d)
      mine.push(channel)
    }
    pack.i.push(id)
    pack.p.push(p === undefined ? null : p === pack.i[k - 1] ? 0 : p)
    pack.s.push(s)
    pack.n.push(n)
    if (b ?? v ?? ut) (pack.x ??= {})[k] = { b, v, ut }
    // `w: 1` names the record's channels in its own order; read back, they come in column order (which later records
    // cannot change: they only add columns after these). One channel has one order.
    if (rest.w && mine.length > 1 && mine.join() !== Object.keys(pack.c).filter((ch) => mine.includes(ch)).join()) {
      for (const node in rest.w) if (rest.w[node] === 1) rest.w[node] = mine
    }
    pack.h.push(JSON.stringify(rest))
  })
  return pack
}

/**
 * A pack's columns, checked: read without making a record per entry ({@link recordAt} makes one). A loose record is
 * read as a pack of one.
 */
export interface Pack extends PackColumns {
  /** A loose record's. */
  loose?: true
}

/**
 * The columns of a pack, or with `id`, of the loose record of that id. Format 1, `[[id, bytes, record], ...]`, is
 * carried over into them, as a loose record is. Throws a plain Error when it is malformed.
 */
export function readColumns(text: string, id?: string): Pack {
  let raw = JSON.parse(text)
  if (id) raw = [[id, text.length, raw]]
  const pack: Pack = Array.isArray(raw) ? columnsOf(raw.map(([i, n, r]: [string, number, RawRecord]) => [i, partsOf(r, n)]), entryOf) : (raw ?? {})
  if (id) pack.loose = true
  const { f, i, p, s, n, x, h, c } = pack
  if (f !== 2 || ![p, s, n, h, ...Object.values(c)].every((col) => Array.isArray(col) && col.length === i.length)) throw new Error('a pack is neither a list nor format 2 with full columns')
  for (let k = 0; k < i.length; k++) {
    // A parent that is the entry before (`0`) was checked as that entry's id.
    const q = p[k]
    const v = x?.[k]?.v
    if (!isCheckpointId(i[k]) || (q !== 0 && q !== null && !isCheckpointId(q)) || typeof s[k] !== 'number' || typeof n[k] !== 'number') throw new Error('an entry is malformed')
    if (v !== undefined && !(Number.isInteger(v) && v > 1)) throw new Error('bad state version')
  }
  return pack
}

/** The parent id of entry `k` of a pack. */
export const parentAt = (pack: Pack, k: number): string | undefined => (pack.p[k] === 0 ? pack.i[k - 1] : (pack.p[k] ?? undefined))

/** Entry `k` of a pack as a record. */
export const recordAt = (pack: Pack, k: number): CheckpointRecord => new StoredRecord(pack, k)

/** The records of a pack, oldest first. Throws a plain Error when it is malformed. */
export function decodePack(text: string): CheckpointRecord[] {
  return recordsOf(readColumns(text))
}

/** Every entry of a pack as a record, oldest first. */
export const recordsOf = (pack: Pack): CheckpointRecord[] => pack.i.map((_, k) => recordAt(pack, k))

/** The JSON text of each record of a pack, by checkpoint id, to move records between packs. */
export function packTexts(text: string): Map<string, string> {
  return new Map(decodePack(text).map((r) => [r.id, JSON.stringify(r.stored())]))
}

/** Approximate length of a delta's JSON: good enough for the snapshot policy. */
export function approxJsonBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2
  if (value === null || typeof value !== 'object') return 8
  let n = 2
  if (Array.isArray(value)) for (const v of value) n += approxJsonBytes(v) + 1
  else for (const k in value) n += k.length + 4 + approxJsonBytes((value as Record<string, unknown>)[k])
  return n
}
