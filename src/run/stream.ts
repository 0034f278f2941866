/** @module `stream()`: a run's events as an async iterable of chunks in the modes asked for. */
import type { Interrupt } from './interrupts.js'
import type { RunEvent } from './loop.js'
import { metadataOf, snapshotOf, type CheckpointMetadata } from './snapshot.js'

/**
 * `stream()` modes, as in LangGraph.js: `values` (the state after each step; `{ __interrupt__ }` when the run stops for
 * a human), `updates` (each node's writes), `custom` (what nodes `ctx.write`), `messages` (`[chunk, meta]` for each
 * chunk nodes `ctx.writeMessage`), `tasks` (each task's start and end), `checkpoints` (each stored checkpoint as
 * `getState` shows it), `debug` (edgegraph's event per stored checkpoint).
 */
export type StreamMode = 'values' | 'updates' | 'custom' | 'messages' | 'tasks' | 'checkpoints' | 'debug'

/** A `debug` stream event: one per stored checkpoint. */
export interface DebugEvent {
  type: 'checkpoint'
  step: number
  timestamp: string
  payload: { threadId: string; checkpointId: string; parentId: string | undefined; next: string[]; metadata: CheckpointMetadata }
}

/** An `updates` chunk when the run stopped for a human. */
export interface InterruptChunk {
  __interrupt__: Interrupt[]
}

/**
 * Starts a run with `start` and yields its events as chunks of `modes` (as `[mode, chunk]` pairs unless `single`).
 * Breaking out of the loop aborts the run's signal, so it stops at the next step boundary.
 */
export function streamRun(modes: readonly string[], single: boolean, subgraphs: boolean, signal: AbortSignal | undefined, start: (signal: AbortSignal, emit: (e: RunEvent) => void) => Promise<unknown>): AsyncIterable<unknown> {
  return {
    async *[Symbol.asyncIterator]() {
      const queue: unknown[] = []
      let wake: (() => void) | undefined
      let done = false
      let failure: unknown
      const stopper = new AbortController()
      const onEvent = (e: RunEvent) => {
        // Events from inside subgraphs only with subgraphs: true, as [namespace, ...] (LangGraph.js's shape).
        if (e.ns && !subgraphs) return
        const push = (mode: StreamMode, chunk: unknown) => {
          if (!modes.includes(mode)) return
          const out = single ? [chunk] : [mode, chunk]
          queue.push(subgraphs ? [e.ns ?? [], ...out] : out.length === 1 ? chunk : out)
          wake?.()
        }
        if (e.type === 'values') push('values', e.values)
        else if (e.type === 'update') push('updates', e.cached ? { [e.node]: e.update, __metadata__: { cached: true } } : { [e.node]: e.update })
        else if (e.type === 'interrupt') {
          push('updates', { __interrupt__: e.interrupts } satisfies InterruptChunk)
          push('values', { __interrupt__: e.interrupts } satisfies InterruptChunk)
        } else if (e.type === 'custom') push('custom', e.chunk)
        else if (e.type === 'message') push('messages', [e.chunk, e.meta])
        else if (e.type === 'task') push('tasks', e.task)
        else {
          push('checkpoints', snapshotOf(e.checkpoint))
          push('debug', debugEvent(e.checkpoint))
        }
      }
      const running = start(signal ? AbortSignal.any([signal, stopper.signal]) : stopper.signal, onEvent)
        .then(
          () => undefined,
          (err) => {
            failure = err
          },
        )
        .finally(() => {
          done = true
          wake?.()
        })
      try {
        for (;;) {
          while (queue.length > 0) yield queue.shift()
          if (done) break
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
        }
        if (failure !== undefined) throw failure
      } finally {
        if (!done) {
          // The consumer stopped reading: the run stops at its next step boundary (nobody is left to see why).
          stopper.abort()
          await running
        }
      }
    },
  }
}

function debugEvent(c: Extract<RunEvent, { type: 'checkpoint' }>['checkpoint']): DebugEvent {
  return {
    type: 'checkpoint',
    step: c.step,
    timestamp: new Date(c.createdAt).toISOString(),
    payload: { threadId: c.threadId, checkpointId: c.id, parentId: c.parentId, next: c.next.map((t) => t.node), metadata: metadataOf(c) },
  }
}
