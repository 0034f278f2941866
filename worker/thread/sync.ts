/** @module The sync side of a thread object: what `workerRemote` (`edgegraph/sync`) asks of the thread's history. */
/*
 * The same operations as a device's local store (`historyPeer`), run next to the thread's storage, so checkpoints made
 * by runs in the Worker come back to devices, and pushes are serialized with runs (409 THREAD_BUSY while one goes on;
 * the device's background sync retries).
 */
import { historyPeer, type ExportedCheckpoint, type Marks } from '../../src/sync/peer.js'
import { encodeCheckpoints } from '../../src/sync/wire.js'
import { isEdgegraphError } from '../../src/errors.js'
import { ApiError } from '../http.js'
import { META, type ThreadMeta, type ThreadState } from './state.js'
import { claim } from './runs.js'

/** Marks and changes since `since`, as the JSON text the route answers (records embedded as they are stored). */
export async function syncPull(t: ThreadState, thread: string, since: Marks | undefined): Promise<string> {
  const { marks, changes, full } = await historyPeer(t.adapter).pull(thread, since)
  return `{"marks":${JSON.stringify(marks)}${changes === undefined ? '' : `,"changes":${encodeCheckpoints(changes)},"full":${full === true}`}}`
}

export async function syncHas(t: ThreadState, thread: string, ids: string[]): Promise<{ ids: string[] }> {
  return { ids: await historyPeer(t.adapter).has(thread, ids) }
}

/**
 * Stores checkpoints a device made. `graph` names the registered graph the device runs, recorded for a thread that
 * has none yet, so the run API can show and continue it.
 */
export function syncPush(t: ThreadState, thread: string, checkpoints: ExportedCheckpoint[], graph: string | undefined): Promise<{ added: number; rev?: string | undefined; prevRev: string | null }> {
  return t.exclusive(async () => {
    let result
    try {
      result = await historyPeer(t.adapter).push(thread, checkpoints)
    } catch (err) {
      // Records that do not decode or do not fit their parents are the client's to fix: nothing was stored.
      if (isEdgegraphError(err, 'CORRUPT_RECORD')) throw new ApiError(400, 'CORRUPT_RECORD', err.message)
      throw err
    }
    const meta = await t.meta()
    if (meta === undefined && result.added > 0) await claim(t, thread)
    if (graph !== undefined && meta?.graph === undefined && Object.hasOwn(t.settings.graphs, graph)) {
      const next: ThreadMeta = { ...(meta ?? { thread }), graph, lastActive: Date.now() }
      await t.storage.put(META, next)
    }
    return { ...result, prevRev: result.prevRev ?? null }
  })
}

export function syncHead(t: ThreadState, thread: string, id: string, expect: string | undefined): Promise<{ rev: string; prevRev: string | null }> {
  return t.exclusive(async () => {
    const { rev, prevRev } = await historyPeer(t.adapter).moveHead(thread, id, expect)
    return { rev: rev as string, prevRev: prevRev ?? null }
  })
}
