/** @module The edgegraph Worker: registered graphs in one Durable Object per tenant + thread, behind an authenticated HTTP API. */
/*
 * The run API is under `/v1` (Hono), with the storage-level API (`worker/storage-api.ts`) for `adapters/remote.ts`
 * beside it.
 *
 * ```ts
 * const { worker, ThreadObject } = createEdgegraphWorker({ graphs: { chat: (checkpointer) => chatGraph.compile({ checkpointer }) } })
 * export class EdgegraphThread extends ThreadObject {}   // bound as THREADS in wrangler.jsonc
 * export default worker
 * ```
 *
 * Routes (JSON bodies; `:thread` as in the storage API: letters, digits, `. _ : - /`, sent percent-encoded):
 * - `GET    /v1/graphs`                                  the registered graph names
 * - `POST   /v1/threads/:thread/runs`                    `{ graph?, input?, command?, checkpointId?, stream?, recursionLimit?, metadata?, durability? }`
 *   → the state after the run (JSON), or with `stream` (`"values"`, `"updates"` or both) Server-Sent Events: one
 *   event per chunk (`event: values|updates`), then `event: end` with the state, or `event: error`.
 *   `input` starts a new turn; null or absent continues from the last checkpoint (or from `checkpointId`: a fork).
 * - `POST   /v1/threads/:thread/resume`                  `{ value }` or `{ values: { [interruptId]: value } }`, plus `stream?` etc.
 * - `GET    /v1/threads/:thread/state`                   the newest checkpoint
 * - `GET    /v1/threads/:thread/history?limit=&before=&source=`   newest first, paged: `{ checkpoints, nextBefore }`
 * - `GET    /v1/threads/:thread/checkpoints/:checkpointId`
 * - `POST   /v1/threads/:thread/state`                   `{ values, asNode?, checkpointId?, graph? }` update or fork → `{ checkpointId }`
 * - `GET    /v1/threads/:thread/diff?from=&to=`          RFC 6902 patch between two checkpoints
 * - `PUT    /v1/threads/:thread/retention`               `{ ttlSeconds?, keepLast? }` (null clears)
 * - `POST   /v1/threads/:thread/cancel`                  stop the run going on at its next step boundary (checkpoints kept)
 * - `POST   /v1/threads/:thread/sync/{pull,has,push,head}`  `edgegraph/sync`'s `workerRemote` (read to pull, run to push)
 * - `DELETE /v1/threads/:thread`                         (cancels a run going on first)
 * - `/v1/storage/...`                                    the storage API, on D1 (binding `DB`)
 *
 * The Worker authenticates, rate-limits and validates each request, then calls the thread's object over Durable
 * Object RPC (`worker/routes.ts`, `worker/thread/object.ts`).
 *
 * Rights (token claim `rights`): `read` for state, history, checkpoints and diff; `run` for runs, resume and
 * state updates; `write` for delete and retention; `admin` for all. Each tenant's threads live in objects named
 * `${tenant}/${thread}`, so a tenant can only ever reach its own.
 *
 * Errors are JSON `{ "error": { "code", "message" } }`: 400 bad request, 401 bad or missing token, 403 missing
 * right or thread outside the token's prefix, 404 unknown route, graph, thread or checkpoint, 409 thread busy,
 * no interrupt to resume or another writer, 413 body or metadata too large, 500 node failure or bug (no stack traces, no
 * node exception text unless `exposeErrors`), 503 storage unavailable, a stopped run, a failing rate limiter or
 * misconfiguration; 429 when a `ratelimits` binding says the address, token or tenant sent too many requests.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { cors } from 'hono/cors'
import { HTTPException } from 'hono/http-exception'
import { createD1Adapter } from '../adapters/d1.js'
import { requireAuth, secretProblem, type AuthClaims, type AuthOptions, type VerifyOptions } from './auth.js'
import type { EdgegraphEnv, WorkerEnv } from './env.js'
import { ApiError, badRequest, errorBody, notFoundRoute, onApiError } from './http.js'
import { addThreadRoutes } from './routes.js'
import { storageApi } from './storage-api.js'
import { GRAPH_NAME } from './schemas.js'
import type { GraphFactory } from './thread/lookup.js'
import { createThreadObject, type ThreadObject, type ThreadObjectOptions } from './thread/object.js'
import type { Retention } from './thread/retention.js'

export type { EdgegraphEnv, GraphFactory, Retention, ThreadObject, ThreadObjectOptions }

/** Options of {@link createEdgegraphWorker}: the thread objects' options, plus the HTTP layer's. */
export interface EdgegraphWorkerOptions extends ThreadObjectOptions {
  /**
   * `'env'` (default): HS256 JWTs signed with the `EDGEGRAPH_JWT_SECRET` secret; `{ secret }` or `{ authorize }`
   * as in `worker/auth.ts`; `'none'` serves every request without auth (local experiments only).
   */
  auth?: 'env' | 'none' | AuthOptions
  /** With `auth: 'env'`: what tokens must also satisfy (audience, issuer, longest lifetime, clock skew). */
  tokens?: VerifyOptions
  /** Largest run `metadata`, as JSON bytes (default 16 KiB): it is stored with the run's checkpoints. */
  maxMetadataBytes?: number
  /** Largest run API request body (default 1 MiB); the storage API has its own (8 MiB). */
  maxBodyBytes?: number
  /** Origins allowed by CORS (default `*`: tokens travel in a header, not in cookies). */
  corsOrigins?: string | string[]
  /** What the rate limiters count requests by (see {@link RateLimitKeys}); each function may return undefined to skip. */
  rateLimitKeys?: Partial<RateLimitKeys>
}

