/**
 * @module The key layout inside a thread: the one place that builds and parses storage keys.
 *
 *   h                 head: id of the newest checkpoint (the compare-and-set guard of every commit)
 *   c/<id>            checkpoint record: parent, step, next tasks, channel deltas, metadata
 *   w/<id>/<task>     pending writes of one task of the step after checkpoint <id> (failed or interrupted step),
 *                     and its `ctx.effect()` results, stored while it runs; deleted when that step commits
 *   a/<id>            pack: the records of a run of old checkpoints, oldest <id>, moved here verbatim so a
 *                     long history is read in a few values instead of one per step. Before the records in key order:
 *                     a pack is large and cold, the head and the newest records are small and written every step,
 *                     and in an ordered store (SQLite's b-tree: Durable Objects, D1, Node) neighbours share a page.
 *                     SQLite compares a key with a row whose value overflows its page by reading the whole value, so
 *                     packs beside the head (`p/`, after `h`) cost every step ~20 µs there.
 *   p/<id>            pack, as earlier versions stored it: read as before (every one is older than every `a/` pack), and a
 *                     pack rewritten there (retention, sync) stays there, so that order holds
 *   k/<key>/<n>       chunk n of a value too large for the adapter (the value at <key> is then `#<count>`)
 */

export const HEAD_KEY = 'h'
export const checkpointKey = (id: string): string => `c/${id}`
/** Pending writes of task `task` of the step after checkpoint `id`; task -1 holds writes of the input (`-in`). */
export const pendingKey = (id: string, task: number): string => `w/${id}/${task < 0 ? '-in' : String(task).padStart(3, '0')}`
/** The key of a pack whose oldest record is `firstId`: `a/`, or `p/` when it replaces the legacy pack at `like`. */
export const packKey = (firstId: string, like?: string): string => `${like?.[0] === 'p' ? 'p' : 'a'}/${firstId}`
/** Whether `key` is a pack (`a/` or legacy `p/`). */
export const isPackKey = (key: string): boolean => key.startsWith('a/') || key.startsWith('p/')
export const chunkKeys = (key: string, count: number): string[] => Array.from({ length: count }, (_, i) => `k/${key}/${String(i).padStart(4, '0')}`)

// '0' sorts right after '/', '~' after every id character.
export const CHECKPOINT_RANGE = { from: 'c/', to: 'c0' } as const
/** Where packs are, newest first: every `a/` pack holds records newer than every legacy `p/` one. */
export const PACK_PREFIXES = ['a/', 'p/'] as const
export const PENDING_RANGE = { from: 'w/', to: 'w0' } as const
/** The pending writes of the step after checkpoint `id`. */
export const pendingRange = (id: string): { from: string; to: string } => ({ from: `w/${id}/`, to: `w/${id}/~` })

/**
 * The checkpoint id a key belongs to: the record `c/<id>`, the pack `p/<id>` (its oldest), the pending writes
 * `w/<id>/<task>`, or a chunk of any of them.
 */
export function idOfKey(key: string): string {
  const own = key.startsWith('k/') ? key.slice(2) : key
  return own.split('/')[1] ?? own
}

/** The task index of a pending-writes key `w/<id>/<task>`. */
export function taskOfKey(key: string): number {
  const task = key.slice(key.lastIndexOf('/') + 1)
  return task === '-in' ? -1 : Number(task)
}
