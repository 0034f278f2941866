/** @module What every part of the conformance suite shares: its options, named skips, raw reads of a thread, recorded runs. */
import { expect, it } from 'vitest'
import { EdgegraphError, type CheckpointMetadata, type ErrorCode, type StorageAdapter, type StreamMode } from '../../src/index.js'
import { over } from './over.js'

export { over }

/** What an adapter's test file passes to {@link runConformance}. */
export interface ConformanceOptions {
  /** Shown in the suite's title, e.g. `'memory'`. */
  name: string
  /** A fresh, empty adapter. Called once per test (and once per fast-check run). */
  create: () => StorageAdapter | Promise<StorageAdapter>
  /**
   * A fresh, empty adapter with a small `limits.maxValueBytes` (a few KiB), so chunking is exercised without
   * multi-megabyte values. Default: `create`, with values sized above its own limit.
   */
  createSmall?: () => StorageAdapter | Promise<StorageAdapter>
  /** Tests this adapter cannot pass, by exact title, each group with the reason (shown in the skipped title). */
  skip?: { reason: string; tests: string[] }[]
  /**
   * Overwrites one stored value with raw bytes, bypassing any guard or check, to simulate corruption.
   * Default: `adapter.commit(thread, { put: [[key, bytes]] })` without a guard.
   */
  corrupt?: (adapter: StorageAdapter, thread: string, key: string, bytes: Uint8Array) => Promise<void>
  /**
   * A fresh, empty adapter that refuses commits with `QUOTA_EXCEEDED` once it would hold more than about
   * `quotaBytes` (keys + values, all threads; a few hundred bytes of overhead either way is fine). Adapters that
   * cannot be given a quota in a test leave it out and their quota tests are skipped, saying so.
   */
  createWithQuota?: (quotaBytes: number) => StorageAdapter | Promise<StorageAdapter>
  /**
   * At most how many cases each fast-check property of the suite runs, for backends where every storage call is
   * slow (a real server over HTTP). Default: each property's own count (50 to 100 for the random histories).
   */
  propertyRuns?: number
}

/** The quota the quota tests ask `createWithQuota` for: 64 KiB of keys and values, all threads together. */
export const QUOTA = 64 * 1024

/** The number of cases a property runs: its own count, capped by the adapter's `propertyRuns`. */
export const runsOf = (options: ConformanceOptions, own: number): number => Math.min(own, options.propertyRuns ?? own)

/**
 * The suite's `it`: honours named skips, and refuses duplicate titles (a skip must name exactly one test).
 * `unavailable` skips the test with that reason when the adapter's test file gave no way to run it.
 */
export type Test = (title: string, fn: () => Promise<void>, timeout?: number, unavailable?: string) => void

export function namedTests(options: ConformanceOptions): { test: Test; unusedSkips: () => string[] } {
  const reasons = new Map<string, string>()
  for (const group of options.skip ?? []) for (const title of group.tests) reasons.set(title, group.reason)
  const titles = new Set<string>()
  const test: Test = (title, fn, timeout, unavailable) => {
    if (titles.has(title)) throw new Error(`conformance suite: duplicate test title "${title}"`)
    titles.add(title)
    const reason = reasons.get(title) ?? unavailable
    if (reason === undefined) it(title, fn, timeout)
    else it.skip(`${title} [skipped for ${options.name}: ${reason}]`, fn)
  }
  return { test, unusedSkips: () => [...reasons.keys()].filter((t) => !titles.has(t)) }
}

/**
 * `test` when the adapter's test file gives `option`; otherwise each test is skipped, with the option it needs
 * in its title (an adapter that cannot be given a quota, say, skips the quota tests by name).
 */
export function needing(options: ConformanceOptions, test: Test, option: 'createWithQuota'): Test {
  if (options[option] !== undefined) return test
  return (title, fn, timeout) => test(title, fn, timeout, `its test file passes no ${option}`)
}

/**
 * The same store seen by a writer that does not take the adapter's thread lock (another library, an older
 * app version): the head guard alone must stop it.
 */
export function withoutLock(adapter: StorageAdapter): StorageAdapter {
  return over(adapter, {})
}

/**
 * Resolves with the first `Date.now()` reading later than `ms`, yielding to the event loop between readings (in
 * workerd the clock only moves between events). Storage stamps a commit with its own clock, so a commit begun
 * after this resolves is stamped later than anything stamped at or before `ms`: no fixed sleep needed.
 */
