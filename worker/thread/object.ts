/** @module The Durable Object that owns one thread: its lifecycle (constructor, alarm) and the RPC methods the Worker calls. */
/*
 * One object per tenant + thread, addressed with `idFromName`. The Worker (`worker/index.ts`) calls the methods on
 * the object's stub once it has authenticated and validated a request; only Workers bound to the namespace can call
 * them, so the object trusts their arguments. Every method answers an `Outcome` (see `worker/rpc.ts`), never throws.
 *
 * The parts: runs (`runs.ts`), re-drive after eviction (`redrive.ts`), retention (`retention.ts`), graph lookup
 * (`lookup.ts`), JSON shaping (`json.ts`), and the state they share (`state.ts`).
 */
import { DurableObject } from 'cloudflare:workers'
import type { JsonPatchOperation } from '../../src/index.js'
import type { EdgegraphEnv } from '../env.js'
import { ApiError } from '../http.js'
import { settle, type Outcome } from '../rpc.js'
import { snapshotJson, withRunMetadata, type SnapshotJson } from './json.js'
import { graphOf, type GraphFactory } from './lookup.js'
import { redrive } from './redrive.js'
import { deleteThread, maintain, setRetention, touched, type Retention } from './retention.js'
import { claim, startRun, type RunArgs, type RunResult } from './runs.js'
import { RUN, ThreadState, type RunMarker } from './state.js'
import { syncHas, syncHead, syncPull, syncPush } from './sync.js'
import type { ExportedCheckpoint, Marks } from '../../src/sync/peer.js'

/** Options of {@link createThreadObject} (and of `createEdgegraphWorker`, which passes them on). */
export interface ThreadObjectOptions {
  /** The graphs threads can run, by name (1 to 64 of `A-Z a-z 0-9 _ -`). A thread keeps the graph it started with. */
  graphs: Record<string, GraphFactory>
  /** Where runs store their history: the object's own SQLite storage (default), or the D1 database `DB`. */
  store?: 'durable-object' | 'd1'
  /** D1 table prefix (default `edgegraph`), shared with the storage API so both see the same threads. */
  d1Table?: string
  /** Default retention of every thread (none by default); `PUT .../retention` overrides it per thread. */
  retention?: Retention
  /** How long a run may go without its alarm being re-armed before it counts as lost (default 30 s). */
  leaseMs?: number
  /** How often an interrupted run is re-driven before it is given up (default 5). */
  maxAttempts?: number
  /**
   * Show the exception text of failed nodes and reducers in answers (default false: it stays in the server log, and
   * answers say which node or channel failed). `npm run dev` turns it on with the `EDGEGRAPH_EXPOSE_ERRORS` var.
   */
  exposeErrors?: boolean
  /**
   * Longest a run may go on, from its start to its last step, re-drives included (default 10 minutes): then it is
   * stopped at its next step boundary, its checkpoints kept, and continued only by a new request.
   */
  maxRunMs?: number
}

/** One page of a thread's history, newest first; `nextBefore` asks for the next page (null: there is none). */
export interface HistoryPage {
  /** Newest first. A page may hold fewer than asked when its JSON passes 8 MiB. */
  checkpoints: SnapshotJson[]
  /** Pass as `before` for the next page; null on the last. */
  nextBefore: string | null
}

/** Options of {@link ThreadObject.history}. */
export interface HistoryQuery {
  /** At most this many checkpoints. */
  limit: number
  /** Only checkpoints older than this one. */
  before?: string | undefined
  /** Only checkpoints whose metadata has these values (`source`...). */
  filter?: Record<string, unknown> | undefined
}

/** A state update (`POST .../state`): write `values` as if node `asNode` had, onto the head or onto `checkpointId` (a fork). */
export interface UpdateArgs {
  /** Channel values, applied through the channels' reducers. */
  values: Record<string, unknown>
  /** The node the update counts as written by (it decides what runs next). */
  asNode?: string | undefined
  /** Fork from this checkpoint instead of updating the newest. */
  checkpointId?: string | undefined
  /** The graph of a new thread. */
  graph?: string | undefined
}

/**
 * A history page's JSON stops growing past this (the page ends early, with `nextBefore` set), well below the 32 MiB
 * a value may have over RPC.
 */
const PAGE_CHARS = 8 * 1024 * 1024

