/** @module What one thread object holds, shared by its parts: settings, storage, adapter, compiled graphs and stored records. */
/*
 * Its parts are runs, re-drive, retention and graph lookup; the records it keeps in its own storage are the thread's
 * meta and the marker of a run in flight. It also says whether a run or maintenance is going on.
 */
import { History } from '../../src/checkpoint/history.js'
import type { StorageAdapter } from '../../src/index.js'
import { createDurableObjectAdapter } from '../../adapters/durable-object.js'
import { createD1Adapter } from '../../adapters/d1.js'
import type { EdgegraphEnv } from '../env.js'
import { ApiError } from '../http.js'
import type { AnyGraph, GraphFactory } from './lookup.js'
import type { Retention } from './retention.js'
import type { RunArgs } from './runs.js'

/** Storage key of the thread's {@link ThreadMeta}. */
export const META = 'edgegraph:meta'
/** Storage key of the {@link RunMarker} of the run in flight. */
export const RUN = 'edgegraph:run'

/**
 * Storage key of a run's metadata (the request's `metadata`), kept once per run; its checkpoints carry only
 * `{ "$run": id }` and the API shows the metadata in their place.
 */
export const runMetadataKey = (runId: string): string => `edgegraph:runmeta:${runId}`
/** A run's id: when it started (one run at a time per thread). */
export const runIdOf = (startedAt: number): string => startedAt.toString(36)

/** The thread's own record: its graph, retention and last activity. */
export interface ThreadMeta {
  /** The thread's storage id. */
  thread: string
  /** The graph the thread runs (recorded by its first run). */
  graph?: string
  /** The thread's own retention, over the worker's defaults. */
  retention?: Retention
  /** When a run ended or the state was updated last (ms since the epoch), for `ttlSeconds`. */
  lastActive: number
  /** Why the last background attempt (alarm re-drive, retention) failed, for `GET .../state` callers to see. */
  lastError?: { code: string; message: string; at: number }
}

/** The run in flight, stored so that an alarm can finish it after an eviction. */
export interface RunMarker {
  /** The run request, as it came. */
  args: RunArgs
  /** The graph it runs. */
  graph: string
  /** Head when the run started: while it is unchanged the run has stored nothing, and must start over. */
  startHead: string | null
  /** Re-drives so far. */
  attempts: number
  /** When the run started (ms since the epoch). */
  startedAt: number
}

/** The thread object's options with their defaults filled in (see `ThreadObjectOptions`). */
export interface ThreadSettings {
  graphs: Record<string, GraphFactory>
  store: 'durable-object' | 'd1'
  d1Table: string
  retention: Retention | undefined
  leaseMs: number
  maxAttempts: number
  exposeErrors: boolean
  maxRunMs: number
}

/** One thread object's state; each of its parts takes it as its first argument. */
export class ThreadState {
  #adapter: StorageAdapter
  /** Graphs compiled on the adapter, by name. */
  readonly graphs = new Map<string, AnyGraph>()
  /** Set synchronously when a run or maintenance starts, so two can never overlap. */
  busy: 'run' | 'maintenance' | undefined
  /** The run going on in memory: aborting it stops the run at its next step boundary (cancel, deadline, delete). */
  running: { controller: AbortController; deadline: number; done: Promise<void> } | undefined

  constructor(
    readonly storage: DurableObjectStorage,
    readonly env: EdgegraphEnv,
    readonly settings: ThreadSettings,
  ) {
    this.#adapter = this.#createAdapter()
  }

  /** Whether answers may carry the exception text of failed nodes (the option, or the `EDGEGRAPH_EXPOSE_ERRORS` var). */
  get exposeErrors(): boolean {
    return this.settings.exposeErrors || this.env.EDGEGRAPH_EXPOSE_ERRORS === 'true'
  }

  /** Where the thread's history lives. */
  get adapter(): StorageAdapter {
    return this.#adapter
  }

  /** The thread's meta, once it has one. */
  meta(): Promise<ThreadMeta | undefined> {
    return this.storage.get<ThreadMeta>(META)
  }

  /** Id of the thread's newest checkpoint, or null while it has none. */
  async head(thread: string): Promise<string | null> {
    return (await new History(this.#adapter).head(thread)) ?? null
  }

  /**
   * Stops the run going on (at its next step boundary; its checkpoints stay) and waits up to `waitMs` for it to end.
   * Returns whether no run is going on any more.
   */
  async stopRun(reason: string, waitMs: number): Promise<boolean> {
    const running = this.running
    if (running === undefined) return this.busy !== 'run'
    running.controller.abort(new Error(reason))
    await Promise.race([running.done, new Promise((resolve) => setTimeout(resolve, waitMs))])
    // The run's caller clears `busy` right after the run itself ends.
    await new Promise((resolve) => setTimeout(resolve, 0))
    return this.busy !== 'run'
  }

  /** Throws 409 `THREAD_BUSY` while a run or maintenance is going on (`thread` names it in the message). */
  assertIdle(thread?: string): void {
    if (this.busy === 'maintenance') throw new ApiError(409, 'THREAD_BUSY', 'the thread is being pruned; retry in a moment')
    if (this.busy === 'run') throw new ApiError(409, 'THREAD_BUSY', `a run is already in progress on ${thread === undefined ? 'this thread' : `thread "${thread}"`}; wait for it to finish`)
  }

  /** Runs `fn` with the thread to itself (updates, deletes): 409 while a run or maintenance is going on. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.assertIdle()
    this.busy = 'run'
    try {
      return await fn()
    } finally {
      this.busy = undefined
    }
  }

  /** After the object's storage was wiped: its tables went with it, so start again from a fresh adapter. */
  reset(): void {
    this.#adapter = this.#createAdapter()
    this.graphs.clear()
  }

  #createAdapter(): StorageAdapter {
    if (this.settings.store !== 'd1') return createDurableObjectAdapter(this.storage)
    if (!this.env.DB) throw new Error('store "d1" needs a D1 binding named DB in the wrangler config')
    return createD1Adapter(this.env.DB, { table: this.settings.d1Table })
  }
}
