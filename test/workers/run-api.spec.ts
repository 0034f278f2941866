/**
 * @module The run API of the edgegraph Worker (worker/index.ts, worker/routes.ts, worker/thread/) inside workerd: runs, SSE, interrupts,
 * state, paged history, checkpoints, updates and forks, diffs, deletes, auth and tenant isolation, a second run on a
 * busy thread, bad input (nothing stored may change), eviction mid-run, and retention by alarm.
 */
import { env, runDurableObjectAlarm, runInDurableObject, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createRemoteAdapter } from '../../adapters/remote.js'
import { isEdgegraphError } from '../../src/index.js'
import { RUN } from '../../worker/thread/state.js'
import { threadStub } from '../../worker/thread/object.js'
import { call, newThread, parseSse, threadPath, token, waitFor } from './api.js'

const run = (thread: string, body: unknown, auth?: string) => call('POST', threadPath(thread, '/runs'), { body, ...(auth === undefined ? {} : { auth }) })
const stateOf = async (thread: string, auth?: string) => call('GET', threadPath(thread, '/state'), auth === undefined ? {} : { auth })
/** Every checkpoint of a thread, newest first, following the pages. */
async function fullHistory(thread: string): Promise<any[]> {
  const out: any[] = []
  let before: string | null = null
  for (;;) {
    const page = await call('GET', threadPath(thread, `/history?limit=3${before ? `&before=${before}` : ''}`))
    expect(page.status).toBe(200)
    out.push(...page.json.checkpoints)
    before = page.json.nextBefore
    if (before === null) return out
  }
}
const objectOf = (tenant: string, thread: string) => env.THREADS.get(env.THREADS.idFromName(`${tenant}/${thread}`))

