/**
 * @module The stored form of checkpoints: compact JSON records (channel deltas plus what the step did), and packs,
 * which hold the records of a run of old checkpoints verbatim. Key layout is in keys.ts, pending writes in pending.ts.
 */
import type { Delta } from './delta.js'
import { isCheckpointId } from './ids.js'
import type { CheckpointFields, Source, StaticInterrupt, TaskRef, Usage, Waiting } from './model.js'
import { decodeValue, encodeValue, type Encoded } from './serde.js'

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
  /** Encoded length of each delta, for the snapshot policy. */
  deltaBytes: Record<string, number>
  bytes: number
  /**
   * Next tasks, writes, metadata...: most records read are only stepping stones towards the checkpoint asked
   * for, so these are decoded on first use. Throws a plain Error when they are malformed.
   */
  details(): RecordDetails
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
  p?: string
  s: number
  b?: 1
  /** State version, absent when 1. */
  v?: number
  src?: Source
  n: StoredTask[]
  w?: Record<string, string[] | 1>
  d?: number
  u?: Usage
  ut?: Usage
  i?: [string, 'b' | 'a'][]
  m?: Encoded
  q?: { j?: Record<string, string[]> | undefined; d?: StoredTask[] | undefined }
}

export interface RecordInput {
  parentId: string | undefined
  step: number
  base: boolean
  version: number
  source: Source
  next: TaskRef[]
  /** Channel deltas, already serialized to JSON (so their sizes are known). */
  deltas: [channel: string, json: string][]
  writes: Record<string, string[]>
  durationUs: number | undefined
  usage: Usage | undefined
  usageTotal: Usage | undefined
  interrupts: StaticInterrupt[]
  metadata: Encoded | undefined
  waiting?: Waiting | undefined
}

/** Serializes a checkpoint record to its JSON text. */
export function encodeRecord(rec: RecordInput): string {
  const changed = rec.deltas.map(([ch]) => ch)
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
      header.w[node] = chans.length === changed.length && chans.every((c, i) => c === changed[i]) ? 1 : chans
    }
  }
  if (rec.durationUs !== undefined) header.d = rec.durationUs
  if (rec.usage) header.u = rec.usage
  if (rec.usageTotal) header.ut = rec.usageTotal
  if (rec.interrupts.length > 0) header.i = rec.interrupts.map((x) => [x.node, x.when === 'before' ? 'b' : 'a'])
  if (rec.metadata !== undefined) header.m = rec.metadata
  if (rec.waiting) header.q = { j: rec.waiting.joins, d: rec.waiting.deferred?.map(encodeTask) }
  const head = JSON.stringify(header)
  let body = ''
  for (const [channel, json] of rec.deltas) body += (body ? ',' : '') + JSON.stringify(channel) + ':' + json
  return `${head.slice(0, -1)},"c":{${body}}}`
}

/** Parses a checkpoint record. Throws a plain Error describing what is malformed. */
export function decodeRecord(id: string, text: string): CheckpointRecord {
  return parseRecord(id, JSON.parse(text), text.length, false)
}

/** Checks and converts a parsed record. Throws a plain Error describing what is malformed. */
function parseRecord(id: string, parsed: unknown, bytes: number, packed: boolean): CheckpointRecord {
  const raw = parsed as RecordHeader & { c?: Record<string, Delta> }
  if (raw === null || typeof raw !== 'object' || typeof raw.s !== 'number' || !Array.isArray(raw.n) || typeof raw.c !== 'object' || raw.c === null) {
    throw new Error('missing step, next tasks or channel values')
  }
  if (raw.p !== undefined && !isCheckpointId(raw.p)) throw new Error('bad parent id')
  if (raw.v !== undefined && !(Number.isInteger(raw.v) && raw.v > 1)) throw new Error('bad state version')
  const deltaBytes: Record<string, number> = {}
  for (const channel of Object.keys(raw.c)) {
    const d = raw.c[channel]
    if (d === null || typeof d !== 'object') throw new Error(`bad value for channel "${channel}"`)
    // Approximate size of the delta's JSON: good enough for the snapshot policy.
    deltaBytes[channel] = approxJsonBytes(d)
  }
  let details: RecordDetails | undefined
  return {
    id,
    parentId: raw.p,
    step: raw.s,
    base: raw.b === 1 || raw.p === undefined,
    version: raw.v ?? 1,
    deltas: raw.c,
    deltaBytes,
    usageTotal: raw.ut,
    bytes,
    packed,
    details: () => (details ??= recordDetails(raw as RecordHeader & { c: Record<string, Delta> })),
  }
}

function recordDetails(raw: RecordHeader & { c: Record<string, Delta> }): RecordDetails {
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

/** Packs record texts as `[[id, bytes, record], ...]`, embedding each record's JSON as it is (no re-escaping). */
export function encodePack(entries: [id: string, text: string][]): string {
  return `[${entries.map(([id, text]) => `["${id}",${text.length},${text}]`).join(',')}]`
}

/** The records of a pack, oldest first. Throws a plain Error when it is malformed. */
export function decodePack(text: string): CheckpointRecord[] {
  const raw = JSON.parse(text) as unknown
  if (!Array.isArray(raw)) throw new Error('a pack is not a list')
  return raw.map((entry: unknown) => {
    if (!Array.isArray(entry) || !isCheckpointId(entry[0]) || typeof entry[1] !== 'number') throw new Error('a pack entry has no id')
    return parseRecord(entry[0], entry[2], entry[1], true)
  })
}

/** The JSON text of each record of a pack, by checkpoint id, to move records between packs unchanged. */
export function packTexts(text: string): Map<string, string> {
  return new Map((JSON.parse(text) as [string, number, unknown][]).map(([id, , rec]) => [id, JSON.stringify(rec)]))
}

function approxJsonBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2
  if (value === null || typeof value !== 'object') return 8
  let n = 2
  if (Array.isArray(value)) for (const v of value) n += approxJsonBytes(v) + 1
  else for (const k in value) n += k.length + 4 + approxJsonBytes((value as Record<string, unknown>)[k])
  return n
}
