/** @module Redis storage adapter: checkpoints in Redis through the app's node-redis client, one Lua script per commit with the head guard checked inside it. */
/*
 * ## Layout (prefix `P`, default `edgegraph:`)
 * - `P{<thread>}:kv`    hash: storage key → value bytes.
 * - `P{<thread>}:keys`  sorted set of the thread's storage keys, every score 0, so ZRANGEBYLEX reads a key range
 *                       in byte order, which is JS string order for the printable-ASCII keys of the contract.
 * - `Pthreads:at`       hash: thread → time of its last commit (15 zero-padded digits of ms since the epoch).
 * - `Pthreads:by-time`  sorted set, scores 0, members `<15-digit time><thread>`: threads() oldest first, ties by id,
 *                       and its cursor (`after`) and `updatedBefore` are plain lexicographic bounds.
 * - `Pthreads:by-name`  sorted set, scores 0, members `<thread>`: threads({ prefix }) reads that key range only.
 * The braces are a hash tag: one thread's keys hash to one cluster slot. The thread index is one set of keys that
 * every commit updates in the same script, which Redis Cluster refuses across slots (CROSSSLOT): single-node Redis
 * (or a primary with replicas, Sentinel) only.
 *
 * ## A commit
 * One EVALSHA of {@link COMMIT} (EVAL when the server answers NOSCRIPT: a restart or SCRIPT FLUSH empties the
 * cache; the script did not run then, so sending it again is safe). Redis runs a script alone, so the guard read
 * and the writes cannot interleave with another client's. The script reads before it writes: the key types (a key
 * of the wrong type under the prefix would fail a write halfway, and Redis does not roll scripts back), then the
 * guard, compared byte for byte as Lua strings; a failed guard returns 1 with nothing written. Puts go first, then
 * deletes (of keys the batch does not also put): under `maxmemory` Redis refuses a script's first write when memory
 * was full as it started (OOM → `QUOTA_EXCEEDED`, nothing written), and lets every later write of the script
 * through, so a commit is refused whole or applied whole; a batch of deletes only is let through, which frees space.
 * With the append-only file, Redis logs a script's writes as one MULTI/EXEC block, and on restart drops an
 * incomplete block at the end of the file: after a crash a commit is there whole or not at all.
 *
 * ## Bytes
 * node-redis sends Buffers verbatim and, with `typeMapping: { [BLOB_STRING]: Buffer }` per command (node-redis
 * 5 and 6), hands bulk replies back as Buffers; the adapter copies them into plain Uint8Arrays. Lua strings are
 * byte strings. No value is ever decoded as text.
 */
import { isEdgegraphError, type EdgegraphError } from '../src/errors.js'
import { adapterError, checkPuts, conflict, pagedScan, quotaExceeded, type Batch, type Guard, type ScanRange, type StorageAdapter, type ThreadInfo, type ThreadsOptions } from '../src/checkpoint/adapter.js'

/**
 * The part of a node-redis client (`createClient()` from `redis` 5 or 6, connected) the adapter uses. node-redis 4
 * ignores `typeMapping` and answers text, which would corrupt bytes: the adapter refuses it on first use.
 */
export interface RedisClientLike {
  sendCommand(args: readonly (string | Uint8Array)[], options?: { typeMapping?: Record<number, unknown> }): Promise<unknown>
}

/** Options of {@link createRedisAdapter}. */
export interface RedisAdapterOptions {
  /**
   * Prepended to every key the adapter writes (default `"edgegraph:"`). Give each app (or each test) its own so
   * they never see each other's threads. No `{` or `}` (they would change the keys' cluster hash tags).
   */
  prefix?: string
  /** Largest value per key before the history layer chunks it. Default 1 MiB; at most 512 MiB (Redis's bulk limit). */
  maxValueBytes?: number
}

