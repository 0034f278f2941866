/** @module Routing: where tasks go after a node ran (Command.goto, edges, conditional edges, Send), and static interrupts. */
import { EdgegraphError } from '../errors.js'
import type { StaticInterrupt, TaskRef, Waiting } from '../checkpoint/model.js'
import { END, START, Send } from './command.js'
import type { RunOptions } from './config.js'
import type { Scope } from './scope.js'
import type { BranchSpec, GraphSpec } from './spec.js'

const NONE: never[] = []

export class Router {
  readonly #spec: GraphSpec
  readonly #scope: Scope

  constructor(spec: GraphSpec, scope: Scope) {
    this.#spec = spec
    this.#scope = scope
  }

  /**
   * Where tasks go after `from` ran: its Command.goto, static edges, then conditional edges on the new state. Returns at
   * once unless a conditional edge is async (each await is a turn of the microtask queue, and garbage, on every step).
   */
  route(from: string, values: Record<string, unknown>, goto: TaskRef[]): TaskRef[] | Promise<TaskRef[]> {
    // Built by push from an empty literal: a copy by spread starts as a list of small integers, and the first task
    // pushed changed its kind in the middle of optimized code (a deopt on every graph's step).
    const out: TaskRef[] = []
    for (const t of goto) out.push(t)
    for (const to of this.#spec.edges.get(from) ?? NONE) if (to !== END) out.push({ node: to })
    const branches = this.#spec.branches.get(from) ?? NONE
    for (let i = 0; i < branches.length; i++) {
      const result = this.#path(from, branches[i] as BranchSpec, values)
      if (result instanceof Promise) return this.#routeAsync(from, values, out, branches, i, result)
      this.#follow(from, branches[i] as BranchSpec, result, out)
    }
    return out
  }

  async #routeAsync(from: string, values: Record<string, unknown>, out: TaskRef[], branches: BranchSpec[], i: number, first: Promise<unknown>): Promise<TaskRef[]> {
    this.#follow(from, branches[i] as BranchSpec, await first, out)
    for (i++; i < branches.length; i++) this.#follow(from, branches[i] as BranchSpec, await this.#path(from, branches[i] as BranchSpec, values), out)
    return out
  }

