/** @module The options of a compiled graph and of each run, with what each one does. */
import type { StorageAdapter } from '../checkpoint/adapter.js'
import type { HistoryOptions } from '../checkpoint/history.js'
import type { Store } from '../store/store.js'
import type { NodeCache } from '../cache.js'
import type { Migration } from './migrations.js'

/**
 * When checkpoints are written:
 * - `sync`: each step's checkpoint is committed before the next step starts (the default);
 * - `async`: commits overlap the next step, in order; the run still waits for all of them before returning;
 * - `exit`: only when the run ends, is interrupted, or fails.
 */
export type Durability = 'sync' | 'async' | 'exit'

/** Options of `compile()`. Anything else is refused with `INVALID_ARGUMENT`. */
export interface CompileOptions<N extends string> {
  /**
   * Where checkpoints go: a storage adapter, or `{ adapter, snapshotFactor?, packSize? }` to tune how history is
   * stored (see {@link HistoryOptions}). Without one, runs keep no history and cannot pause or resume.
   */
  checkpointer?: StorageAdapter | ({ adapter: StorageAdapter } & HistoryOptions)
  /** Stop before these nodes run; continue with `invoke(null, { threadId })`. Needs a checkpointer. */
  interruptBefore?: N[]
  /** Stop after these nodes ran; continue with `invoke(null, { threadId })`. Needs a checkpointer. */
  interruptAfter?: N[]
  /** Default durability for runs (see {@link Durability}); a run's config can override it. Default `sync`. */
  durability?: Durability
  /** Store a checkpoint only every N steps (plus at the end, on an interrupt and on an error). Default 1. */
  checkpointEvery?: number
  /** Cross-thread memory every node sees as `ctx.store`: `createStore(adapter)` from `edgegraph/store`. */
  store?: Store
  /** Where nodes with a `cachePolicy` keep their results: `createCache(adapter)` from `edgegraph/cache`. */
  cache?: NodeCache
  /**
   * The version of the state's shape, stored with every checkpoint. Default 1. Raise it when the shape changes, with
   * a migration for each new version: checkpoints of older versions are then migrated as they are read, and one of a
   * newer version is refused with `VERSION_TOO_NEW`.
   */
  version?: number
  /** `migrations[N]` turns the state of version N-1 into version N, for each N from 2 to `version` (see {@link Migration}). */
  migrations?: Record<number, Migration>
}

/** Options of one run (`invoke`, `stream`). Anything else is refused with `INVALID_ARGUMENT`. */
export interface RunConfig {
  /** The thread to run; required with a checkpointer. */
  threadId?: string
  /** Run from this checkpoint instead of the newest: a replay onto a new branch; the old branch stays. */
  checkpointId?: string
  /** Cancels the run at the next step boundary; the last checkpoint stays intact. */
  signal?: AbortSignal
  /** Most steps one call may take before failing with `RECURSION_LIMIT`. Default 25. */
  recursionLimit?: number
  /** Overrides the compiled graph's durability for this run (see {@link Durability}). */
  durability?: Durability
  /** Store a checkpoint only every N steps (plus at the end, on an interrupt and on an error). */
  checkpointEvery?: number
  /** Your own metadata, stored on every checkpoint this run writes (filterable in getStateHistory). */
  metadata?: Record<string, unknown>
  /**
   * When another tab or process is running this thread (adapters with `lockThread`, e.g. IndexedDB):
   * `wait` for it to finish (the default), or `fail` at once with `THREAD_BUSY`.
   */
  ifBusy?: 'wait' | 'fail'
}

/** What a run takes from its compiled graph. */
export interface RunOptions {
  interruptBefore: ReadonlySet<string>
  interruptAfter: ReadonlySet<string>
  durability: Durability
  checkpointEvery: number | undefined
  store: Store | undefined
  cache: NodeCache | undefined
}
