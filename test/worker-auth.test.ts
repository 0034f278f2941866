/**
 * @module Auth and tenant isolation of the worker's storage API (worker/auth.ts, worker/storage-api.ts with
 * `auth`), served by a real HTTP server on 127.0.0.1: bad tokens, rights, prefixes, tenants that must never see
 * each other's threads, the remote adapter with a token, and the conformance suite through an authenticated
 * remote adapter.
 */
import { sign } from 'hono/jwt'
import { describe, expect, it, vi } from 'vitest'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { createRemoteAdapter } from '../adapters/remote.js'
import { EdgegraphError, type StorageAdapter } from '../src/index.js'
import { mintToken, verifyToken, type AuthClaims } from '../worker/auth.js'
import { storageApi, type StorageApiOptions } from '../worker/storage-api.js'
import { runConformance } from './conformance/index.js'
import { answerOf } from './api-client.js'
import { serveApps } from './http-apps.js'

const SECRET = 'test-secret-0123456789-abcdefghijklmnop'
const OTHER_SECRET = 'another-secret-0123456789-abcdefghijkl'

const { mount } = serveApps()

/** Serves a fresh authenticated storage API over a memory adapter; `seen` records every id `resolve` got. */
function serve(options: StorageApiOptions = { auth: { secret: SECRET } }): { url: string; memory: MemoryAdapter; seen: string[] } {
  const memory = createMemoryAdapter()
  const seen: string[] = []
  const url = mount(
    storageApi((thread) => {
      seen.push(thread)
      return memory
    }, options),
  )
  return { url, memory, seen }
}

/** Everything a memory adapter holds, as comparable text. */
async function dump(memory: MemoryAdapter): Promise<string> {
  const out: string[] = []
  for await (const { thread } of memory.threads()) {
    for await (const [key, value] of memory.scan(thread)) out.push(`${thread}|${key}|${Buffer.from(value).toString('base64')}`)
  }
  return out.sort().join('\n')
}

const b64 = (text: string) => Buffer.from(text).toString('base64')
const token = (claims: Partial<AuthClaims> & { tenant: string }, secret = SECRET) => mintToken(secret, { rights: ['read', 'write'], ...claims })

interface Result {
  status: number
  json: unknown
  text: string
}

