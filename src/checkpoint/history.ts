/**
 * @module The history layer: turns checkpoints into delta records on a storage adapter and back.
 * Writing diffs each channel against the parent checkpoint and applies the cost-based snapshot policy;
 * reading walks records once (newest to oldest to find what is needed, then oldest to newest to rebuild).
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import type { StorageAdapter } from './adapter.js'
import { applyDelta, diff, fullDelta, type Delta } from './delta.js'
import {
  CHECKPOINT_RANGE,
  HEAD_KEY,
  PACK_RANGE,
  PENDING_RANGE,
  checkpointKey,
  decodePack,
  decodePending,
  decodeRecord,
  encodePack,
  encodePending,
  encodeRecord,
  idTime,
  isCheckpointId,
  packKey,
  pendingKey,
  pendingPrefix,
  type CheckpointFields,
  type CheckpointRecord,
  type RecordDetails,
  type PendingTask,
  type Source,
  type StaticInterrupt,
  type TaskRef,
  type Usage,
} from './record.js'
import { encodeValue, setOwn, type Encoded } from './serde.js'

/** A checkpoint with its channel values rebuilt. */
export interface Checkpoint extends CheckpointFields {
  threadId: string
  createdAt: number
  values: Record<string, unknown>
  pending: PendingTask[]
  /** Storage keys held by `pending` (including chunks), deleted once the step commits. */
  pendingKeys: string[]
  /** Snapshot-policy bookkeeping: bytes of records read to rebuild this checkpoint, and channel sizes. */
  chainBytes: number
  /** Records on this checkpoint's chain that are still stored one per key (the packing trigger). */
  looseChain: number
  sizes: Record<string, number>
  /** Container sizes (array length, key count) of the values as committed, to catch in-place changes. */
  shapes?: Record<string, number>
}

/** A state on the way to the checkpoints asked for. */
interface Rebuilt {
  id: string
  rec: CheckpointRecord
  values: Record<string, unknown>
  sizes: Record<string, number>
  /** Its values share no structure with any other state, so a child may advance them in place. */
  owned: boolean
  usageTotal: Usage | undefined
  chainBytes: number
  looseChain: number
}

/** What the run layer hands over to store a new checkpoint. */
export interface NewCheckpoint {
  parent: Checkpoint | undefined
  step: number
  source: Source
  next: TaskRef[]
  values: Record<string, unknown>
  writes: Record<string, string[]>
  durationUs?: number
  usage?: Usage
  interrupts: StaticInterrupt[]
  metadata?: Record<string, unknown>
}

export interface HistoryOptions {
  /**
   * Snapshot policy: store a full copy of the state once rebuilding it would read more than
   * `snapshotFactor` × its size in records. An append-only list then never needs one; a value that is
   * overwritten every step gets one soon. Default 2.
   */
  snapshotFactor?: number
  /**
   * Packing: once a checkpoint's chain holds more than `packSize` records stored one per key, the oldest `packSize`
   * records of the thread are moved, verbatim, into one pack value. Stored bytes stay the same; reading a long
   * history then takes a few values instead of one per step (IndexedDB and SQL backends pay per value/row).
   * Default 64.
   */
  packSize?: number
}

export interface ListOptions {
  limit?: number
  /** Only checkpoints older than this checkpoint id. */
  before?: string
  /** Only checkpoints whose metadata has these values (`source`, `step`, or your own metadata keys). */
  filter?: Record<string, unknown>
}

const utf8 = new TextEncoder()
/** Rough size of a record's fields besides its channel values, for the snapshot decision. */
const HEADER_ESTIMATE = 64
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })
const CHUNK_MARK = 0x23 // '#'

/** Checkpoint history of all threads on one adapter. */
export class History {
  readonly adapter: StorageAdapter
  readonly #factor: number
  readonly packSize: number

  constructor(adapter: StorageAdapter, options: HistoryOptions = {}) {
    if (!adapter || typeof adapter.commit !== 'function' || typeof adapter.scan !== 'function') {
      throw new EdgegraphError('INVALID_ARGUMENT', 'checkpointer must be a storage adapter such as createMemoryAdapter()')
    }
    this.adapter = adapter
    this.#factor = options.snapshotFactor ?? 2
    this.packSize = options.packSize ?? 64
  }

