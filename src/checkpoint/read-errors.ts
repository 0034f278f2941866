/** @module The errors of reading history: a checkpoint that does not exist, a record or head that cannot be decoded. */
import { EdgegraphError } from '../errors.js'

export function checkpointNotFound(threadId: string, id: string): EdgegraphError {
  return new EdgegraphError(
    'CHECKPOINT_NOT_FOUND',
    `Checkpoint "${id}" does not exist in thread "${threadId}". List the thread's checkpoints with getStateHistory({ threadId }).`,
    { context: { threadId, checkpointId: id } },
  )
}

export function corruptHead(threadId: string, what: string, cause?: unknown): EdgegraphError {
  return new EdgegraphError(
    'CORRUPT_RECORD',
    `The head of thread "${threadId}" is corrupt (${what}). Its checkpoints stay readable by id (getStateHistory lists them): copy what you need to a new thread, or delete it.`,
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

/** A pack (named by its oldest checkpoint) that cannot be decoded: every checkpoint it holds, and those built on them, are lost. */
export function corruptPack(threadId: string, oldestId: string, cause: unknown): EdgegraphError {
  return corruptRecord(threadId, oldestId, `the pack holding it and the checkpoints after it is corrupt: ${(cause as Error)?.message ?? String(cause)}`, cause)
}
