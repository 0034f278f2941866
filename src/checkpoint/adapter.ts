/**
 * @module The storage-adapter contract: every backend is an ordered key-value store per thread with an atomic
 * multi-key commit guarded by a compare-and-set on one key. That is all the history layer needs.
 */

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
 *   `limits.maxValueBytes`, `QUOTA_EXCEEDED` when out of space, `STORAGE_FAILED` otherwise, naming the adapter;
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
  /** Threads held, oldest update first; `updatedBefore` filters, `limit` caps. */
  threads(options?: { updatedBefore?: number; limit?: number }): AsyncIterable<ThreadInfo>
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
 * Checks a batch's puts against the contract before anything is written: string keys and byte values within
 * `maxValueBytes`. `fail` builds the adapter's own error (naming the adapter and thread).
 */
export function checkPuts(batch: Batch, maxValueBytes: number, fail: (code: 'INVALID_ARGUMENT' | 'VALUE_TOO_LARGE', message: string) => Error): void {
  for (const [key, value] of batch.put ?? []) {
    if (typeof key !== 'string' || !(value instanceof Uint8Array)) {
      throw fail('INVALID_ARGUMENT', `put for key ${JSON.stringify(key)} is not a string key with a Uint8Array value`)
    }
    if (value.length > maxValueBytes) throw fail('VALUE_TOO_LARGE', `value for "${key}" is ${value.length} bytes, above the ${maxValueBytes}-byte limit`)
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
  if (from !== undefined && to !== undefined && from >= to) return
  const reverse = range.reverse === true
  let left = range.limit ?? Number.POSITIVE_INFINITY
  while (left > 0) {
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
