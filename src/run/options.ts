/**
 * @module Checks of the options users pass (run config, stream modes, compile and node options): an option
 * edgegraph does not support fails loudly with `INVALID_ARGUMENT` naming it, instead of being ignored.
 */
import { EdgegraphError } from '../errors.js'

/** What LangGraph.js users reach for that edgegraph spells differently or does not support yet. */
const HINTS: Record<string, string> = {
  configurable: 'edgegraph takes the thread at the top level: { threadId, checkpointId } instead of { configurable: { thread_id, checkpoint_id } }',
  subgraphs: 'streaming from inside subgraphs (subgraphs: true) is not supported yet',
  callbacks: 'callbacks are not supported; watch a run with stream() instead',
  tags: 'tags are not supported; put what you want recorded in metadata',
  runName: 'runName is not supported; put what you want recorded in metadata',
  runId: 'runId is not supported; put what you want recorded in metadata',
  maxConcurrency: 'maxConcurrency is not supported yet: every task of a step runs at once',
  interruptBefore: 'interruptBefore is a compile option here: compile({ interruptBefore })',
  interruptAfter: 'interruptAfter is a compile option here: compile({ interruptAfter })',
  debug: 'debug is not supported; stream with streamMode: "debug" instead',
  outputKeys: 'outputKeys is not supported yet: invoke returns the whole state',
  inputKeys: 'inputKeys is not supported yet',
  store: 'a cross-thread store is not supported yet',
  cache: 'node caching is not supported yet',
  retryPolicy: 'retry policies are not supported yet: a failed node is retried by resuming with invoke(null)',
  cachePolicy: 'node caching is not supported yet',
  defer: 'deferred nodes are not supported yet',
  input: 'a node input schema is not supported yet: nodes get the whole state',
}

/** Throws `INVALID_ARGUMENT` when `value` has a key outside `allowed`, naming it (and a hint for LangGraph's). */
export function checkKeys(value: unknown, allowed: readonly string[], what: string): void {
  if (value === undefined) return
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} must be an object, not ${describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue
    const hint = HINTS[key]
    throw invalid(`${what} has option "${key}", which edgegraph does not support${hint ? `: ${hint}` : ''}. Supported: ${allowed.join(', ')}.`)
  }
}

/** Throws `INVALID_ARGUMENT` unless `value` is undefined or one of `choices`. */
export function checkChoice(value: unknown, choices: readonly string[], what: string): void {
  if (value !== undefined && !choices.includes(value as string)) {
    throw invalid(`${what} must be one of ${choices.map((c) => `"${c}"`).join(', ')}, got ${describe(value)}`)
  }
}

/** Throws `INVALID_ARGUMENT` unless `value` is undefined or a whole number ≥ `min`. */
export function checkCount(value: unknown, min: number, what: string): void {
  if (value !== undefined && !(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
    throw invalid(`${what} must be a whole number ≥ ${min}, got ${describe(value)}`)
  }
}

const RUN_OPTIONS = ['threadId', 'checkpointId', 'signal', 'recursionLimit', 'durability', 'checkpointEvery', 'metadata', 'ifBusy'] as const
export const DURABILITY = ['sync', 'async', 'exit'] as const

/**
 * Checks a run's config (`invoke`, `stream`, `updateState`...): known options with values of the right kind.
 * `extra` names the options the caller adds (e.g. `streamMode`).
 */
export function checkRunConfig(config: unknown, what: string, extra: readonly string[] = []): void {
  checkKeys(config, [...RUN_OPTIONS, ...extra], `${what} config`)
  if (config === undefined) return
  const c = config as Record<string, unknown>
  if (c.threadId !== undefined && (typeof c.threadId !== 'string' || c.threadId === '')) throw invalid(`${what}: threadId must be a non-empty string, got ${describe(c.threadId)}`)
  if (c.checkpointId !== undefined && (typeof c.checkpointId !== 'string' || c.checkpointId === '')) throw invalid(`${what}: checkpointId must be a checkpoint id (a string), got ${describe(c.checkpointId)}`)
  if (c.signal !== undefined && !(typeof c.signal === 'object' && c.signal !== null && typeof (c.signal as AbortSignal).aborted === 'boolean')) throw invalid(`${what}: signal must be an AbortSignal`)
  if (c.metadata !== undefined && (typeof c.metadata !== 'object' || c.metadata === null || Array.isArray(c.metadata))) throw invalid(`${what}: metadata must be an object, got ${describe(c.metadata)}`)
  checkCount(c.recursionLimit, 1, `${what}: recursionLimit`)
  checkCount(c.checkpointEvery, 1, `${what}: checkpointEvery`)
  checkChoice(c.durability, DURABILITY, `${what}: durability`)
  checkChoice(c.ifBusy, ['wait', 'fail'], `${what}: ifBusy`)
}

/** Stream modes that exist; any other mode fails loudly. */
export const STREAM_MODES = ['values', 'updates', 'debug'] as const
const LATER_MODES: Record<string, string> = {
  messages: 'token streaming (streamMode "messages") is not supported yet',
  custom: 'custom stream chunks (streamMode "custom") are not supported yet',
  tasks: 'streamMode "tasks" is not supported yet; "debug" reports each stored checkpoint',
  checkpoints: 'streamMode "checkpoints" is not supported yet; "debug" reports each stored checkpoint',
}

/** The modes of a `stream()` call, checked. */
export function streamModes(mode: unknown): { modes: string[]; single: boolean } {
  const modes = mode === undefined ? ['values'] : Array.isArray(mode) ? mode : [mode]
  if (modes.length === 0) throw invalid('stream(..., { streamMode: [] }) names no mode; leave it out for "values"')
  for (const m of modes) {
    if ((STREAM_MODES as readonly unknown[]).includes(m)) continue
    const later = LATER_MODES[m as string]
    throw invalid(`stream(..., { streamMode }) got ${describe(m)}${later ? `: ${later}` : ''}. Supported modes: ${STREAM_MODES.join(', ')}.`)
  }
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
