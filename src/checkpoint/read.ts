/**
 * @module Reading history: one reverse scan finds the checkpoints asked for and every record needed to rebuild them
 * (stopping at each chain's snapshot); values are then rebuilt oldest to newest, each from its parent, so reading
 * N checkpoints is linear in the bytes read. One checkpoint (getState, a run's start) takes a leaner path,
 * {@link loadChain}: the records on its chain are never made into objects, only the state is advanced.
 */
import { isEdgegraphError } from '../errors.js'
import { applyDelta, type Delta } from './delta.js'
import { estimateSize } from './encode.js'
import { CHECKPOINT_RANGE, PACK_PREFIXES, checkpointKey, idOfKey, taskOfKey } from './keys.js'
import { makeCheckpoint, type Checkpoint, type PendingTask } from './model.js'
import { decodePending } from './pending.js'
import { checkpointNotFound, corruptPack, corruptRecord } from './read-errors.js'
import { approxJsonBytes, parentAt, readColumns, recordAt, recordsOf, type CheckpointRecord, type Pack, type RecordDetails } from './record.js'
import { decodeValue, setOwn, type Encoded } from './serde.js'
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

/** A state on the way to the checkpoints asked for, with the snapshot policy's bookkeeping. */
type Rebuilt = Pick<Checkpoint, 'values' | 'sizes' | 'usageTotal' | 'chainBytes' | 'looseChain' | 'version'> & {
  /** Its values share no structure with any other state, so a child may advance them in place. */
  owned: boolean
}

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
  // Ids below `bound` are read: `~` sorts after every id character, so a target's own id is read too.
  const bound = what.targets ? `${what.targets.reduce((a, b) => (a > b ? a : b))}~` : (list?.before ?? '~')
  const wantMore = () => list !== undefined && (list.limit === undefined || listed < list.limit)

  scan: for await (const pack of newestFirst(storage, threadId, bound)) {
    for (let k = pack.i.length - 1; k >= 0; k--) {
      const id = pack.i[k] as string
      if (id >= bound) continue
      const isNeeded = needed.has(id) && !found.has(id)
      if (!isNeeded && !wantMore()) {
        if (open === 0) break scan
        continue
      }
      const rec = recordAt(pack, k)
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
 * Checkpoint `id` rebuilt: one reverse scan follows its chain back to a snapshot, taking from each pack only the
 * indexes of the entries on it, then the values are advanced in place from the snapshot, a channel column at a time,
 * with no record made for a packed entry but the checkpoint's own.
 */
export async function loadChain(storage: ChunkedStorage, threadId: string, id: string): Promise<Checkpoint> {
  // Newest first: each pack (a loose record is one too) with the indexes of its entries on the chain, newest first.
  const chain: [Pack, number[]][] = []
  const state = fresh()
  let head: CheckpointRecord | undefined
  let want: string | undefined = id
  let by: string | undefined
  for await (const pack of newestFirst(storage, threadId, `${id}~`)) {
    const ks: number[] = []
    let k = pack.i.lastIndexOf(want as string)
    // This runs once a read, mostly cold, through thousands of entries in a chat: past the checkpoint's own, a run of
    // entries with no rare fields, each the parent of the one above it (`p` 0), takes two operations an entry. The
    // checks below take the entry it ends on (a version other than the state's, 1 in the run, fails there as it would
    // have at the run's first entry, with the same `by`), and any other.
    if (!pack.x && by && k > 0) {
      for (; k > 0 && pack.p[k] === 0; k--) {
        ks.push(k)
        state.chainBytes += pack.n[k] as number
      }
      want = pack.i[k]
    }
    for (; k >= 0 && want; k--) {
      if (pack.i[k] !== want) continue
      const rare = pack.x?.[k]
      const version = rare?.v ?? 1
      // Writers start a snapshot when the state version changes; a delta across versions would rebuild wrong values.
      if (by && version !== state.version) throw corruptRecord(threadId, by, 'a delta across state versions')
      head ??= recordAt(pack, k)
      ks.push(k)
      by = want
      state.version = version
      state.chainBytes += pack.n[k] as number
      if (pack.loose) state.looseChain++
      state.usageTotal ??= rare?.ut
      want = rare?.b === 1 ? undefined : parentAt(pack, k)
    }
    chain.push([pack, ks])
    if (!want) break
  }
  if (!head || want) throw by ? corruptRecord(threadId, by, `its parent checkpoint "${want}" is missing`) : checkpointNotFound(threadId, id)
  // Channels change independently, so each column is applied through a pack in one go. An array ("append these",
  // thousands a read in a chat) is pushed here item by item without making its delta: this loop runs once, mostly cold.
  for (const [pack, ks] of chain.reverse()) {
    for (const channel in pack.c) {
      const column = pack.c[channel] as (Delta | Encoded[] | 0)[]
      for (let m = ks.length - 1; m >= 0; m--) {
        const k = ks[m] as number
        const e = column[k] as Delta | Encoded[] | 0
        const list = state.values[channel]
        if (Array.isArray(e) && Array.isArray(list)) {
          // What estimateSize and applyDelta do for `{ a: e }`.
          let size = (state.sizes[channel] as number) + 9
          for (const item of e) {
            size += approxJsonBytes(item) + 1
            list.push(decodeValue(item))
          }
          state.sizes[channel] = size
        } else if (e !== 0) put(threadId, pack.i[k] as string, state, channel, e, true)
      }
    }
  }
  return checkpointOf(threadId, head, state)
}

/**
 * Applies delta `d` of record `id` to `channel` of `state`, in place when `inPlace` (the state owns its values). An
 * array is a pack column's "append these" onto a value that is not a list (so applying it fails as corrupt).
 */
function put(threadId: string, id: string, state: Rebuilt, channel: string, d: Delta | Encoded[], inPlace: boolean): void {
  const prev = state.values[channel]
  try {
    // Estimate before applying: an in-place apply changes `prev`.
    state.sizes[channel] = estimateSize(state.sizes[channel], prev, d as Delta, approxJsonBytes(d))
    setOwn(state.values, channel, applyDelta(prev, d as Delta, inPlace))
  } catch (err) {
    throw corruptRecord(threadId, id, `channel "${channel}": ${(err as Error).message}`, err)
  }
}

/**
 * Every checkpoint record of a thread, newest first, with ids below `bound`, as packs: the loose ones (`c/`), each a
 * pack of one, then the packs (`a/`, then legacy `p/`), which only ever hold records older than every loose one.
 */
async function* newestFirst(storage: ChunkedStorage, threadId: string, bound: string): AsyncIterable<Pack> {
  for await (const [key, raw] of storage.scan(threadId, { ...CHECKPOINT_RANGE, to: checkpointKey(bound), reverse: true })) {
    yield await packAt(storage, threadId, key, raw, true)
  }
  // Packs are read a few ahead, so compressed ones inflate side by side (the platform's streams work off the main
  // thread) while the caller goes through the previous one. Reads the caller never gets to are dropped, errors too.
  // Each prefix is read out before the next is scanned: a caller that finds its chain in the `a/` packs stops before
  // the legacy `p/` range costs a request.
  for (const p of PACK_PREFIXES) {
    const ahead: Promise<Pack>[] = []
    for await (const [key, raw] of storage.scan(threadId, { from: p, to: p + bound, reverse: true })) {
      const read = packAt(storage, threadId, key, raw)
      read.catch(() => {})
      ahead.push(read)
      if (ahead.length >= PACKS_AHEAD) yield await (ahead.shift() as Promise<Pack>)
    }
    for (const read of ahead) yield await read
  }
}

/** How many packs {@link newestFirst} reads ahead of the one it yields. */
const PACKS_AHEAD = 8

/** Decodes a checkpoint record, reporting a malformed one as `CORRUPT_RECORD`. */
export function readRecord(threadId: string, id: string, text: string): CheckpointRecord {
  return recordAt(parse(threadId, id, text, true), 0)
}

/** The records of the pack scanned at `key`, oldest first; a malformed pack is `CORRUPT_RECORD`. */
export async function readPack(storage: ChunkedStorage, threadId: string, key: string, raw: Uint8Array): Promise<CheckpointRecord[]> {
  return recordsOf(await packAt(storage, threadId, key, raw))
}

/** The columns of the value scanned at `key`: a pack, or (`loose`) a loose record, as a pack of one. */
async function packAt(storage: ChunkedStorage, threadId: string, key: string, raw: Uint8Array, loose = false): Promise<Pack> {
  return parse(threadId, idOfKey(key), await storage.text(threadId, key, raw), loose)
}

/** The columns of a pack, or of loose record `id`; a malformed one is `CORRUPT_RECORD`. */
function parse(threadId: string, id: string, text: string, loose: boolean): Pack {
  try {
    return readColumns(text, loose ? id : undefined)
  } catch (err) {
    throw loose ? corruptRecord(threadId, id, (err as Error).message, err) : corruptPack(threadId, id, err)
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
    const parentId = rec.parentId as string
    const from = rec.base ? undefined : built.get(parentId)
    if (!rec.base && !from) throw corruptRecord(threadId, id, 'its parent could not be rebuilt')
    // A parent nobody else will see (not asked for, this is its only child, its values shared with no other
    // state) is advanced in place: rebuilding one checkpoint is then linear in the bytes read, not quadratic.
    // A copied state shares sub-trees with its parent, so it is never mutated.
    // (The parent stays in `built`, advanced: it is no one's parent any more, and deleting it would cost more.)
    const inPlace = from !== undefined && from.owned && !wanted.has(parentId) && children.get(parentId) === 1
    const state = !from ? fresh() : inPlace ? from : { ...from, values: { ...from.values }, sizes: { ...from.sizes }, owned: false }
    if (from && from.version !== rec.version) throw corruptRecord(threadId, id, 'a delta across state versions')
    state.version = rec.version
    state.chainBytes += rec.bytes
    if (!rec.packed) state.looseChain++
    state.usageTotal = rec.usageTotal ?? state.usageTotal
    for (const channel in rec.deltas) put(threadId, id, state, channel, rec.deltas[channel] as Delta, inPlace)
    built.set(id, state)
  }
  const out: Checkpoint[] = []
  for (const id of targets) {
    const state = built.get(id)
    if (state) out.push(checkpointOf(threadId, (records.get(id) as { rec: CheckpointRecord }).rec, state))
  }
  return out
}

const fresh = (): Rebuilt => ({ values: {}, sizes: {}, usageTotal: undefined, chainBytes: 0, looseChain: 0, version: 0, owned: true })

function checkpointOf(threadId: string, rec: CheckpointRecord, state: Rebuilt): Checkpoint {
  return makeCheckpoint(threadId, rec.id, rec.parentId, rec.step, detailsOf(threadId, rec), state.values, state.usageTotal, state)
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
