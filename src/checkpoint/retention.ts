/**
 * @module Keep-last-N retention: deletes a thread's old checkpoints in one guarded commit, rewriting the
 * oldest remaining record of each delta chain as a full snapshot so everything kept loads exactly as before.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { sameBytes, type StorageAdapter } from './adapter.js'
import { fullDelta } from './delta.js'
import { History, chunkCount, chunkKeys, corruptRecord, toPuts, type Checkpoint } from './history.js'
import {
  CHECKPOINT_RANGE,
  HEAD_KEY,
  PACK_RANGE,
  PENDING_RANGE,
  decodePack,
  decodeRecord,
  encodePack,
  encodeRecord,
  packKey,
  type CheckpointRecord,
} from './record.js'
import { encodeValue } from './serde.js'

/** A stored value as scanned: its key and raw bytes (maybe a chunk marker). */
type Entry = [key: string, raw: Uint8Array]

/**
 * Deletes the old checkpoints of a thread, keeping the `keepLast` newest (by id, across every branch and fork),
 * the head, and every checkpoint with pending writes (an open interrupt or a failed step on some fork).
 *
 * Everything kept loads exactly as before: same values, metadata, next tasks, usage and pending writes.
 * A kept checkpoint whose parent is deleted is rewritten as a full snapshot; it still names that parent
 * (`metadata.parentId`, `parentConfig`) as provenance, but nothing reads it any more, and `getState` on it
 * gives `CHECKPOINT_NOT_FOUND`. The thread can be continued, forked and resumed as usual afterwards.
 *
 * All changes are one commit guarded by the thread's head: a run that commits meanwhile makes this fail
 * with `CONFLICT` and change nothing (call it again). On adapters with `lockThread` (IndexedDB, Dexie) it
 * holds the thread's lock. Elsewhere, do not prune while a run that *forked from an old checkpoint* is in
 * flight on the thread: if that checkpoint is deleted before the run commits, the run's first new checkpoint
 * is stored as a delta against a parent that is gone.
 *
 * The commit holds one delete per removed key plus the rewritten snapshots and packs, so prune as you go
 * (e.g. after each run) rather than once over a history of many thousand checkpoints.
 *
 * @returns how many checkpoints the thread holds afterwards, and how many were deleted
 *   (`{ kept: 0, deleted: 0 }` for a thread with no checkpoints).
 * @example
 * const { deleted } = await pruneHistory(checkpointer, threadId, { keepLast: 50 })
 */
export async function pruneHistory(checkpointer: StorageAdapter, threadId: string, options: { keepLast: number }): Promise<{ kept: number; deleted: number }> {
  const history = new History(checkpointer)
  const keepLast = options?.keepLast
  if (typeof threadId !== 'string' || threadId === '') throw new EdgegraphError('INVALID_ARGUMENT', 'pruneHistory(checkpointer, threadId, options) needs a thread id (a non-empty string)')
  if (typeof keepLast !== 'number' || !Number.isInteger(keepLast) || keepLast < 1) {
    throw new EdgegraphError('INVALID_ARGUMENT', `pruneHistory(..., { keepLast }) for thread "${threadId}" needs keepLast to be an integer of at least 1, got ${String(keepLast)}`, { context: { threadId } })
  }
  const prune = () => pruneThread(history, threadId, keepLast)
  return checkpointer.lockThread ? checkpointer.lockThread(threadId, prune, { wait: true }) : prune()
}

