/**
 * @module The storage-level HTTP API of the worker: one {@link StorageAdapter}'s contract (get, scan, commit with
 * guard, deleteThread, threads) over HTTP, so a browser can keep running graphs locally (diffs, encryption and
 * chunking stay on the client) and store the bytes in the worker. `adapters/remote.ts` is its client.
 *
 * Auth (`options.auth`, see `worker/auth.ts`): WITHOUT IT EVERY REQUEST IS SERVED; never expose such an app
 * publicly. With it, every route needs a valid JWT bearer token (or your `authorize` hook's approval), checked
 * before the body is read: 401 `UNAUTHORIZED` otherwise. Then:
 * - Rights: `read` (or `run`, or `admin`) for get, scan and the thread list; `write` (or `admin`) for commit and
 *   delete. Missing right: 403 `FORBIDDEN`.
 * - Prefix: the thread id must start with the token's `prefix` (403 `FORBIDDEN` otherwise); the list only shows
 *   threads under it.
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
 * - `GET    /v1/storage/threads?updatedBefore=&limit=&offset=` → `{ threads: { thread, updatedAt }[], more }`
 *   (pages of at most 1000; `offset` skips that many of the matching threads, oldest first).
 *
 * Validation (plain checks, no schema library): bodies must be JSON objects with exactly the documented fields
 * (unknown fields are rejected), of the right types; keys are strings of at most 1024 characters (printable
 * ASCII for stored keys: get/put/del/guard; scan bounds may be any string, since a client resumes a scan from
 * `last + "\0"`); values are strict base64. Thread ids must match {@link THREAD_ID}: letters, digits and
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
import type { Batch, Guard, StorageAdapter } from '../src/checkpoint/adapter.js'
import { hasRight, requireAuth, type AuthEnv, type AuthOptions, type Right } from './auth.js'
import { fromBase64, toBase64 } from '../src/checkpoint/serde.js'
import { badRequest, errorBody, forbidden, onApiError, routeNotFound } from './http.js'

/** Allowed thread ids. */
export const THREAD_ID = /^[A-Za-z0-9._:/-]{1,200}$/

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

