/** @module The storage-level HTTP API: one storage adapter's contract over HTTP, the server side of `adapters/remote.ts`. */
/*
 * One {@link StorageAdapter}'s contract (get, scan, commit with guard, deleteThread, threads) over HTTP, so a
 * browser can keep running graphs locally (diffs, encryption and chunking stay on the client) and store the bytes in
 * the worker.
 *
 * Auth (`options.auth`, see `worker/auth.ts`): WITHOUT IT EVERY REQUEST IS SERVED; never expose such an app
 * publicly. With it, every route needs a valid JWT bearer token (or your `authorize` hook's approval), checked
 * before the body is read: 401 `UNAUTHORIZED` otherwise. Then:
 * - Rights: `read` (or `run`, or `admin`) for get, scan and the thread list; `write` (or `admin`) for commit and
 *   delete. Missing right: 403 `FORBIDDEN`.
 * - Prefix: the thread id must be within the token's `prefix`, by whole segments (`inPrefix` in auth.ts; 403
 *   `FORBIDDEN` otherwise); the list only shows threads within it.
 * - Tenant isolation: `resolve` and the adapter see the thread as `${tenant}/${thread}`. Tenant ids are
 *   `[A-Za-z0-9_-]{1,64}` (no `/`), so the part before the first `/` is always exactly the token's tenant: a
 *   thread id (which may itself contain `/` and `:`) can never name another tenant's storage id, and two tenants'
 *   same-named threads never share one. The thread list only yields the caller tenant's threads (filtered by that
 *   namespace), with the namespace removed; offset and limit count those only.
 *
 * Routes (all JSON, values as standard base64 with padding):
 * - `POST   /v1/storage/threads/:thread/get`    `{ keys: string[] }` → `{ values: (string | null)[] }`
 * - `POST   /v1/storage/threads/:thread/scan`   `{ from?, to?, reverse?, limit }` → `{ entries: [key, value][], done }`.
 *   `limit` (1..1000) is required. A page also stops early once its values pass ~4 MiB; `done: true` means the
 *   range holds nothing more after the last entry (within `limit`), `done: false` means ask again after it.
 * - `POST   /v1/storage/threads/:thread/commit` `{ put?: [key, value][], del?: string[], guard?: { key, expect: string | null } }` → `{ ok: true }`
 * - `DELETE /v1/storage/threads/:thread` → `{ ok: true }`
 * - `GET    /v1/storage/threads?updatedBefore=&limit=&after=` → `{ threads: { thread, updatedAt }[], more, next }`
 *   (pages of at most 1000, oldest update first; pass `next` as `after` for the following page). Only the caller's
 *   key range is read, never every tenant's threads.
 *
 * Validation (zod, `worker/storage-schemas.ts`): bodies must be JSON objects with exactly the documented fields
 * (unknown fields are rejected), of the right types; keys are strings of at most 1024 characters (printable
 * ASCII for stored keys: get/put/del/guard; scan bounds may be any string, since a client resumes a scan from
 * `last + "\0"`); values are strict base64. A refusal is 400 `INVALID_ARGUMENT` naming the field. The caller's
 * rights are checked before the body is read. Thread ids must match {@link THREAD_ID}: letters, digits and
 * `. _ : - /`, 1 to 200 characters. `/` is allowed because thread ids are often namespaced (`user/42`, and the
 * conformance suite uses `t/x`); the client sends it percent-encoded (`t%2Fx`) as one path segment. Every
 * `/`-separated part must be non-empty and not `.` or `..`, so no id can climb or alias a path when used as a
 * key prefix or storage name downstream. No spaces, backslashes, `%`, non-ASCII or control characters. Bodies above
 * `maxBodyBytes` (default 8 MiB) are refused before they are read, with 413.
 *
 * Errors are always `{ "error": { "code", "message" } }`, never a stack trace. Status per code:
 * `INVALID_ARGUMENT` 400 (404 for an unknown route), `CONFLICT` 409, `VALUE_TOO_LARGE` 413,
 * `QUOTA_EXCEEDED` 507 (Insufficient Storage: the request was fine, the store is full — 413 would wrongly say
 * "send less"), `STORAGE_UNAVAILABLE` 503, `STORAGE_FAILED` 500 (the table for every code is in worker/http.ts, shared
 * with the run API); a thrown non-edgegraph error becomes 500 `STORAGE_FAILED` with a generic message (its details
 * stay in the server log).
 */
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Batch, StorageAdapter } from '../src/index.js'
import { toBase64 } from '../src/checkpoint/serde.js'
import { hasRight, inPrefix, requireAuth, type AuthEnv, type AuthOptions, type Right } from './auth.js'
import { badRequest, errorBody, forbidden, onApiError, routeNotFound } from './http.js'
import { parse } from './schemas.js'
import { storageSchemas } from './storage-schemas.js'

