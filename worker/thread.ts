/**
 * @module The Durable Object that owns one thread (one object per tenant + thread, addressed with `idFromName`):
 * it runs the thread's graph next to its data, is the thread's single writer (a second run while one is in flight
 * gets 409 `THREAD_BUSY`), re-drives a run cut short by eviction or a restart, and enforces the thread's retention.
 *
 * The Worker (`worker/index.ts`) authenticates and validates every request, then forwards it here as an internal
 * request: `POST https://thread/<op>` with a JSON body naming the thread's storage id. Nothing else can reach an
 * object, so the object trusts those bodies.
 *
 * Eviction: before a run starts, the object stores a run marker (graph, input, the head it started from) and
 * arms an alarm `leaseMs` ahead. An alarm that finds the run still going in memory re-arms; one that finds a
 * marker and no run in memory (the object was evicted, crashed or restarted) continues the run from its last
 * checkpoint: with `invoke(null)` once the run had stored a checkpoint, else with the original input. Node
 * failures are not retried (the client resumes them, as with any edgegraph thread); storage failures are, up to
 * `maxAttempts`.
 *
 * Retention, per thread (defaults from the worker's options, overridable per thread): `keepLast` prunes history
 * to the newest N checkpoints after each run (see `pruneHistory`: chains are rebased, forks and pending interrupts
 * kept), and `ttlSeconds` deletes the whole thread once it has been idle that long. Both run from the alarm, never
 * at the same time as a run.
 */
import { DurableObject } from 'cloudflare:workers'
import { Hono, type Context } from 'hono'
import { streamSSE, type SSEStreamingApi } from 'hono/streaming'
import { Command } from '../src/graph/command.js'
import { encodeValue, type Encoded } from '../src/checkpoint/serde.js'
import { pruneHistory } from '../src/checkpoint/retention.js'
import type { StorageAdapter } from '../src/checkpoint/adapter.js'
import type { CompiledGraph, StateSnapshot, StreamMode } from '../src/run/compiled.js'
import { EdgegraphError, isEdgegraphError } from '../src/errors.js'
import { createDurableObjectAdapter } from '../adapters/durable-object.js'
import { createD1Adapter } from '../adapters/d1.js'
import { ApiError, describeError, errorBody, notFoundRoute, onApiError } from './http.js'

/** Bindings the worker and its objects use. */
export interface EdgegraphEnv {
  /** The Durable Object namespace of {@link createThreadObject}'s class. */
  THREADS: DurableObjectNamespace
  /** D1 database: the storage API's store, and the run store with `store: 'd1'`. */
  DB?: D1Database
  /** HS256 secret of the bearer tokens (`wrangler secret put EDGEGRAPH_JWT_SECRET`). */
  EDGEGRAPH_JWT_SECRET?: string
  /** Optional Workers rate limiter (`ratelimits` in wrangler.jsonc): requests over it get 429, per tenant by default. */
  RATE_LIMITER?: RateLimit
}

/** Builds a registered graph on the thread's storage: `(checkpointer) => new StateGraph(...).compile({ checkpointer })`. */
// biome-ignore lint: graphs of any state shape are registered side by side
export type GraphFactory = (checkpointer: StorageAdapter) => CompiledGraph<any, any>

export interface Retention {
  /** Delete the thread once it has had no run or update for this long. */
  ttlSeconds?: number | null
  /** Keep only the newest N checkpoints (plus whatever they and pending interrupts need). */
  keepLast?: number | null
}

export interface ThreadObjectOptions {
  graphs: Record<string, GraphFactory>
  /** Where runs store their history: the object's own SQLite storage (default), or the D1 database `DB`. */
  store?: 'durable-object' | 'd1'
  /** D1 table prefix (default `edgegraph`), shared with the storage API so both see the same threads. */
  d1Table?: string
  /** Default retention of every thread (none by default). */
  retention?: Retention
  /** How long a run may go without its alarm being re-armed before it counts as lost (default 30 s). */
  leaseMs?: number
  /** How often an interrupted run is re-driven before it is given up (default 5). */
  maxAttempts?: number
}

/** What a run request asks for (validated by the Worker). */
export interface RunArgs {
  thread: string
  graph?: string
  /** A new input, or null/absent to continue from the last checkpoint. */
  input?: Record<string, unknown> | null
  /** Answer pending interrupts: one value, or `{ [interruptId]: value }` with `resumeById`. */
  resume?: { value: unknown } | { byId: Record<string, unknown> }
  command?: { update?: Record<string, unknown>; goto?: string | string[] }
  checkpointId?: string
  stream?: StreamMode | StreamMode[]
  recursionLimit?: number
  metadata?: Record<string, unknown>
  durability?: 'sync' | 'async' | 'exit'
}

