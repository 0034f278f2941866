/** Types and helpers shared by the bench driver (run.ts) and the per-process measurement (case.ts). */
import type { Workload } from './workloads.js'

export const ENGINES = ['edgegraph', 'langgraph'] as const
export type Engine = (typeof ENGINES)[number]

/** What one case prints. Times in ms unless the name says otherwise. */
export interface CaseResult {
  engine: Engine
  store: string
  workload: Workload
  n: number
  /** Median time between consecutive node invocations: the engine's whole per-step cost, checkpointing included. */
  usPerStep: number
  /** Mean of the same intervals (in the chat workload per-step cost grows with the state, so it differs). */
  usPerStepMean: number
  /** Wall time of the timed invoke. */
  runMs: number
  bytesStored: number
  payloadBytes: number
  getStateMs: number
  historyMs: number
  /** Checkpoints getStateHistory yielded. */
  checkpoints: number
  peakRssMb: number
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
