/**
 * @module The deployable Worker (worker/main.ts) in a real `wrangler dev` (local workerd), driven over HTTP with
 * plain `fetch`: runs, SSE read as it arrives, interrupts, paged history, auth, tenants, busy threads, bad input,
 * CORS, and a run continued by its Durable Object's alarm after wrangler is killed mid-run and started again.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { mintToken } from '../worker/auth.js'
import { call, groupGone, removeDir, sleep, startServer, tempDir, threadPath, tokenFor, type Answer, type DevServer } from './wrangler-fixture.js'

// Starting wrangler takes seconds (bundling, workerd), and the crash test starts it twice.
vi.setConfig({ testTimeout: 30_000, hookTimeout: 120_000 })

let persistTo: string
let server: DevServer
const started: DevServer[] = []
let admin: string

beforeAll(async () => {
  persistTo = await tempDir()
  server = await startServer(persistTo)
  started.push(server)
  admin = await tokenFor(server, { tenant: 'acme' })
})

afterAll(async () => {
  for (const s of started) await s.dev.stop()
  const left: number[] = []
  for (const s of started) if (!(await groupGone(s.dev.pid))) left.push(s.dev.pid)
  if (persistTo !== undefined) await removeDir(persistTo)
  expect(left, 'wrangler process groups still alive after stop()').toEqual([])
})

let threads = 0
const newThread = (name: string): string => `${name}-${(threads++).toString(36)}`
const as = (token: string | null) => ({ token })
const run = (thread: string, body: unknown, token: string | null = admin) => call(server, 'POST', threadPath(thread, '/runs'), { token, body })
const stateOf = (thread: string, token: string | null = admin) => call(server, 'GET', threadPath(thread, '/state'), as(token))

/** Every checkpoint of a thread, newest first, following `nextBefore` pages of `limit`. */
async function fullHistory(thread: string, limit = 3): Promise<{ pages: number[]; checkpoints: any[] }> {
  const checkpoints: any[] = []
  const pages: number[] = []
  let before: string | null = null
  for (;;) {
    const page = await call(server, 'GET', threadPath(thread, `/history?limit=${limit}${before === null ? '' : `&before=${before}`}`), as(admin))
    expect(page.status, page.text).toBe(200)
    pages.push(page.json.checkpoints.length)
    checkpoints.push(...page.json.checkpoints)
    before = page.json.nextBefore
    if (before === null) return { pages, checkpoints }
  }
}

/**
 * Polls `read` every 200 ms until `done` holds or `ms` pass; returns the last value either way, for the caller to
 * assert on. Only for what nothing pushes to the test (a run re-driven by an alarm has no client): a run the test
 * starts itself is followed through its event stream instead ({@link startStreamed}).
 */
async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await sleep(200)
    value = await read()
  }
  return value
}

function expectError(answer: Answer, status: number, code: string, says?: string): void {
  expect({ status: answer.status, code: answer.json?.error?.code }, answer.text).toEqual({ status, code })
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/)
  expect(typeof answer.json.error.message).toBe('string')
  expect(answer.text).not.toMatch(/\n\s+at /)
  if (says !== undefined) expect(answer.json.error.message).toContain(says)
}

interface SseEvent {
  event: string
  data: any
}

/** Reads Server-Sent Events from a response body as they arrive, chunk by chunk. */
async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n')
    let end: number
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      let event = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      if (data.length > 0) yield { event, data: JSON.parse(data.join('\n')) }
    }
  }
  expect(buffer.trim(), 'bytes after the last complete event').toBe('')
}

/**
 * Starts a streamed run (`stream: 'updates'`) and resolves once `updates` of its update events have arrived: the run
 * is in flight, that many steps done. `rest` resolves with every event once the stream ends, or with the error
 * that cut it.
 */
