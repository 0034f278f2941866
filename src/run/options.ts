/**
 * @module Checks of the options users pass (run config, stream modes, compile, node and history options): an option
 * edgegraph does not support fails loudly with `INVALID_ARGUMENT` naming it, instead of being ignored.
 */
import { EdgegraphError } from '../errors.js'

/** A kind of option value: the check, and what to say it takes. */
type Kind = readonly [ok: (value: unknown) => boolean, takes: string]

const isObject = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v)
const oneOf = (...choices: string[]): Kind => [(v) => choices.includes(v as string), choices.map((c) => `"${c}"`).join(' or ')]
const text: Kind = [(v) => typeof v === 'string' && v !== '' && !v.startsWith('.store/'), 'a non-empty string (not starting with ".store/", where createStore keeps its items)']
const count: Kind = [(v) => Number.isInteger(v) && (v as number) >= 1, 'a whole number ≥ 1']
const object: Kind = [isObject, 'an object']
const list: Kind = [Array.isArray, 'an array']
const anything: Kind = [() => true, '']
const bool: Kind = [(v) => typeof v === 'boolean', 'true or false']

export const THREAD_OPTIONS = { threadId: text, checkpointId: text }
export const RUN_OPTIONS = {
  ...THREAD_OPTIONS,
  signal: [(v) => typeof (v as AbortSignal | null)?.aborted === 'boolean', 'an AbortSignal'] as Kind,
  recursionLimit: count,
  durability: oneOf('sync', 'async', 'exit'),
  checkpointEvery: count,
  metadata: object,
  ifBusy: oneOf('wait', 'fail'),
}
export const STREAM_OPTIONS = { ...RUN_OPTIONS, streamMode: anything, subgraphs: bool }
const fn = (v: unknown): boolean => typeof v === 'function'
// LangGraph.js's caches (InMemoryCache, with a serde) take other calls: refused rather than misused.
const nodeCache: Kind = [(v) => isObject(v) && fn((v as { get?: unknown }).get) && fn((v as { set?: unknown }).set) && !('serde' in (v as object)), "createCache(adapter) from 'edgegraph/cache' (LangGraph's InMemoryCache does not plug in)"]
export const COMPILE_OPTIONS = { checkpointer: anything, interruptBefore: list, interruptAfter: list, durability: RUN_OPTIONS.durability, checkpointEvery: count, store: object, cache: nodeCache, version: count, migrations: object }
export const CHECKPOINTER_OPTIONS = { adapter: anything, snapshotFactor: anything, packSize: count }
const millis: Kind = [(v) => typeof v === 'number' && v >= 0, 'a number ≥ 0']
export const NODE_OPTIONS = { ends: list, defer: bool, retryPolicy: object, cachePolicy: [(v) => isObject(v) || typeof v === 'boolean', 'an object, true or false'] as Kind }
export const CACHE_OPTIONS = { keyFunc: [fn, 'a function'] as Kind, ttl: [(v) => typeof v === 'number' && v >= 0, 'a number ≥ 0 (seconds)'] as Kind }
export const RETRY_OPTIONS = { maxAttempts: count, initialInterval: millis, backoffFactor: millis, maxInterval: millis, jitter: bool, retryOn: [fn, 'a function'] as Kind }
export const HISTORY_OPTIONS = { limit: count, before: anything, filter: object }

/** Throws `INVALID_ARGUMENT` for an option outside `kinds`, or one whose value is not of its kind, naming it. */
export function checkOptions(value: unknown, kinds: Record<string, Kind>, what: string): void {
  if (value === undefined) return
  if (!isObject(value)) throw invalid(`${what} must be an object, not ${describe(value)}`)
  for (const [key, v] of Object.entries(value as object)) {
    const kind = kinds[key]
    if (!kind) throw invalid(`${what}: option "${key}" is not supported (yet)${key === 'configurable' ? ': pass threadId and checkpointId at the top level' : ''}. Supported: ${Object.keys(kinds).join(', ')}.`)
    if (v !== undefined && !kind[0](v)) throw invalid(`${what}: ${key} must be ${kind[1]}, got ${describe(v)}`)
  }
}

/** Stream modes that exist; any other mode fails loudly. */
export const STREAM_MODES = ['values', 'updates', 'custom', 'messages', 'tasks', 'checkpoints', 'debug'] as const

/** The modes of a `stream()` call, checked. */
export function streamModes(mode: unknown): { modes: string[]; single: boolean } {
  const modes = mode === undefined ? ['values'] : Array.isArray(mode) ? mode : [mode]
  const bad = modes.findIndex((m) => !(STREAM_MODES as readonly unknown[]).includes(m))
  if (bad >= 0 || modes.length === 0) throw invalid(`streamMode ${describe(modes.length === 0 ? '[]' : modes[bad])} is not supported (yet). Supported: ${STREAM_MODES.join(', ')}.`)
  return { modes: modes as string[], single: !Array.isArray(mode) }
}

function invalid(message: string): EdgegraphError {
  return new EdgegraphError('INVALID_ARGUMENT', message)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  return typeof value === 'object' ? 'an object' : String(value)
}