/** Allowed thread ids. */
export const THREAD_ID = /^[A-Za-z0-9._:/-]{1,200}$/

/**
 * The key a thread object with `store: 'd1'` writes into the threads it runs: the storage API then refuses raw writes to
 * them from anything but admin tokens, so the object stays their single writer (reads stay open).
 */
export const RUN_OWNER_KEY = 'o'

/** Options of {@link storageApi}. */
export interface StorageApiOptions {
  /** Largest request body in bytes (default 8 MiB); larger ones get 413 `VALUE_TOO_LARGE`. */
  maxBodyBytes?: number
  /**
   * The adapter that lists threads for `GET /v1/storage/threads`. Default: `resolve('')` (the empty string is
   * never a valid thread id, so a resolver can recognise the listing call).
   */
  list?: () => StorageAdapter | Promise<StorageAdapter>
  /**
   * Require auth on every route (`{ secret }` for HS256 JWTs, or `{ authorize }`), with per-tenant isolation:
   * see the module notes. Without it every request is served.
   */
  auth?: AuthOptions
}

/** A scan page stops once its values pass this many bytes (`done: false`), so a page stays a modest response. */
const SCAN_PAGE_BYTES = 4 * 1024 * 1024

/**
 * Creates the Hono app serving the storage API. `resolve` gives the adapter holding a thread (one shared adapter,
 * or one per thread such as a Durable Object's storage).
 */