/**
 * The keys requests are counted under, with the `ratelimits` bindings: `RATE_LIMITER` counts every request by client
 * address before auth (bad tokens included) and each token subject after it; `TENANT_RATE_LIMITER` (optional, set a
 * higher limit) counts each tenant. A request over any of them gets 429; a limiter that fails, 503.
 */
export interface RateLimitKeys {
  beforeAuth(request: Request): string | undefined
  subject(claims: AuthClaims, request: Request): string | undefined
  tenant(claims: AuthClaims, request: Request): string | undefined
}

const DEFAULT_RATE_LIMIT_KEYS: RateLimitKeys = {
  // Loopback only ever shows up in local development (`wrangler dev`): not counted there.
  beforeAuth: (request) => {
    const address = request.headers.get('cf-connecting-ip') ?? 'unknown'
    return address === '127.0.0.1' || address === '::1' ? undefined : `ip:${address}`
  },
  // A token without `sub` is counted by what it may do, so two such tokens of one tenant still count apart.
  subject: (claims) => `subject:${claims.tenant}/${claims.sub ?? `(${claims.prefix ?? ''}|${claims.rights.join(',')})`}`,
  tenant: (claims) => `tenant:${claims.tenant}`,
}

/**
 * Creates the Worker: `worker` (its fetch handler: `export default worker`), `ThreadObject` (the Durable Object
 * class: export a subclass of it under the `class_name` bound as THREADS) and `app` (the Hono app, for tests and
 * for mounting more routes).
 */