  /** Id of the newest checkpoint of a thread, or undefined for a thread with no checkpoints. */
  async head(threadId: string): Promise<string | undefined> {
    const [bytes] = await this.#call(threadId, () => this.adapter.get(threadId, [HEAD_KEY]))
    if (bytes === undefined) return undefined
    let id: string | undefined
    try {
      id = utf8Strict.decode(bytes)
    } catch {
      // reported below
    }
    if (!isCheckpointId(id)) throw corruptHead(threadId, 'it does not hold a checkpoint id')
    return id
  }

  /**
   * Encodes a new checkpoint as the storage writes that create it. Synchronous, so the values are captured
   * at the step boundary, and validating: an unserializable value throws here, before anything is written.
   */
  prepare(threadId: string, id: string, input: NewCheckpoint): { checkpoint: Checkpoint; put: [string, Uint8Array][] } {
    const parent = input.parent
    const sizes: Record<string, number> = { ...parent?.sizes }
    const deltas: [channel: string, json: string, full: boolean][] = []
    let deltaBytes = 0
    const shapes: Record<string, number> = {}
    for (const channel of Object.keys(input.values)) {
      const next = input.values[channel]
      shapes[channel] = shapeOf(next)
      // Unchanged identity is how unchanged values are skipped, so a value grown in place would lose writes.
      if (parent?.shapes && parent.values[channel] === next && parent.shapes[channel] !== shapes[channel]) {
        throw new EdgegraphError(
          'INVALID_UPDATE',
          `Channel "${channel}" of thread "${threadId}" was changed in place (same object as at checkpoint "${parent.id}", different size), ` +
            'so the change cannot be stored. Nodes and reducers must return new values, e.g. [...current, ...update].',
          { context: { threadId, checkpointId: parent.id, channel } },
        )
      }
      const where = { channel, path: [] }
      const d = parent && Object.hasOwn(parent.values, channel) ? diff(parent.values[channel], next, where) : fullDelta(next, where)
      if (d === undefined) continue
      const json = JSON.stringify(d)
      deltas.push([channel, json, 'f' in d])
      deltaBytes += json.length
      sizes[channel] = estimateSize(sizes[channel], parent?.values[channel], d, json.length)
    }
    let stateBytes = 0
    for (const channel in sizes) stateBytes += sizes[channel] as number
    // Snapshot policy, decided before encoding so each record is encoded once: when rebuilding this
    // checkpoint would read more than `factor` × its size, store it in full and start the chain over.
    const base = !parent || parent.chainBytes + deltaBytes + HEADER_ESTIMATE > this.#factor * stateBytes
    let stored: [string, string][] = deltas.map(([channel, json]) => [channel, json])
    if (base && parent) {
      const byChannel = new Map(deltas.map(([channel, json, full]) => [channel, full ? json : undefined]))
      stored = Object.keys(input.values).map((channel) => {
        const json = byChannel.get(channel) ?? JSON.stringify(fullDelta(input.values[channel], { channel, path: [] }))
        sizes[channel] = json.length - 6
        return [channel, json]
      })
    }
    const usageTotal = addUsage(parent?.usageTotal, input.usage)
    const text = encodeRecord({
      parentId: parent?.id,
      step: input.step,
      base,
      source: input.source,
      next: input.next,
      deltas: stored,
      writes: input.writes,
      durationUs: input.durationUs,
      usage: input.usage,
      // The branch total is stored where it changes, and on snapshots so a rebuild never walks past one.
      usageTotal: input.usage || base ? usageTotal : undefined,
      interrupts: input.interrupts,
      metadata: input.metadata === undefined ? undefined : (encodeValue(input.metadata, { channel: 'metadata', path: [] }) as Encoded),
    })
    const chainBytes = (base ? 0 : (parent?.chainBytes ?? 0)) + text.length
    const looseChain = (base ? 0 : (parent?.looseChain ?? 0)) + 1
    const checkpoint: Checkpoint = {
      threadId,
      id,
      parentId: parent?.id,
      step: input.step,
      createdAt: idTime(id),
      source: input.source,
      next: input.next,
      values: input.values,
      writes: input.writes,
      durationUs: input.durationUs,
      usage: input.usage,
      usageTotal,
      interrupts: input.interrupts,
      metadata: input.metadata,
      pending: [],
      pendingKeys: [],
      chainBytes,
      looseChain,
      sizes,
      shapes,
    }
    return { checkpoint, put: this.#toPuts(checkpointKey(id), text) }
  }

  /** Encodes pending writes of one task of the step after `checkpointId`. Validates values. */
  preparePending(checkpointId: string, task: PendingTask): [string, Uint8Array][] {
    return this.#toPuts(pendingKey(checkpointId, task.index), encodePending(task))
  }

  /**
   * Commits writes atomically, guarded by the thread's head: `expectHead` must still be the newest
   * checkpoint (undefined for a new thread), else `CONFLICT` and nothing is written.
   */
  async commit(threadId: string, put: [string, Uint8Array][], del: string[], expectHead: string | undefined, newHead?: string): Promise<void> {
    const puts = newHead === undefined ? put : [...put, [HEAD_KEY, utf8.encode(newHead)] as [string, Uint8Array]]
    const guard = { key: HEAD_KEY, expect: expectHead === undefined ? undefined : utf8.encode(expectHead) }
    await this.#call(threadId, () => this.adapter.commit(threadId, del.length > 0 ? { put: puts, del } : { put: puts }, guard))
  }

  /** Loads a checkpoint (the newest when `checkpointId` is absent); undefined when the thread has none. */
  async load(threadId: string, checkpointId?: string): Promise<Checkpoint | undefined> {
    const id = checkpointId ?? (await this.head(threadId))
    if (id === undefined) return undefined
    let records
    try {
      records = await this.#collect(threadId, { targets: [id] })
    } catch (err) {
      if (checkpointId === undefined && isEdgegraphError(err, 'CHECKPOINT_NOT_FOUND')) throw corruptHead(threadId, `it names checkpoint "${id}", which does not exist`, err)
      throw err
    }
    const [checkpoint] = this.#rebuild(threadId, records, [id])
    if (!checkpoint) throw notFound(threadId, id)
    checkpoint.shapes = Object.fromEntries(Object.entries(checkpoint.values).map(([ch, v]) => [ch, shapeOf(v)]))
    await this.#attachPending(threadId, [checkpoint], { from: pendingPrefix(id), to: `${pendingPrefix(id)}~` })
    return checkpoint
  }

  /** Checkpoints of a thread, newest first. */
  async list(threadId: string, options: ListOptions = {}): Promise<Checkpoint[]> {
    const records = await this.#collect(threadId, { list: options })
    const targets = [...records.values()].filter((r) => r.target).map((r) => r.rec.id)
    const checkpoints = this.#rebuild(threadId, records, targets)
    await this.#attachPending(threadId, checkpoints, PENDING_RANGE)
    return checkpoints
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.#call(threadId, () => this.adapter.deleteThread(threadId))
  }

  // ---- reading -------------------------------------------------------------------------------------

  /**
   * One reverse scan over the thread's checkpoint records: picks the targets (given, or by list options)
   * and every ancestor needed to rebuild them, stopping at the first full snapshot of each chain.
   */
  async #collect(threadId: string, what: { targets?: string[]; list?: ListOptions }): Promise<Map<string, { rec: CheckpointRecord; target: boolean }>> {
    const found = new Map<string, { rec: CheckpointRecord; target: boolean }>()
    const needed = new Set<string>(what.targets)
    const neededBy = new Map<string, string>()
    const list = what.list
    let listed = 0
    const top = what.targets ? what.targets.reduce((a, b) => (a > b ? a : b)) : list?.before
    const wantMore = () => list !== undefined && (list.limit === undefined || listed < list.limit)

    scan: for await (const batch of this.#newestFirst(threadId, top === undefined ? undefined : { id: top, inclusive: what.targets !== undefined })) {
      for (const entry of batch) {
        const id = entry.id
        const isNeeded = needed.has(id)
        if (!isNeeded && !wantMore()) {
          if (needed.size === 0) break scan
          continue
        }
        const rec = 'rec' in entry ? entry.rec : await entry.load()
        const isTarget = what.targets ? isNeeded : wantMore() && matches(threadId, rec, list?.filter)
        if (isTarget) listed++
        if (!isTarget && !isNeeded) continue
        found.set(id, { rec, target: isTarget })
        needed.delete(id)
        if (!rec.base && rec.parentId !== undefined && !found.has(rec.parentId)) {
          needed.add(rec.parentId)
          neededBy.set(rec.parentId, id)
        }
        if (needed.size === 0 && !wantMore()) break scan
      }
    }
    for (const id of needed) {
      if (what.targets?.includes(id)) throw notFound(threadId, id)
      throw corruptRecord(threadId, neededBy.get(id) ?? id, `its parent checkpoint "${id}" is missing`)
    }
    return found
  }

