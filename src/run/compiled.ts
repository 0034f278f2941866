/** @module A compiled graph: run it (invoke/stream), inspect and edit its threads (getState, history, updateState, diff). */
import { EdgegraphError } from '../errors.js'
import { History, type Checkpoint, type ListOptions } from '../checkpoint/history.js'
import type { Source, Usage } from '../checkpoint/record.js'
import { jsonPatch, type JsonPatchOperation } from '../checkpoint/patch.js'
import { encodeValue, type Encoded } from '../checkpoint/serde.js'
import type { StateDefinition, StateOf, UpdateOf } from '../graph/channels.js'
import type { Command } from '../graph/command.js'
import type { CompileOptions } from '../graph/state-graph.js'
import { checkChoice, checkCount, checkKeys, checkRunConfig, DURABILITY, streamModes } from './options.js'
import { Run, interruptId, needsCheckpointer, openInterrupts, threadNotFound, type Durability, type Interrupt, type RunConfig, type RunEvent } from './loop.js'
import type { GraphSpec, NodeContext } from './spec.js'

export type { Durability, Interrupt, RunConfig }

/** Identifies a thread, and optionally one of its checkpoints. */
export interface ThreadConfig {
  threadId: string
  checkpointId?: string
}

/** What is stored about a checkpoint besides its values. */
export interface CheckpointMetadata {
  source: Source
  step: number
  parentId: string | undefined
  /** Which node wrote which channels in the step that made this checkpoint. */
  writes: Record<string, string[]>
  /** Time spent running the step(s) this checkpoint records, in milliseconds. */
  durationMs: number | undefined
  /** Usage reported by nodes in this step. */
  usage: Usage | undefined
  /** Usage summed over this checkpoint's branch, from the thread's start. */
  usageTotal: Usage | undefined
  /** Your metadata from the run config. */
  [key: string]: unknown
}

/** A task of the step after a checkpoint: what runs next, and what it left behind if the step was attempted. */
export interface TaskInfo {
  id: string
  name: string
  interrupts: Interrupt[]
  /** The task finished and its writes are kept (a sibling failed or interrupted). */
  result?: Record<string, unknown>
  error?: { name: string; message: string }
}

/** A checkpoint as `getState` / `getStateHistory` show it. */
export interface StateSnapshot<S> {
  values: S
  /** Nodes the next step runs (empty when the run is done). */
  next: string[]
  tasks: TaskInfo[]
  /** Interrupts waiting for `invoke(null)` (before/after) or `invoke(new Command({ resume }))` (during). */
  interrupts: Interrupt[]
  metadata: CheckpointMetadata
  config: Required<ThreadConfig>
  parentConfig: Required<ThreadConfig> | undefined
  /** ISO time the checkpoint was created. */
  createdAt: string
}

/** `stream()` modes: full state after each step, each node's update, or a debug event per stored checkpoint. */
export type StreamMode = 'values' | 'updates' | 'debug'

/** A `debug` stream event: one per stored checkpoint. */
export interface DebugEvent {
  type: 'checkpoint'
  step: number
  timestamp: string
  payload: { threadId: string; checkpointId: string; parentId: string | undefined; next: string[]; metadata: CheckpointMetadata }
}

type StreamChunk<D extends StateDefinition, M extends StreamMode> = M extends 'values'
  ? StateOf<D>
  : M extends 'updates'
    ? Record<string, UpdateOf<D>> | { __interrupt__: Interrupt[] }
    : DebugEvent

/** The result of `invoke`: the state, plus `__interrupt__` when the run stopped for a human. */
export type InvokeResult<S> = S & { __interrupt__?: Interrupt[] }

/** A runnable graph. Create it with `new StateGraph(...).compile(...)`. */
export class CompiledGraph<D extends StateDefinition, N extends string = string> {
  #history: History | undefined
  #options: { interruptBefore: Set<string>; interruptAfter: Set<string>; durability: Durability; checkpointEvery: number | undefined }

  readonly #spec: GraphSpec

