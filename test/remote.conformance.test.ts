/**
 * @module The remote adapter against the worker's storage API (worker/storage-api.ts) served by a real HTTP server
 * on 127.0.0.1: the conformance suite, then the API's own answers to bad requests, and a fuzz of its validators.
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { createRemoteAdapter } from '../adapters/remote.js'
import { EdgegraphError, type StorageAdapter } from '../src/index.js'
import { storageApi } from '../worker/storage-api.js'
import { runConformance } from './conformance/index.js'
import { answerOf, type Answer } from './api-client.js'
import { serveApps } from './http-apps.js'

const { mount } = serveApps()

/** Serves a fresh storage API over `backing` and returns its base URL. */
function serve(backing: StorageAdapter, options: Parameters<typeof storageApi>[1] = {}): string {
  return mount(storageApi(() => backing, options))
}

function fresh(maxValueBytes?: number, quotaBytes?: number): { memory: MemoryAdapter; remote: StorageAdapter; url: string } {
  const memory = createMemoryAdapter({ ...(maxValueBytes === undefined ? {} : { maxValueBytes }), ...(quotaBytes === undefined ? {} : { quotaBytes }) })
  const url = serve(memory)
  return { memory, remote: createRemoteAdapter({ url, ...(maxValueBytes === undefined ? {} : { maxValueBytes }) }), url }
}

runConformance({
  name: 'remote',
  create: () => fresh().remote,
  createSmall: () => fresh(4096).remote,
  // The server's store refuses the commit; the answer (507 QUOTA_EXCEEDED) must reach the client as that code.
  createWithQuota: (quotaBytes) => fresh(undefined, quotaBytes).remote,
})

/** Everything a memory adapter holds, as comparable text. */
async function dump(memory: MemoryAdapter): Promise<string> {
  const out: string[] = []
  for await (const { thread } of memory.threads()) {
    for await (const [key, value] of memory.scan(thread)) out.push(`${thread}|${key}|${Buffer.from(value).toString('base64')}`)
  }
  return out.sort().join('\n')
}

async function collectThreads(adapter: StorageAdapter): Promise<string[]> {
  const out: string[] = []
  for await (const { thread } of adapter.threads()) out.push(thread)
  return out
}

const b64 = (text: string) => Buffer.from(text).toString('base64')

async function post(url: string, path: string, body: string, contentType = 'application/json'): Promise<Answer> {
  return answerOf(await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body }))
}

function expectError(result: { status: number; json: unknown; text: string }, status: number, code: string): void {
  expect({ status: result.status, code: (result.json as { error?: { code?: string } } | undefined)?.error?.code }).toEqual({ status, code })
  expect(typeof (result.json as { error: { message: unknown } }).error.message).toBe('string')
  expect(result.text).not.toMatch(/\n\s+at |\.ts:\d+/)
}

