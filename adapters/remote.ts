/** @module Remote storage adapter: a thread's bytes kept in the edgegraph worker through its storage HTTP API (`worker/storage-api.ts`). */
// A browser keeps running graphs locally (diffs, chunking happen here) while the history lives server-side.
// Web-standard APIs only (fetch, btoa/atob).
import { ERROR_CODES, type ErrorCode } from '../src/errors.js'
import { fromBase64, toBase64 } from '../src/checkpoint/serde.js'
import { adapterError, checkPuts, pagedScan, type Batch, type Guard, type ScanRange, type StorageAdapter, type ThreadInfo } from '../src/checkpoint/adapter.js'

/**
 * Options of {@link createRemoteAdapter}: where the worker is and how to authenticate. The worker decides
 * where the bytes are stored and which threads a token may reach.
 */
export interface RemoteAdapterOptions {
  /** Base URL of the worker, e.g. `https://agents.example.com` (the API lives under `/v1/storage/`). */
  url: string
  /**
   * Sent as `Authorization: Bearer <token>` when given (a JWT for a worker with auth, see `worker/auth.ts`).
   * A refused token (401 UNAUTHORIZED) or a missing right or prefix (403 FORBIDDEN) throws `STORAGE_UNAVAILABLE`
   * with the server's message.
   */
  token?: string
  /** A `fetch` to use instead of the global one (tests, custom agents). */
  fetch?: typeof fetch
  /**
   * Largest value per key in bytes. Default 1.5 MiB: base64 makes it 2 MiB on the wire, well under the
   * server's 8 MiB body limit even with a few such values in one commit.
   */
  maxValueBytes?: number
}

/** Codes a server may answer with that keep their meaning here; anything else becomes `STORAGE_FAILED`. */
const CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/** Keys per `get` request and entries per scan page. */
const PAGE = 256

/**
 * Creates an adapter backed by a worker's storage API.
 *
 * @example
 * const graph = builder.compile({ checkpointer: createRemoteAdapter({ url: 'https://agents.example.com', token }) })
 */
