/** @module How a thread object shapes what goes in and out: snapshot JSON, a run request as engine input, SSE bytes. */
import { Command, type StateSnapshot } from '../../src/index.js'
import { runMetadataKey } from './state.js'
import { encodeValue, type Encoded } from '../../src/checkpoint/serde.js'
import type { RunArgs } from './runs.js'

/**
 * A checkpoint as the API shows it. State values, task results and interrupt values keep edgegraph's JSON form (a
 * Date, Map, Set, BigInt... is tagged `{ "$t": ... }`, plain JSON is unchanged); metadata is plain JSON.
 */
export interface SnapshotJson {
  /** This checkpoint's id (16 characters of 0-9 a-z, time-sortable; 11 for older ones). */
  checkpointId: string
  /** The checkpoint this one follows, null for a thread's first. */
  parentId: string | null
  /** ISO time the checkpoint was created. */
  createdAt: string
  /** The state's channel values. */
  values: Encoded
  /** Nodes the next step runs (empty when the run is done). */
  next: string[]
  /** The next step's tasks, with the error of any that failed. */
  tasks: Encoded
  /** Interrupts waiting for an answer (`POST .../resume`). */
  interrupts: Encoded
  /** `source`, `step`, `parentId`, `writes`, durations, usage and your own metadata. */
  metadata: Encoded
  /** Why the last background attempt failed (newest state only), see `ThreadMeta.lastError`. */
  lastError?: { code: string; message: string; at: number }
}

/** A snapshot as the API shows it (see {@link SnapshotJson}). */
export function snapshotJson(t: { exposeErrors: boolean }, s: StateSnapshot<unknown>): SnapshotJson {
  const tagged = (value: unknown, channel: string) => encodeValue(value, { channel, path: [] })
  // A failed task's error is the graph's own exception text: shown only where the deployment chose to.
  const tasks = t.exposeErrors ? s.tasks : s.tasks.map((task) => (task.error ? { ...task, error: { name: task.error.name, message: 'hidden: see the server log (exposeErrors)' } } : task))
  return {
    checkpointId: s.config.checkpointId,
    parentId: s.parentConfig?.checkpointId ?? null,
    createdAt: s.createdAt,
    values: tagged(s.values, 'values'),
    next: s.next,
    tasks: tagged(tasks, 'tasks'),
    interrupts: tagged(s.interrupts, 'interrupts'),
    metadata: JSON.parse(JSON.stringify(s.metadata)) as Encoded,
  }
}

/**
 * Puts each run's metadata (stored once per run) back in the place of the `{ "$run": id }` its checkpoints carry,
 * as the client sent it. Works on one snapshot or a page of them; returns what it was given.
 */
export async function withRunMetadata<T extends SnapshotJson | SnapshotJson[]>(t: { storage: DurableObjectStorage }, snapshots: T): Promise<T> {
  const list: SnapshotJson[] = Array.isArray(snapshots) ? (snapshots as SnapshotJson[]) : [snapshots as SnapshotJson]
  const runOf = (s: SnapshotJson) => (s.metadata as Record<string, unknown>).$run
  const ids = [...new Set(list.map(runOf).filter((id): id is string => typeof id === 'string'))]
  if (ids.length === 0) return snapshots
  const stored = await t.storage.get<Record<string, unknown>>(ids.map(runMetadataKey))
  for (const s of list) {
    const id = runOf(s)
    if (typeof id !== 'string') continue
    const { $run: _, ...own } = s.metadata as Record<string, unknown>
    s.metadata = { ...(stored.get(runMetadataKey(id)) ?? {}), ...own } as Encoded
  }
  return snapshots
}

/** The engine's input for a run request: a `Command` when it answers interrupts or routes, else its input (null continues). */
export function inputOf(args: RunArgs): Record<string, unknown> | Command<Record<string, unknown>> | null {
  if (args.resume !== undefined || args.command !== undefined) {
    const resume = args.resume === undefined ? args.command?.resume : 'byId' in args.resume ? args.resume.byId : args.resume.value
    return new Command({
      ...(resume === undefined ? {} : { resume }),
      ...(args.command?.update === undefined ? {} : { update: args.command.update }),
      ...(args.command?.goto === undefined ? {} : { goto: args.command.goto }),
    })
  }
  return args.input ?? null
}

const utf8 = new TextEncoder()

/**
 * Server-Sent Events written into a byte stream (`readable`, which the object hands to the Worker over RPC). Writes
 * wait for the reader, as an HTTP response would; once the client has gone away they are dropped, never thrown, so
 * the run goes on.
 */
export class EventStream {
  readonly readable: ReadableStream<Uint8Array>
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>
  #gone = false

  constructor() {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
    this.readable = readable
    this.#writer = writable.getWriter()
  }

  /** Writes one event: `event: <event>` and its data as one line of JSON. */
  async send(event: string, data: unknown): Promise<void> {
    if (this.#gone) return
    try {
      await this.#writer.write(utf8.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`))
    } catch {
      this.#gone = true // the client went away; the run goes on
    }
  }

  /** Ends the stream (after the last event). */
  async close(): Promise<void> {
    if (this.#gone) return
    this.#gone = true
    try {
      await this.#writer.close()
    } catch {
      // the client went away first
    }
  }
}