/** RESP type code of a bulk string (`$`), the key of node-redis's `typeMapping`. */
const BLOB_STRING = 36
/** Largest bulk argument Redis accepts by default (`proto-max-bulk-len`). */
const MAX_BULK = 512 * 1024 * 1024
/** Entries per scan page: values can be up to `maxValueBytes` each. */
const SCAN_PAGE = 64
/** Keys per HMGET, threads per index page. */
const PAGE = 512

/** The node-redis argument and reply type for bytes: Node's Buffer, a Uint8Array subclass. */
interface BufferConstructorLike {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array
}

/**
 * Checks the keys' types, then the guard; puts, deletes, then the thread index. Returns 1 on a failed guard, else 0.
 * Only calls that change something are made: a key's member is added to the sorted set when HSET created its field (the
 * two are written together, so an existing field has its member), the thread joins by-name when it had no time (the
 * same holds for `at` and by-name), and the time index moves only when the stamp changed. Every call costs the script
 * time, and every write is logged to the append-only file.
 */
const COMMIT = `
local types = { 'hash', 'zset', 'hash', 'zset', 'zset' }
for i = 1, 5 do
  local t = redis.call('TYPE', KEYS[i]).ok
  if t ~= 'none' and t ~= types[i] then return redis.error_reply('WRONGTYPE edgegraph: ' .. KEYS[i] .. ' is a ' .. t .. ', not a ' .. types[i]) end
end
local kv, keys = KEYS[1], KEYS[2]
local mode = ARGV[3]
if mode ~= '0' then
  local current = redis.call('HGET', kv, ARGV[4])
  if mode == '1' then
    if current then return 1 end
  elseif current ~= ARGV[5] then
    return 1
  end
end
local nput, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])
local at = 8
for i = 0, nput - 1 do
  local k = ARGV[at + 2 * i]
  if redis.call('HSET', kv, k, ARGV[at + 2 * i + 1]) == 1 then redis.call('ZADD', keys, 0, k) end
end
at = at + 2 * nput
for i = 0, ndel - 1 do
  local k = ARGV[at + i]
  if redis.call('HDEL', kv, k) == 1 then redis.call('ZREM', keys, k) end
end
local thread, stamp = ARGV[1], ARGV[2]
local old = redis.call('HGET', KEYS[3], thread)
if (nput > 0 or redis.call('ZCARD', keys) > 0) then
  if old ~= stamp then
    if old then redis.call('ZREM', KEYS[4], old .. thread) else redis.call('ZADD', KEYS[5], 0, thread) end
    redis.call('HSET', KEYS[3], thread, stamp)
    redis.call('ZADD', KEYS[4], 0, stamp .. thread)
  end
elseif old then
  redis.call('ZREM', KEYS[4], old .. thread)
  redis.call('HDEL', KEYS[3], thread)
  redis.call('ZREM', KEYS[5], thread)
end
return 0
`

/** One page of a thread's entries, key range as ZRANGEBYLEX bounds: `[key1, value1, key2, value2, ...]`. */
const SCAN = `
local members
if ARGV[4] == '1' then
  members = redis.call('ZREVRANGEBYLEX', KEYS[2], ARGV[2], ARGV[1], 'LIMIT', 0, ARGV[3])
else
  members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
end
if #members == 0 then return {} end
local values = redis.call('HMGET', KEYS[1], unpack(members))
local out = {}
for i = 1, #members do
  out[2 * i - 1] = members[i]
  out[2 * i] = values[i]
end
return out
`

/** Removes a thread: its keys and its index entries. */
const DELETE = `
local old = redis.call('HGET', KEYS[3], ARGV[1])
if old then redis.call('ZREM', KEYS[4], old .. ARGV[1]) end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('UNLINK', KEYS[1], KEYS[2])
return 0
`

const SCRIPTS = { commit: COMMIT, scan: SCAN, delete: DELETE }
type ScriptName = keyof typeof SCRIPTS

