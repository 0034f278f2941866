/** @module Runs in a thread object: one at a time, behind a run marker and a lease alarm, answered as the final state or SSE. */
/*
 * A second run, update or delete while one goes on gets 409 `THREAD_BUSY`. Before a run starts, the object stores a
 * run marker (graph, input, the head it started from) and arms an alarm `leaseMs` ahead, so that a run cut short by
 * eviction is continued (see `redrive.ts`).
 */
import { isEdgegraphError, type StreamMode } from '../../src/index.js'
import { encodeValue } from '../../src/checkpoint/serde.js'
import { describeError, errorBody } from '../http.js'
import { EventStream, inputOf, snapshotJson, withRunMetadata, type SnapshotJson } from './json.js'
import { graphOf, type AnyGraph } from './lookup.js'
import { touched } from './retention.js'
import { RUN_OWNER_KEY } from '../storage-api.js'
import { META, RUN, runIdOf, runMetadataKey, type RunMarker, type ThreadMeta, type ThreadState } from './state.js'

/** A run request, as the Worker validated it (`POST .../runs` and `.../resume`). */
export interface RunArgs {
  /** The thread's storage id (`<tenant>/<thread>` with auth). */
  thread: string
  /** The graph to run: required for a new thread; an existing thread keeps the one it was created with. */
  graph?: string | undefined
  /** A new input, or null/absent to continue from the last checkpoint. */
  input?: Record<string, unknown> | null | undefined
  /** Answer pending interrupts: one value, or `{ [interruptId]: value }`. */
  resume?: { value: unknown } | { byId: Record<string, unknown> } | undefined
  /** Update state, route to nodes and/or answer pending interrupts as the run starts (a `Command`). */
  command?: { update?: Record<string, unknown> | undefined; goto?: string | string[] | undefined; resume?: unknown } | undefined
  /** Continue from this checkpoint instead of the newest: a fork. */
  checkpointId?: string | undefined
  /** Stream the run as Server-Sent Events of these modes instead of answering with the final state. */
  stream?: StreamMode | StreamMode[] | undefined
  /** Most steps the run may take (default 25). */
  recursionLimit?: number | undefined
  /** Your metadata, stored with the run's checkpoints. */
  metadata?: Record<string, unknown> | undefined
  /**
   * When checkpoints are committed: each before the next step (`sync`), overlapping it (`async`), or only at the end
   * (`exit`). Default: the graph's.
   */
  durability?: 'sync' | 'async' | 'exit' | undefined
}

/** What a run answers: the state after it, or (with `stream`) its events, as they happen, as SSE bytes. */
export type RunResult = { state: SnapshotJson } | { events: ReadableStream<Uint8Array> }

/** Starts a run: answers once it has ended, or at once with its event stream. */
export async function startRun(t: ThreadState, args: RunArgs): Promise<RunResult> {
  t.assertIdle(args.thread)
  t.busy = 'run'
  let handedOff = false
  try {
    const { graph, meta, name } = await graphOf(t, args.thread, args.graph, true)
    const marker: RunMarker = { args, graph: name, startHead: await t.head(args.thread), attempts: 0, startedAt: Date.now() }
    // A new thread's graph is recorded before it runs, so its state can be read while the run goes on.
    const recorded: ThreadMeta = meta?.graph === name ? meta : { ...meta, thread: args.thread, graph: name, lastActive: Date.now() }
    await t.storage.put({ [RUN]: marker, [META]: recorded, ...(args.metadata === undefined ? {} : { [runMetadataKey(runIdOf(marker.startedAt))]: args.metadata }) })
    if (meta === undefined) await claim(t, args.thread)
    await t.storage.setAlarm(Date.now() + t.settings.leaseMs)
    const refusal = { meta, head: marker.startHead }
    if (args.stream === undefined) {
      await execute(t, graph, args, name, undefined, undefined, refusal, marker.startedAt)
      return { state: await withRunMetadata(t, snapshotJson(t, await graph.getState({ threadId: args.thread }))) }
    }
    const events = new EventStream()
    handedOff = true
    void streamRun(t, graph, args, name, events, refusal, marker.startedAt)
    return { events: events.readable }
  } finally {
    if (!handedOff) t.busy = undefined
  }
}

/** The streamed run, after the answer has gone out: ends with an `end` event (the state) or an `error` event. */
async function streamRun(t: ThreadState, graph: AnyGraph, args: RunArgs, name: string, events: EventStream, refusal: Refusal, startedAt: number): Promise<void> {
  try {
    await execute(t, graph, args, name, events, undefined, refusal, startedAt)
    await events.send('end', await withRunMetadata(t, snapshotJson(t, await graph.getState({ threadId: args.thread }))))
  } catch (err) {
    const { code, message } = describeError(err, 'the run', undefined, t.exposeErrors)
    await events.send('error', errorBody(code, message))
  } finally {
    t.busy = undefined
    await events.close()
  }
}

