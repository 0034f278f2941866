/**
 * @module The conformance suite against a real redis-server 7 (append-only file, `appendfsync always`), plus what only
 * a server shows: the key layout, bytes that are not UTF-8, two connections racing one head, a connection cut with a
 * commit in flight, a full `maxmemory`, a lost script cache, the server killed with kill -9 in the middle of a run, and
 * its append-only file cut inside a commit.
 */
import { createClient, createCluster } from 'redis'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { END, START, StateGraph, type EdgegraphError, type StorageAdapter } from '../src/index.js'
import { createRedisAdapter, type RedisClientLike } from '../adapters/redis.js'
import { runConformance } from './conformance/index.js'
import { collect, dump, keysOf, noise, rejectsWith, utf8 } from './conformance/suite.js'
import { startRedis, type TestServer } from './servers/index.js'

type Client = ReturnType<typeof createClient>

/** The tests' clients, closed at the end. Their 'error' events (a killed server, a killed connection) are expected: ignored. */
const clients: Client[] = []
async function connect(url: string, options: Parameters<typeof createClient>[0] = {}): Promise<Client> {
  const client = createClient({ url, ...options })
  client.on('error', () => {})
  clients.push(client)
  await client.connect()
  return client
}

let server: TestServer
let client: Client
let prefixes = 0
/** A fresh prefix per adapter, so every test sees an empty store on the one server. */
const prefix = () => `t${++prefixes}:`

beforeAll(async () => {
  server = await startRedis('always')
  client = await connect(server.url)
}, 30_000)

afterAll(async () => {
  for (const c of clients) if (c.isOpen) c.destroy()
  await server?.stop()
})

// Tried with CONFIG SET maxmemory to used_memory + 64 KiB on a server of its own: the suite's first 40 KiB commit was
// refused, Redis counting the command's own query buffer.
const QUOTA_REASON =
  'Redis checks maxmemory, which counts all its memory (client buffers too), as a command starts, not against what the command adds, so no quota of 64 KiB of keys and values can be set; "redis adapter at maxmemory" below fills a server past maxmemory instead'

runConformance({
  name: 'redis',
  create: () => createRedisAdapter(client, { prefix: prefix() }),
  createSmall: () => createRedisAdapter(client, { prefix: prefix(), maxValueBytes: 4096 }),
  skip: [
    {
      reason: QUOTA_REASON,
      tests: [
        'a commit refused with QUOTA_EXCEEDED changes nothing: none of its puts or deletes, on any thread',
        'a step refused with QUOTA_EXCEEDED leaves every stored checkpoint loading as before; the run resumes once space is freed',
      ],
    },
  ],
})

const info = async (c: Client, field: string) => {
  const text = String(await c.sendCommand(['INFO', 'memory']))
  return (new RegExp(`${field}:(\\S+)`).exec(text) as RegExpExecArray)[1] as string
}
const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' '))

/** START → inc → inc ... → END at `steps`: a count and a log of every increment, so a step stored twice shows. */
function counter(adapter: StorageAdapter, steps: number, onStep: (count: number) => void = () => {}) {
  return new StateGraph({ count: { default: () => 0 }, log: { default: (): string[] => [], reducer: (a: string[], b: string[]) => a.concat(b) } })
    .addNode('inc', (s) => {
      onStep(s.count)
      return { count: s.count + 1, log: [`inc ${s.count}`] }
    })
    .addEdge(START, 'inc')
    .addConditionalEdges('inc', (s) => (s.count >= steps ? END : 'inc'))
    .compile({ checkpointer: adapter })
}