async function startStreamed(thread: string, body: Record<string, unknown>, updates: number): Promise<{ rest: Promise<SseEvent[] | { error: unknown }> }> {
  const response = await fetch(`${server.url}${threadPath(thread, '/runs')}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: 'updates' }),
  })
  if (response.status !== 200) throw new Error(`the run was refused: ${response.status} ${await response.text()}`)
  const events: SseEvent[] = []
  const stream = readSse(response.body as ReadableStream<Uint8Array>)
  while (events.filter((e) => e.event === 'updates').length < updates) {
    const next = await stream.next()
    if (next.done) throw new Error(`the stream ended after ${events.length} events, before ${updates} updates: ${JSON.stringify(events).slice(0, 500)}`)
    events.push(next.value)
  }
  const rest = (async () => {
    try {
      for await (const event of stream) events.push(event)
      return events
    } catch (error) {
      return { error }
    }
  })()
  return { rest }
}

describe('runs over HTTP', () => {
  it('runs a graph to the end and answers with the state as JSON', async () => {
    const thread = newThread('json')
    const res = await run(thread, { graph: 'counter', input: { target: 3 } })
    expect(res.status, res.text).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.json.values).toEqual({ count: 3, target: 3, delayMs: 0 })
    expect(res.json.next).toEqual([])
    expect(res.json.checkpointId).toMatch(/^[0-9a-z]{16}$/)
    const state = await stateOf(thread)
    expect(state.json.checkpointId).toBe(res.json.checkpointId)
    expect(state.json.metadata.step).toBe(3)
  })

  it('streams updates and values as Server-Sent Events while the run goes on, then an end event', async () => {
    const thread = newThread('sse')
    const delayMs = 400
    const response = await fetch(`${server.url}${threadPath(thread, '/runs')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ graph: 'counter', input: { target: 3, delayMs }, stream: ['updates', 'values'] }),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/)
    const events: SseEvent[] = []
    let stateAtFirstUpdate: Answer | undefined
    for await (const event of readSse(response.body as ReadableStream<Uint8Array>)) {
      events.push(event)
      if (event.event === 'updates' && stateAtFirstUpdate === undefined) stateAtFirstUpdate = await stateOf(thread)
    }
    expect(events.map((e) => e.event)).toEqual(['values', 'updates', 'values', 'updates', 'values', 'updates', 'values', 'end'])
    expect(events.filter((e) => e.event === 'updates').map((e) => e.data)).toEqual([1, 2, 3].map((count) => ({ increment: { count } })))
    expect(events.filter((e) => e.event === 'values').map((e) => e.data.count)).toEqual([0, 1, 2, 3])
    const end = events.at(-1) as SseEvent
    expect(end.data.values).toEqual({ count: 3, target: 3, delayMs })
    expect(end.data.checkpointId).toBe((await stateOf(thread)).json.checkpointId)
    // Delivered as they happened, not buffered to the end: when the first update reached the client, the run
    // still had steps to go (a stream sent only at the end would arrive after the run had finished).
    expect(stateAtFirstUpdate?.json.next, stateAtFirstUpdate?.text).toEqual(['increment'])
    expect(stateAtFirstUpdate?.json.values.count).toBeLessThan(3)
  })

  it('stops at an interrupt, resumes with the human answer, and refuses a resume with nothing pending', async () => {
    const thread = newThread('chat')
    const first = await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'hi' }] } })
    expect(first.status, first.text).toBe(200)
    expect(first.json.next).toEqual(['review'])
    expect(first.json.interrupts).toHaveLength(1)
    expect(first.json.interrupts[0].value).toEqual({ question: 'Send this reply?', draft: 'You said: hi' })
    const resumed = await call(server, 'POST', threadPath(thread, '/resume'), { token: admin, body: { value: { approve: true, edit: 'Hello!' } } })
    expect(resumed.status, resumed.text).toBe(200)
    expect(resumed.json.values.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'Hello!' },
    ])
    expect(resumed.json.interrupts).toEqual([])
    const again = await call(server, 'POST', threadPath(thread, '/resume'), { token: admin, body: { value: { approve: true } } })
    expectError(again, 409, 'NO_PENDING_INTERRUPT')
  })

  it('pages history newest first with nextBefore until null', async () => {
    const thread = newThread('history')
    await run(thread, { graph: 'counter', input: { target: 6 } })
    const { pages, checkpoints } = await fullHistory(thread, 3)
    expect(pages).toEqual([3, 3, 1])
    expect(checkpoints.map((c) => c.metadata.step)).toEqual([6, 5, 4, 3, 2, 1, 0])
    expect(checkpoints.map((c) => c.values.count)).toEqual([6, 5, 4, 3, 2, 1, 0])
    expect(new Set(checkpoints.map((c) => c.checkpointId)).size).toBe(7)
    // Each checkpoint's parent is the next one down: one chain.
    checkpoints.slice(0, -1).forEach((c, i) => expect(c.parentId).toBe(checkpoints[i + 1].checkpointId))
    expect(checkpoints.at(-1).parentId).toBeNull()
  })

  it('refuses a second run on a thread while one is in flight with 409 THREAD_BUSY; the first finishes intact', async () => {
    const thread = newThread('busy')
    // In flight from its first update event on, with 11 more steps to go.
    const first = await startStreamed(thread, { graph: 'counter', input: { target: 12, delayMs: 250 } }, 1)
    const second = await run(thread, { input: { target: 1 } })
    expectError(second, 409, 'THREAD_BUSY', thread)
    const events = await first.rest
    if (!Array.isArray(events)) throw new Error(`the first run's stream broke: ${String(events.error)}`)
    expect(events.filter((e) => e.event === 'updates')).toHaveLength(12)
    expect(events.at(-1)?.event).toBe('end')
    expect(events.at(-1)?.data.values.count).toBe(12)
    expect((await fullHistory(thread, 100)).checkpoints.map((c) => c.metadata.step)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
  })
})