  /**
   * Every checkpoint record of a thread, newest first, below `bound`: the loose ones (`c/`), then the packs
   * (`p/`), which only ever hold records older than every loose one. Loose records are decoded on demand.
   */
  async *#newestFirst(threadId: string, bound: { id: string; inclusive: boolean } | undefined): AsyncIterable<({ id: string; rec: CheckpointRecord } | { id: string; load: () => Promise<CheckpointRecord> })[]> {
    const below = (prefix: string) => (bound === undefined ? {} : { to: bound.inclusive ? `${prefix}${bound.id}~` : `${prefix}${bound.id}` })
    for await (const [key, raw] of this.#scan(threadId, { ...CHECKPOINT_RANGE, reverse: true, ...below('c/') })) {
      const id = key.slice(2)
      yield [{ id, load: async () => decodeRecord_(threadId, id, await this.resolve(threadId, key, raw)) }]
    }
    for await (const [key, raw] of this.#scan(threadId, { ...PACK_RANGE, reverse: true, ...below('p/') })) {
      let records: CheckpointRecord[]
      try {
        records = decodePack(await this.resolve(threadId, key, raw))
      } catch (err) {
        throw isEdgegraphError(err) ? err : corruptRecord(threadId, key.slice(2), `the pack holding it and the checkpoints after it is corrupt: ${(err as Error).message}`, err)
      }
      // A pack's records go out as one batch: thousands of per-record awaits cost more than decoding them.
      const out: { id: string; rec: CheckpointRecord }[] = []
      for (let i = records.length - 1; i >= 0; i--) {
        const rec = records[i] as CheckpointRecord
        if (!bound || (bound.inclusive ? rec.id <= bound.id : rec.id < bound.id)) out.push({ id: rec.id, rec })
      }
      yield out
    }
  }

  /**
   * Moves the oldest `packSize` loose checkpoint records of a thread into one pack value, in one commit
   * guarded by the head (a writer that moved the thread meanwhile makes it fail with CONFLICT, harmlessly).
   * Returns how many records were packed (0 when there were too few).
   */
  async pack(threadId: string, expectHead: string): Promise<number> {
    const entries: [string, string][] = []
    const del: string[] = []
    for await (const [key, raw] of this.#scan(threadId, { ...CHECKPOINT_RANGE, limit: this.packSize })) {
      const text = await this.resolve(threadId, key, raw)
      decodeRecord_(threadId, key.slice(2), text) // never pack a record that cannot be read back
      entries.push([key.slice(2), text])
      del.push(key, ...chunkKeys(key, chunkCount(raw)))
    }
    if (entries.length < this.packSize) return 0
    await this.commit(threadId, this.#toPuts(packKey((entries[0] as [string, string])[0]), encodePack(entries)), del, expectHead)
    return entries.length
  }

  /** Rebuilds values oldest to newest, each from its parent: linear in the bytes read. */
  #rebuild(threadId: string, records: Map<string, { rec: CheckpointRecord; target: boolean }>, targets: string[]): Checkpoint[] {
    const ids = [...records.keys()].sort()
    const wanted = new Set(targets)
    const children = new Map<string, number>()
    for (const { rec } of records.values()) if (!rec.base && rec.parentId) children.set(rec.parentId, (children.get(rec.parentId) ?? 0) + 1)
    const built = new Map<string, Rebuilt>()
    for (const id of ids) {
      const { rec } = records.get(id) as { rec: CheckpointRecord }
      const parent = rec.base ? undefined : built.get(rec.parentId as string)
      if (!rec.base && !parent) throw corruptRecord(threadId, id, 'its parent could not be rebuilt')
      // A parent nobody else will see (not asked for, this is its only child, its values shared with no other
      // state) is advanced in place: rebuilding one checkpoint is then linear in the bytes read, not quadratic.
      // A copied state shares sub-trees with its parent, so it is never mutated.
      const inPlace = parent !== undefined && parent.owned && !wanted.has(parent.id) && children.get(parent.id) === 1
      if (inPlace) built.delete(parent.id)
      const values: Record<string, unknown> = parent ? (inPlace ? parent.values : { ...parent.values }) : {}
      const sizes: Record<string, number> = parent ? (inPlace ? parent.sizes : { ...parent.sizes }) : {}
      for (const channel of Object.keys(rec.deltas)) {
        const d = rec.deltas[channel] as Delta
        const prev = values[channel]
        // Estimate before applying: an in-place apply changes `prev`.
        sizes[channel] = estimateSize(sizes[channel], prev, d, rec.deltaBytes[channel] ?? 0)
        try {
          setOwn(values, channel, applyDelta(prev, d, inPlace))
        } catch (err) {
          throw corruptRecord(threadId, id, `channel "${channel}": ${(err as Error).message}`, err)
        }
      }
      built.set(id, {
        id,
        rec,
        values,
        sizes,
        owned: !parent || inPlace,
        usageTotal: rec.usageTotal ?? parent?.usageTotal,
        chainBytes: (parent?.chainBytes ?? 0) + rec.bytes,
        looseChain: (parent?.looseChain ?? 0) + (rec.packed ? 0 : 1),
      })
    }
    const out: Checkpoint[] = []
    for (const id of targets) {
      const b = built.get(id)
      if (!b) continue
      let d: RecordDetails
      try {
        d = b.rec.details()
      } catch (err) {
        throw corruptRecord(threadId, id, (err as Error).message, err)
      }
      // Spelled out rather than spread: this runs once per checkpoint of a history listing.
      out.push({
        threadId,
        id,
        parentId: b.rec.parentId,
        step: b.rec.step,
        createdAt: idTime(id),
        source: d.source,
        next: d.next,
        values: b.values,
        writes: d.writes,
        durationUs: d.durationUs,
        usage: d.usage,
        usageTotal: b.usageTotal,
        interrupts: d.interrupts,
        metadata: d.metadata,
        pending: [],
        pendingKeys: [],
        chainBytes: b.chainBytes,
        looseChain: b.looseChain,
        sizes: b.sizes,
      })
    }
    return out
  }

  async #attachPending(threadId: string, checkpoints: Checkpoint[], range: { from: string; to: string }): Promise<void> {
    if (checkpoints.length === 0) return
    const byId = new Map(checkpoints.map((c) => [c.id, c]))
    for await (const [key, raw] of this.#scan(threadId, range)) {
      const [, id, task] = key.split('/')
      const checkpoint = byId.get(id as string)
      if (!checkpoint) continue
      const chunks = chunkCount(raw)
      let task_: PendingTask
      try {
        task_ = decodePending(Number(task), await this.resolve(threadId, key, raw))
      } catch (err) {
        throw isEdgegraphError(err) ? err : corruptRecord(threadId, checkpoint.id, `pending write ${key}: ${(err as Error).message}`, err)
      }
      checkpoint.pending.push(task_)
      checkpoint.pendingKeys.push(key, ...chunkKeys(key, chunks))
    }
  }

  // ---- bytes and chunks ----------------------------------------------------------------------------

  #toPuts(key: string, text: string): [string, Uint8Array][] {
    return toPuts(key, text, this.adapter.limits.maxValueBytes)
  }

  /** @internal The text of a stored value as scanned, joining its chunks when it was split. */
  async resolve(threadId: string, key: string, raw: Uint8Array): Promise<string> {
    const count = chunkCount(raw)
    let bytes = raw
    if (count > 0) {
      const parts = await this.#call(threadId, () => this.adapter.get(threadId, chunkKeys(key, count)))
      const size = parts.reduce((n, p) => n + (p?.length ?? 0), 0)
      bytes = new Uint8Array(size)
      let at = 0
      for (const [i, part] of parts.entries()) {
        if (!part) throw corruptRecord(threadId, idOfKey(key), `chunk ${i + 1} of ${count} is missing`)
        bytes.set(part, at)
        at += part.length
      }
    }
    try {
      return utf8Strict.decode(bytes)
    } catch (err) {
      throw corruptRecord(threadId, idOfKey(key), 'not valid UTF-8', err)
    }
  }

  async *#scan(threadId: string, range: Parameters<StorageAdapter['scan']>[1]): AsyncIterable<[string, Uint8Array]> {
    try {
      yield* this.adapter.scan(threadId, range)
    } catch (err) {
      throw this.#wrap(threadId, err)
    }
  }

  /** Runs an adapter call, turning foreign errors into `STORAGE_FAILED` that names the adapter. */
  async #call<T>(threadId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw this.#wrap(threadId, err)
    }
  }

  #wrap(threadId: string, err: unknown): unknown {
    if (isEdgegraphError(err)) return err
    return new EdgegraphError(
      'STORAGE_FAILED',
      `The ${this.adapter.name} adapter failed for thread "${threadId}": ${(err as Error)?.message ?? String(err)}. Nothing was changed by the failed call.`,
      { cause: err, context: { threadId, adapter: this.adapter.name } },
    )
  }
}

