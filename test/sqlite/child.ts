/**
 * @module A second process on the SQLite file of test/sqlite.conformance.test.ts, driven over IPC:
 * `race <file>` reads the head of thread "race" and commits guarded on it when told, `burst` writes commits of its own,
 * `graph <file> <thread> start|resume` runs {@link stepsGraph} (until the test kills it).
 */
import Database from 'better-sqlite3'
import { createSqliteAdapter } from '../../adapters/sqlite.js'
import { isEdgegraphError } from '../../src/index.js'
import { RACE, STEPS, stepsGraph } from './steps.js'

/** What the test sends. */
export type ToChild = { type: 'read' } | { type: 'commit'; round: number; head: string } | { type: 'burst'; thread: string; count: number } | { type: 'exit' }
/** What the child answers. */
export type FromChild =
  | { type: 'head'; head: string | undefined }
  | { type: 'committed'; round: number; won: boolean; code?: string }
  | { type: 'burst'; count: number }
  | { type: 'step'; n: number }
  | { type: 'done' }

const [mode, file, thread, how] = process.argv.slice(2) as [string, string, string | undefined, string | undefined]
const send = (m: FromChild) => process.send?.(m)
const db = new Database(file)
const adapter = createSqliteAdapter(db)
const utf8 = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

if (mode === 'graph') {
  await stepsGraph(adapter, (n) => send({ type: 'step', n })).invoke(how === 'start' ? { log: [] } : null, { threadId: thread as string, recursionLimit: STEPS + 10 })
  send({ type: 'done' })
  db.close()
  process.disconnect()
} else {
  process.on('message', async (m: ToChild) => {
    if (m.type === 'read') send({ type: 'head', head: text((await adapter.get(RACE, ['h']))[0]) })
    else if (m.type === 'commit') {
      try {
        await adapter.commit(RACE, { put: [['h', utf8(String(m.round))], [`by/${m.round}`, utf8('child')]] }, { key: 'h', expect: utf8(m.head) })
        send({ type: 'committed', round: m.round, won: true })
      } catch (err) {
        if (!isEdgegraphError(err, 'CONFLICT')) throw err
        send({ type: 'committed', round: m.round, won: false, code: err.code })
      }
    } else if (m.type === 'burst') {
      // Its own thread, one writer: every commit must go through, each guarded on the head it wrote before.
      for (let i = 0; i < m.count; i++) {
        await adapter.commit(m.thread, { put: [['h', utf8(String(i + 1))], [`k/${String(i).padStart(4, '0')}`, utf8(`child ${i}`)]] }, { key: 'h', expect: i === 0 ? undefined : utf8(String(i)) })
      }
      send({ type: 'burst', count: m.count })
    } else {
      db.close()
      process.disconnect()
    }
  })
}