describe('storage API over HTTP', () => {
  it('answers malformed JSON, wrong types and unknown fields with 400 INVALID_ARGUMENT', async () => {
    const { url } = fresh()
    expectError(await post(url, '/v1/storage/threads/t/commit', '{"put": ['), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/commit', '{"put": [["k", 1]]}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/commit', '{"put": [["k", "not base64!"]]}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/commit', '{"extra": 1}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/commit', '[]'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/commit', '{}', 'text/plain'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/scan', '{"limit": 0}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/scan', '{"limit": 5, "reverse": "yes"}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/get', '{"keys": "a"}'), 400, 'INVALID_ARGUMENT')
    expectError(await post(url, '/v1/storage/threads/t/get', '{"keys": ["a\\u0001"]}'), 400, 'INVALID_ARGUMENT')
    const list = await fetch(`${url}/v1/storage/threads?limit=abc`)
    expectError({ status: list.status, text: '', json: await list.json() }, 400, 'INVALID_ARGUMENT')
    const unknown = await fetch(`${url}/v1/storage/nope`)
    expectError({ status: unknown.status, text: '', json: await unknown.json() }, 404, 'INVALID_ARGUMENT')
  })

  it('refuses thread ids outside [A-Za-z0-9._:/-]{1,200} or with empty, "." or ".." parts, with 400', async () => {
    const { url, memory } = fresh()
    const put = JSON.stringify({ put: [['k', b64('v')]] })
    const encoded = ['a%2F..', '..%2Fb', 'a%2F.%2Fb', '%2Fa', 'a%2F', 'a%2F%2Fb', 'a%20b', 'a%00b', 'a%0Ab', 'x'.repeat(201), '%C3%A9', 'a%5Cb', 'a%25b', '%2E%2E%2Fx', 'a%E0%A4%A', 'a%ZZ']
    for (const thread of encoded) expectError(await post(url, `/v1/storage/threads/${thread}/commit`, put), 400, 'INVALID_ARGUMENT')
    // A bare "." or ".." (or its escapes) is resolved by URL parsing itself, so it never reaches a thread route.
    for (const thread of ['..', '.', '%2e%2e', '%2e']) {
      const result = await post(url, `/v1/storage/threads/${thread}/commit`, put)
      expect([400, 404]).toContain(result.status)
      expect((result.json as { error: { code: string } }).error.code).toBe('INVALID_ARGUMENT')
    }
    expect(await dump(memory)).toBe('')
    for (const thread of ['x'.repeat(200), 'a.b:c_d-1', 'user%2F42%2Fdraft', '..a', 'a..b']) {
      expect((await post(url, `/v1/storage/threads/${thread}/commit`, put)).status).toBe(200)
    }
    expect((await collectThreads(memory)).sort()).toEqual(['..a', 'a..b', 'a.b:c_d-1', 'user/42/draft', 'x'.repeat(200)].sort())
  })

  it('refuses a body above the limit with 413 VALUE_TOO_LARGE before storing anything', async () => {
    const memory = createMemoryAdapter()
    const url = serve(memory, { maxBodyBytes: 64 * 1024 })
    expectError(await post(url, '/v1/storage/threads/t/commit', JSON.stringify({ put: [['k', 'A'.repeat(100 * 1024)]] })), 413, 'VALUE_TOO_LARGE')
    expect(await dump(memory)).toBe('')
    // The default limit is 8 MiB.
    const big = fresh()
    expectError(await post(big.url, '/v1/storage/threads/t/commit', JSON.stringify({ put: [['k', 'A'.repeat(9 * 1024 * 1024)]] })), 413, 'VALUE_TOO_LARGE')
  })

  it('answers a failed guard with 409 CONFLICT, and the remote adapter rethrows it as CONFLICT', async () => {
    const { url, remote, memory } = fresh()
    await remote.commit('t', { put: [['head', new Uint8Array([1])]] })
    const result = await post(url, '/v1/storage/threads/t/commit', JSON.stringify({ put: [['x', b64('x')]], guard: { key: 'head', expect: null } }))
    expectError(result, 409, 'CONFLICT')
    const err = await remote.commit('t', { put: [['x', new Uint8Array([2])]] }, { key: 'head', expect: new Uint8Array([9]) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(EdgegraphError)
    expect((err as EdgegraphError).code).toBe('CONFLICT')
    expect((err as EdgegraphError).message).toContain(`remote adapter (${url})`)
    expect(await dump(memory)).toBe(`t|head|${Buffer.from([1]).toString('base64')}`)
  })

  it('maps adapter errors to statuses and never leaks a stack trace', async () => {
    const failing: StorageAdapter = {
      ...createMemoryAdapter(),
      commit: async () => {
        throw new Error('secret internals')
      },
      deleteThread: async () => {
        throw new EdgegraphError('QUOTA_EXCEEDED', 'full')
      },
    }
    const url = serve(failing)
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const result = await post(url, '/v1/storage/threads/t/commit', '{}')
      expectError(result, 500, 'STORAGE_FAILED')
      expect(result.text).not.toContain('secret internals')
    } finally {
      log.mockRestore()
    }
    const del = await fetch(`${url}/v1/storage/threads/t`, { method: 'DELETE' })
    expect(del.status).toBe(507)
    const err = await createRemoteAdapter({ url }).deleteThread('t').catch((e: unknown) => e)
    expect((err as EdgegraphError).code).toBe('QUOTA_EXCEEDED')
  })

  it('sends the bearer token, and turns network failures into STORAGE_FAILED "cannot reach"', async () => {
    const seen: (string | null)[] = []
    const { url } = fresh()
    const remote = createRemoteAdapter({
      url,
      token: 'tok123',
      fetch: (input, init) => {
        seen.push(new Headers(init?.headers).get('authorization'))
        return fetch(input, init)
      },
    })
    await remote.get('t', ['a'])
    expect(seen).toEqual(['Bearer tok123'])
    const down = createRemoteAdapter({ url: 'http://127.0.0.1:1' })
    const err = await down.get('t', ['a']).catch((e: unknown) => e)
    expect((err as EdgegraphError).code).toBe('STORAGE_FAILED')
    expect((err as EdgegraphError).message).toMatch(/remote adapter \(http:\/\/127\.0\.0\.1:1\).*cannot reach/)
  })

  it('scans across server pages cut short by size: each key once, in order, within bounds and limit', async () => {
    const { remote } = fresh()
    // Ten values of ~1 MiB: the server ends a page after about 4 of them (done: false), and the adapter asks again
    // after the last key it got, in either direction.
    const value = (i: number) => new Uint8Array(1024 * 1024 + i).fill(i)
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
    for (const [i, key] of keys.entries()) await remote.commit('big', { put: [[key, value(i)]] })
    const cases: [Parameters<StorageAdapter['scan']>[1], string[]][] = [
      [{}, keys],
      [{ reverse: true, limit: 7 }, ['k9', 'k8', 'k7', 'k6', 'k5', 'k4', 'k3']],
      [{ from: 'k1x', to: 'k9' }, keys.slice(2, 9)],
      [{ from: 'k1', to: 'k8x', reverse: true, limit: 6 }, ['k8', 'k7', 'k6', 'k5', 'k4', 'k3']],
    ]
    for (const [range, expected] of cases) {
      const got: string[] = []
      for await (const [key, v] of remote.scan('big', range)) {
        got.push(key)
        expect({ key, length: v.length, byte: v[0] }).toEqual({ key, length: 1024 * 1024 + Number(key.slice(1)), byte: Number(key.slice(1)) })
      }
      expect({ range, keys: got }).toEqual({ range, keys: expected })
    }
  }, 60_000)

  it('fuzz: random bodies to commit/scan/get get 2xx or a 4xx JSON error, and a rejected one changes nothing', async () => {
    const { url, memory, remote } = fresh()
    await remote.commit('t', { put: [['a', new Uint8Array([1])], ['b', new Uint8Array([2])]] })
    const key = fc.oneof(fc.constantFrom('a', 'b', 'c', 'head'), fc.string({ maxLength: 8 }))
    const value = fc.oneof(fc.constantFrom(b64('x'), b64(''), 'AQ==', '==', 'A', '!!!!'), fc.base64String({ maxLength: 12 }), fc.anything({ maxDepth: 1 }))
    const nearValid = fc.oneof(
      fc.record({ put: fc.array(fc.oneof(fc.tuple(key, value), fc.anything({ maxDepth: 1 })), { maxLength: 3 }), del: fc.array(fc.oneof(key, fc.anything({ maxDepth: 0 })), { maxLength: 3 }), guard: fc.oneof(fc.record({ key, expect: fc.oneof(fc.constant(null), value) }), fc.anything({ maxDepth: 1 })) }, { requiredKeys: [] }),
      fc.record({ from: fc.oneof(key, fc.anything({ maxDepth: 0 })), to: key, reverse: fc.anything({ maxDepth: 0 }), limit: fc.oneof(fc.integer({ min: -5, max: 2000 }), fc.double(), fc.anything({ maxDepth: 0 })), keys: fc.array(key, { maxLength: 3 }) }, { requiredKeys: [] }),
      fc.dictionary(fc.string({ maxLength: 6 }), fc.anything({ maxDepth: 2 }), { maxKeys: 3 }),
    )
    const body = fc.oneof(
      nearValid.map((v) => JSON.stringify(v)),
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 30 }),
    )
    const thread = fc.oneof(fc.constant('t'), fc.constant('u'), fc.string({ minLength: 1, maxLength: 5 }).map(encodeURIComponent))
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('commit', 'scan', 'get'), thread, body, async (route, th, text) => {
        const before = await dump(memory)
        const result = await post(url, `/v1/storage/threads/${th}/${route}`, text)
        expect(result.status).not.toBeGreaterThanOrEqual(500)
        expect(result.json).toBeTypeOf('object')
        if (result.status >= 400) {
          expect(result.status).toBeLessThan(500)
          expect(typeof (result.json as { error: { code: unknown } }).error.code).toBe('string')
          expect(result.text).not.toMatch(/\n\s+at /)
          expect(await dump(memory)).toBe(before)
        } else accepted++
      }),
      // The example always runs, so `accepted` never depends on the seed (random bodies alone are rarely valid,
      // and some seeds produced none: a flaky failure).
      { numRuns: 200, examples: [['commit', 't', JSON.stringify({ put: [['c', b64('x')]] })]] },
    )
    expect(accepted).toBeGreaterThan(0)
  })
})