  /** What a conditional edge returns (a promise when it is async), its failure typed. */
  #path(from: string, branch: BranchSpec, values: Record<string, unknown>): unknown {
    try {
      const result = branch.path(values as never)
      return result instanceof Promise ? result.catch((err) => Promise.reject(this.#pathFailed(from, err))) : result
    } catch (err) {
      throw this.#pathFailed(from, err)
    }
  }

  #pathFailed(from: string, err: unknown): EdgegraphError {
    return new EdgegraphError('NODE_FAILED', `The conditional edge after "${from}" failed in ${this.#scope.where()}: ${(err as Error)?.message ?? err}`, { cause: err, context: this.#scope.context(undefined, from) })
  }

  /** Adds the tasks a conditional edge's result names. */
  #follow(from: string, branch: BranchSpec, result: unknown, out: TaskRef[]): void {
    for (const item of Array.isArray(result) ? result : [result]) {
      if (item instanceof Send) {
        out.push(this.#sendTask(from, item))
        continue
      }
      const key = String(item)
      const target = branch.pathMap ? branch.pathMap[key] : key
      if (target === undefined) throw this.#scope.unknownNode(key, `the conditional edge after "${from}" (not in its path map)`, from)
      if (target === END) continue
      if (!this.#spec.nodes.has(target)) throw this.#scope.unknownNode(target, `the conditional edge after "${from}"`, from)
      out.push({ node: target })
    }
  }

  /** The tasks of a `Command.goto` returned by `from` (or given with the input, from START). */
  gotoTasks(from: string, goto: string | Send | (string | Send)[]): TaskRef[] {
    const out: TaskRef[] = []
    for (const item of Array.isArray(goto) ? goto : [goto]) {
      if (item instanceof Send) out.push(this.#sendTask(from, item))
      else if (item === END) continue
      else if (typeof item === 'string' && this.#spec.nodes.has(item)) out.push({ node: item })
      else throw this.#scope.unknownNode(String(item), `Command.goto of ${from === START ? 'the input' : `node "${from}"`}`, from === START ? undefined : from)
    }
    return out
  }

  #sendTask(from: string, send: Send): TaskRef {
    if (!this.#spec.nodes.has(send.node)) throw this.#scope.unknownNode(send.node, `a Send from "${from}"`, from)
    return { node: send.node, arg: { value: send.arg } }
  }
}

/** The static interrupts due after the tasks `ran` and before the tasks `next`. */
export function staticInterrupts(options: RunOptions, ran: TaskRef[], next: TaskRef[]): StaticInterrupt[] {
  const out: StaticInterrupt[] = []
  for (const t of ran) if (options.interruptAfter.has(t.node) && !out.some((x) => x.node === t.node)) out.push({ when: 'after', node: t.node })
  for (const t of next) if (options.interruptBefore.has(t.node) && !out.some((x) => x.when === 'before' && x.node === t.node)) out.push({ when: 'before', node: t.node })
  return out
}

/**
 * The tasks of the next step, in the order their writes are applied: plain node tasks once each however many edges
 * lead to them, sorted by name, then every `Send` in the order sent (LangGraph.js orders a step's tasks the same way).
 */
export function dedupe(tasks: TaskRef[]): TaskRef[] {
  // One task (most steps) is its own order.
  if (tasks.length === 1) return [tasks[0]?.arg ? (tasks[0] as TaskRef) : { node: (tasks[0] as TaskRef).node }]
  const nodes = [...new Set(tasks.filter((t) => !t.arg).map((t) => t.node))].sort()
  return [...nodes.map((node) => ({ node })), ...tasks.filter((t) => t.arg)]
}

/** Whether `t` is a task of a `defer` node (a Send to one is not held). Of the module, not a closure per call: see ctx in task.ts. */
export const isDeferred = (spec: GraphSpec, t: TaskRef) => !t.arg && spec.nodes.get(t.node)?.defer === true

/**
 * The next step's tasks once the tasks of `ran` finished and `routed` were routed to: waiting edges whose last source
 * just finished fire (the others keep their arrivals), and tasks of `defer` nodes are held until a step would
 * otherwise have nothing to run, as in LangGraph.js. `dropped` are the tasks new input discards (the loaded
 * checkpoint's next): as LangGraph.js consumes their triggers, a complete join into a dropped task starts over.
 * `as` is set for `updateState`: the update's node counts as a source of joins but consumes no join, and the
 * deferred tasks among `due` (the loaded checkpoint's next) stay due unless they finished (`tasks`) or are routed to
 * again, when they wait anew (LangGraph.js's "after finish" triggers outlive an update).
 * Returns what to carry to later steps.
 */
export function schedule(spec: GraphSpec, routed: TaskRef[], tasks: TaskRef[], before: Waiting | undefined, dropped: TaskRef[] = [], as?: string, due?: TaskRef[]): { next: TaskRef[]; waiting: Waiting | undefined } {
  const kept = due?.filter((t) => isDeferred(spec, t) && ![...tasks, ...routed].some((r) => !r.arg && r.node === t.node)) ?? []
  // Nothing waits (no waiting edges, nothing carried, no deferred node due): the routed tasks are the next step's.
  if (spec.joins.size === 0 && before === undefined && !routed.some((t) => isDeferred(spec, t)) && !kept.length) return { next: dedupe(routed), waiting: undefined }
  const joins = { ...before?.joins }
  const ran = [...tasks.map((t) => t.node), ...(as ? [as] : [])]
  for (const [key, { sources, target }] of spec.joins) {
    // A join stays complete, its target due, until that node runs by an edge (LangGraph.js's barrier; a Send to it
    // does not count): its sources running again meanwhile count for nothing; those that run beside it start the
    // next round.
    const complete = joins[key]?.length === sources.length
    const consumed = (t: TaskRef) => t.node === target && !t.arg
    if (complete && !tasks.some(consumed) && !dropped.some(consumed)) {
      routed.push({ node: target })
      continue
    }
    const seen = [...new Set([...(complete ? [] : (joins[key] ?? [])), ...ran])].filter((n) => sources.includes(n))
    delete joins[key]
    if (seen.length < sources.length) {
      if (seen.length > 0) joins[key] = seen
    } else if (target !== END) {
      routed.push({ node: target })
      joins[key] = sources
    }
  }
  // As in LangGraph.js: a deferred node waits while any node is due by an edge; Send tasks neither wait nor hold it.
  let deferred = dedupe([...(before?.deferred ?? []), ...routed.filter((t) => isDeferred(spec, t))])
  let next = dedupe(routed.filter((t) => !isDeferred(spec, t)))
  if (next.every((t) => t.arg)) [next, deferred] = [dedupe([...deferred, ...next]), []]
  if (kept.length) [next, deferred] = [dedupe([...kept, ...next]), deferred.filter((t) => !kept.some((k) => k.node === t.node))]
  return { next, waiting: Object.keys(joins).length > 0 || deferred.length > 0 ? { joins, deferred } : undefined }
}
