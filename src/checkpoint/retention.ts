/**
 * @module Keep-last-N retention: deletes a thread's old checkpoints in one guarded commit, rewriting the
 * oldest remaining record of each delta chain as a full snapshot so everything kept loads exactly as before.
 */
import { EdgegraphError } from '../errors.js'
import type { StorageAdapter } from './adapter.js'
import { snapshotText } from './encode.js'
import { History } from './history.js'
import { CHECKPOINT_RANGE, HEAD_KEY, PENDING_RANGE, idOfKey, packKey } from './keys.js'
import type { Checkpoint } from './model.js'
import { readPack, readRecord } from './read.js'
import { corruptPack } from './read-errors.js'
import { encodePack, packTexts, type CheckpointRecord } from './record.js'
import { storedKeys } from './storage.js'

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
  const storage = history.storage
  // Read first: the commit is guarded by exactly these bytes, so anything written after this point is caught.
  const head = await storage.head(threadId)
  if (head === undefined) return { kept: 0, deleted: 0 }

  const all = async (entries: AsyncIterable<Entry>) => {
    const out: Entry[] = []
    for await (const entry of entries) out.push(entry)
    return out
  }
  const loose = await all(storage.scan(threadId, CHECKPOINT_RANGE))
  const packs: { entry: Entry; records: CheckpointRecord[]; texts: Map<string, string> }[] = []
  for (const entry of await all(storage.packs(threadId))) {
    const records = await readPack(storage, threadId, entry[0], entry[1])
    // Kept records move to the rewritten pack as parsed: the same JSON value, so the same checkpoint.
    let texts: Map<string, string>
    try {
      texts = packTexts(await storage.text(threadId, entry[0], entry[1]))
    } catch (err) {
      throw corruptPack(threadId, idOfKey(entry[0]), err)
    }
    packs.push({ entry, records, texts })
  }
  const withPending = new Set((await all(storage.scan(threadId, PENDING_RANGE))).map(([key]) => idOfKey(key)))

  const ids = [...loose.map(([key]) => idOfKey(key)), ...packs.flatMap((p) => p.records.map((r) => r.id))].sort().reverse()
  const keep = new Set(ids.slice(0, keepLast))
  keep.add(head.id)
  for (const id of ids) if (withPending.has(id)) keep.add(id)
  if (keep.size >= ids.length) return { kept: ids.length, deleted: 0 }

  // Kept records that are deltas against a deleted parent become full snapshots, rebuilt before anything changes.
  const records = new Map<string, CheckpointRecord>()
  for (const p of packs) for (const r of p.records) if (keep.has(r.id)) records.set(r.id, r)
  for (const [key, raw] of loose) {
    const id = idOfKey(key)
    if (keep.has(id)) records.set(id, readRecord(threadId, id, await storage.text(threadId, key, raw)))
  }
  const rewritten = new Map<string, string>()
  for (const rec of records.values()) {
    if (rec.base || keep.has(rec.parentId as string)) continue
    rewritten.set(rec.id, snapshotText((await history.load(threadId, rec.id)) as Checkpoint))
  }

  const put: Entry[] = []
  const del: string[] = []
  /** Stores `text` at `key` (or deletes `key` when text is undefined), dropping chunks the new value does not reuse. */
  const replace = ([key, raw]: Entry, text: string | undefined, newKey = key) => {
    const puts = text === undefined ? [] : storage.puts(newKey, text)
    const written = new Set(puts.map(([k]) => k))
    put.push(...puts)
    del.push(...storedKeys(key, raw).filter((k) => !written.has(k)))
  }
  for (const entry of loose) {
    const id = idOfKey(entry[0])
    if (!keep.has(id)) replace(entry, undefined)
    else if (rewritten.has(id)) replace(entry, rewritten.get(id))
  }
  for (const { entry, records: recs, texts } of packs) {
    if (recs.every((r) => keep.has(r.id) && !rewritten.has(r.id))) continue
    // Packs only lose records, so each still holds records older than every loose one; its key names its oldest, in
    // the range it was read from (a legacy `p/` pack stays there, older than every `a/` one).
    const left = recs.filter((r) => keep.has(r.id)).map((r): [string, string] => [r.id, rewritten.get(r.id) ?? (texts.get(r.id) as string)])
    if (left.length === 0) replace(entry, undefined)
    else replace(entry, encodePack(left), packKey((left[0] as [string, string])[0], entry[0]))
  }
  await storage.commit(threadId, { put, del }, { key: HEAD_KEY, expect: head.bytes })
  return { kept: keep.size, deleted: ids.length - keep.size }
}
