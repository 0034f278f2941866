/** @module One task of a step: its node called with the run context, and what came of it (writes, an interrupt, a failure). */
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import { addUsage, type PendingTask, type TaskRef, type Usage } from '../checkpoint/model.js'
import { Command } from './command.js'
import { InterruptSignal } from './interrupts.js'
import type { Router } from './routing.js'
import { needsCheckpointer, type Scope } from './scope.js'
import type { GraphSpec, NodeContext, SubgraphCall } from './spec.js'
import type { Store } from '../store/store.js'
import type { StorageAdapter } from '../checkpoint/adapter.js'
import type { NodeCache } from '../cache.js'
import type { RunEvent } from './loop.js'

export type TaskOutcome =
  | { status: 'done'; node: string; writes: [string, unknown][]; goto: TaskRef[]; usage: Usage | undefined; reused: boolean; attempts?: number; cached?: true; effects?: [string, unknown][] }
  | { status: 'interrupted'; value: unknown; resume: unknown[]; usage: Usage | undefined; effects: [string, unknown][] }
  | { status: 'failed'; error: unknown; resume: unknown[]; effects: [string, unknown][] }

/** What every task of a run shares. */
export interface TaskEnv {
  spec: GraphSpec
  scope: Scope
  router: Router
  signal: AbortSignal | undefined
  /** Set when the run is a subgraph inside a node: interrupts and usage go to the parent task. */
  parent: NodeContext | undefined
  /** Whether the run can pause: it has a checkpointer to resume from. */
  canPause: boolean
  store: Store | undefined
  emit: (event: RunEvent) => void
  /** Whether anyone listens to `emit` (stream): if not, per-task events are not even made. */
  streaming: boolean
  /** The run's adapter, for subgraph nodes to keep their own checkpoints in (undefined without a checkpointer). */
  adapter: StorageAdapter | undefined
  cache: NodeCache | undefined
  /**
   * Stores a task's effect results on the step's checkpoint (without `t`: waits until that checkpoint is stored).
   * Undefined when the run cannot: no checkpointer, or a durability that skips the checkpoints effect keys name.
   */
  record: ((t?: PendingTask) => Promise<void>) | undefined
}

/** A subgraph node's `Command({ graph: Command.PARENT })`, on its way out of the subgraph to the parent's task. */
export class ParentCommand {
  constructor(readonly command: Command) {}
}

/**
 * Runs one task of the step after checkpoint `at`. A task that already finished in an earlier attempt of the step
 * (`previous` holds its writes) is not run again; one that asked `interrupt()` gets its resume values back.
 */
