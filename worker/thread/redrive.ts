/** @module Re-driving a run cut short by eviction, a crash or a redeploy, from the thread object's alarm. */
/*
 * The alarm finds the run marker with no run in memory and continues the run from its last checkpoint
 * (`invoke(null)`) once it had stored one, else from its original input. The steps already taken count against its
 * recursion limit. Node failures are not retried (the client resumes them, as with any edgegraph thread); storage
 * failures are, up to `maxAttempts`.
 */
import { describeError } from '../http.js'
import { inputOf } from './json.js'
import { graphOf } from './lookup.js'
import { execute } from './runs.js'
import { META, RUN, type RunMarker, type ThreadMeta, type ThreadState } from './state.js'

/** Continues the run of `marker` (from the alarm), or gives it up after `maxAttempts`, saying why in the meta. */
export async function redrive(t: ThreadState, marker: RunMarker): Promise<void> {
  const { storage, settings } = t
  const late = Date.now() > marker.startedAt + settings.maxRunMs
  if (marker.attempts >= settings.maxAttempts || late) {
    await storage.delete(RUN)
    const meta: ThreadMeta = (await t.meta()) ?? { thread: marker.args.thread, lastActive: Date.now() }
    meta.lastError = late
      ? { code: 'RUN_TIMEOUT', message: `the run passed its deadline (maxRunMs) before it could be continued; continue it with a run request (input null)`, at: Date.now() }
      : { code: 'RUN_LOST', message: `the run could not be continued after ${settings.maxAttempts} attempts; continue it with a run request (input null)`, at: Date.now() }
    await storage.put(META, meta)
    return
  }
  t.busy = 'run'
  try {
    await storage.put(RUN, { ...marker, attempts: marker.attempts + 1 })
    await storage.setAlarm(Date.now() + settings.leaseMs)
    const { graph } = await graphOf(t, marker.args.thread, marker.graph, true)
    const thread = marker.args.thread
    const moved = (await t.head(thread)) !== marker.startHead
    let args = marker.args
    if (moved) {
      // The steps already taken count against the run's recursion limit: a run cut short gets no fresh budget.
      // They are the steps from where it started (its fork point, or the head then; a new input's own
      // checkpoint is not a step) to the head now.
      const stepOf = async (checkpointId?: string) => (await graph.getState({ threadId: thread, ...(checkpointId === undefined ? {} : { checkpointId }) })).metadata.step
      const from = args.checkpointId ?? marker.startHead ?? undefined
      const start = (from === undefined ? -1 : await stepOf(from)) + (inputOf(args) === null ? 0 : 1)
      args = { ...args, recursionLimit: Math.max(1, (args.recursionLimit ?? 25) - ((await stepOf()) - start)) }
    }
    await execute(t, graph, args, marker.graph, undefined, moved ? 'head' : undefined, undefined, marker.startedAt)
  } catch (err) {
    const { code, message } = describeError(err, 'continuing the run', undefined, t.exposeErrors)
    const meta = await t.meta()
    if (meta !== undefined) await storage.put(META, { ...meta, lastError: { code, message, at: Date.now() } })
  } finally {
    t.busy = undefined
  }
}