/** Digits of a stored time: ms since the epoch up to the year 33658, zero-padded so text order is time order. */
const STAMP_DIGITS = 15
const stamp = (ms: number) => String(ms).padStart(STAMP_DIGITS, '0')

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Creates an adapter on a connected node-redis client (5.x or 6.x; tested with 6.3.1 against Redis 7.0). The
 * client stays the app's: the adapter never connects, closes or reconfigures it. Needs Redis 4.0 or newer and a
 * single node (see the README for durability settings: `appendonly yes` with `appendfsync always`).
 *
 * @example
 * import { createClient } from 'redis'
 * const client = await createClient({ url: 'redis://127.0.0.1:6379' }).on('error', console.error).connect()
 * const graph = builder.compile({ checkpointer: createRedisAdapter(client) })
 */
export function createRedisAdapter(client: RedisClientLike, options: RedisAdapterOptions = {}): StorageAdapter {
  const name = 'redis'
  const prefix = options.prefix ?? 'edgegraph:'
  const maxValueBytes = options.maxValueBytes ?? 1024 * 1024
  if (typeof client?.sendCommand !== 'function') throw adapterError(name, 'INVALID_ARGUMENT', 'pass a connected node-redis client: createRedisAdapter(await createClient({ url }).connect()).')
  // node-redis's cluster client has another sendCommand (firstKey, isReadonly, args); see the layout notes above.
  if ('masters' in client && 'slots' in client) throw adapterError(name, 'INVALID_ARGUMENT', 'Redis Cluster is not supported: every commit updates the thread indexes with the thread in one script. Pass a client of one Redis node (createClient).')
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw adapterError(name, 'INVALID_ARGUMENT', `prefix ${JSON.stringify(prefix)} must be a string without "{" or "}" (they would change the keys' cluster hash tags).`)
  if (!Number.isInteger(maxValueBytes) || maxValueBytes <= 0 || maxValueBytes > MAX_BULK) {
    throw adapterError(name, 'INVALID_ARGUMENT', `maxValueBytes must be an integer from 1 to ${MAX_BULK} (Redis's 512 MiB bulk limit), got ${maxValueBytes}.`)
  }
  const NodeBuffer = (globalThis as { Buffer?: BufferConstructorLike }).Buffer
  if (NodeBuffer === undefined) throw adapterError(name, 'INVALID_ARGUMENT', 'node-redis needs Node (Buffer is missing here).')
  const self = { name, store: `prefix "${prefix}"` }
  const threadKeys = (thread: string) => [`${prefix}{${thread}}:kv`, `${prefix}{${thread}}:keys`, `${prefix}threads:at`, `${prefix}threads:by-time`, `${prefix}threads:by-name`]
  const byTime = `${prefix}threads:by-time`
  const byName = `${prefix}threads:by-name`
  const at = `${prefix}threads:at`

  /** One command; bytes are sent as Buffers (node-redis refuses other Uint8Arrays) and bulk replies come back as Buffers. */
  const send = (args: (string | Uint8Array)[]) =>
    client.sendCommand(
      args.map((a) => (typeof a === 'string' ? a : NodeBuffer.from(a.buffer, a.byteOffset, a.byteLength))),
      { typeMapping: { [BLOB_STRING]: NodeBuffer } },
    )

  let loading: Promise<Record<ScriptName, string>> | undefined
  /** Loads the scripts (once; again after a failure) and checks the client and the server's eviction policy. */
  const scripts = (): Promise<Record<ScriptName, string>> => {
    loading ??= (async () => {
      const names = Object.keys(SCRIPTS) as ScriptName[]
      // INFO refused by the server (an ACL without it) leaves the policy unchecked rather than the store unusable.
      const [info, ...shas] = await Promise.all([send(['INFO', 'memory']).catch((err: unknown) => (serverReply(err) ? undefined : Promise.reject(err))), ...names.map((n) => send(['SCRIPT', 'LOAD', SCRIPTS[n]]))])
      if (!shas.every((s) => s instanceof Uint8Array)) {
        throw adapterError(self, 'INVALID_ARGUMENT', 'the client answered text where bytes were asked for (typeMapping), so stored bytes would be corrupted: use node-redis 5 or newer (createClient from "redis").')
      }
      // An allkeys-* policy lets Redis delete checkpoints to make room: refused rather than lose history silently.
      const policy = /maxmemory_policy:(\S+)/.exec(text(info))?.[1]
      if (policy?.startsWith('allkeys-')) {
        throw adapterError(self, 'STORAGE_UNAVAILABLE', `the server's maxmemory-policy is ${policy}, so Redis would evict checkpoints when memory is full. Set maxmemory-policy noeviction (the default) or a volatile-* policy (the adapter sets no TTLs).`)
      }
      return Object.fromEntries(names.map((n, i) => [n, text(shas[i])])) as Record<ScriptName, string>
    })().catch((err: unknown) => {
      loading = undefined
      throw err
    })
    return loading
  }

  /** Runs a script by its SHA1, or by its text when the server's script cache lost it. */
  const run = async (script: ScriptName, keys: string[], args: (string | Uint8Array)[]): Promise<unknown> => {
    const shas = await scripts()
    const rest = [String(keys.length), ...keys, ...args]
    try {
      return await send(['EVALSHA', shas[script], ...rest])
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err
      return send(['EVAL', SCRIPTS[script], ...rest])
    }
  }

  /** Runs `fn`, turning a client or server failure into a typed error that says whether anything was written. */
  const attempt = async <T>(thread: string | undefined, action: string, write: boolean, fn: () => Promise<T>): Promise<T> => {
    try {
      await scripts()
      return await fn()
    } catch (err) {
      throw redisError(self, err, thread, action, write)
    }
  }

  return {
    name,
    limits: { maxValueBytes },

    async get(thread, keys) {
      if (keys.length === 0) return []
      return attempt(thread, 'get', false, async () => {
        const out: (Uint8Array | undefined)[] = []
        for (let i = 0; i < keys.length; i += PAGE) {
          const reply = await send(['HMGET', threadKeys(thread)[0] as string, ...keys.slice(i, i + PAGE)])
          if (!Array.isArray(reply)) throw malformed(self, thread, 'HMGET')
          for (const value of reply) out.push(value === null ? undefined : bytes(self, thread, value))
        }
        return out
      })
    },

    scan(thread, range: ScanRange = {}) {
      const [kv, keys] = threadKeys(thread) as [string, string]
      return pagedScan(range, SCAN_PAGE, ({ from, to, reverse, count }) =>
        attempt(thread, 'scan', false, async () => {
          const reply = await run('scan', [kv, keys], [from === undefined ? '-' : `[${from}`, to === undefined ? '+' : `(${to}`, String(count), reverse ? '1' : '0'])
          if (!Array.isArray(reply) || reply.length % 2 !== 0) throw malformed(self, thread, 'scan page')
          const page: [string, Uint8Array][] = []
          for (let i = 0; i < reply.length; i += 2) {
            const key = text(reply[i])
            // Both are written by one script, so a key without a value means something else changed the thread.
            if (reply[i + 1] === null || reply[i + 1] === false) throw adapterError(self, 'STORAGE_FAILED', `key "${key}" is listed in ${keys} but has no value in ${kv}: something other than this adapter changed the thread's keys. Nothing was written.`, { thread })
            page.push([key, bytes(self, thread, reply[i + 1])])
          }
          return page
        }),
      )
    },

    async commit(thread, batch: Batch, guard?: Guard) {
      checkPuts(batch, maxValueBytes, self, thread)
      const puts = batch.put ?? []
      const putKeys = new Set(puts.map(([k]) => k))
      // A key both put and deleted ends up put (as in the memory adapter): deletes are of the other keys only.
      const dels = (batch.del ?? []).filter((k) => !putKeys.has(k))
      for (const key of dels) if (typeof key !== 'string') throw adapterError(self, 'INVALID_ARGUMENT', `delete of key ${JSON.stringify(key)}, which is not a string. Nothing was written.`, { thread })
      const mode = guard === undefined ? '0' : guard.expect === undefined ? '1' : '2'
      const args: (string | Uint8Array)[] = [thread, stamp(Date.now()), mode, guard?.key ?? '', guard?.expect ?? '', String(puts.length), String(dels.length)]
      for (const [key, value] of puts) args.push(key, value)
      args.push(...dels)
      const result = await attempt(thread, 'commit', true, () => run('commit', threadKeys(thread), args))
      if (result === 1) throw conflict(self, thread, (guard as Guard).key)
      if (result !== 0) throw malformed(self, thread, 'commit')
    },

    async deleteThread(thread) {
      await attempt(thread, 'deleteThread', true, () => run('delete', threadKeys(thread), [thread]))
    },

    threads(opts: ThreadsOptions = {}) {
      return opts.prefix ? threadsWithPrefix(opts, opts.prefix) : threadsByTime(opts)
    },
  }

  /** threads() without a prefix: the by-time index page by page, its bounds and cursor as lexicographic ranges. */
  async function* threadsByTime(opts: ThreadsOptions): AsyncIterable<ThreadInfo> {
    let left = opts.limit ?? Number.POSITIVE_INFINITY
    let min = opts.after === undefined ? '-' : `(${stamp(cursorTime(opts.after.updatedAt))}${opts.after.thread}`
    // Before time T: members below the T stamp itself (a member is its stamp followed by the thread id).
    const max = opts.updatedBefore === undefined || opts.updatedBefore >= 10 ** STAMP_DIGITS ? '+' : `(${stamp(Math.max(0, Math.ceil(opts.updatedBefore)))}`
    while (left > 0) {
      const count = Math.min(PAGE, left)
      const reply = await attempt(undefined, 'threads', false, () => send(['ZRANGEBYLEX', byTime, min, max, 'LIMIT', '0', String(count)]))
      if (!Array.isArray(reply)) throw malformed(self, undefined, 'threads page')
      for (const member of reply) {
        const m = text(member)
        yield { thread: m.slice(STAMP_DIGITS), updatedAt: Number(m.slice(0, STAMP_DIGITS)) }
      }
      if (reply.length < count) return
      left -= reply.length
      min = `(${text(reply[reply.length - 1])}`
    }
  }

  /** threads({ prefix }): the ids in the prefix's key range of the by-name index, with their times, sorted by time. */
  async function* threadsWithPrefix(opts: ThreadsOptions, idPrefix: string): AsyncIterable<ThreadInfo> {
    const found = await attempt(undefined, 'threads', false, async () => {
      const out: ThreadInfo[] = []
      // Every id starting with the prefix sorts below the prefix followed by byte 0xff, which UTF-8 never contains.
      const end = encoder.encode(`(${idPrefix}\u0000`)
      end[end.length - 1] = 0xff
      let min: string | Uint8Array = `[${idPrefix}`
      for (;;) {
        const names = await send(['ZRANGEBYLEX', byName, min, end, 'LIMIT', '0', String(PAGE)])
        if (!Array.isArray(names)) throw malformed(self, undefined, 'threads page')
        if (names.length === 0) break
        const times = await send(['HMGET', at, ...names.map(text)])
        if (!Array.isArray(times)) throw malformed(self, undefined, 'threads times')
        // A thread deleted between the two reads has no time: it is gone, leave it out.
        for (const [i, n] of names.entries()) if (times[i] !== null) out.push({ thread: text(n), updatedAt: Number(text(times[i])) })
        if (names.length < PAGE) break
        min = `(${text(names[names.length - 1])}`
      }
      return out
    })
    const { updatedBefore, after } = opts
    const listed = found
      .filter((t) => (updatedBefore === undefined || t.updatedAt < updatedBefore) && (after === undefined || t.updatedAt > after.updatedAt || (t.updatedAt === after.updatedAt && t.thread > after.thread)))
      .sort((a, b) => a.updatedAt - b.updatedAt || (a.thread < b.thread ? -1 : a.thread > b.thread ? 1 : 0))
    yield* listed.slice(0, opts.limit ?? listed.length)
  }

  function cursorTime(ms: number): number {
    if (!Number.isSafeInteger(ms) || ms < 0 || ms >= 10 ** STAMP_DIGITS) throw adapterError(self, 'INVALID_ARGUMENT', `threads({ after }) needs an updatedAt this adapter listed (whole ms since the epoch), got ${ms}.`)
    return ms
  }
}

