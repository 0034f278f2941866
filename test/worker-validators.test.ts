/**
 * @module Property-based fuzzing of the worker's request validators: the run API's zod schemas (worker/schemas.ts)
 * against small independent reference predicates of the documented shapes, and the storage API's hand-written checks
 * (worker/storage-api.ts) through its Hono app over a memory adapter (random paths, thread ids, headers and bodies).
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { createMemoryAdapter, type MemoryAdapter } from '../adapters/memory.js'
import { CHECKPOINT_ID, GRAPH_NAME, schemas } from '../worker/schemas.js'
import { storageApi } from '../worker/storage-api.js'
import { describeError } from '../worker/http.js'
import { EdgegraphError } from '../src/index.js'
import { isObj, mutate, mutation, nested, NASTY_KEYS, withKey, type Obj } from './fuzz-bodies.js'

// ---- reference predicates: the documented shapes, written without zod ------------------------------------

const only = (o: Obj, allowed: string[]) => Object.keys(o).every((k) => allowed.includes(k))
const has = (o: Obj, k: string) => Object.hasOwn(o, k)
const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
const str = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max
/** JSON nested at most 64 levels deep (containers at depth 0..63), with no `__proto__` key anywhere. */
const isJson = (v: unknown, depth = 0): boolean =>
  v === null ||
  typeof v === 'string' ||
  typeof v === 'boolean' ||
  (typeof v === 'number' && Number.isFinite(v)) ||
  (depth < 64 && Array.isArray(v) && v.every((x) => isJson(x, depth + 1))) ||
  (depth < 64 && isObj(v) && !has(v, '__proto__') && Object.values(v).every((x) => isJson(x, depth + 1)))
/** A record of JSON values with keys of at most `maxKey` characters, bounded like {@link isJson}. */
const record = (v: unknown, maxKey: number): boolean => isObj(v) && isJson(v) && Object.keys(v).every((k) => k.length <= maxKey)
const opt = (o: Obj, k: string, ok: (v: unknown) => boolean) => !has(o, k) || ok(o[k])
const STREAM = ['values', 'updates']
const RUN_OPTIONS = ['graph', 'checkpointId', 'stream', 'recursionLimit', 'metadata', 'durability']
const runOptions = (o: Obj) =>
  opt(o, 'graph', (v) => typeof v === 'string' && GRAPH_NAME.test(v)) &&
  opt(o, 'checkpointId', (v) => typeof v === 'string' && CHECKPOINT_ID.test(v)) &&
  opt(o, 'stream', (v) => STREAM.includes(v as string) || (Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every((s) => STREAM.includes(s)))) &&
  opt(o, 'recursionLimit', (v) => int(v, 1, 10_000)) &&
  opt(o, 'metadata', (v) => record(v, 64)) &&
  opt(o, 'durability', (v) => ['sync', 'async', 'exit'].includes(v as string))
const nodeName = (v: unknown) => str(v, 1, 200)

const reference = {
  run: (o: unknown) =>
    isObj(o) &&
    only(o, [...RUN_OPTIONS, 'input', 'command']) &&
    runOptions(o) &&
    opt(o, 'input', (v) => v === null || record(v, 200)) &&
    opt(
      o,
      'command',
      (c) =>
        isObj(c) &&
        only(c, ['update', 'goto', 'resume']) &&
        opt(c, 'update', (v) => record(v, 200)) &&
        opt(c, 'goto', (v) => nodeName(v) || (Array.isArray(v) && v.length >= 1 && v.length <= 64 && v.every(nodeName))) &&
        opt(c, 'resume', isJson),
    ),
  resume: (o: unknown) =>
    isObj(o) &&
    runOptions(o) &&
    ((only(o, [...RUN_OPTIONS, 'value']) && has(o, 'value') && isJson(o.value)) || (only(o, [...RUN_OPTIONS, 'values']) && has(o, 'values') && record(o.values, 200))),
  update: (o: unknown) =>
    isObj(o) &&
    only(o, ['values', 'asNode', 'checkpointId', 'graph']) &&
    has(o, 'values') &&
    record(o.values, 200) &&
    opt(o, 'asNode', nodeName) &&
    runOptions({ ...(has(o, 'checkpointId') ? { checkpointId: o.checkpointId } : {}), ...(has(o, 'graph') ? { graph: o.graph } : {}) }),
  retention: (o: unknown) =>
    isObj(o) && only(o, ['ttlSeconds', 'keepLast']) && opt(o, 'ttlSeconds', (v) => v === null || int(v, 1, 10 * 365 * 86_400)) && opt(o, 'keepLast', (v) => v === null || int(v, 1, 1_000_000)),
  // Query values are strings (or arrays of them, for a repeated parameter); `limit` must be plain digits, 1 to 100.
  history: (o: unknown) =>
    isObj(o) &&
    only(o, ['limit', 'before', 'source']) &&
    opt(o, 'limit', (v) => typeof v === 'string' && /^[1-9]\d{0,2}$/.test(v) && Number(v) <= 100) &&
    opt(o, 'before', (v) => typeof v === 'string' && CHECKPOINT_ID.test(v)) &&
    opt(o, 'source', (v) => ['input', 'loop', 'update', 'fork'].includes(v as string)),
  diff: (o: unknown) => isObj(o) && only(o, ['from', 'to']) && ['from', 'to'].every((k) => has(o, k) && typeof o[k] === 'string' && CHECKPOINT_ID.test(o[k] as string)),
  none: (o: unknown) => isObj(o) && Object.keys(o).length === 0,
}

