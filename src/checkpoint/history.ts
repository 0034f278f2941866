/**
 * @module The history layer's entry point: a graph's checkpoints on one storage adapter. Reading is in read.ts,
 * writing goes through one {@link CheckpointWriter} per run (writer.ts), the stored form is in record.ts and keys.ts.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import type { StorageAdapter } from './adapter.js'
import { shapesOf } from './encode.js'
import { PENDING_RANGE, pendingRange } from './keys.js'
import type { Checkpoint } from './model.js'
import { attachPending, collectRecords, loadChain, rebuild, type ListOptions } from './read.js'
import { corruptHead } from './read-errors.js'
import { ChunkedStorage } from './storage.js'
import { CheckpointWriter, type WriterPolicy } from './writer.js'

export type { ListOptions }

/** How checkpoints are stored: `compile({ checkpointer: { adapter, snapshotFactor, packSize } })`. */
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

/** A graph's state version, and how it brings the values of older checkpoints up to it (`compile({ version, migrations })`). */
export interface StateVersion {
  version: number
  /** The values of a checkpoint written by a lower state version, as of `version`. */
  migrate(checkpoint: Checkpoint): Record<string, unknown>
}

/** Checkpoint history of all threads on one adapter. */
export class History {
  readonly storage: ChunkedStorage
  readonly #policy: WriterPolicy
  /** Without one (retention, raw reads), checkpoints are read as stored, whatever their version. */
  readonly #state: StateVersion | undefined

  constructor(adapter: StorageAdapter, options: HistoryOptions = {}, state?: StateVersion) {
    this.storage = new ChunkedStorage(adapter)
    this.#policy = { snapshotFactor: options.snapshotFactor ?? 2, packSize: options.packSize ?? 64, version: state?.version ?? 1 }
    this.#state = state
  }

  get adapter(): StorageAdapter {
    return this.storage.adapter
  }

  /** Id of the newest checkpoint of a thread, or undefined for a thread with no checkpoints. */
  async head(threadId: string): Promise<string | undefined> {
    return (await this.storage.head(threadId))?.id
  }

  /** Loads a checkpoint (the newest when `checkpointId` is absent); undefined when the thread has none. */
  async load(threadId: string, checkpointId?: string): Promise<Checkpoint | undefined> {
    const id = checkpointId ?? (await this.head(threadId))
    if (id === undefined) return undefined
    let checkpoint
    try {
      checkpoint = await loadChain(this.storage, threadId, id)
    } catch (err) {
      if (checkpointId === undefined && isEdgegraphError(err, 'CHECKPOINT_NOT_FOUND')) throw corruptHead(threadId, `it names checkpoint "${id}", which does not exist`, err)
      throw err
    }
    await attachPending(this.storage, threadId, [checkpoint], pendingRange(id))
    this.#upgrade(checkpoint)
    checkpoint.shapes = shapesOf(checkpoint.values)
    return checkpoint
  }

  /** Checkpoints of a thread, newest first. */
  async list(threadId: string, options: ListOptions = {}): Promise<Checkpoint[]> {
    const records = await collectRecords(this.storage, threadId, { list: options })
    const targets = [...records.values()].filter((r) => r.target).map((r) => r.rec.id)
    const checkpoints = rebuild(threadId, records, targets)
    await attachPending(this.storage, threadId, checkpoints, PENDING_RANGE)
    for (const c of checkpoints) this.#upgrade(c)
    return checkpoints
  }

  /**
   * Brings a checkpoint of an older state version up to this graph's, and refuses one of a newer version. The writes
   * of tasks that finished under another version fit that version's state, so they are dropped and those tasks run
   * again; the rest of what a task left (interrupt values and answers) is kept, and so is the input stored with a
   * resume (task -1), as given.
   */
  #upgrade(c: Checkpoint): void {
    const s = this.#state
    if (!s) return
    if (c.version > s.version) {
      throw new EdgegraphError(
        'VERSION_TOO_NEW',
        `Checkpoint "${c.id}" of thread "${c.threadId}" has state version ${c.version}, newer than this graph's ${s.version}: deploy the code of version ${c.version} to read or continue it. Nothing was written.`,
        { context: { threadId: c.threadId, checkpointId: c.id } },
      )
    }
    if (c.version < s.version) c.values = s.migrate(c)
    c.pending = c.pending.map((p) => {
      if (!p.writes || p.index < 0 || (p.version ?? 1) === s.version) return p
      const { writes, goto, ...rest } = p
      return rest
    })
  }

  /**
   * A writer for new checkpoints of a thread, after its newest checkpoint or after `checkpointId` (a fork); its
   * `parent` is that checkpoint (undefined for a new thread).
   */
  async writer(threadId: string, checkpointId?: string): Promise<CheckpointWriter> {
    const parent = await this.load(threadId, checkpointId)
    const head = checkpointId === undefined ? parent?.id : await this.head(threadId)
    return new CheckpointWriter(this.storage, threadId, this.#policy, parent, head)
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.storage.call(threadId, (a) => a.deleteThread(threadId))
  }
}
