/**
 * @module Packing: a long chain without snapshots (a chat) is read in a few values instead of one per step, by
 * moving the oldest loose records of a thread, verbatim, into one pack value, compressed when that pays.
 */
import { CHECKPOINT_RANGE, idOfKey, packKey } from './keys.js'
import { readRecord } from './read.js'
import { encodePack, type RecordParts } from './record.js'
import type { Guard } from './adapter.js'
import { storedKeys, type ChunkedStorage } from './storage.js'

/**
 * Moves the oldest `packSize` loose checkpoint records of a thread into one pack value, in one commit guarded by the
 * oldest record as it was read: another packer, or a prune, that took it meanwhile makes this fail with CONFLICT,
 * harmlessly. Steps committed meanwhile do not: a pack changes no checkpoint, so it need not wait for the head.
 * Records this storage wrote are taken from its memory, in parts ({@link ChunkedStorage.recall}), others read and checked.
 * Returns how many records were packed (0 when there were too few).
 */
export async function packOldest(storage: ChunkedStorage, threadId: string, packSize: number): Promise<number> {
  const entries: [string, string | RecordParts][] = []
  const del: string[] = []
  let guard: Guard | undefined
  for await (const [key, raw] of storage.scan(threadId, { ...CHECKPOINT_RANGE, limit: packSize })) {
    guard ??= { key, expect: raw }
    let record: string | RecordParts | undefined = storage.recall(key, raw)
    if (!record) {
      record = await storage.text(threadId, key, raw)
      readRecord(threadId, idOfKey(key), record) // never pack a record that cannot be read back
    }
    entries.push([idOfKey(key), record])
    del.push(...storedKeys(key, raw))
  }
  if (entries.length < packSize || !guard) return 0
  const oldest = (entries[0] as [string, string])[0]
  await storage.commit(threadId, { put: await storage.compressedPuts(packKey(oldest), encodePack(entries)), del }, guard)
  return entries.length
}