export async function runTask(env: TaskEnv, task: TaskRef, index: number, at: { step: number; values: Record<string, unknown>; id?: string | undefined }, previous: PendingTask | undefined, resumed: unknown[]): Promise<TaskOutcome> {
  if (previous?.writes) return { status: 'done', node: task.node, writes: previous.writes, goto: previous.goto ?? [], usage: previous.usage, reused: true }
  const resume = [...(previous?.resume ?? []), ...resumed]
  const node = env.spec.nodes.get(task.node)
  let usage: Usage | undefined
  let asked = 0
  // Effect results of earlier attempts of this step, and the names called in this attempt (made when first needed:
  // most nodes call no effect, and a run makes a task per step).
  let recorded = previous?.effects ? new Map(previous.effects) : undefined
  let called: Set<string> | undefined
  let saved: Promise<unknown> | undefined
  const { parent } = env
  const ctx: NodeContext = {
    threadId: env.scope.threadId,
    step: at.step + 1,
    node: task.node,
    signal: env.signal ?? idleSignal(),
    store: parent ? parent.store : env.store,
    // Methods, not arrow properties: a transform that keeps function names (tsx, esbuild's keepNames) wraps every arrow
    // it names in an Object.defineProperty call, made each time the arrow is (here: every step); a method needs none.
    write(chunk) {
      env.emit({ type: 'custom', chunk })
    },
    writeMessage(chunk) {
      env.emit({ type: 'message', chunk, meta: { node: task.node, step: at.step + 1, threadId: env.scope.threadId } })
    },
    // A subgraph run with checkpoints of its own pauses itself; without, the parent's task waits for the answer.
    interrupt: parent && !env.canPause
      ? (value) => parent.interrupt(value)
      : <R>(value: unknown): R => {
          if (!env.canPause) {
            throw new EdgegraphError('INVALID_ARGUMENT', `Node "${task.node}" called interrupt(), which needs a checkpointer to resume: compile({ checkpointer }), and a threadId.`, { context: { node: task.node } })
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
    effect: parent && !env.canPause
      ? (name, fn) => parent.effect(name, fn)
      : async <T>(name: string, fn: (effect: { idempotencyKey: string }) => T | Promise<T>): Promise<T> => {
          const what = `effect("${name}") in node "${task.node}"`
          const context = env.scope.context(undefined, task.node)
          const record = env.record
          if (!env.canPause) throw needsCheckpointer(what)
          if (!record) throw new EdgegraphError('INVALID_ARGUMENT', `${what} needs every step's checkpoint stored: use durability 'sync' or 'async', not 'exit' or checkpointEvery`, { context })
          if (called?.has(name)) throw new EdgegraphError('INVALID_ARGUMENT', `${what} called twice: give each effect of a node its own name`, { context })
          ;(called ??= new Set()).add(name)
          const done = (recorded ??= new Map())
          if (done.has(name)) return done.get(name) as T
          // The key names the step's checkpoint: with async durability, wait until it is stored.
          await record()
          const result = await fn({ idempotencyKey: `${env.scope.threadId}:${id}:${name}` })
          done.set(name, result)
          // One write at a time, each with every result so far, so the last one stored holds them all.
          try {
            await (saved = (saved ?? Promise.resolve()).catch(() => {}).then(() => record({ ...(previous ?? { index, node: task.node }), effects: [...done] })))
          } catch (err) {
            done.delete(name)
            throw isEdgegraphError(err, 'UNSERIALIZABLE') ? new EdgegraphError('UNSERIALIZABLE', `${what} returned a result that cannot be stored: ${err.message}`, { cause: err, context }) : err
          }
          return result
        },
  }
  const id = `${at.id ?? at.step}:${index}`
  const input = task.arg ? task.arg.value : at.values
  if (env.streaming) env.emit({ type: 'task', task: { id, name: task.node, input } })
  // A subgraph node gets the run's event sink (its events reach stream() namespaced under this task) and, when this
  // step is stored, a namespace of the thread for checkpoints of its own, stable across attempts of the step.
  const sub = node?.subgraph !== undefined && env.adapter !== undefined && at.id !== undefined
  const call: SubgraphCall = node?.subgraph === undefined ? NO_CALL : {
    emit: (e: RunEvent) => env.emit({ ...e, ns: [`${task.node}:${id}`, ...(e.ns ?? [])] }),
    history: sub ? { adapter: env.adapter as StorageAdapter, threadId: env.scope.threadId as string, ns: `${encodeURIComponent(task.node)}:${id}` } : undefined,
    resume,
  }
  // A subgraph with checkpoints keeps its answers itself: this task then holds only the next one.
  const kept = sub ? [] : resume
  // A cached node with a result for this input is not run: its writes and routing are used, as in LangGraph.js.
  const policy = env.cache && node?.cache
  const key = policy && (policy.keyFunc ?? JSON.stringify)([input])
  const hit = key === undefined ? undefined : await env.cache?.get(task.node, key)
  // As in LangGraph.js, a cached result is not reported as a task's end in streamMode 'tasks'.
  if (hit) return { status: 'done', node: task.node, ...hit, usage, reused: false, cached: true }
  for (let attempts = 1; ; attempts++) {
    try {
      if (!node) throw env.scope.unknownNode(task.node, 'a stored task', undefined, at.id)
      // A node that returns at once is awaited only in a streamed run, whose parallel tasks' events then interleave as
      // they always have: each await is a turn of the microtask queue, and garbage.
      let out = node.run(input, ctx, call)
      if (env.streaming || isThenable(out)) out = await out
      const { writes, goto } = readResult(env, task.node, out)
      if (key !== undefined && (writes.length > 0 || goto.length > 0)) await env.cache?.set(task.node, key, { writes, goto }, policy?.ttl)
      return end(env, id, task.node, { status: 'done', node: task.node, writes, goto, usage, reused: false, attempts, effects: recorded ? [...recorded] : [] })
    } catch (error) {
      const effects = recorded ? [...recorded] : []
      if (error instanceof InterruptSignal) return end(env, id, task.node, { status: 'interrupted', value: error.value, resume: kept, usage, effects })
      const p = node?.retry
      if (!p || attempts >= (p.maxAttempts ?? 3) || !(p.retryOn ?? retryable)(error)) return end(env, id, task.node, { status: 'failed', error, resume: kept, effects })
      const wait = Math.min(p.maxInterval ?? 128_000, (p.initialInterval ?? 500) * (p.backoffFactor ?? 2) ** (attempts - 1))
      await sleep(p.jitter === false ? wait : wait + Math.random() * 1000, ctx.signal)
      if (ctx.signal.aborted) return end(env, id, task.node, { status: 'failed', error, resume: kept, effects })
      asked = 0
      called = undefined
    }
  }
}

/** The outcome of task `id`, reported to streamMode 'tasks' as LangGraph.js reports a task's end. */
function end(env: TaskEnv, id: string, name: string, o: TaskOutcome): TaskOutcome {
  if (env.streaming) env.emit({ type: 'task', task: { id, name, result: o.status === 'done' ? Object.fromEntries(o.writes) : undefined, error: o.status === 'failed' ? o.error : undefined, interrupts: o.status === 'interrupted' ? [o.value] : [] } })
  return o
}

/** What a node that is not a subgraph gets as its third argument: nothing it uses. */
const NO_CALL: SubgraphCall = { emit: () => {}, history: undefined, resume: [] }

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function'

/** LangGraph.js's default `retryOn`: not for edgegraph's own errors, aborts, or HTTP 400-407 and 409. */
function retryable(error: unknown): boolean {
  const e = error as { name?: string; status?: number; response?: { status?: number } } | null
  const status = e?.response?.status ?? e?.status ?? 0
  return !(error instanceof EdgegraphError || e?.name === 'AbortError' || (status > 399 && status < 410 && status !== 408))
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal) => new Promise((resolve) => (signal.addEventListener('abort', resolve), setTimeout(resolve, ms)))

/** A node's return value as writes and routing: an update object, a Command, or nothing. */
function readResult(env: TaskEnv, node: string, out: unknown): { writes: [string, unknown][]; goto: TaskRef[] } {
  if (out === undefined || out === null) return { writes: [], goto: [] }
  if (out instanceof Command) {
    if (out.graph === Command.PARENT) throw new ParentCommand(out)
    if (out.hasResume) throw new EdgegraphError('INVALID_UPDATE', `Node "${node}" returned a Command with resume, which only invoke() takes.`, { context: env.scope.context(undefined, node) })
    const update = out.update ?? {}
    return { writes: Object.entries(update as object), goto: out.goto === undefined ? [] : env.router.gotoTasks(node, out.goto) }
  }
  if (typeof out !== 'object' || Array.isArray(out)) {
    throw new EdgegraphError('INVALID_UPDATE', `Node "${node}" returned ${Array.isArray(out) ? 'an array' : typeof out}: return an update object, a Command or nothing.`, { context: env.scope.context(undefined, node) })
  }
  return { writes: Object.entries(out), goto: [] }
}

/** The pending-write record of a task of a step that did not complete (a sibling failed, or a task interrupted). */
export function pendingOf(index: number, node: string, o: TaskOutcome): PendingTask | undefined {
  // A task keeps its effect results for the next attempt (a finished one too: a migration may run it again).
  const effects = o.effects?.length ? { effects: o.effects } : {}
  if (o.status === 'done') return o.reused ? undefined : { index, node, writes: o.writes, goto: o.goto, ...(o.usage ? { usage: o.usage } : {}), ...effects }
  if (o.status === 'interrupted') return { index, node, interrupts: [o.value], resume: o.resume, ...(o.usage ? { usage: o.usage } : {}), ...effects }
  const e = o.error as Error
  return { index, node, error: { name: e?.name ?? 'Error', message: String(e?.message ?? e) }, ...(o.resume.length ? { resume: o.resume } : {}), ...effects }
}

let neverAborted: AbortSignal | undefined
function idleSignal(): AbortSignal {
  return (neverAborted ??= new AbortController().signal)
}
