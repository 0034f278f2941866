/**
 * @module How checkpoints travel over HTTP between `workerRemote` and the Worker's sync routes: each record and
 * pending write embedded as the JSON it already is (no base64, no string escaping), so the bytes sent stay close to
 * the bytes stored.
 *
 *   [[id, record | null, [[task, pending], ...]], ...]
 */
import { isCheckpointId } from '../checkpoint/ids.js'
import type { ExportedCheckpoint, Marks } from '../checkpoint/exchange.js'

/** The JSON text of a list of checkpoints. */
export function encodeCheckpoints(items: ExportedCheckpoint[]): string {
  return `[${items.map((c) => `[${JSON.stringify(c.id)},${c.text ?? 'null'},[${(c.pending ?? []).map(([task, text]) => `[${JSON.stringify(task)},${text}]`).join(',')}]]`).join(',')}]`
}

/** Checkpoints from their parsed wire form. Throws a plain Error saying what is malformed. */
export function decodeCheckpoints(raw: unknown): ExportedCheckpoint[] {
  if (!Array.isArray(raw)) throw new Error('checkpoints must be a list')
  return raw.map((entry: unknown, i) => {
    if (!Array.isArray(entry) || entry.length !== 3) throw new Error(`checkpoint ${i} must be [id, record, pending]`)
    const [id, record, pending] = entry as [unknown, unknown, unknown]
    if (!isCheckpointId(id)) throw new Error(`checkpoint ${i} has no valid id`)
    if (record !== null && (typeof record !== 'object' || Array.isArray(record))) throw new Error(`checkpoint ${id}: the record must be an object or null`)
    if (!Array.isArray(pending)) throw new Error(`checkpoint ${id}: pending writes must be a list`)
    const out: ExportedCheckpoint = { id }
    if (record !== null) out.text = JSON.stringify(record)
    if (pending.length > 0) {
      out.pending = pending.map((p: unknown) => {
        if (!Array.isArray(p) || typeof p[0] !== 'string' || p[1] === null || typeof p[1] !== 'object') throw new Error(`checkpoint ${id}: a pending write must be [task, object]`)
        return [p[0], JSON.stringify(p[1])] as [string, string]
      })
    }
    return out
  })
}

/** Marks from their parsed wire form (undefined stays undefined). Throws a plain Error when malformed. */
export function decodeMarks(raw: unknown): Marks | undefined {
  if (raw === undefined || raw === null) return undefined
  const m = raw as Record<string, unknown>
  const optString = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.length <= 64)
  if (typeof m !== 'object' || Array.isArray(m) || !optString(m.head) || !optString(m.rev)) throw new Error('marks must be { head?, rev?, pending? } with string ids')
  if (m.head != null && !isCheckpointId(m.head)) throw new Error('marks.head is not a checkpoint id')
  if (m.pending != null && (!Array.isArray(m.pending) || m.pending.length > 1000 || !m.pending.every((p) => typeof p === 'string' && p.length <= 64))) throw new Error('marks.pending must be a list of strings')
  return {
    head: (m.head ?? undefined) as string | undefined,
    rev: (m.rev ?? undefined) as string | undefined,
    pending: (m.pending ?? undefined) as string[] | undefined,
  }
}