// ---- generators ---------------------------------------------------------------------------------------

/** What arrives on the wire: JSON text parsed, so a `__proto__` key is an own property, as JSON.parse makes it. */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null')
/** Values that sit on or past a boundary of some field. */
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(0, -1, 1, 1.5, -0.5, 64, 100, 101, 10_000, 10_001, 315_360_000, 315_360_001, 1_000_000, 1_000_001, 2 ** 53, 2 ** 53 + 2, 1e300, -1e300, 5e-324),
  fc.constantFrom('', 'values', 'updates', 'sync', 'counter', 'zzzzzzzzzzz', 'ZZZZZZZZZZZ', 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(200), 'x'.repeat(201), '1', '0x10', ' 5 ', '1e1', 'NaN', 'Infinity'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(...NASTY_KEYS).chain((k) => weirdLeaf.map((v) => withKey({}, k, v))),
  fc.integer({ min: 1, max: 900 }).map((d) => nested(d)),
  fc.array(fc.constantFrom('values', 'updates', 'x'), { maxLength: 3 }),
)
const weirdLeaf = fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constant({ polluted: true }))

const graphName = fc.stringMatching(GRAPH_NAME)
const checkpointId = fc.stringMatching(CHECKPOINT_ID)
const jsonRecord = (maxKey: number) => fc.dictionary(fc.string({ maxLength: maxKey }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
const optionsArb = {
  graph: graphName,
  checkpointId,
  stream: fc.oneof(fc.constantFrom('values', 'updates'), fc.constantFrom(['values'], ['updates'], ['values', 'updates'], ['updates', 'updates'])),
  recursionLimit: fc.integer({ min: 1, max: 10_000 }),
  metadata: jsonRecord(64),
  durability: fc.constantFrom('sync', 'async', 'exit'),
}
const valid = {
  run: fc.record(
    {
      ...optionsArb,
      input: fc.option(jsonRecord(200), { nil: null }),
      command: fc.record({ update: jsonRecord(200), goto: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 })), resume: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: [] }),
    },
    { requiredKeys: [] },
  ),
  resume: fc.oneof(fc.record({ ...optionsArb, value: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: ['value'] }), fc.record({ ...optionsArb, values: jsonRecord(200) }, { requiredKeys: ['values'] })),
  update: fc.record({ values: jsonRecord(200), asNode: fc.string({ minLength: 1, maxLength: 10 }), checkpointId, graph: graphName }, { requiredKeys: ['values'] }),
  retention: fc.record({ ttlSeconds: fc.option(fc.integer({ min: 1, max: 10 * 365 * 86_400 }), { nil: null }), keepLast: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }) }, { requiredKeys: [] }),
  history: fc.record({ limit: fc.integer({ min: 1, max: 100 }).map(String), before: checkpointId, source: fc.constantFrom('input', 'loop', 'update', 'fork') }, { requiredKeys: [] }),
  diff: fc.record({ from: checkpointId, to: checkpointId }),
  none: fc.constant({}),
}
type Name = keyof typeof valid
const FIELDS: Record<Name, string[]> = {
  run: [...RUN_OPTIONS, 'input', 'command'],
  resume: [...RUN_OPTIONS, 'value', 'values'],
  update: ['values', 'asNode', 'checkpointId', 'graph'],
  retention: ['ttlSeconds', 'keepLast'],
  history: ['limit', 'before', 'source'],
  diff: ['from', 'to'],
  none: [],
}

