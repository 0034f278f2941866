/**
 * @module The edgegraph Worker as a sync remote: its sync routes (`/v1/threads/:thread/sync/...`) run the sync
 * operations next to the thread's Durable Object, where the Worker's own runs write, so runs made in the Worker
 * come back to the device and pushes are serialized with them. Authorized by the Worker's tokens: `read` to pull,
 * `run` to push.
 */
import { ERROR_CODES, EdgegraphError, type ErrorCode } from '../errors.js'
import type { ExportedCheckpoint, Marks } from '../checkpoint/exchange.js'
import type { PullAnswer, RevChange, SyncPeer } from './peer.js'
import { decodeCheckpoints, decodeMarks, encodeCheckpoints } from './wire.js'

export interface WorkerRemoteOptions {
  /** Base URL of the Worker, e.g. `https://agents.example.com`. */
  url: string
  /** Sent as `Authorization: Bearer <token>`: a token with `read` (pull) and `run` (push) rights for the threads synced. */
  token?: string | (() => string | Promise<string>)
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch
  /**
   * The Worker's name for the graph these threads run (as registered in `createEdgegraphWorker({ graphs })`), so the
   * Worker's run API can show and continue a thread a device started.
   */
  graph?: string
}

const CODES: ReadonlySet<string> = new Set(ERROR_CODES)

/**
 * The Worker as the remote of `createSync`.
 *
 * @example
 * const sync = createSync({ local: createIndexedDBAdapter(), remote: workerRemote({ url: location.origin, token }) })
 */
export function workerRemote(options: WorkerRemoteOptions): SyncPeer {
  if (!options || typeof options.url !== 'string' || !/^https?:\/\//.test(options.url)) {
    throw new EdgegraphError('INVALID_ARGUMENT', 'workerRemote needs { url }: the Worker\'s base URL, e.g. "https://agents.example.com"')
  }
  const base = options.url.replace(/\/+$/, '')
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init))

  async function call(threadId: string, op: string, body: string): Promise<Record<string, unknown>> {
    const url = `${base}/v1/threads/${encodeURIComponent(threadId)}/sync/${op}`
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' }
    const token = typeof options.token === 'function' ? await options.token() : options.token
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    let response: Response
    try {
      response = await doFetch(url, { method: 'POST', headers, body })
    } catch (err) {
      throw fail('STORAGE_FAILED', threadId, `cannot reach ${url}: ${(err as Error)?.message ?? String(err)}. Nothing changed; sync again when online`, err)
    }
    let parsed: unknown
    try {
      parsed = await response.json()
    } catch (err) {
      throw fail('STORAGE_FAILED', threadId, `${url} answered ${response.status} with something that is not JSON`, err)
    }
    const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error
    if (!response.ok || error) {
      const code = typeof error?.code === 'string' && CODES.has(error.code) ? (error.code as ErrorCode) : response.status === 401 || response.status === 403 ? 'STORAGE_UNAVAILABLE' : 'STORAGE_FAILED'
      const message = typeof error?.message === 'string' ? error.message : `HTTP ${response.status}`
      throw fail(code, threadId, `the Worker refused sync ${op} (${response.status}): ${message}`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail('STORAGE_FAILED', threadId, `${url} answered something that is not sync data`)
    return parsed as Record<string, unknown>
  }

  function fail(code: ErrorCode, threadId: string, message: string, cause?: unknown): EdgegraphError {
    return new EdgegraphError(code, `Sync with ${base}, thread "${threadId}": ${message}.`, { cause, context: { threadId, adapter: 'worker' } })
  }

  function read<T>(threadId: string, what: string, fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw fail('STORAGE_FAILED', threadId, `the Worker answered malformed ${what}: ${(err as Error).message}. Nothing was stored`, err)
    }
  }

  return {
    name: 'worker',
    async pull(threadId, since): Promise<PullAnswer> {
      const answer = await call(threadId, 'pull', JSON.stringify({ since: since ?? null }))
      return read(threadId, 'checkpoints', () => {
        const marks = decodeMarks(answer.marks) ?? {}
        return answer.changes === undefined ? { marks } : { marks, changes: decodeCheckpoints(answer.changes), full: answer.full === true }
      })
    },
    async has(threadId, ids) {
      const answer = await call(threadId, 'has', JSON.stringify({ ids }))
      return read(threadId, 'ids', () => {
        if (!Array.isArray(answer.ids) || !answer.ids.every((x) => typeof x === 'string')) throw new Error('ids must be a list of strings')
        return answer.ids as string[]
      })
    },
    async push(threadId, checkpoints: ExportedCheckpoint[]) {
      const graph = options.graph === undefined ? '' : `,"graph":${JSON.stringify(options.graph)}`
      const answer = await call(threadId, 'push', `{"checkpoints":${encodeCheckpoints(checkpoints)}${graph}}`)
      return read(threadId, 'push answer', () => {
        if (typeof answer.added !== 'number') throw new Error('added must be a number')
        return { added: answer.added, ...revChange(answer) }
      })
    },
    async moveHead(threadId, id, expect) {
      const answer = await call(threadId, 'head', JSON.stringify({ id, expect: expect ?? null }))
      return read(threadId, 'head answer', () => {
        if (typeof answer.rev !== 'string') throw new Error('rev must be a string')
        return revChange(answer)
      })
    },
  }
}

/** The revisions in an answer (`prevRev` null when the thread had none). */
function revChange(answer: Record<string, unknown>): RevChange {
  const opt = (v: unknown) => (typeof v === 'string' ? v : undefined)
  return { rev: opt(answer.rev), prevRev: opt(answer.prevRev) }
}

export type { Marks }
