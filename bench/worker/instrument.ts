/**
 * @module Counting wrappers for the bench Worker: what a run hands to storage (keys, bytes) and what the platform
 * says it wrote (rows). They wrap the bindings and the adapter from outside; adapters/*.ts stay as they are.
 */
import { MemorySaver } from '@langchain/langgraph'
import type { StorageAdapter } from '../../src/index.js'
import type { DurableObjectSqlStorageLike } from '../../adapters/durable-object.js'
import type { D1DatabaseLike, D1PreparedStatementLike } from '../../adapters/d1.js'

/** The part of a SQLite-backed `DurableObjectStorage` the bench uses (Workers types stay out: they clash with the DOM lib). */
export interface DurableObjectStorageBinding {
  sql: { exec(query: string, ...bindings: unknown[]): { toArray(): Record<string, unknown>[]; readonly rowsWritten: number } }
  transactionSync<T>(closure: () => T): T
}

/** The part of a `D1Database` binding the bench uses. */
export interface D1Binding {
  prepare(query: string): D1PreparedStatementLike
  batch(statements: D1PreparedStatementLike[]): Promise<{ meta: { rows_written?: number } }[]>
}

export interface Tally {
  rowsWritten: number
  keysWritten: number
  bytesWritten: number
  commits: number
}

export const emptyTally = (): Tally => ({ rowsWritten: 0, keysWritten: 0, bytesWritten: 0, commits: 0 })

const utf8 = new TextEncoder()
const keyBytes = (key: string) => utf8.encode(key).byteLength

/** `adapter`, counting every commit's puts (key + value bytes) and deleted keys into `tally`. */
export function countingAdapter(adapter: StorageAdapter, tally: Tally): StorageAdapter {
  return {
    name: adapter.name,
    limits: adapter.limits,
    get: (thread, keys) => adapter.get(thread, keys),
    scan: (thread, range) => adapter.scan(thread, range),
    commit(thread, batch, guard) {
      tally.commits++
      for (const [key, value] of batch.put ?? []) {
        tally.keysWritten++
        tally.bytesWritten += keyBytes(key) + value.byteLength
      }
      tally.keysWritten += batch.del?.length ?? 0
      return adapter.commit(thread, batch, guard)
    },
    deleteThread: (thread) => adapter.deleteThread(thread),
    threads: (options) => adapter.threads(options),
  }
}

/** Durable Object storage whose SQL cursors add their `rowsWritten` to `tally` once the adapter has read them. */
export function countingDurableObjectStorage(storage: DurableObjectStorageBinding, tally: Tally): DurableObjectSqlStorageLike {
  return {
    sql: {
      exec(query, ...bindings) {
        const cursor = storage.sql.exec(query, ...bindings)
        return {
          toArray() {
            const rows = cursor.toArray()
            // rowsWritten is final only once the cursor is exhausted, which toArray does.
            tally.rowsWritten += cursor.rowsWritten
            return rows
          },
        }
      },
    },
    transactionSync: (closure) => storage.transactionSync(closure),
  }
}

/** A D1 binding whose batches add each result's `meta.rows_written` to `tally` (the adapter writes only in batches). */
export function countingD1(db: D1Binding, tally: Tally): D1DatabaseLike {
  return {
    prepare: (query) => db.prepare(query),
    async batch(statements) {
      const results = await db.batch(statements)
      for (const r of results) tally.rowsWritten += r.meta.rows_written ?? 0
      return results
    },
  }
}

/**
 * Counts what every MemorySaver receives while installed (one row per checkpoint and per pending write, as
 * MemorySaver stores them); returns the uninstaller. LangGraph runs one case at a time in the bench object.
 * Bytes are not counted here: MemorySaver keeps everything it receives, so bench/engines/langgraph.ts'
 * stored-bytes count is also what it was handed.
 */
export function countMemorySaver(tally: Tally): () => void {
  const proto = MemorySaver.prototype
  const { put, putWrites } = proto
  proto.put = function (this: MemorySaver, ...args: Parameters<MemorySaver['put']>) {
    tally.commits++
    tally.rowsWritten++
    tally.keysWritten++
    return put.apply(this, args)
  }
  proto.putWrites = function (this: MemorySaver, ...args: Parameters<MemorySaver['putWrites']>) {
    tally.rowsWritten += args[1].length
    tally.keysWritten += args[1].length
    return putWrites.apply(this, args)
  }
  return () => {
    proto.put = put
    proto.putWrites = putWrites
  }
}
