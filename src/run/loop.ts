/**
 * @module The superstep loop (Pregel model): run a step's tasks concurrently on one snapshot, apply their writes in
 * task order, route, checkpoint; repeat. A step that fails or interrupts leaves its finished tasks' writes pending.
 * Every checkpoint goes to storage through one {@link CheckpointWriter}, when the durability policy says so.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import type { History } from '../checkpoint/history.js'
import { addUsage, type Checkpoint, type NewCheckpoint, type PendingTask, type Source, type StaticInterrupt, type TaskRef, type Usage, type Waiting } from '../checkpoint/model.js'
import type { CheckpointWriter } from '../checkpoint/writer.js'
import { Command, START } from './command.js'
import type { RunConfig, RunOptions } from './config.js'
import { InterruptSignal, openInterrupts, resumeValues, type Interrupt } from './interrupts.js'
import { Router, isDeferred, schedule, staticInterrupts } from './routing.js'
import { Scope, needsCheckpointer, threadNotFound } from './scope.js'
import type { GraphSpec, NodeContext } from './spec.js'
import { ParentCommand, pendingOf, runTask, type TaskEnv, type TaskOutcome } from './task.js'
import { applyWrites, type TaskWrites } from './writes.js'

/**
 * Events a run reports while it goes; `stream()` turns them into its modes. `ns` names the subgraph task an event
 * comes from (`node:taskId`, outermost first), absent for the graph's own.
 */
export type RunEvent = (
  | { type: 'values'; values: Record<string, unknown> }
  | { type: 'update'; node: string; update: Record<string, unknown>; cached?: true }
  | { type: 'interrupt'; interrupts: Interrupt[] }
  | { type: 'checkpoint'; checkpoint: Checkpoint }
  | { type: 'custom'; chunk: unknown }
  | { type: 'message'; chunk: unknown; meta: { node: string; step: number; threadId: string | undefined } }
  | { type: 'task'; task: Record<string, unknown> }
) & { ns?: string[] }

export interface RunResult {
  values: Record<string, unknown>
  interrupts: Interrupt[]
}

type Done = Extract<TaskOutcome, { status: 'done' }>

/** The run's current checkpoint: stored (with `id`) or waiting for the durability policy to store it. */
interface Working {
  id?: string
  values: Record<string, unknown>
  next: TaskRef[]
  waiting?: Waiting | undefined
  step: number
  source: Source
  interrupts: StaticInterrupt[]
  pending: PendingTask[]
}

/** One call of `invoke`/`stream`/`updateState` on one thread (or on none, without a checkpointer). */
export class Run {
  #cur!: Working
  #writer: CheckpointWriter | undefined
  #resume = new Map<number, unknown>()
  /** What the steps not stored yet did, recorded on the next checkpoint. */
  #acc: { writes: Record<string, string[]>; usage: Usage | undefined; durationUs: number; attempts?: Record<string, number> } = { writes: {}, usage: undefined, durationUs: 0 }
  #unstoredSteps = 0
  /** The state with the finished tasks' writes applied, when a step stopped at an interrupt. */
  #shown: Record<string, unknown> | undefined
  /** The finished tasks of a step that stopped at an interrupt, streamed as updates after the interrupt. */
  #finished: { node: string; writes: [string, unknown][] }[] = []
  readonly #spec: GraphSpec
  readonly #options: RunOptions
  readonly #history: History | undefined
  readonly #config: RunConfig
  readonly #emit: (event: RunEvent) => void
  /** Whether anyone listens to the run's events (stream): if not, per-step events are not even made. */
  readonly #streaming: boolean
  readonly #scope: Scope
  readonly #router: Router
  readonly #tasks: TaskEnv

