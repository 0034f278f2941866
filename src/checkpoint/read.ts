/**
 * @module Reading history: one reverse scan finds the checkpoints asked for and every record needed to rebuild them
 * (stopping at each chain's snapshot); values are then rebuilt oldest to newest, each from its parent, so reading
 * N checkpoints is linear in the bytes read.
 */
import { isEdgegraphError } from '../errors.js'
import { applyDelta, type Delta } from './delta.js'
import { estimateSize } from './encode.js'
import { CHECKPOINT_RANGE, PACK_RANGE, idOfKey, taskOfKey } from './keys.js'
import { makeCheckpoint, type Checkpoint, type PendingTask, type Usage } from './model.js'
import { decodePending } from './pending.js'
import { checkpointNotFound, corruptPack, corruptRecord } from './read-errors.js'
import { approxJsonBytes, decodePack, decodeRecord, type CheckpointRecord, type RecordDetails } from './record.js'
import { setOwn } from './serde.js'
import { storedKeys, type ChunkedStorage } from './storage.js'

/** Which checkpoints to list, newest first. */
export interface ListOptions {
  /** At most this many checkpoints (the newest ones that match). */
  limit?: number
  /** Only checkpoints older than this checkpoint id. */
  before?: string
  /** Only checkpoints whose metadata has these values (`source`, `step`, or your own metadata keys). */
  filter?: Record<string, unknown>
}

/** Records found by {@link collectRecords}, by checkpoint id; `target` marks those asked for. */
export type Found = Map<string, { rec: CheckpointRecord; target: boolean }>

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
  version: number
}

type Entry = { id: string; rec: CheckpointRecord } | { id: string; load: () => Promise<CheckpointRecord> }

/**
 * One reverse scan over the thread's checkpoint records: picks the targets (given, or by list options)
 * and every ancestor needed to rebuild them, stopping at the first full snapshot of each chain.
 */
export async function collectRecords(storage: ChunkedStorage, threadId: string, what: { targets?: string[]; list?: ListOptions }): Promise<Found> {
  const found: Found = new Map()
  // Records still to find, each with the one that needs it (undefined for targets). Entries are never deleted (a
  // Map that shrinks and grows by one per record reallocates its table): `open` counts those not found yet.
  const needed = new Map<string, string | undefined>(what.targets?.map((id) => [id, undefined]))
  let open = needed.size
  const list = what.list
  let listed = 0
  const top = what.targets ? what.targets.reduce((a, b) => (a > b ? a : b)) : list?.before
  const wantMore = () => list !== undefined && (list.limit === undefined || listed < list.limit)

  scan: for await (const batch of newestFirst(storage, threadId, top === undefined ? undefined : { id: top, inclusive: what.targets !== undefined })) {
    for (const entry of batch) {
      const id = entry.id
      const isNeeded = needed.has(id) && !found.has(id)
      if (!isNeeded && !wantMore()) {
        if (open === 0) break scan
        continue
      }
      const rec = 'rec' in entry ? entry.rec : await entry.load()
      const isTarget = what.targets ? isNeeded : wantMore() && matches(threadId, rec, list?.filter)
      if (isTarget) listed++
      if (!isTarget && !isNeeded) continue
      found.set(id, { rec, target: isTarget })
      if (isNeeded) open--
      const parent = rec.parentId
      if (!rec.base && parent !== undefined && !found.has(parent) && !needed.has(parent)) {
        needed.set(parent, id)
        open++
      }
      if (open === 0 && !wantMore()) break scan
    }
  }
  for (const [id, by] of needed) {
    if (found.has(id)) continue
    if (by === undefined) throw checkpointNotFound(threadId, id)
    throw corruptRecord(threadId, by, `its parent checkpoint "${id}" is missing`)
  }
  return found
}

/**
 * Every checkpoint record of a thread, newest first, below `bound`: the loose ones (`c/`), then the packs
 * (`p/`), which only ever hold records older than every loose one. Loose records are decoded on demand.
 */
async function* newestFirst(storage: ChunkedStorage, threadId: string, bound: { id: string; inclusive: boolean } | undefined): AsyncIterable<Entry[]> {
  const below = (prefix: string) => (bound === undefined ? {} : { to: bound.inclusive ? `${prefix}${bound.id}~` : `${prefix}${bound.id}` })
  for await (const [key, raw] of storage.scan(threadId, { ...CHECKPOINT_RANGE, reverse: true, ...below('c/') })) {
    yield [{ id: idOfKey(key), load: async () => readRecord(threadId, idOfKey(key), await storage.text(threadId, key, raw)) }]
  }
  // A pack's records go out as one batch: thousands of per-record awaits cost more than decoding them.
  const batch = (records: CheckpointRecord[]) => {
    const out: Entry[] = []
    for (let i = records.length - 1; i >= 0; i--) {
      const rec = records[i] as CheckpointRecord
      if (!bound || (bound.inclusive ? rec.id <= bound.id : rec.id < bound.id)) out.push({ id: rec.id, rec })
    }
    return out
  }
  // Packs are read a few ahead, so compressed ones inflate side by side (the platform's streams work off the main
  // thread) while the caller goes through the previous one. Reads the caller never gets to are dropped, errors too.
  const ahead: Promise<CheckpointRecord[]>[] = []
  for await (const [key, raw] of storage.scan(threadId, { ...PACK_RANGE, reverse: true, ...below('p/') })) {
    const read = readPack(storage, threadId, key, raw)
    read.catch(() => {})
    ahead.push(read)
    if (ahead.length >= PACKS_AHEAD) yield batch(await (ahead.shift() as Promise<CheckpointRecord[]>))
  }
  for (const read of ahead) yield batch(await read)
}

