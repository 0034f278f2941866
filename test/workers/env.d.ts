/** Bindings of test/workers/wrangler.jsonc, as `env` from `cloudflare:test` / `cloudflare:workers` sees them. */
type TestBindings = {
  STORE: DurableObjectNamespace<import('./worker.js').TestStore>
  THREADS: DurableObjectNamespace<import('./worker.js').EdgegraphThread>
  THREADS_D1: DurableObjectNamespace<import('./worker.js').EdgegraphThreadD1>
  THREADS_SHORT: DurableObjectNamespace<import('./worker.js').EdgegraphThreadShort>
  DB: D1Database
  EDGEGRAPH_JWT_SECRET: string
  RATE_LIMITER: RateLimit
  TENANT_RATE_LIMITER: RateLimit
}

interface Env extends TestBindings {}

declare namespace Cloudflare {
  interface Env extends TestBindings {}
}
