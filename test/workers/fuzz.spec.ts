/**
 * @module Property-based fuzzing of the real Worker's run API inside workerd (`SELF.fetch`): random and mutated JSON
 * bodies, query strings, content types and thread ids. Every answer is 200/400/403/404/409/413 (never 500), every
 * refusal is the JSON error shape, and a thread made before the fuzz keeps a byte-identical history.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { schemas } from '../../worker/schemas.js'
import { isObj, mutate, mutation, nested, NASTY_KEYS, withKey, type Obj } from '../fuzz-bodies.js'
import { call, newThread, parseSse, threadPath, token, type Answer } from './api.js'

const OK_STATUSES = [200, 400, 403, 404, 409, 413]
/** Not too many runs: every request is a real round trip through the Worker and, once valid, a Durable Object. */
const RUNS = 100

let auth: string
let keep: string
let keepHistory: string
let keepState: string
/** Threads that exist (a counter run each), for valid requests that need a thread: updates and runs may change them. */
const scratch: string[] = []

/** Every page of a thread's history, as the exact text the Worker sent. */
async function historyText(thread: string): Promise<string> {
  const pages: string[] = []
  let before: string | null = null
  for (;;) {
    const page = await call('GET', threadPath(thread, `/history?limit=2${before ? `&before=${before}` : ''}`), { auth })
    expect(page.status).toBe(200)
    pages.push(page.text)
    before = page.json.nextBefore
    if (before === null) return pages.join('\n')
  }
}

beforeAll(async () => {
  auth = await token()
  keep = newThread('fuzz-keep')
  const first = await call('POST', threadPath(keep, '/runs'), { body: { graph: 'counter', input: { target: 3 } }, auth })
  expect(first.status).toBe(200)
  keepHistory = await historyText(keep)
  keepState = (await call('GET', threadPath(keep, '/state'), { auth })).text
  expect(keepHistory.split('\n')).toHaveLength(2) // 4 checkpoints, 2 per page
  for (let i = 0; i < 2; i++) {
    scratch.push(newThread('fz-scratch'))
    expect((await call('POST', threadPath(scratch[i] as string, '/runs'), { body: { graph: 'counter', input: { target: 1 } }, auth })).status).toBe(200)
  }
})

// ---- generators ---------------------------------------------------------------------------------------

const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(0, -1, 1.5, 10_001, 1_000_001, 315_360_001, 2 ** 53 + 2, 1e300, -1e300),
  fc.constantFrom('', 'values', 'counter', 'chat', 'nope', 'zzzzzzzzzzz', 'x'.repeat(65), 'x'.repeat(201)),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(...NASTY_KEYS).map((k) => withKey({}, k, { polluted: true })),
  fc.integer({ min: 1, max: 300 }).map((d) => nested(d)),
)
const checkpointId = fc.oneof(fc.stringMatching(/^[0-9a-z]{11}$/), fc.stringMatching(/^[0-9a-z]{16}$/), fc.constantFrom('zzzzzzzzzzz', '00000000000', 'zzzzzzzzzzzzzzzz'))
// Counter inputs that finish in a few steps: only `count`/`target` with small numbers (never `delayMs`, which would
// make a run sleep), or unknown channels, which the graph refuses.
const counterInput = fc.oneof(
  fc.record({ count: fc.integer({ min: 0, max: 3 }), target: fc.integer({ min: 0, max: 4 }) }, { requiredKeys: [] }),
  fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }).filter((k) => !['count', 'target', 'delayMs'].includes(k)), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }),
)
const options = {
  graph: fc.constantFrom('counter', 'counter', 'nope', 'chat-x'),
  checkpointId,
  stream: fc.constantFrom('values', 'updates', ['values', 'updates']),
  recursionLimit: fc.integer({ min: 50, max: 10_000 }),
  metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
  durability: fc.constantFrom('sync', 'async', 'exit'),
}
const valid = {
  runs: fc.record({ ...options, input: fc.option(counterInput, { nil: null }), command: fc.record({ update: counterInput, goto: fc.constantFrom('increment', 'nope', ['increment']), resume: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }) }, { requiredKeys: [] }),
  resume: fc.oneof(fc.record({ ...options, value: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['value'] }), fc.record({ ...options, values: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }) }, { requiredKeys: ['values'] })),
  state: fc.record({ values: counterInput, asNode: fc.constantFrom('increment', 'nope'), checkpointId, graph: options.graph }, { requiredKeys: ['values'] }),
  retention: fc.record({ ttlSeconds: fc.option(fc.integer({ min: 3600, max: 10 * 365 * 86_400 }), { nil: null }), keepLast: fc.option(fc.integer({ min: 100, max: 1_000_000 }), { nil: null }) }, { requiredKeys: [] }),
}
type Op = keyof typeof valid
const FIELDS: Record<Op, string[]> = {
  runs: ['graph', 'checkpointId', 'stream', 'recursionLimit', 'metadata', 'durability', 'input', 'command'],
  resume: ['value', 'values', 'graph', 'stream', 'recursionLimit'],
  state: ['values', 'asNode', 'checkpointId', 'graph'],
  retention: ['ttlSeconds', 'keepLast'],
}
const bodyFor = (op: Op) =>
  fc.oneof(
    { weight: 2, arbitrary: valid[op] as fc.Arbitrary<unknown> },
    { weight: 4, arbitrary: fc.tuple(valid[op] as fc.Arbitrary<Obj>, fc.array(mutation(FIELDS[op], weird), { minLength: 1, maxLength: 2 })).map(([b, ms]) => ms.reduce(mutate, b)) },
    { weight: 2, arbitrary: weird },
  )
