/** @module How checkpoints are shown to users: `getState` / `getStateHistory` snapshots and their metadata. */
import type { Checkpoint, Source, Usage } from '../checkpoint/model.js'
import { interruptId, openInterrupts, type Interrupt } from './interrupts.js'

/** Identifies a thread, and optionally one of its checkpoints. */
export interface ThreadConfig {
  /** The thread. */
  threadId: string
  /** One of its checkpoints (default: the newest), as `getState(...).config.checkpointId` gives it. */
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
  /** For a subgraph task that stopped inside (`getState(config, { subgraphs: true })`): the subgraph's own state. */
  state?: StateSnapshot<Record<string, unknown>>
}

/** A checkpoint as `getState` / `getStateHistory` show it. */
export interface StateSnapshot<S> {
  values: S
  /** Nodes the next step runs (empty when the run is done); a task of it that already finished is not listed. */
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

export function metadataOf(c: Checkpoint): CheckpointMetadata {
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

export function snapshotOf(c: Checkpoint, pendingDone = true): StateSnapshot<Record<string, unknown>> {
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
    // Tasks that already finished (their writes are kept, and shown in values) do not run again.
    next: c.next.filter((_, i) => !pendingDone || !c.pending.some((p) => p.index === i && p.writes)).map((t) => t.node),
    tasks,
    interrupts,
    metadata: metadataOf(c),
    config: { threadId: c.threadId, checkpointId: c.id },
    parentConfig: c.parentId === undefined ? undefined : { threadId: c.threadId, checkpointId: c.parentId },
    createdAt: new Date(c.createdAt).toISOString(),
  }
}