// ---- helpers -----------------------------------------------------------------------------------------

/** A cheap fingerprint of a container's size (array length, key count), -1 for anything else. */
function shapeOf(value: unknown): number {
  if (Array.isArray(value)) return value.length
  if (value instanceof Map || value instanceof Set) return value.size
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) return Object.keys(value).length
  return -1
}

function decodeRecord_(threadId: string, id: string, text: string): CheckpointRecord {
  try {
    return decodeRecord(id, text)
  } catch (err) {
    throw corruptRecord(threadId, id, (err as Error).message, err)
  }
}

/** The writes that store `text` at `key`: one value, or a chunk marker and chunks of at most `max` bytes. */
export function toPuts(key: string, text: string, max: number): [string, Uint8Array][] {
  const bytes = utf8.encode(text)
  if (bytes.length <= max) return [[key, bytes]]
  const count = Math.ceil(bytes.length / max)
  const puts: [string, Uint8Array][] = [[key, utf8.encode(`#${count}`)]]
  chunkKeys(key, count).forEach((k, i) => puts.push([k, bytes.subarray(i * max, (i + 1) * max)]))
  return puts
}

/** How many chunks a stored value was split into (0 when it is stored whole). */
export function chunkCount(raw: Uint8Array): number {
  if (raw[0] !== CHUNK_MARK) return 0
  return Number(new TextDecoder().decode(raw.subarray(1)))
}

