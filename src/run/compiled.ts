/** @module A compiled graph: run it (invoke/stream), inspect and edit its threads (getState, history, updateState, diff). */
import { EdgegraphError } from '../errors.js'
import type { StorageAdapter } from '../checkpoint/adapter.js'
import { History, type StateVersion } from '../checkpoint/history.js'
import { jsonPatch, type JsonPatchOperation } from '../checkpoint/patch.js'
import type { ListOptions } from '../checkpoint/read.js'
import type { Checkpoint } from '../checkpoint/model.js'
import { encodeValue, type Encoded } from '../checkpoint/serde.js'
import type { StateDefinition, StateOf, UpdateOf } from '../graph/channels.js'
import { Command, START } from './command.js'
import type { CompileOptions, RunConfig, RunOptions } from './config.js'
import type { Interrupt } from './interrupts.js'
import { Run, type RunEvent } from './loop.js'
import { ParentCommand } from './task.js'
import { namespaced } from '../checkpoint/namespaced.js'
import { CHECKPOINTER_OPTIONS, COMPILE_OPTIONS, HISTORY_OPTIONS, RUN_OPTIONS, STREAM_OPTIONS, THREAD_OPTIONS, checkOptions, streamModes } from './options.js'
import { Scope, needsCheckpointer, threadNotFound } from './scope.js'
import { applyWrites } from './writes.js'
import { stateVersion } from './migrations.js'
import { snapshotOf, type StateSnapshot, type ThreadConfig } from './snapshot.js'
import type { GraphSpec, NodeContext, SubgraphCall } from './spec.js'
import { streamRun, type DebugEvent, type InterruptChunk, type StreamMode } from './stream.js'

type StreamChunk<D extends StateDefinition, M extends StreamMode> = M extends 'values'
  ? StateOf<D> | InterruptChunk
  : M extends 'updates'
    ? Record<string, UpdateOf<D>> | InterruptChunk
    : M extends 'messages'
      ? [chunk: unknown, meta: { node: string; step: number; threadId: string | undefined }]
      : M extends 'tasks'
        ? Record<string, unknown>
        : M extends 'checkpoints'
          ? StateSnapshot<StateOf<D>>
          : M extends 'debug'
            ? DebugEvent
            : unknown

/** The result of `invoke`: the state, plus `__interrupt__` when the run stopped for a human. */
export type InvokeResult<S> = S & { __interrupt__?: Interrupt[] }

/** `getStateHistory` options: like `ListOptions`, with `before` also in LangGraph's shape, a checkpoint's config. */
export interface HistoryQuery extends Omit<ListOptions, 'before'> {
  /** Only checkpoints older than this one: its id, or its config (`{ threadId, checkpointId }`, as `getState` returns it). */
  before?: string | ThreadConfig
}

type Input<D extends StateDefinition> = UpdateOf<D> | Command<UpdateOf<D>> | null

/** A runnable graph. Create it with `new StateGraph(...).compile(...)`. */
export class CompiledGraph<D extends StateDefinition, N extends string = string> {
  readonly #history: History | undefined
  readonly #options: RunOptions
  readonly #spec: GraphSpec
  readonly #compiled: CompileOptions<N>
  readonly #version: StateVersion
  /** Run options every run of this graph object starts from (`withConfig`). */
  #defaults: RunConfig = {}

  constructor(spec: GraphSpec, options: CompileOptions<N>) {
    this.#spec = spec
    this.#compiled = options
    checkOptions(options, COMPILE_OPTIONS, 'compile options')
    const version = (this.#version = stateVersion(spec, options.version, options.migrations))
    const cp = options.checkpointer
    // A value that is not an adapter is refused by History, with what to pass instead.
    const tuned = typeof cp === 'object' && cp !== null && 'adapter' in cp
    if (tuned) checkOptions(cp, CHECKPOINTER_OPTIONS, 'compile options: checkpointer')
    this.#history = cp === undefined ? undefined : tuned ? new History(cp.adapter, cp, version) : new History(cp as StorageAdapter, {}, version)
    if (!this.#history && (options.interruptBefore?.length || options.interruptAfter?.length)) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'interruptBefore and interruptAfter need compile({ checkpointer })')
    }
    this.#options = {
      interruptBefore: new Set(options.interruptBefore),
      interruptAfter: new Set(options.interruptAfter),
      durability: options.durability ?? 'sync',
      checkpointEvery: options.checkpointEvery,
      store: options.store,
      cache: options.cache,
    }
  }

