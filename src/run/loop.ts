/**
 * @module The superstep loop (Pregel model): run a step's tasks concurrently on one snapshot, apply their
 * writes in task order, route, checkpoint; repeat. Also failures (pending writes), interrupts and durability.
 */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { addUsage, type Checkpoint, type History } from '../checkpoint/history.js'
import { nextCheckpointId, type PendingTask, type Source, type StaticInterrupt, type TaskRef, type Usage } from '../checkpoint/record.js'
import { validateWith } from '../graph/channels.js'
import { Command, END, START, Send } from '../graph/command.js'
import type { GraphSpec, NodeContext } from './spec.js'

/**
 * When checkpoints are written:
 * - `sync`: each step's checkpoint is committed before the next step starts (the default);
 * - `async`: commits overlap the next step, in order; the run still waits for all of them before returning;
 * - `exit`: only when the run ends, is interrupted, or fails.
 */
export type Durability = 'sync' | 'async' | 'exit'

/** Options of one run. */
export interface RunConfig {
  /** The thread to run; required with a checkpointer. */
  threadId?: string
  /** Run from this checkpoint instead of the newest: a replay onto a new branch; the old branch stays. */
  checkpointId?: string
  /** Cancels the run at the next step boundary; the last checkpoint stays intact. */
  signal?: AbortSignal
  /** Most steps one call may take before failing with `RECURSION_LIMIT`. Default 25. */
  recursionLimit?: number
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

/** A pending interrupt: why the run stopped and, for `interrupt(value)`, the value to show a human. */
export interface Interrupt {
  /** Pass `{ [id]: value }` as `Command.resume` to answer several interrupts at once. */
  id: string
  node: string
  when: 'during' | 'before' | 'after'
  value: unknown
}

/** Events a run reports while it goes; `stream()` turns them into its modes. */
export type RunEvent =
  | { type: 'values'; values: Record<string, unknown> }
  | { type: 'update'; node: string; update: Record<string, unknown> }
  | { type: 'interrupt'; interrupts: Interrupt[] }
  | { type: 'checkpoint'; checkpoint: Checkpoint }

export interface RunOptions {
  interruptBefore: ReadonlySet<string>
  interruptAfter: ReadonlySet<string>
  durability: Durability
  checkpointEvery: number | undefined
}

export interface RunResult {
  values: Record<string, unknown>
  interrupts: Interrupt[]
  /** Channels the run's nodes wrote (not its input), for a subgraph to hand back to its parent. */
  written: Set<string>
}

/** A working checkpoint: stored (with `id`) or waiting for the durability policy to store it. */
interface Working {
  id?: string
  values: Record<string, unknown>
  next: TaskRef[]
  step: number
  source: Source
  interrupts: StaticInterrupt[]
  pending: PendingTask[]
}

type TaskOutcome =
  | { status: 'done'; writes: [string, unknown][]; goto: TaskRef[]; usage: Usage | undefined; reused: boolean }
  | { status: 'interrupted'; value: unknown; resume: unknown[]; usage: Usage | undefined }
  | { status: 'failed'; error: unknown; resume: unknown[] }

/** Thrown by `ctx.interrupt()` to end the task; caught by the loop. */
class InterruptSignal {
  constructor(readonly value: unknown) {}
}

export class Run {
  #stored: Checkpoint | undefined
  #headId: string | undefined
  #cur!: Working
  #resumeFor = new Map<number, unknown>()
  #foldKeys: string[] = []
  #acc: { writes: Record<string, string[]>; usage: Usage | undefined; durationUs: number } = { writes: {}, usage: undefined, durationUs: 0 }
  #unstoredSteps = 0
  #queue: Promise<void> = Promise.resolve()
  #queueError: unknown
  #inFlight = 0
  #packing = false
  #threadId: string | undefined
  readonly #written = new Set<string>()

  readonly #spec: GraphSpec
  readonly #options: RunOptions
  readonly #history: History | undefined
  readonly #config: RunConfig
  readonly #emit: (event: RunEvent) => void
  /** Set when this run is a subgraph inside a node: interrupts and usage go to the parent task. */
  readonly #parent: NodeContext | undefined

