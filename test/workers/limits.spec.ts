/**
 * @module Platform limits, the D1 guard and Durable Object commit atomicity, inside workerd. Local workerd does not enforce the 2 MB row limit
 * (production does), so these tests look at what was actually stored.
 */
import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { END, START, StateGraph, isEdgegraphError, type StorageAdapter } from '../../src/index.js'
import { sameBytes } from '../../src/checkpoint/adapter.js'
import { createD1Adapter, type D1DatabaseLike } from '../../adapters/d1.js'
import { createDurableObjectAdapter, type DurableObjectSqlStorageLike } from '../../adapters/durable-object.js'
import { commitStatements, d1GuardStatement, schemaStatements, sqlTables, SQL_MAX_PARAMS, SQL_MAX_VALUE_BYTES } from '../../adapters/sql.js'
import { d1Adapter, durableObjectAdapter } from './helpers.js'

/** The platform's row limit, read strictly: 2,000,000 bytes. */
const PLATFORM_ROW_BYTES = 2_000_000
const FIVE_MB = 5 * 1024 * 1024
const utf8 = (text: string) => new TextEncoder().encode(text)
const text = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : new TextDecoder().decode(bytes))

function docGraph(adapter: StorageAdapter) {
  return new StateGraph({ doc: { default: () => '' }, n: { default: () => 0 } })
    .addNode('touch', (s) => ({ n: s.n + 1 }))
    .addEdge(START, 'touch')
    .addEdge('touch', END)
    .compile({ checkpointer: adapter })
}

interface RowStats {
  rows: number
  largest: number
  total: number
}
const ROW_STATS = (table: string) =>
  `SELECT count(*) AS rows, coalesce(max(length(CAST(thread AS BLOB)) + length(CAST(key AS BLOB)) + length(value)), 0) AS largest, coalesce(sum(length(value)), 0) AS total FROM ${table}`

/** A 5 MB state value through the graph API; returns what the adapter's table then holds. */
async function storeFiveMegabytes(adapter: StorageAdapter, stats: () => Promise<RowStats>): Promise<RowStats> {
  const doc = 'x'.repeat(FIVE_MB - 7) + 'the end'
  const graph = docGraph(adapter)
  await graph.invoke({ doc }, { threadId: 'big' })
  const state = await docGraph(adapter).getState({ threadId: 'big' })
  expect(state.values.doc.length).toBe(doc.length)
  expect(state.values.doc === doc).toBe(true)
  return stats()
}

describe('the 2 MB row limit (not enforced by local workerd, so checked here)', () => {
  it('both adapters declare maxValueBytes below 2 MB', () => {
    expect(SQL_MAX_VALUE_BYTES).toBeLessThan(PLATFORM_ROW_BYTES - 4096)
    expect(durableObjectAdapter().limits.maxValueBytes).toBe(SQL_MAX_VALUE_BYTES)
    expect(d1Adapter().limits.maxValueBytes).toBe(SQL_MAX_VALUE_BYTES)
  })

  it('Durable Object: a 5 MB state value is stored as rows each below 2 MB', async () => {
    const adapter = durableObjectAdapter()
    const stats = await storeFiveMegabytes(adapter, () =>
      adapter.run((storage) => {
        const row = storage.sql.exec(ROW_STATS('edgegraph_kv')).one()
        return { rows: Number(row.rows), largest: Number(row.largest), total: Number(row.total) }
      }),
    )
    expect(stats.total).toBeGreaterThanOrEqual(FIVE_MB)
    expect(stats.rows).toBeGreaterThanOrEqual(3)
    expect(stats.largest).toBeLessThan(PLATFORM_ROW_BYTES)
  })

  it('D1: a 5 MB state value is stored as rows each below 2 MB', async () => {
    const adapter = d1Adapter()
    const stats = await storeFiveMegabytes(adapter, async () => {
      const row = (await env.DB.prepare(ROW_STATS(`${adapter.table}_kv`)).first<Record<string, number>>()) as Record<string, number>
      return { rows: Number(row.rows), largest: Number(row.largest), total: Number(row.total) }
    })
    expect(stats.total).toBeGreaterThanOrEqual(FIVE_MB)
    expect(stats.rows).toBeGreaterThanOrEqual(3)
    expect(stats.largest).toBeLessThan(PLATFORM_ROW_BYTES)
  })

  it('a single value above 2 MB is refused with VALUE_TOO_LARGE by both adapters, and nothing is written', async () => {
    for (const adapter of [durableObjectAdapter(), d1Adapter()]) {
      const err = await adapter.commit('t', { put: [['ok', utf8('small')], ['big', new Uint8Array(PLATFORM_ROW_BYTES + 1)]] }).catch((e: unknown) => e)
      expect(isEdgegraphError(err, 'VALUE_TOO_LARGE'), String(err)).toBe(true)
      expect(await adapter.get('t', ['ok', 'big'])).toEqual([undefined, undefined])
    }
  })

  it('many keys in one commit are split into statements of at most 100 bound parameters, applied atomically', async () => {
    const put: [string, Uint8Array][] = Array.from({ length: 250 }, (_, i) => [`k/${String(i).padStart(4, '0')}`, utf8(`v${i}`)])
    const del = Array.from({ length: 250 }, (_, i) => `gone/${i}`)
    for (const s of commitStatements(sqlTables(), 't', { put, del }, 0)) expect(s.params.length).toBeLessThanOrEqual(SQL_MAX_PARAMS)
    for (const adapter of [durableObjectAdapter(), d1Adapter()]) {
      await adapter.commit('t', { put: del.map((k) => [k, utf8('x')]) })
      await adapter.commit('t', { put, del }, { key: 'h', expect: undefined })
      const keys: string[] = []
      for await (const [k] of adapter.scan('t')) keys.push(k)
      expect(keys).toEqual(put.map(([k]) => k))
      // A conflicting many-statement commit writes none of its statements.
      const err = await adapter.commit('t', { put: put.map(([k]) => [k, utf8('changed')]), del: put.map(([k]) => k) }, { key: 'k/0000', expect: utf8('stale') }).catch((e: unknown) => e)
      expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
      expect((await adapter.get('t', ['k/0000', 'k/0249'])).map(text)).toEqual(['v0', 'v249'])
    }
  })
})

