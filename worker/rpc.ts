/** @module How the Worker and its thread objects talk over Durable Object RPC: outcomes as data, a reset object as 503. */
/*
 * Each object method answers an {@link Outcome}: RPC carries an Error's message but not its `status` or `code`, so
 * errors travel as data. The Worker turns an outcome back into the value or the same API error, and a call cut short
 * by a reset object into 503.
 */
import { ApiError, describeError, type ApiCode, type ApiStatus } from './http.js'

/** An API error as data: what the Worker answers with (`{ error: { code, message } }` and `status`). */
export interface OutcomeError {
  /** The HTTP status to answer with. */
  status: ApiStatus
  /** Stable code clients can switch on. */
  code: ApiCode
  /** What went wrong and what to do, in plain words (never a stack trace). */
  message: string
}

/** What a thread object's RPC method answers: its value, or the error the API answers with. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: OutcomeError }

/**
 * Runs `fn` in the object and answers what it returns or throws as an {@link Outcome}. Unexpected errors are logged
 * there and answered as 500 `INTERNAL` (see `describeError`), so no stack trace leaves the object.
 */
export async function settle<T>(what: string, fn: () => Promise<T>, exposeErrors = false): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() }
  } catch (err) {
    const { status, code, message } = describeError(err, what, undefined, exposeErrors)
    return { ok: false, error: { status, code, message } }
  }
}

/**
 * The value of an object's answer, or its error thrown as the same {@link ApiError}. A call that fails because the
 * object was evicted, reset or redeployed under it becomes 503 `STORAGE_UNAVAILABLE`: a run in progress is
 * continued by the object's alarm.
 */
export async function unwrap<T>(call: PromiseLike<Outcome<T>>): Promise<T> {
  let outcome: Outcome<T>
  try {
    outcome = await call
  } catch (err) {
    const flags = err as { durableObjectReset?: boolean; retryable?: boolean } | undefined
    if (flags?.durableObjectReset === true || flags?.retryable === true) {
      throw new ApiError(503, 'STORAGE_UNAVAILABLE', "the thread's Durable Object restarted during the request; a run in progress is continued automatically from its last checkpoint: poll GET .../state, or retry")
    }
    throw err
  }
  if (!outcome.ok) throw new ApiError(outcome.error.status, outcome.error.code, outcome.error.message)
  return outcome.value
}