/** One change to a valid body: drop a field, set a known or unknown field, or add a key inside a nested record. */
const mutations = (name: Name) => fc.tuple(valid[name] as fc.Arbitrary<Obj>, fc.array(mutation([...FIELDS[name], 'inputs', 'Graph'], weird), { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(mutate, b))
const inputsFor = (name: Name) => fc.oneof(valid[name] as fc.Arbitrary<unknown>, mutations(name), fc.jsonValue({ maxDepth: 3 }), weird).map(wire)

// ---- checks ---------------------------------------------------------------------------------------------

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join()
/** Every object in `v` has Object.prototype (or none) as its prototype, and Object.prototype itself is untouched. */
function expectClean(v: unknown): void {
  const stack = [v]
  while (stack.length > 0) {
    const x = stack.pop()
    if (typeof x !== 'object' || x === null) continue
    const proto = Object.getPrototypeOf(x)
    expect(proto === Object.prototype || proto === Array.prototype || proto === null, 'an object with a replaced prototype').toBe(true)
    stack.push(...Object.values(x))
  }
  expect(Object.getOwnPropertyNames(Object.prototype).sort().join()).toBe(PROTO_KEYS)
  expect(({} as Obj).polluted).toBeUndefined()
}

describe('run API schemas (worker/schemas.ts)', () => {
  it.each(Object.keys(valid) as Name[])('%s: safeParse never throws, accepts exactly the documented shape, never pollutes a prototype', (name) => {
    let accepted = 0
    let rejected = 0
    fc.assert(
      fc.property(inputsFor(name), (input) => {
        const result = schemas[name].safeParse(input)
        expect(result.success, `zod vs reference on ${JSON.stringify(input)?.slice(0, 300)}`).toBe(reference[name](input))
        if (result.success) {
          accepted++
          expectClean(result.data)
        } else rejected++
      }),
      { numRuns: 400 },
    )
    // Both sides were exercised, or the comparison proves nothing.
    if (name !== 'none') expect(Math.min(accepted, rejected)).toBeGreaterThan(20)
  })

  it('the reference predicates themselves agree with hand-picked cases', () => {
    const proto = (json: string) => JSON.parse(json) as unknown
    expect(reference.run({ graph: 'counter', input: { target: 3 } })).toBe(true)
    expect(reference.run({ graph: 'counter', inputs: {} })).toBe(false)
    expect(reference.run({ recursionLimit: 1.5 })).toBe(false)
    expect(reference.run(proto('{"__proto__": {"graph": "x"}}'))).toBe(false)
    expect(reference.retention({ keepLast: null, ttlSeconds: 1 })).toBe(true)
    expect(reference.retention({ keepLast: 0 })).toBe(false)
    expect(reference.retention(proto('{"constructor": 1}'))).toBe(false)
    for (const [name, input] of [
      ['run', { graph: 'counter', input: { target: 3 } }],
      ['retention', { keepLast: null, ttlSeconds: 1 }],
      ['run', { recursionLimit: 1.5 }],
      ['retention', proto('{"constructor": 1}')],
    ] as const) {
      expect(schemas[name].safeParse(input).success).toBe(reference[name](input))
    }
  })

  it('every bounded field at and around its bounds agrees with the reference', () => {
    const numbers = [0, 1, 2, 1.5, -1, 99, 100, 101, 10_000, 10_001, 315_360_000, 315_360_001, 999_999, 1_000_000, 1_000_001, 2 ** 53, -0, null, '1', true]
    const strings = [0, 1, 10, 11, 12, 63, 64, 65, 199, 200, 201].map((len) => 'a'.repeat(len))
    const cases: [Name, unknown][] = []
    for (const v of numbers) {
      cases.push(['run', { recursionLimit: v }], ['retention', { ttlSeconds: v }], ['retention', { keepLast: v }], ['history', { limit: v === null ? 'null' : String(v) }])
    }
    for (const s of strings) {
      cases.push(
        ['run', { graph: s }],
        ['run', { checkpointId: s }],
        ['run', { metadata: { [s]: 1 } }],
        ['run', { input: { [s]: 1 } }],
        ['run', { command: { goto: s } }],
        ['run', { command: { goto: [s] } }],
        ['run', { command: { update: { [s]: 1 } } }],
        ['resume', { values: { [s]: 1 } }],
        ['update', { values: { [s]: 1 } }],
        ['update', { values: {}, asNode: s }],
        ['diff', { from: s, to: s }],
      )
    }
    for (const n of [0, 1, 2, 3, 63, 64, 65]) cases.push(['run', { stream: Array(n).fill('values') }], ['run', { command: { goto: Array(n).fill('n') } }])
    for (const [name, input] of cases) expect(schemas[name].safeParse(input).success, `${name} ${JSON.stringify(input).slice(0, 100)}`).toBe(reference[name](input))
  })

  it('arbitrary JS values (not only JSON) never make safeParse throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(valid) as Name[])), fc.anything({ maxDepth: 3, withNullPrototype: true, withBigInt: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withSparseArray: true, withBoxedValues: true }), (name, input) => {
        schemas[name].safeParse(input)
      }),
      { numRuns: 300 },
    )
  })

  it('a `__proto__` key in a JSON body is refused, so it can neither pollute a prototype nor vanish unseen', () => {
    const polluted = JSON.parse('{"input": {"__proto__": {"polluted": true}, "target": 1}}') as unknown
    const result = schemas.run.safeParse(polluted)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toContain('__proto__')
    expect(schemas.run.safeParse(JSON.parse('{"metadata": {"a": {"__proto__": {"polluted": true}}}}')).success).toBe(false)
    expect(schemas.run.safeParse(JSON.parse('{"__proto__": {"graph": "counter"}}')).success).toBe(false)
    expect(schemas.retention.safeParse(JSON.parse('{"__proto__": {"keepLast": 1}}')).success).toBe(false)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  // Found by this file: z.json() recursed once per nesting level, so ~10 KB of `[` overflowed the stack (500). The
  // schemas now check depth iteratively and refuse anything deeper than 64 levels.
  it('a deeply nested JSON value is refused, not a crash', () => {
    const deep = JSON.parse(`{"input": {"x": ${'['.repeat(20_000)}${']'.repeat(20_000)}}}`) as unknown
    const result = schemas.run.safeParse(deep)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toContain('64 levels')
  })
})