  /**
   * Runs the graph until it ends or is interrupted, and returns the final state.
   * `input` starts a new turn on the thread; `null` continues it from its last checkpoint (or `checkpointId`);
   * `new Command({ resume })` answers a pending `interrupt()`.
   */
  async invoke(input: Input<D>, config: RunConfig = {}): Promise<InvokeResult<StateOf<D>>> {
    checkOptions(config, RUN_OPTIONS, 'invoke config')
    config = { ...this.#defaults, ...config }
    const result = await this.#locked(config, () => this.#run(config).execute(input))
    const values = { ...result.values }
    if (result.interrupts.length > 0) Object.defineProperty(values, '__interrupt__', { value: result.interrupts, enumerable: false })
    return values as InvokeResult<StateOf<D>>
  }

  /**
   * Runs the graph and yields as it goes. With one mode, yields that mode's chunks; with several
   * (`streamMode: ['values', 'updates']`), yields `[mode, chunk]` pairs. Breaking out of the loop stops the
   * run at the next step boundary. A mode edgegraph does not have fails at once with `INVALID_ARGUMENT`.
   */
  stream(input: Input<D>, config: RunConfig & { streamMode?: StreamMode | StreamMode[]; subgraphs: true }): AsyncIterable<[namespace: string[], ...chunk: unknown[]]>
  stream<M extends StreamMode = 'values'>(input: Input<D>, config?: RunConfig & { streamMode?: M; subgraphs?: false }): AsyncIterable<StreamChunk<D, M>>
  stream<M extends StreamMode>(input: Input<D>, config: RunConfig & { streamMode: M[]; subgraphs?: false }): AsyncIterable<{ [K in M]: [K, StreamChunk<D, K>] }[M]>
  stream<M extends StreamMode>(input: Input<D>, config: RunConfig & { streamMode?: M | M[]; subgraphs?: boolean } = {}): AsyncIterable<unknown> {
    checkOptions(config, STREAM_OPTIONS, 'stream config')
    config = { ...this.#defaults, ...config }
    const { streamMode, subgraphs, ...runConfig } = config as RunConfig & { streamMode?: unknown; subgraphs?: boolean }
    const { modes, single } = streamModes(streamMode)
    return streamRun(modes, single, subgraphs === true, runConfig.signal, (signal, emit) => {
      const withSignal = { ...runConfig, signal }
      return this.#locked(withSignal, () => this.#run(withSignal, emit).execute(input))
    })
  }

  /**
   * Runs the graph on each input, all at once (`config`, one for all or one per input), as LangGraph.js's `batch`.
   * Resolves with the results in input order; rejects with the first error.
   */
  batch(inputs: Input<D>[], config?: RunConfig | RunConfig[]): Promise<InvokeResult<StateOf<D>>[]> {
    return Promise.all(inputs.map((input, i) => this.invoke(input, Array.isArray(config) ? config[i] : config)))
  }

  /** The same graph with `config` as the default of every run (`invoke`, `stream`, `batch`), as LangGraph.js's `withConfig`. */
  withConfig(config: RunConfig): CompiledGraph<D, N> {
    checkOptions(config, RUN_OPTIONS, 'withConfig config')
    const graph = new CompiledGraph<D, N>(this.#spec, this.#compiled)
    graph.#defaults = { ...this.#defaults, ...config }
    return graph
  }

  /** The state of a thread at its newest checkpoint, or at `checkpointId`. */
  async getState(config: ThreadConfig, options: { subgraphs?: boolean } = {}): Promise<StateSnapshot<StateOf<D>>> {
    const history = this.#thread('getState', config)
    checkOptions(options, { subgraphs: STREAM_OPTIONS.subgraphs }, 'getState options')
    const checkpoint = await history.load(config.threadId, config.checkpointId)
    if (!checkpoint) throw threadNotFound(config.threadId)
    const snap = await this.#snapshot(checkpoint)
    // A subgraph task that stopped inside shows the subgraph's own state, kept in the thread under its task's namespace.
    if (options.subgraphs) {
      for (const [i, t] of snap.tasks.entries()) {
        const sub = this.#spec.nodes.get(t.name)?.subgraph as CompiledGraph<StateDefinition> | undefined
        const inner = sub && (await new History(namespaced(history.adapter, `${encodeURIComponent(t.name)}:${checkpoint.id}:${i}`), {}, sub.#version).load(config.threadId))
        if (inner) t.state = await (sub as CompiledGraph<StateDefinition>).#snapshot(inner)
      }
    }
    return snap
  }

  /**
   * A thread's checkpoints, newest first. `before` pages back from a checkpoint (its id or config); `filter`
   * matches metadata (`{ source: 'input' }`, `{ step: 3 }`, or your own keys).
   */
  async *getStateHistory(config: ThreadConfig, options: HistoryQuery = {}): AsyncIterable<StateSnapshot<StateOf<D>>> {
    const history = this.#thread('getStateHistory', config)
    for (const checkpoint of await history.list(config.threadId, listOptions(options))) {
      yield snapshotOf(checkpoint, false) as StateSnapshot<StateOf<D>>
    }
  }

  /**
   * Writes a new checkpoint with `values` applied (through reducers), as if `asNode` returned them.
   * Given an older `checkpointId`, this forks a new branch; the old one stays readable.
   * Returns the new checkpoint's config, to continue with `invoke(null, config)`.
   */
  async updateState(config: ThreadConfig, values: UpdateOf<D>, asNode?: N): Promise<Required<ThreadConfig>> {
    this.#thread('updateState', config)
    const checkpoint = await this.#locked(config, () => this.#run(config).update(values, asNode))
    return { threadId: config.threadId, checkpointId: checkpoint.id }
  }

  /**
   * The RFC 6902 JSON Patch from one checkpoint's state to another's (same thread, any branches).
   * Values that are not plain JSON (Date, Map, ...) appear in their stored tagged form.
   */
  async diff(from: ThreadConfig, to: ThreadConfig): Promise<JsonPatchOperation[]> {
    const history = this.#thread('diff', from)
    this.#thread('diff', to)
    const [a, b] = await Promise.all([history.load(from.threadId, from.checkpointId), history.load(to.threadId, to.checkpointId)])
    if (!a) throw threadNotFound(from.threadId)
    if (!b) throw threadNotFound(to.threadId)
    const encode = (values: Record<string, unknown>) => encodeValue(values, { channel: 'state', path: [] }) as Encoded
    return jsonPatch(encode(a.values), encode(b.values))
  }

  /** Deletes every checkpoint of a thread. */
  async deleteThread(threadId: string): Promise<void> {
    await this.#thread('deleteThread', { threadId }).deleteThread(threadId)
  }

  /**
   * @internal Runs this graph as one node of a parent graph (whose spec is `parent`). It gets the channels both
   * graphs have, and hands back those it changed (also ones the parent had not set). Unlike LangGraph.js, shared
   * channels it did not change are not handed back, so a parent's reducer never receives a value it already holds.
   * When the parent's step is stored, the subgraph keeps checkpoints of its own in the parent's thread (`call.history`),
   * so an attempt of the step after an interrupt or a failure continues it where it stopped: its finished nodes do
   * not run again. Its `Command({ graph: Command.PARENT })` becomes this node's result in the parent.
   */
  async runAsNode(input: Record<string, unknown>, ctx: NodeContext, parent: GraphSpec, call?: SubgraphCall): Promise<Record<string, unknown> | Command> {
    const shared = (k: string) => (parent.schema !== undefined || parent.channels.has(k)) && (this.#spec.schema !== undefined || this.#spec.channels.has(k))
    let start: unknown = Object.fromEntries(Object.keys(input).filter(shared).map((k) => [k, input[k]]))
    const h = call?.history
    const history = h && new History(namespaced(h.adapter, h.ns), {}, this.#version)
    // An earlier attempt of this step left the subgraph stopped: continue it, with the answer the parent got.
    if (history && (await history.head(h.threadId)) !== undefined) start = call.resume.length > 0 ? new Command({ resume: call.resume.at(-1) }) : null
    const run = new Run(this.#spec, this.#options, history, { ...(h ? { threadId: h.threadId } : {}), signal: ctx.signal, recursionLimit: 10_000 }, call?.emit, ctx)
    try {
      const { values } = await run.execute(start)
      return Object.fromEntries(Object.keys(values).filter((k) => shared(k) && values[k] !== input[k]).map((k) => [k, values[k]]))
    } catch (err) {
      if (!(err instanceof ParentCommand)) throw err
      const { update, goto } = err.command
      return new Command({ ...(update ? { update } : {}), ...(goto === undefined ? {} : { goto }) })
    }
  }

  /** @internal What the graph is made of, for `edgegraph/draw`. */
  get spec(): GraphSpec {
    return this.#spec
  }

  /** @internal Why this graph cannot run as a subgraph node yet (options it would silently lose), or undefined. */
  subgraphProblem(): string | undefined {
    if (this.#history) return 'a subgraph keeps no history of its own yet: compile it without a checkpointer'
    return undefined
  }

  /**
   * A checkpoint as `getState` shows it, as LangGraph.js does: with what its unfinished step already did applied (the
   * input a resume stored, `Command({ resume, update })`, then the finished tasks' writes, in task order). History
   * shows checkpoints as stored, as LangGraph's does.
   */
  async #snapshot(c: Checkpoint): Promise<StateSnapshot<StateOf<D>>> {
    const done = c.pending.filter((p) => p.writes).sort((a, b) => a.index - b.index)
    if (done.length > 0) {
      const tasks = done.map((p) => ({ node: p.index < 0 ? START : p.node, writes: p.writes as [string, unknown][] }))
      try {
        c = { ...c, values: (await applyWrites(this.#spec, new Scope(c.threadId, () => c.id), c.values, tasks, false)).values }
      } catch {
        // Writes that cannot go together (two writers of a last-value channel) leave the checkpoint shown as stored.
      }
    }
    return snapshotOf(c) as StateSnapshot<StateOf<D>>
  }

  /** Holds the thread's cross-tab lock around `fn` when the adapter offers one. */
  #locked<T>(config: RunConfig, fn: () => Promise<T>): Promise<T> {
    const adapter = this.#history?.adapter
    if (!adapter?.lockThread || typeof config.threadId !== 'string') return fn()
    return adapter.lockThread(config.threadId, fn, { wait: config.ifBusy !== 'fail', ...(config.signal ? { signal: config.signal } : {}) })
  }

  #run(config: RunConfig, emit?: (e: RunEvent) => void): Run {
    return new Run(this.#spec, this.#options, this.#history, config, emit)
  }

  /** The history of the thread `config` names, once `config` is checked. */
  #thread(what: string, config: ThreadConfig): History {
    checkOptions(config, THREAD_OPTIONS, `${what} config`)
    if (!this.#history || typeof config?.threadId !== 'string' || config.threadId === '') throw needsCheckpointer(what)
    return this.#history
  }
}

function listOptions(options: HistoryQuery): ListOptions {
  checkOptions(options, HISTORY_OPTIONS, 'getStateHistory options')
  const before = typeof options.before === 'object' && options.before !== null ? options.before.checkpointId : options.before
  if (options.before !== undefined && typeof before !== 'string') throw new EdgegraphError('INVALID_ARGUMENT', 'getStateHistory options: before must be a checkpoint id or a config with one')
  return options.before === undefined ? (options as ListOptions) : { ...options, before: before as string }
}
