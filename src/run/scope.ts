/** @module What a run's errors say about where they happened (thread, checkpoint, node), and the errors runs share. */
import { EdgegraphError, type ErrorContext } from '../errors.js'

/** The thread a run works on and the checkpoint it is at, for error messages and contexts. */
export class Scope {
  readonly threadId: string | undefined
  readonly #checkpoint: () => string | undefined

  constructor(threadId: string | undefined, checkpoint: () => string | undefined) {
    this.threadId = threadId
    this.#checkpoint = checkpoint
  }

  /** `thread "t" at checkpoint "c"`, or `the run` for a run without a thread. */
  where(checkpointId = this.#checkpoint()): string {
    if (this.threadId === undefined) return 'the run'
    return checkpointId ? `thread "${this.threadId}" at checkpoint "${checkpointId}"` : `thread "${this.threadId}"`
  }

  context(checkpointId = this.#checkpoint(), node?: string): ErrorContext {
    const context: ErrorContext = {}
    if (this.threadId !== undefined) context.threadId = this.threadId
    if (checkpointId) context.checkpointId = checkpointId
    if (node) context.node = node
    return context
  }

  unknownNode(name: string, where: string, node?: string, checkpointId?: string): EdgegraphError {
    return new EdgegraphError('UNKNOWN_NODE', `${where} names unknown node "${name}"; nothing was stored for this step.`, { context: this.context(checkpointId, node) })
  }
}

export function needsCheckpointer(what: string): EdgegraphError {
  return new EdgegraphError('INVALID_ARGUMENT', `${what} needs a checkpointer: compile({ checkpointer }), and a threadId`)
}

export function threadNotFound(threadId: string): EdgegraphError {
  return new EdgegraphError('THREAD_NOT_FOUND', `Thread "${threadId}" has no checkpoints. Start it with invoke(input, { threadId }).`, { context: { threadId } })
}
