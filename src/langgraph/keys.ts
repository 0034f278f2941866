/**
 * @module The LangGraph bridge's storage layout: the one place that builds and parses its thread names and keys.
 *
 * A LangGraph thread is the adapter thread `.langgraph/<thread>`, so `deleteThread` is the adapter's, `list()` over
 * every thread is one `threads({ prefix })`, and edgegraph's own threads and stores (`.store/...`) never meet it.
 * `<thread>` keeps ASCII letters, digits and `-`, and writes every other ASCII character as `_XX` and every other UTF-16
 * code unit as `_uXXXX`, so any thread id (lone surrogates too) becomes its own name, one every adapter takes (the
 * Worker's `[A-Za-z0-9._:/-]`, no `.` or `..` part).
 *
 *   c/<ns>!<id>                checkpoint record: parent id, snapshot flag, delta against the parent (or the full doc)
 *   w/<ns>!<id>!<task>!<idx>   one pending write (`putWrites`) of task <task> against checkpoint <id>
 *   k/<key>/<n>                chunk n of a value above the adapter's limit (ChunkedStorage)
 *
 * `<ns>`, `<id>` and `<task>` are encoded as the store encodes its labels (UTF-8 bytes, printable ASCII, byte order
 * kept, never `!` or `"`), so `c/<ns>!` .. `c/<ns>"` is one namespace in checkpoint-id order and a `before` bound is
 * a key.
 */
import { decodePart, encodePart } from '../store/keys.js'

/** Every bridge thread's adapter thread starts with this. */
export const THREAD_PREFIX = '.langgraph/'

/** The adapter thread holding LangGraph thread `threadId`. */
export function threadName(threadId: string): string {
  let out = THREAD_PREFIX
  for (let i = 0; i < threadId.length; i++) {
    const c = threadId.charCodeAt(i)
    const plain = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d
    out += plain ? threadId[i] : c < 0x80 ? `_${hex(c, 2)}` : `_u${hex(c, 4)}`
  }
  return out
}

/** The LangGraph thread id of an adapter thread, or undefined for a thread the bridge cannot have named. */
export function threadIdOf(name: string): string | undefined {
  if (!name.startsWith(THREAD_PREFIX)) return undefined
  const text = name.slice(THREAD_PREFIX.length)
  let out = ''
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '_') {
      out += text[i]
      continue
    }
    const wide = text[i + 1] === 'u'
    const digits = wide ? text.slice(i + 2, i + 6) : text.slice(i + 1, i + 3)
    if (!(wide ? /^[0-9A-F]{4}$/ : /^[0-9A-F]{2}$/).test(digits)) return undefined
    out += String.fromCharCode(Number.parseInt(digits, 16))
    i += wide ? 5 : 2
  }
  return out
}

const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0')

/** The record of checkpoint `id` in namespace `ns`. */
export const recordKey = (ns: string, id: string): string => `c/${encodePart(ns)}!${encodePart(id)}`

/** Every record of namespace `ns`, or (`before`) those of ids below it. */
export const recordRange = (ns: string, before?: string): { from: string; to: string } => ({
  from: `c/${encodePart(ns)}!`,
  to: before === undefined ? `c/${encodePart(ns)}"` : recordKey(ns, before),
})

/** Every record of the thread, namespace by namespace. */
export const ALL_RECORDS = { from: 'c/', to: 'c0' } as const

/** The records after namespace `ns` (to find the next namespace). */
export const recordsAfter = (ns: string): { from: string; to: string } => ({ from: `c/${encodePart(ns)}"`, to: ALL_RECORDS.to })

/** The namespace and checkpoint id of a record key; throws a plain Error on a key the bridge cannot have written. */
export function parseRecordKey(key: string): { ns: string; id: string } {
  const parts = key.slice(2).split('!')
  if (!key.startsWith('c/') || parts.length !== 2) throw new Error(`not a checkpoint record key: "${key}"`)
  return { ns: decodePart(parts[0] as string), id: decodePart(parts[1] as string) }
}

/** Pending write `idx` of task `task` against checkpoint `id`. */
export const writeKey = (ns: string, id: string, task: string, idx: number): string => `w/${encodePart(ns)}!${encodePart(id)}!${encodePart(task)}!${idx}`

/** The pending writes against checkpoint `id`, or only task `task`'s. */
export function writesRange(ns: string, id: string, task?: string): { from: string; to: string } {
  const p = `w/${encodePart(ns)}!${encodePart(id)}!${task === undefined ? '' : `${encodePart(task)}!`}`
  return { from: p, to: `${p.slice(0, -1)}"` }
}

/** The pending writes of namespace `ns`, or (`before`) those against checkpoints below it. */
export const nsWritesRange = (ns: string, before?: string): { from: string; to: string } => ({
  from: `w/${encodePart(ns)}!`,
  to: before === undefined ? `w/${encodePart(ns)}"` : `w/${encodePart(ns)}!${encodePart(before)}!`,
})

/** The checkpoint id, task id and index of a pending-write key; throws a plain Error on a key the bridge cannot have written. */
export function parseWriteKey(key: string): { id: string; task: string; idx: number } {
  const parts = key.slice(2).split('!')
  const idx = Number(parts[3])
  if (!key.startsWith('w/') || parts.length !== 4 || !Number.isInteger(idx)) throw new Error(`not a pending-write key: "${key}"`)
  return { id: decodePart(parts[1] as string), task: decodePart(parts[2] as string), idx }
}

/** The encoded checkpoint id of a pending-write key (compared with {@link encodedId}, without decoding). */
export const writeKeyId = (key: string): string => key.slice(2).split('!')[1] ?? ''

/** A checkpoint id as it appears in keys (its order is the keys' order). */
export const encodedId = (id: string): string => encodePart(id)