async function call(url: string, method: string, path: string, auth: string | undefined, body?: unknown): Promise<Result> {
  const headers: Record<string, string> = {}
  if (auth !== undefined) headers.authorization = auth
  if (body !== undefined) headers['content-type'] = 'application/json'
  return answerOf(await fetch(`${url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) }))
}

const bearer = (t: string) => `Bearer ${t}`
const commitBody = { put: [['k', b64('v')]] }
const commit = (url: string, thread: string, auth: string | undefined, body: unknown = commitBody) =>
  call(url, 'POST', `/v1/storage/threads/${encodeURIComponent(thread)}/commit`, auth, body)
const get = (url: string, thread: string, auth: string | undefined, keys = ['k']) =>
  call(url, 'POST', `/v1/storage/threads/${encodeURIComponent(thread)}/get`, auth, { keys })
const scan = (url: string, thread: string, auth: string | undefined) =>
  call(url, 'POST', `/v1/storage/threads/${encodeURIComponent(thread)}/scan`, auth, { limit: 100 })
const del = (url: string, thread: string, auth: string | undefined) => call(url, 'DELETE', `/v1/storage/threads/${encodeURIComponent(thread)}`, auth)
const list = (url: string, auth: string | undefined) => call(url, 'GET', '/v1/storage/threads', auth)

function expectError(result: Result, status: number, code: string, message?: RegExp): void {
  expect({ status: result.status, code: (result.json as { error?: { code?: string } } | undefined)?.error?.code }).toEqual({ status, code })
  const text = (result.json as { error: { message: unknown } }).error.message
  expect(typeof text).toBe('string')
  if (message) expect(text).toMatch(message)
  expect(result.text).not.toMatch(/\n\s+at |\.ts:\d+/)
  expect(result.text).not.toContain(SECRET)
}

/** A token with a valid HS256 signature over arbitrary header and payload. */
async function rawToken(header: object, payload: object, secret = SECRET): Promise<string> {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const data = `${enc(header)}.${enc(payload)}`
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  const sig = Buffer.from(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(data))).toString('base64url')
  return `${data}.${sig}`
}

const now = () => Math.floor(Date.now() / 1000)

describe('worker auth: token hardening', () => {
  it('allows 60 s of clock skew on exp (configurable), checks aud and iss when configured', async () => {
    const late = await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], iat: now() - 600, exp: now() - 30 })
    expect((await verifyToken(SECRET, late)).ok).toBe(true)
    expect(await verifyToken(SECRET, late, { clockSkewSeconds: 0 })).toMatchObject({ ok: false, reason: 'expired' })
    const claims = { tenant: 'acme', rights: ['read'], exp: now() + 60 }
    const forUs = await rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, aud: ['other', 'edgegraph'], iss: 'https://id.example.com' })
    expect((await verifyToken(SECRET, forUs, { audience: 'edgegraph', issuer: 'https://id.example.com' })).ok).toBe(true)
    expect(await verifyToken(SECRET, forUs, { audience: 'billing' })).toMatchObject({ ok: false, message: expect.stringMatching(/audience/) })
    expect(await verifyToken(SECRET, forUs, { issuer: 'https://evil.example.com' })).toMatchObject({ ok: false, message: expect.stringMatching(/issuer/) })
    expect(await verifyToken(SECRET, await rawToken({ alg: 'HS256', typ: 'JWT' }, claims), { audience: 'edgegraph' })).toMatchObject({ ok: false, message: expect.stringMatching(/audience/) })
    expect((await verifyToken(SECRET, await rawToken({ alg: 'HS256', typ: 'JWT' }, { ...claims, exp: now() + 3 * 86_400 }), { maxLifetimeSeconds: 86_400 })).ok).toBe(false)
  })

  it('takes a secret containing PUBLIC or PRIVATE as an HMAC key like any other (no PEM guessing)', async () => {
    for (const secret of ['-----BEGIN PRIVATE KEY-----0123456789abcdef-----END', 'my-PUBLIC-signing-secret-0123456789abcdef']) {
      const t = await mintToken(secret, { tenant: 'acme', rights: ['read'] })
      expect(await verifyToken(secret, t)).toMatchObject({ ok: true, claims: { tenant: 'acme' } })
      expect((await verifyToken(SECRET, t)).ok).toBe(false)
    }
  })

  it('refuses weak secrets: short, few different characters, or a short pattern repeated', async () => {
    for (const secret of ['short-secret', 'a'.repeat(64), 'abababababababababababababababab', '0123456789abcdef'.repeat(4), 'abcdefgh'.repeat(5)]) {
      await expect(mintToken(secret, { tenant: 'acme', rights: ['read'] }), secret).rejects.toThrow(/secret/)
      await expect(verifyToken(secret, 'a.b.c'), secret).rejects.toThrow(/secret/)
    }
  })
})

describe('worker auth: tokens', () => {
  it('mints HS256 tokens any JWT library reads, and verifies them', async () => {
    const t = await mintToken(SECRET, { tenant: 'acme', prefix: 'team-a/', rights: ['read'] }, { expiresIn: 60 })
    const header = JSON.parse(Buffer.from(t.split('.')[0] as string, 'base64url').toString()) as { alg: string }
    expect(header.alg).toBe('HS256')
    const result = await verifyToken(SECRET, t)
    expect(result.ok).toBe(true)
    if (result.ok) {
      expect(result.claims).toMatchObject({ tenant: 'acme', prefix: 'team-a/', rights: ['read'] })
      expect(result.claims.exp).toBeGreaterThan(now() + 50)
    }
    // Minted by another library (here hono's sign) with the same claims: accepted.
    const other = await sign({ tenant: 'acme', rights: ['admin'], exp: now() + 60 }, SECRET, 'HS256')
    expect((await verifyToken(SECRET, other)).ok).toBe(true)
    expect((await verifyToken(OTHER_SECRET, t)).ok).toBe(false)
    await expect(mintToken('short', { tenant: 'acme', rights: ['read'] })).rejects.toThrow(/at least 32/)
    await expect(mintToken(SECRET, { tenant: 'a/b', rights: ['read'] })).rejects.toThrow(/tenant/)
    await expect(mintToken(SECRET, { tenant: 'a:b', rights: ['read'] })).rejects.toThrow(/tenant/)
  })

  it('answers missing, malformed, forged, expired, alg none and bad-claims tokens with 401 JSON, storing nothing', async () => {
    const { url, memory, seen } = serve()
    const valid = await token({ tenant: 'acme' })
    const [h, p] = valid.split('.') as [string, string, string]
    const forgedPayload = Buffer.from(JSON.stringify({ tenant: 'evil', rights: ['admin'], exp: now() + 3600 })).toString('base64url')
    const cases: [string | undefined, RegExp][] = [
      [undefined, /missing Authorization/],
      ['', /missing Authorization/],
      [valid, /malformed Authorization/], // no "Bearer "
      ['Basic dXNlcjpwYXNz', /malformed Authorization/],
      ['Bearer', /malformed Authorization/],
      ['Bearer not-a-jwt', /not a JWT/],
      ['Bearer a.b.c', /header/],
      [bearer(`${h}.${forgedPayload}.${valid.split('.')[2]}`), /signature does not match/],
      [bearer(await token({ tenant: 'acme' }, OTHER_SECRET)), /signature does not match/],
      [bearer(await token({ tenant: 'acme', exp: now() - 120 })), /expired/], // beyond the 60 s clock-skew allowance
      [bearer(`${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`), /^the JWT algorithm is not accepted; tokens must be signed with HS256$/],
      [bearer(await rawToken({ alg: 'HS512', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], exp: now() + 60 })), /^the JWT algorithm is not accepted; tokens must be signed with HS256$/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], iat: now() + 600, exp: now() + 900 })), /issued in the future/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], iat: now(), exp: now() + 31 * 86_400 })), /lives longer than the 2592000 s/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, ['not', 'claims'])), /payload is not a JSON object/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], exp: now() + 60, iat: 'yesterday' })), /"iat" and "nbf" must be numbers/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'] })), /no "exp"/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'ac/me', rights: ['read'], exp: now() + 60 })), /tenant/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['root'], exp: now() + 60 })), /rights/],
      [bearer(await rawToken({ alg: 'HS256', typ: 'JWT' }, { tenant: 'acme', rights: ['read'], exp: now() + 60, nbf: now() + 600 })), /not valid yet/],
    ]
    for (const [auth, message] of cases) {
      const results = [await commit(url, 't', auth), await get(url, 't', auth), await scan(url, 't', auth), await del(url, 't', auth), await list(url, auth)]
      for (const result of results) expectError(result, 401, 'UNAUTHORIZED', message)
    }
    // Even an oversized or malformed body gets 401 (auth runs before the body is read).
    expectError(await call(url, 'POST', '/v1/storage/threads/t/commit', undefined, { put: [['k', 'A'.repeat(9 * 1024 * 1024)]] }), 401, 'UNAUTHORIZED')
    expect(await dump(memory)).toBe('')
    expect(seen).toEqual([])
    // The valid token works on the same app.
    expect((await commit(url, 't', bearer(valid))).status).toBe(200)
    expect(seen).toEqual(['acme/t'])
  })

  it('checks rights: read-only can get, scan and list but not commit or delete (403, nothing stored)', async () => {
    const { url, memory } = serve()
    const writer = bearer(await token({ tenant: 'acme', rights: ['write'] }))
    const reader = bearer(await token({ tenant: 'acme', rights: ['read'] }))
    const runner = bearer(await token({ tenant: 'acme', rights: ['run'] }))
    const admin = bearer(await token({ tenant: 'acme', rights: ['admin'] }))
    expect((await commit(url, 't', writer)).status).toBe(200)
    const before = await dump(memory)
    for (const auth of [reader, runner]) {
      expect((await get(url, 't', auth)).json).toEqual({ values: [b64('v')] })
      expect((await scan(url, 't', auth)).json).toEqual({ entries: [['k', b64('v')]], done: true })
      expect((await list(url, auth)).json).toMatchObject({ threads: [{ thread: 't' }], more: false })
      expectError(await commit(url, 't', auth, { put: [['k', b64('changed')]] }), 403, 'FORBIDDEN', /"write" right/)
      expectError(await commit(url, 't2', auth), 403, 'FORBIDDEN')
      expectError(await del(url, 't', auth), 403, 'FORBIDDEN', /"write" right/)
    }
    expect(await dump(memory)).toBe(before)
    // Write-only cannot read.
    expectError(await get(url, 't', writer), 403, 'FORBIDDEN', /"read" right/)
    expectError(await scan(url, 't', writer), 403, 'FORBIDDEN')
    expectError(await list(url, writer), 403, 'FORBIDDEN')
    // A token with no rights at all can do nothing.
    const none = bearer(await token({ tenant: 'acme', rights: [] }))
    expectError(await get(url, 't', none), 403, 'FORBIDDEN')
    // Admin can do everything.
    expect((await get(url, 't', admin)).status).toBe(200)
    expect((await commit(url, 't', admin, { put: [['k2', b64('w')]] })).status).toBe(200)
    expect((await del(url, 't', admin)).status).toBe(200)
    expect(await dump(memory)).toBe('')
  })

  it('confines a token to its thread prefix (403 outside it) and lists only threads under it', async () => {
    const { url, memory } = serve()
    const admin = bearer(await token({ tenant: 'acme' }))
    const teamA = bearer(await token({ tenant: 'acme', prefix: 'team-a/' }))
    expect((await commit(url, 'team-b/x', admin)).status).toBe(200)
    expect((await commit(url, 'team-a/x', teamA)).status).toBe(200)
    const before = await dump(memory)
    for (const thread of ['team-b/x', 'team-a', 'team-b/team-a/x', 'x']) {
      expectError(await get(url, thread, teamA), 403, 'FORBIDDEN', /outside the token's allowed prefix "team-a\/"/)
      expectError(await scan(url, thread, teamA), 403, 'FORBIDDEN')
      expectError(await commit(url, thread, teamA, { put: [['k', b64('evil')]] }), 403, 'FORBIDDEN')
      expectError(await del(url, thread, teamA), 403, 'FORBIDDEN')
    }
    expect(await dump(memory)).toBe(before)
    expect((await get(url, 'team-a/x', teamA)).json).toEqual({ values: [b64('v')] })
    expect(((await list(url, teamA)).json as { threads: { thread: string }[] }).threads.map((t) => t.thread)).toEqual(['team-a/x'])
    expect(((await list(url, admin)).json as { threads: { thread: string }[] }).threads.map((t) => t.thread).sort()).toEqual(['team-a/x', 'team-b/x'])
  })

  it('matches prefixes by whole segments: "user-1" reaches user-1 and user-1/..., never user-10 or user-1x', async () => {
    const { url, memory } = serve()
    const admin = bearer(await token({ tenant: 'acme' }))
    for (const thread of ['user-1', 'user-1/a', 'user-10', 'user-10/private', 'user-1x']) expect((await commit(url, thread, admin)).status).toBe(200)
    const before = await dump(memory)
    for (const prefix of ['user-1', 'user-1/']) {
      const scoped = bearer(await token({ tenant: 'acme', prefix }))
      const inside = prefix === 'user-1' ? ['user-1', 'user-1/a'] : ['user-1/a']
      for (const thread of inside) expect((await get(url, thread, scoped)).status, `${prefix} → ${thread}`).toBe(200)
      for (const thread of ['user-10', 'user-10/private', 'user-1x', ...(prefix === 'user-1/' ? ['user-1'] : [])]) {
        expectError(await get(url, thread, scoped), 403, 'FORBIDDEN')
        expectError(await commit(url, thread, scoped, { put: [['k', b64('evil')]] }), 403, 'FORBIDDEN')
      }
      expect(((await list(url, scoped)).json as { threads: { thread: string }[] }).threads.map((t) => t.thread).sort()).toEqual(inside)
    }
    expect(await dump(memory)).toBe(before)
  })

  it('refuses path tricks in thread ids with 400 (after auth), storing nothing', async () => {
    const { url, memory } = serve()
    const auth = bearer(await token({ tenant: 'acme' }))
    for (const thread of ['a%2F..', '..%2Fb', '%2Fa', 'a%2F%2Fb', 'a%5Cb', 'a%25b', '%2E%2E%2Fx', 'a%00b']) {
      const result = await call(url, 'POST', `/v1/storage/threads/${thread}/commit`, auth, commitBody)
      expectError(result, 400, 'INVALID_ARGUMENT')
    }
    // Climbing out of the namespace through the URL path itself does not reach a thread route.
    const climb = await call(url, 'POST', '/v1/storage/threads/../../threads/other%2Ft/commit', auth, commitBody)
    expect(climb.status).toBeGreaterThanOrEqual(400)
    expect(await dump(memory)).toBe('')
  })
})

describe('worker auth: tenant isolation', () => {
  it('keeps two tenants with the same thread id apart; B can never read, list, scan, overwrite or delete A', async () => {
    const { url, memory, seen } = serve()
    const a = bearer(await token({ tenant: 'tenant-a', rights: ['admin'] }))
    const b = bearer(await token({ tenant: 'tenant-b', rights: ['admin'] }))
    expect((await commit(url, 'shared', a, { put: [['k', b64('from A')]] })).status).toBe(200)
    expect((await commit(url, 'only-a/secret', a, { put: [['k', b64('A secret')]] })).status).toBe(200)

    // Read: B sees nothing of A's, not under the same id nor by spelling A's namespace into the thread id.
    expect((await get(url, 'shared', b)).json).toEqual({ values: [null] })
    expect((await scan(url, 'shared', b)).json).toEqual({ entries: [], done: true })
    for (const forged of ['tenant-a/shared', 'tenant-a/only-a/secret', 'tenant-a:shared', 'only-a/secret']) {
      expect((await get(url, forged, b)).json).toEqual({ values: [null] })
      expect((await scan(url, forged, b)).json).toEqual({ entries: [], done: true })
    }
    // List: B sees none of A's threads.
    expect((await list(url, b)).json).toEqual({ threads: [], more: false, next: null })

    // Write: B's same-named thread is separate.
    expect((await commit(url, 'shared', b, { put: [['k', b64('from B')]] })).status).toBe(200)
    expect((await get(url, 'shared', a)).json).toEqual({ values: [b64('from A')] })
    expect((await get(url, 'shared', b)).json).toEqual({ values: [b64('from B')] })
    expect(((await list(url, b)).json as { threads: { thread: string }[] }).threads.map((t) => t.thread)).toEqual(['shared'])
    expect(((await list(url, a)).json as { threads: { thread: string }[] }).threads.map((t) => t.thread).sort()).toEqual(['only-a/secret', 'shared'])

    // Delete: B deleting the same id, or A's namespaced id, leaves A untouched.
    for (const thread of ['shared', 'tenant-a/shared', 'tenant-a/only-a/secret', 'only-a/secret']) expect((await del(url, thread, b)).status).toBe(200)
    expect((await get(url, 'shared', a)).json).toEqual({ values: [b64('from A')] })
    expect((await get(url, 'only-a/secret', a)).json).toEqual({ values: [b64('A secret')] })
    expect((await get(url, 'shared', b)).json).toEqual({ values: [null] })

    // What the storage saw: every id is namespaced by the token's tenant, never by the thread id.
    // ('' is the default listing call `resolve('')`.)
    expect(new Set(seen.map((id) => (id === '' ? '' : id.slice(0, id.indexOf('/')))))).toEqual(new Set(['tenant-a', 'tenant-b', '']))
    expect(seen).toContain('tenant-b/tenant-a/shared')
    expect(seen).toContain('tenant-b/tenant-a:shared')
    expect((await dump(memory)).split('\n')).toEqual([`tenant-a/only-a/secret|k|${b64('A secret')}`, `tenant-a/shared|k|${b64('from A')}`])
  })

  it('pages the thread list over the caller tenant only, reading only its key range, with a cursor', async () => {
    const { url, memory } = serve()
    const a = bearer(await token({ tenant: 'a' }))
    const b = bearer(await token({ tenant: 'b' }))
    for (let i = 0; i < 3; i++) {
      expect((await commit(url, `b${i}`, b)).status).toBe(200)
      expect((await commit(url, `a${i}`, a)).status).toBe(200)
    }
    // The listing asks the adapter for the caller's range only: it never walks the other tenant's threads.
    const asked: unknown[] = []
    const threads = memory.threads.bind(memory)
    memory.threads = (opts) => (asked.push(opts), threads(opts))
    const first = await call(url, 'GET', '/v1/storage/threads?limit=2', a)
    expect(asked).toEqual([{ prefix: 'a/' }])
    expect(first.json).toMatchObject({ more: true, next: expect.stringMatching(/^\d+:a\d$/) })
    const page = await call(url, 'GET', `/v1/storage/threads?limit=2&after=${encodeURIComponent((first.json as { next: string }).next)}`, a)
    expect(page.json).toMatchObject({ more: false, next: null })
    expect([...(first.json as { threads: { thread: string }[] }).threads, ...(page.json as { threads: { thread: string }[] }).threads].map((t) => t.thread).sort()).toEqual(['a0', 'a1', 'a2'])
    const ofB = await call(url, 'GET', '/v1/storage/threads?limit=2', b)
    expect(ofB.json).toMatchObject({ more: true })
    expect((ofB.json as { threads: { thread: string }[] }).threads.every((t) => t.thread.startsWith('b'))).toBe(true)
  })

  it('supports an authorize hook for apps with their own auth', async () => {
    const { url, memory, seen } = serve({
      auth: {
        authorize: async (request) => {
          const key = request.headers.get('x-api-key')
          if (key === 'key-a') return { tenant: 'hook-a', rights: ['read', 'write'], exp: now() + 60 }
          if (key === 'throws') throw new Error('db down')
          if (key === 'bad-claims') return { tenant: 'x/y', rights: ['read'], exp: now() + 60 }
          return undefined
        },
      },
    })
    const withKey = async (key: string | undefined, thread: string) => {
      const res = await fetch(`${url}/v1/storage/threads/${thread}/commit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { 'x-api-key': key }) },
        body: JSON.stringify(commitBody),
      })
      const text = await res.text()
      return { status: res.status, text, json: JSON.parse(text) as unknown }
    }
    expect((await withKey('key-a', 't')).status).toBe(200)
    const log = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      for (const key of [undefined, 'wrong', 'throws', 'bad-claims']) expectError(await withKey(key, 'u'), 401, 'UNAUTHORIZED')
    } finally {
      log.mockRestore()
    }
    expect(seen).toEqual(['hook-a/t'])
    expect(await dump(memory)).toBe(`hook-a/t|k|${b64('v')}`)
  })
})

