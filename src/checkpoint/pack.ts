/**
 * @module Packing: a long chain without snapshots (a chat) is read in a few values instead of one per step, by
 * moving the oldest loose records of a thread, verbatim, into one pack value, compressed when that pays.
 */
import { CHECKPOINT_RANGE, idOfKey, packKey } from './keys.js'
import { readRecord } from './read.js'
import { encodePack } from './record.js'
import { headGuard, storedKeys, type ChunkedStorage } from './storage.js'

/**
 * Moves the oldest `packSize` loose checkpoint records of a thread into one pack value, in one commit guarded by
 * the head (a writer that moved the thread meanwhile makes it fail with CONFLICT, harmlessly).
 * Returns how many records were packed (0 when there were too few).
 */
export async function packOldest(storage: ChunkedStorage, threadId: string, expectHead: string, packSize: number): Promise<number> {
  const entries: [string, string][] = []
  const del: string[] = []
  for await (const [key, raw] of storage.scan(threadId, { ...CHECKPOINT_RANGE, limit: packSize })) {
    const text = await storage.text(threadId, key, raw)
    readRecord(threadId, idOfKey(key), text) // never pack a record that cannot be read back
    entries.push([idOfKey(key), text])
    del.push(...storedKeys(key, raw))
  }
  if (entries.length < packSize) return 0
  const oldest = (entries[0] as [string, string])[0]
  await storage.commit(threadId, { put: await storage.compressedPuts(threadId, packKey(oldest), encodePack(entries)), del }, headGuard(expectHead))
  return entries.length
}
