/**
 * @module One side of a sync: the operations sync needs from a thread's history, wherever it lives. Over a storage
 * adapter ({@link historyPeer}: IndexedDB, Dexie, memory, the remote adapter, any other), or over HTTP to the
 * Worker's sync routes (`workerRemote` in ./http.ts), which run the same operations next to the thread's Durable
 * Object.
 */
import type { StorageAdapter } from '../checkpoint/adapter.js'
import { commonAncestor, exportChanges, holding, isFullExport, importCheckpoints, moveHead, readMarks, sameMarks, type ExportedCheckpoint, type Marks, type RevChange } from '../checkpoint/exchange.js'
import { ChunkedStorage } from '../checkpoint/storage.js'

export type { ExportedCheckpoint, Marks, RevChange }

/** What a pull answers: where the thread stands, and what changed since the marks given (absent when nothing did). */
export interface PullAnswer {
  marks: Marks
  changes?: ExportedCheckpoint[] | undefined
  /** The changes are every checkpoint of the thread, so what is not among them, the thread does not hold. */
  full?: boolean | undefined
}

/** The operations sync runs on each side of a thread. */
export interface SyncPeer {
  readonly name: string
  /** Marks, and the checkpoints that may be new since `since` (all of them without it), oldest first. */
  pull(threadId: string, since: Marks | undefined): Promise<PullAnswer>
  /** Which of `ids` the thread holds. */
  has(threadId: string, ids: string[]): Promise<string[]>
  /** Stores checkpoints written elsewhere (idempotent, validated, parents first); the revision written and the one before. */
  push(threadId: string, checkpoints: ExportedCheckpoint[]): Promise<{ added: number } & RevChange>
  /** Moves the head to a checkpoint it holds, if the head is still `expect`; the revision written and the one before. */
  moveHead(threadId: string, id: string, expect: string | undefined): Promise<RevChange>
}

/** A sync side over a storage adapter, reading and writing through the history layer. */
export interface HistoryPeer extends SyncPeer {
  readonly storage: ChunkedStorage
  commonAncestor(threadId: string, a: string, b: string): Promise<string | undefined>
}

/** The sync operations on a storage adapter (the local store, or any adapter used as the remote). */
export function historyPeer(adapter: StorageAdapter): HistoryPeer {
  const storage = new ChunkedStorage(adapter)
  return {
    name: adapter.name,
    storage,
    async pull(threadId, since) {
      const marks = await readMarks(storage, threadId)
      if (sameMarks(since, marks)) return { marks }
      return { marks, changes: await exportChanges(storage, threadId, since, marks), full: isFullExport(since, marks) }
    },
    async has(threadId, ids) {
      return [...(await holding(storage, threadId, ids))]
    },
    push: (threadId, checkpoints) => importCheckpoints(storage, threadId, checkpoints),
    moveHead: (threadId, id, expect) => moveHead(storage, threadId, id, expect),
    commonAncestor: (threadId, a, b) => commonAncestor(storage, threadId, a, b),
  }
}