// ---- the storage API's validators -----------------------------------------------------------------------

const b64 = (text: string) => Buffer.from(text).toString('base64')
const SEEDED = ['seed', 'seed/a', 'other:1']
const MAX_BODY = 4096

async function seeded(): Promise<MemoryAdapter> {
  const memory = createMemoryAdapter()
  for (const thread of SEEDED) {
    await memory.commit(thread, { put: [['a', new Uint8Array([1, 2, 3])], ['b', new Uint8Array([4])], ['head', new Uint8Array([9])]] })
  }
  return memory
}

/** Everything a memory adapter holds, as comparable text. */
async function dump(memory: MemoryAdapter): Promise<string> {
  const out: string[] = [`bytes=${memory.bytes()}`]
  for await (const { thread } of memory.threads()) {
    for await (const [key, value] of memory.scan(thread)) out.push(`${thread}|${key}|${Buffer.from(value).toString('base64')}`)
  }
  return out.sort().join('\n')
}

// Thread ids: valid ones, the seeded ones, and everything a path can smuggle.
const threadId = fc.oneof(
  fc.constantFrom(...SEEDED, 't', 'user/42', 'a.b_c:d-e', 'x'.repeat(200)),
  fc.constantFrom('..', '.', '../seed', 'seed/..', 'seed/../seed', './seed', 'seed/', '/seed', 'seed//a', '%2e%2e', '%2E%2E/seed', '%2e', 'seed%2F..', '..%2Fseed', '%252e%252e', 'seed%00'),
  fc.constantFrom('a b', 'a\\b', 'ü', '😀', 'seed\u0000', 'seed\n', '\t', '\u202e', 'x'.repeat(201), 'x'.repeat(5000), '%', '%zz', '?x=1', '#frag', ''),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9._:/-]{1,20}$/),
)
/** How the id goes into the path: percent-encoded (what clients do), raw, or double-encoded. */
const inPath = fc.tuple(threadId, fc.constantFrom('encoded', 'raw', 'double')).map(([id, how]) => (how === 'raw' ? id : how === 'encoded' ? encodeURIComponent(id) : encodeURIComponent(encodeURIComponent(id))))