/** A thread object's RPC methods, as the Worker calls them on its stub (see {@link threadStub}). */
export interface ThreadRpc {
  /** Runs (or continues, or resumes) the thread's graph: the state after the run, or its Server-Sent Events. */
  run(args: RunArgs): Promise<Outcome<RunResult>>
  /** The newest checkpoint (with `lastError` if a background attempt failed since), or the one named. */
  state(thread: string, checkpointId?: string): Promise<Outcome<SnapshotJson>>
  /** A page of the thread's checkpoints, newest first. */
  history(thread: string, query: HistoryQuery): Promise<Outcome<HistoryPage>>
  /** Updates the thread's state, or forks from `args.checkpointId`: the id of the new checkpoint. */
  update(thread: string, args: UpdateArgs): Promise<Outcome<{ checkpointId: string }>>
  /** RFC 6902 patch from checkpoint `from` to checkpoint `to`. */
  diff(thread: string, from: string, to: string): Promise<Outcome<{ patch: JsonPatchOperation[] }>>
  /** Deletes the thread and everything the object stored; a run going on is cancelled first. */
  delete(thread: string): Promise<Outcome<{ ok: true }>>
  /** Stops the run going on at its next step boundary, its checkpoints kept. */
  cancel(thread: string): Promise<Outcome<{ cancelled: boolean }>>
  /** Changes the thread's retention (`null` clears a field): the retention that applies now. */
  retention(thread: string, retention: Retention): Promise<Outcome<{ retention: Retention }>>
  /** Sync: marks and the checkpoints changed since `since`, as JSON text. */
  syncPull(thread: string, since: Marks | undefined): Promise<Outcome<string>>
  /** Sync: which of `ids` the thread holds. */
  syncHas(thread: string, ids: string[]): Promise<Outcome<{ ids: string[] }>>
  /** Sync: stores checkpoints a device made. */
  syncPush(thread: string, checkpoints: ExportedCheckpoint[], graph: string | undefined): Promise<Outcome<{ added: number; rev?: string | undefined; prevRev: string | null }>>
  /** Sync: moves the head, if it is still `expect`. */
  syncHead(thread: string, id: string, expect: string | undefined): Promise<Outcome<{ rev: string; prevRev: string | null }>>
}

/** The class {@link createThreadObject} makes: the type of the `THREADS` namespace's objects. */
export type ThreadObject = InstanceType<ReturnType<typeof createThreadObject>>

/** The object of the thread with storage id `id` (`<tenant>/<thread>` with auth) in `namespace`, by its RPC methods. */
export function threadStub(namespace: { get(id: DurableObjectId): unknown; idFromName(name: string): DurableObjectId }, id: string): ThreadRpc {
  // Typed by the interface the class implements: Workers' own stub types cannot expand the answers' recursive JSON
  // type (tsc: "excessively deep").
  return namespace.get(namespace.idFromName(id)) as ThreadRpc
}

