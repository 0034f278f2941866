/** @module What the worker's HTTP APIs share: the JSON error shape, each error code's status, one handler that never leaks a stack trace. */
import type { Context } from 'hono'
import { EdgegraphError, type ErrorCode } from '../src/errors.js'

/** Codes of the APIs' errors: edgegraph's, plus those that exist only on the wire. */
export type ApiCode = ErrorCode | 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND' | 'RATE_LIMITED' | 'MISCONFIGURED' | 'INTERNAL'

/** HTTP statuses the APIs answer errors with. */
export type ApiStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 500 | 503 | 507

/** A request the API refuses: answered with `status` and the error code. */
export class ApiError extends Error {
  constructor(
    readonly status: ApiStatus,
    readonly code: ApiCode,
    message: string,
  ) {
    super(message)
  }
}

/** 400 `INVALID_ARGUMENT`: the request itself is wrong. */
export const badRequest = (message: string): ApiError => new ApiError(400, 'INVALID_ARGUMENT', message)
/** 403 `FORBIDDEN`: the token may not do this. */
export const forbidden = (message: string): ApiError => new ApiError(403, 'FORBIDDEN', message)

/**
 * HTTP status of each edgegraph error code. 409 is "the thread's state does not allow this now" (busy, moved by
 * another writer, no interrupt to resume, written by newer code); 507 means the store is full (the request itself
 * was fine, so not 413).
 */
const STATUS: Record<ErrorCode, ApiStatus> = {
  INVALID_GRAPH: 500,
  INVALID_ARGUMENT: 400,
  INVALID_UPDATE: 400,
  UNSERIALIZABLE: 400,
  UNKNOWN_NODE: 400,
  THREAD_NOT_FOUND: 404,
  CHECKPOINT_NOT_FOUND: 404,
  NO_PENDING_INTERRUPT: 409,
  NODE_FAILED: 500,
  RECURSION_LIMIT: 500,
  ABORTED: 503,
  CONFLICT: 409,
  CORRUPT_RECORD: 500,
  VALUE_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 507,
  STORAGE_FAILED: 500,
  STORAGE_UNAVAILABLE: 503,
  THREAD_BUSY: 409,
  VERSION_TOO_NEW: 409,
  KEY_UNAVAILABLE: 403,
}

/** The JSON body of every error answer: `{ error: { code, message } }`. */
export function errorBody(code: ApiCode, message: string): { error: { code: ApiCode; message: string } } {
  return { error: { code, message } }
}

/**
 * The code, status and client-safe message of anything thrown while serving a request. An error that is neither an
 * `ApiError` nor an `EdgegraphError` is logged and answered 500 with `unexpected` (default: `INTERNAL`).
 */
export function describeError(
  err: unknown,
  what: string,
  unexpected: { code: ApiCode; message: string } = { code: 'INTERNAL', message: `${what} failed unexpectedly; see the server log` },
  exposeErrors = false,
): { status: ApiStatus; code: ApiCode; message: string } {
  if (err instanceof ApiError) return { status: err.status, code: err.code, message: err.message }
  if (err instanceof EdgegraphError) {
    const cause = err.cause
    // A node that refused its input with a typed error (e.g. INVALID_ARGUMENT naming what it expects): the client's to fix.
    if (err.code === 'NODE_FAILED' && cause instanceof EdgegraphError && (cause.code === 'INVALID_ARGUMENT' || cause.code === 'INVALID_UPDATE')) {
      return { status: 400, code: cause.code, message: cause.message }
    }
    // Anything else a node or a reducer threw carries the graph's own exception text: kept in the server log, out of
    // answers unless the deployment chose to show it (exposeErrors, on in `npm run dev`).
    if (!exposeErrors && cause !== undefined && !(cause instanceof EdgegraphError) && (err.code === 'NODE_FAILED' || err.code === 'INVALID_UPDATE')) {
      console.error(`${what}: ${err.message}`, cause)
      return { status: STATUS[err.code] ?? 500, code: err.code, message: safeMessage(err) }
    }
    return { status: STATUS[err.code] ?? 500, code: err.code, message: err.message }
  }
  console.error(`${what}: unexpected error`, err)
  return { status: 500, ...unexpected }
}

/** What a failure says without the graph's exception text: where it happened and what to do. */
function safeMessage(err: EdgegraphError): string {
  const { node, channel, checkpointId } = err.context
  const at = checkpointId === undefined ? '' : ` at checkpoint "${checkpointId}"`
  if (err.code === 'INVALID_UPDATE') {
    return `The value written to channel "${channel ?? '?'}"${node === undefined ? ' by the input' : ` by node "${node}"`} was refused${at}: send the type the graph expects. The details are in the server log.`
  }
  return `Node "${node ?? '?'}" failed${at}; its error is in the server log (the Worker does not show it: exposeErrors). Fix the cause and continue with input null: only the failed node runs again.`
}

/** Hono `onError` handler answering every error as JSON (see {@link describeError}). */
export function onApiError(what: string, unexpected?: { code: ApiCode; message: string }): (err: Error, c: Context) => Response {
  return (err, c) => {
    const { status, code, message } = describeError(err, what, unexpected, false)
    return c.json(errorBody(code, message), status)
  }
}

/** Hono `notFound` handler answering 404 with `code`. */
export function routeNotFound(code: ApiCode): (c: Context) => Response {
  return (c) => c.json(errorBody(code, `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404)
}

/** Hono `notFound` handler of the run API: 404 `NOT_FOUND`. */
export const notFoundRoute = routeNotFound('NOT_FOUND')