const MAX_KEY = 1024
const MAX_KEYS = 1000
const MAX_SCAN = 1000
const MAX_THREADS_PAGE = 1000
const SCAN_PAGE_BYTES = 4 * 1024 * 1024
const PRINTABLE = /^[\x20-\x7e]*$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const bad = badRequest

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
    const body = fields(await readJson(c), [], ['keys'])
    const keys = stringArray(body.keys, 'keys', true, MAX_KEYS)
    const [thread, adapter] = await adapterFor(id)
    const values = await adapter.get(thread, keys)
    return c.json({ values: values.map((v) => (v === undefined ? null : toBase64(v))) })
  })

  app.post('/v1/storage/threads/:thread/scan', async (c) => {
    const id = access(c, 'read')
    const body = fields(await readJson(c), ['from', 'to', 'reverse'], ['limit'])
    const from = body.from === undefined ? undefined : key(body.from, 'from', false)
    const to = body.to === undefined ? undefined : key(body.to, 'to', false)
    if (body.reverse !== undefined && typeof body.reverse !== 'boolean') throw bad('"reverse" must be a boolean')
    const limit = integer(body.limit, 'limit', 1, MAX_SCAN)
    const [thread, adapter] = await adapterFor(id)
    const entries: [string, string][] = []
    let bytes = 0
    let done = true
    const range = { limit, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }), ...(body.reverse === true ? { reverse: true } : {}) }
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

  app.post('/v1/storage/threads/:thread/commit', async (c) => {
    const id = access(c, 'write')
    const body = fields(await readJson(c), ['put', 'del', 'guard'], [])
    const batch: Batch = {}
    if (body.put !== undefined) {
      if (!Array.isArray(body.put)) throw bad('"put" must be an array of [key, base64 value] pairs')
      if (body.put.length > MAX_KEYS) throw bad(`"put" holds more than ${MAX_KEYS} entries`)
      batch.put = body.put.map((pair, i): [string, Uint8Array] => {
        if (!Array.isArray(pair) || pair.length !== 2) throw bad(`"put[${i}]" must be a [key, base64 value] pair`)
        return [key(pair[0], `put[${i}][0]`, true), bytesOf(pair[1], `put[${i}][1]`)]
      })
    }
    if (body.del !== undefined) batch.del = stringArray(body.del, 'del', true, MAX_KEYS)
    let guard: Guard | undefined
    if (body.guard !== undefined) {
      const g = fields(body.guard, [], ['key', 'expect'], 'guard')
      guard = { key: key(g.key, 'guard.key', true), expect: g.expect === null ? undefined : bytesOf(g.expect, 'guard.expect') }
    }
    const [thread, adapter] = await adapterFor(id)
    await adapter.commit(thread, batch, guard)
    return c.json({ ok: true })
  })

  app.delete('/v1/storage/threads/:thread', async (c) => {
    const [thread, adapter] = await adapterFor(access(c, 'write'))
    await adapter.deleteThread(thread)
    return c.json({ ok: true })
  })

  app.get('/v1/storage/threads', async (c) => {
    // Only the caller tenant's threads under its prefix, namespace removed (`scope` is '' without auth).
    let scope = ''
    if (auth !== undefined) {
      const claims = c.get('auth')
      if (!hasRight(claims, 'read')) throw forbidden('the token lacks the "read" right needed to list threads')
      scope = `${claims.tenant}/${claims.prefix ?? ''}`
    }
    const query = c.req.queries()
    for (const name of Object.keys(query)) {
      if (!['updatedBefore', 'limit', 'offset'].includes(name)) throw bad(`unknown query parameter "${name}"`)
      if ((query[name] ?? []).length !== 1) throw bad(`query parameter "${name}" must be given once`)
    }
    const param = (name: string, min: number, max: number): number | undefined => {
      const raw = query[name]?.[0]
      if (raw === undefined) return undefined
      if (!/^-?\d{1,16}$/.test(raw)) throw bad(`query parameter "${name}" must be an integer`)
      return integer(Number(raw), name, min, max)
    }
    const updatedBefore = param('updatedBefore', -8.64e15, 8.64e15)
    const limit = param('limit', 0, MAX_THREADS_PAGE) ?? MAX_THREADS_PAGE
    const offset = param('offset', 0, Number.MAX_SAFE_INTEGER) ?? 0
    const adapter = await list()
    const threads: { thread: string; updatedAt: number }[] = []
    let more = false
    let seen = 0
    if (limit > 0) {
      for await (const info of adapter.threads(updatedBefore === undefined ? {} : { updatedBefore })) {
        if (auth !== undefined && !info.thread.startsWith(scope)) continue
        if (seen++ < offset) continue
        if (threads.length === limit) {
          more = true
          break
        }
        const thread = auth === undefined ? info.thread : info.thread.slice(info.thread.indexOf('/') + 1)
        threads.push({ thread, updatedAt: info.updatedAt })
      }
    }
    return c.json({ threads, more })
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
  if (!thread.startsWith(prefix)) throw forbidden(`thread "${thread}" is outside the token's allowed prefix "${prefix}"`)
  return `${claims.tenant}/${thread}`
}

function threadParam(c: Context): string {
  const thread = c.req.param('thread') ?? ''
  if (!THREAD_ID.test(thread) || thread.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw bad(`thread id must match ${THREAD_ID} (letters, digits, ". _ : - /", 1 to 200 characters) with no empty, "." or ".." part between slashes`)
  }
  return thread
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\s*(;|$)/i.test(type)) throw bad('send the body as JSON (content-type: application/json)')
  const text = await c.req.text()
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw bad('request body is not valid JSON')
  }
}

/** The object's fields, checking it is a plain object with no fields beyond `optional` and `required`. */
function fields(value: unknown, optional: string[], required: string[], where = 'body'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(`${where} must be a JSON object`)
  const record = value as Record<string, unknown>
  for (const name of Object.keys(record)) {
    if (!optional.includes(name) && !required.includes(name)) throw bad(`${where} has an unknown field "${name}"`)
  }
  for (const name of required) if (record[name] === undefined) throw bad(`${where} is missing "${name}"`)
  return record
}

function key(value: unknown, where: string, stored: boolean): string {
  if (typeof value !== 'string') throw bad(`"${where}" must be a string`)
  if (value.length > MAX_KEY) throw bad(`"${where}" is longer than ${MAX_KEY} characters`)
  if (stored && !PRINTABLE.test(value)) throw bad(`"${where}" must be printable ASCII`)
  return value
}

function stringArray(value: unknown, where: string, stored: boolean, max: number): string[] {
  if (!Array.isArray(value)) throw bad(`"${where}" must be an array of strings`)
  if (value.length > max) throw bad(`"${where}" holds more than ${max} entries`)
  return value.map((v, i) => key(v, `${where}[${i}]`, stored))
}

function integer(value: unknown, where: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw bad(`"${where}" must be an integer from ${min} to ${max}`)
  }
  return value
}

function bytesOf(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) throw bad(`"${where}" must be a base64 string`)
  const bytes = fromBase64(value)
  // Canonical only (no stray bits in the last character), so what is read back is exactly what was sent.
  if (toBase64(bytes) !== value) throw bad(`"${where}" must be canonical base64 (it decodes to bytes that encode differently)`)
  return bytes
}
