/** Shared graph builders for the engine tests. */
import { ChunkedStorage } from '../src/checkpoint/storage.js'
import { END, START, StateGraph, type CompileOptions, type StorageAdapter } from '../src/index.js'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'

export const appendList = { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] }

/** The README's counter: increment until `count >= until`. */
export function counter(store: MemoryAdapter = createMemoryAdapter(), until = 5, options: Omit<CompileOptions<'increment'>, 'checkpointer'> = {}) {
  return new StateGraph({ count: { default: () => 0 } })
    .addNode('increment', (s) => ({ count: s.count + 1 }))
    .addEdge(START, 'increment')
    .addConditionalEdges('increment', (s) => (s.count >= until ? END : 'increment'))
    .compile({ checkpointer: store, ...options })
}

/** START → inc → END: a count and a log, so every run adds a checkpoint and grows the log by delta. */
export function logCounter(checkpointer: StorageAdapter) {
  return new StateGraph({ count: { default: () => 0 }, log: appendList })
    .addNode('inc', (s) => ({ count: s.count + 1, log: [`inc ${s.count}`] }))
    .addEdge(START, 'inc')
    .addEdge('inc', END)
    .compile({ checkpointer })
}

/** START → say → ... → END: each step appends `item(n)` to `log` (n: its length so far) until it holds `until` items. */
export function logChat(checkpointer: NonNullable<CompileOptions<'say'>['checkpointer']>, until: number, item: (n: number) => string) {
  return new StateGraph({ log: appendList })
    .addNode('say', (s) => ({ log: [item(s.log.length)] }))
    .addEdge(START, 'say')
    .addConditionalEdges('say', (s) => (s.log.length >= until ? END : 'say'))
    .compile({ checkpointer })
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Expects a promise to reject with an EdgegraphError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error & { code: string; context: Record<string, string> }> {
  try {
    await promise
  } catch (err) {
    const e = err as Error & { code: string; context: Record<string, string> }
    if (e.name !== 'EdgegraphError' || e.code !== code) throw new Error(`expected EdgegraphError ${code}, got ${e.name} ${e.code ?? ''}: ${e.message}`)
    return e
  }
  throw new Error(`expected EdgegraphError ${code}, but it resolved`)
}

/** A deferred promise a test can resolve later. */
export function deferred<T = void>() {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** The text of a value as the history layer stores it: its checksum (`$` or `!` and 4 bytes) stripped; a head's `<hex>!` too. */
export function storedText(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes[0] === 0x24 || bytes[0] === 0x21 ? bytes.subarray(5) : bytes)
  return /^[0-9a-f]{8}![0-9a-z]+$/.test(text) ? text.slice(9) : text
}

/** The text of a value as the history layer reads it: checked, joined from its chunks, inflated when compressed. */
export async function readStored(store: StorageAdapter, thread: string, key: string, raw?: Uint8Array): Promise<string> {
  const bytes = raw ?? ((await store.get(thread, [key]))[0] as Uint8Array)
  return new ChunkedStorage(store).text(thread, key, bytes)
}

/** The bytes the history layer stores for `text` (with its checksum), to write a hand-made record. */
export function storedBytes(text: string): Uint8Array {
  return (new ChunkedStorage(createMemoryAdapter()).puts('c/x', text)[0] as [string, Uint8Array])[1]
}

export { over } from './conformance/suite.js'
