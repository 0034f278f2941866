/**
 * @module The conformance suite on the SQLite adapter (better-sqlite3, one file per adapter in a temp folder), then what
 * only a file shared by connections and processes shows: guarded commits racing across two connections and two
 * processes, a graph killed with SIGKILL in a child process and resumed here, a full disk, a closed connection.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { createSqliteAdapter } from '../adapters/sqlite.js'
import { runConformance } from './conformance/index.js'
import { collect, dump, keysOf, noise, rejectsWith, utf8 } from './conformance/suite.js'
import { orphans } from './crash/script.js'
// Types only: importing child.ts would run it.
import type { FromChild, ToChild } from './sqlite/child.js'
import { RACE, STEPS, stepsGraph } from './sqlite/steps.js'

const dir = mkdtempSync(join(tmpdir(), 'edgegraph-sqlite-'))
let files = 0
const newFile = () => join(dir, `db-${files++}.sqlite`)
const connections: Database.Database[] = []
const children = new Set<ChildProcess>()
/** A connection closed after the test, as the app would close its own. */
function connect(file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options)
  connections.push(db)
  return db
}
afterEach(() => {
  for (const child of children) child.kill('SIGKILL')
  for (const db of connections.splice(0)) if (db.open) db.close()
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/**
 * An adapter on a file capped at about `quotaBytes` more than its empty tables: `max_page_count` (per connection) makes
 * SQLite refuse to grow the file, with SQLITE_FULL, the error a full disk gives.
 */
function withQuota(db: Database.Database, quotaBytes: number) {
  const adapter = createSqliteAdapter(db)
  const pageSize = db.pragma('page_size', { simple: true }) as number
  const pages = db.pragma('page_count', { simple: true }) as number
  db.pragma(`max_page_count = ${pages + Math.ceil(quotaBytes / pageSize)}`)
  return adapter
}

runConformance({
  name: 'sqlite',
  create: () => createSqliteAdapter(connect(newFile())),
  createSmall: () => createSqliteAdapter(connect(newFile()), { maxValueBytes: 4096 }),
  createWithQuota: (quotaBytes) => withQuota(connect(newFile()), quotaBytes),
})

const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))
const integrity = (db: Database.Database) => db.pragma('integrity_check', { simple: true })

