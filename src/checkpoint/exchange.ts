/**
 * @module Checkpoints in and out of a thread, one by one, for sync: what changed since a mark, which ids a thread
 * has, importing checkpoints written elsewhere (validated, idempotent, parents first), moving the head, and the
 * common ancestor of two heads. Works on checkpoints, not storage keys: each side packs and chunks as it likes.
 *
 * Besides the history keys (keys.ts) a synced thread holds `r`, a random revision rewritten by every import and
 * head move. Runs never touch it, so "r unchanged" means "only runs wrote here since", and runs only ever write
 * checkpoints with ids above the head they started from.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { isCheckpointId } from './ids.js'
import { CHECKPOINT_RANGE, HEAD_KEY, PENDING_RANGE, checkpointKey, idOfKey, packKey, pendingKey, pendingRange } from './keys.js'
import { decodePending } from './pending.js'
import { collectRecords, readRecord, rebuild, type Found } from './read.js'
import { corruptRecord } from './read-errors.js'
import { encodePack, packTexts, type CheckpointRecord } from './record.js'
import { headBytes, headGuard, storedKeys, type ChunkedStorage } from './storage.js'

export const REVISION_KEY = 'r'

/** Where a thread stood: its head and its import revision. Equal marks mean nothing but (maybe) pending writes changed. */
export interface Marks {
  head?: string | undefined
  rev?: string | undefined
  /** The head's pending writes, as `key:bytes` (an interrupt's writes land after the checkpoint they belong to). */
  pending?: string[] | undefined
}

/** One checkpoint as sync moves it: its record's JSON text, and the pending writes stored for it. */
export interface ExportedCheckpoint {
  id: string
  /** The record's JSON text (delta against its parent, or a snapshot). Absent when only pending writes travel. */
  text?: string | undefined
  /** Pending writes of the step after this checkpoint, as `[task key suffix, JSON text]`, e.g. `['003', '{...}']`. */
  pending?: [task: string, text: string][] | undefined
}

const utf8 = new TextDecoder()
const utf8Out = new TextEncoder()

function newRevision(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => (b % 36).toString(36)).join('')
}

/** What an import or a head move wrote: the new revision, and the one it replaced (so a caller can tell whether
 * anyone else changed the thread since it last looked). */
export interface RevChange {
  rev?: string | undefined
  prevRev: string | undefined
}

async function readRev(storage: ChunkedStorage, threadId: string): Promise<string | undefined> {
  const [rev] = await storage.call(threadId, (a) => a.get(threadId, [REVISION_KEY]))
  return rev === undefined ? undefined : utf8.decode(rev)
}

/** The thread's marks: head, revision, and the head's pending writes. */
export async function readMarks(storage: ChunkedStorage, threadId: string): Promise<Marks> {
  const head = (await storage.head(threadId))?.id
  const rev = await readRev(storage, threadId)
  const pending: string[] = []
  if (head !== undefined) for await (const [key, raw] of storage.scan(threadId, pendingRange(head))) pending.push(`${key}:${raw.length}`)
  return { head, rev, pending }
}

export function sameMarks(a: Marks | undefined, b: Marks): boolean {
  return a !== undefined && a.head === b.head && a.rev === b.rev && (a.pending ?? []).join() === (b.pending ?? []).join()
}

/**
 * The checkpoints that may be new since `since` (all of them when `since` is undefined or an import happened
 * since), oldest first, each with its pending writes; plus the head's pending writes, which can land after it.
 */
export async function exportChanges(storage: ChunkedStorage, threadId: string, since: Marks | undefined, now: Marks): Promise<ExportedCheckpoint[]> {
  const out = new Map<string, ExportedCheckpoint>()
  const after = isFullExport(since, now) ? undefined : since?.head
  if (after === undefined || after !== now.head) {
    for (const [id, text] of await recordTexts(storage, threadId, after)) out.set(id, { id, text })
  }
  const withPending = new Set([...out.keys()])
  if (now.head !== undefined) withPending.add(now.head)
  for await (const [key, raw] of storage.scan(threadId, PENDING_RANGE)) {
    const id = idOfKey(key)
    if (!withPending.has(id)) continue
    const entry = out.get(id) ?? { id }
    out.set(id, entry)
    ;(entry.pending ??= []).push([key.slice(key.lastIndexOf('/') + 1), await storage.text(threadId, key, raw)])
  }
  return [...out.values()].sort((a, b) => (a.id < b.id ? -1 : 1))
}