  constructor(spec: GraphSpec, options: CompileOptions<N>) {
    this.#spec = spec
    checkKeys(options, ['checkpointer', 'interruptBefore', 'interruptAfter', 'durability', 'checkpointEvery'], 'compile options')
    checkChoice(options.durability, DURABILITY, 'compile options: durability')
    checkCount(options.checkpointEvery, 1, 'compile options: checkpointEvery')
    const cp = options.checkpointer
    if (cp !== undefined && (typeof cp !== 'object' || cp === null)) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'compile({ checkpointer }) takes a storage adapter such as createMemoryAdapter(), or { adapter, ...historyOptions }')
    }
    if (cp !== undefined && 'adapter' in cp) checkKeys(cp, ['adapter', 'snapshotFactor', 'packSize'], 'compile options: checkpointer')
    this.#history = cp === undefined ? undefined : 'adapter' in cp ? new History(cp.adapter, cp) : new History(cp)
    const every = options.checkpointEvery
    if (!this.#history && (options.interruptBefore?.length || options.interruptAfter?.length)) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'interruptBefore and interruptAfter need a checkpointer to resume from: compile({ checkpointer, interruptBefore })')
    }
    this.#options = {
      interruptBefore: new Set(options.interruptBefore),
      interruptAfter: new Set(options.interruptAfter),
      durability: options.durability ?? 'sync',
      checkpointEvery: every,
    }
  }

  /**
   * Runs the graph until it ends or is interrupted, and returns the final state.
   * `input` starts a new turn on the thread; `null` continues it from its last checkpoint (or `checkpointId`);
   * `new Command({ resume })` answers a pending `interrupt()`.
   */
  async invoke(input: UpdateOf<D> | Command<UpdateOf<D>> | null, config: RunConfig = {}): Promise<InvokeResult<StateOf<D>>> {
    checkRunConfig(config, 'invoke')
    const result = await this.#locked(config, () => this.#run(config).execute(input))
    const values = { ...result.values }
    if (result.interrupts.length > 0) Object.defineProperty(values, '__interrupt__', { value: result.interrupts, enumerable: false })
    return values as InvokeResult<StateOf<D>>
  }

  /**
   * Runs the graph and yields as it goes. With one mode, yields that mode's chunks; with several
   * (`streamMode: ['values', 'updates']`), yields `[mode, chunk]` pairs. Breaking out of the loop stops the
   * run at the next step boundary.
   */
  stream<M extends StreamMode = 'values'>(input: UpdateOf<D> | Command<UpdateOf<D>> | null, config?: RunConfig & { streamMode?: M }): AsyncIterable<StreamChunk<D, M>>
  stream<M extends StreamMode>(input: UpdateOf<D> | Command<UpdateOf<D>> | null, config: RunConfig & { streamMode: M[] }): AsyncIterable<{ [K in M]: [K, StreamChunk<D, K>] }[M]>
  stream<M extends StreamMode>(input: UpdateOf<D> | Command<UpdateOf<D>> | null, config: RunConfig & { streamMode?: M | M[] } = {}): AsyncIterable<unknown> {
    checkRunConfig(config, 'stream', ['streamMode', 'subgraphs'])
    if ((config as { subgraphs?: unknown }).subgraphs !== undefined && (config as { subgraphs?: unknown }).subgraphs !== false) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'stream(..., { subgraphs: true }) is not supported yet: chunks from inside subgraphs are not streamed. Leave subgraphs out.')
    }
    const { modes, single } = streamModes(config.streamMode)
    const { streamMode: _mode, subgraphs: _subgraphs, ...runConfig } = config as RunConfig & { streamMode?: unknown; subgraphs?: unknown }
    const graph = this
    return {
      async *[Symbol.asyncIterator]() {
        const queue: unknown[] = []
        let wake: (() => void) | undefined
        let done = false
        let failure: unknown
        const stopper = new AbortController()
        const signal = config.signal ? AbortSignal.any([config.signal, stopper.signal]) : stopper.signal
        const push = (mode: StreamMode, chunk: unknown) => {
          if (!modes.includes(mode)) return
          queue.push(single ? chunk : [mode, chunk])
          wake?.()
        }
        const onEvent = (e: RunEvent) => {
          if (e.type === 'values') push('values', e.values)
          else if (e.type === 'update') push('updates', { [e.node]: e.update })
          else if (e.type === 'interrupt') push('updates', { __interrupt__: e.interrupts })
          else push('debug', { type: 'checkpoint', step: e.checkpoint.step, timestamp: new Date(e.checkpoint.createdAt).toISOString(), payload: { threadId: e.checkpoint.threadId, checkpointId: e.checkpoint.id, parentId: e.checkpoint.parentId, next: e.checkpoint.next.map((t) => t.node), metadata: metadataOf(e.checkpoint) } })
        }
        const running = graph
          .#locked({ ...runConfig, signal }, () => graph.#run({ ...runConfig, signal }, onEvent).execute(input))
          .then(
            () => undefined,
            (err) => {
              failure = err
            },
          )
          .finally(() => {
            done = true
            wake?.()
          })
        try {
          for (;;) {
            while (queue.length > 0) yield queue.shift()
            if (done) break
            await new Promise<void>((resolve) => (wake = resolve))
            wake = undefined
          }
          if (failure !== undefined) throw failure
        } finally {
          if (!done) {
            stopper.abort(new EdgegraphError('ABORTED', 'the stream consumer stopped reading'))
            await running
          }
        }
      },
    }
  }

  /** The state of a thread at its newest checkpoint, or at `checkpointId`. */
  async getState(config: ThreadConfig): Promise<StateSnapshot<StateOf<D>>> {
    checkKeys(config, ['threadId', 'checkpointId'], 'getState config')
    const history = this.#requireHistory('getState', config)
    const checkpoint = await history.load(config.threadId, config.checkpointId)
    if (!checkpoint) throw threadNotFound(config.threadId)
    return snapshotOf(checkpoint) as StateSnapshot<StateOf<D>>
  }

  /**
   * A thread's checkpoints, newest first. `before` pages back from a checkpoint id; `filter` matches metadata
   * (`{ source: 'input' }`, `{ step: 3 }`, or your own keys).
   */
  async *getStateHistory(config: ThreadConfig, options: HistoryQuery = {}): AsyncIterable<StateSnapshot<StateOf<D>>> {
    checkKeys(config, ['threadId', 'checkpointId'], 'getStateHistory config')
    const history = this.#requireHistory('getStateHistory', config)
    for (const checkpoint of await history.list(config.threadId, listOptions(options))) {
      yield snapshotOf(checkpoint) as StateSnapshot<StateOf<D>>
    }
  }

  /**
   * Writes a new checkpoint with `values` applied (through reducers), as if `asNode` returned them.
   * Given an older `checkpointId`, this forks a new branch; the old one stays readable.
   * Returns the new checkpoint's config, to continue with `invoke(null, config)`.
   */
  async updateState(config: ThreadConfig, values: UpdateOf<D>, asNode?: N): Promise<Required<ThreadConfig>> {
    checkKeys(config, ['threadId', 'checkpointId'], 'updateState config')
    this.#requireHistory('updateState', config)
    const checkpoint = await this.#locked(config, () => this.#run(config).update(values, asNode))
    return { threadId: config.threadId, checkpointId: checkpoint.id }
  }

  /**
   * The RFC 6902 JSON Patch from one checkpoint's state to another's (same thread, any branches).
   * Values that are not plain JSON (Date, Map, ...) appear in their stored tagged form.
   */
  async diff(from: ThreadConfig, to: ThreadConfig): Promise<JsonPatchOperation[]> {
    checkKeys(from, ['threadId', 'checkpointId'], 'diff(from)')
    checkKeys(to, ['threadId', 'checkpointId'], 'diff(..., to)')
    const history = this.#requireHistory('diff', from)
    const [a, b] = await Promise.all([history.load(from.threadId, from.checkpointId), history.load(to.threadId, to.checkpointId)])
    if (!a) throw threadNotFound(from.threadId)
    if (!b) throw threadNotFound(to.threadId)
    const encode = (values: Record<string, unknown>) => encodeValue(values, { channel: 'state', path: [] }) as Encoded
    return jsonPatch(encode(a.values), encode(b.values))
  }

  /** Deletes every checkpoint of a thread. */
  async deleteThread(threadId: string): Promise<void> {
    await this.#requireHistory('deleteThread', { threadId }).deleteThread(threadId)
  }

  /**
   * @internal Runs this graph as one node of a parent graph (whose spec is `parent`), without history of its own.
   * It gets the channels both graphs have, and hands back every one of them that its nodes wrote and changed
   * (also those the parent had not set yet). Unlike LangGraph.js, shared channels it did not change are not
   * handed back, so a parent's reducer never receives a value it already holds.
   */
  async runAsNode(input: Record<string, unknown>, ctx: NodeContext, parent: GraphSpec): Promise<Record<string, unknown>> {
    const shared = (k: string) => (parent.schema !== undefined || parent.channels.has(k)) && (this.#spec.schema !== undefined || this.#spec.channels.has(k))
    const start = Object.fromEntries(Object.keys(input).filter(shared).map((k) => [k, input[k]]))
    const run = new Run(this.#spec, this.#options, undefined, { signal: ctx.signal, recursionLimit: 10_000 }, undefined, ctx)
    const { values, written } = await run.execute(start)
    const back = [...written].filter((k) => shared(k) && (values[k] !== input[k] || !Object.hasOwn(input, k)))
    return Object.fromEntries(back.map((k) => [k, values[k]]))
  }

  /** @internal Why this graph cannot run as a subgraph node yet (options it would silently lose), or undefined. */
  subgraphProblem(): string | undefined {
    if (this.#history) return 'it was compiled with a checkpointer, but a subgraph keeps no history of its own yet (its steps are stored with the parent\'s): compile it without one'
    return undefined
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

  #requireHistory(what: string, config: { threadId?: unknown }): History {
    if (!this.#history || typeof config?.threadId !== 'string' || config.threadId === '') throw needsCheckpointer(what)
    return this.#history
  }
}

/** `getStateHistory` options: like {@link ListOptions}, with `before` also as LangGraph's shape, a checkpoint's config. */
export interface HistoryQuery extends Omit<ListOptions, 'before'> {
  /** Only checkpoints older than this one: its id, or its config (`{ threadId, checkpointId }`, as `getState` returns it). */
  before?: string | ThreadConfig
}

function listOptions(options: HistoryQuery): ListOptions {
  checkKeys(options, ['limit', 'before', 'filter'], 'getStateHistory options')
  checkCount(options.limit, 1, 'getStateHistory options: limit')
  const { before, filter } = options
  if (filter !== undefined && (typeof filter !== 'object' || filter === null || Array.isArray(filter))) {
    throw new EdgegraphError('INVALID_ARGUMENT', 'getStateHistory options: filter must be an object of metadata values, e.g. { source: "input" }')
  }
  if (before === undefined || typeof before === 'string') return options as ListOptions
  if (typeof before === 'object' && before !== null && typeof (before as ThreadConfig).checkpointId === 'string') {
    return { ...options, before: (before as ThreadConfig).checkpointId as string }
  }
  throw new EdgegraphError('INVALID_ARGUMENT', 'getStateHistory options: before must be a checkpoint id or a config with one ({ threadId, checkpointId }), as getState returns in .config')
}

function metadataOf(c: Checkpoint): CheckpointMetadata {
  return {
    ...c.metadata,
    source: c.source,
    step: c.step,
    parentId: c.parentId,
    writes: c.writes,
    durationMs: c.durationUs === undefined ? undefined : c.durationUs / 1000,
    usage: c.usage,
    usageTotal: c.usageTotal,
  }
}

function snapshotOf(c: Checkpoint): StateSnapshot<Record<string, unknown>> {
  const interrupts = openInterrupts(c.id, c.interrupts, c.pending)
  const tasks: TaskInfo[] = c.next.map((t, index) => {
    const p = c.pending.find((x) => x.index === index)
    const info: TaskInfo = { id: `${c.id}:${index}`, name: t.node, interrupts: p ? interrupts.filter((i) => i.id === interruptId(c.id, p)) : [] }
    if (p?.writes) info.result = Object.fromEntries(p.writes)
    if (p?.error) info.error = p.error
    return info
  })
  return {
    values: c.values,
    next: c.next.map((t) => t.node),
    tasks,
    interrupts,
    metadata: metadataOf(c),
    config: { threadId: c.threadId, checkpointId: c.id },
    parentConfig: c.parentId === undefined ? undefined : { threadId: c.threadId, checkpointId: c.parentId },
    createdAt: new Date(c.createdAt).toISOString(),
  }
}