/** The run in flight, stored so that an alarm can finish it after an eviction. */
interface RunMarker {
  args: RunArgs
  graph: string
  /** Head when the run started: while it is unchanged the run has stored nothing, and must start over. */
  startHead: string | null
  attempts: number
  startedAt: number
}

interface ThreadMeta {
  thread: string
  graph?: string
  retention?: Retention
  lastActive: number
  /** Why the last background attempt (alarm re-drive) failed, for `GET .../state` callers to see. */
  lastError?: { code: string; message: string; at: number }
}

const META = 'edgegraph:meta'
const RUN = 'edgegraph:run'

/** Creates the Durable Object class; export it under the `class_name` your wrangler config binds as `THREADS`. */
export function createThreadObject(options: ThreadObjectOptions) {
  const leaseMs = options.leaseMs ?? 30_000
  const maxAttempts = options.maxAttempts ?? 5

  return class EdgegraphThread extends DurableObject<EdgegraphEnv> {
    #adapter: StorageAdapter
    readonly #graphs = new Map<string, CompiledGraph<any, any>>()
    readonly #app: Hono
    /** Set synchronously when a run or maintenance starts, so two can never overlap. */
    #busy: 'run' | 'maintenance' | undefined

    constructor(ctx: DurableObjectState, env: EdgegraphEnv) {
      super(ctx, env)
      this.#adapter = this.#createAdapter()
      this.#app = this.#routes()
      // A run marker left by an earlier incarnation means a run was cut short: re-drive it now. That incarnation's
      // lease alarm may still be armed up to leaseMs ahead, so bring it forward.
      void ctx.blockConcurrencyWhile(async () => {
        if ((await ctx.storage.get(RUN)) === undefined) return
        const at = await ctx.storage.getAlarm()
        if (at === null || at > Date.now()) await ctx.storage.setAlarm(Date.now())
      })
    }

    #createAdapter(): StorageAdapter {
      if (options.store !== 'd1') return createDurableObjectAdapter(this.ctx.storage)
      if (!this.env.DB) throw new Error('store "d1" needs a D1 binding named DB in the wrangler config')
      return createD1Adapter(this.env.DB, { table: options.d1Table ?? 'edgegraph' })
    }

    override fetch(request: Request): Promise<Response> {
      return Promise.resolve(this.#app.fetch(request))
    }

    override async alarm(): Promise<void> {
      const storage = this.ctx.storage
      if (this.#busy !== undefined) {
        await storage.setAlarm(Date.now() + leaseMs)
        return
      }
      const marker = await storage.get<RunMarker>(RUN)
      if (marker !== undefined) {
        await this.#redrive(marker)
        return
      }
      const meta = await storage.get<ThreadMeta>(META)
      if (meta !== undefined) await this.#maintain(meta)
    }

    // ---- routes (internal: the Worker forwards validated requests here) --------------------------------

    #routes(): Hono {
      const app = new Hono()
      app.post('/run', async (c) => {
        const args = await c.req.json<RunArgs>()
        return this.#run(c, args)
      })
      app.post('/state', async (c) => {
        const { thread, checkpointId } = await c.req.json<{ thread: string; checkpointId?: string }>()
        const { graph, meta } = await this.#graphOf(thread)
        const state = await graph.getState({ threadId: thread, ...(checkpointId === undefined ? {} : { checkpointId }) })
        return c.json({ ...snapshotJson(state), ...(meta?.lastError && checkpointId === undefined ? { lastError: meta.lastError } : {}) })
      })
      app.post('/history', async (c) => {
        const { thread, limit, before, filter } = await c.req.json<{ thread: string; limit: number; before?: string; filter?: Record<string, unknown> }>()
        const { graph } = await this.#graphOf(thread)
        const checkpoints: Record<string, unknown>[] = []
        // One more than asked, to know whether there is a next page.
        for await (const s of graph.getStateHistory({ threadId: thread }, { limit: limit + 1, ...(before === undefined ? {} : { before }), ...(filter === undefined ? {} : { filter }) })) {
          checkpoints.push(snapshotJson(s))
        }
        const more = checkpoints.length > limit
        const page = checkpoints.slice(0, limit)
        const last = page.at(-1)
        return c.json({ checkpoints: page, nextBefore: more && last ? (last.checkpointId as string) : null })
      })
      app.post('/update', async (c) => {
        const body = await c.req.json<{ thread: string; graph?: string; values: Record<string, unknown>; asNode?: string; checkpointId?: string }>()
        return this.#exclusive(async () => {
          const { graph, name } = await this.#graphOf(body.thread, body.graph)
          const config = await graph.updateState({ threadId: body.thread, ...(body.checkpointId === undefined ? {} : { checkpointId: body.checkpointId }) }, body.values, body.asNode)
          await this.#touched(body.thread, name)
          return c.json({ checkpointId: config.checkpointId })
        })
      })
      app.post('/diff', async (c) => {
        const { thread, from, to } = await c.req.json<{ thread: string; from: string; to: string }>()
        const { graph } = await this.#graphOf(thread)
        return c.json({ patch: await graph.diff({ threadId: thread, checkpointId: from }, { threadId: thread, checkpointId: to }) })
      })
      app.post('/delete', async (c) => {
        const { thread } = await c.req.json<{ thread: string }>()
        return this.#exclusive(async () => {
          await this.#deleteThread(thread)
          return c.json({ ok: true })
        })
      })
      app.post('/retention', async (c) => {
        const { thread, retention } = await c.req.json<{ thread: string; retention: Retention }>()
        const meta = (await this.ctx.storage.get<ThreadMeta>(META)) ?? { thread, lastActive: Date.now() }
        meta.retention = { ...meta.retention, ...retention }
        await this.ctx.storage.put(META, meta)
        await this.#schedule(meta)
        return c.json({ retention: effective(options.retention, meta.retention) })
      })
      app.notFound(notFoundRoute)
      app.onError(onApiError('the thread object'))
      return app
    }

    // ---- runs ------------------------------------------------------------------------------------------

    async #run(c: Context, args: RunArgs): Promise<Response> {
      if (this.#busy !== undefined) throw busy(args.thread, this.#busy)
      this.#busy = 'run'
      let handedOff = false
      try {
        const { graph, meta, name } = await this.#graphOf(args.thread, args.graph, true)
        const head = await this.#head(args.thread)
        const marker: RunMarker = { args, graph: name, startHead: head, attempts: 0, startedAt: Date.now() }
        // A new thread's graph is recorded before it runs, so its state can be read while the run goes on.
        const recorded: ThreadMeta = meta?.graph === name ? meta : { ...meta, thread: args.thread, graph: name, lastActive: Date.now() }
        await this.ctx.storage.put({ [RUN]: marker, [META]: recorded })
        await this.ctx.storage.setAlarm(Date.now() + leaseMs)
        if (args.stream === undefined) {
          await this.#execute(graph, args, name, undefined)
          return c.json(snapshotJson(await graph.getState({ threadId: args.thread })))
        }
        handedOff = true
        return streamSSE(c, async (sse) => {
          try {
            await this.#execute(graph, args, name, sse)
            await send(sse, 'end', snapshotJson(await graph.getState({ threadId: args.thread })))
          } catch (err) {
            const { code, message } = describeError(err, 'the run')
            await send(sse, 'error', errorBody(code, message))
          } finally {
            this.#busy = undefined
          }
        })
      } finally {
        if (!handedOff) this.#busy = undefined
      }
    }

    /** Runs (or continues) the graph; clears the run marker once the run has ended, one way or another. */
    async #execute(graph: CompiledGraph<any, any>, args: RunArgs, name: string, sse: SSEStreamingApi | undefined, continueFrom?: 'head'): Promise<void> {
      const config = {
        threadId: args.thread,
        ...(args.checkpointId === undefined || continueFrom === 'head' ? {} : { checkpointId: args.checkpointId }),
        ...(args.recursionLimit === undefined ? {} : { recursionLimit: args.recursionLimit }),
        ...(args.metadata === undefined ? {} : { metadata: args.metadata }),
        ...(args.durability === undefined ? {} : { durability: args.durability }),
      }
      const input = continueFrom === 'head' ? null : inputOf(args)
      let ended = false
      try {
        if (sse === undefined) {
          await graph.invoke(input, config)
        } else {
          const modes = Array.isArray(args.stream) ? args.stream : [args.stream ?? 'values']
          // The run goes on when the client goes away: writes to a closed stream are dropped, never thrown.
          for await (const [mode, chunk] of graph.stream(input, { ...config, streamMode: modes })) {
            await send(sse, mode, encodeValue(chunk, { channel: mode, path: [] }))
          }
        }
        ended = true
      } catch (err) {
        // A node failure, a bad request or an interrupt answer that does not fit ends the run: the client decides
        // what next. Storage trouble leaves the marker, so the alarm tries again.
        ended = !isEdgegraphError(err) || !['STORAGE_UNAVAILABLE', 'STORAGE_FAILED', 'CONFLICT', 'ABORTED'].includes(err.code)
        throw err
      } finally {
        if (ended) {
          await this.ctx.storage.delete(RUN)
          await this.#touched(args.thread, name)
        } else {
          await this.ctx.storage.setAlarm(Date.now() + Math.min(leaseMs, 5_000))
        }
      }
    }

    /** Continues a run whose object went away mid-run (alarm). */
    async #redrive(marker: RunMarker): Promise<void> {
      const storage = this.ctx.storage
      if (marker.attempts >= maxAttempts) {
        await storage.delete(RUN)
        const meta = (await storage.get<ThreadMeta>(META)) ?? { thread: marker.args.thread, lastActive: Date.now() }
        meta.lastError = { code: 'RUN_LOST', message: `the run could not be continued after ${maxAttempts} attempts; continue it with a run request (input null)`, at: Date.now() }
        await storage.put(META, meta)
        return
      }
      this.#busy = 'run'
      try {
        await storage.put(RUN, { ...marker, attempts: marker.attempts + 1 })
        await storage.setAlarm(Date.now() + leaseMs)
        const { graph } = await this.#graphOf(marker.args.thread, marker.graph, true)
        const thread = marker.args.thread
        const moved = (await this.#head(thread)) !== marker.startHead
        let args = marker.args
        if (moved) {
          // The steps already taken count against the run's recursion limit: a run cut short gets no fresh budget.
          // They are the steps from where it started (its fork point, or the head then; a new input's own
          // checkpoint is not a step) to the head now.
          const stepOf = async (checkpointId?: string) => (await graph.getState({ threadId: thread, ...(checkpointId === undefined ? {} : { checkpointId }) })).metadata.step
          const from = args.checkpointId ?? marker.startHead ?? undefined
          const start = (from === undefined ? -1 : await stepOf(from)) + (inputOf(args) === null ? 0 : 1)
          args = { ...args, recursionLimit: Math.max(1, (args.recursionLimit ?? 25) - ((await stepOf()) - start)) }
        }
        await this.#execute(graph, args, marker.graph, undefined, moved ? 'head' : undefined)
      } catch (err) {
        const { code, message } = describeError(err, 'continuing the run')
        const meta = await storage.get<ThreadMeta>(META)
        if (meta !== undefined) await storage.put(META, { ...meta, lastError: { code, message, at: Date.now() } })
      } finally {
        this.#busy = undefined
      }
    }

    // ---- retention -------------------------------------------------------------------------------------

    /** Records activity and arms the alarm for retention. */
    async #touched(thread: string, graph: string): Promise<void> {
      // Read now, not when the run started: retention may have been changed while it went on.
      const next: ThreadMeta = { ...((await this.ctx.storage.get<ThreadMeta>(META)) ?? { thread }), graph, lastActive: Date.now() }
      delete next.lastError
      await this.ctx.storage.put(META, next)
      await this.#schedule(next)
    }

    async #schedule(meta: ThreadMeta): Promise<void> {
      if ((await this.ctx.storage.get(RUN)) !== undefined) return // the run's lease alarm comes first
      const { ttlSeconds, keepLast } = effective(options.retention, meta.retention)
      const times: number[] = []
      if (keepLast != null) times.push(Date.now())
      if (ttlSeconds != null) times.push(meta.lastActive + ttlSeconds * 1000)
      if (times.length === 0) await this.ctx.storage.deleteAlarm()
      else await this.ctx.storage.setAlarm(Math.min(...times))
    }

    /** Alarm: delete an expired thread, else prune it to `keepLast`, and arm the TTL check. */
    async #maintain(meta: ThreadMeta): Promise<void> {
      const { ttlSeconds, keepLast } = effective(options.retention, meta.retention)
      this.#busy = 'maintenance'
      try {
        if (ttlSeconds != null && Date.now() >= meta.lastActive + ttlSeconds * 1000) {
          await this.#deleteThread(meta.thread)
          return
        }
        if (keepLast != null) await pruneHistory(this.#adapter, meta.thread, { keepLast })
        if (ttlSeconds != null) await this.ctx.storage.setAlarm(meta.lastActive + ttlSeconds * 1000)
      } catch (err) {
        // Pruning raced a writer (CONFLICT) or storage failed: try again a little later.
        const { code, message } = describeError(err, 'retention')
        await this.ctx.storage.put(META, { ...meta, lastError: { code, message, at: Date.now() } })
        await this.ctx.storage.setAlarm(Date.now() + 10_000)
      } finally {
        this.#busy = undefined
      }
    }

    async #deleteThread(thread: string): Promise<void> {
      await this.#adapter.deleteThread(thread)
      await this.ctx.storage.deleteAlarm()
      // The object's own storage (meta, markers and, in DO mode, the thread's tables) goes entirely.
      await this.ctx.storage.deleteAll()
      // Its tables went with it: start again from a fresh adapter (which creates them on first use).
      this.#adapter = this.#createAdapter()
      this.#graphs.clear()
    }

    // ---- helpers ---------------------------------------------------------------------------------------

    /** Runs `fn` with the thread to itself (updates, deletes): 409 while a run or maintenance is going on. */
    async #exclusive(fn: () => Promise<Response>): Promise<Response> {
      if (this.#busy !== undefined) throw busy('this thread', this.#busy)
      this.#busy = 'run'
      try {
        return await fn()
      } finally {
        this.#busy = undefined
      }
    }

    /** The thread's graph: the one it was created with, or `requested` for a new thread. */
    async #graphOf(thread: string, requested?: string, create = false): Promise<{ graph: CompiledGraph<any, any>; name: string; meta: ThreadMeta | undefined }> {
      const meta = await this.ctx.storage.get<ThreadMeta>(META)
      if (meta?.graph !== undefined && requested !== undefined && requested !== meta.graph) {
        throw new ApiError(409, 'INVALID_ARGUMENT', `thread "${thread}" runs graph "${meta.graph}", not "${requested}"; start a new thread for another graph`)
      }
      const name = meta?.graph ?? requested
      if (name === undefined) {
        throw create
          ? new ApiError(400, 'INVALID_ARGUMENT', `thread "${thread}" is new: name the graph to run ("graph")`)
          : new EdgegraphError('THREAD_NOT_FOUND', `Thread "${thread}" has no checkpoints. Start it with a run.`)
      }
      const factory = options.graphs[name]
      if (factory === undefined) throw new ApiError(404, 'NOT_FOUND', `no graph named "${name}" is registered`)
      let graph = this.#graphs.get(name)
      if (graph === undefined) {
        graph = factory(this.#adapter)
        this.#graphs.set(name, graph)
      }
      return { graph, name, meta }
    }

    async #head(thread: string): Promise<string | null> {
      const [raw] = await this.#adapter.get(thread, ['h'])
      return raw === undefined ? null : new TextDecoder().decode(raw)
    }
  }
}

