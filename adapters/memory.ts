/** @module In-memory storage adapter: for tests, scripts and as the reference for the adapter contract. */
import { checkPuts, conflict, quotaExceeded, sameBytes, type Batch, type Guard, type ScanRange, type StorageAdapter, type ThreadInfo, listed } from '../src/checkpoint/adapter.js'

/**
 * Options of {@link createMemoryAdapter}. Both limits exist so tests can exercise what real backends do: chunking
 * of large records, and a full store.
 */
export interface MemoryAdapterOptions {
  /** Largest value per key in bytes (default 2 MiB, like Durable Object storage), so chunking is exercised. */
  maxValueBytes?: number
  /** Total bytes (keys + values, all threads) before commits fail with `QUOTA_EXCEEDED`. Default: no limit. */
  quotaBytes?: number
}

/** The in-memory adapter, with byte counts for tests and benchmarks. */
export interface MemoryAdapter extends StorageAdapter {
  /** Bytes held (key lengths + value lengths), for one thread or all. */
  bytes(thread?: string): number
}

interface ThreadData {
  keys: string[] // sorted
  values: Map<string, Uint8Array>
  updatedAt: number
  bytes: number
}

/**
 * Creates an adapter that keeps everything in this process's memory.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createMemoryAdapter() })
 */
export function createMemoryAdapter(options: MemoryAdapterOptions = {}): MemoryAdapter {
  const maxValueBytes = options.maxValueBytes ?? 2 * 1024 * 1024
  const quota = options.quotaBytes ?? Infinity
  const threads = new Map<string, ThreadData>()
  let total = 0

  return {
    name: 'memory',
    limits: { maxValueBytes },

    async get(thread, keys) {
      const values = threads.get(thread)?.values
      return keys.map((key) => values?.get(key)?.slice())
    },

    async *scan(thread, range: ScanRange = {}) {
      const data = threads.get(thread)
      if (!data) return
      // Take a copy of the matching keys first so a commit during iteration cannot shift positions ('' sorts before
      // every key; a `to` below `from` leaves none).
      let keys = data.keys.slice(lowerBound(data.keys, range.from ?? ''), range.to === undefined ? undefined : lowerBound(data.keys, range.to))
      if (range.reverse) keys.reverse()
      if (range.limit !== undefined) keys = keys.slice(0, range.limit)
      for (const key of keys) {
        const value = data.values.get(key)
        if (value !== undefined) yield [key, value.slice()]
      }
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      const data = threads.get(thread)
      if (guard && !sameBytes(data?.values.get(guard.key), guard.expect)) throw conflict('memory', thread, guard.key)
      // Validate everything before touching anything: the batch is all or nothing.
      let delta = 0
      const seen = new Map<string, Uint8Array | undefined>()
      for (const key of batch.del ?? []) seen.set(key, undefined)
      checkPuts(batch, maxValueBytes, 'memory', thread)
      for (const [key, value] of batch.put ?? []) seen.set(key, value)
      seen.forEach((value, key) => {
        const old = data?.values.get(key)
        delta += (value ? key.length + value.length : 0) - (old ? key.length + old.length : 0)
      })
      if (total + delta > quota) throw quotaExceeded('memory', thread, `the commit needs ${delta} more bytes than its ${quota}-byte quota leaves`)

      const target = data ?? { keys: [], values: new Map(), updatedAt: 0, bytes: 0 }
      seen.forEach((value, key) => {
        const had = target.values.has(key)
        if (value === undefined) {
          if (had) {
            target.values.delete(key)
            target.keys.splice(lowerBound(target.keys, key), 1)
          }
          return
        }
        target.values.set(key, value.slice())
        if (!had) insertSorted(target.keys, key)
      })
      target.bytes += delta
      total += delta
      target.updatedAt = Date.now()
      if (target.keys.length === 0) threads.delete(thread)
      else threads.set(thread, target)
    },

    async deleteThread(thread) {
      const data = threads.get(thread)
      if (!data) return
      total -= data.bytes
      threads.delete(thread)
    },

    async *threads(opts = {}) {
      const list: ThreadInfo[] = [...threads].map(([thread, d]) => ({ thread, updatedAt: d.updatedAt }))
      list.sort((a, b) => a.updatedAt - b.updatedAt || (a.thread < b.thread ? -1 : 1))
      let n = 0
      for (const info of list) {
        if (!listed(info, opts)) continue
        if (opts.limit !== undefined && n++ >= opts.limit) return
        yield info
      }
    },

    bytes(thread) {
      return thread === undefined ? total : (threads.get(thread)?.bytes ?? 0)
    },
  }
}

function lowerBound(keys: string[], key: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if ((keys[mid] as string) < key) lo = mid + 1
    else hi = mid
  }
  return lo
}

function insertSorted(keys: string[], key: string): void {
  // Checkpoint ids grow, so most inserts land at the end.
  const last = keys[keys.length - 1]
  if (last === undefined || last < key) keys.push(key)
  else keys.splice(lowerBound(keys, key), 0, key)
}
