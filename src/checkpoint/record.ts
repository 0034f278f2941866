/**
 * @module The stored form of checkpoints and pending writes: compact JSON records, time-sortable ids,
 * and the key layout inside a thread.
 *
 * Key layout (all keys of one thread):
 *   h                 head: id of the newest checkpoint (the compare-and-set guard of every commit)
 *   c/<id>            checkpoint record: parent, step, next tasks, channel deltas, metadata
 *   w/<id>/<task>     pending writes of one task of the step after checkpoint <id> (failed or interrupted step)
 *   p/<id>            pack: the records of a run of old checkpoints, oldest <id>, moved here verbatim so a
 *                     long history is read in a few values instead of one per step
 *   k/<key>/<n>       chunk n of a value too large for the adapter (the value at <key> is then `#<count>`)
 */
import type { Delta } from './delta.js'
import { decodeValue, encodeValue, type Encoded } from './serde.js'

export const HEAD_KEY = 'h'
export const checkpointKey = (id: string): string => `c/${id}`
export const pendingPrefix = (id: string): string => `w/${id}/`
export const pendingKey = (id: string, task: number): string => `w/${id}/${String(task).padStart(3, '0')}`
export const packKey = (firstId: string): string => `p/${firstId}`
export const CHECKPOINT_RANGE = { from: 'c/', to: 'c0' } as const // '0' sorts right after '/'
export const PACK_RANGE = { from: 'p/', to: 'p0' } as const
export const PENDING_RANGE = { from: 'w/', to: 'w0' } as const

/** Where a checkpoint came from. */
export type Source = 'input' | 'loop' | 'update' | 'fork'

/** Token usage and cost as reported by nodes. */
export interface Usage {
  inputTokens: number
  outputTokens: number
  costUsd: number
}

/** A task to run: a node, and for tasks created by `Send`, the input it gets instead of the state. */
export interface TaskRef {
  node: string
  /** Present for `Send` tasks. */
  arg?: { value: unknown }
}

/** A run stopped before or after a node because of `interruptBefore` / `interruptAfter`. */
export interface StaticInterrupt {
  when: 'before' | 'after'
  node: string
}

/** What the finished tasks of an unfinished step left behind (a sibling failed or a node interrupted). */
export interface PendingTask {
  index: number
  node: string
  /** Completed writes, in write order. Absent when the task did not finish. */
  writes?: [channel: string, value: unknown][]
  /** Tasks this one routed to (Command.goto / Send), when it finished. */
  goto?: TaskRef[]
  /** Values passed to `interrupt()` that are waiting for a resume value. */
  interrupts?: unknown[]
  /** Resume values already given to this task's interrupts, in order. */
  resume?: unknown[]
  error?: { name: string; message: string }
  usage?: Usage
}

/** What every checkpoint carries besides its channel values, whether decoded or rebuilt. */
export interface CheckpointFields {
  id: string
  parentId: string | undefined
  step: number
  source: Source
  next: TaskRef[]
  /** Which node wrote which channels in the step(s) this checkpoint records. */
  writes: Record<string, string[]>
  durationUs: number | undefined
  usage: Usage | undefined
  usageTotal: Usage | undefined
  interrupts: StaticInterrupt[]
  metadata: Record<string, unknown> | undefined
}

/** The fields of a record that rebuilding values does not need, decoded only when asked for. */
export type RecordDetails = Omit<CheckpointFields, 'id' | 'parentId' | 'step' | 'usageTotal'>

/** A decoded checkpoint record, before its channel deltas are applied. */
export interface CheckpointRecord extends Pick<CheckpointFields, 'id' | 'parentId' | 'step' | 'usageTotal'> {
  base: boolean
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

// ---- ids --------------------------------------------------------------------------------------------

const TS_DIGITS = 8 // base-36 milliseconds: fixed width until the year 2059
const SEQ_DIGITS = 3

/** A new checkpoint id, greater than `after` (the thread's newest), that sorts by creation time. */
export function nextCheckpointId(after: string | undefined, now = Date.now()): string {
  let ts = now
  let seq = 0
  if (after !== undefined) {
    const prevTs = Number.parseInt(after.slice(0, TS_DIGITS), 36)
    const prevSeq = Number.parseInt(after.slice(TS_DIGITS), 36)
    if (prevTs >= now) {
      ts = prevTs
      seq = prevSeq + 1
      if (seq >= 36 ** SEQ_DIGITS) {
        ts++
        seq = 0
      }
    }
  }
  return ts.toString(36).padStart(TS_DIGITS, '0') + seq.toString(36).padStart(SEQ_DIGITS, '0')
}

/** The creation time (ms) encoded in a checkpoint id. */
export function idTime(id: string): number {
  return Number.parseInt(id.slice(0, TS_DIGITS), 36)
}

export function isCheckpointId(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-z]{11}$/.test(id)
}