/** Whether changes since `since` are every checkpoint of the thread (then what they lack, the thread lacks). */
export function isFullExport(since: Marks | undefined, now: Marks): boolean {
  return since === undefined || since.rev !== now.rev || since.head === undefined
}

/** `[id, record text]` of every checkpoint above `after` (every one when undefined), loose and packed, oldest first. */
async function recordTexts(storage: ChunkedStorage, threadId: string, after: string | undefined): Promise<[string, string][]> {
  const out: [string, string][] = []
  for await (const [key, raw] of storage.scan(threadId, { ...CHECKPOINT_RANGE, ...(after === undefined ? {} : { from: checkpointKey(after) }) })) {
    const id = idOfKey(key)
    if (id !== after) out.push([id, await storage.text(threadId, key, raw)])
  }
  for await (const [key, raw] of storage.packs(threadId)) {
    const texts = packTexts(await storage.text(threadId, key, raw))
    for (const [id, text] of texts) if (after === undefined || id > after) out.push([id, text])
    if (after !== undefined && idOfKey(key) <= after) break
  }
  return out.sort((a, b) => (a[0] < b[0] ? -1 : 1))
}

/** Which of `ids` the thread holds (loose or packed). */
export async function holding(storage: ChunkedStorage, threadId: string, ids: string[]): Promise<Set<string>> {
  const have = new Set<string>()
  if (ids.length === 0) return have
  const values = await storage.call(threadId, (a) => a.get(threadId, ids.map(checkpointKey)))
  const missing: string[] = []
  ids.forEach((id, i) => (values[i] === undefined ? missing.push(id) : have.add(id)))
  if (missing.length === 0) return have
  const lowest = missing.reduce((a, b) => (a < b ? a : b))
  const wanted = new Set(missing)
  for await (const [key, raw] of storage.packs(threadId)) {
    for (const id of packTexts(await storage.text(threadId, key, raw)).keys()) if (wanted.has(id)) have.add(id)
    if (idOfKey(key) <= lowest) break
  }
  return have
}

/** The task index of a pending write's key suffix as sync carries it (`-in` or three digits, as keys.ts writes them). */
const taskIndex = (task: string): number => (task === '-in' ? -1 : Number(task))

function badSync(threadId: string, checkpointId: string, what: string, cause?: unknown): EdgegraphError {
  return corruptRecord(threadId, checkpointId, `received by sync: ${what}; nothing of this batch was stored`, cause)
}

/**
 * Stores checkpoints written elsewhere, parents before children, in one commit guarded by the head (a run that
 * moves the thread meanwhile makes it retry). Already-held checkpoints and pending writes are skipped, so a
 * retried import changes nothing twice. Every record is decoded and rebuilt on its parent before anything is
 * written: a batch that does not fit (garbage, a missing parent, a delta that does not apply) is refused whole.
 * Returns how many checkpoints were added, and the revision written (none when nothing was) and the one before.
 */