/** The request body as sent: JSON text of a generated value (maybe padded past the 1 MiB limit), or not JSON at all. */
const rawFor = (op: Op) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.tuple(bodyFor(op), fc.nat(7).map((n) => n === 0)).map(([v, big]) => ({ value: v as unknown, text: big && isObj(v) ? JSON.stringify(withKey(v, 'metadata', { pad: 'x'.repeat(1024 * 1024) })) : (JSON.stringify(v) ?? 'null') })).filter(({ text }) => !text.includes('delayMs')) },
    { weight: 1, arbitrary: fc.constantFrom('', '{', '{"input": ', 'null', '[]', '{} {}', '\ufeff{}', 'NaN', '{"graph":"counter",}').map((text) => ({ value: undefined as unknown, text })) },
  )
const contentType = fc.constantFrom('application/json', 'application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', undefined)

/** Fresh valid ids (so a valid request acts on its own new thread), the kept thread, and ids a path can smuggle. */
type Target = { kind: 'fresh' } | { kind: 'scratch'; pick: number } | { kind: 'keep' } | { kind: 'raw'; path: string }
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'fresh' as const }) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'scratch' as const, pick })) },
  { weight: 3, arbitrary: fc.constant({ kind: 'keep' as const }) },
  {
    weight: 4,
    arbitrary: fc
      .oneof(
        fc.constantFrom('..', '.', '../KEEP', 'KEEP/..', './KEEP', 'KEEP/', '/KEEP', 'KEEP//x', ' KEEP', 'KEEP\u0000', 'KEEP\n', 'ü', '😀', 'a b', 'a\\b', '%', '%2e%2e', 'x'.repeat(201), 'x'.repeat(3000), '\u202e', '?x=1', '#x'),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
      )
      .chain((id) => fc.constantFrom(encodeURIComponent(id), encodeURIComponent(encodeURIComponent(id)), id).map((path) => ({ kind: 'raw' as const, path }))),
  },
)
/** The path segment of a target: a raw one names the kept thread through KEEP (still an invalid id: a bad part or character). */
function segment(t: Target): string {
  if (t.kind === 'fresh') return encodeURIComponent(newThread('fz'))
  if (t.kind === 'scratch') return encodeURIComponent(scratch[t.pick % scratch.length] as string)
  if (t.kind === 'keep') return encodeURIComponent(keep)
  return t.path.replaceAll('KEEP', encodeURIComponent(keep))
}

const queryFor = (names: string[]) =>
  fc.oneof(
    fc.dictionary(fc.constantFrom(...names, 'x', '__proto__', 'limit'), fc.oneof(checkpointId, fc.constantFrom('0', '1', '100', '101', '-1', '1.5', '0x10', '1e1', ' 5', '', 'input', 'loop', 'nope', '%00'), fc.string({ maxLength: 12 })), { maxKeys: 3 }).map((q) => new URLSearchParams(q).toString()),
    fc.constantFrom('limit=1&limit=2', 'limit=%', 'before=..%2F..', '&&', '=', 'from=a&from=b', 'limit[]=1'),
  )

// ---- checks ---------------------------------------------------------------------------------------------

/** Codes the Worker answers with 500 (edgegraph's, see worker/http.ts): a stream must not end with one either. */
const SERVER_CODES = ['INTERNAL', 'INVALID_GRAPH', 'NODE_FAILED', 'RECURSION_LIMIT', 'CORRUPT_RECORD', 'STORAGE_FAILED']

function expectErrorShape(body: any, what: string): void {
  expect(body, what).toBeTypeOf('object')
  expect(Object.keys(body), what).toEqual(['error'])
  expect(Object.keys(body.error).sort(), what).toEqual(['code', 'message'])
  expect(body.error.code, what).toBeTypeOf('string')
  expect(body.error.message, what).toBeTypeOf('string')
  expect(body.error.message, what).not.toMatch(/\n\s+at |at .*\.(ts|js):\d+/)
}

