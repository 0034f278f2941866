/**
 * @module The one checkpoint writer: every commit a run or `updateState` makes goes through here. It encodes each
 * checkpoint against its parent, guards the commit by the thread's head, folds in the pending writes the step
 * completes, keeps commits in order when they overlap the run (async durability), and packs long chains.
 *
 * Group commit: with async durability, checkpoints written while a commit is in flight join one commit queued behind
 * it, so a run whose steps are quicker than the store's round trip is not held to one step per round trip, and its
 * queue never grows past one commit. The joined commit is guarded by the head before the first of them and lands all
 * or nothing; every checkpoint keeps its own record, so history is the same as with one commit per step.
 */
import { isEdgegraphError } from '../errors.js'
import { encodeCheckpoint } from './encode.js'
import { nextCheckpointId } from './ids.js'
import { HEAD_KEY, checkpointKey, pendingKey } from './keys.js'
import type { Batch, Guard } from './adapter.js'
import type { Checkpoint, NewCheckpoint, PendingTask } from './model.js'
import { packOldest } from './pack.js'
import { encodePending } from './pending.js'
import { headBytes, headGuard, type ChunkedStorage } from './storage.js'

/** The writer's tuning (see `HistoryOptions`). */
export interface WriterPolicy {
  snapshotFactor: number
  packSize: number
  /** The state version records and pending writes are written with. */
  version: number
}

/** A group commit stops taking checkpoints at this many, or at this many bytes, and the next one starts another. */
const GROUP_MAX_CHECKPOINTS = 256
const GROUP_MAX_BYTES = 4 * 1024 * 1024

/** A commit waiting in the queue, not yet started: checkpoints written meanwhile join it. */
interface OpenCommit {
  put: Map<string, Uint8Array>
  del: Set<string>
  guard: Guard
  checkpoints: number
  bytes: number
}

const batchBytes = (batch: Batch) => (batch.put ?? []).reduce((n, [key, value]) => n + key.length + value.length, 0)

/** Writes the checkpoints of one thread, each on top of the last, as one run (or one `updateState`) makes them. */
export class CheckpointWriter {
  readonly threadId: string
  readonly #storage: ChunkedStorage
  readonly #policy: WriterPolicy
  /** The newest checkpoint of the thread as far as this writer knows: what the next commit is guarded by. */
  #head: string | undefined
  /** The stored bytes of `#head` once this writer has put it (only `write` moves the head): the next guard, encoded once. */
  #headBytes: Uint8Array | undefined
  #parent: Checkpoint | undefined
  /** Keys of pending writes the next checkpoint completes, deleted in its commit. */
  #fold: string[] = []
  #queue: Promise<void> = Promise.resolve()
  #failure: unknown
  #inFlight = 0
  /** The pack in progress, if any. */
  #packing: Promise<void> | undefined
  /** Pack when the loose chain is longer than this: `packSize`, or further on after a pack failed. */
  #packAt: number
  /** The queued commit later checkpoints may join (async durability), while it has not started. */
  #open: OpenCommit | undefined

  constructor(storage: ChunkedStorage, threadId: string, policy: WriterPolicy, parent: Checkpoint | undefined, head: string | undefined) {
    this.#storage = storage
    this.threadId = threadId
    this.#policy = policy
    this.#parent = parent
    this.#head = head
    this.#packAt = policy.packSize
  }

  /** The checkpoint the next one is written after: the one the run started from, then the last one written. */
  get parent(): Checkpoint | undefined {
    return this.#parent
  }

  /** Whether `parent` is the thread's newest checkpoint (false when writing after an older one: a fork). */
  get atHead(): boolean {
    return this.#parent !== undefined && this.#parent.id === this.#head
  }

  /** Why an overlapped commit failed, if one did: the run stops at its next step boundary. */
  get failure(): unknown {
    return this.#failure
  }

