/** @module The run API's routes under `/v1/threads/:thread`: validate, check the caller's right, call the thread's object. */
/*
 * Requests are validated with zod (`worker/schemas.ts`); the thread's Durable Object is called over RPC
 * (`worker/thread/object.ts`).
 */
import type { Context, Hono } from 'hono'
import type { z } from 'zod'
import type { Right } from './auth.js'
import type { EdgegraphEnv, WorkerEnv } from './env.js'
import { ApiError, badRequest } from './http.js'
import { unwrap } from './rpc.js'
import { body, CHECKPOINT_ID, query, schemas } from './schemas.js'
import { threadAccess } from './storage-api.js'
import type { GraphFactory } from './thread/lookup.js'
import { threadStub } from './thread/object.js'
import type { RunArgs, RunResult } from './thread/runs.js'
import { decodeCheckpoints } from '../src/sync/wire.js'

/** Headers of a streamed run (as Hono's `streamSSE` sets them). */
const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'transfer-encoding': 'chunked' }

/**
 * Adds the run API's routes to `app`, for the registered `graphs`; `authenticated(env)` says whether requests carry
 * verified claims (thread ids are then namespaced by tenant).
 */
export function addThreadRoutes(app: Hono<WorkerEnv>, graphs: Record<string, GraphFactory>, authenticated: (env: EdgegraphEnv) => boolean, limits: { maxMetadataBytes: number }): void {
  const names = Object.keys(graphs)
  const utf8 = new TextEncoder()

  /** The route's thread (its storage id) and its object, once the caller may do `right` on it. */
  const objectOf = (c: Context<WorkerEnv>, right: Right) => {
    const id = threadAccess(c, right, authenticated(c.env))
    return { id, stub: threadStub(c.env.THREADS, id) }
  }
  const knownGraph = (name: string | undefined) => {
    if (name !== undefined && !Object.hasOwn(graphs, name)) {
      throw new ApiError(404, 'NOT_FOUND', `no graph named "${name}"; registered: ${names.join(', ') || '(none)'}`)
    }
  }
  const run = async (c: Context<WorkerEnv>, args: Omit<RunArgs, 'thread'>): Promise<Response> => {
    knownGraph(args.graph)
    // Run metadata goes into the run's checkpoints: bounded, so a request cannot multiply storage.
    const metadataBytes = args.metadata === undefined ? 0 : utf8.encode(JSON.stringify(args.metadata)).length
    if (metadataBytes > limits.maxMetadataBytes) {
      throw new ApiError(413, 'VALUE_TOO_LARGE', `run metadata is ${metadataBytes} bytes of JSON, above the ${limits.maxMetadataBytes}-byte limit (maxMetadataBytes); keep it to ids and labels`)
    }
    const { id, stub } = objectOf(c, 'run')
    const result: RunResult = await unwrap(stub.run({ ...args, thread: id }))
    return 'events' in result ? c.body(result.events, 200, SSE_HEADERS) : c.json(result.state)
  }

  app.get('/v1/graphs', (c) => c.json({ graphs: names }))

  app.post('/v1/threads/:thread/runs', query(schemas.none), body(schemas.run), (c) => run(c, c.req.valid('json')))

  app.post('/v1/threads/:thread/resume', query(schemas.none), body(schemas.resume), (c) => {
    const { value, values, ...args } = c.req.valid('json') as z.infer<typeof schemas.resume> & { value?: unknown; values?: Record<string, unknown> }
    return run(c, { ...args, resume: values !== undefined ? { byId: values } : { value } })
  })

  app.get('/v1/threads/:thread/state', query(schemas.none), async (c) => {
    const { id, stub } = objectOf(c, 'read')
    return c.json(await unwrap(stub.state(id)))
  })

  app.get('/v1/threads/:thread/checkpoints/:checkpointId', query(schemas.none), async (c) => {
    const checkpointId = c.req.param('checkpointId')
    if (!CHECKPOINT_ID.test(checkpointId)) throw badRequest('checkpoint id must be 16 characters (or 11 for older ones) of 0-9 a-z')
    const { id, stub } = objectOf(c, 'read')
    return c.json(await unwrap(stub.state(id, checkpointId)))
  })

  app.get('/v1/threads/:thread/history', query(schemas.history), async (c) => {
    const { limit, before, source } = c.req.valid('query')
    const { id, stub } = objectOf(c, 'read')
    return c.json(await unwrap(stub.history(id, { limit, before, ...(source === undefined ? {} : { filter: { source } }) })))
  })

  app.post('/v1/threads/:thread/state', query(schemas.none), body(schemas.update), async (c) => {
    const args = c.req.valid('json')
    knownGraph(args.graph)
    const { id, stub } = objectOf(c, 'run')
    return c.json(await unwrap(stub.update(id, args)))
  })

  app.get('/v1/threads/:thread/diff', query(schemas.diff), async (c) => {
    const { from, to } = c.req.valid('query')
    const { id, stub } = objectOf(c, 'read')
    return c.json(await unwrap(stub.diff(id, from, to)))
  })

  app.put('/v1/threads/:thread/retention', query(schemas.none), body(schemas.retention), async (c) => {
    const { id, stub } = objectOf(c, 'write')
    return c.json(await unwrap(stub.retention(id, c.req.valid('json'))))
  })

  app.post('/v1/threads/:thread/cancel', query(schemas.none), async (c) => {
    const { id, stub } = objectOf(c, 'run')
    return c.json(await unwrap(stub.cancel(id)))
  })

  app.delete('/v1/threads/:thread', query(schemas.none), async (c) => {
    const { id, stub } = objectOf(c, 'write')
    return c.json(await unwrap(stub.delete(id)))
  })

  // Sync (`edgegraph/sync`'s workerRemote): `read` to pull, `run` to push, as for runs.
  app.post('/v1/threads/:thread/sync/pull', query(schemas.none), body(schemas.syncPull), async (c) => {
    const { since } = c.req.valid('json')
    const { id, stub } = objectOf(c, 'read')
    const marks = since == null ? undefined : { head: since.head ?? undefined, rev: since.rev ?? undefined, pending: since.pending ?? undefined }
    return c.body(await unwrap(stub.syncPull(id, marks)), 200, { 'content-type': 'application/json' })
  })

  app.post('/v1/threads/:thread/sync/has', query(schemas.none), body(schemas.syncHas), async (c) => {
    const { id, stub } = objectOf(c, 'read')
    return c.json(await unwrap(stub.syncHas(id, c.req.valid('json').ids)))
  })

  app.post('/v1/threads/:thread/sync/push', query(schemas.none), body(schemas.syncPush), async (c) => {
    const { checkpoints, graph } = c.req.valid('json')
    knownGraph(graph)
    const { id, stub } = objectOf(c, 'run')
    let items
    try {
      items = decodeCheckpoints(checkpoints)
    } catch (err) {
      throw badRequest(`invalid request body: checkpoints: ${(err as Error).message}`)
    }
    return c.json(await unwrap(stub.syncPush(id, items, graph)))
  })

  app.post('/v1/threads/:thread/sync/head', query(schemas.none), body(schemas.syncHead), async (c) => {
    const { id: checkpointId, expect } = c.req.valid('json')
    const { id, stub } = objectOf(c, 'run')
    return c.json(await unwrap(stub.syncHead(id, checkpointId, expect ?? undefined)))
  })
}