/** A reply as text: bulk strings come back as Buffers, simple and verbatim strings (RESP3) as strings. */
function text(reply: unknown): string {
  if (typeof reply === 'string') return reply
  if (reply instanceof Uint8Array) return decoder.decode(reply)
  return ''
}

/** A bulk reply as a plain Uint8Array of its own (node-redis's Buffers may share memory with others). */
function bytes(adapter: { name: string; store: string }, thread: string, reply: unknown): Uint8Array {
  if (reply instanceof Uint8Array) return new Uint8Array(reply)
  throw malformed(adapter, thread, `a value (${typeof reply}) that is not bytes`)
}

function malformed(adapter: { name: string; store: string }, thread: string | undefined, what: string): EdgegraphError {
  return adapterError(adapter, 'STORAGE_FAILED', `unexpected reply from Redis for ${what}. Nothing was written.`, { thread })
}

/** True for an error the server answered with (`ERR ...`, `OOM ...`): the command reached Redis and Redis replied. */
function serverReply(err: unknown): boolean {
  return err instanceof Error && /^[A-Z][A-Z_-]+ /.test(err.message)
}

/** Server refusals that mean "not now" rather than "wrong": the command did not run. */
const REFUSED = /^(LOADING|READONLY|MASTERDOWN|BUSY|NOAUTH|NOPERM|WRONGPASS|CLUSTERDOWN|TRYAGAIN|MISCONF|MOVED|ASK|CROSSSLOT)\b/
/** node-redis's errors for a command it never sent: the client is closed, or offline with its offline queue off. */
const NOT_SENT = /client is (closed|offline)/i