export function storageApi(resolve: (thread: string) => StorageAdapter | Promise<StorageAdapter>, options: StorageApiOptions = {}): Hono<AuthEnv> {
  const maxBodyBytes = options.maxBodyBytes ?? 8 * 1024 * 1024
  const list = options.list ?? (() => resolve(''))
  const app = new Hono<AuthEnv>()
  const auth = options.auth

  // Auth first, so an unauthenticated request is refused before its body is read.
  if (auth !== undefined) app.use('*', requireAuth(auth))

  app.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) => c.json(errorBody('VALUE_TOO_LARGE', `request body is above the ${maxBodyBytes}-byte limit; commit fewer or smaller values at once`), 413),
    }),
  )

  const access = (c: Context<AuthEnv>, right: Right): string => threadAccess(c, right, auth !== undefined)
  const adapterFor = async (storageId: string): Promise<[string, StorageAdapter]> => [storageId, await resolve(storageId)]

  app.post('/v1/storage/threads/:thread/get', async (c) => {
    const id = access(c, 'read')
    const { keys } = parse(storageSchemas.get, await readJson(c), 'request body')
    const [thread, adapter] = await adapterFor(id)
    const values = await adapter.get(thread, keys)
    return c.json({ values: values.map((v) => (v === undefined ? null : toBase64(v))) })
  })

  app.post('/v1/storage/threads/:thread/scan', async (c) => {
    const id = access(c, 'read')
    const { from, to, reverse, limit } = parse(storageSchemas.scan, await readJson(c), 'request body')
    const [thread, adapter] = await adapterFor(id)
    const entries: [string, string][] = []
    let bytes = 0
    let done = true
    const range = { limit, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }), ...(reverse === true ? { reverse: true } : {}) }
    for await (const [k, value] of adapter.scan(thread, range)) {
      entries.push([k, toBase64(value)])
      bytes += value.length
      if (bytes >= SCAN_PAGE_BYTES && entries.length < limit) {
        done = false
        break
      }
    }
    return c.json({ entries, done })
  })

  /** Threads the run API owns (its Durable Object is their single writer) take raw writes from admin tokens only. */
  const ownedByRuns = async (c: Context<AuthEnv>, thread: string, adapter: StorageAdapter) => {
    if (auth !== undefined && hasRight(c.get('auth'), 'admin')) return
    const [owner] = await adapter.get(thread, [RUN_OWNER_KEY])
    if (owner !== undefined) throw forbidden('this thread is run by the run API (its Durable Object is its only writer): write it with runs and state updates, or with an admin token')
  }

  app.post('/v1/storage/threads/:thread/commit', async (c) => {
    const id = access(c, 'write')
    const { put, del, guard } = parse(storageSchemas.commit, await readJson(c), 'request body')
    const batch: Batch = { ...(put === undefined ? {} : { put }), ...(del === undefined ? {} : { del }) }
    const [thread, adapter] = await adapterFor(id)
    await ownedByRuns(c, thread, adapter)
    await adapter.commit(thread, batch, guard === undefined ? undefined : { key: guard.key, expect: guard.expect ?? undefined })
    return c.json({ ok: true })
  })

  app.delete('/v1/storage/threads/:thread', async (c) => {
    const [thread, adapter] = await adapterFor(access(c, 'write'))
    await ownedByRuns(c, thread, adapter)
    await adapter.deleteThread(thread)
    return c.json({ ok: true })
  })

  app.get('/v1/storage/threads', async (c) => {
    // Only the caller tenant's threads under its prefix, namespace removed (`scope` is '' without auth).
    let scope = ''
    let prefix = ''
    if (auth !== undefined) {
      const claims = c.get('auth')
      if (!hasRight(claims, 'read')) throw forbidden('the token lacks the "read" right needed to list threads')
      scope = `${claims.tenant}/`
      prefix = claims.prefix ?? ''
    }
    // As Hono's query validator reads a query: one value as a string, a repeated one as an array.
    const query = Object.fromEntries(Object.entries(c.req.queries()).map(([name, values]) => [name, values.length === 1 ? values[0] : values]))
    const { updatedBefore, limit, after } = parse(storageSchemas.threads, query, 'query')
    const adapter = await list()
    const threads: { thread: string; updatedAt: number }[] = []
    let more = false
    if (limit > 0) {
      // Only the caller's key range is read (`<tenant>/<prefix>`); the segment rule then drops `user-10` for `user-1`.
      const options = {
        prefix: `${scope}${prefix}`,
        ...(updatedBefore === undefined ? {} : { updatedBefore }),
        ...(after === undefined ? {} : { after: { updatedAt: after.updatedAt, thread: `${scope}${after.thread}` } }),
      }
      for await (const info of adapter.threads(options)) {
        if (!inPrefix(info.thread.slice(scope.length), prefix)) continue
        if (threads.length === limit) {
          more = true
          break
        }
        threads.push({ thread: info.thread.slice(scope.length), updatedAt: info.updatedAt })
      }
    }
    const last = threads[threads.length - 1]
    return c.json({ threads, more, next: more && last ? `${last.updatedAt}:${last.thread}` : null })
  })

  app.notFound(routeNotFound('INVALID_ARGUMENT'))
  app.onError(onApiError('storage API', { code: 'STORAGE_FAILED', message: 'the storage backend failed unexpectedly; see the server log' }))

  return app
}

/**
 * The storage id of the route's `:thread`, once the id is valid and the caller may do `right` on it: the thread
 * itself without auth (`authenticated` false), `${tenant}/${thread}` with it. Throws 400 / 403 otherwise.
 */
export function threadAccess<E extends AuthEnv>(c: Context<E>, right: Right, authenticated: boolean): string {
  const thread = threadParam(c)
  if (!authenticated) return thread
  const claims = (c as unknown as Context<AuthEnv>).get('auth')
  if (!hasRight(claims, right)) throw forbidden(`the token lacks the "${right}" right needed for this request`)
  const prefix = claims.prefix ?? ''
  if (!inPrefix(thread, prefix)) throw forbidden(`thread "${thread}" is outside the token's allowed prefix "${prefix}" (prefixes match whole segments: "user-1" covers "user-1" and "user-1/...", not "user-10")`)
  return `${claims.tenant}/${thread}`
}

function threadParam(c: Context): string {
  const thread = c.req.param('thread') ?? ''
  if (!THREAD_ID.test(thread) || thread.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw badRequest(`thread id must match ${THREAD_ID} (letters, digits, ". _ : - /", 1 to 200 characters) with no empty, "." or ".." part between slashes`)
  }
  return thread
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) throw badRequest('send the body as JSON (content-type: application/json)')
  const text = await c.req.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw badRequest('request body is not valid JSON')
  }
}