function effective(defaults: Retention | undefined, own: Retention | undefined): Retention {
  return { ttlSeconds: null, keepLast: null, ...defaults, ...own }
}

function busy(thread: string, what: 'run' | 'maintenance'): ApiError {
  return new ApiError(409, 'THREAD_BUSY', what === 'run' ? `a run is already in progress on ${thread === 'this thread' ? thread : `thread "${thread}"`}; wait for it to finish` : 'the thread is being pruned; retry in a moment')
}

function inputOf(args: RunArgs): Record<string, unknown> | Command<Record<string, unknown>> | null {
  if (args.resume !== undefined || args.command !== undefined) {
    return new Command({
      ...(args.resume === undefined ? {} : { resume: 'byId' in args.resume ? args.resume.byId : args.resume.value }),
      ...(args.command?.update === undefined ? {} : { update: args.command.update }),
      ...(args.command?.goto === undefined ? {} : { goto: args.command.goto }),
    })
  }
  return args.input ?? null
}

async function send(sse: SSEStreamingApi, event: string, data: unknown): Promise<void> {
  if (sse.aborted || sse.closed) return
  try {
    await sse.writeSSE({ event, data: JSON.stringify(data) })
  } catch {
    // The client went away; the run goes on.
  }
}

/**
 * A snapshot as the API shows it. State values, task results and interrupt values keep edgegraph's JSON form
 * (a Date, Map, Set, BigInt... is tagged `{ "$t": ... }`, plain JSON is unchanged); metadata is plain JSON.
 */
export function snapshotJson(s: StateSnapshot<unknown>): Record<string, unknown> {
  const tagged = (value: unknown, channel: string) => encodeValue(value, { channel, path: [] })
  return {
    checkpointId: s.config.checkpointId,
    parentId: s.parentConfig?.checkpointId ?? null,
    createdAt: s.createdAt,
    values: tagged(s.values, 'values'),
    next: s.next,
    tasks: tagged(s.tasks, 'tasks'),
    interrupts: tagged(s.interrupts, 'interrupts'),
    metadata: JSON.parse(JSON.stringify(s.metadata)) as Encoded,
  }
}