describe('D1 head guard: enforced by SQLite inside the batch', () => {
  const guardRows = async (table: string) => Number((await env.DB.prepare(`SELECT count(*) AS n FROM ${table}_guard`).first<{ n: number }>())?.n)

  it('D1 rejects the guard statement when the head does not match (CHECK constraint), and accepts it when it does', async () => {
    const adapter = d1Adapter()
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    const t = sqlTables(adapter.table)
    const stmt = (expectBytes: Uint8Array | undefined) => {
      const s = d1GuardStatement(t, 't', { key: 'h', expect: expectBytes })
      return env.DB.prepare(s.sql).bind(...s.params)
    }
    const cleanup = env.DB.prepare(`DELETE FROM ${t.guard}`)
    for (const stale of [undefined, utf8('2'), utf8('1 '), new Uint8Array(0)]) {
      const err = await env.DB.batch([stmt(stale), cleanup]).catch((e: unknown) => e)
      expect(String((err as Error)?.message), `stale guard ${String(stale)}`).toMatch(/CHECK constraint failed: edgegraph_guard_failed/)
    }
    await env.DB.batch([stmt(utf8('1')), cleanup])
    expect(await guardRows(adapter.table)).toBe(0)
  })

  it('a failed guard rolls back every write of the batch and leaves the guard table empty', async () => {
    const adapter = d1Adapter()
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    const err = await adapter.commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]], del: ['c/1'] }, { key: 'h', expect: utf8('0') }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    expect((err as Error).message).toContain('d1')
    expect((await adapter.get('t', ['h', 'c/1', 'c/2'])).map(text)).toEqual(['1', 'one', undefined])
    expect(await guardRows(adapter.table)).toBe(0)
  })

  it('a failure after a passing guard rolls back the guard row and the writes before it (the batch is one transaction)', async () => {
    const adapter = d1Adapter()
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    const t = sqlTables(adapter.table)
    const g = d1GuardStatement(t, 't', { key: 'h', expect: utf8('1') })
    const err = await env.DB.batch([
      env.DB.prepare(g.sql).bind(...g.params),
      env.DB.prepare(`INSERT INTO ${t.kv} (thread, key, value) VALUES ('t', 'written', x'01')`),
      env.DB.prepare(`INSERT INTO ${t.kv} (thread, key, value) VALUES ('t', 'fails', NULL)`), // NOT NULL violated
      env.DB.prepare(`DELETE FROM ${t.guard}`),
    ]).catch((e: unknown) => e)
    expect(String((err as Error)?.message)).toMatch(/NOT NULL/)
    expect(await adapter.get('t', ['written'])).toEqual([undefined])
    expect(await guardRows(adapter.table)).toBe(0)
  })

  it('many writers (separate adapter instances, as separate Workers) racing on one head: exactly one wins each round', async () => {
    const first = d1Adapter()
    const writers = Array.from({ length: 8 }, () => createD1Adapter(env.DB, { table: first.table }))
    await first.commit('t', { put: [['h', utf8('0')]] })
    for (let round = 1; round <= 10; round++) {
      const head = utf8(String(round - 1))
      const results = await Promise.allSettled(
        writers.map((w, i) => w.commit('t', { put: [['h', utf8(String(round))], [`by/${round}/${i}`, utf8(String(i))]] }, { key: 'h', expect: head })),
      )
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
      expect(winners).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(isEdgegraphError(r.reason, 'CONFLICT'), String(r.reason)).toBe(true)
      const keys: string[] = []
      for await (const [k] of first.scan('t', { from: `by/${round}/`, to: `by/${round}/~` })) keys.push(k)
      expect(keys).toEqual([`by/${round}/${winners[0]}`])
    }
    expect(await guardRows(first.table)).toBe(0)
  })

  it('a commit that moves the head is guarded by that write itself: one row, stale heads refused, nothing written', async () => {
    const adapter = d1Adapter()
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    const rows = async (batch: Parameters<typeof adapter.commit>[1], guard: Parameters<typeof adapter.commit>[2]) => {
      const t = sqlTables(adapter.table)
      const before = Number((await env.DB.prepare(`SELECT count(*) AS n FROM ${t.kv}`).first<{ n: number }>())?.n)
      await adapter.commit('t', batch, guard)
      return Number((await env.DB.prepare(`SELECT count(*) AS n FROM ${t.kv}`).first<{ n: number }>())?.n) - before
    }
    for (const stale of [undefined, utf8('2'), new Uint8Array(0)]) {
      const err = await adapter.commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]], del: ['c/1'] }, { key: 'h', expect: stale }).catch((e: unknown) => e)
      expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    }
    expect((await adapter.get('t', ['h', 'c/1', 'c/2'])).map(text)).toEqual(['1', 'one', undefined])
    expect(await rows({ put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })).toBe(1)
    expect((await adapter.get('t', ['h', 'c/2'])).map(text)).toEqual(['2', 'two'])
    // A new thread: the guard is "no head yet".
    await adapter.commit('u', { put: [['h', utf8('1')]] }, { key: 'h', expect: undefined })
    const again = await adapter.commit('u', { put: [['h', utf8('9')]] }, { key: 'h', expect: undefined }).catch((e: unknown) => e)
    expect(isEdgegraphError(again, 'CONFLICT'), String(again)).toBe(true)
    expect(await guardRows(adapter.table)).toBe(0)
  })

  it("a step's commit (record and head, guarded) is a batch of one statement: the write view's", async () => {
    const first = d1Adapter()
    const batches: string[][] = []
    let prepared: string[] = []
    const counting: D1DatabaseLike = {
      prepare: (q) => (prepared.push(q), env.DB.prepare(q)),
      batch: (statements) => {
        batches.push(prepared.slice(-statements.length))
        prepared = []
        return env.DB.batch(statements as D1PreparedStatement[])
      },
    }
    const adapter = createD1Adapter(counting, { table: first.table })
    await adapter.commit('t', { put: [['c/1', utf8('one')], ['h', utf8('1')]] }, { key: 'h', expect: undefined })
    batches.length = 0
    await adapter.commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
    expect(batches).toHaveLength(1)
    expect(batches[0]).toHaveLength(1)
    expect(batches[0]?.[0]).toMatch(new RegExp(`^INSERT INTO ${first.table}_write `))
    for (const stale of [undefined, utf8('1'), new Uint8Array(0)]) {
      const err = await adapter.commit('t', { put: [['c/3', utf8('three')], ['h', utf8('3')]] }, { key: 'h', expect: stale }).catch((e: unknown) => e)
      expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    }
    expect((await adapter.get('t', ['h', 'c/2', 'c/3'])).map(text)).toEqual(['2', 'two', undefined])
    expect((await collectThreads(adapter)).map((x) => x.thread)).toEqual(['t'])
  })

  it('a database that refuses the write view still works: the guarded rows, then the update time (two statements)', async () => {
    const first = d1Adapter()
    const batches: number[] = []
    const refusing: D1DatabaseLike = {
      prepare: (q) => env.DB.prepare(/^CREATE (VIEW|TRIGGER)/.test(q) ? 'SELECT no_such_column' : q),
      batch: (statements) => (batches.push(statements.length), env.DB.batch(statements as D1PreparedStatement[])),
    }
    const adapter = createD1Adapter(refusing, { table: first.table })
    await adapter.commit('t', { put: [['c/1', utf8('one')], ['h', utf8('1')]] }, { key: 'h', expect: undefined })
    batches.length = 0
    await adapter.commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
    expect(batches).toEqual([2])
    const err = await adapter.commit('t', { put: [['c/3', utf8('three')], ['h', utf8('3')]] }, { key: 'h', expect: utf8('1') }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    expect((await adapter.get('t', ['h', 'c/2', 'c/3'])).map(text)).toEqual(['2', 'two', undefined])
    expect((await collectThreads(adapter)).map((x) => x.thread)).toEqual(['t'])
  })

  it('a commit guarded on the head without writing it (packing, pruning) uses the guard table', async () => {
    const adapter = d1Adapter()
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    const moved = adapter.commit('t', { put: [['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
    await moved
    const err = await adapter.commit('t', { put: [['p/1', utf8('pack')]], del: ['c/1'] }, { key: 'h', expect: utf8('1') }).catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    expect((await adapter.get('t', ['c/1', 'p/1'])).map(text)).toEqual(['one', undefined])
    await adapter.commit('t', { put: [['p/1', utf8('pack')]], del: ['c/1'] }, { key: 'h', expect: utf8('2') })
    expect((await adapter.get('t', ['c/1', 'p/1'])).map(text)).toEqual([undefined, 'pack'])
    expect(await guardRows(adapter.table)).toBe(0)
  })

  it('control: the same race with the guard checked in code (read, then write) lets several writers win', async () => {
    // Shows the race above has teeth: only a guard evaluated inside the batch keeps it to one winner.
    const first = d1Adapter()
    const naive = (a: StorageAdapter): StorageAdapter => ({
      ...a,
      commit: async (thread, batch, guard) => {
        if (guard && !sameBytes((await a.get(thread, [guard.key]))[0], guard.expect)) throw new Error('conflict')
        return a.commit(thread, batch)
      },
    })
    const writers = Array.from({ length: 8 }, () => naive(createD1Adapter(env.DB, { table: first.table })))
    await first.commit('t', { put: [['h', utf8('0')]] })
    let doubleWins = 0
    for (let round = 1; round <= 5; round++) {
      const results = await Promise.allSettled(writers.map((w, i) => w.commit('t', { put: [['h', utf8(String(round))], [`by/${round}/${i}`, utf8('x')]] }, { key: 'h', expect: utf8(String(round - 1)) })))
      if (results.filter((r) => r.status === 'fulfilled').length > 1) doubleWins++
    }
    expect(doubleWins).toBeGreaterThan(0)
  })
})

/** `storage` with its SQL calls and transactions counted (and each statement's text kept), for a look at what a commit runs. */
function counted(storage: DurableObjectStorage, change: (query: string, bindings: unknown[]) => unknown[] = (_q, b) => b) {
  const seen = { statements: [] as string[], transactions: 0 }
  const wrapped: DurableObjectSqlStorageLike = {
    sql: {
      exec: (query: string, ...bindings: unknown[]) => {
        seen.statements.push(query)
        return storage.sql.exec(query, ...change(query, bindings))
      },
    },
    transactionSync: (fn) => {
      seen.transactions++
      return storage.transactionSync(fn)
    },
  }
  return { seen, wrapped }
}

async function collectThreads(adapter: StorageAdapter): Promise<{ thread: string; updatedAt: number }[]> {
  const out: { thread: string; updatedAt: number }[] = []
  for await (const info of adapter.threads()) out.push(info)
  return out
}

async function threadTimes(adapter: StorageAdapter): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for await (const { thread, updatedAt } of adapter.threads()) out[thread] = updatedAt
  return out
}

describe('Durable Object commit: a step in one statement, other commits in one transactionSync', () => {
  it("a step's commit (its record and the head, guarded) is one SQL statement with no transactionSync; stale guards are refused and write nothing", async () => {
    const adapter = durableObjectAdapter()
    await adapter.commit('t', { put: [['c/1', utf8('one')], ['h', utf8('1')]] }, { key: 'h', expect: undefined })
    const before = await threadTimes(adapter)
    const result = await adapter.run(async (storage) => {
      const { seen, wrapped } = counted(storage)
      const a = createDurableObjectAdapter(wrapped)
      await a.get('t', ['h']) // creates the schema (idempotent) before counting the commit
      seen.statements.length = 0
      seen.transactions = 0
      await a.commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
      const step = { statements: [...seen.statements], transactions: seen.transactions }
      const refused: unknown[] = []
      for (const stale of [undefined, utf8('1'), utf8('2 '), new Uint8Array(0)]) {
        refused.push(await a.commit('t', { put: [['c/3', utf8('three')], ['h', utf8('3')]] }, { key: 'h', expect: stale }).catch((e: unknown) => e))
      }
      return { step, refused }
    })
    expect(result.step.transactions).toBe(0)
    expect(result.step.statements).toHaveLength(1)
    expect(result.step.statements[0]).toMatch(/^INSERT INTO edgegraph_write /)
    for (const err of result.refused) expect(isEdgegraphError(err, 'CONFLICT'), String(err)).toBe(true)
    expect((await adapter.get('t', ['h', 'c/2', 'c/3'])).map(text)).toEqual(['2', 'two', undefined])
    const after = await threadTimes(adapter)
    expect(after.t).toBeGreaterThanOrEqual(before.t as number)
    // An empty stored value is not an absent key, for the one-statement guard too.
    await adapter.commit('e', { put: [['h', new Uint8Array(0)]] }, { key: 'h', expect: undefined })
    const absent = await adapter.commit('e', { put: [['h', utf8('x')]] }, { key: 'h', expect: undefined }).catch((e: unknown) => e)
    expect(isEdgegraphError(absent, 'CONFLICT'), String(absent)).toBe(true)
    await adapter.commit('e', { put: [['h', utf8('x')]] }, { key: 'h', expect: new Uint8Array(0) })
    expect((await adapter.get('e', ['h'])).map(text)).toEqual(['x'])
  })

  it('a row failing inside the one-statement commit backs out the rows and the update time written before it (STORAGE_FAILED)', async () => {
    const adapter = durableObjectAdapter()
    await adapter.commit('t', { put: [['c/1', utf8('one')], ['h', utf8('1')]] })
    const before = await threadTimes(adapter)
    await new Promise((resolve) => setTimeout(resolve, 5)) // a later commit would write a later update time
    const err = await adapter
      .run(async (storage) => {
        // The same storage, except that the second row of the write statement binds NULL, which NOT NULL refuses
        // after the guard passed and the first row and the update time were written.
        const { wrapped } = counted(storage, (query, bindings) => (query.startsWith('INSERT INTO edgegraph_write') ? bindings.map((b, i) => (i === 7 ? null : b)) : bindings))
        await createDurableObjectAdapter(wrapped).commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
      })
      .catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'STORAGE_FAILED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/NOT NULL/)
    expect((await adapter.get('t', ['h', 'c/1', 'c/2'])).map(text)).toEqual(['1', 'one', undefined])
    expect(await threadTimes(adapter)).toEqual(before)
  })

  it('storage written by the earlier layout (tables only, no write view) reads back and takes new commits', async () => {
    const adapter = durableObjectAdapter()
    const t = sqlTables()
    await adapter.run((storage) => {
      storage.transactionSync(() => {
        for (const sql of schemaStatements(t, false)) storage.sql.exec(sql)
        for (const s of commitStatements(t, 'old', { put: [['c/1', utf8('one')], ['h', utf8('1')]] }, 1_000)) storage.sql.exec(s.sql, ...s.params)
      })
    })
    expect((await adapter.get('old', ['h', 'c/1'])).map(text)).toEqual(['1', 'one'])
    expect(await threadTimes(adapter)).toEqual({ old: 1_000 })
    await adapter.commit('old', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
    const keys: string[] = []
    for await (const [k] of adapter.scan('old')) keys.push(k)
    expect(keys).toEqual(['c/1', 'c/2', 'h'])
    expect((await threadTimes(adapter)).old).toBeGreaterThan(1_000)
  })

  it('a failure after some writes of a commit with deletes (one transactionSync) rolls all of them back (STORAGE_FAILED, nothing written)', async () => {
    const adapter = durableObjectAdapter()
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] })
    const err = await adapter
      .run(async (storage) => {
        // The same storage, except that the last write of a commit (the thread's update time) fails.
        const failing: DurableObjectSqlStorageLike = {
          sql: {
            exec: (query: string, ...bindings: unknown[]) => {
              if (query.startsWith('INSERT INTO edgegraph_threads')) throw new Error('injected failure')
              return storage.sql.exec(query, ...bindings)
            },
          },
          transactionSync: (fn) => storage.transactionSync(fn),
        }
        await createDurableObjectAdapter(failing).commit('t', { put: [['h', utf8('2')], ['c/2', utf8('two')]], del: ['c/1'] }, { key: 'h', expect: utf8('1') })
      })
      .catch((e: unknown) => e)
    expect(isEdgegraphError(err, 'STORAGE_FAILED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/durable-object adapter, thread "t": commit failed: injected failure/)
    expect((await adapter.get('t', ['h', 'c/1', 'c/2'])).map(text)).toEqual(['1', 'one', undefined])
  })
})