/**
 * Maps a node-redis failure to a typed error. The server's own answers (OOM, LOADING, ...) mean the command did not
 * run (the commit script fails before its first write, see the top of this file); a connection lost while a write
 * was on its way leaves its outcome unknown, and the message says so.
 */
function redisError(adapter: { name: string; store: string }, err: unknown, thread: string | undefined, action: string, write: boolean): EdgegraphError {
  if (isEdgegraphError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  const what = `${action} failed: ${message}`
  if (serverReply(err)) {
    if (/^OOM\b|\bOOM command not allowed/.test(message)) return quotaExceeded(adapter, thread, `${what} (Redis is at its maxmemory limit)`, err)
    if (/No space left on device|ENOSPC/.test(message)) return quotaExceeded(adapter, thread, `${what} (the disk of Redis's append-only file or snapshot is full)`, err)
    const code = REFUSED.test(message) ? 'STORAGE_UNAVAILABLE' : 'STORAGE_FAILED'
    return adapterError(adapter, code, `${what}. Nothing was written.`, { thread, cause: err })
  }
  if (NOT_SENT.test(message)) return adapterError(adapter, 'STORAGE_UNAVAILABLE', `${what}. The command was not sent, so nothing was written; try again once the client is connected.`, { thread, cause: err })
  // Connection lost or timed out with the command sent, or on its way: Redis may have run it.
  const outcome = !write
    ? 'Nothing was written.'
    : action === 'deleteThread'
      ? 'The delete may or may not have happened: call deleteThread again once connected (it is idempotent).'
      : 'The write may or may not have landed: read the thread (getState) before repeating an input; invoke(null) continues safely.'
  return adapterError(adapter, 'STORAGE_UNAVAILABLE', `${what}. ${outcome}`, { thread, cause: err })
}

