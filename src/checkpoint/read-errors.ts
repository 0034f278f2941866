/** @module The errors of reading history: a checkpoint that does not exist, a record or head that cannot be decoded. */
import { EdgegraphError } from '../errors.js'

export function checkpointNotFound(threadId: string, id: string): EdgegraphError {
  return new EdgegraphError(
    'CHECKPOINT_NOT_FOUND',
    `Checkpoint "${id}" does not exist in thread "${threadId}"; getStateHistory({ threadId }) lists those that do.`,
    { context: { threadId, checkpointId: id } },
  )
}

export function corruptHead(threadId: string, what: string, cause?: unknown): EdgegraphError {
  return new EdgegraphError(
    'CORRUPT_RECORD',
    `The head of thread "${threadId}" is corrupt (${what}). getStateHistory still lists its checkpoints: copy what you need to a new thread, or delete it.`,
    { cause, context: { threadId } },
  )
}

export function corruptRecord(threadId: string, checkpointId: string, what: string, cause?: unknown): EdgegraphError {
  return new EdgegraphError(
    'CORRUPT_RECORD',
    `Checkpoint "${checkpointId}" of thread "${threadId}" is corrupt (${what}). Earlier checkpoints stay readable: fork from one with updateState, or delete the thread.`,
    { cause, context: { threadId, checkpointId } },
  )
}

/** A pack (named by its oldest checkpoint) that cannot be decoded: every checkpoint it holds, and those built on them, are lost. */
export function corruptPack(threadId: string, oldestId: string, cause: unknown): EdgegraphError {
  return corruptRecord(threadId, oldestId, `its pack is corrupt: ${(cause as Error)?.message ?? String(cause)}`, cause)
}