/** Creates the Durable Object class; export it under the `class_name` your wrangler config binds as `THREADS`. */
export function createThreadObject(options: ThreadObjectOptions) {
  const settings = {
    graphs: options.graphs,
    store: options.store ?? 'durable-object',
    d1Table: options.d1Table ?? 'edgegraph',
    retention: options.retention,
    leaseMs: options.leaseMs ?? 30_000,
    maxAttempts: options.maxAttempts ?? 5,
    exposeErrors: options.exposeErrors ?? false,
    maxRunMs: options.maxRunMs ?? 10 * 60_000,
  }

  return class EdgegraphThread extends DurableObject<EdgegraphEnv> implements ThreadRpc {
    readonly #t: ThreadState

    constructor(ctx: DurableObjectState, env: EdgegraphEnv) {
      super(ctx, env)
      this.#t = new ThreadState(ctx.storage, env, settings)
      // A run marker left by an earlier incarnation means a run was cut short: re-drive it now. That incarnation's
      // lease alarm may still be armed up to leaseMs ahead, so bring it forward.
      void ctx.blockConcurrencyWhile(async () => {
        if ((await ctx.storage.get(RUN)) === undefined) return
        const at = await ctx.storage.getAlarm()
        if (at === null || at > Date.now()) await ctx.storage.setAlarm(Date.now())
      })
    }

    /** Runs `fn` and answers its outcome, showing node errors only where the deployment chose to (`exposeErrors`). */
    #settle<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
      return settle('the thread object', fn, this.#t.exposeErrors)
    }

    /** Re-arms the lease of a run going on, re-drives a lost one, or runs the thread's retention. */
    override async alarm(): Promise<void> {
      const t = this.#t
      if (t.busy !== undefined) {
        // A run past its deadline is stopped (a node that never returns cannot be, but the run ends at its boundary).
        if (t.running !== undefined && Date.now() > t.running.deadline) t.running.controller.abort(new Error('the run passed its deadline (maxRunMs)'))
        await t.storage.setAlarm(Date.now() + settings.leaseMs)
        return
      }
      const marker = await t.storage.get<RunMarker>(RUN)
      if (marker !== undefined) return redrive(t, marker)
      const meta = await t.meta()
      if (meta !== undefined) await maintain(t, meta)
    }

    /** Runs (or continues, or resumes) the thread's graph: the state after the run, or its Server-Sent Events. */
    run(args: RunArgs): Promise<Outcome<RunResult>> {
      return this.#settle(() => startRun(this.#t, args))
    }

    /** The newest checkpoint (with `lastError` if a background attempt failed since), or the one named. */
    state(thread: string, checkpointId?: string): Promise<Outcome<SnapshotJson>> {
      return this.#settle(async () => {
        const { graph, meta } = await graphOf(this.#t, thread)
        const state = await withRunMetadata(this.#t, snapshotJson(this.#t, await graph.getState({ threadId: thread, ...(checkpointId === undefined ? {} : { checkpointId }) })))
        return meta?.lastError && checkpointId === undefined ? { ...state, lastError: meta.lastError } : state
      })
    }

    /** A page of the thread's checkpoints, newest first. */
    history(thread: string, query: HistoryQuery): Promise<Outcome<HistoryPage>> {
      return this.#settle(async () => {
        const { graph } = await graphOf(this.#t, thread)
        const { limit, before, filter } = query
        const checkpoints: SnapshotJson[] = []
        let chars = 0
        let more = false
        // One more than asked, to know whether there is a next page.
        for await (const s of graph.getStateHistory({ threadId: thread }, { limit: limit + 1, ...(before === undefined ? {} : { before }), ...(filter === undefined ? {} : { filter }) })) {
          if (checkpoints.length === limit || chars >= PAGE_CHARS) {
            more = true
            break
          }
          const json = snapshotJson(this.#t, s)
          chars += JSON.stringify(json).length
          checkpoints.push(json)
        }
        return { checkpoints: await withRunMetadata(this.#t, checkpoints), nextBefore: more ? (checkpoints.at(-1)?.checkpointId ?? null) : null }
      })
    }

    /** Updates the thread's state, or forks from `checkpointId`: the id of the new checkpoint. */
    update(thread: string, args: UpdateArgs): Promise<Outcome<{ checkpointId: string }>> {
      return this.#settle(() =>
        this.#t.exclusive(async () => {
          const { graph, name, meta } = await graphOf(this.#t, thread, args.graph)
          if (meta === undefined) await claim(this.#t, thread)
          const config = await graph.updateState({ threadId: thread, ...(args.checkpointId === undefined ? {} : { checkpointId: args.checkpointId }) }, args.values, args.asNode)
          await touched(this.#t, thread, name)
          return { checkpointId: config.checkpointId }
        }),
      )
    }

    /** RFC 6902 patch from checkpoint `from` to checkpoint `to`. */
    diff(thread: string, from: string, to: string): Promise<Outcome<{ patch: JsonPatchOperation[] }>> {
      return this.#settle(async () => {
        const { graph } = await graphOf(this.#t, thread)
        return { patch: await graph.diff({ threadId: thread, checkpointId: from }, { threadId: thread, checkpointId: to }) }
      })
    }

    /** Deletes the thread and everything the object stored; a run going on is cancelled first. */
    delete(thread: string): Promise<Outcome<{ ok: true }>> {
      return this.#settle(async () => {
        if (!(await this.#t.stopRun('the thread is being deleted', 10_000))) {
          throw new ApiError(409, 'THREAD_BUSY', 'the run going on did not stop within 10 s (a node that ignores its abort signal); retry the delete in a moment')
        }
        return this.#t.exclusive(async () => {
          await deleteThread(this.#t, thread)
          return { ok: true as const }
        })
      })
    }

    /** Stops the run going on at its next step boundary (its checkpoints stay), or a lost one waiting for its alarm. */
    cancel(thread: string): Promise<Outcome<{ cancelled: boolean }>> {
      return this.#settle(async () => {
        const t = this.#t
        if (t.running !== undefined) {
          await t.stopRun('the run was cancelled', 10_000)
          return { cancelled: true }
        }
        if (t.busy === undefined && (await t.storage.get(RUN)) !== undefined) {
          // Cut short earlier and waiting to be continued by the alarm: it will not be.
          await t.storage.delete(RUN)
          return { cancelled: true }
        }
        void thread
        return { cancelled: false }
      })
    }

    /** Changes the thread's retention (`null` clears a field): the retention that applies now. */
    retention(thread: string, retention: Retention): Promise<Outcome<{ retention: Retention }>> {
      return this.#settle(async () => ({ retention: await setRetention(this.#t, thread, retention) }))
    }

    syncPull(thread: string, since: Marks | undefined): Promise<Outcome<string>> {
      return this.#settle(() => syncPull(this.#t, thread, since))
    }

    syncHas(thread: string, ids: string[]): Promise<Outcome<{ ids: string[] }>> {
      return this.#settle(() => syncHas(this.#t, thread, ids))
    }

    syncPush(thread: string, checkpoints: ExportedCheckpoint[], graph: string | undefined): Promise<Outcome<{ added: number; rev?: string | undefined; prevRev: string | null }>> {
      return this.#settle(() => syncPush(this.#t, thread, checkpoints, graph))
    }

    syncHead(thread: string, id: string, expect: string | undefined): Promise<Outcome<{ rev: string; prevRev: string | null }>> {
      return this.#settle(() => syncHead(this.#t, thread, id, expect))
    }
  }
}