describe('worker auth: remote adapter', () => {
  it('round-trips with a valid token, and throws STORAGE_UNAVAILABLE with the server message for a bad one', async () => {
    const { url, memory } = serve()
    const remote = createRemoteAdapter({ url, token: await token({ tenant: 'acme' }) })
    await remote.commit('t/x', { put: [['a', new Uint8Array([1])], ['b', new Uint8Array([2])]] })
    expect(await remote.get('t/x', ['a', 'b', 'c'])).toEqual([new Uint8Array([1]), new Uint8Array([2]), undefined])
    const entries: [string, Uint8Array][] = []
    for await (const entry of remote.scan('t/x')) entries.push(entry)
    expect(entries).toEqual([['a', new Uint8Array([1])], ['b', new Uint8Array([2])]])
    const threads: string[] = []
    for await (const { thread } of remote.threads()) threads.push(thread)
    expect(threads).toEqual(['t/x'])

    const before = await dump(memory)
    const bad = [
      [createRemoteAdapter({ url, token: await token({ tenant: 'acme' }, OTHER_SECRET) }), /401 UNAUTHORIZED: the JWT signature does not match/],
      [createRemoteAdapter({ url }), /401 UNAUTHORIZED: missing Authorization header/],
      [createRemoteAdapter({ url, token: await token({ tenant: 'acme', exp: now() - 300 }) }), /401 UNAUTHORIZED: the JWT expired/],
      [createRemoteAdapter({ url, token: await token({ tenant: 'acme', rights: ['read'] }) }), /403 FORBIDDEN: the token lacks the "write" right/],
    ] as const
    for (const [adapter, message] of bad) {
      const err = await adapter.commit('t/x', { put: [['a', new Uint8Array([9])]] }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(EdgegraphError)
      expect((err as EdgegraphError).code).toBe('STORAGE_UNAVAILABLE')
      expect((err as EdgegraphError).message).toMatch(message)
      expect((err as EdgegraphError).message).toContain(`remote adapter (${url})`)
    }
    expect(await dump(memory)).toBe(before)
  })
})

/** A fresh authenticated server per adapter, each adapter under its own tenant with an admin token. */
let tenantCount = 0
async function authenticatedRemote(maxValueBytes?: number): Promise<StorageAdapter> {
  const { url } = serve()
  const t = await mintToken(SECRET, { tenant: `conf-${tenantCount++}`, rights: ['admin'] })
  return createRemoteAdapter({ url, token: t, ...(maxValueBytes === undefined ? {} : { maxValueBytes }) })
}

runConformance({
  name: 'remote (authenticated)',
  create: () => authenticatedRemote(),
  createSmall: () => authenticatedRemote(4096),
})