/** How many packs {@link newestFirst} reads ahead of the one it yields. */
const PACKS_AHEAD = 8

/** Decodes a checkpoint record, reporting a malformed one as `CORRUPT_RECORD`. */
export function readRecord(threadId: string, id: string, text: string): CheckpointRecord {
  try {
    return decodeRecord(id, text)
  } catch (err) {
    throw corruptRecord(threadId, id, (err as Error).message, err)
  }
}

/** The records of the pack scanned at `key`, oldest first; a malformed pack is `CORRUPT_RECORD`. */
export async function readPack(storage: ChunkedStorage, threadId: string, key: string, raw: Uint8Array): Promise<CheckpointRecord[]> {
  try {
    return decodePack(await storage.text(threadId, key, raw))
  } catch (err) {
    throw isEdgegraphError(err) ? err : corruptPack(threadId, idOfKey(key), err)
  }
}

/** Rebuilds the values of `targets` oldest to newest, each from its parent: linear in the bytes read. */
export function rebuild(threadId: string, records: Found, targets: string[]): Checkpoint[] {
  const ids = [...records.keys()].sort()
  const wanted = new Set(targets)
  const children = new Map<string, number>()
  for (const { rec } of records.values()) if (!rec.base && rec.parentId) children.set(rec.parentId, (children.get(rec.parentId) ?? 0) + 1)
  const built = new Map<string, Rebuilt>()
  for (const id of ids) {
    const { rec } = records.get(id) as { rec: CheckpointRecord }
    const parent = rec.base ? undefined : built.get(rec.parentId as string)
    if (!rec.base && !parent) throw corruptRecord(threadId, id, 'its parent could not be rebuilt')
    // Writers start a snapshot when the state version changes; a delta across versions would rebuild wrong values.
    if (parent && parent.version !== rec.version) throw corruptRecord(threadId, id, `a delta across state versions`)
    // A parent nobody else will see (not asked for, this is its only child, its values shared with no other
    // state) is advanced in place: rebuilding one checkpoint is then linear in the bytes read, not quadratic.
    // A copied state shares sub-trees with its parent, so it is never mutated.
    // (The parent stays in `built`, advanced: it is no one's parent any more, and deleting it would cost more.)
    const inPlace = parent !== undefined && parent.owned && !wanted.has(parent.id) && children.get(parent.id) === 1
    const values: Record<string, unknown> = parent ? (inPlace ? parent.values : { ...parent.values }) : {}
    const sizes: Record<string, number> = parent ? (inPlace ? parent.sizes : { ...parent.sizes }) : {}
    for (const channel of Object.keys(rec.deltas)) {
      const d = rec.deltas[channel] as Delta
      const prev = values[channel]
      // Estimate before applying: an in-place apply changes `prev`.
      sizes[channel] = estimateSize(sizes[channel], prev, d, approxJsonBytes(d))
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
      version: rec.version,
    })
  }
  const out: Checkpoint[] = []
  for (const id of targets) {
    const b = built.get(id)
    if (!b) continue
    out.push(makeCheckpoint(threadId, id, b.rec.parentId, b.rec.step, detailsOf(threadId, b.rec), b.values, b.usageTotal, b))
  }
  return out
}

/** Adds to each checkpoint the pending writes stored in `range` for it. */
export async function attachPending(storage: ChunkedStorage, threadId: string, checkpoints: Checkpoint[], range: { from: string; to: string }): Promise<void> {
  if (checkpoints.length === 0) return
  const byId = new Map(checkpoints.map((c) => [c.id, c]))
  for await (const [key, raw] of storage.scan(threadId, range)) {
    const checkpoint = byId.get(idOfKey(key))
    if (!checkpoint) continue
    let task: PendingTask
    try {
      task = decodePending(taskOfKey(key), await storage.text(threadId, key, raw))
    } catch (err) {
      throw isEdgegraphError(err) ? err : corruptRecord(threadId, checkpoint.id, `pending write ${key}: ${(err as Error).message}`, err)
    }
    checkpoint.pending.push(task)
    checkpoint.pendingKeys.push(...storedKeys(key, raw))
  }
}

function detailsOf(threadId: string, rec: CheckpointRecord): RecordDetails {
  try {
    return rec.details()
  } catch (err) {
    throw corruptRecord(threadId, rec.id, (err as Error).message, err)
  }
}

function matches(threadId: string, rec: CheckpointRecord, filter: Record<string, unknown> | undefined): boolean {
  if (!filter) return true
  const details = detailsOf(threadId, rec)
  const meta: Record<string, unknown> = { ...details.metadata, source: details.source, step: rec.step }
  return Object.entries(filter).every(([k, v]) => meta[k] === v)
}