// ---- checkpoint records ---------------------------------------------------------------------------

type StoredTask = string | [node: string, arg: Encoded]

/** A plain task is stored as its node name; a `Send` task as `[node, arg]`. */
function encodeTask(t: TaskRef): StoredTask {
  return t.arg ? [t.node, encodeValue(t.arg.value, { channel: `Send(${t.node})`, path: [] })] : t.node
}

function decodeTask(t: StoredTask): TaskRef {
  return typeof t === 'string' ? { node: t } : { node: t[0], arg: { value: decodeValue(t[1]) } }
}

interface RecordHeader {
  p?: string
  s: number
  b?: 1
  src?: Source
  n: StoredTask[]
  w?: Record<string, string[] | 1>
  d?: number
  u?: Usage
  ut?: Usage
  i?: [string, 'b' | 'a'][]
  m?: Encoded
}

export interface RecordInput {
  parentId: string | undefined
  step: number
  base: boolean
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
export function parseRecord(id: string, parsed: unknown, bytes: number, packed: boolean): CheckpointRecord {
  const raw = parsed as RecordHeader & { c?: Record<string, Delta> }
  if (raw === null || typeof raw !== 'object' || typeof raw.s !== 'number' || !Array.isArray(raw.n) || typeof raw.c !== 'object' || raw.c === null) {
    throw new Error('missing step, next tasks or channel values')
  }
  if (raw.p !== undefined && !isCheckpointId(raw.p)) throw new Error('bad parent id')
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

function approxJsonBytes(value: unknown): number {
  if (typeof value === 'string') return value.length + 2
  if (value === null || typeof value !== 'object') return 8
  let n = 2
  if (Array.isArray(value)) for (const v of value) n += approxJsonBytes(v) + 1
  else for (const k in value) n += k.length + 4 + approxJsonBytes((value as Record<string, unknown>)[k])
  return n
}

// ---- pending writes ---------------------------------------------------------------------------------

interface PendingJson {
  n: string
  w?: [string, Encoded][]
  g?: StoredTask[]
  i?: Encoded[]
  r?: Encoded[]
  e?: { name: string; message: string }
  u?: Usage
}

/** Serializes the pending writes of one task. Validates every value (throws `UNSERIALIZABLE`). */
export function encodePending(task: PendingTask): string {
  const out: PendingJson = { n: task.node }
  if (task.writes) out.w = task.writes.map(([ch, v]) => [ch, encodeValue(v, { channel: ch, path: [] })])
  if (task.goto) out.g = task.goto.map(encodeTask)
  if (task.interrupts) out.i = task.interrupts.map((v) => encodeValue(v, { channel: `interrupt(${task.node})`, path: [] }))
  if (task.resume) out.r = task.resume.map((v) => encodeValue(v, { channel: `resume(${task.node})`, path: [] }))
  if (task.error) out.e = task.error
  if (task.usage) out.u = task.usage
  return JSON.stringify(out)
}

export function decodePending(index: number, text: string): PendingTask {
  const raw = JSON.parse(text) as PendingJson
  if (raw === null || typeof raw !== 'object' || typeof raw.n !== 'string') throw new Error('pending write without a node name')
  const task: PendingTask = { index, node: raw.n }
  if (raw.w) task.writes = raw.w.map(([ch, v]) => [ch, decodeValue(v)])
  if (raw.g) task.goto = raw.g.map(decodeTask)
  if (raw.i) task.interrupts = raw.i.map(decodeValue)
  if (raw.r) task.resume = raw.r.map(decodeValue)
  if (raw.e) task.error = raw.e
  if (raw.u) task.usage = raw.u
  return task
}
