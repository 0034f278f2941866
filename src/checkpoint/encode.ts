/**
 * @module Writing a checkpoint as a record: each channel diffed against the parent checkpoint, and the cost-based
 * snapshot policy deciding when a record holds the full state instead.
 */
import { EdgegraphError } from '../errors.js'
import { diff, fullDelta, type Delta } from './delta.js'
import { addUsage, makeCheckpoint, type Checkpoint, type NewCheckpoint } from './model.js'
import { encodeRecord, type RecordParts } from './record.js'

/** Rough size of a record's fields besides its channel values, for the snapshot decision. */
const HEADER_ESTIMATE = 64

/**
 * Encodes checkpoint `id` after `parent` as its record's text, and the parts a pack of it is made of (see
 * `RecordParts`). Synchronous, so the values are captured at the step boundary, and validating: an unserializable
 * value throws here, before anything is written.
 * `snapshotFactor`: store the full state once rebuilding it would read more than that × its size in records.
 * `version`: the state version written; after a parent of another version the record is a full snapshot, so every
 * delta chain stays within one version and old records rebuild before their values are migrated.
 */
export function encodeCheckpoint(threadId: string, id: string, parent: Checkpoint | undefined, input: NewCheckpoint, { snapshotFactor, version }: { snapshotFactor: number; version: number }): { checkpoint: Checkpoint; text: string; parts: RecordParts | undefined } {
  const prev = parent?.version === version ? parent : undefined
  const sizes: Record<string, number> = { ...prev?.sizes }
  const deltas: [channel: string, json: string][] = []
  let deltaBytes = 0
  const shapes: Record<string, number> = {}
  for (const channel of Object.keys(input.values)) {
    const next = input.values[channel]
    shapes[channel] = shapeOf(next)
    // Unchanged identity is how unchanged values are skipped, so a value grown in place would lose writes.
    if (parent?.shapes && parent.values[channel] === next && parent.shapes[channel] !== shapes[channel]) {
      throw new EdgegraphError(
        'INVALID_UPDATE',
        `Channel "${channel}" of thread "${threadId}" was changed in place, which cannot be stored: nodes and reducers must return new values, e.g. [...current, ...update].`,
        { context: { threadId, checkpointId: parent.id, channel } },
      )
    }
    const where = { channel, path: [] }
    const d = prev && Object.hasOwn(prev.values, channel) ? diff(prev.values[channel], next, where) : fullDelta(next, where)
    if (d === undefined) continue
    const json = JSON.stringify(d)
    deltas.push([channel, json])
    deltaBytes += json.length
    sizes[channel] = estimateSize(sizes[channel], prev?.values[channel], d, json.length)
  }
  let stateBytes = 0
  for (const channel in sizes) stateBytes += sizes[channel] as number
  // Decided before encoding so each record is encoded once: when rebuilding this checkpoint would read more than
  // `snapshotFactor` × its size, store it in full and start the chain over.
  const base = !prev || prev.chainBytes + deltaBytes + HEADER_ESTIMATE > snapshotFactor * stateBytes
  let stored = deltas
  if (base && prev) {
    // The snapshot reuses the channels diffed in full (`{"f":...}`).
    const full = new Map(deltas.filter(([, json]) => json.startsWith('{"f"')))
    stored = Object.keys(input.values).map((channel) => {
      const json = full.get(channel) ?? fullJson(input.values, channel)
      sizes[channel] = json.length - 6
      return [channel, json]
    })
  }
  const usageTotal = addUsage(parent?.usageTotal, input.usage)
  // Fields listed, not `...input` spread: spreading the run's object made every step measurably slower.
  const { text, parts } = encodeRecord({
    parentId: parent?.id,
    step: input.step,
    base,
    version,
    source: input.source,
    next: input.next,
    deltas: stored,
    writes: input.writes,
    durationUs: input.durationUs,
    usage: input.usage,
    interrupts: input.interrupts,
    metadata: input.metadata,
    waiting: input.waiting,
    // The branch total is stored where it changes, and on snapshots so a rebuild never walks past one.
    usageTotal: input.usage || base ? usageTotal : undefined,
  })
  const checkpoint = makeCheckpoint(threadId, id, parent?.id, input.step, input, input.values, usageTotal, {
    chainBytes: (base ? 0 : (parent?.chainBytes ?? 0)) + text.length,
    looseChain: (base ? 0 : (parent?.looseChain ?? 0)) + 1,
    sizes,
    version,
  })
  checkpoint.shapes = shapes
  // The parts are for packing, so only when a pack may follow: a delta, or a thread's first record. A snapshot after a
  // parent has none: a thread that stores a snapshot every step (its loose chain never grows) never packs.
  return { checkpoint, text, parts: base && prev ? undefined : parts }
}

/** A checkpoint as a full-snapshot record: every channel value in full, every other field as it was. */
export function snapshotText(c: Checkpoint): string {
  return encodeRecord({ ...c, base: true, deltas: Object.keys(c.values).map((channel) => [channel, fullJson(c.values, channel)]) }).text
}

function fullJson(values: Record<string, unknown>, channel: string): string {
  return JSON.stringify(fullDelta(values[channel], { channel, path: [] }))
}

/** Container sizes (array length, key count) of each channel's value, to catch values later changed in place. */
export function shapesOf(values: Record<string, unknown>): Record<string, number> {
  const shapes: Record<string, number> = {}
  for (const channel of Object.keys(values)) shapes[channel] = shapeOf(values[channel])
  return shapes
}

/** A cheap fingerprint of a container's size (array length, key count), -1 for anything else. */
function shapeOf(value: unknown): number {
  if (Array.isArray(value)) return value.length
  if (value instanceof Map || value instanceof Set) return value.size
  if (value !== null && typeof value === 'object' && !(value instanceof Date) && !(value instanceof Uint8Array)) return Object.keys(value).length
  return -1
}

/**
 * Estimated stored size of a channel's full value after a delta. Estimates err low for object deltas
 * (a changed key may replace an old value of the same size), which only makes snapshots come sooner.
 */
export function estimateSize(prevSize: number | undefined, prev: unknown, d: Delta, jsonLength: number): number {
  if ('f' in d) return Math.max(0, jsonLength - 6)
  if ('a' in d) {
    const kept = d.t === undefined || !Array.isArray(prev) || prev.length === 0 ? (prevSize ?? 0) : ((prevSize ?? 0) * d.t) / prev.length
    return kept + jsonLength
  }
  return prevSize ?? jsonLength
}
