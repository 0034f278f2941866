/** @module Retention of a thread (`keepLast`, `ttlSeconds`), run from its object's alarm and never during a run. */
/*
 * `keepLast` prunes the history to the newest N checkpoints after each run (see `pruneHistory`: chains are
 * rebased, forks and pending interrupts kept), and `ttlSeconds` deletes the whole thread once it has been idle that
 * long. Defaults come from the worker's options; each thread can override them.
 */
import { EdgegraphError, pruneHistory } from '../../src/index.js'
import { describeError } from '../http.js'
import { META, RUN, type ThreadMeta, type ThreadState } from './state.js'

/** How long a thread and its history are kept. `null` (or absent) keeps them forever. */
export interface Retention {
  /** Delete the thread once it has had no run or update for this long. */
  ttlSeconds?: number | null | undefined
  /** Keep only the newest N checkpoints (plus whatever they and pending interrupts need). */
  keepLast?: number | null | undefined
}

/** The retention that applies: the thread's own over the defaults, both fields present. */
export function effective(defaults: Retention | undefined, own: Retention | undefined): Retention {
  return { ttlSeconds: null, keepLast: null, ...defaults, ...own }
}

/** Changes the thread's retention (`null` clears a field), re-arms the alarm, and answers the retention that applies now. */
export async function setRetention(t: ThreadState, thread: string, retention: Retention): Promise<Retention> {
  const existing = await t.meta()
  // Retention of a thread that does not exist would create it (and arm an alarm): refused, nothing written.
  if (existing === undefined && (await t.head(thread)) === null) throw new EdgegraphError('THREAD_NOT_FOUND', `Thread "${thread}" does not exist; set its retention once it has run.`)
  const meta: ThreadMeta = existing ?? { thread, lastActive: Date.now() }
  meta.retention = { ...meta.retention, ...retention }
  await t.storage.put(META, meta)
  await schedule(t, meta)
  return effective(t.settings.retention, meta.retention)
}

/** Records activity (a run ended, an update) and arms the alarm for retention. */
export async function touched(t: ThreadState, thread: string, graph: string): Promise<void> {
  // Read now, not when the run started: retention may have been changed while it went on.
  const next: ThreadMeta = { ...((await t.meta()) ?? { thread }), graph, lastActive: Date.now() }
  delete next.lastError
  await t.storage.put(META, next)
  await schedule(t, next)
}

/** Arms the alarm for the next retention check (pruning now, or the TTL), unless a run's lease alarm comes first. */
async function schedule(t: ThreadState, meta: ThreadMeta): Promise<void> {
  if ((await t.storage.get(RUN)) !== undefined) return
  const { ttlSeconds, keepLast } = effective(t.settings.retention, meta.retention)
  const times: number[] = []
  if (keepLast != null) times.push(Date.now())
  if (ttlSeconds != null) times.push(meta.lastActive + ttlSeconds * 1000)
  if (times.length === 0) await t.storage.deleteAlarm()
  else await t.storage.setAlarm(Math.min(...times))
}

/** Alarm: deletes an expired thread, else prunes it to `keepLast`, and arms the TTL check. */
export async function maintain(t: ThreadState, meta: ThreadMeta): Promise<void> {
  const { ttlSeconds, keepLast } = effective(t.settings.retention, meta.retention)
  t.busy = 'maintenance'
  try {
    if (ttlSeconds != null && Date.now() >= meta.lastActive + ttlSeconds * 1000) {
      await deleteThread(t, meta.thread)
      return
    }
    if (keepLast != null) await pruneHistory(t.adapter, meta.thread, { keepLast })
    if (ttlSeconds != null) await t.storage.setAlarm(meta.lastActive + ttlSeconds * 1000)
  } catch (err) {
    // Pruning raced a writer (CONFLICT) or storage failed: try again a little later.
    const { code, message } = describeError(err, 'retention', undefined, t.exposeErrors)
    await t.storage.put(META, { ...meta, lastError: { code, message, at: Date.now() } })
    await t.storage.setAlarm(Date.now() + 10_000)
  } finally {
    t.busy = undefined
  }
}

/** Deletes the thread: its history, and the object's own storage (meta, marker, alarm and, in DO mode, its tables). */
export async function deleteThread(t: ThreadState, thread: string): Promise<void> {
  await t.adapter.deleteThread(thread)
  await t.storage.deleteAlarm()
  await t.storage.deleteAll()
  t.reset()
}
