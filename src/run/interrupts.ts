/** @module Interrupts: the ones a checkpoint waits on, their ids, and how a resume value reaches the task that asked. */
import { EdgegraphError } from '../errors.js'
import type { Checkpoint, PendingTask, StaticInterrupt } from '../checkpoint/model.js'
import type { Scope } from './scope.js'

/** A pending interrupt: why the run stopped and, for `interrupt(value)`, the value to show a human. */
export interface Interrupt {
  /** Pass `{ [id]: value }` as `Command.resume` to answer several interrupts at once. */
  id: string
  node: string
  when: 'during' | 'before' | 'after'
  value: unknown
}

/** Thrown by `ctx.interrupt()` to end the task; caught by the loop. */
export class InterruptSignal {
  constructor(readonly value: unknown) {}
}

/**
 * The interrupts a checkpoint is waiting on: its static ones (before/after) until its step is attempted,
 * then the `interrupt()` calls its tasks left pending.
 */
export function openInterrupts(checkpointId: string, statics: StaticInterrupt[], pending: PendingTask[]): Interrupt[] {
  const out: Interrupt[] = pending.some((t) => t.index >= 0) ? [] : statics.map((x) => ({ id: `${checkpointId}:${x.when}:${x.node}`, node: x.node, when: x.when, value: undefined }))
  for (const t of pending) if (t.interrupts?.length) out.push({ id: interruptId(checkpointId, t), node: t.node, when: 'during', value: t.interrupts[0] })
  return out
}

export function interruptId(checkpointId: string, task: PendingTask): string {
  return `${checkpointId}:${task.index}:${task.resume?.length ?? 0}`
}

/**
 * Which task each resume value goes to (by task index). `resume` is a map from interrupt id to value when it names
 * pending interrupts; otherwise, as in LangGraph.js, the one value answers every pending `interrupt()`.
 */
export function resumeValues(loaded: Checkpoint, resume: unknown, scope: Scope): Map<number, unknown> {
  const waiting = loaded.pending.filter((t) => t.interrupts && t.interrupts.length > 0)
  if (waiting.length === 0) {
    throw new EdgegraphError('NO_PENDING_INTERRUPT', `${scope.where(loaded.id)} has no pending interrupt() to resume; continue with invoke(null).`, { context: scope.context(loaded.id) })
  }
  const ids = new Map(waiting.map((t) => [interruptId(loaded.id, t), t.index]))
  const keyed = typeof resume === 'object' && resume !== null && !Array.isArray(resume) && Object.keys(resume).length > 0 && Object.keys(resume).every((k) => ids.has(k))
  return keyed ? new Map(Object.entries(resume as object).map(([id, value]) => [ids.get(id) as number, value])) : new Map(waiting.map((t) => [t.index, resume]))
}
