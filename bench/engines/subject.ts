/** The interface each engine adapter implements so case.ts can drive both engines the same way. */
import type { Workload } from '../workloads.js'

export interface SubjectOptions {
  workload: Workload
  /** Steps the graph runs before it ends. */
  n: number
  /** Chat messages, message i is appended at step i (at least n of them). */
  messages: readonly string[]
  /** Called at the start of every node invocation; the timing hook. */
  onStep: () => void
  /** Store through `withEncryption` (edgegraph only). */
  encrypted?: boolean
}

/** One engine with one fresh store. */
export interface Subject {
  readonly store: string
  /** Compiles the graph and runs it to the end on `threadId`; returns the final state. */
  run(threadId: string): Promise<Record<string, unknown>>
  /** `getState` on a freshly compiled graph over the same store; returns the values. */
  getState(threadId: string): Promise<Record<string, unknown>>
  /** Iterates the whole `getStateHistory` on a freshly compiled graph; returns each checkpoint's progress, newest first. */
  history(threadId: string): Promise<number[]>
  /** Bytes the store holds (keys + values); see each engine for what is counted. */
  bytesStored(): number
  /** Bytes written to the store (keys + values of every put) since the subject was made, where the engine can say. */
  bytesWritten?(): number
}