describe('redis adapter', () => {
  it('keeps the documented layout: a hash and a key index per thread, hash-tagged, and three thread indexes; deleting the last thread leaves no key', async () => {
    const p = prefix()
    const adapter = createRedisAdapter(client, { prefix: p })
    const before = Date.now()
    await adapter.commit('chat-1', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    await adapter.commit('chat-2', { put: [['h', utf8('2')]] })
    const keys = (await client.keys(`${p}*`)).sort()
    expect(keys).toEqual([`${p}threads:at`, `${p}threads:by-name`, `${p}threads:by-time`, `${p}{chat-1}:keys`, `${p}{chat-1}:kv`, `${p}{chat-2}:keys`, `${p}{chat-2}:kv`])
    expect(await Promise.all(keys.map((k) => client.type(k)))).toEqual(['hash', 'zset', 'zset', 'zset', 'hash', 'zset', 'hash'])
    expect(await client.hGetAll(`${p}{chat-1}:kv`)).toEqual({ h: '1', 'c/1': 'one' })
    expect(await client.zRangeWithScores(`${p}{chat-1}:keys`, 0, -1)).toEqual([
      { value: 'c/1', score: 0 },
      { value: 'h', score: 0 },
    ])
    const at = await client.hGetAll(`${p}threads:at`)
    expect(Object.keys(at).sort()).toEqual(['chat-1', 'chat-2'])
    expect(Number(at['chat-1'])).toBeGreaterThanOrEqual(before)
    expect(at['chat-1']).toMatch(/^\d{15}$/)
    expect(await client.zRange(`${p}threads:by-time`, 0, -1)).toEqual([`${at['chat-1']}chat-1`, `${at['chat-2']}chat-2`].sort())
    expect(await client.zRange(`${p}threads:by-name`, 0, -1)).toEqual(['chat-1', 'chat-2'])

    // A commit that deletes a thread's last key removes the thread: unlisted, no keys.
    await adapter.commit('chat-2', { del: ['h'] })
    expect((await collect(adapter.threads())).map((t) => t.thread)).toEqual(['chat-1'])
    await adapter.deleteThread('chat-1')
    expect(await client.keys(`${p}*`)).toEqual([])
    expect(await collect(adapter.threads())).toEqual([])
  })

  it('stores bytes exactly, whatever they are: every byte value, invalid UTF-8, RESP-looking bytes, NUL, empty (RESP2 and RESP3)', async () => {
    const values: Uint8Array[] = [
      Uint8Array.from({ length: 256 }, (_, i) => i),
      Uint8Array.from({ length: 256 }, (_, i) => 255 - i),
      new Uint8Array([0xff]),
      new Uint8Array([0xfe, 0xff]),
      new Uint8Array([0xc3, 0x28]),
      new Uint8Array([0x80]),
      new Uint8Array([0xc0, 0xaf]),
      new Uint8Array([0xed, 0xa0, 0x80]),
      new Uint8Array([0xf4, 0x90, 0x80, 0x80]),
      new Uint8Array([0x00]),
      new Uint8Array([0x00, 0x00, 0x0d, 0x0a]),
      utf8('\r\n$-1\r\n*0\r\n-ERR not an error\r\n:1\r\n'),
      utf8('€𝄞 text that is valid UTF-8'),
      new Uint8Array(0),
      noise(300_000, 9),
    ]
    const resp3 = await connect(server.url, { RESP: 3 })
    for (const c of [client, resp3]) {
      const adapter = createRedisAdapter(c, { prefix: prefix() })
      const keys = values.map((_, i) => `v/${String(i).padStart(2, '0')}`)
      await adapter.commit('bin', { put: values.map((v, i) => [keys[i] as string, v]) })
      const got = await adapter.get('bin', keys)
      expect(got.map(hex)).toEqual(values.map(hex))
      for (const v of got) expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype)
      const scanned = await collect(adapter.scan('bin'))
      expect(scanned.map(([k, v]) => [k, hex(v)])).toEqual(keys.map((k, i) => [k, hex(values[i])]))
      // Guards compare bytes, never text: 0xff, 0xfe and U+FFFD would all decode to the same replacement character.
      await adapter.commit('bin', { put: [['h', new Uint8Array([0xff])]] })
      for (const stale of [[0xfe], [0xef, 0xbf, 0xbd], [0xff, 0x00], []]) {
        await rejectsWith(adapter.commit('bin', { put: [['x', utf8('x')]] }, { key: 'h', expect: new Uint8Array(stale) }), 'CONFLICT')
      }
      await adapter.commit('bin', { put: [['h', new Uint8Array([0x00, 0xff])]] }, { key: 'h', expect: new Uint8Array([0xff]) })
      expect(hex((await adapter.get('bin', ['h']))[0])).toBe('00 ff')
      expect(await keysOf(adapter, 'bin', { from: 'x' })).toEqual([])
    }
  })

  it('two connections racing guarded commits on one head: exactly one wins each round, the loser writes nothing', async () => {
    const p = prefix()
    const other = await connect(server.url)
    const [a, b] = [createRedisAdapter(client, { prefix: p }), createRedisAdapter(other, { prefix: p })]
    await a.commit('t', { put: [['h', utf8('0')]] })
    const wins = { a: 0, b: 0 }
    for (let round = 1; round <= 60; round++) {
      const head = utf8(String(round - 1))
      const attempt = (adapter: StorageAdapter, who: 'a' | 'b') =>
        adapter.commit('t', { put: [['h', utf8(String(round))], [`by/${round}/${who}`, noise(2048, round)]], del: [`by/${round - 1}/a`, `by/${round - 1}/b`] }, { key: 'h', expect: head })
      const results = await Promise.allSettled([attempt(a, 'a'), attempt(b, 'b')])
      const won = results.map((r) => r.status === 'fulfilled')
      expect(won.filter(Boolean)).toHaveLength(1)
      const winner = won[0] ? 'a' : 'b'
      wins[winner]++
      await rejectsWith(Promise.reject((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), 'CONFLICT')
      expect(await keysOf(b, 't')).toEqual([`by/${round}/${winner}`, 'h'])
      expect(new TextDecoder().decode((await a.get('t', ['h']))[0])).toBe(String(round))
    }
    expect(wins.a + wins.b).toBe(60)
  })

  it('a connection cut while a commit is in flight: STORAGE_UNAVAILABLE saying it may or may not have landed; the thread goes on', async () => {
    const p = prefix()
    const victim = await connect(server.url)
    const adapter = createRedisAdapter(victim, { prefix: p })
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    const id = String(await victim.sendCommand(['CLIENT', 'ID']))
    // Writes pause on the server, so the commit is held there, sent and unanswered, until its connection is killed.
    await client.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE'])
    let err: EdgegraphError | undefined
    try {
      const pending = rejectsWith(adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]] }, { key: 'h', expect: utf8('1') }), 'STORAGE_UNAVAILABLE')
      while (!String(await client.sendCommand(['CLIENT', 'LIST', 'ID', id])).includes('cmd=evalsha'));
      await client.sendCommand(['CLIENT', 'KILL', 'ID', id])
      err = await pending
    } finally {
      await client.sendCommand(['CLIENT', 'UNPAUSE'])
    }
    expect(err?.message).toMatch(/^redis adapter \(prefix "t\d+:"\), thread "t": commit failed: .*The write may or may not have landed: read the thread \(getState\) before repeating an input/)
    // Here it had not (a paused command dies with its connection); the client reconnects and the thread goes on.
    expect(await dump(adapter, 't')).toEqual([['h', '31']])
    await adapter.commit('t', { put: [['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
  })

  it('a closed client: STORAGE_UNAVAILABLE saying nothing was sent', async () => {
    const closed = await connect(server.url)
    const adapter = createRedisAdapter(closed, { prefix: prefix() })
    closed.destroy()
    const err = await rejectsWith(adapter.commit('t', { put: [['h', utf8('1')]] }), 'STORAGE_UNAVAILABLE')
    expect(err.message).toContain('The command was not sent, so nothing was written')
    await rejectsWith(adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE')
  })

  it('a lost script cache (SCRIPT FLUSH, a restart) is reloaded by EVAL on NOSCRIPT, and the commit runs once', async () => {
    const sent: string[] = []
    const spy: RedisClientLike = { sendCommand: (args, options) => (sent.push(String(args[0])), client.sendCommand(args as string[], options as never)) }
    const adapter = createRedisAdapter(spy, { prefix: prefix() })
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    expect(sent.filter((c) => c === 'EVAL')).toEqual([])
    await client.sendCommand(['SCRIPT', 'FLUSH'])
    await adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]] }, { key: 'h', expect: utf8('1') })
    expect(sent.slice(-2)).toEqual(['EVALSHA', 'EVAL'])
    expect(await keysOf(adapter, 't')).toEqual(['c/2', 'h'])
    await adapter.deleteThread('t')
    expect(await keysOf(adapter, 't')).toEqual([])
  })


  it('a key of the wrong type under the prefix (another program wrote it): the commit is refused with STORAGE_FAILED naming the key, and nothing is written', async () => {
    const p = prefix()
    const adapter = createRedisAdapter(client, { prefix: p })
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    const state = async () => [await dump(adapter, 't'), await client.hGetAll(`${p}threads:at`), await client.zRange(`${p}threads:by-time`, 0, -1), await client.zRange(`${p}threads:by-name`, 0, -1)]
    const before = await state()
    // Each of the five keys a commit writes, in turn: the thread's two and the three thread indexes.
    for (const key of [`${p}{t}:kv`, `${p}{t}:keys`, `${p}threads:at`, `${p}threads:by-time`, `${p}threads:by-name`]) {
      const saved = (await client.sendCommand(['DUMP', key], { typeMapping: { 36: Buffer } } as never)) as unknown as Buffer
      await client.del(key)
      await client.set(key, 'not an edgegraph key')
      const err = await rejectsWith(adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]] }, { key: 'h', expect: utf8('1') }), 'STORAGE_FAILED')
      expect(err.message).toContain(`${key} is a string, not a`)
      expect(err.message).toContain('Nothing was written')
      expect(await client.get(key)).toBe('not an edgegraph key')
      // Nothing was written to the other four keys either: with this one put back, the store is as it was.
      await client.del(key)
      await client.sendCommand(['RESTORE', key, '0', saved])
      expect(await state()).toEqual(before)
    }
    await adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]] }, { key: 'h', expect: utf8('1') })
    expect(await keysOf(adapter, 't')).toEqual(['c/1', 'c/2', 'h'])
  })

  it('refuses a client that answers text where bytes were asked for (node-redis 4 ignores typeMapping), a cluster client and bad options', async () => {
    const textOnly: RedisClientLike = { sendCommand: (args) => client.sendCommand(args as string[]) }
    const err = await rejectsWith(createRedisAdapter(textOnly, { prefix: prefix() }).commit('t', { put: [['h', utf8('1')]] }), 'INVALID_ARGUMENT')
    expect(err.message).toContain('node-redis 5 or newer')
    expect(() => createRedisAdapter(client, { prefix: 'a{b}:' })).toThrow(/without "\{" or "\}"/)
    const cluster = createCluster({ rootNodes: [{ url: server.url }] })
    expect(() => createRedisAdapter(cluster as unknown as RedisClientLike)).toThrow(/Redis Cluster is not supported/)
    expect(() => createRedisAdapter(client, { maxValueBytes: 0 })).toThrow(/maxValueBytes/)
  })
})

