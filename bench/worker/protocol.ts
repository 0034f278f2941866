/** What the bench driver (bench/worker.ts) and the bench Worker (bench/worker/index.ts) send each other over HTTP. */
import type { Workload } from '../workloads.js'

/**
 * Where a case runs, all inside one Durable Object: edgegraph on the object's own SQLite storage (`do-sqlite`), on
 * the D1 binding (`d1`) or on the in-memory adapter (`memory`: the engine's own cost in workerd, no storage), or
 * LangGraph.js 1.7.3 with its in-memory `MemorySaver` (`memorysaver`, no persistence).
 */
export type WorkerStore = 'do-sqlite' | 'd1' | 'memory' | 'memorysaver'
export const WORKER_STORES: readonly WorkerStore[] = ['do-sqlite', 'd1', 'memory', 'memorysaver']

/** How a run commits (edgegraph's `durability`): each step awaited, or behind the run with group commit. */
export type Durability = 'sync' | 'async'

/** One case as the driver asks for it. */
export interface CaseSpec {
  store: WorkerStore
  workload: Workload
  n: number
  /** edgegraph's durability for the timed run and the warm-up (LangGraph runs with its default). */
  durability: Durability
  /** Steps of each of the two warm-up runs before the timed one (bench/case.ts does the same). */
  warmupSteps: number
  /** D1 table prefix, unique per case and repetition so every repetition starts on empty tables. */
  table: string
}

/** The HTTP actions the Worker serves: `POST /<action>?object=<Durable Object name>`, body = CaseSpec (setup) or FloorSpec (floor). */
export type Action = 'ping' | 'setup' | 'run' | 'floor' | 'getState' | 'history' | 'stored' | 'release'

/**
 * A platform floor, timed from Node like a run: `n` bare writes of `bytes` each (key included) into a table of its own,
 * on the object's own SQLite or on D1. `tx`: each in its own `transactionSync` (the Durable Object floor);
 * `exec`: each one `sql.exec` joining the object's implicit transaction (what a step's commit now is); `d1`: each a
 * one-statement `db.batch`.
 */
export interface FloorSpec {
  kind: 'tx' | 'exec' | 'd1'
  n: number
  bytes: number
  table: string
}

/**
 * Reads per getState / history request, each on a freshly compiled graph: the driver divides the request's time
 * (less the round trip) by these, so a sub-millisecond read is not lost in the round trip's jitter.
 */
export const READS = { getState: 20, history: 5 } as const

/** What setup says: the bytes the warm-up runs wrote per step (keys + values handed to the adapter; 0 for LangGraph). */
export interface SetupReply {
  bytesPerStep: number
}

/** What the timed invoke wrote and what the Worker's own clock saw (see bench/worker.ts on why that clock is unreliable). */
export interface RunReply {
  /** Median / mean gap between consecutive node calls by the Worker's clock, µs (0 when it did not move). */
  clockUsPerStep: number
  clockUsPerStepMean: number
  /** The same gaps at the clock's 1 ms resolution: 99th percentile and largest, ms. */
  clockGapP99Ms: number
  clockGapMaxMs: number
  /** Gaps of 2 ms or more: steps that surely took over 1 ms. */
  slowSteps: number
  /** The invoke by the Worker's clock, ms. */
  clockRunMs: number
  /** Rows the platform reports written: DO SQL cursors' `rowsWritten`, D1 results' `meta.rows_written`. LangGraph: checkpoints + pending writes the saver received. */
  rowsWritten: number
  /** Keys handed to the adapter: puts + deletes (LangGraph: same as rowsWritten). */
  keysWritten: number
  /** Bytes handed to the adapter: key + value of every put (LangGraph: checkpoint + metadata + pending-write blobs). */
  bytesWritten: number
  /** Adapter commits (LangGraph: saver `put` calls). */
  commits: number
}

/** A read on a freshly compiled graph; the Worker checks what it read before replying. */
export interface ReadReply {
  clockMs: number
  /** Checkpoints getStateHistory yielded (history only). */
  checkpoints: number
}

/** Keys + values the timed thread holds: a scan of the adapter, or MemorySaver's blobs. */
export interface StoredReply {
  bytesStored: number
}