export function createRemoteAdapter(options: RemoteAdapterOptions): StorageAdapter {
  const base = options.url.replace(/\/+$/, '')
  const maxValueBytes = options.maxValueBytes ?? 1.5 * 1024 * 1024
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init))

  const self = { name: 'remote', store: base }
  const error = (code: ErrorCode, message: string, thread: string | undefined, cause?: unknown) => adapterError(self, code, message, { thread, cause })

  async function call(method: 'GET' | 'POST' | 'DELETE', path: string, thread: string | undefined, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    const url = `${base}/v1/storage/${path}`
    let response: Response
    try {
      response = await doFetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    } catch (err) {
      throw error('STORAGE_FAILED', `cannot reach ${url}: ${err instanceof Error ? err.message : String(err)}`, thread, err)
    }
    let text: string
    try {
      text = await response.text()
    } catch (err) {
      throw error('STORAGE_FAILED', `connection lost reading the answer of ${method} ${url}`, thread, err)
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    if (!response.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error
      // The worker's auth and rate-limit codes (401 UNAUTHORIZED, 403 FORBIDDEN, 429 RATE_LIMITED) are not edgegraph
      // codes: the store cannot be used now, with these credentials, so they become STORAGE_UNAVAILABLE, keeping the
      // server's code and message (which says what to do).
      const auth = e?.code === 'UNAUTHORIZED' || e?.code === 'FORBIDDEN' || e?.code === 'RATE_LIMITED' ? e.code : undefined
      const code = auth !== undefined ? 'STORAGE_UNAVAILABLE' : typeof e?.code === 'string' && CODES.has(e.code) ? (e.code as ErrorCode) : 'STORAGE_FAILED'
      const message = typeof e?.message === 'string' ? e.message : `HTTP ${response.status} ${response.statusText}`.trim()
      throw error(code, `${method} ${url} answered ${response.status}${auth === undefined ? '' : ` ${auth}`}: ${message}`, thread)
    }
    if (json === undefined) throw error('STORAGE_FAILED', `${method} ${url} answered ${response.status} without valid JSON`, thread)
    return json
  }

  const threadPath = (thread: string) => `threads/${encodeURIComponent(thread)}`
  const malformed = (what: string, thread: string | undefined) => error('STORAGE_FAILED', `malformed answer: ${what}`, thread)

  return {
    name: 'remote',
    limits: { maxValueBytes },

    async get(thread, keys) {
      const out: (Uint8Array | undefined)[] = []
      for (let i = 0; i < keys.length; i += PAGE) {
        const chunk = keys.slice(i, i + PAGE)
        const res = (await call('POST', `${threadPath(thread)}/get`, thread, { keys: chunk })) as { values?: unknown }
        if (!Array.isArray(res.values) || res.values.length !== chunk.length) throw malformed('get values', thread)
        for (const v of res.values) out.push(v === null ? undefined : decode(v, thread))
      }
      return out
    },

    scan(thread, range: ScanRange = {}) {
      return pagedScan(range, PAGE, async ({ from, to, reverse, count }) => {
        // The server may cut a page short by bytes (done: false): ask again after the last key until full.
        const page: [string, Uint8Array][] = []
        let lo = from
        let hi = to
        while (page.length < count) {
          const body = { limit: count - page.length, ...(lo === undefined ? {} : { from: lo }), ...(hi === undefined ? {} : { to: hi }), ...(reverse ? { reverse } : {}) }
          const res = (await call('POST', `${threadPath(thread)}/scan`, thread, body)) as { entries?: unknown; done?: unknown }
          if (!Array.isArray(res.entries) || typeof res.done !== 'boolean') throw malformed('scan page', thread)
          // A server that says "not done" must make progress: an empty page, or keys that do not move on past the
          // last one, would have this loop ask forever.
          if (!res.done && res.entries.length === 0) throw error('STORAGE_FAILED', 'the server answered an empty scan page that is not done (done: false with no entries); it is broken or not an edgegraph storage API', thread)
          for (const entry of res.entries) {
            if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw malformed('scan entry', thread)
            // Each key after the one before it (strictly), and within the bounds asked for (`from` inclusive).
            const prev = page[page.length - 1]?.[0]
            const wrong = reverse ? (prev ?? hi) !== undefined && entry[0] >= (prev ?? (hi as string)) : prev !== undefined ? entry[0] <= prev : lo !== undefined && entry[0] < lo
            if (wrong) throw error('STORAGE_FAILED', `the server answered scan keys out of order or outside the range ("${entry[0]}")`, thread)
            page.push([entry[0], decode(entry[1], thread)])
          }
          const last = page[page.length - 1]
          if (res.done || last === undefined) break
          if (reverse) hi = last[0]
          else lo = `${last[0]}\u0000`
        }
        return page
      })
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, self, thread)
      const body: Record<string, unknown> = {}
      if (batch.put !== undefined) body.put = batch.put.map(([k, v]) => [k, toBase64(v)])
      if (batch.del !== undefined) body.del = batch.del
      if (guard !== undefined) body.guard = { key: guard.key, expect: guard.expect === undefined ? null : toBase64(guard.expect) }
      await call('POST', `${threadPath(thread)}/commit`, thread, body)
    },

    async deleteThread(thread) {
      await call('DELETE', threadPath(thread), thread)
    },

    async *threads(opts = {}) {
      let left = opts.limit ?? Number.POSITIVE_INFINITY
      let after = opts.after === undefined ? undefined : `${opts.after.updatedAt}:${opts.after.thread}`
      const before = opts.updatedBefore
      // Times are ms since epoch within the Date range (±8.64e15); beyond it the filter keeps all or nothing.
      if (before !== undefined && !(before > -8.64e15)) return
      const bounded = before !== undefined && before < 8.64e15
      while (left > 0) {
        const query = new URLSearchParams()
        if (bounded) query.set('updatedBefore', String(Math.ceil(before)))
        query.set('limit', String(Math.min(1000, left)))
        if (after !== undefined) query.set('after', after)
        const res = (await call('GET', `threads?${query}`, undefined)) as { threads?: unknown; more?: unknown; next?: unknown }
        if (!Array.isArray(res.threads) || typeof res.more !== 'boolean') throw malformed('thread list', undefined)
        for (const info of res.threads as ThreadInfo[]) {
          if (typeof info?.thread !== 'string' || typeof info.updatedAt !== 'number') throw malformed('thread entry', undefined)
          // The server filters by prefix; a prefix given here narrows further.
          if (opts.prefix !== undefined && !info.thread.startsWith(opts.prefix)) continue
          yield { thread: info.thread, updatedAt: info.updatedAt }
          left--
        }
        if (!res.more || res.threads.length === 0 || typeof res.next !== 'string') return
        after = res.next
      }
    },
  }

  function decode(value: unknown, thread: string): Uint8Array {
    if (typeof value !== 'string') throw malformed('value is not a base64 string', thread)
    try {
      return fromBase64(value)
    } catch (err) {
      throw error('STORAGE_FAILED', 'malformed answer: value is not valid base64', thread, err)
    }
  }
}