export async function importCheckpoints(storage: ChunkedStorage, threadId: string, batch: ExportedCheckpoint[]): Promise<{ added: number } & RevChange> {
  const items = [...batch].sort((a, b) => (a.id < b.id ? -1 : 1))
  for (const item of items) {
    if (!isCheckpointId(item.id)) throw badSync(threadId, String(item.id), 'not a checkpoint id')
    for (const [task, text] of item.pending ?? []) {
      if (!/^(?:-in|\d{3})$/.test(task)) throw badSync(threadId, item.id, `pending write "${task}" is not a task number`)
      try {
        decodePending(taskIndex(task), text)
      } catch (err) {
        throw badSync(threadId, item.id, `pending write ${task}: ${(err as Error).message}`, err)
      }
    }
  }
  for (let attempt = 0; ; attempt++) {
    const head = await storage.head(threadId)
    const prevRev = await readRev(storage, threadId)
    const have = await holding(storage, threadId, items.map((i) => i.id))
    const fresh = items.filter((i) => i.text !== undefined && !have.has(i.id))
    const records = fresh.map((i) => decodeImported(threadId, i.id, i.text as string))
    await checkFits(storage, threadId, records, have)
    const put: [string, Uint8Array][] = []
    const del: string[] = []
    await place(storage, threadId, fresh.map((i) => [i.id, i.text as string]), put, del)
    // A checkpoint continuing the step after its parent (source "loop") folded the parent's pending writes where it
    // was made; so it does here, and pending writes that arrive for a step finished here are stale.
    const finished = new Set(records.filter((r) => r.parentId !== undefined && r.details().source === 'loop').map((r) => r.parentId as string))
    for (const id of finished) {
      for await (const [key, raw] of storage.scan(threadId, pendingRange(id))) del.push(...storedKeys(key, raw))
    }
    for (const item of items) {
      if (!item.pending?.length || (item.text === undefined && !have.has(item.id))) continue
      if (finished.has(item.id) || (await continuedHere(storage, threadId, item.id))) continue
      const keys = item.pending.map(([task]) => pendingKey(item.id, taskIndex(task)))
      const existing = await storage.call(threadId, (a) => a.get(threadId, keys))
      item.pending.forEach(([, text], i) => {
        if (existing[i] === undefined) put.push(...storage.puts(keys[i] as string, text))
      })
    }
    if (put.length === 0 && del.length === 0) return { added: 0, prevRev }
    const rev = newRevision()
    put.push([REVISION_KEY, utf8Out.encode(rev)])
    try {
      await storage.commit(threadId, del.length > 0 ? { put, del } : { put }, headGuard(head?.id))
      return { added: fresh.length, rev, prevRev }
    } catch (err) {
      if (attempt < 3 && isEdgegraphError(err, 'CONFLICT')) continue
      throw err
    }
  }
}

/** Whether the thread holds a checkpoint that continued the step after `id` (so its pending writes were folded). */
async function continuedHere(storage: ChunkedStorage, threadId: string, id: string): Promise<boolean> {
  for (const [childId, text] of await recordTexts(storage, threadId, id)) {
    const rec = readRecord(threadId, childId, text)
    if (rec.parentId === id && rec.details().source === 'loop') return true
  }
  return false
}

function decodeImported(threadId: string, id: string, text: string): CheckpointRecord {
  let rec: CheckpointRecord
  try {
    rec = readRecord(threadId, id, text)
    rec.details()
  } catch (err) {
    throw badSync(threadId, id, (err as Error).message, err)
  }
  if (rec.parentId !== undefined && rec.parentId >= id) throw badSync(threadId, id, `its parent "${rec.parentId}" does not sort before it`)
  return rec
}

/** Rebuilds every imported record on its parent (held here, or earlier in the batch), so a bad delta is refused now. */
async function checkFits(storage: ChunkedStorage, threadId: string, records: CheckpointRecord[], have: Set<string>): Promise<void> {
  if (records.length === 0) return
  const inBatch = new Set(records.map((r) => r.id))
  const outside = [...new Set(records.filter((r) => !r.base && r.parentId !== undefined && !inBatch.has(r.parentId)).map((r) => r.parentId as string))]
  let found: Found = new Map()
  if (outside.length > 0) {
    try {
      found = await collectRecords(storage, threadId, { targets: outside })
    } catch (err) {
      if (!isEdgegraphError(err, 'CHECKPOINT_NOT_FOUND')) throw err
      const missing = outside.find((id) => !have.has(id)) ?? (outside[0] as string)
      throw badSync(threadId, records.find((r) => r.parentId === missing)?.id ?? missing, `its parent "${missing}" is neither here nor in the batch`, err)
    }
  }
  for (const rec of records) found.set(rec.id, { rec, target: true })
  try {
    rebuild(threadId, found, [...inBatch])
  } catch (err) {
    throw isEdgegraphError(err, 'CORRUPT_RECORD') ? badSync(threadId, (err.context.checkpointId as string) ?? '?', err.message, err) : err
  }
}

