/**
 * @module The storage-adapter contract: every backend is an ordered key-value store per thread with an atomic
 * multi-key commit guarded by a compare-and-set on one key. That is all the history layer needs.
 * Also the one way adapters make their errors ({@link adapterError}), so every adapter names itself alike.
 */
import { EdgegraphError, type ErrorCode } from '../errors.js'

/** Platform limits an adapter declares; the history layer chunks values to respect them. */
export interface StorageLimits {
  /** Largest value the backend accepts for one key, in bytes. Larger records are split into chunks. */
  maxValueBytes: number
}

/** A key range for {@link StorageAdapter.scan}. `from` is inclusive, `to` exclusive; keys compare as strings. */
export interface ScanRange {
  from?: string
  to?: string
  reverse?: boolean
  limit?: number
}

/** The writes of one commit: applied all together or not at all. */
export interface Batch {
  put?: [key: string, value: Uint8Array][]
  del?: string[]
}

/**
 * Compare-and-set condition for a commit: the current value of `key` must equal `expect` byte for byte
 * (`undefined` = the key must not exist), else the commit fails with a `CONFLICT` error and writes nothing.
 */
export interface Guard {
  key: string
  expect: Uint8Array | undefined
}

/** What {@link StorageAdapter.threads} lists. */
export interface ThreadsOptions {
  updatedBefore?: number
  limit?: number
  prefix?: string
  after?: ThreadInfo
}

/** Whether `info` is listed under `options` (for adapters that filter in memory). */
export function listed(info: ThreadInfo, options: ThreadsOptions): boolean {
  if (options.updatedBefore !== undefined && info.updatedAt >= options.updatedBefore) return false
  if (options.prefix !== undefined && !info.thread.startsWith(options.prefix)) return false
  const a = options.after
  return a === undefined || info.updatedAt > a.updatedAt || (info.updatedAt === a.updatedAt && info.thread > a.thread)
}

/** A thread an adapter holds, with the time (ms since epoch) of its last commit. */
export interface ThreadInfo {
  thread: string
  updatedAt: number
}

/**
 * What a storage backend must provide. Keys are printable ASCII and ordered by plain string comparison;
 * values are bytes. Implementations must:
 * - apply a commit's puts and deletes atomically, after checking the guard, or throw and change nothing;
 * - throw `EdgegraphError` with code `CONFLICT` when the guard fails, `VALUE_TOO_LARGE` for a value above
 *   `limits.maxValueBytes`, `QUOTA_EXCEEDED` when out of space, `STORAGE_UNAVAILABLE` when the store cannot be
 *   used at all, `STORAGE_FAILED` otherwise, made with {@link adapterError} (or {@link conflict},
 *   {@link quotaExceeded}) so they name the adapter and thread;
 * - return copies (or never-mutated views) of stored bytes.
 * Adapters hold no graph knowledge. Run `test/conformance` against every new adapter.
 */
export interface StorageAdapter {
  readonly name: string
  readonly limits: StorageLimits
  /** Values for `keys`, in order; `undefined` where a key is absent. */
  get(thread: string, keys: readonly string[]): Promise<(Uint8Array | undefined)[]>
  /** Entries of a thread in key order (or reverse), within `range`. */
  scan(thread: string, range?: ScanRange): AsyncIterable<[key: string, value: Uint8Array]>
  /** Applies `batch` atomically if `guard` holds. */
  commit(thread: string, batch: Batch, guard?: Guard): Promise<void>
  /** Removes every key of a thread. */
  deleteThread(thread: string): Promise<void>
  /**
   * Threads held, oldest update first (ties by id); `updatedBefore` filters, `limit` caps, `prefix` keeps the ids that
   * start with it (read as a key range where the backend has one, never by reading every thread), `after` starts after
   * that entry (a cursor: the last one of the previous page).
   */
  threads(options?: ThreadsOptions): AsyncIterable<ThreadInfo>
  /**
   * Optional. Runs `fn` holding an exclusive lock on `thread`, shared with every other tab or process using
   * the same store, so two of them never advance one thread at once. With `wait: false` it throws
   * `THREAD_BUSY` when another holder has the lock. Without it, the head guard alone catches conflicts.
   */
  lockThread?<T>(thread: string, fn: () => Promise<T>, options: { wait: boolean; signal?: AbortSignal }): Promise<T>
  /** Optional. Calls `listener` whenever a commit moves a thread, in this context or another (tab, worker). */
  subscribe?(listener: (event: { thread: string }) => void): () => void
}