  constructor(spec: GraphSpec, options: RunOptions, history: History | undefined, config: RunConfig, emit?: (event: RunEvent) => void, parent?: NodeContext) {
    this.#spec = spec
    this.#options = options
    this.#history = history
    this.#config = config
    this.#emit = emit ?? (() => {})
    this.#streaming = emit !== undefined
    this.#scope = new Scope(config.threadId, () => this.#cur?.id)
    this.#router = new Router(spec, this.#scope)
    // Effect keys name the checkpoint a step runs after, so effects need every step's checkpoint stored.
    const eachStored = (config.durability ?? options.durability) !== 'exit' && (config.checkpointEvery ?? options.checkpointEvery ?? 1) <= 1
    const record = (t?: PendingTask) => (t ? (this.#writer as CheckpointWriter).writePending([t]) : (this.#writer as CheckpointWriter).flush())
    this.#tasks = { spec, scope: this.#scope, router: this.#router, signal: config.signal, parent, canPause: history !== undefined, store: options.store, emit: this.#emit, streaming: this.#streaming, adapter: history?.adapter, cache: options.cache, record: history && eachStored ? record : undefined }
  }

  /** Runs the graph from `input`. Returns once every commit and pack of the run has ended, whatever it ended in. */
  execute(input: unknown): Promise<RunResult> {
    return this.#whole(() => this.#execute(input))
  }

  /** Runs `fn`, then waits for the writer to go idle (a pack runs beside the steps): nothing of a call outlives it. */
  async #whole<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } finally {
      await this.#writer?.idle()
    }
  }