export function createEdgegraphWorker(options: EdgegraphWorkerOptions) {
  const ThreadObject = createThreadObject(options)
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const names = Object.keys(options.graphs)
  for (const name of names) if (!GRAPH_NAME.test(name)) throw new TypeError(`graph name "${name}" must be 1 to 64 of A-Z a-z 0-9 _ -`)

  const authFor = (env: EdgegraphEnv): AuthOptions | undefined => {
    const auth = options.auth ?? 'env'
    if (auth === 'none') return undefined
    if (auth !== 'env') return auth
    const secret = env.EDGEGRAPH_JWT_SECRET
    const problem = secretProblem(secret)
    if (problem !== undefined) {
      throw new ApiError(503, 'MISCONFIGURED', `EDGEGRAPH_JWT_SECRET will not do: ${problem}. Set it with \`wrangler secret put EDGEGRAPH_JWT_SECRET\` (or .dev.vars locally)`)
    }
    return { secret: secret as string, ...options.tokens }
  }

  const app = new Hono<WorkerEnv>()
  app.use('/v1/*', cors({ origin: options.corsOrigins ?? '*', allowHeaders: ['authorization', 'content-type'], allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'], maxAge: 600 }))

  // Rate limits (when `ratelimits` bindings are configured) around auth, before anything reads the body.
  const keys = { ...DEFAULT_RATE_LIMIT_KEYS, ...options.rateLimitKeys }
  const count = async (c: Context<WorkerEnv>, limiter: RateLimit | undefined, keyOf: () => string | undefined, who: string): Promise<void> => {
    if (limiter === undefined) return
    let ok: boolean
    try {
      const key = keyOf()
      ok = key === undefined || (await limiter.limit({ key })).success
    } catch (err) {
      console.error('rate limiter failed', err)
      throw new ApiError(503, 'RATE_LIMITED', 'the rate limiter is not answering; retry in a moment')
    }
    if (!ok) {
      c.header('retry-after', '60')
      throw new ApiError(429, 'RATE_LIMITED', `too many requests ${who}; slow down and retry after a minute`)
    }
  }
  // Before auth, by client address: bad tokens are counted too (each costs an HMAC check or an authorize call).
  app.use('/v1/*', async (c, next) => {
    await count(c, c.env.RATE_LIMITER, () => keys.beforeAuth(c.req.raw), 'from this address')
    return next()
  })
  const auths = new Map<string, MiddlewareHandler<WorkerEnv>>()
  app.use('/v1/*', async (c, next) => {
    const auth = authFor(c.env)
    if (auth === undefined) return next()
    const key = 'secret' in auth ? auth.secret : 'authorize'
    let middleware = auths.get(key)
    if (middleware === undefined) auths.set(key, (middleware = requireAuth(auth) as unknown as MiddlewareHandler<WorkerEnv>))
    return middleware(c, next)
  })
  // After auth: per token subject (one user cannot spend the whole tenant's budget), and per tenant.
  app.use('/v1/*', async (c, next) => {
    const claims = authFor(c.env) === undefined ? undefined : c.get('auth')
    if (claims !== undefined) {
      await count(c, c.env.RATE_LIMITER, () => keys.subject(claims, c.req.raw), 'for this token')
      await count(c, c.env.TENANT_RATE_LIMITER, () => keys.tenant(claims, c.req.raw), 'for this tenant')
    }
    return next()
  })
  // The storage API has its own auth (checked again there), body limit (8 MiB) and errors; it comes after the
  // rate limit, and shares the D1 database with `store: 'd1'` runs.
  const storageApps = new Map<string, ReturnType<typeof storageApi>>()
  app.all('/v1/storage/*', (c) => {
    const auth = authFor(c.env)
    const db = c.env.DB
    if (db === undefined) throw new ApiError(503, 'MISCONFIGURED', 'the storage API needs a D1 database bound as DB in the wrangler config')
    const key = auth === undefined ? '' : 'secret' in auth ? auth.secret : 'authorize'
    let storage = storageApps.get(key)
    if (storage === undefined) {
      const adapter = createD1Adapter(db, { table: options.d1Table ?? 'edgegraph' })
      storage = storageApi(() => adapter, auth === undefined ? {} : { auth })
      storageApps.set(key, storage)
    }
    return storage.fetch(c.req.raw)
  })

  app.use(
    '/v1/*',
    bodyLimit({ maxSize: maxBodyBytes, onError: (c) => c.json(errorBody('VALUE_TOO_LARGE', `request body is above the ${maxBodyBytes}-byte limit`), 413) }),
  )

  app.on(['POST', 'PUT'], '/v1/threads/*', async (c, next) => {
    // `cancel` takes no body.
    if (c.req.path.endsWith('/cancel')) return next()
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) throw badRequest('send the body as JSON (content-type: application/json)')
    await next()
  })

  addThreadRoutes(app, options.graphs, (env) => authFor(env) !== undefined, { maxMetadataBytes: options.maxMetadataBytes ?? 16 * 1024 })

  // Graph names are for callers with a token (GET /v1/graphs): the root says only what this is.
  app.get('/', (c) => c.json({ name: 'edgegraph', api: '/v1' }))
  app.notFound(notFoundRoute)
  const onError = onApiError('the edgegraph worker')
  app.onError((err, c) => {
    // Hono's own validator and body parser failures (wrong content type, malformed JSON) are client errors.
    if (err instanceof HTTPException && err.status < 500) {
      const message = /json/i.test(err.message) ? 'request body must be valid JSON sent with content-type: application/json' : err.message
      return c.json(errorBody('INVALID_ARGUMENT', message), 400)
    }
    return onError(err, c)
  })

  const worker = { fetch: (request: Request, env: EdgegraphEnv, ctx: ExecutionContext) => app.fetch(request, env, ctx) } satisfies ExportedHandler<EdgegraphEnv>
  return { worker, ThreadObject, app }
}
