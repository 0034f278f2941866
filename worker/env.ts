/** @module The bindings the edgegraph Worker and its thread objects read from `env` (see the root wrangler.jsonc). */
import type { AuthClaims } from './auth.js'

/** Bindings the worker and its objects use. */
export interface EdgegraphEnv {
  /** The Durable Object namespace of the class `createEdgegraphWorker` returns (`ThreadObject`), bound as THREADS. */
  THREADS: DurableObjectNamespace
  /** D1 database: the storage API's store, and the run store with `store: 'd1'`. */
  DB?: D1Database
  /** HS256 secret of the bearer tokens (`wrangler secret put EDGEGRAPH_JWT_SECRET`). */
  EDGEGRAPH_JWT_SECRET?: string
  /** `"true"` shows failed nodes' exception text in answers (`npm run dev` sets it; leave it unset in deployments). */
  EDGEGRAPH_EXPOSE_ERRORS?: string
  /** Optional Workers rate limiter (`ratelimits` in wrangler.jsonc): per client address before auth, per token after. */
  RATE_LIMITER?: RateLimit
  /** Optional second limiter counting per tenant (a higher limit than RATE_LIMITER's per-token one). */
  TENANT_RATE_LIMITER?: RateLimit
}

/** The Hono env of the Worker's app: its bindings, and the verified token claims once auth has run. */
export type WorkerEnv = { Bindings: EdgegraphEnv; Variables: { auth: AuthClaims } }