const storedKey = fc.oneof(fc.constantFrom('a', 'b', 'c', 'head', '', 'x'.repeat(1024), 'x'.repeat(1025), 'ü', 'a\u0000', '\u007f'), fc.string({ maxLength: 8 }))
const base64 = fc.oneof(fc.constantFrom(b64('x'), '', 'AQ==', '==', 'A', 'AAA', '!!!!', 'AQ', 'AQ==AQ=='), fc.base64String({ maxLength: 16 }), weird)
const storageBody = fc.oneof(
  fc.record({ keys: fc.oneof(fc.array(storedKey, { maxLength: 4 }), weird) }, { requiredKeys: [] }),
  fc.record({ from: fc.oneof(storedKey, weird), to: storedKey, reverse: fc.oneof(fc.boolean(), weird), limit: fc.oneof(fc.integer({ min: -5, max: 1100 }), weird) }, { requiredKeys: [] }),
  fc.record(
    {
      put: fc.oneof(fc.array(fc.oneof(fc.tuple(storedKey, base64), fc.array(storedKey, { maxLength: 3 }), weird), { maxLength: 3 }), weird),
      del: fc.oneof(fc.array(storedKey, { maxLength: 3 }), weird),
      guard: fc.oneof(fc.record({ key: storedKey, expect: fc.oneof(fc.constant(null), base64) }, { requiredKeys: [] }), weird),
    },
    { requiredKeys: [] },
  ),
  fc.tuple(fc.constantFrom(...NASTY_KEYS, 'keys', 'limit', 'put'), weird).map(([k, v]) => withKey({}, k, v)),
  fc.jsonValue({ maxDepth: 3 }),
  weird,
)
/** The raw request body: JSON of a generated value, something that is not JSON, or a body over the size limit. */
const rawBody = fc.oneof(
  { weight: 6, arbitrary: storageBody.map((v) => JSON.stringify(v) ?? 'null') },
  fc.constantFrom('', '{', '{"keys": [', 'null', '[]', '"x"', '{"keys": ["a"]} trailing', '\ufeff{"keys": []}', 'NaN'),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: MAX_BODY - 16, max: MAX_BODY + 64 }).map((n) => JSON.stringify({ keys: ['x'.repeat(Math.max(0, n - 12))] })),
)
const contentType = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/jsonx', 'text/plain', 'application/x-www-form-urlencoded', undefined)
const route = fc.constantFrom('get', 'scan', 'commit', 'delete', 'list', 'other')
const listQuery = fc.oneof(
  fc.constant(''),
  fc.dictionary(fc.constantFrom('limit', 'after', 'updatedBefore', 'x', '__proto__'), fc.oneof(fc.constantFrom('0', '1', '-1', '1000', '1001', '1e3', '9007199254740993', '99999999999999999', '', 'abc', ' 1'), fc.string({ maxLength: 5 })), { maxKeys: 3 }).map((q) => new URLSearchParams(q).toString()),
  fc.constantFrom('limit=1&limit=2', 'after=%00', 'after=12:a&after=13:b', 'limit=%', '&&&', '='),
)

interface Sent {
  method: string
  url: string
  init: RequestInit
}
function request(op: string, thread: string, body: string, type: string | undefined, query: string, extra: string): Sent {
  const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type }
  const base = 'http://storage.test'
  if (op === 'list') return { method: 'GET', url: `${base}/v1/storage/threads${query === '' ? '' : `?${query}`}`, init: { headers } }
  if (op === 'delete') return { method: 'DELETE', url: `${base}/v1/storage/threads/${thread}`, init: { headers, body } }
  if (op === 'other') return { method: 'POST', url: `${base}/v1/storage/threads/${thread}/${extra}`, init: { headers, body } }
  return { method: 'POST', url: `${base}/v1/storage/threads/${thread}/${op}`, init: { headers, body } }
}