function expectSane(res: Answer, what: string): void {
  const said = `${what} -> ${res.status} ${res.text.slice(0, 300)}`
  expect(OK_STATUSES, said).toContain(res.status)
  if (res.status !== 200) return expectErrorShape(res.json, said)
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) return void expect(res.json, said).toBeTypeOf('object')
  // A stream answers 200 before it runs: a failure is its last event, which must be a client error too.
  const last = parseSse(res.text).at(-1)
  expect(['end', 'error'], said).toContain(last?.event)
  if (last?.event === 'error') {
    expectErrorShape(last.data, said)
    expect(SERVER_CODES, said).not.toContain(last.data.error.code)
  }
}

/** Each route, its schema (the oracle for "the Worker must refuse this"), and a valid body that always runs first. */
const BODY_OPS: Record<Op, { method: string; rest: string; schema: { safeParse: (v: unknown) => { success: boolean } }; example: Obj }> = {
  runs: { method: 'POST', rest: '/runs', schema: schemas.run, example: { graph: 'counter', input: { target: 1 } } },
  resume: { method: 'POST', rest: '/resume', schema: schemas.resume, example: { value: true } },
  state: { method: 'POST', rest: '/state', schema: schemas.update, example: { values: { count: 1 }, asNode: 'increment' } },
  retention: { method: 'PUT', rest: '/retention', schema: schemas.retention, example: { keepLast: 1000, ttlSeconds: null } },
}

describe('run API fuzz', () => {
  it.each(Object.keys(BODY_OPS) as Op[])('%s: random and mutated bodies, content types and thread ids', async (op) => {
    const { method, rest, schema, example } = BODY_OPS[op]
    const seen = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(target, rawFor(op), contentType, async (t, raw, type) => {
        // The kept thread only ever gets requests the Worker must refuse: a valid body goes to a fresh thread instead.
        const refusedUnread = raw.text.length > 1024 * 1024 || type === undefined || type === 'text/plain'
        const refused = refusedUnread || raw.value === undefined || !schema.safeParse(JSON.parse(raw.text)).success
        const path = `/v1/threads/${segment(t.kind === 'keep' && !refused ? { kind: 'fresh' } : t)}${rest}`
        const res = await call(method, path, { raw: raw.text, auth, headers: type === undefined ? {} : { 'content-type': type } })
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1)
        expectSane(res, `${method} ${path.slice(0, 120)} ${raw.text.slice(0, 200)}`)
      }),
      { numRuns: RUNS, examples: [[{ kind: 'scratch', pick: 0 }, { value: example, text: JSON.stringify(example) }, 'application/json']] },
    )
    // Refusals and (but for resume: no scratch thread has an interrupt) successes were both reached.
    expect(seen.get(400) ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0)
    if (op !== 'resume') expect(seen.get(200) ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0)
  })

  it('GET state, history, diff and checkpoints, and DELETE, with random query strings and ids', async () => {
    const route = fc.constantFrom('state', 'history', 'diff', 'checkpoint', 'delete')
    await fc.assert(
      fc.asyncProperty(route, target, queryFor(['limit', 'before', 'source', 'from', 'to']), checkpointId, async (r, t, query, id) => {
        // A DELETE may be valid (an empty or all-`&` query): never aimed at the kept thread.
        const seg = segment(r === 'delete' && t.kind === 'keep' ? { kind: 'fresh' } : t)
        const q = query === '' ? '' : `?${query}`
        const path = r === 'delete' ? `/v1/threads/${seg}${q}` : r === 'checkpoint' ? `/v1/threads/${seg}/checkpoints/${id}${q}` : `/v1/threads/${seg}/${r}${q}`
        const res = await call(r === 'delete' ? 'DELETE' : 'GET', path, { auth })
        expectSane(res, `${r} ${path.slice(0, 160)}`)
      }),
      { numRuns: RUNS },
    )
  })

  it("leaves the kept thread's history and state byte-for-byte as they were", async () => {
    expect(await historyText(keep)).toBe(keepHistory)
    expect((await call('GET', threadPath(keep, '/state'), { auth })).text).toBe(keepState)
  })

  // Found by fuzzing: z.json() recursed once per nesting level, so a deep value overflowed the stack (500). Now 400.
  it('a deeply nested JSON body is refused with 400', async () => {
    const depth = 100_000
    const raw = `{"graph": "counter", "input": {"x": ${'['.repeat(depth)}${']'.repeat(depth)}}}`
    const res = await call('POST', threadPath(newThread('deep'), '/runs'), { raw, auth, headers: { 'content-type': 'application/json' } })
    expect(res.status).toBe(400)
    expect(res.json.error.message).toContain('64 levels')
  })
})