describe('redis adapter at maxmemory', () => {
  let full: TestServer
  let c: Client
  beforeAll(async () => {
    full = await startRedis('none')
    c = await connect(full.url)
  }, 30_000)
  afterAll(async () => {
    c?.destroy()
    await full?.stop()
  })

  it('refuses a server whose maxmemory-policy would evict checkpoints', async () => {
    await c.configSet('maxmemory-policy', 'allkeys-lru')
    try {
      const err = await rejectsWith(createRedisAdapter(c, { prefix: prefix() }).commit('t', { put: [['h', utf8('1')]] }), 'STORAGE_UNAVAILABLE')
      expect(err.message).toContain('maxmemory-policy is allkeys-lru')
    } finally {
      await c.configSet('maxmemory-policy', 'noeviction')
    }
  })

  it('over maxmemory: commits are QUOTA_EXCEEDED with nothing written, runs keep their checkpoints, deletes free space and everything resumes', async () => {
    const adapter = createRedisAdapter(c, { prefix: prefix() })
    // 512 KiB in 8 values (few enough for Redis to free them at once when the thread is deleted).
    await adapter.commit('filler', { put: Array.from({ length: 8 }, (_, i): [string, Uint8Array] => [`f/${i}`, noise(64 * 1024, i + 1)]) })
    await adapter.commit('t', { put: ['a', 'b', 'c', 'd', 'h'].map((k): [string, Uint8Array] => [k, utf8(`t:${k}`)]) })
    const graph = counter(adapter, 3)
    expect(await graph.invoke({ count: 0 }, { threadId: 'g' })).toEqual({ count: 3, log: ['inc 0', 'inc 1', 'inc 2'] })
    const history = async () => (await collect(graph.getStateHistory({ threadId: 'g' }))).map((s) => [s.config.checkpointId, s.values])
    const state = async () => ({ t: await dump(adapter, 't'), g: await history(), fresh: await keysOf(adapter, 'fresh'), threads: await collect(adapter.threads()) })
    const before = await state()

    // Already 128 KiB over the limit, well beyond what Redis's own buffers move.
    await c.configSet('maxmemory', String(Number(await info(c, 'used_memory')) - 128 * 1024))
    try {
      const batch = { put: [['a', utf8('A2')], ['new1', utf8('N1')], ['big', noise(32 * 1024, 7)], ['new2', utf8('N2')]] as [string, Uint8Array][], del: ['b', 'd'] }
      const guard = { key: 'h', expect: utf8('t:h') }
      const err = await rejectsWith(adapter.commit('t', batch, guard), 'QUOTA_EXCEEDED')
      expect(err.message).toMatch(/^redis adapter \(prefix "t\d+:"\), thread "t": commit failed: OOM .*Nothing was written and the last checkpoint is intact/)
      await rejectsWith(adapter.commit('fresh', batch), 'QUOTA_EXCEEDED')
      await rejectsWith(counter(adapter, 6).invoke({ count: 3 }, { threadId: 'g' }), 'QUOTA_EXCEEDED')
      await rejectsWith(counter(adapter, 3).invoke({ count: 0 }, { threadId: 'g2' }), 'QUOTA_EXCEEDED')
      expect(await state()).toEqual(before)
      // A guard that fails is still a CONFLICT: the guard is read before anything is written.
      await rejectsWith(adapter.commit('t', batch, { key: 'h', expect: utf8('stale') }), 'CONFLICT')

      // Deleting frees space, also at the limit: a batch of deletes and deleteThread go through.
      await adapter.commit('t', { del: ['c'] })
      await adapter.deleteThread('filler')
      await adapter.commit('t', batch, guard)
      expect(await keysOf(adapter, 't')).toEqual(['a', 'big', 'h', 'new1', 'new2'])
      expect(await counter(adapter, 6).invoke({ count: 3 }, { threadId: 'g' })).toEqual({ count: 6, log: ['inc 0', 'inc 1', 'inc 2', 'inc 3', 'inc 4', 'inc 5'] })
    } finally {
      await c.configSet('maxmemory', '0')
    }
  })
})

