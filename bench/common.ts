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
  /** Median (p50) time between consecutive node invocations: the engine's whole per-step cost, checkpointing included. */
  usPerStep: number
  /** The whole invoke over n: what a user waits for per step, slow steps and the final commit included. */
  usPerStepMean: number
  /** 99th percentile of the same intervals. */
  usPerStepP99: number
  /** Wall time of the timed invoke. */
  runMs: number
  bytesStored: number
  /** Bytes the timed run wrote to the store (keys + values of every put); edgegraph only. */
  bytesWritten?: number
  payloadBytes: number
  getStateMs: number
  /** The read floor in the same process: JSON.parse of the newest state's JSON text (its bytes parsed once). */
  getStateFloorMs: number
  historyMs: number
  /** Checkpoints getStateHistory yielded. */
  checkpoints: number
  peakRssMb: number
  /** Warm-up rounds of 200 steps run before the timed run (at least 2, and for at least a second: bench/case.ts). */
  warmupRounds: number
  /** Stored through `withEncryption` (AES-256-GCM) over the same store. */
  encrypted?: boolean
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

/** The nearest-rank percentile `p` (0..1) of `xs`. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