  async #execute(input: unknown): Promise<RunResult> {
    const stop = await this.#start(input)
    if (stop) return this.#finish(stop)
    const limit = this.#config.recursionLimit ?? 25
    for (let steps = 0; this.#cur.next.length > 0; steps++) {
      // With async durability a commit fails behind the run's back: stop at the next boundary rather than
      // run (and pay for) steps that cannot be stored.
      if (this.#writer?.failure !== undefined) throw this.#writer.failure
      if (this.#config.signal?.aborted) return this.#fail(this.#aborted())
      if (steps >= limit) {
        const next = this.#cur.next.map((t) => t.node).join(', ')
        const message = `${this.#scope.where()} took ${limit} steps without finishing (next: ${next}): check the loop's exit condition, or raise recursionLimit and continue with invoke(null).`
        return this.#fail(new EdgegraphError('RECURSION_LIMIT', message, { context: this.#scope.context() }))
      }
      const stopped = await this.#step()
      if (stopped) return this.#finish(stopped)
    }
    return this.#finish([])
  }

  /**
   * Writes `values` as a new checkpoint, as if node `asNode` had returned them (its edges then choose `next`). Without
   * `asNode`, as LangGraph.js does: as the one node that made the checkpoint, or as the input when none did; ambiguous
   * (INVALID_UPDATE) when several did. From an older checkpoint this forks a new branch.
   */
  update(values: unknown, asNode: string | undefined): Promise<Checkpoint> {
    return this.#whole(() => this.#update(values, asNode))
  }

  async #update(values: unknown, asNode: string | undefined): Promise<Checkpoint> {
    if (!this.#history || typeof this.#config.threadId !== 'string') throw needsCheckpointer('updateState')
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'updateState(config, values) takes an object of channel values')
    }
    if (asNode !== undefined && asNode !== START && !this.#spec.nodes.has(asNode)) throw this.#scope.unknownNode(asNode, 'updateState(..., asNode)')
    const writer = await this.#history.writer(this.#config.threadId, this.#config.checkpointId)
    const loaded = writer.parent
    if (!loaded) throw threadNotFound(this.#config.threadId)
    this.#writer = writer
    // As in LangGraph.js, at the thread's head the writes of the interrupted step's finished tasks (and of a
    // Command({ resume, update })) land first, as their nodes did them: their joins and deferred targets count, but
    // their plain edges go with the step, and only the update's node routes.
    const done = this.#config.checkpointId ? [] : loaded.pending.filter((p) => p.writes)
    const tasks = done.filter((p) => p.index >= 0)
    const ran = tasks.length > 0 ? [...new Set(tasks.map((t) => t.node))] : loaded.source === 'input' ? [] : Object.keys(loaded.writes)
    if (asNode === undefined && ran.length > 1) {
      throw new EdgegraphError('INVALID_UPDATE', `Ambiguous update of ${this.#scope.where(loaded.id)}: its step ran ${ran.join(', ')}. Name the node: updateState(config, values, asNode).`, { context: this.#scope.context(loaded.id) })
    }
    const as = asNode ?? ran[0] ?? START
    const base = (await applyWrites(this.#spec, this.#scope, loaded.values, done as TaskWrites[])).values
    const routed: TaskRef[] = []
    for (const p of tasks) routed.push(...(await this.#router.route(p.node, base, p.goto ?? [])).filter((t) => isDeferred(this.#spec, t)))
    const applied = await applyWrites(this.#spec, this.#scope, base, [{ node: as, writes: Object.entries(values) }])
    applied.writes[as] ??= []
    routed.push(...(await this.#router.route(as, applied.values, [])))
    const { next, waiting } = schedule(this.#spec, routed, tasks, loaded.waiting, [], as, loaded.next)
    this.#cur = { values: applied.values, next, waiting, step: loaded.step + 1, source: writer.atHead ? 'update' : 'fork', interrupts: staticInterrupts(this.#options, [], next), pending: [] }
    this.#acc.writes = applied.writes
    return this.#save(false)
  }

  /** Loads the thread and applies the input. Returns interrupts when the run must stop right away. */
  async #start(input: unknown): Promise<Interrupt[] | undefined> {
    const threadId = this.#config.threadId
    if (this.#history) {
      if (typeof threadId !== 'string' || threadId === '') {
        throw new EdgegraphError('INVALID_ARGUMENT', 'A graph with a checkpointer runs on a thread: invoke(input, { threadId })')
      }
      this.#writer = await this.#history.writer(threadId, this.#config.checkpointId)
    }
    const loaded = this.#writer?.parent
    const command = input instanceof Command ? input : undefined
    if (input === null || input === undefined || command?.hasResume) {
      if (!loaded) throw this.#history ? threadNotFound(threadId as string) : needsCheckpointer('invoke(null)')
      this.#cur = { id: loaded.id, values: loaded.values, next: loaded.next, waiting: loaded.waiting, step: loaded.step, source: loaded.source, interrupts: loaded.interrupts, pending: loaded.pending }
      // This run finishes the step those pending writes belong to; once it commits they are folded in.
      this.#writer?.fold(loaded.pendingKeys)
      if (command?.goto !== undefined) throw new EdgegraphError('INVALID_ARGUMENT', 'A resume Command cannot carry goto; resume first, or use updateState')
      if (command) this.#resume = resumeValues(loaded, command.resume, this.#scope)
      this.#emit({ type: 'values', values: loaded.values })
      // Command({ resume, update }): as in LangGraph.js the update is stored with the waiting checkpoint (task -1) and
      // the resumed tasks see it; it lands in the state with the step they complete.
      const writes = [...(loaded.pending.find((p) => p.index < 0)?.writes ?? []), ...Object.entries(command?.update ?? {})]
      if (writes.length > 0) {
        const applied = await applyWrites(this.#spec, this.#scope, loaded.values, [{ node: START, writes }])
        if (command?.update !== undefined) await this.#writer?.writePending([{ index: -1, node: START, writes }])
        this.#cur.values = applied.values
        this.#acc.writes = applied.writes
      }
      return undefined
    }
    // New input: applied like a write from START, then routed from START (or to Command.goto).
    const update = command ? (command.update ?? {}) : input
    if (typeof update !== 'object' || Array.isArray(update)) {
      throw new EdgegraphError('INVALID_ARGUMENT', `invoke() takes a state object, a Command or null (to resume), not ${Array.isArray(update) ? 'an array' : typeof update}`)
    }
    const base = loaded ? loaded.values : initialValues(this.#spec)
    const applied = await applyWrites(this.#spec, this.#scope, base, [{ node: START, writes: Object.entries(update as object) }])
    const goto = command?.goto === undefined ? undefined : this.#router.gotoTasks(START, command.goto)
    const routed = goto ?? (await this.#router.route(START, applied.values, []))
    const { next, waiting } = schedule(this.#spec, routed, [{ node: START }], loaded?.waiting, loaded?.next)
    this.#cur = { values: applied.values, next, waiting, step: loaded ? loaded.step + 1 : 0, source: 'input', interrupts: staticInterrupts(this.#options, [], next), pending: [] }
    this.#acc.writes = applied.writes
    this.#emit({ type: 'values', values: applied.values })
    const stop = this.#cur.interrupts.length > 0
    await this.#checkpoint(stop)
    return stop ? this.#interrupts() : undefined
  }

  /** Runs one superstep. Returns interrupts when the run must stop. */
  async #step(): Promise<Interrupt[] | undefined> {
    const started = performance.now()
    const cur = this.#cur
    // `cur` serves as the step's snapshot (step, values, id); the callback is inline, not a named const (see ctx in task.ts).
    const run = (task: TaskRef, i: number) => runTask(this.#tasks, task, i, cur, cur.pending.find((p) => p.index === i), this.#resume.has(i) ? [this.#resume.get(i)] : [])
    // Most steps run one task: it is awaited alone, without Promise.all's bookkeeping or a list of one promise.
    const outcomes = cur.next.length === 1 ? [await run(cur.next[0] as TaskRef, 0)] : await Promise.all(cur.next.map(run))
    // A resume value answers the step it resumed; later steps' interrupt() calls pause again (as in LangGraph.js).
    if (this.#resume.size > 0) this.#resume = new Map()
    for (const o of outcomes) if (o.status !== 'done') return this.#stopped(outcomes, cur)
    const done = outcomes as Done[]
    // Writes and routes return at once unless a schema or a conditional edge is async: only a promise is awaited.
    let applied = applyWrites(this.#spec, this.#scope, cur.values, done)
    if (applied instanceof Promise) applied = await applied
    let routed: TaskRef[] = []
    for (const o of done) {
      const node = o.node
      // As in LangGraph, a node's conditional edges see the state before the step plus that node's own writes.
      const view = done.length > 1 && this.#spec.branches.has(node) ? (await applyWrites(this.#spec, this.#scope, cur.values, [{ node, writes: o.writes }], false)).values : applied.values
      let to = this.#router.route(node, view, o.goto)
      if (to instanceof Promise) to = await to
      if (routed.length === 0) routed = to
      else routed.push(...to)
    }
    const { next, waiting } = schedule(this.#spec, routed, cur.next, cur.waiting)
    // As in LangGraph.js: tasks that finished in an earlier attempt of the step are streamed again first, as cached.
    if (this.#streaming) {
      for (const reused of [true, false]) {
        for (const o of done) {
          if (!o.reused !== !reused) continue
          const update = Object.fromEntries(o.writes)
          this.#emit(o.cached || o.reused ? { type: 'update', node: o.node, update, cached: true } : { type: 'update', node: o.node, update })
        }
      }
      this.#emit({ type: 'values', values: applied.values })
    }

    const acc = this.#acc
    for (const t of cur.next) acc.writes[t.node] ??= []
    for (const node in applied.writes) acc.writes[node] = union(acc.writes[node], applied.writes[node] as string[])
    for (const o of done) {
      acc.usage = addUsage(acc.usage, o.usage)
      if ((o.attempts ?? 1) > 1) (acc.attempts ??= {})[o.node] = o.attempts as number
    }
    this.#acc.durationUs += Math.round((performance.now() - started) * 1000)
    this.#cur = { values: applied.values, next, waiting, step: cur.step + 1, source: 'loop', interrupts: staticInterrupts(this.#options, cur.next, next), pending: [] }
    const stop = this.#cur.interrupts.length > 0
    const saving = this.#checkpoint(stop || next.length === 0)
    if (saving) await saving
    return stop ? this.#interrupts() : undefined
  }

  /**
   * A step in which a task failed or interrupted: its finished tasks' writes are stored as pending (so a resume does not
   * run them again), and the run stops with the error or the interrupts. Out of {@link #step}: the common step stays short.
   */
  async #stopped(outcomes: TaskOutcome[], cur: Working): Promise<Interrupt[] | undefined> {
    // A subgraph node's Command.PARENT ends the subgraph run here; the parent's task applies it (top graph: refused).
    const up = outcomes.find((o) => o.status === 'failed' && o.error instanceof ParentCommand) as { error: ParentCommand } | undefined
    if (up) {
      if (this.#tasks.parent) throw up.error
      throw new EdgegraphError('INVALID_UPDATE', `A node of ${this.#scope.where()} returned Command({ graph: Command.PARENT }), but this graph has no parent.`, { context: this.#scope.context() })
    }
    const failedAt = outcomes.findIndex((o) => o.status === 'failed')
    // A step whose tasks all finished is kept even if the signal fired meanwhile; the run stops at the
    // boundary. A step broken by the abort is dropped: the last checkpoint stays as it was.
    if (failedAt >= 0 && this.#config.signal?.aborted) return this.#fail(this.#aborted())
    const interrupted = outcomes.find((o) => o.status === 'interrupted')
    // Inside a subgraph node without checkpoints of its own: the parent task is the one that waits for the answer.
    if (this.#tasks.parent && interrupted && failedAt < 0 && !this.#writer) throw new InterruptSignal(interrupted.value)
    // A node that refuses its resume value (throws INVALID_ARGUMENT) leaves its interrupt waiting, as it was stored.
    const refused = (o: TaskOutcome, i: number) => o.status === 'failed' && isEdgegraphError(o.error, 'INVALID_ARGUMENT') && cur.pending.some((p) => p.index === i && p.interrupts)
    await this.#savePending(outcomes.flatMap((o, i) => (refused(o, i) ? [] : (pendingOf(i, (cur.next[i] as TaskRef).node, o) ?? []))))
    // With them, the subgraph stores where it stopped, then its task in the parent waits.
    if (this.#tasks.parent && interrupted && failedAt < 0) {
      await this.#settle()
      throw new InterruptSignal(interrupted.value)
    }
    // What the run shows at an interrupt, as LangGraph.js does: the state with the finished tasks' writes applied.
    const finished = outcomes.filter((o): o is Done => o.status === 'done')
    try {
      this.#shown = (await applyWrites(this.#spec, this.#scope, cur.values, finished, false)).values
    } catch {
      this.#shown = cur.values
    }
    this.#finished = finished
    if (failedAt >= 0) {
      for (const f of finished) this.#emit({ type: 'update', node: f.node, update: Object.fromEntries(f.writes) })
      return this.#fail(this.#nodeFailed((outcomes[failedAt] as { error: unknown }).error, (cur.next[failedAt] as TaskRef).node, cur.id))
    }
    return this.#interrupts()
  }

  /**
   * Stores the current checkpoint if the durability policy says so now (`force`: end, interrupt, error). Returns the
   * store's promise, or undefined when nothing is stored (not an async function: one step's frame and promise fewer).
   */
  #checkpoint(force: boolean): Promise<unknown> | undefined {
    this.#unstoredSteps++
    if (!this.#writer) return undefined
    const mode = this.#config.durability ?? this.#options.durability
    const every = this.#config.checkpointEvery ?? this.#options.checkpointEvery
    if (force || (mode !== 'exit' && (every === undefined || this.#unstoredSteps >= every))) return this.#save(mode === 'async' && !force)
    return undefined
  }

  /** Hands the current checkpoint to the writer, with what the steps since the last one did. */
  #save(overlap: boolean): Promise<Checkpoint> {
    const writer = this.#writer as CheckpointWriter
    const w = this.#cur
    // A replay from an older checkpoint starts a new branch: its first step is a fork.
    const fork = this.#config.checkpointId !== undefined && writer.parent?.id === this.#config.checkpointId && w.source === 'loop'
    const { writes, usage, durationUs, attempts } = this.#acc
    this.#acc = { writes: {}, usage: undefined, durationUs: 0 }
    this.#unstoredSteps = 0
    const input: NewCheckpoint = { step: w.step, source: fork ? 'fork' : w.source, next: w.next, values: w.values, writes, durationUs, interrupts: w.interrupts, waiting: w.waiting }
    if (usage) input.usage = usage
    // Retried nodes' attempts go with the run's own metadata (metadata.attempts).
    const metadata = attempts ? { ...this.#config.metadata, attempts } : this.#config.metadata
    if (metadata) input.metadata = metadata
    // A callback rather than an async method: every step comes through here, and an async frame costs more.
    return writer.write(input, overlap).then((checkpoint) => {
      w.id = checkpoint.id
      if (this.#streaming) this.#emit({ type: 'checkpoint', checkpoint })
      return checkpoint
    })
  }

  /** Stores what the finished tasks of an unfinished step did, on the step's checkpoint (stored first if it is not). */
  async #savePending(pending: PendingTask[]): Promise<void> {
    this.#cur.pending = [...this.#cur.pending.filter((p) => !pending.some((t) => t.index === p.index)), ...pending]
    if (!this.#writer || pending.length === 0) return
    if (this.#cur.id === undefined) await this.#save(false)
    await this.#writer.writePending(pending)
  }

  /** Stores the current checkpoint if the durability policy left it unstored, and waits for every commit. */
  async #settle(): Promise<void> {
    if (!this.#writer) return
    if (this.#cur.id === undefined) await this.#save(false)
    await this.#writer.flush()
  }

  async #finish(interrupts: Interrupt[]): Promise<RunResult> {
    await this.#settle()
    const values = this.#shown ?? this.#cur.values
    if (interrupts.length > 0) {
      // Interrupt ids name the checkpoint, which is known only once it is stored.
      interrupts = this.#interrupts()
      this.#emit({ type: 'interrupt', interrupts })
      for (const f of this.#finished) this.#emit({ type: 'update', node: f.node, update: Object.fromEntries(f.writes) })
      if (this.#shown) this.#emit({ type: 'values', values })
    }
    return { values, interrupts }
  }

  /** Stores what can be stored (last good checkpoint), waits for commits, and throws `error`. */
  async #fail(error: EdgegraphError): Promise<never> {
    try {
      await this.#settle()
    } catch (err) {
      if (!isEdgegraphError(error, 'CONFLICT')) throw err
    }
    throw error
  }

  #interrupts(): Interrupt[] {
    return openInterrupts(this.#cur.id ?? '', this.#cur.interrupts, this.#cur.pending)
  }

  #nodeFailed(error: unknown, node: string, checkpointId: string | undefined): EdgegraphError {
    if (isEdgegraphError(error)) return error
    return new EdgegraphError(
      'NODE_FAILED',
      `Node "${node}" failed in ${this.#scope.where(checkpointId)}: ${(error as Error)?.message ?? String(error)}. Fix the cause and resume with invoke(null): only the failed node runs again.`,
      { cause: error, context: this.#scope.context(checkpointId, node) },
    )
  }

  #aborted(): EdgegraphError {
    return new EdgegraphError('ABORTED', `${this.#scope.where()} was aborted, its last checkpoint intact; continue with invoke(null).`, {
      cause: this.#config.signal?.reason,
      context: this.#scope.context(),
    })
  }
}

export function initialValues(spec: GraphSpec): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const [name, ch] of spec.channels) if (ch.default) values[name] = ch.default()
  return values
}

function union(a: string[] | undefined, b: string[]): string[] {
  if (!a || a.length === 0) return b
  return [...a, ...b.filter((x) => !a.includes(x))]
}