describe('redis server killed with kill -9 in the middle of a run', () => {
  it('the run fails with a typed error; after a restart a fresh graph resumes it, and every step reported committed is there, once', async () => {
    const crashing = await startRedis('always')
    let c: Client | undefined
    try {
      // No offline queue: while the server is down a call fails at once instead of waiting for it to come back.
      c = await connect(crashing.url, { disableOfflineQueue: true })
      const sent: string[] = []
      const connected = c
      const spy: RedisClientLike = { sendCommand: (args, options) => (sent.push(String(args[0])), connected.sendCommand(args as string[], options as never)) }
      const adapter = createRedisAdapter(spy, { prefix: 'crash:' })
      const STEPS = 120
      let killed: Promise<void> | undefined
      const graph = counter(adapter, STEPS, (count) => {
        if (count === 40) killed = crashing.kill()
      })
      // Each checkpoint as the run reports it committed, with the state it holds (the 'values' event comes first).
      const reported: { id: string; step: number; count: number }[] = []
      let count = -1
      let error: unknown
      try {
        for await (const chunk of graph.stream({ count: 0 }, { threadId: 'run', recursionLimit: 500, streamMode: ['debug', 'values'] })) {
          if (chunk[0] === 'values' && 'count' in chunk[1]) count = chunk[1].count
          else if (chunk[0] === 'debug' && chunk[1].type === 'checkpoint') reported.push({ id: chunk[1].payload.checkpointId, step: chunk[1].payload.metadata.step, count })
        }
      } catch (err) {
        error = err
      }
      const err = await rejectsWith(Promise.reject(error), 'STORAGE_UNAVAILABLE')
      expect(err.context.adapter).toBe('redis')
      expect(reported.length).toBeGreaterThan(40)
      expect(reported.length).toBeLessThan(STEPS)

      await killed
      await crashing.start()
      if (!connected.isReady) await new Promise((resolve) => connected.once('ready', resolve))
      // A fresh graph on the same store continues the thread; the restarted server lost its script cache.
      const evalsBefore = sent.filter((s) => s === 'EVAL').length
      const fresh = counter(adapter, STEPS)
      const end = await fresh.invoke(null, { threadId: 'run', recursionLimit: 500 })
      expect(end).toEqual({ count: STEPS, log: Array.from({ length: STEPS }, (_, i) => `inc ${i}`) })
      expect(sent.filter((s) => s === 'EVAL').length).toBeGreaterThan(evalsBefore)

      // Every checkpoint reported committed is stored, with the state it was reported with; no step is stored twice.
      const history = (await collect(fresh.getStateHistory({ threadId: 'run' }))).reverse()
      const byId = new Map(history.map((s) => [s.config.checkpointId, s]))
      for (const r of reported) expect({ id: r.id, step: byId.get(r.id)?.metadata.step, count: byId.get(r.id)?.values.count }).toEqual({ id: r.id, step: r.step, count: r.count })
      expect(history.map((s) => s.metadata.step)).toEqual(Array.from({ length: STEPS + 1 }, (_, i) => i))
      expect(history.map((s) => s.values.count)).toEqual([0, ...Array.from({ length: STEPS }, (_, i) => i + 1)])
    } finally {
      c?.destroy()
      await crashing.stop()
    }
  })

  it('a commit cut anywhere in the append-only file is there whole or not at all after a restart', async () => {
    const cutting = await startRedis('always')
    try {
      let c = await connect(cutting.url)
      const adapter = () => createRedisAdapter(c, { prefix: 'aof:' })
      await adapter().commit('t', { put: [['h', utf8('1')], ['a', utf8('A1')], ['b', utf8('B1')]] })
      const before = await dump(adapter(), 't')
      await adapter().commit('t', { put: [['h', utf8('2')], ['a', noise(5000, 3)], ['c', utf8('C2')]], del: ['b'] }, { key: 'h', expect: utf8('1') })
      const after = await dump(adapter(), 't')
      const dir = join(String((await c.configGet('dir')).dir), 'appendonlydir')
      await cutting.kill()
      c.destroy()
      // Redis 7 appends to one "incr" file; the script's writes are one MULTI ... EXEC block in it.
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.incr.aof')) as string)
      const whole = readFileSync(file)
      const multi = whole.lastIndexOf('*1\r\n$5\r\nMULTI\r\n')
      expect(multi).toBeGreaterThan(0)
      expect(whole.subarray(multi).toString('latin1')).toMatch(/HSET[\s\S]*ZADD[\s\S]*HDEL[\s\S]*EXEC\r\n$/)
      const restart = async (bytes: Buffer) => {
        writeFileSync(file, bytes)
        await cutting.start()
        c = await connect(cutting.url)
        const found = await dump(adapter(), 't')
        await cutting.kill()
        c.destroy()
        return found
      }
      // Cut inside the block (just after MULTI, halfway, inside EXEC): the thread is as before the commit, whole.
      for (const cut of [multi + 20, Math.floor((multi + whole.length) / 2), whole.length - 3]) {
        expect({ cut, found: await restart(whole.subarray(0, cut)) }).toEqual({ cut, found: before })
      }
      expect(await restart(whole)).toEqual(after)
    } finally {
      await cutting.stop()
    }
  })
})