/**
 * Runs (or continues, with `continueFrom: 'head'`) the graph; clears the run marker once the run has ended, one way
 * or another. Storage trouble leaves the marker and brings the alarm forward, so the run is tried again.
 */
/**
 * With `store: 'd1'`, marks a thread as run here (or unmarks one a refused request had marked), so the storage API on
 * the same tables refuses raw writes to it from non-admin tokens.
 */
export async function claim(t: ThreadState, thread: string, claimed = true): Promise<void> {
  if (t.settings.store !== 'd1') return
  await t.adapter.commit(thread, claimed ? { put: [[RUN_OWNER_KEY, new TextEncoder().encode('run')]] } : { del: [RUN_OWNER_KEY] })
}

/** What a run request found before it started: restored when the engine refuses the request having stored nothing. */
interface Refusal {
  meta: ThreadMeta | undefined
  head: string | null
}

/** Errors of a request the engine refuses before it stores anything (when the head has not moved). */
const REFUSED = ['INVALID_ARGUMENT', 'INVALID_UPDATE', 'CHECKPOINT_NOT_FOUND', 'NO_PENDING_INTERRUPT', 'UNKNOWN_NODE', 'THREAD_NOT_FOUND', 'RECURSION_LIMIT']

export async function execute(
  t: ThreadState,
  graph: AnyGraph,
  args: RunArgs,
  name: string,
  events: EventStream | undefined,
  continueFrom: 'head' | undefined,
  refusal: Refusal | undefined,
  startedAt: number,
): Promise<void> {
  // Cancel, delete and the deadline stop the run through its signal, at its next step boundary.
  const controller = new AbortController()
  const deadline = startedAt + t.settings.maxRunMs
  let finished!: () => void
  t.running = { controller, deadline, done: new Promise<void>((resolve) => (finished = resolve)) }
  const timer = setTimeout(() => controller.abort(new Error(`the run passed its deadline (maxRunMs, ${t.settings.maxRunMs} ms)`)), Math.max(0, deadline - Date.now()))
  const config = {
    signal: controller.signal,
    threadId: args.thread,
    ...(args.checkpointId === undefined || continueFrom === 'head' ? {} : { checkpointId: args.checkpointId }),
    ...(args.recursionLimit === undefined ? {} : { recursionLimit: args.recursionLimit }),
    // The run's metadata is stored once (see runMetadataKey); its checkpoints name it.
    ...(args.metadata === undefined ? {} : { metadata: { $run: runIdOf(startedAt) } }),
    ...(args.durability === undefined ? {} : { durability: args.durability }),
  }
  const input = continueFrom === 'head' ? null : inputOf(args)
  let ended = false
  let refused = false
  try {
    if (events === undefined) {
      await graph.invoke(input, config)
    } else {
      const modes = Array.isArray(args.stream) ? args.stream : [args.stream ?? 'values']
      for await (const [mode, chunk] of graph.stream(input, { ...config, streamMode: modes })) {
        await events.send(mode, encodeValue(chunk, { channel: mode, path: [] }))
      }
    }
    ended = true
  } catch (err) {
    // A node failure, a bad request or an interrupt answer that does not fit ends the run: the client decides
    // what next. Storage trouble leaves the marker, so the alarm tries again.
    // Stopped on purpose (cancel, delete, deadline): ended, not to be continued by the alarm.
    ended = controller.signal.aborted || !isEdgegraphError(err) || !['STORAGE_UNAVAILABLE', 'STORAGE_FAILED', 'CONFLICT', 'ABORTED'].includes(err.code)
    // A request refused before anything was stored changes nothing: not the thread's graph, not its activity.
    refused = refusal !== undefined && isEdgegraphError(err) && REFUSED.includes(err.code) && (await t.head(args.thread)) === refusal.head
    throw err
  } finally {
    clearTimeout(timer)
    t.running = undefined
    finished()
    if (refused && refusal) {
      await t.storage.delete(RUN)
      await t.storage.delete(runMetadataKey(runIdOf(startedAt)))
      if (refusal.meta === undefined) {
        await t.storage.delete(META)
        await claim(t, args.thread, false)
        await t.storage.deleteAlarm() // the run's lease alarm: there is no thread to look after
      } else await t.storage.put(META, refusal.meta)
    } else if (ended) {
      await t.storage.delete(RUN)
      await touched(t, args.thread, name)
    } else {
      await t.storage.setAlarm(Date.now() + Math.min(t.settings.leaseMs, 5_000))
    }
  }
}
