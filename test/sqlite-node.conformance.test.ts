/**
 * @module The conformance suite on the SQLite adapter over node:sqlite's `DatabaseSync`, where the runtime has it
 * (Node 22.13 or later, or 22.5 with --experimental-sqlite). Elsewhere it is one skipped test saying why. Described by shape: this
 * project's Node types (20) have no node:sqlite.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { createSqliteAdapter, type SqliteDatabaseLike } from '../adapters/sqlite.js'
import { runConformance } from './conformance/index.js'
import { collect, keysOf, noise, rejectsWith, utf8 } from './conformance/suite.js'

interface DatabaseSync extends SqliteDatabaseLike {
  close(): void
}
const sqlite = process.getBuiltinModule('node:sqlite') as { DatabaseSync: new (path: string) => DatabaseSync } | undefined

// One skipped test saying why, rather than the whole suite skipped test by test.
if (sqlite === undefined) it.skip(`the SQLite adapter on node:sqlite [skipped: Node ${process.version} has no node:sqlite; it needs Node 22.13 or later, or 22.5 with --experimental-sqlite]`, () => {})
else describe('the SQLite adapter on node:sqlite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgegraph-node-sqlite-'))
  let files = 0
  const open: DatabaseSync[] = []
  const connect = (file = join(dir, `db-${files++}.sqlite`)) => {
    const db = new (sqlite as NonNullable<typeof sqlite>).DatabaseSync(file)
    open.push(db)
    return db
  }
  const pragma = (db: DatabaseSync, sql: string) => Object.values(db.prepare(`PRAGMA ${sql}`).all()[0] as object)[0] as unknown
  afterEach(() => {
    for (const db of open.splice(0)) {
      try {
        db.close()
      } catch (err) {
        // Closed by the test already (before Node 22.15 there is no isOpen to ask).
        if (!/not open/.test(String(err))) throw err
      }
    }
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  runConformance({
    name: 'sqlite (node:sqlite)',
    create: () => createSqliteAdapter(connect()),
    createSmall: () => createSqliteAdapter(connect(), { maxValueBytes: 4096 }),
    createWithQuota: (quotaBytes) => {
      const db = connect()
      const adapter = createSqliteAdapter(db)
      db.exec(`PRAGMA max_page_count = ${(pragma(db, 'page_count') as number) + Math.ceil(quotaBytes / (pragma(db, 'page_size') as number))}`)
      return adapter
    },
  })

  it('sets WAL, synchronous FULL and a busy timeout (node:sqlite has none by default)', () => {
    const db = connect()
    createSqliteAdapter(db)
    expect([pragma(db, 'journal_mode'), pragma(db, 'synchronous'), pragma(db, 'busy_timeout')]).toEqual(['wal', 2, 5000])
  })

  it('maps its errors: another writer holding the lock, a full file, a closed connection', async () => {
    const file = join(dir, 'shared.sqlite')
    const db = connect(file)
    const adapter = createSqliteAdapter(db)
    await adapter.commit('t', { put: [['h', utf8('1')]] })
    db.exec('PRAGMA busy_timeout = 0')
    const other = connect(file)
    other.exec('BEGIN IMMEDIATE')
    const busy = await rejectsWith(adapter.commit('t', { put: [['h', utf8('2')]] }), 'STORAGE_UNAVAILABLE')
    expect(busy.message).toContain('another connection or process held its write lock')
    other.exec('ROLLBACK')

    db.exec(`PRAGMA max_page_count = ${pragma(db, 'page_count') as number}`)
    const full = await rejectsWith(adapter.commit('t', { put: [['h', utf8('2')], ['big', noise(64 * 1024)]] }, { key: 'h', expect: utf8('1') }), 'QUOTA_EXCEEDED')
    expect(full.message).toContain('database or disk is full')
    expect(await keysOf(adapter, 't')).toEqual(['h'])

    db.close()
    for (const call of [adapter.get('t', ['h']), adapter.commit('t', { put: [['h', utf8('3')]] }), collect(adapter.threads())]) {
      expect((await rejectsWith(call, 'STORAGE_UNAVAILABLE')).message).toContain('the database connection is closed')
    }
  })
})
