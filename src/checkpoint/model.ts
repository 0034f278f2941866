/** @module The checkpoint model the run layer and the history layer share: what a checkpoint holds once rebuilt. */
import { idTime } from './ids.js'

/** Where a checkpoint came from. */
export type Source = 'input' | 'loop' | 'update' | 'fork'

/** Token usage and cost as reported by nodes. */
export interface Usage {
  inputTokens: number
  outputTokens: number
  costUsd: number
}

/** A task to run: a node, and for tasks created by `Send`, the input it gets instead of the state. */
export interface TaskRef {
  node: string
  /** Present for `Send` tasks. */
  arg?: { value: unknown }
}

/** A run stopped before or after a node because of `interruptBefore` / `interruptAfter`. */
export interface StaticInterrupt {
  when: 'before' | 'after'
  node: string
}

/** What the finished tasks of an unfinished step left behind (a sibling failed or a node interrupted). */
export interface PendingTask {
  index: number
  node: string
  /** Completed writes, in write order. Absent when the task did not finish. */
  writes?: [channel: string, value: unknown][]
  /** Tasks this one routed to (Command.goto / Send), when it finished. */
  goto?: TaskRef[]
  /** Values passed to `interrupt()` that are waiting for a resume value. */
  interrupts?: unknown[]
  /** Resume values already given to this task's interrupts, in order. */
  resume?: unknown[]
  error?: { name: string; message: string }
  usage?: Usage
  /** Results of the task's `ctx.effect()` calls so far, by name: a retry of the step returns them instead of running them. */
  effects?: [name: string, result: unknown][]
  /** The state version of the code that stored it, when above 1. */
  version?: number
}

/** What every checkpoint carries besides its channel values, whether decoded or rebuilt. */
export interface CheckpointFields {
  id: string
  parentId: string | undefined
  step: number
  source: Source
  next: TaskRef[]
  /** Which node wrote which channels in the step(s) this checkpoint records. */
  writes: Record<string, string[]>
  durationUs: number | undefined
  usage: Usage | undefined
  usageTotal: Usage | undefined
  interrupts: StaticInterrupt[]
  metadata: Record<string, unknown> | undefined
  /** Triggers carried to later steps: waiting edges' arrivals so far, and `defer` tasks held until nothing else runs. */
  waiting?: Waiting | undefined
}

/** What a checkpoint carries for later steps besides `next`. */
export interface Waiting {
  /** Per waiting edge (`addEdge(['a', 'b'], 'c')`, keyed `a,b>c`), the sources that finished since it last fired. */
  joins?: Record<string, string[]> | undefined
  /** Tasks of `defer` nodes, held until a step would otherwise have nothing to run. */
  deferred?: TaskRef[] | undefined
}

/** A checkpoint with its channel values rebuilt. */
export interface Checkpoint extends CheckpointFields {
  threadId: string
  createdAt: number
  values: Record<string, unknown>
  pending: PendingTask[]
  /** Storage keys held by `pending` (including chunks), deleted once the step commits. */
  pendingKeys: string[]
  /** Snapshot-policy bookkeeping: bytes of records read to rebuild this checkpoint, and channel sizes. */
  chainBytes: number
  /** Records on this checkpoint's chain that are still stored one per key (the packing trigger). */
  looseChain: number
  sizes: Record<string, number>
  /**
   * The state version its record was written with (`compile({ version })`). Its `values` may have been migrated
   * since, to the reading graph's version.
   */
  version: number
  /** Container sizes (array length, key count) of the values as committed, to catch in-place changes. */
  shapes?: Record<string, number>
}

/** What the run layer hands over to store a new checkpoint after `parent`. */
export interface NewCheckpoint {
  step: number
  source: Source
  next: TaskRef[]
  values: Record<string, unknown>
  writes: Record<string, string[]>
  durationUs?: number
  usage?: Usage
  interrupts: StaticInterrupt[]
  metadata?: Record<string, unknown>
  waiting?: Waiting | undefined
}

/** The sum of two usages, either of which may be absent. */
export function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b
  if (!b) return a
  return { inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens, costUsd: a.costUsd + b.costUsd }
}

/** What a step did, as stored on its checkpoint besides the values. */
export type StepFields = Pick<CheckpointFields, 'source' | 'next' | 'writes' | 'interrupts'> & {
  durationUs?: number | undefined
  usage?: Usage | undefined
  metadata?: Record<string, unknown> | undefined
  waiting?: Waiting | undefined
}

/** A checkpoint with no pending writes attached (yet), spelled out once: this runs once per checkpoint listed. */
export function makeCheckpoint(
  threadId: string,
  id: string,
  parentId: string | undefined,
  step: number,
  d: StepFields,
  values: Record<string, unknown>,
  usageTotal: Usage | undefined,
  chain: Pick<Checkpoint, 'chainBytes' | 'looseChain' | 'sizes' | 'version'>,
): Checkpoint {
  return {
    threadId,
    id,
    parentId,
    step,
    createdAt: idTime(id),
    source: d.source,
    next: d.next,
    values,
    writes: d.writes,
    durationUs: d.durationUs,
    usage: d.usage,
    usageTotal,
    interrupts: d.interrupts,
    metadata: d.metadata,
    waiting: d.waiting,
    pending: [],
    pendingKeys: [],
    chainBytes: chain.chainBytes,
    looseChain: chain.looseChain,
    sizes: chain.sizes,
    version: chain.version,
  }
}