/** Byte-wise equality, for guards. */
export function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Which adapter an error comes from: its `name` (the adapter's own `name`, put in `context.adapter`), and, where
 * one kind of adapter can hold several stores, which store (`database "my-app"`, a URL), shown in the message.
 */
export type AdapterRef = string | { name: string; store: string }

/**
 * The error an adapter throws, reading `<name> adapter (<store>), thread "<thread>": <message>` with
 * `context.adapter` (and `context.threadId` when a thread is involved) set and the backend's error as `cause`.
 * Adapters map their backend's failures (DOMException names, SQLite messages...) to a code, then call this; the
 * message says what happened and what to do.
 *
 * @example
 * throw adapterError('d1', 'INVALID_ARGUMENT', 'pass a D1Database binding (env.DB).')
 * throw adapterError({ name: 'indexeddb', store: 'database "app"' }, 'STORAGE_FAILED', `failed: ${e.message}`, { thread, cause: e })
 */
export function adapterError(adapter: AdapterRef, code: ErrorCode, message: string, options: { thread?: string | undefined; cause?: unknown } = {}): EdgegraphError {
  const { name, store } = typeof adapter === 'string' ? { name: adapter, store: undefined } : adapter
  const { thread, cause } = options
  return new EdgegraphError(code, `${name} adapter${store === undefined ? '' : ` (${store})`}${thread === undefined ? '' : `, thread "${thread}"`}: ${message}`, {
    cause,
    context: thread === undefined ? { adapter: name } : { adapter: name, threadId: thread },
  })
}

/** The `CONFLICT` error of a failed guard: `key` of `thread` no longer holds what the writer read. */
export function conflict(adapter: AdapterRef, thread: string, key: string): EdgegraphError {
  return adapterError(adapter, 'CONFLICT', `key "${key}" changed since it was read: another writer moved the thread. Nothing was written; reload and retry.`, { thread })
}

/** The `QUOTA_EXCEEDED` error of a refused write; `what` says what ran out (in the backend's own words too). */
export function quotaExceeded(adapter: AdapterRef, thread: string | undefined, what: string, cause?: unknown): EdgegraphError {
  return adapterError(adapter, 'QUOTA_EXCEEDED', `${what}. Nothing was written and the last checkpoint is intact: free space (delete old threads) and resume.`, { thread, cause })
}

/**
 * Checks a batch's puts against the contract before anything is written: string keys and byte values within
 * `maxValueBytes`. Throws `INVALID_ARGUMENT` or `VALUE_TOO_LARGE` naming the adapter and thread.
 */
export function checkPuts(batch: Batch, maxValueBytes: number, adapter: AdapterRef, thread: string): void {
  for (const [key, value] of batch.put ?? []) {
    if (typeof key !== 'string' || !(value instanceof Uint8Array)) {
      throw adapterError(adapter, 'INVALID_ARGUMENT', `put for key ${JSON.stringify(key)} is not a string key with a Uint8Array value. Nothing was written.`, { thread })
    }
    if (value.length > maxValueBytes) {
      throw adapterError(adapter, 'VALUE_TOO_LARGE', `value for "${key}" is ${value.length} bytes, above the ${maxValueBytes}-byte limit. Nothing was written.`, { thread })
    }
  }
}

/** One page of a {@link pagedScan}: the bounds left to read, the direction, and at most how many entries. */
export interface ScanPage {
  from: string | undefined
  to: string | undefined
  reverse: boolean
  count: number
}

/**
 * Implements `scan` as a series of pages of `size` entries, each read by `read` (typically in its own short
 * transaction: an IndexedDB transaction would close under a consumer that awaits other work between items,
 * and a long SQL read would hold a lock). Handles `limit`, empty ranges and resuming after the last key.
 */
export async function* pagedScan(range: ScanRange, size: number, read: (page: ScanPage) => Promise<[string, Uint8Array][]>): AsyncIterable<[string, Uint8Array]> {
  let { from, to } = range
  const reverse = range.reverse === true
  let left = range.limit ?? Number.POSITIVE_INFINITY
  while (left > 0) {
    // Also after a page: a reverse scan that read down to `from` leaves `to === from`, an empty range that some
    // backends refuse to express (IndexedDB's `IDBKeyRange.bound` throws DataError).
    if (from !== undefined && to !== undefined && from >= to) return
    const count = Math.min(size, left)
    const page = await read({ from, to, reverse, count })
    yield* page
    if (page.length < count) return
    left -= page.length
    const last = (page[page.length - 1] as [string, Uint8Array])[0]
    // Keys are printable ASCII, so "\0" right after the last key is the first key after it.
    if (reverse) to = last
    else from = `${last}\u0000`
  }
}