/** A child process (test/sqlite/child.ts) on the same file, with its messages kept until asked for. */
function launch(args: string[]) {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./sqlite/child.ts', import.meta.url)), ...args], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  children.add(proc)
  let stderr = ''
  proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  const inbox: FromChild[] = []
  const waiting: (() => void)[] = []
  proc.on('message', (m: FromChild) => {
    inbox.push(m)
    for (const wake of waiting.splice(0)) wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => {
      children.delete(proc)
      resolve({ code, signal })
      for (const wake of waiting.splice(0)) wake()
    }),
  )
  return {
    send: (m: ToChild) => proc.send(m),
    /** The first message not taken yet that `match` accepts (others before it are dropped). */
    async next(match: (m: FromChild) => boolean): Promise<FromChild> {
      for (;;) {
        const at = inbox.findIndex(match)
        if (at >= 0) return inbox.splice(0, at + 1).pop() as FromChild
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the child exited (${proc.exitCode ?? proc.signalCode}) before answering:\n${stderr}`)
        await new Promise<void>((resolve) => waiting.push(resolve))
      }
    },
    kill: () => proc.kill('SIGKILL'),
    exited,
  }
}

describe('sqlite adapter: one file, several connections and processes', () => {
  it('sets WAL and synchronous FULL on the connection, keeps its busy timeout or gives it one, and says which file an error is about', async () => {
    const file = newFile()
    const db = connect(file, { timeout: 0 })
    createSqliteAdapter(db)
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('synchronous', { simple: true })).toBe(2)
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000)
    const other = connect(file, { timeout: 1234 })
    createSqliteAdapter(other)
    expect(other.pragma('busy_timeout', { simple: true })).toBe(1234)
    // A second adapter on a connection, with another prefix, keeps its own threads.
    const a = createSqliteAdapter(db)
    const b = createSqliteAdapter(db, { table: 'second' })
    await a.commit('t', { put: [['h', utf8('a')]] })
    await b.commit('t', { put: [['h', utf8('b')]] })
    expect([text((await a.get('t', ['h']))[0]), text((await b.get('t', ['h']))[0])]).toEqual(['a', 'b'])
    const err = await rejectsWith(a.commit('t', { put: [['x', utf8('x')]] }, { key: 'h', expect: utf8('b') }), 'CONFLICT')
    expect(err.message).toContain(`sqlite adapter (file "${file}"), thread "t"`)
  })

  it("a commit in the millisecond of the thread's last one leaves its time row (and its time index) unwritten; a later one moves it", async () => {
    const db = connect(newFile())
    const adapter = createSqliteAdapter(db)
    const changes = () => (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000)
    try {
      await adapter.commit('t', { put: [['c/1', utf8('one')], ['h', utf8('1')]] })
      let before = changes()
      await adapter.commit('t', { put: [['c/2', utf8('two')], ['h', utf8('2')]] }, { key: 'h', expect: utf8('1') })
      // The two rows put, and no third for the thread's time, which already held this millisecond.
      expect(changes() - before).toBe(2)
      now.mockReturnValue(1_700_000_000_001)
      before = changes()
      await adapter.commit('t', { put: [['c/3', utf8('three')], ['h', utf8('3')]] }, { key: 'h', expect: utf8('2') })
      expect(changes() - before).toBe(3)
      expect(await collect(adapter.threads())).toEqual([{ thread: 't', updatedAt: 1_700_000_000_001 }])
    } finally {
      now.mockRestore()
    }
  })

  it('two connections on one file: of two commits guarded on the same head exactly one wins, and each sees the other', async () => {
    const file = newFile()
    const a = createSqliteAdapter(connect(file))
    const b = createSqliteAdapter(connect(file))
    await a.commit('t', { put: [['h', utf8('0')]] })
    for (let round = 1; round <= 20; round++) {
      const head = utf8(String(round - 1))
      const attempt = (adapter: typeof a, who: string) => adapter.commit('t', { put: [['h', utf8(String(round))], [`by/${round}`, utf8(who)]] }, { key: 'h', expect: head })
      // Both drivers are synchronous, so the one called first commits first: alternate, so each connection loses to the other.
      const results = round % 2 === 0 ? await Promise.allSettled([attempt(a, 'a'), attempt(b, 'b')]) : (await Promise.allSettled([attempt(b, 'b'), attempt(a, 'a')])).reverse()
      const won = results.map((r) => r.status === 'fulfilled')
      expect(won.filter(Boolean)).toHaveLength(1)
      await rejectsWith(Promise.reject((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason), 'CONFLICT')
      const winner = won[0] ? 'a' : 'b'
      expect(winner).toBe(round % 2 === 0 ? 'a' : 'b')
      for (const adapter of [a, b]) expect((await adapter.get('t', ['h', `by/${round}`])).map(text)).toEqual([String(round), winner])
    }
  })

  it('a commit while another connection holds the write lock is STORAGE_UNAVAILABLE saying so, writes nothing, and goes through once the lock is released', async () => {
    const file = newFile()
    const db = connect(file)
    const adapter = createSqliteAdapter(db)
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    // No waiting for the lock, so the test needs no clock.
    db.pragma('busy_timeout = 0')
    const other = connect(file)
    other.exec('BEGIN IMMEDIATE')
    const batch = { put: [['h', utf8('2')], ['c/2', utf8('two')]] as [string, Uint8Array][] }
    const err = await rejectsWith(adapter.commit('t', batch, { key: 'h', expect: utf8('1') }), 'STORAGE_UNAVAILABLE')
    expect(err.message).toMatch(/sqlite adapter .*thread "t": commit failed: the database is locked: another connection or process held its write lock/)
    expect((err.cause as { code?: string }).code).toBe('SQLITE_BUSY')
    expect(db.inTransaction).toBe(false)
    other.exec('ROLLBACK')
    expect(await keysOf(adapter, 't')).toEqual(['h'])
    await adapter.commit('t', batch, { key: 'h', expect: utf8('1') })
    expect((await adapter.get('t', ['h', 'c/2'])).map(text)).toEqual(['2', 'two'])
  })

  it('a second process on the file: each round one of two racing guarded commits wins and the other is CONFLICT, and concurrent bursts leave the file whole', async () => {
    const file = newFile()
    const db = connect(file)
    const adapter = createSqliteAdapter(db)
    await adapter.commit(RACE, { put: [['h', utf8('0')]] })
    const child = launch(['race', file])
    const rounds = 30
    const wins = { parent: 0, child: 0 }
    for (let round = 1; round <= rounds; round++) {
      // Both read the head before either commits.
      child.send({ type: 'read' })
      const seen = (await child.next((m) => m.type === 'head')) as Extract<FromChild, { type: 'head' }>
      const head = text((await adapter.get(RACE, ['h']))[0]) as string
      expect(seen.head).toBe(head)
      const mine = () => adapter.commit(RACE, { put: [['h', utf8(String(round))], [`by/${round}`, utf8('parent')]] }, { key: 'h', expect: utf8(head) }).then(() => true, (err: unknown) => err)
      child.send({ type: 'commit', round, head })
      // Odd rounds: commit at once, racing the child. Even rounds: only once the child has committed, so it wins too.
      const parentResult = round % 2 === 1 ? await mine() : undefined
      const childResult = (await child.next((m) => m.type === 'committed' && m.round === round)) as Extract<FromChild, { type: 'committed' }>
      const parentWon = parentResult ?? (await mine())
      expect([parentWon === true, childResult.won].filter(Boolean), `round ${round}`).toHaveLength(1)
      if (parentWon !== true) await rejectsWith(Promise.reject(parentWon), 'CONFLICT')
      else expect(childResult.code).toBe('CONFLICT')
      wins[parentWon === true ? 'parent' : 'child']++
      expect((await adapter.get(RACE, ['h', `by/${round}`])).map(text)).toEqual([String(round), parentWon === true ? 'parent' : 'child'])
    }
    expect(wins.parent + wins.child).toBe(rounds)
    expect(wins.child).toBeGreaterThanOrEqual(rounds / 2)

    // Both processes write their own thread at the same time, many small commits each.
    const count = 300
    child.send({ type: 'burst', thread: 'child', count })
    for (let i = 0; i < count; i++) {
      await adapter.commit('parent', { put: [['h', utf8(String(i + 1))], [`k/${String(i).padStart(4, '0')}`, utf8(`parent ${i}`)]] }, { key: 'h', expect: i === 0 ? undefined : utf8(String(i)) })
    }
    await child.next((m) => m.type === 'burst')
    child.send({ type: 'exit' })
    expect(await child.exited).toEqual({ code: 0, signal: null })
    expect(integrity(db)).toBe('ok')
    for (const who of ['parent', 'child']) {
      const entries = await dump(adapter, who)
      expect(entries).toHaveLength(count + 1)
      expect(text((await adapter.get(who, ['h']))[0])).toBe(String(count))
      expect((await adapter.get(who, [`k/0000`, `k/${String(count - 1).padStart(4, '0')}`])).map(text)).toEqual([`${who} 0`, `${who} ${count - 1}`])
    }
    expect((await collect(adapter.threads())).map((t) => t.thread).sort()).toEqual(['child', 'parent', RACE])
  }, 60_000)

  it('a graph killed with SIGKILL at random steps in child processes resumes here with invoke(null): every step stored once', async () => {
    const file = newFile()
    const threadId = 'killed'
    const kills: number[] = []
    for (let i = 0; i < 3; i++) {
      const child = launch(['graph', file, threadId, i === 0 ? 'start' : 'resume'])
      // Somewhere in the next third of the run (the kill lands wherever the child is by then: in a node, a commit, a pack).
      let first: number | undefined
      const after = 1 + Math.floor(Math.random() * (STEPS / 3))
      const m = await child.next((m) => m.type === 'done' || (m.type === 'step' && m.n - (first ??= m.n) >= after))
      if (m.type === 'step') {
        child.kill()
        kills.push(m.n)
      }
      expect(await child.exited).toEqual(m.type === 'step' ? { code: null, signal: 'SIGKILL' } : { code: 0, signal: null })
      // Nothing committed is lost: step n ran after checkpoint n - 1 was committed.
      const stored = (await stepsGraph(createSqliteAdapter(connect(file))).getState({ threadId })).values.log.length
      expect(stored, `killed at step ${kills.at(-1)}`).toBeGreaterThanOrEqual(m.type === 'step' ? m.n - 1 : STEPS)
    }
    const where = `killed at steps ${kills.join(', ')}`
    const db = connect(file)
    const adapter = createSqliteAdapter(db)
    const graph = stepsGraph(adapter)
    expect(await graph.invoke(null, { threadId, recursionLimit: STEPS + 10 }), where).toEqual({ log: Array.from({ length: STEPS }, (_, i) => i + 1) })
    const history = (await collect(graph.getStateHistory({ threadId }))).reverse()
    expect(history.map((s) => s.metadata.step), where).toEqual(Array.from({ length: STEPS + 1 }, (_, i) => i))
    for (const [i, s] of history.entries()) {
      expect(s.values.log, `${where}: step ${i}`).toEqual(Array.from({ length: i }, (_, j) => j + 1))
      expect(s.metadata.parentId, `${where}: step ${i}`).toBe(i === 0 ? undefined : history[i - 1]?.config.checkpointId)
    }
    expect(await orphans(adapter, threadId)).toEqual([])
    expect(integrity(db)).toBe('ok')
  }, 60_000)

  it('a full disk (max_page_count) is QUOTA_EXCEEDED naming it, with nothing half-written, the file whole and the connection usable', async () => {
    const db = connect(newFile())
    const adapter = withQuota(db, 64 * 1024)
    await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', noise(1000)]] })
    const before = await dump(adapter, 't')
    const err = await rejectsWith(adapter.commit('t', { put: [['h', utf8('2')], ['c/2', noise(40 * 1024)], ['c/3', noise(40 * 1024, 2)]], del: ['c/1'] }, { key: 'h', expect: utf8('1') }), 'QUOTA_EXCEEDED')
    expect(err.message).toMatch(/sqlite adapter .*thread "t": commit failed: database or disk is full \(the disk is full, or the file reached its PRAGMA max_page_count\)\. Nothing was written/)
    expect((err.cause as { code?: string }).code).toBe('SQLITE_FULL')
    expect(db.inTransaction).toBe(false)
    expect(await dump(adapter, 't')).toEqual(before)
    expect(integrity(db)).toBe('ok')
    await adapter.commit('t', { put: [['h', utf8('2')], ['c/2', noise(40 * 1024)]], del: ['c/1'] }, { key: 'h', expect: utf8('1') })
    expect(await keysOf(adapter, 't')).toEqual(['c/2', 'h'])
  })

  it('a closed connection is STORAGE_UNAVAILABLE from every call, saying to open the file again', async () => {
    const db = connect(newFile())
    const adapter = createSqliteAdapter(db)
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    db.close()
    const calls = [adapter.get('t', ['h']), collect(adapter.scan('t')), adapter.commit('t', { put: [['h', utf8('2')]] }), adapter.deleteThread('t'), collect(adapter.threads())]
    for (const call of calls) {
      const err = await rejectsWith(call, 'STORAGE_UNAVAILABLE')
      expect(err.message).toMatch(/the database connection is closed\. Open the file again and create the adapter on the new connection/)
    }
    expect(() => createSqliteAdapter(db)).toThrow(/the database connection is closed/)
    // Through a graph too: the run fails with the adapter's error, untouched.
    await rejectsWith(stepsGraph(adapter).invoke(null, { threadId: 't' }), 'STORAGE_UNAVAILABLE')
  })

  it('refuses what is not a usable database: INVALID_ARGUMENT for a wrong argument or option, STORAGE_UNAVAILABLE for a file that is not SQLite or is read-only', async () => {
    const invalid = (fn: () => unknown) => rejectsWith(Promise.resolve().then(fn), 'INVALID_ARGUMENT')
    for (const bad of [undefined, null, {}, 'agents.db', { prepare: () => ({}) }]) {
      const err = await invalid(() => createSqliteAdapter(bad as never))
      expect(err.message).toContain('pass an open SQLite connection: a better-sqlite3 Database')
    }
    const db = connect(newFile())
    for (const maxValueBytes of [0, -1, 1.5, Number.NaN, 512 * 1024 * 1024 + 1]) await invalid(() => createSqliteAdapter(db, { maxValueBytes }))
    await invalid(() => createSqliteAdapter(db, { table: 'no-dashes' }))
    expect(createSqliteAdapter(db, { maxValueBytes: 8 * 1024 * 1024 }).limits.maxValueBytes).toBe(8 * 1024 * 1024)
    expect(createSqliteAdapter(db).limits.maxValueBytes).toBe(Math.floor(1.9 * 1024 * 1024))

    const notSqlite = join(dir, 'notes.txt')
    writeFileSync(notSqlite, 'these are notes, not a database\n'.repeat(50))
    const err = await rejectsWith(Promise.resolve().then(() => createSqliteAdapter(connect(notSqlite))), 'STORAGE_UNAVAILABLE')
    expect(err.message).toMatch(/opening the database failed: file is not a database: the file is not a SQLite database or is damaged/)

    // Read-only: history can be read; a commit says why it cannot be written.
    const file = newFile()
    await createSqliteAdapter(connect(file)).commit('t', { put: [['h', utf8('1')]] })
    const readOnly = createSqliteAdapter(connect(file, { readonly: true }))
    expect(text((await readOnly.get('t', ['h']))[0])).toBe('1')
    const ro = await rejectsWith(readOnly.commit('t', { put: [['h', utf8('2')]] }), 'STORAGE_UNAVAILABLE')
    expect(ro.message).toContain('the database is read-only')
  })

  it("a transaction the app left open on the connection: the commit says so and leaves the app's transaction as it was", async () => {
    const db = connect(newFile())
    const adapter = createSqliteAdapter(db)
    db.exec('CREATE TABLE app (x)')
    db.exec('BEGIN')
    db.exec('INSERT INTO app VALUES (1)')
    const err = await rejectsWith(adapter.commit('t', { put: [['h', utf8('1')]] }), 'STORAGE_FAILED')
    expect(err.message).toContain('the connection is inside a transaction the app opened and has not committed')
    expect(db.inTransaction).toBe(true)
    // Reads still work inside it (a savepoint when a get needs several statements).
    const keys = Array.from({ length: 150 }, (_, i) => `k${i}`)
    expect(await adapter.get('t', keys)).toEqual(keys.map(() => undefined))
    db.exec('COMMIT')
    expect(db.prepare('SELECT x FROM app').all()).toEqual([{ x: 1 }])
    await adapter.commit('t', { put: [['h', utf8('1')]] })
  })
})