export async function clockPast(ms: number): Promise<number> {
  for (;;) {
    const now = Date.now()
    if (now > ms) return now
    await new Promise((resolve) => setTimeout(resolve, 0))
  }
}

/**
 * A value with every Map and Set turned into `{ $map: [[key, value], ...] }` / `{ $set: [...] }` in iteration
 * order, recursively, for comparisons: vitest's `toEqual` ignores the order of Map entries and Set items, and
 * state must read back in the order it was written.
 */
export function ordered(value: unknown): unknown {
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [ordered(k), ordered(v)]) }
  if (value instanceof Set) return { $set: [...value].map(ordered) }
  if (Array.isArray(value)) return value.map(ordered)
  if (value === null || typeof value !== 'object') return value
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value // Date, Uint8Array: compared as they are
  const out = Object.create(proto) as Record<string, unknown>
  // defineProperty, so a key named "__proto__" stays an own key.
  for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: ordered(v), enumerable: true, writable: true, configurable: true })
  return out
}

/** `n` bytes that no backend can compress much: a fixed pseudo-random sequence (xorshift32) per `seed`. */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

/** Every key of a thread with its bytes (as hex, for readable diffs), in scan order. */
export async function dump(adapter: StorageAdapter, thread: string): Promise<[string, string][]> {
  const out: [string, string][] = []
  for await (const [key, value] of adapter.scan(thread)) out.push([key, hex(value)])
  return out
}

/** Keys of a thread, in scan order. */
export async function keysOf(adapter: StorageAdapter, thread: string, range: Parameters<StorageAdapter['scan']>[1] = {}): Promise<string[]> {
  const out: string[] = []
  for await (const [key] of adapter.scan(thread, range)) out.push(key)
  return out
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Awaits `promise`, which must reject with an EdgegraphError of `code`, and returns that error. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode | ErrorCode[]): Promise<EdgegraphError> {
  let error: unknown
  try {
    await promise
  } catch (err) {
    error = err
  }
  const codes: unknown[] = Array.isArray(code) ? code : [code]
  const e = error as { name?: unknown; code?: unknown; message?: unknown } | undefined
  const seen = { name: e?.name, code: e?.code, message: e?.message }
  expect(error instanceof EdgegraphError && codes.includes(seen.code), `expected EdgegraphError ${codes.join(' or ')}, got ${JSON.stringify(seen)}`).toBe(true)
  return error as EdgegraphError
}

/** A promise the test opens when it likes, and a signal that code reached the point where it waits. */
export function gate(): { wait: () => Promise<void>; reached: Promise<void>; open: () => void } {
  let open!: () => void
  let arrive!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  const reached = new Promise<void>((resolve) => (arrive = resolve))
  return {
    wait: () => {
      arrive()
      return opened
    },
    reached,
    open,
  }
}

/** A checkpoint as the engine announced it while running (in memory, before any read back from storage). */
export interface Announced {
  id: string
  parentId: string | undefined
  next: string[]
  metadata: CheckpointMetadata
  values: Record<string, unknown>
}

/** Anything with `stream`, typed loosely so one helper serves graphs of every state shape. */
interface Streamable {
  stream(input: never, config: never): AsyncIterable<unknown>
}

/**
 * Runs a graph through `stream(..., { streamMode: ['debug', 'values'] })` and returns the checkpoints it
 * committed, each with the state the run held when it committed it, plus the error the run ended with.
 */
export async function recordRun(graph: Streamable, input: unknown, config: { threadId: string; checkpointId?: string }): Promise<{ created: Announced[]; error: unknown }> {
  const created: Announced[] = []
  let values: Record<string, unknown> = {}
  try {
    const modes: StreamMode[] = ['debug', 'values']
    for await (const chunk of graph.stream(input as never, { ...config, streamMode: modes } as never)) {
      const [mode, payload] = chunk as [StreamMode, Record<string, unknown>]
      if (mode === 'values') values = payload
      else if (mode === 'debug' && payload.type === 'checkpoint') {
        const p = payload.payload as { checkpointId: string; parentId: string | undefined; next: string[]; metadata: CheckpointMetadata }
        created.push({ id: p.checkpointId, parentId: p.parentId, next: p.next, metadata: p.metadata, values })
      }
    }
  } catch (error) {
    return { created, error }
  }
  return { created, error: undefined }
}