  constructor(spec: GraphSpec, options: RunOptions, history: History | undefined, config: RunConfig, emit: (event: RunEvent) => void = () => {}, parent?: NodeContext) {
    this.#spec = spec
    this.#options = options
    this.#history = history
    this.#config = config
    this.#emit = emit
    this.#parent = parent
    this.#threadId = config.threadId
  }

  async execute(input: unknown): Promise<RunResult> {
    const stop = await this.#start(input)
    if (stop) return this.#finish(stop)
    const limit = this.#config.recursionLimit ?? 25
    let steps = 0
    while (this.#cur.next.length > 0) {
      // With async durability a commit fails behind the run's back: stop at the next boundary rather than
      // run (and pay for) steps that cannot be stored.
      if (this.#queueError !== undefined) throw this.#queueError
      if (this.#config.signal?.aborted) return this.#fail(this.#aborted())
      if (steps >= limit) {
        const next = this.#cur.next.map((t) => t.node).join(', ')
        return this.#fail(
          new EdgegraphError(
            'RECURSION_LIMIT',
            `${this.#where()} took ${limit} steps without finishing (next: ${next}). Check the loop's exit condition, or raise recursionLimit and continue with invoke(null).`,
            { context: this.#context() },
          ),
        )
      }
      const stopped = await this.#step()
      steps++
      if (stopped) return this.#finish(stopped)
    }
    return this.#finish([])
  }

  /**
   * Writes `values` as a new checkpoint, as if node `asNode` had returned them (its edges then choose
   * `next`), or as an outside edit that keeps `next` when `asNode` is absent. From an older checkpoint
   * this forks a new branch.
   */
  async update(values: unknown, asNode: string | undefined): Promise<Checkpoint> {
    const history = this.#history
    if (!history || typeof this.#threadId !== 'string') {
      throw needsCheckpointer('updateState')
    }
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new EdgegraphError('INVALID_ARGUMENT', 'updateState(config, values) takes a state update object as values')
    }
    if (asNode !== undefined && asNode !== START && !this.#spec.nodes.has(asNode)) throw unknownNode(asNode, 'updateState(..., asNode)', this.#context())
    const loaded = await history.load(this.#threadId, this.#config.checkpointId)
    if (!loaded) throw threadNotFound(this.#threadId)
    this.#headId = await history.head(this.#threadId)
    this.#stored = loaded
    const applied = await this.#applyWrites(loaded.values, [{ node: asNode ?? 'updateState', writes: Object.entries(values) }])
    const next = asNode === undefined ? loaded.next : dedupe(await this.#route(asNode, applied.values, []))
    this.#cur = { values: applied.values, next, step: loaded.step + 1, source: loaded.id === this.#headId ? 'update' : 'fork', interrupts: this.#staticInterrupts([], next), pending: [] }
    this.#acc.writes = applied.writes
    await this.#store(false)
    return this.#stored as Checkpoint
  }

  // ---- start ---------------------------------------------------------------------------------------

  /** Loads the thread and applies the input. Returns interrupts when the run must stop right away. */
  async #start(input: unknown): Promise<Interrupt[] | undefined> {
    let loaded: Checkpoint | undefined
    if (this.#history) {
      if (typeof this.#threadId !== 'string' || this.#threadId === '') {
        throw new EdgegraphError('INVALID_ARGUMENT', 'A graph with a checkpointer runs on a thread: pass invoke(input, { threadId })')
      }
      loaded = await this.#history.load(this.#threadId, this.#config.checkpointId)
      this.#headId = this.#config.checkpointId === undefined ? loaded?.id : await this.#history.head(this.#threadId)
      this.#stored = loaded
    }
    const command = input instanceof Command ? input : undefined
    if (input === null || input === undefined || command?.hasResume) {
      if (!loaded) {
        throw this.#history
          ? threadNotFound(this.#threadId as string)
          : needsCheckpointer('invoke(null)')
      }
      this.#cur = { id: loaded.id, values: loaded.values, next: loaded.next, step: loaded.step, source: loaded.source, interrupts: loaded.interrupts, pending: loaded.pending }
      // This run finishes the step those pending writes belong to; once it commits they are folded in.
      this.#foldKeys = [...loaded.pendingKeys]
      if (command) {
        if (command.update !== undefined || command.goto !== undefined) {
          throw new EdgegraphError('INVALID_ARGUMENT', 'A resume Command cannot also carry update or goto; resume first, or use updateState')
        }
        this.#mapResume(loaded, command.resume)
      }
      return undefined
    }
    // New input: applied like a write from START, then routed from START (or to Command.goto).
    const update = command ? (command.update ?? {}) : input
    if (typeof update !== 'object' || Array.isArray(update)) {
      throw new EdgegraphError('INVALID_ARGUMENT', `invoke() takes a state object, a Command or null (to resume), not ${Array.isArray(update) ? 'an array' : typeof update}`)
    }
    const base = loaded ? loaded.values : initialValues(this.#spec)
    const applied = await this.#applyWrites(base, [{ node: START, writes: Object.entries(update as object) }])
    const goto = command?.goto === undefined ? [] : this.#gotoTasks(START, command.goto)
    const next = dedupe(command?.goto === undefined ? await this.#route(START, applied.values, []) : goto)
    this.#cur = { values: applied.values, next, step: loaded ? loaded.step + 1 : 0, source: 'input', interrupts: this.#staticInterrupts([], next), pending: [] }
    this.#acc.writes = applied.writes
    this.#emit({ type: 'values', values: applied.values })
    const stop = this.#cur.interrupts.length > 0
    await this.#checkpoint(stop)
    return stop ? this.#interruptsOf(this.#cur) : undefined
  }

  #mapResume(loaded: Checkpoint, resume: unknown): void {
    const waiting = loaded.pending.filter((t) => t.interrupts && t.interrupts.length > 0)
    if (waiting.length === 0) {
      throw new EdgegraphError(
        'NO_PENDING_INTERRUPT',
        `${this.#where(loaded.id)} has no pending interrupt() to resume; continue it with invoke(null) instead.`,
        { context: this.#context(loaded.id) },
      )
    }
    const ids = new Map(waiting.map((t) => [interruptId(loaded.id, t), t.index]))
    const keyed = typeof resume === 'object' && resume !== null && !Array.isArray(resume) && Object.keys(resume).length > 0 && Object.keys(resume).every((k) => ids.has(k))
    if (keyed) {
      for (const [id, value] of Object.entries(resume as object)) this.#resumeFor.set(ids.get(id) as number, value)
    } else if (waiting.length === 1) {
      this.#resumeFor.set((waiting[0] as PendingTask).index, resume)
    } else {
      throw new EdgegraphError(
        'INVALID_ARGUMENT',
        `${this.#where(loaded.id)} has ${waiting.length} pending interrupts; resume with a map from interrupt id to value: { ${[...ids.keys()].map((id) => `"${id}": ...`).join(', ')} }`,
        { context: this.#context(loaded.id) },
      )
    }
  }

  // ---- one step ------------------------------------------------------------------------------------

  /** Runs one superstep. Returns interrupts when the run must stop. */
  async #step(): Promise<Interrupt[] | undefined> {
    const started = now()
    const cur = this.#cur
    const outcomes = await Promise.all(cur.next.map((task, i) => this.#runTask(task, i, cur)))
    const failedAt = outcomes.findIndex((o) => o.status === 'failed')
    // A step whose tasks all finished is kept even if the signal fired meanwhile; the run stops at the
    // boundary. A step broken by the abort is dropped: the last checkpoint stays as it was.
    if (failedAt >= 0 && this.#config.signal?.aborted) throw await this.#fail(this.#aborted())
    const interrupted = outcomes.some((o) => o.status === 'interrupted')
    if (failedAt >= 0 || interrupted) {
      const pending: PendingTask[] = []
      outcomes.forEach((o, index) => {
        const node = (cur.next[index] as TaskRef).node
        if (o.status === 'done') {
          if (!o.reused) pending.push({ index, node, writes: o.writes, goto: o.goto, ...(o.usage ? { usage: o.usage } : {}) })
        } else if (o.status === 'interrupted') {
          pending.push({ index, node, interrupts: [o.value], resume: o.resume, ...(o.usage ? { usage: o.usage } : {}) })
        } else {
          const e = o.error as Error
          pending.push({ index, node, error: { name: e?.name ?? 'Error', message: String(e?.message ?? e) }, ...(o.resume.length ? { resume: o.resume } : {}) })
        }
      })
      if (this.#parent && interrupted && failedAt < 0) {
        // Inside a subgraph node: the parent task is the one that waits for the resume value.
        throw new InterruptSignal((outcomes.find((o) => o.status === 'interrupted') as { value: unknown }).value)
      }
      await this.#storePending(pending)
      if (failedAt >= 0) {
        const failed = outcomes[failedAt] as { error: unknown }
        const node = (cur.next[failedAt] as TaskRef).node
        if (isEdgegraphError(failed.error)) throw await this.#fail(failed.error)
        throw await this.#fail(
          new EdgegraphError(
            'NODE_FAILED',
            `Node "${node}" failed in ${this.#where(cur.id)}: ${(failed.error as Error)?.message ?? String(failed.error)}. ` +
              'Fix the cause and resume with invoke(null): only the failed node runs again.',
            { cause: failed.error, context: this.#context(cur.id, node) },
          ),
        )
      }
      const interrupts = this.#interruptsOf(this.#cur)
      return interrupts
    }

    const done = outcomes as Extract<TaskOutcome, { status: 'done' }>[]
    const applied = await this.#applyWrites(
      cur.values,
      done.map((o, i) => ({ node: (cur.next[i] as TaskRef).node, writes: o.writes })),
    )
    const routed: TaskRef[] = []
    for (const [i, o] of done.entries()) routed.push(...(await this.#route((cur.next[i] as TaskRef).node, applied.values, o.goto)))
    const next = dedupe(routed)
    for (const [i, o] of done.entries()) this.#emit({ type: 'update', node: (cur.next[i] as TaskRef).node, update: Object.fromEntries(o.writes) })
    this.#emit({ type: 'values', values: applied.values })

    for (const [node, chans] of Object.entries(applied.writes)) {
      this.#acc.writes[node] = union(this.#acc.writes[node], chans)
      for (const channel of chans) this.#written.add(channel)
    }
    for (const o of done) this.#acc.usage = addUsage(this.#acc.usage, o.usage)
    this.#acc.durationUs += Math.round((now() - started) * 1000)
    this.#cur = {
      values: applied.values,
      next,
      step: cur.step + 1,
      source: 'loop',
      interrupts: this.#staticInterrupts(cur.next, next),
      pending: [],
    }
    const stop = this.#cur.interrupts.length > 0
    await this.#checkpoint(stop || next.length === 0)
    return stop ? this.#interruptsOf(this.#cur) : undefined
  }

  async #runTask(task: TaskRef, index: number, cur: Working): Promise<TaskOutcome> {
    const previous = cur.pending.find((p) => p.index === index)
    if (previous?.writes) return { status: 'done', writes: previous.writes, goto: previous.goto ?? [], usage: previous.usage, reused: true }
    const resume = [...(previous?.resume ?? [])]
    if (this.#resumeFor.has(index)) resume.push(this.#resumeFor.get(index))
    const node = this.#spec.nodes.get(task.node)
    let usage: Usage | undefined
    let asked = 0
    const parent = this.#parent
    const ctx: NodeContext = {
      threadId: this.#threadId,
      step: cur.step + 1,
      node: task.node,
      signal: this.#config.signal ?? idleSignal(),
      interrupt: parent
        ? (value) => parent.interrupt(value)
        : <R>(value: unknown): R => {
            if (!this.#history) {
              throw new EdgegraphError('INVALID_ARGUMENT', `Node "${task.node}" called interrupt(), which needs a checkpointer to pause and resume: compile({ checkpointer }) and run with a threadId.`, { context: { node: task.node } })
            }
            if (asked < resume.length) return resume[asked++] as R
            asked++
            throw new InterruptSignal(value)
          },
      reportUsage: parent
        ? (u) => parent.reportUsage(u)
        : (u) => {
            usage = addUsage(usage, { inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0, costUsd: u.costUsd ?? 0 })
          },
    }
    try {
      if (!node) throw unknownNode(task.node, 'a stored task', this.#context(cur.id))
      const out = await node.run(task.arg ? task.arg.value : cur.values, ctx)
      const { writes, goto } = this.#readResult(task.node, out)
      return { status: 'done', writes, goto, usage, reused: false }
    } catch (error) {
      if (error instanceof InterruptSignal) return { status: 'interrupted', value: error.value, resume, usage }
      return { status: 'failed', error, resume }
    }
  }

  #readResult(node: string, out: unknown): { writes: [string, unknown][]; goto: TaskRef[] } {
    if (out === undefined || out === null) return { writes: [], goto: [] }
    if (out instanceof Command) {
      if (out.hasResume) throw new EdgegraphError('INVALID_UPDATE', `Node "${node}" returned a Command with resume, which only invoke() takes.`, { context: this.#context(undefined, node) })
      const update = out.update ?? {}
      return { writes: Object.entries(update as object), goto: out.goto === undefined ? [] : this.#gotoTasks(node, out.goto) }
    }
    if (typeof out !== 'object' || Array.isArray(out)) {
      throw new EdgegraphError('INVALID_UPDATE', `Node "${node}" returned ${Array.isArray(out) ? 'an array' : typeof out}; return an update object, a Command or nothing.`, { context: this.#context(undefined, node) })
    }
    return { writes: Object.entries(out), goto: [] }
  }

  // ---- writes and routing --------------------------------------------------------------------------

  async #applyWrites(base: Record<string, unknown>, tasks: { node: string; writes: [string, unknown][] }[]): Promise<{ values: Record<string, unknown>; writes: Record<string, string[]> }> {
    const values = { ...base }
    const writtenBy = new Map<string, string>()
    const summary: Record<string, string[]> = {}
    const { channels, schema } = this.#spec
    for (const { node, writes } of tasks) {
      for (const [channel, update] of writes) {
        const spec = channels.get(channel)
        if ((!spec && !schema) || channel === '__proto__') {
          throw new EdgegraphError(
            'INVALID_UPDATE',
            `${node === START ? 'The input' : `Node "${node}"`} wrote unknown channel "${channel}" in ${this.#where()}. Channels: ${[...channels.keys()].join(', ') || '(none)'}.`,
            { context: this.#context(undefined, node === START ? undefined : node) },
          )
        }
        if (spec?.reducer) {
          let next: unknown
          try {
            next = spec.reducer(values[channel], update)
          } catch (err) {
            throw new EdgegraphError('INVALID_UPDATE', `The reducer of channel "${channel}" failed on the write of ${node === START ? 'the input' : `node "${node}"`}: ${(err as Error)?.message ?? err}`, { cause: err, context: { ...this.#context(undefined, node), channel } })
          }
          values[channel] = next
        } else {
          const other = writtenBy.get(channel)
          if (other !== undefined && node !== START) {
            throw new EdgegraphError(
              'INVALID_UPDATE',
              `Nodes "${other}" and "${node}" both wrote channel "${channel}" in one step; give it a reducer, or let one node write it.`,
              { context: { ...this.#context(undefined, node), channel } },
            )
          }
          values[channel] = update
        }
        writtenBy.set(channel, node)
        const list = (summary[node] ??= [])
        if (!list.includes(channel)) list.push(channel)
      }
    }
    for (const channel of writtenBy.keys()) {
      const channelSchema = channels.get(channel)?.schema
      if (channelSchema) values[channel] = await this.#validated(channelSchema, values[channel], `channel "${channel}"`, writtenBy.get(channel) as string)
    }
    if (schema && writtenBy.size > 0) return { values: (await this.#validated(schema, values, 'the state', [...new Set(writtenBy.values())].join(', '))) as Record<string, unknown>, writes: summary }
    return { values, writes: summary }
  }

  async #validated(schema: Parameters<typeof validateWith>[0], value: unknown, what: string, writers: string): Promise<unknown> {
    const result = await validateWith(schema, value)
    if (result.ok) return result.value
    throw new EdgegraphError('INVALID_UPDATE', `The write of ${writers === START ? 'the input' : writers} made ${what} invalid in ${this.#where()}: ${result.problems}`, { context: this.#context() })
  }

  /** Where tasks go after `from` ran: its Command.goto, static edges, then conditional edges on the new state. */
  async #route(from: string, values: Record<string, unknown>, goto: TaskRef[]): Promise<TaskRef[]> {
    const out = [...goto]
    for (const to of this.#spec.edges.get(from) ?? []) if (to !== END) out.push({ node: to })
    for (const branch of this.#spec.branches.get(from) ?? []) {
      let result: unknown
      try {
        result = branch.path(values as never)
        if (result instanceof Promise) result = await result
      } catch (err) {
        throw new EdgegraphError('NODE_FAILED', `The conditional edge after "${from}" failed in ${this.#where()}: ${(err as Error)?.message ?? err}`, { cause: err, context: this.#context(undefined, from) })
      }
      for (const item of Array.isArray(result) ? result : [result]) {
        if (item instanceof Send) {
          out.push(this.#sendTask(from, item))
          continue
        }
        const key = String(item)
        const target = branch.pathMap ? branch.pathMap[key] : key
        if (target === undefined) throw unknownNode(key, `the conditional edge after "${from}" (not in its path map)`, this.#context(undefined, from))
        if (target === END) continue
        if (!this.#spec.nodes.has(target)) throw unknownNode(target, `the conditional edge after "${from}"`, this.#context(undefined, from))
        out.push({ node: target })
      }
    }
    return out
  }

  #gotoTasks(from: string, goto: string | Send | (string | Send)[]): TaskRef[] {
    const out: TaskRef[] = []
    for (const item of Array.isArray(goto) ? goto : [goto]) {
      if (item instanceof Send) out.push(this.#sendTask(from, item))
      else if (item === END) continue
      else if (typeof item === 'string' && this.#spec.nodes.has(item)) out.push({ node: item })
      else throw unknownNode(String(item), `Command.goto of ${from === START ? 'the input' : `node "${from}"`}`, this.#context(undefined, from === START ? undefined : from))
    }
    return out
  }

  #sendTask(from: string, send: Send): TaskRef {
    if (!this.#spec.nodes.has(send.node)) throw unknownNode(send.node, `a Send from "${from}"`, this.#context(undefined, from))
    return { node: send.node, arg: { value: send.arg } }
  }

  #staticInterrupts(ran: TaskRef[], next: TaskRef[]): StaticInterrupt[] {
    if (this.#parent) return []
    const out: StaticInterrupt[] = []
    for (const t of ran) if (this.#options.interruptAfter.has(t.node) && !out.some((x) => x.node === t.node)) out.push({ when: 'after', node: t.node })
    for (const t of next) if (this.#options.interruptBefore.has(t.node) && !out.some((x) => x.when === 'before' && x.node === t.node)) out.push({ when: 'before', node: t.node })
    return out
  }

  #interruptsOf(w: Working): Interrupt[] {
    return openInterrupts(w.id ?? '', w.interrupts, w.pending)
  }

  // ---- storing -------------------------------------------------------------------------------------

  /** Stores the working checkpoint if the durability policy says so now (`force`: end, interrupt, error). */
  async #checkpoint(force: boolean): Promise<void> {
    this.#unstoredSteps++
    if (!this.#history) return
    const mode = this.#config.durability ?? this.#options.durability
    const every = this.#config.checkpointEvery ?? this.#options.checkpointEvery
    const due = force || (mode !== 'exit' && (every === undefined || this.#unstoredSteps >= every))
    if (due) await this.#store(mode === 'async' && !force)
  }

  async #store(overlap: boolean): Promise<void> {
    const history = this.#history as History
    const threadId = this.#threadId as string
    const w = this.#cur
    const id = nextCheckpointId(this.#headId)
    const source: Source = this.#config.checkpointId !== undefined && this.#stored?.id === this.#config.checkpointId && w.source === 'loop' ? 'fork' : w.source
    const { checkpoint, put } = history.prepare(threadId, id, {
      parent: this.#stored,
      step: w.step,
      source,
      next: w.next,
      values: w.values,
      writes: this.#acc.writes,
      durationUs: this.#acc.durationUs,
      ...(this.#acc.usage ? { usage: this.#acc.usage } : {}),
      interrupts: w.interrupts,
      ...(this.#config.metadata ? { metadata: this.#config.metadata } : {}),
    })
    const expect = this.#headId
    const del = this.#foldKeys
    this.#headId = id
    this.#stored = checkpoint
    this.#foldKeys = []
    this.#acc = { writes: {}, usage: undefined, durationUs: 0 }
    this.#unstoredSteps = 0
    w.id = id
    await this.#enqueue(() => history.commit(threadId, put, del, expect, id), overlap)
    // One pack at a time: with async durability later steps are prepared before this pack lands, and would
    // each queue another attempt (a wasted scan per step) if they did not see this one pending.
    if (checkpoint.looseChain > history.packSize && !this.#packing) {
      this.#packing = true
      await this.#enqueue(async () => {
        try {
          // Catch up when behind (async durability prepares steps faster than they commit). Checkpoints
          // prepared since share the packed ancestors; the newest one carries the count on.
          for (let head = this.#stored; head && head.looseChain > history.packSize; head = this.#stored) {
            // Later commits wait behind this task in the queue, so the committed head is still `id`.
            const packed = await history.pack(threadId, id)
            if (packed === 0) break
            head.looseChain = Math.max(0, head.looseChain - packed)
          }
        } catch (err) {
          // Packing is upkeep: the step is already committed, and a pack that cannot be written (another
          // writer, a full disk, a corrupt old record) changes nothing, so it must not fail the run.
          if (!isEdgegraphError(err)) throw err
        } finally {
          this.#packing = false
        }
      }, overlap)
    }
    this.#emit({ type: 'checkpoint', checkpoint })
  }

  async #storePending(pending: PendingTask[]): Promise<void> {
    this.#cur.pending = [...this.#cur.pending.filter((p) => !pending.some((t) => t.index === p.index)), ...pending]
    if (!this.#history || pending.length === 0) return
    if (this.#cur.id === undefined) await this.#store(false)
    const id = this.#cur.id as string
    const put = pending.flatMap((t) => (this.#history as History).preparePending(id, t))
    const keys = put.map(([k]) => k)
    const threadId = this.#threadId as string
    const expect = this.#headId
    await this.#enqueue(() => (this.#history as History).commit(threadId, put, [], expect), false)
    this.#foldKeys.push(...keys.filter((k) => !this.#foldKeys.includes(k)))
  }

  /** Commits in order. With `overlap` the caller does not wait (async durability); errors surface at the next wait. */
  async #enqueue(commit: () => Promise<void>, overlap: boolean): Promise<void> {
    if (!overlap && this.#inFlight === 0) {
      // Nothing queued (always so with sync durability): commit directly, without the queue's extra hops.
      if (this.#queueError !== undefined) throw this.#queueError
      return commit()
    }
    this.#inFlight++
    this.#queue = this.#queue
      .then(() => (this.#queueError === undefined ? commit() : undefined))
      .catch((err) => {
        this.#queueError ??= err
      })
      .then(() => {
        this.#inFlight--
      })
    if (!overlap) await this.#flush()
  }

  async #flush(): Promise<void> {
    await this.#queue
    if (this.#queueError !== undefined) throw this.#queueError
  }

  async #finish(interrupts: Interrupt[]): Promise<RunResult> {
    if (this.#history && this.#cur.id === undefined) await this.#store(false)
    await this.#flush()
    if (interrupts.length > 0) {
      // Interrupt ids name the checkpoint, which is known only once it is stored.
      interrupts = this.#interruptsOf(this.#cur)
      this.#emit({ type: 'interrupt', interrupts })
    }
    return { values: this.#cur.values, interrupts, written: this.#written }
  }

  /** Stores what can be stored (last good checkpoint), waits for commits, and returns the error to throw. */
  async #fail(error: EdgegraphError): Promise<never> {
    try {
      if (this.#history && this.#cur.id === undefined) await this.#store(false)
      await this.#flush()
    } catch (err) {
      if (!isEdgegraphError(error, 'CONFLICT')) throw err
    }
    throw error
  }

  #aborted(): EdgegraphError {
    return new EdgegraphError('ABORTED', `${this.#where()} was aborted; its last checkpoint is intact. Continue with invoke(null).`, {
      cause: this.#config.signal?.reason,
      context: this.#context(),
    })
  }

  #where(checkpointId = this.#cur?.id): string {
    if (this.#threadId === undefined) return 'the run'
    return checkpointId ? `thread "${this.#threadId}" at checkpoint "${checkpointId}"` : `thread "${this.#threadId}"`
  }

  #context(checkpointId = this.#cur?.id, node?: string) {
    return {
      ...(this.#threadId !== undefined ? { threadId: this.#threadId } : {}),
      ...(checkpointId ? { checkpointId } : {}),
      ...(node ? { node } : {}),
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------------

export function initialValues(spec: GraphSpec): Record<string, unknown> {
  const values: Record<string, unknown> = {}
  for (const [name, ch] of spec.channels) if (ch.default) values[name] = ch.default()
  return values
}

/**
 * The interrupts a checkpoint is waiting on: its static ones (before/after) until its step is attempted,
 * then the `interrupt()` calls its tasks left pending.
 */
export function openInterrupts(checkpointId: string, statics: StaticInterrupt[], pending: PendingTask[]): Interrupt[] {
  const out: Interrupt[] = pending.length > 0 ? [] : statics.map((x) => ({ id: `${checkpointId}:${x.when}:${x.node}`, node: x.node, when: x.when, value: undefined }))
  for (const t of pending) if (t.interrupts?.length) out.push({ id: interruptId(checkpointId, t), node: t.node, when: 'during', value: t.interrupts[0] })
  return out
}

export function interruptId(checkpointId: string, task: PendingTask): string {
  return `${checkpointId}:${task.index}:${task.resume?.length ?? 0}`
}

/** Plain node tasks run once per step however many edges lead to them; every `Send` is its own task. */
function dedupe(tasks: TaskRef[]): TaskRef[] {
  const seen = new Set<string>()
  return tasks.filter((t) => {
    if (t.arg) return true
    if (seen.has(t.node)) return false
    seen.add(t.node)
    return true
  })
}

function union(a: string[] | undefined, b: string[]): string[] {
  if (!a) return b
  return [...a, ...b.filter((x) => !a.includes(x))]
}

export function needsCheckpointer(what: string): EdgegraphError {
  return new EdgegraphError('INVALID_ARGUMENT', `${what} needs a checkpointer: compile({ checkpointer }), and a threadId`)
}

export function threadNotFound(threadId: string): EdgegraphError {
  return new EdgegraphError('THREAD_NOT_FOUND', `Thread "${threadId}" has no checkpoints. Start it with invoke(input, { threadId }).`, { context: { threadId } })
}

function unknownNode(name: string, where: string, context: { threadId?: string; checkpointId?: string; node?: string }): EdgegraphError {
  return new EdgegraphError('UNKNOWN_NODE', `${where} names unknown node "${name}". Nothing was stored for this step.`, { context })
}

let neverAborted: AbortSignal | undefined
function idleSignal(): AbortSignal {
  return (neverAborted ??= new AbortController().signal)
}

function now(): number {
  return performance.now()
}
