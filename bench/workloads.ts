/** Benchmark workloads shared by both engines: the counter loop and the 500-byte chat loop, and their checks. */

export type Workload = 'counter' | 'chat'
export const WORKLOADS: readonly Workload[] = ['counter', 'chat']

/** Bytes per chat message. */
export const MESSAGE_BYTES = 500

/** mulberry32: a tiny seeded PRNG, so every run and both engines see the same messages. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `count` messages of random printable ASCII (0x20–0x7E, one byte each in UTF-8), generated up front.
 * Random text keeps any compression in a store from flattering its byte count.
 */
export function makeMessages(count: number, seed = 42): string[] {
  const next = prng(seed)
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    let s = ''
    for (let j = 0; j < MESSAGE_BYTES; j++) s += String.fromCharCode(0x20 + Math.floor(next() * 95))
    out.push(s)
  }
  return out
}

/**
 * What the workload's state is worth in raw bytes, to compare stored bytes against.
 * chat: the message text (n × 500). counter: the JSON of the final state (`{"count":n}`), since the
 * counter has no payload beyond its state; its ratio is not meaningful and the report does not show it.
 */
export function payloadBytes(workload: Workload, n: number): number {
  return workload === 'chat' ? n * MESSAGE_BYTES : Buffer.byteLength(JSON.stringify({ count: n }))
}

/** Throws unless `values` is the correct final state of `workload` after `n` steps. */
export function checkFinal(workload: Workload, n: number, messages: readonly string[], values: Record<string, unknown>, where: string): void {
  if (workload === 'counter') {
    if (values['count'] !== n) throw new Error(`${where}: expected count ${n}, got ${JSON.stringify(values['count'])}`)
    return
  }
  const got = values['messages']
  if (!Array.isArray(got) || got.length !== n) throw new Error(`${where}: expected ${n} messages, got ${Array.isArray(got) ? got.length : typeof got}`)
  for (let i = 0; i < n; i++) if (got[i] !== messages[i]) throw new Error(`${where}: message ${i} differs from what was sent`)
}

/** How far a state has got: the counter's count or the number of messages (-1 when absent, e.g. LangGraph's input checkpoint). */
export function progress(workload: Workload, values: Record<string, unknown>): number {
  const v = workload === 'counter' ? values['count'] : (values['messages'] as unknown[] | undefined)?.length
  return typeof v === 'number' ? v : -1
}

/** Throws unless a history (newest first) starts at step n and holds a checkpoint for every step back to 0. */
export function checkHistory(n: number, seen: readonly number[], where: string): void {
  if (seen[0] !== n) throw new Error(`${where}: newest checkpoint has progress ${seen[0]}, expected ${n}`)
  const have = new Set(seen)
  for (let i = 0; i <= n; i++) if (!have.has(i)) throw new Error(`${where}: no checkpoint with progress ${i}`)
}

/** What a browser page measures of one timed run, for either engine. */
export interface BrowserRunSample {
  usPerStep: number
  usPerStepMean: number
  runMs: number
  bytesStored: number
  getStateMs: number
  historyMs: number
  checkpoints: number
  jsHeapMb: number
}

/** The browser benchmarks' median: the upper middle value of the sorted samples. */
export const upperMedian = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN

/**
 * What a browser page reports of a timed run: per-step time from the timestamps taken at each node call (ms),
 * as the median and mean gap in µs, and Chromium's used JS heap in MB (NaN where the browser does not say).
 */
export function stepSample(stamps: readonly number[]): { usPerStep: number; usPerStepMean: number; jsHeapMb: number } {
  const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory
  return {
    usPerStep: upperMedian(gaps),
    usPerStepMean: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length),
    jsHeapMb: (memory?.usedJSHeapSize ?? Number.NaN) / 2 ** 20,
  }
}
