/** Bindings of test/workers/wrangler.jsonc, as `env` from `cloudflare:test` / `cloudflare:workers` sees them. */
interface Env {
  STORE: DurableObjectNamespace<import('./worker.js').TestStore>
  DB: D1Database
}

declare namespace Cloudflare {
  interface Env {
    STORE: DurableObjectNamespace<import('./worker.js').TestStore>
    DB: D1Database
  }
}