describe('storage API validators (worker/storage-api.ts)', () => {
  it('random paths, thread ids, headers and bodies: 2xx or a JSON 400/404/413 error, never 500, and a refusal changes nothing', async () => {
    let ok = 0
    const statuses = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(route, inPath, rawBody, contentType, listQuery, fc.constantFrom('', 'get/x', 'GET', 'scan/', 'put', '..', '%2e%2e'), async (op, thread, body, type, query, extra) => {
        const memory = await seeded()
        const app = storageApi(() => memory, { maxBodyBytes: MAX_BODY })
        const sent = request(op, thread, body, type, query, extra)
        let req: Request
        try {
          req = new Request(sent.url, { method: sent.method, ...sent.init })
        } catch {
          return // not a request any client can send (the URL parser refused it)
        }
        const before = await dump(memory)
        const res = await app.fetch(req)
        const text = await res.text()
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
        const json = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
        expect(json).toBeTypeOf('object')
        if (res.status < 300) {
          ok++
          expect(res.status).toBe(200)
          expect(json.error).toBeUndefined()
          return
        }
        expect([400, 404, 409, 413], `${sent.method} ${sent.url} -> ${res.status} ${text.slice(0, 300)}`).toContain(res.status)
        expect(Object.keys(json)).toEqual(['error'])
        expect(Object.keys(json.error as object).sort()).toEqual(['code', 'message'])
        expect(json.error?.code).toBeTypeOf('string')
        expect(json.error?.message).toBeTypeOf('string')
        expect(json.error?.message).not.toMatch(/\n\s+at |at .*\.(ts|js):\d+/)
        // 409 only for a well-formed commit whose guard did not match (the adapter's CONFLICT).
        if (res.status === 409) expect(json.error?.code).toBe('CONFLICT')
        if (res.status === 413) expect(json.error?.code).toBe('VALUE_TOO_LARGE')
        expect(await dump(memory)).toBe(before)
      }),
      {
        numRuns: 600,
        // Always exercised, whatever the seed: a valid read, a valid commit, and a traversal through an encoded id.
        examples: [
          ['get', 'seed', JSON.stringify({ keys: ['a'] }), 'application/json', '', ''],
          ['commit', 't', JSON.stringify({ put: [['c', b64('x')]], guard: { key: 'c', expect: null } }), 'application/json', '', ''],
          ['commit', encodeURIComponent('../seed'), JSON.stringify({ del: ['a'] }), 'application/json', '', ''],
          ['delete', '%2e%2e', '', undefined, '', ''],
        ],
      },
    )
    expect(ok).toBeGreaterThan(10)
    // The generators reached the refusal statuses too.
    for (const status of [400, 404, 413]) expect(statuses.get(status) ?? 0, `status ${status} never seen: ${JSON.stringify([...statuses])}`).toBeGreaterThan(0)
  })

  it('a valid request does what it says to the seeded store, and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SEEDED), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'head'), fc.uint8Array({ maxLength: 8 }).map((v) => Buffer.from(v).toString('base64'))), { maxLength: 3 }), async (thread, put) => {
        const memory = await seeded()
        const app = storageApi(() => memory)
        const path = `http://storage.test/v1/storage/threads/${encodeURIComponent(thread)}`
        const res = await app.fetch(new Request(`${path}/commit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ put }) }))
        expect(res.status).toBe(200)
        const keys = [...new Set(put.map(([k]) => k))]
        const got = (await (await app.fetch(new Request(`${path}/get`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys }) }))).json()) as { values: (string | null)[] }
        const last = new Map(put)
        expect(got.values).toEqual(keys.map((k) => last.get(k)))
        // Other threads untouched.
        for (const other of SEEDED.filter((t) => t !== thread)) expect(memory.bytes(other)).toBe(11) // a:1+3, b:1+1, head:4+1
      }),
      { numRuns: 50 },
    )
  })

  it('refuses each broken rule with 400 INVALID_ARGUMENT naming the field, and accepts the limits themselves', async () => {
    const memory = createMemoryAdapter()
    const app = storageApi(() => memory)
    const send = (route: string, body: unknown) =>
      app.fetch(new Request(`http://storage.test/v1/storage/threads/t/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }))
    const list = (query: string) => app.fetch(new Request(`http://storage.test/v1/storage/threads?${query}`))
    const refused: [route: string, body: unknown, field: string][] = [
      ['get', {}, 'keys'],
      ['get', { keys: 'a' }, 'keys'],
      ['get', { keys: ['a\u0001'] }, 'keys.0'],
      ['get', { keys: ['x'.repeat(1025)] }, 'keys.0'],
      ['get', { keys: Array.from({ length: 1001 }, () => 'a') }, 'keys'],
      ['get', { keys: [], extra: 1 }, 'extra'],
      ['scan', {}, 'limit'],
      ['scan', { limit: 0 }, 'limit'],
      ['scan', { limit: 1001 }, 'limit'],
      ['scan', { limit: 1.5 }, 'limit'],
      ['scan', { limit: 1, reverse: 'yes' }, 'reverse'],
      ['scan', { limit: 1, from: 'x'.repeat(1025) }, 'from'],
      ['scan', { limit: 1, to: 3 }, 'to'],
      ['commit', { put: [['k', 'AB==']] }, 'put.0.1'], // not canonical: decodes to bytes that encode differently
      ['commit', { put: [['k', 'A']] }, 'put.0.1'],
      ['commit', { put: [['k']] }, 'put.0'],
      ['commit', { put: [['k\u007f', 'AA==']] }, 'put.0.0'],
      ['commit', { put: Array.from({ length: 1001 }, () => ['k', 'AA==']) }, 'put'],
      ['commit', { del: [1] }, 'del.0'],
      ['commit', { guard: { key: 'h' } }, 'guard.expect'],
      ['commit', { guard: { key: 'h\n', expect: null } }, 'guard.key'],
      ['commit', { guard: { key: 'h', expect: null, x: 1 } }, 'x'],
    ]
    for (const [route, body, field] of refused) {
      const res = await send(route, body)
      const json = (await res.json()) as { error: { code: string; message: string } }
      expect({ route, body, status: res.status, code: json.error.code }).toEqual({ route, body, status: 400, code: 'INVALID_ARGUMENT' })
      expect(json.error.message, `${route} ${JSON.stringify(body).slice(0, 80)}`).toContain(field)
    }
    for (const [query, field] of [['limit=abc', 'limit'], ['limit=1&limit=2', 'limit'], ['limit=1001', 'limit'], ['after=x', 'after'], ['offset=1', 'offset'], ['updatedBefore=1e3', 'updatedBefore'], ['x=1', 'x']]) {
      const res = await list(query as string)
      expect(res.status, query).toBe(400)
      expect(((await res.json()) as { error: { message: string } }).error.message, query).toContain(field)
    }
    expect(await dump(memory)).toBe('bytes=0')
    // The limits themselves are fine: 1000 printable keys of 1024 characters, any scan bound, 1000 entries.
    const long = (c: string) => c.repeat(1023) + '~'
    expect((await send('commit', { put: Array.from({ length: 1000 }, (_, i) => [`${long(' ').slice(4)}${String(i).padStart(4, '0')}`, 'AA==']), guard: { key: 'g', expect: null } })).status).toBe(200)
    expect((await send('get', { keys: Array.from({ length: 1000 }, () => long('a')) })).status).toBe(200)
    const scan = await send('scan', { from: '\u0000'.repeat(1024), to: 'ü', reverse: true, limit: 1000 })
    expect(scan.status).toBe(200)
    expect(((await scan.json()) as { entries: unknown[] }).entries).toHaveLength(1000)
    expect((await send('commit', { del: Array.from({ length: 1000 }, () => long('b')) })).status).toBe(200)
    expect((await list('limit=0&after=0:t&updatedBefore=-5')).status).toBe(200)
  })
})

