/** @module Which graph a thread runs, compiled once per object on the thread's adapter. */
/*
 * The graph is the one the thread was created with (recorded in its meta), or the one a run names for a new thread.
 */
import { EdgegraphError, type CompiledGraph, type StorageAdapter } from '../../src/index.js'
import { ApiError } from '../http.js'
import type { ThreadMeta, ThreadState } from './state.js'

/**
 * Builds a registered graph on the thread's storage.
 *
 * @example
 * const counter: GraphFactory = (checkpointer) => new StateGraph({ count: { default: () => 0 } }).addNode(...).compile({ checkpointer })
 */
// `any`: graphs of every state shape are registered side by side, and a node function's state type is checked
// both ways (it is read and returned), so no one state type is a supertype of them all.
export type GraphFactory = (checkpointer: StorageAdapter) => CompiledGraph<any, any>

/** A compiled graph of any state shape (see {@link GraphFactory}). */
export type AnyGraph = ReturnType<GraphFactory>

/** A thread's graph, under the name it is registered as, and the thread's meta as read. */
export interface ThreadGraph {
  graph: AnyGraph
  name: string
  meta: ThreadMeta | undefined
}

/**
 * The thread's graph: the one it was created with, or `requested` for a new thread (with `create`, a new thread
 * without `requested` is a bad request; without it, a thread not found). Naming another graph than the thread's is 409.
 */
export async function graphOf(t: ThreadState, thread: string, requested?: string, create = false): Promise<ThreadGraph> {
  const meta = await t.meta()
  if (meta?.graph !== undefined && requested !== undefined && requested !== meta.graph) {
    throw new ApiError(409, 'INVALID_ARGUMENT', `thread "${thread}" runs graph "${meta.graph}", not "${requested}"; start a new thread for another graph`)
  }
  const name = meta?.graph ?? requested
  if (name === undefined) {
    throw create
      ? new ApiError(400, 'INVALID_ARGUMENT', `thread "${thread}" is new: name the graph to run ("graph")`)
      : new EdgegraphError('THREAD_NOT_FOUND', `Thread "${thread}" has no checkpoints. Start it with a run.`)
  }
  const factory = Object.hasOwn(t.settings.graphs, name) ? t.settings.graphs[name] : undefined
  if (factory === undefined) throw new ApiError(404, 'NOT_FOUND', `no graph named "${name}" is registered`)
  let graph = t.graphs.get(name)
  if (graph === undefined) {
    graph = factory(t.adapter)
    t.graphs.set(name, graph)
  }
  return { graph, name, meta }
}