export function chunkKeys(key: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `k/${key}/${String(i).padStart(4, '0')}`)
}

function idOfKey(key: string): string {
  return key.split('/')[1] ?? key
}

function matches(threadId: string, rec: CheckpointRecord, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true
  let details: RecordDetails
  try {
    details = rec.details()
  } catch (err) {
    throw corruptRecord(threadId, rec.id, (err as Error).message, err)
  }
  const meta: Record<string, unknown> = { ...details.metadata, source: details.source, step: rec.step }
  return Object.entries(filter).every(([k, v]) => meta[k] === v)
}

/**
 * Estimated stored size of a channel's full value after a delta. Estimates err low for object deltas
 * (a changed key may replace an old value of the same size), which only makes snapshots come sooner.
 */
function estimateSize(prevSize: number | undefined, prev: unknown, d: Delta, jsonLength: number): number {
  if ('f' in d) return Math.max(0, jsonLength - 6)
  if ('a' in d) {
    const kept = d.t === undefined || !Array.isArray(prev) || prev.length === 0 ? (prevSize ?? 0) : ((prevSize ?? 0) * d.t) / prev.length
    return kept + jsonLength
  }
  return prevSize ?? jsonLength
}

export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b
  if (!b) return a
  return { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, costUsd: a.costUsd + b.costUsd }
}

function notFound(threadId: string, id: string): EdgegraphError {
  return new EdgegraphError(
    'CHECKPOINT_NOT_FOUND',
    `Checkpoint "${id}" does not exist in thread "${threadId}". List the thread's checkpoints with getStateHistory({ threadId }).`,
    { context: { threadId, checkpointId: id } },
  )
}

function corruptHead(threadId: string, what: string, cause?: unknown): EdgegraphError {
  return new EdgegraphError(
    'CORRUPT_RECORD',
    `The head of thread "${threadId}" is corrupt (${what}), so its newest checkpoint is unknown. Its checkpoints stay ` +
      'readable by id (getStateHistory lists them); copy what you need to a new thread, or delete the thread.',
    { cause, context: { threadId } },
  )
}

export function corruptRecord(threadId: string, checkpointId: string, what: string, cause?: unknown): EdgegraphError {
  return new EdgegraphError(
    'CORRUPT_RECORD',
    `Checkpoint "${checkpointId}" of thread "${threadId}" is corrupt (${what}). Checkpoints not built on it stay readable: ` +
      'fork from an earlier one with updateState, or delete the thread.',
    { cause, context: { threadId, checkpointId } },
  )
}