describe('auth, tenants and bad requests', () => {
  it('answers a missing, forged or expired token with 401 JSON, and runs nothing', async () => {
    const thread = newThread('auth')
    const body = { graph: 'counter', input: { target: 1 } }
    expectError(await run(thread, body, null), 401, 'UNAUTHORIZED', 'Authorization')
    // Well formed, signed with another secret: only the signature is wrong.
    const forged = await mintToken('another-secret-of-at-least-32-characters', { tenant: 'acme', rights: ['admin'] })
    const forgedAnswer = await run(thread, body, forged)
    expectError(forgedAnswer, 401, 'UNAUTHORIZED', 'signature')
    expect(forgedAnswer.headers.get('www-authenticate')).toContain('Bearer')
    const expired = await tokenFor(server, { tenant: 'acme' }, -300) // beyond the clock-skew allowance
    expectError(await run(thread, body, expired), 401, 'UNAUTHORIZED', 'expired')
    expectError(await stateOf(thread, expired), 401, 'UNAUTHORIZED', 'expired')
    expectError(await stateOf(thread), 404, 'THREAD_NOT_FOUND')
  })

  it("keeps tenants apart: tenant B cannot see tenant A's thread (404)", async () => {
    const thread = newThread('tenant')
    const a = await tokenFor(server, { tenant: 'tenant-a' })
    const b = await tokenFor(server, { tenant: 'tenant-b' })
    expect((await run(thread, { graph: 'counter', input: { target: 2 } }, a)).json.values.count).toBe(2)
    expectError(await stateOf(thread, b), 404, 'THREAD_NOT_FOUND')
    expectError(await call(server, 'GET', threadPath(thread, '/history'), as(b)), 404, 'THREAD_NOT_FOUND')
    expect((await stateOf(thread, a)).json.values.count).toBe(2)
  })

  it('answers malformed JSON with 400 and a body above 1 MiB with 413, storing nothing', async () => {
    const thread = newThread('bad')
    const malformed = await call(server, 'POST', threadPath(thread, '/runs'), { token: admin, raw: '{"graph": "counter", ', headers: { 'content-type': 'application/json' } })
    expectError(malformed, 400, 'INVALID_ARGUMENT', 'JSON')
    const big = await run(thread, { graph: 'counter', input: { target: 1 }, metadata: { blob: 'x'.repeat(1024 * 1024 + 1) } })
    expectError(big, 413, 'VALUE_TOO_LARGE')
    expectError(await stateOf(thread), 404, 'THREAD_NOT_FOUND')
  })

  it('answers a CORS preflight without a token, and adds CORS headers to errors', async () => {
    const origin = 'https://app.example'
    const preflight = await fetch(`${server.url}${threadPath('any', '/runs')}`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST')
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization')
    // A browser can read why a request failed.
    const refused = await fetch(`${server.url}${threadPath('any', '/state')}`, { headers: { origin } })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
  })
})

describe('crash of the server mid-run', () => {
  // Last in the file: it kills the server the other tests use, and starts the next one on the same persist dir.
  it('continues a run cut short by SIGKILL once wrangler is back on the same data (alarm), each step stored once', async () => {
    const thread = newThread('crash')
    const target = 30
    // 30 steps are above the default recursion limit of 25 (the re-drive counts the steps already taken against it).
    // Killed once 3 steps are done (3 update events arrived), with 27 to go.
    const pending = await startStreamed(thread, { graph: 'counter', input: { target, delayMs: 200 }, recursionLimit: 100 }, 3)
    const { pid } = server.dev
    await server.dev.kill()
    const killedAt = Date.now()
    expect(await groupGone(pid), 'wrangler, esbuild and workerd are gone after SIGKILL').toBe(true)
    // The request died with the server: its stream broke off, or ended without the run's end event.
    const cut = await pending.rest
    const reportedEnd = Array.isArray(cut) && cut.some((e) => e.event === 'end')
    expect(reportedEnd, 'the stream reported the end of a run whose server was killed mid-run').toBe(false)

    server = await startServer(persistTo, server.secret)
    started.push(server)
    // Polling the state instantiates the object, whose constructor finds the run marker and brings the lost run's
    // lease alarm (30 s after the run started) forward: the run goes on at once, well before that lease would end.
    const after = await pollUntil(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === target, 25_000)
    expect(after.json.values, `not finished ${Math.round((Date.now() - killedAt) / 1000)} s after the kill; state: ${after.text.slice(0, 500)}`).toEqual({ count: target, target, delayMs: 200 })
    expect(after.json.lastError).toBeUndefined()
    const { checkpoints } = await fullHistory(thread, 100)
    expect(checkpoints.map((c) => c.metadata.step)).toEqual(Array.from({ length: target + 1 }, (_, i) => target - i))
    expect(checkpoints.map((c) => c.values.count)).toEqual(Array.from({ length: target + 1 }, (_, i) => target - i))
    checkpoints.slice(0, -1).forEach((c, i) => expect(c.parentId).toBe(checkpoints[i + 1].checkpointId))
    // The run marker is gone: the thread takes new runs.
    const next = await run(thread, { input: { target: target + 2, delayMs: 0 } })
    expect(next.status, next.text).toBe(200)
    expect(next.json.values.count).toBe(target + 2)
  }, 120_000)
})