describe('runs', () => {
  it('runs a graph to the end and answers with the state', async () => {
    const thread = newThread()
    const res = await run(thread, { graph: 'counter', input: { target: 3 } })
    expect(res.status).toBe(200)
    expect(res.json.values).toEqual({ count: 3, target: 3, delayMs: 0 })
    expect(res.json.next).toEqual([])
    expect(res.json.checkpointId).toMatch(/^[0-9a-z]{16}$/)
    const state = await stateOf(thread)
    expect(state.json.checkpointId).toBe(res.json.checkpointId)
    expect(state.json.metadata.step).toBe(3)
    // A second turn on the same thread keeps its graph; naming another one is refused.
    expect((await run(thread, { input: { target: 5 } })).json.values.count).toBe(5)
    const other = await run(thread, { graph: 'chat', input: { messages: [] } })
    expect(other.status).toBe(409)
    expect(other.json.error.message).toContain('runs graph "counter"')
  })

  it('streams updates and values as Server-Sent Events, then the final state', async () => {
    const thread = newThread()
    const res = await run(thread, { graph: 'counter', input: { target: 2 }, stream: ['updates', 'values'] })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const events = parseSse(res.text)
    expect(events.map((e) => e.event)).toEqual(['values', 'updates', 'values', 'updates', 'values', 'end'])
    expect(events[1]?.data).toEqual({ increment: { count: 1 } })
    expect(events.at(-2)?.data).toEqual({ count: 2, target: 2, delayMs: 0 })
    expect(events.at(-1)?.data.values.count).toBe(2)
  })

  it('reports a failure inside a stream as an error event', async () => {
    const thread = newThread()
    const res = await run(thread, { graph: 'counter', input: { count: 0, target: 50 }, recursionLimit: 3, stream: 'values' })
    const events = parseSse(res.text)
    expect(events.at(-1)).toEqual({ event: 'error', data: { error: { code: 'RECURSION_LIMIT', message: expect.stringContaining('3 steps') } } })
  })

  it('stops at an interrupt, resumes with a value, and refuses a resume with nothing pending', async () => {
    const thread = newThread('chat')
    const first = await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'hi' }] } })
    expect(first.json).not.toHaveProperty('error')
    expect(first.json.interrupts).toHaveLength(1)
    expect(first.json.interrupts[0].value).toEqual({ question: 'Send this reply?', draft: 'You said: hi' })
    const resumed = await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: true } } })
    expect(resumed.status).toBe(200)
    expect(resumed.json.values.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'You said: hi' },
    ])
    const before = await fullHistory(thread)
    const again = await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: true } } })
    expect(again.status).toBe(409)
    expect(again.json.error.code).toBe('NO_PENDING_INTERRUPT')
    expect(await fullHistory(thread)).toEqual(before)
  })

  it('answers an interrupt with a run whose command carries resume', async () => {
    const thread = newThread('chat')
    await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'hey' }] } })
    const resumed = await run(thread, { command: { resume: { approve: true, edit: 'by command' } } })
    expect(resumed.status).toBe(200)
    expect(resumed.json.interrupts).toEqual([])
    expect(resumed.json.values.messages.at(-1)).toEqual({ role: 'assistant', content: 'by command' })
  })

  it('answers interrupts by id', async () => {
    const thread = newThread('chat')
    const first = await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'yo' }] } })
    const id = first.json.interrupts[0].id as string
    const resumed = await call('POST', threadPath(thread, '/resume'), { body: { values: { [id]: { approve: true, edit: 'edited' } } } })
    expect(resumed.json.values.messages.at(-1)).toEqual({ role: 'assistant', content: 'edited' })
  })

  it('pages history, reads one checkpoint, diffs two, forks from an old one and deletes the thread', async () => {
    const thread = newThread()
    await run(thread, { graph: 'counter', input: { target: 4 } })
    const history = await fullHistory(thread)
    expect(history.map((c) => c.metadata.step)).toEqual([4, 3, 2, 1, 0])
    expect(new Set(history.map((c) => c.checkpointId)).size).toBe(5)
    const step1 = history.find((c) => c.metadata.step === 1)
    const one = await call('GET', threadPath(thread, `/checkpoints/${step1.checkpointId}`))
    expect(one.status).toBe(200)
    expect(one.json.values.count).toBe(1)
    const diff = await call('GET', threadPath(thread, `/diff?from=${step1.checkpointId}&to=${history[0].checkpointId}`))
    expect(diff.json.patch).toEqual([{ op: 'replace', path: '/count', value: 4 }])
    const inputs = await call('GET', threadPath(thread, '/history?source=input'))
    expect(inputs.json.checkpoints.map((c: any) => c.metadata.source)).toEqual(['input'])

    const fork = await call('POST', threadPath(thread, '/state'), { body: { values: { count: 10 }, checkpointId: step1.checkpointId } })
    expect(fork.status).toBe(200)
    const forked = await call('GET', threadPath(thread, `/checkpoints/${fork.json.checkpointId}`))
    expect(forked.json.values.count).toBe(10)
    expect(forked.json.parentId).toBe(step1.checkpointId)
    // The old branch is untouched.
    expect((await call('GET', threadPath(thread, `/checkpoints/${history[0].checkpointId}`))).json.values.count).toBe(4)

    expect((await call('DELETE', threadPath(thread))).status).toBe(200)
    const gone = await stateOf(thread)
    expect(gone.status).toBe(404)
    expect(gone.json.error.code).toBe('THREAD_NOT_FOUND')
    const missing = await call('GET', threadPath(thread, `/checkpoints/${step1.checkpointId}`))
    expect(missing.status).toBe(404)
  })

  it('ends a history page early once its JSON passes 8 MiB (RPC carries at most 32 MiB), and the next pages hold the rest', async () => {
    const thread = newThread('big')
    // failOnce: a counter whose channels take any value (the example counter's schemas refuse strings).
    await run(thread, { graph: 'failOnce', input: { target: 1 } })
    // 12 checkpoints of ~900 KB each (a body holds at most 1 MiB): ~10.8 MB, more than one page may carry.
    for (let i = 0; i < 12; i++) {
      const update = await call('POST', threadPath(thread, '/state'), { body: { values: { count: String(i % 10).repeat(900_000) }, asNode: 'increment' } })
      expect(update.status).toBe(200)
    }
    const first = await call('GET', threadPath(thread, '/history?limit=100'))
    expect(first.status).toBe(200)
    expect(first.json.checkpoints.length).toBeLessThan(12)
    expect(first.json.checkpoints.length).toBeGreaterThan(1)
    expect(first.json.nextBefore).toBe(first.json.checkpoints.at(-1).checkpointId)
    const all: any[] = [...first.json.checkpoints]
    for (let before = first.json.nextBefore; before !== null; ) {
      const page = await call('GET', threadPath(thread, `/history?limit=100&before=${before}`))
      all.push(...page.json.checkpoints)
      before = page.json.nextBefore
    }
    expect(all.map((c) => c.metadata.step)).toEqual([13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0])
    expect(all[0].values.count).toBe('1'.repeat(900_000))
  })

  it('answers a node failure with 500 NODE_FAILED, keeps the finished steps, and continues with input null', async () => {
    const thread = newThread('fail')
    const res = await run(thread, { graph: 'failOnce', input: { target: 5, failAt: 2, key: thread } })
    expect(res.status).toBe(500)
    expect(res.json.error.code).toBe('NODE_FAILED')
    // The node's own exception text stays in the server log: the answer says where it failed and what to do.
    expect(res.json.error.message).toMatch(/^Node "increment" failed at checkpoint "[0-9a-z]{16}"; its error is in the server log/)
    expect(res.text).not.toContain('model timed out')
    const state = await stateOf(thread)
    expect(state.json.values.count).toBe(2)
    expect(state.json.tasks[0].error).toEqual({ name: 'Error', message: 'hidden: see the server log (exposeErrors)' })
    expect(state.text).not.toContain('model timed out')
    // The run ended (no re-drive pending): the client decides, and a continue re-runs only the failed node.
    const resumed = await run(thread, { input: null })
    expect(resumed.status).toBe(200)
    expect(resumed.json.values.count).toBe(5)
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([5, 4, 3, 2, 1, 0])
  })

  it('answers bad input to the example graphs with 400 naming the channel or what the node expects, never an internal message', async () => {
    const thread = newThread('bad-input')
    const bad = await run(thread, { graph: 'chat', input: { messages: 'hello' } })
    expect(bad.status).toBe(400)
    expect(bad.json.error.code).toBe('INVALID_UPDATE')
    expect(bad.json.error.message).toMatch(/channel "messages" invalid.*expected object/)
    expect(bad.text).not.toMatch(/is not iterable|Cannot read/)
    for (const input of [{ target: 1e9 }, { target: 3, delayMs: 86_400_000 }, { target: -1 }, { target: 'many' }]) {
      const res = await run(newThread('bounded'), { graph: 'counter', input })
      expect(res.status, JSON.stringify(input)).toBe(400)
      expect(res.json.error.message).toMatch(/channel "(target|delayMs)"/)
    }
    const waiting = await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'hi' }] } })
    expect(waiting.json.next).toEqual(['review'])
    for (const value of [null, 'yes', { approve: 'yes' }, { approve: true, edit: 7 }]) {
      const res = await call('POST', threadPath(thread, '/resume'), { body: { value } })
      expect(res.status, JSON.stringify(value)).toBe(400)
      expect(res.json.error).toEqual({ code: 'INVALID_ARGUMENT', message: 'resume the review with { "approve": true | false, "edit"?: "new text" }' })
    }
    // Still waiting for a proper answer.
    expect((await stateOf(thread)).json.interrupts).toHaveLength(1)
    expect((await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: true } } })).json.values.messages).toHaveLength(2)
  })

  it('keeps running when the client of a stream goes away', async () => {
    const thread = newThread('gone')
    const response = await SELF.fetch(`https://edgegraph.test${threadPath(thread, '/runs')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ graph: 'counter', input: { target: 6, delayMs: 50 }, stream: 'updates' }),
    })
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first).toContain('event: updates')
    await reader.cancel()
    const done = await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === 6)
    expect(done.json.next).toEqual([])
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([6, 5, 4, 3, 2, 1, 0])
  })

  it('refuses a second run while one is in flight (409), and the first one finishes intact', async () => {
    const thread = newThread('busy')
    // The first run's node stops at count 2 (freezeOnce): it is in flight for as long as the test needs, whatever
    // the machine's speed, from the moment its step 2 is stored.
    const first = run(thread, { graph: 'freezeOnce', input: { target: 4, freezeAt: 2, key: thread } })
    await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === 2)
    const second = await run(thread, { input: { target: 1 } })
    expect(second.status).toBe(409)
    expect(second.json.error.code).toBe('THREAD_BUSY')
    const update = await call('POST', threadPath(thread, '/state'), { body: { values: { count: 99 } } })
    expect(update.status).toBe(409)
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([2, 1, 0])
    // Only an object reset gets past the frozen node; the run's alarm then finishes it from its last checkpoint.
    await runInDurableObject(objectOf('acme', thread), (_instance, state) => state.abort('test: unfreeze')).catch(() => undefined)
    await first
    await runDurableObjectAlarm(objectOf('acme', thread))
    const done = await waitFor(() => stateOf(thread), (s) => s.json.values?.count === 4)
    expect(done.json.values).toEqual({ count: 4, target: 4, freezeAt: 2, key: thread })
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([4, 3, 2, 1, 0])
  })
})

describe('auth and tenant isolation', () => {
  it('refuses missing, malformed, forged and expired tokens with 401', async () => {
    const thread = newThread()
    const path = threadPath(thread, '/runs')
    const body = { graph: 'counter', input: {} }
    const none = await call('POST', path, { body, auth: null })
    expect(none.status).toBe(401)
    expect(none.json.error.code).toBe('UNAUTHORIZED')
    expect((await call('POST', path, { body, auth: 'not-a-jwt' })).status).toBe(401)
    const good = await token()
    const [h, p] = good.split('.')
    const forged = await call('POST', path, { body, auth: `${h}.${p}.${'A'.repeat(43)}` })
    expect(forged.status).toBe(401)
    expect(forged.json.error.message).toContain('signature')
    const expired = await call('POST', path, { body, auth: await token({}, -300) })
    expect(expired.status).toBe(401)
    expect(expired.json.error.message).toContain('expired')
    // Nothing ran.
    expect((await stateOf(thread)).status).toBe(404)
  })

  it('checks rights and the thread prefix (403)', async () => {
    const thread = newThread('team-a/x')
    const reader = await token({ rights: ['read'] })
    const denied = await run(thread, { graph: 'counter', input: {} }, reader)
    expect(denied.status).toBe(403)
    expect(denied.json.error.code).toBe('FORBIDDEN')
    expect((await run(thread, { graph: 'counter', input: { target: 1 } }, await token({ rights: ['run'] }))).status).toBe(200)
    expect((await stateOf(thread, reader)).status).toBe(200)
    expect((await call('DELETE', threadPath(thread), { auth: await token({ rights: ['run'] }) })).status).toBe(403)
    const outside = await stateOf(thread, await token({ rights: ['read'], prefix: 'team-b/' }))
    expect(outside.status).toBe(403)
    expect(outside.json.error.message).toContain('prefix')
  })

  it('a refused request changes nothing: no thread record, no graph taken, no alarm', async () => {
    const objectAlarm = (thread: string) => runInDurableObject(objectOf('acme', thread), (_o, state) => state.storage.getAlarm())
    const cases: [string, unknown, number][] = [
      [newThread('refused'), { graph: 'counter', input: null, checkpointId: 'zzzzzzzzzzzzzzzz' }, 404],
      [newThread('refused'), { graph: 'counter', input: { nope: 1 } }, 400],
      [newThread('refused'), { graph: 'counter', input: { target: 'x' } }, 400],
      [newThread('refused'), { graph: 'counter', command: { resume: 1 } }, 404],
    ]
    for (const [thread, body, status] of cases) {
      expect((await run(thread, body)).status, JSON.stringify(body)).toBe(status)
      expect((await stateOf(thread)).status).toBe(404)
      expect(await objectAlarm(thread)).toBeNull()
      // The thread is still free to start with any graph.
      expect((await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'hi' }] } })).status).toBe(200)
    }
    const none = newThread('no-retention')
    const retention = await call('PUT', threadPath(none, '/retention'), { body: { ttlSeconds: 60 } })
    expect(retention.status).toBe(404)
    expect(retention.json.error.code).toBe('THREAD_NOT_FOUND')
    expect(await objectAlarm(none)).toBeNull()
    expect((await stateOf(none)).status).toBe(404)
  })

  it('caps run metadata at 16 KiB (413), storing nothing', async () => {
    const thread = newThread('meta')
    const big = await run(thread, { graph: 'counter', input: { target: 2 }, metadata: { note: 'x'.repeat(17 * 1024) } })
    expect(big.status).toBe(413)
    expect(big.json.error).toMatchObject({ code: 'VALUE_TOO_LARGE', message: expect.stringMatching(/above the 16384-byte limit/) })
    expect((await stateOf(thread)).status).toBe(404)
    const ok = await run(thread, { graph: 'counter', input: { target: 2 }, metadata: { note: 'x'.repeat(15 * 1024) } })
    expect(ok.status).toBe(200)
  })

  it('stores run metadata once per run, not per checkpoint, and shows it on every checkpoint of the run', async () => {
    const stored = async (thread: string) => runInDurableObject(objectOf('acme', thread), async (_o, state) => state.storage.sql.databaseSize)
    const plain = newThread('meta-plain')
    const tagged = newThread('meta-tagged')
    const note = 'n'.repeat(12 * 1024)
    expect((await run(plain, { graph: 'counter', input: { target: 60 }, recursionLimit: 100 })).status).toBe(200)
    expect((await run(tagged, { graph: 'counter', input: { target: 60 }, recursionLimit: 100, metadata: { note, user: 'u1' } })).status).toBe(200)
    // 61 checkpoints: a copy per checkpoint would be ~730 KB more; once per run is one copy.
    expect((await stored(tagged)) - (await stored(plain))).toBeLessThan(64 * 1024)
    const history = await fullHistory(tagged)
    expect(history).toHaveLength(61)
    for (const c of history) expect(c.metadata).toMatchObject({ note, user: 'u1', source: expect.any(String), step: expect.any(Number) })
    expect(history.every((c) => c.metadata.$run === undefined)).toBe(true)
    expect((await stateOf(tagged)).json.metadata.user).toBe('u1')
    // A second run keeps its own metadata; the first run's checkpoints keep theirs.
    await run(tagged, { input: { target: 62 }, metadata: { user: 'u2' } })
    const again = await fullHistory(tagged)
    expect(again[0].metadata.user).toBe('u2')
    expect(again.at(-1).metadata.user).toBe('u1')
  })

  it('says nothing about its graphs without a token: GET / names only the API', async () => {
    const root = await SELF.fetch('https://edgegraph.test/')
    expect(await root.json()).toEqual({ name: 'edgegraph', api: '/v1' })
    expect((await call('GET', '/v1/graphs', { auth: null })).status).toBe(401)
    expect((await call('GET', '/v1/graphs')).json.graphs).toContain('counter')
  })

  it('matches a prefix by whole segments: a token for user-1 cannot run user-10 nor read user-10/private', async () => {
    const base = newThread('user')
    for (const t of [`${base}-10`, `${base}-10/private`]) expect((await run(t, { graph: 'counter', input: { target: 1 } })).status).toBe(200)
    const user1 = await token({ rights: ['run'], prefix: `${base}-1` })
    expect((await run(`${base}-10`, { graph: 'counter', input: { target: 2 } }, user1)).status).toBe(403)
    expect((await stateOf(`${base}-10/private`, user1)).status).toBe(403)
    expect((await stateOf(`${base}-1x`, user1)).status).toBe(403)
    expect((await run(`${base}-1`, { graph: 'counter', input: { target: 1 } }, user1)).status).toBe(200)
    expect((await run(`${base}-1/chat`, { graph: 'counter', input: { target: 1 } }, user1)).status).toBe(200)
    expect((await stateOf(`${base}-10`)).json.values.count).toBe(1) // untouched
  })

  it('keeps tenants apart: same thread id, different objects; no reading, running or deleting across', async () => {
    const thread = newThread('shared-name')
    const a = await token({ tenant: 'tenant-a' })
    const b = await token({ tenant: 'tenant-b' })
    expect((await run(thread, { graph: 'counter', input: { target: 2 } }, a)).json.values.count).toBe(2)
    const peek = await stateOf(thread, b)
    expect(peek.status).toBe(404)
    expect((await call('GET', threadPath(thread, '/history'), { auth: b })).status).toBe(404)
    expect((await call('DELETE', threadPath(thread), { auth: b })).status).toBe(200) // deletes B's (empty) thread only
    expect((await run(thread, { graph: 'counter', input: { target: 7 } }, b)).json.values.count).toBe(7)
    expect((await stateOf(thread, a)).json.values.count).toBe(2)
    // A thread id cannot climb into another tenant's namespace.
    const climb = await call('GET', `/v1/threads/${encodeURIComponent(`../tenant-a/${thread}`)}/state`, { auth: b })
    expect(climb.status).toBe(400)
  })
})

describe('rate limit', () => {
  it('answers 429 with retry-after once a tenant passes its limit, and other tenants go on', async () => {
    const limited = await token({ tenant: `limited-${Date.now().toString(36)}` })
    const statuses: number[] = []
    for (let i = 0; i < 12; i++) statuses.push((await call('GET', threadPath('any', '/state'), { auth: limited })).status)
    expect(statuses.slice(0, 10).every((s) => s === 404)).toBe(true)
    const over = await call('GET', threadPath('any', '/state'), { auth: limited })
    expect(over.status).toBe(429)
    expect(over.json.error.code).toBe('RATE_LIMITED')
    expect(over.headers.get('retry-after')).toBe('60')
    expect((await call('GET', threadPath('any', '/state'))).status).toBe(404)
    // The storage API counts against the same limit.
    const storage = await call('POST', '/v1/storage/threads/any/get', { auth: limited, body: { keys: ['h'] } })
    expect(storage.status).toBe(429)
    expect(storage.json.error.code).toBe('RATE_LIMITED')
    // A remote adapter (a browser running graphs itself) sees it as STORAGE_UNAVAILABLE, with the reason.
    const remote = createRemoteAdapter({ url: 'https://edgegraph.test', token: limited, fetch: (input, init) => SELF.fetch(input, init) })
    const err = await remote.get('any', ['h']).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'STORAGE_UNAVAILABLE')).toBe(true)
    expect((err as Error).message).toContain('429 RATE_LIMITED: too many requests')
  })
})

describe('runs have an end: cancel, delete, deadline', () => {
  it('cancel stops the run at its next step boundary, keeps its checkpoints, and the alarm does not continue it', async () => {
    const thread = newThread('cancel')
    const pending = run(thread, { graph: 'counter', input: { target: 200, delayMs: 100 } })
    await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count >= 2)
    const cancelled = await call('POST', threadPath(thread, '/cancel'))
    expect(cancelled.status).toBe(200)
    expect(cancelled.json).toEqual({ cancelled: true })
    const answer = await pending
    expect(answer.json.error.code).toBe('ABORTED')
    const stopped = (await stateOf(thread)).json
    expect(stopped.next).toEqual(['increment'])
    expect(stopped.values.count).toBeGreaterThanOrEqual(2)
    expect(stopped.values.count).toBeLessThan(200)
    await runDurableObjectAlarm(objectOf('acme', thread))
    expect((await stateOf(thread)).json.values.count).toBe(stopped.values.count)
    // Nothing to cancel now; and the thread continues when asked.
    expect((await call('POST', threadPath(thread, '/cancel'))).json).toEqual({ cancelled: false })
    expect((await run(thread, { input: null, recursionLimit: 500 })).json.values.count).toBe(200)
  })

  it('cancel needs the run right', async () => {
    const res = await call('POST', threadPath(newThread('cancel'), '/cancel'), { auth: await token({ rights: ['read'] }) })
    expect(res.status).toBe(403)
  })

  it('DELETE cancels a run going on first, then deletes', async () => {
    const thread = newThread('delete-running')
    const pending = run(thread, { graph: 'counter', input: { target: 200, delayMs: 100 } })
    await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count >= 1)
    const deleted = await call('DELETE', threadPath(thread))
    expect(deleted.status).toBe(200)
    expect((await pending).json.error.code).toBe('ABORTED')
    expect((await stateOf(thread)).status).toBe(404)
  })

  it('stops a run at its deadline (maxRunMs), checkpoints kept', async () => {
    const thread = newThread('deadline')
    const stub = threadStub(env.THREADS_SHORT, `acme/${thread}`)
    const started = Date.now()
    const outcome = await stub.run({ thread: `acme/${thread}`, graph: 'counter', input: { target: 100, delayMs: 200 } })
    expect(outcome.ok).toBe(false)
    if (!outcome.ok) expect(outcome.error.code).toBe('ABORTED')
    expect(Date.now() - started).toBeLessThan(5_000)
    const state = await stub.state(`acme/${thread}`)
    expect(state.ok && state.value.values).toMatchObject({ target: 100 })
    expect(state.ok && (state.value.values as { count: number }).count).toBeGreaterThan(2)
    expect(state.ok && state.value.next).toEqual(['increment'])
  })
})

describe('rate limit: before auth, per token, per tenant', () => {
  it('counts requests with bad tokens by client address before checking them', async () => {
    const ip = `10.99.${Date.now() % 250}.${Math.floor(Math.random() * 250)}`
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await call('GET', threadPath('any', '/state'), { auth: 'forged.token.here', headers: { 'cf-connecting-ip': ip } })).status)
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401))
    expect(statuses[10]).toBe(429)
    // Another address is not held back.
    expect((await call('GET', threadPath('any', '/state'), { auth: 'forged.token.here', headers: { 'cf-connecting-ip': `${ip}9` } })).status).toBe(401)
  })

  it('one token cannot spend the whole tenant\'s budget: an intern at its limit leaves the admin working, until the tenant\'s own limit', async () => {
    const tenant = `limited-${Date.now().toString(36)}t`
    const intern = await token({ tenant, sub: 'intern', rights: ['read'], prefix: 'intern/' })
    const admin = await token({ tenant, sub: 'admin' })
    const get = (auth: string) => call('GET', threadPath('intern/x', '/state'), { auth })
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await get(intern)).status)
    expect(statuses).toEqual([...Array(10).fill(404), 429])
    // The tenant has counted 10 of its 15 (the refused 11th stopped at the token's limit): the admin still gets through.
    for (let i = 0; i < 5; i++) expect((await get(admin)).status).toBe(404)
    const over = await get(admin)
    expect(over.status).toBe(429)
    expect(over.json.error.message).toContain('for this tenant')
  })

  it('answers 503 when the limiter fails, not 500', async () => {
    const res = await call('GET', threadPath('any', '/state'), { headers: { 'x-test-limiter': 'broken' } })
    expect(res.status).toBe(503)
    expect(res.json.error).toEqual({ code: 'RATE_LIMITED', message: 'the rate limiter is not answering; retry in a moment' })
  })
})

describe('bad input', () => {
  const cases: [name: string, method: string, path: (t: string) => string, options: Parameters<typeof call>[2], status: number, code: string, says?: string][] = [
    ['malformed JSON', 'POST', (t) => threadPath(t, '/runs'), { raw: '{"graph": "counter", ', headers: { 'content-type': 'application/json' } }, 400, 'INVALID_ARGUMENT', 'JSON'],
    ['no JSON content type', 'POST', (t) => threadPath(t, '/runs'), { raw: '{}', headers: { 'content-type': 'text/plain' } }, 400, 'INVALID_ARGUMENT'],
    ['wrong type', 'POST', (t) => threadPath(t, '/runs'), { body: { graph: 'counter', input: 'hello' } }, 400, 'INVALID_ARGUMENT', 'input'],
    ['unknown field', 'POST', (t) => threadPath(t, '/runs'), { body: { graph: 'counter', inputs: {} } }, 400, 'INVALID_ARGUMENT', 'inputs'],
    ['bad recursion limit', 'POST', (t) => threadPath(t, '/runs'), { body: { graph: 'counter', recursionLimit: -1 } }, 400, 'INVALID_ARGUMENT', 'recursionLimit'],
    ['unknown graph', 'POST', (t) => threadPath(t, '/runs'), { body: { graph: 'nope', input: {} } }, 404, 'NOT_FOUND', 'nope'],
    ['unknown channel', 'POST', (t) => threadPath(t, '/runs'), { body: { input: { counter: 1 } } }, 400, 'INVALID_UPDATE', 'counter'],
    ['resume without value', 'POST', (t) => threadPath(t, '/resume'), { body: {} }, 400, 'INVALID_ARGUMENT'],
    ['bad checkpoint id', 'GET', (t) => threadPath(t, '/checkpoints/..%2F..'), {}, 400, 'INVALID_ARGUMENT'],
    ['unknown checkpoint', 'GET', (t) => threadPath(t, '/checkpoints/zzzzzzzzzzz'), {}, 404, 'CHECKPOINT_NOT_FOUND'],
    ['bad history limit', 'GET', (t) => threadPath(t, '/history?limit=0'), {}, 400, 'INVALID_ARGUMENT', 'limit'],
    ['unknown query parameter', 'GET', (t) => threadPath(t, '/state?x=1'), {}, 400, 'INVALID_ARGUMENT'],
    ['dot-dot thread', 'GET', () => `/v1/threads/${encodeURIComponent('a/../b')}/state`, {}, 400, 'INVALID_ARGUMENT', 'thread id'],
    ['thread with a space', 'GET', () => `/v1/threads/${encodeURIComponent('a b')}/state`, {}, 400, 'INVALID_ARGUMENT', 'thread id'],
    ['unknown route', 'GET', (t) => threadPath(t, '/nothing'), {}, 404, 'NOT_FOUND'],
    ['oversized body', 'POST', (t) => threadPath(t, '/runs'), { body: { input: { target: 1 }, metadata: { blob: 'x'.repeat(1_100_000) } } }, 413, 'VALUE_TOO_LARGE'],
    ['bad retention', 'PUT', (t) => threadPath(t, '/retention'), { body: { keepLast: 0 } }, 400, 'INVALID_ARGUMENT', 'keepLast'],
  ]

  it.each(cases)('%s: the right status and code, nothing stored changes', async (_name, method, path, options, status, code, says) => {
    const thread = newThread('bad')
    await run(thread, { graph: 'counter', input: { target: 2 } })
    const before = await fullHistory(thread)
    const res = await call(method, path(thread), options)
    expect(res.status).toBe(status)
    expect(res.json?.error?.code).toBe(code)
    expect(res.json.error.message).not.toMatch(/\n\s+at /) // never a stack trace
    if (says !== undefined) expect(res.json.error.message).toContain(says)
    expect(await fullHistory(thread)).toEqual(before)
  })
})

describe('eviction and retention', () => {
  it('continues a run whose object was aborted mid-run from its last checkpoint (alarm)', async () => {
    const thread = newThread('evict')
    // The node freezes at count 3 (as an evicted object would), the test resets the object, the alarm finishes the run.
    const pending = run(thread, { graph: 'freezeOnce', input: { target: 8, freezeAt: 3, key: thread } })
    await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === 3)
    const stub = objectOf('acme', thread)
    await runInDurableObject(stub, (_instance, state) => state.abort('test: evicted mid-run')).catch(() => undefined)
    const cut = await pending
    expect(cut.status).toBe(503) // the run's request died with the object
    expect(cut.json.error.message).toContain('continued')
    const mid = await stateOf(thread)
    expect(mid.json.values.count).toBe(3)
    // The lease alarm finds the run marker with no run in memory and continues from the last checkpoint.
    // (A stub to an aborted object stays broken: callers get a new one, as the Worker does per request.)
    // The new incarnation brings that alarm forward when first touched (the state read above), so it may have run
    // already; running it here makes sure it runs now.
    await runDurableObjectAlarm(objectOf('acme', thread))
    const after = await waitFor(() => stateOf(thread), (s) => s.json.values.count === 8)
    expect(after.json.values).toEqual({ count: 8, target: 8, freezeAt: 3, key: thread })
    // Every step stored exactly once: the same history an uninterrupted run writes.
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0])
  })

  it('counts the steps taken before the eviction against the recursion limit of the continued run', async () => {
    const thread = newThread('evict-limit')
    // 8 steps are needed, 7 allowed: a re-driven run with a fresh budget would finish; this one must stop at 7.
    const pending = run(thread, { graph: 'freezeOnce', input: { target: 8, freezeAt: 3, key: thread }, recursionLimit: 7 })
    await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === 3)
    await runInDurableObject(objectOf('acme', thread), (_instance, state) => state.abort('test: evicted')).catch(() => undefined)
    await pending
    await runDurableObjectAlarm(objectOf('acme', thread))
    const after = await waitFor(() => stateOf(thread), (s) => s.json.lastError !== undefined)
    expect(after.json.lastError.code).toBe('RECURSION_LIMIT')
    expect(after.json.values.count).toBe(7)
  })

  it('starts a lost run over with its input when it had stored nothing yet', async () => {
    const thread = newThread('evict0')
    const pending = run(thread, { graph: 'freezeOnce', input: { target: 2, freezeAt: 0, key: thread }, durability: 'exit' })
    const stub = objectOf('acme', thread)
    // In flight once its run marker is stored (the object stores it before the graph starts).
    await waitFor(() => runInDurableObject(stub, (_instance, state) => state.storage.get(RUN)), (marker) => marker !== undefined)
    expect((await stateOf(thread)).status).toBe(404) // durability 'exit': nothing stored before the end
    await runInDurableObject(stub, (_instance, state) => state.abort('test: evicted')).catch(() => undefined)
    await pending
    await runDurableObjectAlarm(objectOf('acme', thread))
    const after = await waitFor(() => stateOf(thread), (s) => s.status === 200 && s.json.values.count === 2)
    expect((await fullHistory(thread)).map((c) => c.metadata.step)).toEqual([2]) // 'exit': only the end is stored
    expect(after.json.values.count).toBe(2)
  })

  it('prunes to keepLast after a run, keeping chains readable and the thread runnable', async () => {
    const thread = newThread('keep')
    const head = (await run(thread, { graph: 'counter', input: { target: 10 } })).json
    expect((await call('PUT', threadPath(thread, '/retention'), { body: { keepLast: 3 } })).json.retention).toEqual({ ttlSeconds: null, keepLast: 3 })
    // The alarm armed after the run prunes the 11 checkpoints (it fires by itself; running it early is the same).
    await runDurableObjectAlarm(objectOf('acme', thread))
    const kept = await waitFor(() => fullHistory(thread), (h) => h.length === 3)
    expect(kept.map((c) => c.metadata.step)).toEqual([10, 9, 8])
    expect(kept.map((c) => c.values.count)).toEqual([10, 9, 8])
    expect((await stateOf(thread)).json).toEqual(head)
    expect((await run(thread, { input: { target: 12 } })).json.values.count).toBe(12)
  })

  it('keeps a pending interrupt through pruning, and it can still be resumed', async () => {
    const thread = newThread('keep-chat')
    await run(thread, { graph: 'chat', input: { messages: [{ role: 'user', content: 'a' }] } })
    expect((await call('PUT', threadPath(thread, '/retention'), { body: { keepLast: 1 } })).status).toBe(200)
    await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: true } } })
    await run(thread, { input: { messages: [{ role: 'user', content: 'b' }] } })
    await runDurableObjectAlarm(objectOf('acme', thread))
    await waitFor(() => fullHistory(thread), (h) => h.length === 1)
    const state = await stateOf(thread)
    expect(state.json.interrupts).toHaveLength(1)
    const resumed = await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: true } } })
    expect(resumed.json.values.messages.map((m: any) => m.content)).toEqual(['a', 'You said: a', 'b', 'You said: b'])
  })

  it('deletes a thread idle for longer than its TTL', async () => {
    const thread = newThread('ttl')
    await call('PUT', threadPath(thread, '/retention'), { body: { ttlSeconds: 60 } })
    await run(thread, { graph: 'counter', input: { target: 1 } })
    const stub = objectOf('acme', thread)
    // Not yet expired: an early alarm only re-arms.
    await runDurableObjectAlarm(stub)
    expect((await stateOf(thread)).status).toBe(200)
    // With a 1 s TTL the thread expires a second after its run: each alarm before that re-arms, the first after deletes.
    expect((await call('PUT', threadPath(thread, '/retention'), { body: { ttlSeconds: 1 } })).status).toBe(200)
    await waitFor(
      async () => (await runDurableObjectAlarm(stub), stateOf(thread)),
      (s) => s.status === 404,
    )
    const left = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'edgegraph%'").one().n)
    expect(left).toBe(0)
  })
})