  /** The next write completes the step these pending writes belong to, so it deletes them. */
  fold(keys: readonly string[]): void {
    for (const key of keys) if (!this.#fold.includes(key)) this.#fold.push(key)
  }

  /**
   * Writes the next checkpoint. It is encoded at once (so an unserializable value fails before anything is
   * written); the commit is awaited unless `overlap`, when it runs behind the caller, in order.
   */
  async write(input: NewCheckpoint, overlap: boolean): Promise<Checkpoint> {
    // Above the parent too: after sync moved the head to another line, a fork's parent may sort above the head.
    const parentId = this.#parent?.id
    const id = nextCheckpointId(parentId !== undefined && (this.#head === undefined || parentId > this.#head) ? parentId : this.#head)
    const { checkpoint, text, parts } = encodeCheckpoint(this.threadId, id, this.#parent, input, this.#policy)
    const head = headBytes(id)
    const records = this.#storage.puts(checkpointKey(id), text, parts)
    const put: [string, Uint8Array][] = records.length === 1 ? [records[0] as [string, Uint8Array], [HEAD_KEY, head]] : [...records, [HEAD_KEY, head]]
    const batch = this.#fold.length > 0 ? { put, del: this.#fold } : { put }
    const guard = this.#guard()
    this.#head = id
    this.#headBytes = head
    this.#parent = checkpoint
    if (this.#fold.length > 0) this.#fold = []
    if (overlap) await this.#group(batch, guard)
    else if (this.#inFlight === 0) {
      // Nothing queued (always so with sync durability): commit directly, without the queue's closure and hops.
      if (this.#failure !== undefined) throw this.#failure
      await this.#storage.commit(this.threadId, batch, guard)
    } else await this.#enqueue(() => this.#storage.commit(this.threadId, batch, guard), false)
    // Packing runs beside the next steps (it commits nothing they depend on), one pack at a time: later steps would
    // each start another attempt, a wasted scan per step, if they did not see this one running. It starts once the
    // commits queued so far have landed, so it sees every record they write. A whole pack behind, the step waits for
    // it: over a store that answers in microtasks (memory) the steps never yield to the event loop, so a pack awaiting
    // compression would wait for the run's end and pack the whole run then, with every record left loose till then.
    if (checkpoint.looseChain > this.#packAt + this.#policy.packSize) await this.#packing
    if (checkpoint.looseChain > this.#packAt) {
      this.#packing ??= this.#queue.then(() => this.#pack()).catch((err) => {
        this.#failure ??= err
      })
    }
    return checkpoint
  }

  /** Stores the pending writes of tasks of the step after the last checkpoint (a sibling failed, or a task interrupted). */
  async writePending(tasks: PendingTask[]): Promise<void> {
    const id = (this.#parent as Checkpoint).id
    const put = tasks.flatMap((t) => this.#storage.puts(pendingKey(id, t.index), encodePending(t, this.#policy.version)))
    const keys = new Set(put.map(([key]) => key))
    // A task's record rewritten (its effects' results, then how it ended) drops the chunks of the last one it leaves over.
    const del = this.#fold.filter((key) => !keys.has(key) && keys.has(key.slice(2, key.lastIndexOf('/'))))
    const guard = this.#guard()
    await this.#enqueue(() => this.#storage.commit(this.threadId, del.length > 0 ? { put, del } : { put }, guard), false)
    this.fold([...keys])
  }

  /** Waits for every commit and the pack in progress; throws the first that failed. */
  async flush(): Promise<void> {
    await this.idle()
    if (this.#failure !== undefined) throw this.#failure
  }

  /** Waits for every commit and the pack in progress, whatever they end in (neither rejects). */
  async idle(): Promise<void> {
    await this.#queue
    await this.#packing
  }

  /** The guard of the next commit: the head as this writer last put it (no need to encode it again), or as loaded. */
  #guard(): Guard {
    return this.#headBytes ? { key: HEAD_KEY, expect: this.#headBytes } : headGuard(this.#head)
  }

  async #pack(): Promise<void> {
    const { packSize } = this.#policy
    try {
      // Catch up when behind (async durability writes steps faster than they commit). Steps go on meanwhile and share
      // the packed ancestors: the count comes off the newest checkpoint, which the next one carries on from.
      while ((this.#parent?.looseChain ?? 0) > packSize) {
        const packed = await packOldest(this.#storage, this.threadId, packSize)
        if (packed === 0) break
        const last = this.#parent as Checkpoint
        last.looseChain = Math.max(0, last.looseChain - packed)
      }
      this.#packAt = packSize
    } catch (err) {
      // Packing is upkeep: the step is already committed, and a pack that cannot be written (another writer, a
      // full disk, a corrupt old record) changes nothing, so it must not fail the run. It is tried again only
      // `packSize` steps later: a failure that lasts must not cost a scan and a refused commit on every step.
      this.#packAt = (this.#parent?.looseChain ?? 0) + packSize
      if (!isEdgegraphError(err)) throw err
    } finally {
      this.#packing = undefined
    }
  }

  /**
   * Queues a checkpoint's commit behind the run (async durability): it joins the queued commit that has not started
   * yet, if there is one with room, else it is queued as one that later checkpoints may join.
   */
  async #group(batch: Batch, guard: Guard): Promise<void> {
    const bytes = batchBytes(batch)
    const open = this.#open
    // A checkpoint that deletes (pending writes it completes) starts a group: it is the first written after them.
    if (open && !batch.del?.length && open.checkpoints < GROUP_MAX_CHECKPOINTS && open.bytes + bytes <= GROUP_MAX_BYTES) {
      // A later put wins (the head); a key ends either put or deleted, never both (the contract leaves that undefined).
      for (const [key, value] of batch.put ?? []) {
        open.del.delete(key)
        open.put.set(key, value)
      }
      open.checkpoints++
      open.bytes += bytes
      return
    }
    const next: OpenCommit = { put: new Map(batch.put), del: new Set(batch.del), guard, checkpoints: 1, bytes }
    // Queued at once (an overlapped #enqueue does not wait), then opened to later checkpoints until it starts.
    const queued = this.#enqueue(() => {
      if (this.#open === next) this.#open = undefined
      const merged: Batch = { put: [...next.put] }
      if (next.del.size > 0) merged.del = [...next.del]
      return this.#storage.commit(this.threadId, merged, next.guard)
    }, true)
    this.#open = next
    await queued
  }

  /** Commits in order. With `overlap` the caller does not wait; a failure surfaces at the next wait. */
  async #enqueue(commit: () => Promise<void>, overlap: boolean): Promise<void> {
    // Whatever is queued after the open group commit must land after it: nothing joins the group past this.
    this.#open = undefined
    this.#inFlight++
    this.#queue = this.#queue
      .then(() => (this.#failure === undefined ? commit() : undefined))
      .catch((err) => {
        this.#failure ??= err
      })
      .then(() => {
        this.#inFlight--
      })
    if (!overlap) await this.flush()
  }
}