async function pruneThread(history: History, threadId: string, keepLast: number): Promise<{ kept: number; deleted: number }> {
  const adapter = history.adapter
  const call = <T>(fn: () => Promise<T>) => storageCall(adapter, threadId, fn)
  // Read first: the commit is guarded by exactly these bytes, so anything written after this point is caught.
  const [headBytes] = await call(() => adapter.get(threadId, [HEAD_KEY]))
  if (headBytes === undefined) return { kept: 0, deleted: 0 }
  const headId = (await history.head(threadId)) as string
  if (!sameBytes(headBytes, new TextEncoder().encode(headId))) throw moved(adapter, threadId)

  const scan = (range: { from: string; to: string }) => call(() => collect(adapter.scan(threadId, range)))
  const loose = await scan(CHECKPOINT_RANGE)
  const packs: { entry: Entry; records: CheckpointRecord[]; texts: Map<string, string> }[] = []
  for (const entry of await scan(PACK_RANGE)) {
    const text = await history.resolve(threadId, entry[0], entry[1])
    let records: CheckpointRecord[]
    let raw: [string, number, unknown][]
    try {
      records = decodePack(text)
      raw = JSON.parse(text) as [string, number, unknown][]
    } catch (err) {
      throw corruptRecord(threadId, entry[0].slice(2), `the pack holding it and the checkpoints after it is corrupt: ${(err as Error).message}`, err)
    }
    // Kept records move to the rewritten pack as parsed: the same JSON value, so the same checkpoint.
    packs.push({ entry, records, texts: new Map(raw.map(([id, , rec]) => [id, JSON.stringify(rec)])) })
  }
  const withPending = new Set((await scan(PENDING_RANGE)).map(([key]) => key.split('/')[1] as string))

  const ids = [...loose.map(([key]) => key.slice(2)), ...packs.flatMap((p) => p.records.map((r) => r.id))].sort().reverse()
  const keep = new Set(ids.slice(0, keepLast))
  keep.add(headId)
  for (const id of ids) if (withPending.has(id)) keep.add(id)
  if (keep.size >= ids.length) return { kept: ids.length, deleted: 0 }

  // Kept records that are deltas against a deleted parent become full snapshots, rebuilt before anything changes.
  const records = new Map<string, CheckpointRecord>()
  for (const p of packs) for (const r of p.records) if (keep.has(r.id)) records.set(r.id, r)
  for (const entry of loose) {
    const id = entry[0].slice(2)
    if (!keep.has(id)) continue
    const text = await history.resolve(threadId, entry[0], entry[1])
    try {
      records.set(id, decodeRecord(id, text))
    } catch (err) {
      throw corruptRecord(threadId, id, (err as Error).message, err)
    }
  }
  const rewritten = new Map<string, string>()
  for (const rec of records.values()) {
    if (rec.base || keep.has(rec.parentId as string)) continue
    rewritten.set(rec.id, snapshotRecord((await history.load(threadId, rec.id)) as Checkpoint))
  }

  const max = adapter.limits.maxValueBytes
  const put: Entry[] = []
  const del: string[] = []
  /** Stores `text` at `key` (or deletes `key` when text is undefined), dropping chunks the new value does not reuse. */
  const replace = ([key, raw]: Entry, text: string | undefined, newKey = key) => {
    const puts = text === undefined ? [] : toPuts(newKey, text, max)
    const written = new Set(puts.map(([k]) => k))
    put.push(...puts)
    del.push(...[key, ...chunkKeys(key, chunkCount(raw))].filter((k) => !written.has(k)))
  }
  for (const entry of loose) {
    const id = entry[0].slice(2)
    if (!keep.has(id)) replace(entry, undefined)
    else if (rewritten.has(id)) replace(entry, rewritten.get(id))
  }
  for (const { entry, records: recs, texts } of packs) {
    if (recs.every((r) => keep.has(r.id) && !rewritten.has(r.id))) continue
    // Packs only lose records, so each still holds records older than every loose one; its key names its oldest.
    const left = recs.filter((r) => keep.has(r.id)).map((r): [string, string] => [r.id, rewritten.get(r.id) ?? (texts.get(r.id) as string)])
    if (left.length === 0) replace(entry, undefined)
    else replace(entry, encodePack(left), packKey((left[0] as [string, string])[0]))
  }
  await call(() => adapter.commit(threadId, { put, del }, { key: HEAD_KEY, expect: headBytes }))
  return { kept: keep.size, deleted: ids.length - keep.size }
}

/** A checkpoint as a full-snapshot record: every channel value in full, every other field as it was. */
function snapshotRecord(c: Checkpoint): string {
  return encodeRecord({
    parentId: c.parentId,
    step: c.step,
    base: true,
    source: c.source,
    next: c.next,
    deltas: Object.keys(c.values).map((channel) => [channel, JSON.stringify(fullDelta(c.values[channel], { channel, path: [] }))]),
    writes: c.writes,
    durationUs: c.durationUs,
    usage: c.usage,
    usageTotal: c.usageTotal,
    interrupts: c.interrupts,
    metadata: c.metadata === undefined ? undefined : encodeValue(c.metadata, { channel: 'metadata', path: [] }),
  })
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of items) out.push(item)
  return out
}

async function storageCall<T>(adapter: StorageAdapter, threadId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (isEdgegraphError(err)) throw err
    throw new EdgegraphError(
      'STORAGE_FAILED',
      `The ${adapter.name} adapter failed while pruning thread "${threadId}": ${(err as Error)?.message ?? String(err)}. Nothing was deleted.`,
      { cause: err, context: { threadId, adapter: adapter.name } },
    )
  }
}

function moved(adapter: StorageAdapter, threadId: string): EdgegraphError {
  return new EdgegraphError('CONFLICT', `Thread "${threadId}" moved while pruneHistory was reading it (${adapter.name} adapter). Nothing was deleted; call it again.`, {
    context: { threadId, adapter: adapter.name },
  })
}