describe('describeError: what a node failure tells the client', () => {
  const failure = () => {
    const cause = new TypeError("Cannot read properties of null (reading 'approve')")
    return new EdgegraphError('NODE_FAILED', `Node "review" failed in thread "t": ${cause.message}. Fix the cause.`, { cause, context: { threadId: 't', node: 'review', checkpointId: 'mx2vkgn2000ly8y1' } })
  }

  it('keeps the exception text in the server log by default, and shows it when the deployment asks (exposeErrors)', () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const hidden = describeError(failure(), 'the run')
    expect(hidden).toEqual({ status: 500, code: 'NODE_FAILED', message: expect.stringMatching(/^Node "review" failed at checkpoint "mx2vkgn2000ly8y1"; its error is in the server log/) })
    expect(hidden.message).not.toContain('Cannot read')
    expect(logged).toHaveBeenCalledOnce()
    expect(describeError(failure(), 'the run', undefined, true).message).toContain('Cannot read properties of null')
    logged.mockRestore()
  })

  it('answers a node that refused its input with a typed error as 400 with that error', () => {
    const refused = new EdgegraphError('NODE_FAILED', 'Node "review" failed', { cause: new EdgegraphError('INVALID_ARGUMENT', 'resume with { approve }'), context: {} })
    expect(describeError(refused, 'the run')).toEqual({ status: 400, code: 'INVALID_ARGUMENT', message: 'resume with { approve }' })
  })
})