/**
 * The writes that store imported records: loose (`c/<id>`) when newer than every packed record, else merged into
 * the pack whose range they fall in, so packs keep holding only records older than every loose one, in order.
 */
async function place(storage: ChunkedStorage, threadId: string, records: [string, string][], put: [string, Uint8Array][], del: string[]): Promise<void> {
  if (records.length === 0) return
  const packs: { key: string; raw: Uint8Array; texts: Map<string, string> }[] = []
  let lowest = records.reduce((a, b) => (a[0] < b[0] ? a : b))[0]
  for await (const [key, raw] of storage.packs(threadId)) {
    packs.unshift({ key, raw, texts: packTexts(await storage.text(threadId, key, raw)) })
    if (idOfKey(key) <= lowest) break
  }
  const newestPacked = packs.length === 0 ? undefined : [...(packs[packs.length - 1] as (typeof packs)[number]).texts.keys()].reduce((a, b) => (a > b ? a : b))
  const touched = new Set<(typeof packs)[number]>()
  for (const [id, text] of records) {
    if (newestPacked === undefined || id > newestPacked) {
      put.push(...storage.puts(checkpointKey(id), text))
      continue
    }
    // The last pack starting at or below the id, or the oldest one read when the id is older than all of them.
    let pack = packs[0] as (typeof packs)[number]
    for (const p of packs) if (idOfKey(p.key) <= id) pack = p
    pack.texts.set(id, text)
    touched.add(pack)
    if (id < lowest) lowest = id
  }
  for (const pack of touched) {
    const entries = [...pack.texts].sort((a, b) => (a[0] < b[0] ? -1 : 1))
    const puts = storage.puts(packKey((entries[0] as [string, string])[0], pack.key), encodePack(entries))
    const written = new Set(puts.map(([k]) => k))
    for (const key of storedKeys(pack.key, pack.raw)) if (!written.has(key)) del.push(key)
    put.push(...puts)
  }
}

/** Moves the thread's head to `id` (which it must hold), guarded by the head the caller saw. */
export async function moveHead(storage: ChunkedStorage, threadId: string, id: string, expect: string | undefined): Promise<RevChange> {
  if (!(await holding(storage, threadId, [id])).has(id)) {
    throw new EdgegraphError('CHECKPOINT_NOT_FOUND', `Cannot move the head of thread "${threadId}" to checkpoint "${id}": it is not stored there. Sync its checkpoints first.`, {
      context: { threadId, checkpointId: id },
    })
  }
  const prevRev = await readRev(storage, threadId)
  const rev = newRevision()
  const put: [string, Uint8Array][] = [
    [HEAD_KEY, headBytes(id)],
    [REVISION_KEY, utf8Out.encode(rev)],
  ]
  await storage.commit(threadId, { put }, headGuard(expect))
  return { rev, prevRev }
}

/**
 * The newest checkpoint both `a` and `b` descend from (either may be it), or undefined when their lines share
 * none. One reverse walk: parents sort before children, so the first id reached from both sides is the answer.
 */
export async function commonAncestor(storage: ChunkedStorage, threadId: string, a: string, b: string): Promise<string | undefined> {
  let fromA = a
  let fromB = b
  const parents = await parentsDown(storage, threadId, a > b ? a : b)
  while (fromA !== fromB) {
    const next = fromA > fromB ? (fromA = parents.get(fromA) as string) : (fromB = parents.get(fromB) as string)
    if (next === undefined) return undefined
  }
  return fromA
}

/** Parent id of every checkpoint at or below `top`. */
async function parentsDown(storage: ChunkedStorage, threadId: string, top: string): Promise<Map<string, string | undefined>> {
  const parents = new Map<string, string | undefined>()
  for (const [id, text] of await recordTexts(storage, threadId, undefined)) {
    if (id > top) continue
    parents.set(id, readRecord(threadId, id, text).parentId)
  }
  return parents
}
