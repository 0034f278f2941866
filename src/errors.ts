/** @module The one error family of edgegraph: a stable `code` to switch on, context, and the original `cause`. */

/**
 * Every stable error code, in one list: the type {@link ErrorCode} is taken from it, and code that receives a
 * code from elsewhere (the remote adapter, from a server) checks it against it. Switch on `err.code`, never on
 * the message text.
 *
 * - `INVALID_GRAPH`: the graph definition is wrong (unknown node, duplicate name, END unreachable...).
 * - `INVALID_ARGUMENT`: an API was called with a value it cannot accept.
 * - `INVALID_UPDATE`: a node or `updateState` wrote something the state cannot take
 *   (unknown channel, two writers to a channel without a reducer, schema validation failure).
 * - `UNSERIALIZABLE`: a state value cannot be stored (function, class instance, symbol, cycle...).
 * - `UNKNOWN_NODE`: a `Command.goto` or `Send` or edge function named a node the graph does not have.
 * - `THREAD_NOT_FOUND` / `CHECKPOINT_NOT_FOUND`: nothing stored under that thread or checkpoint id.
 * - `NO_PENDING_INTERRUPT`: a resume value was given but the checkpoint is not waiting for one.
 * - `NODE_FAILED`: a node threw; `cause` is what it threw. Resume with `invoke(null, { threadId })`.
 * - `RECURSION_LIMIT`: a run took more steps than `recursionLimit`.
 * - `ABORTED`: the run's `signal` was aborted; the last checkpoint is intact.
 * - `CONFLICT`: another writer moved the thread since this run read it; nothing was written.
 * - `CORRUPT_RECORD`: a stored record could not be decoded; other checkpoints stay readable.
 * - `VALUE_TOO_LARGE`: an adapter was handed a value above its `limits.maxValueBytes`.
 * - `QUOTA_EXCEEDED`: the storage backend is out of space; the last good checkpoint is intact.
 * - `STORAGE_FAILED`: the storage backend failed for another reason; see `cause`.
 * - `STORAGE_UNAVAILABLE`: the store cannot be opened or used (storage denied, private mode, blocked or
 *   upgraded by another tab, written by a newer version); the message says what to do.
 * - `THREAD_BUSY`: another tab or process is running this thread and the run asked not to wait.
 * - `KEY_UNAVAILABLE`: an encrypted value cannot be read because its key is gone: the thread's data key was
 *   destroyed (`shred`, right to erasure) or its master key is not among the keys given to `withEncryption`.
 * - `VERSION_TOO_NEW`: a checkpoint was written by a newer state version (`compile({ version })`) than the graph
 *   reading it; deploy the newer code. Nothing was written.
 */
export const ERROR_CODES = [
  'INVALID_GRAPH',
  'INVALID_ARGUMENT',
  'INVALID_UPDATE',
  'UNSERIALIZABLE',
  'UNKNOWN_NODE',
  'THREAD_NOT_FOUND',
  'CHECKPOINT_NOT_FOUND',
  'NO_PENDING_INTERRUPT',
  'NODE_FAILED',
  'RECURSION_LIMIT',
  'ABORTED',
  'CONFLICT',
  'CORRUPT_RECORD',
  'VALUE_TOO_LARGE',
  'QUOTA_EXCEEDED',
  'STORAGE_FAILED',
  'STORAGE_UNAVAILABLE',
  'THREAD_BUSY',
  'VERSION_TOO_NEW',
  'KEY_UNAVAILABLE',
] as const

/** A stable error code: one of {@link ERROR_CODES}, where each is described. */
export type ErrorCode = (typeof ERROR_CODES)[number]

/** What an error is about. Every field that is known is filled in, so logs can be searched by it. */
export interface ErrorContext {
  threadId?: string
  checkpointId?: string
  node?: string
  channel?: string
  adapter?: string
}

/**
 * The error every edgegraph API throws.
 *
 * @example
 * try { await graph.invoke(null, { threadId }) }
 * catch (err) { if (isEdgegraphError(err, 'CONFLICT')) retryLater() ; else throw err }
 */
export class EdgegraphError extends Error {
  override readonly name = 'EdgegraphError'
  readonly code: ErrorCode
  readonly context: ErrorContext

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.context = options.context ?? {}
  }
}

/** True when `err` is an {@link EdgegraphError}, optionally with the given code. */
export function isEdgegraphError(err: unknown, code?: ErrorCode): err is EdgegraphError {
  return err instanceof EdgegraphError && (code === undefined || err.code === code)
}
