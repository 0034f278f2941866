/** @module The stored form of pending writes: what the finished tasks of an unfinished step left behind. */
import type { PendingTask, Usage } from './model.js'
import { decodeTask, encodeTask, type StoredTask } from './record.js'
import { decodeValue, encodeValue, type Encoded } from './serde.js'

interface PendingJson {
  n: string
  w?: [string, Encoded][]
  g?: StoredTask[]
  i?: Encoded[]
  r?: Encoded[]
  e?: { name: string; message: string }
  u?: Usage
  x?: [string, Encoded][]
  v?: number
}

/** Serializes the pending writes of one task, by code of state `version`. Validates every value (throws `UNSERIALIZABLE`). */
export function encodePending(task: PendingTask, version = 1): string {
  const out: PendingJson = { n: task.node }
  if (task.writes) out.w = task.writes.map(([ch, v]) => [ch, encodeValue(v, { channel: ch, path: [] })])
  if (task.goto) out.g = task.goto.map(encodeTask)
  if (task.interrupts) out.i = task.interrupts.map((v) => encodeValue(v, { channel: `interrupt(${task.node})`, path: [] }))
  if (task.resume) out.r = task.resume.map((v) => encodeValue(v, { channel: `resume(${task.node})`, path: [] }))
  if (task.error) out.e = task.error
  if (task.usage) out.u = task.usage
  if (task.effects) out.x = task.effects.map(([name, v]) => [name, encodeValue(v, { channel: `effect(${name})`, path: [] })])
  if (version > 1) out.v = version
  return JSON.stringify(out)
}

export function decodePending(index: number, text: string): PendingTask {
  const raw = JSON.parse(text) as PendingJson
  if (raw === null || typeof raw !== 'object' || typeof raw.n !== 'string') throw new Error('pending write without a node name')
  const task: PendingTask = { index, node: raw.n }
  if (raw.w) task.writes = raw.w.map(([ch, v]) => [ch, decodeValue(v)])
  if (raw.g) task.goto = raw.g.map(decodeTask)
  if (raw.i) task.interrupts = raw.i.map(decodeValue)
  if (raw.r) task.resume = raw.r.map(decodeValue)
  if (raw.e) task.error = raw.e
  if (raw.u) task.usage = raw.u
  if (raw.x) task.effects = raw.x.map(([name, v]) => [name, decodeValue(v)])
  if (raw.v) task.version = raw.v
  return task
}
