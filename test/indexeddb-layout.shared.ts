/**
 * @module IndexedDB adapter layout and schema upgrades. Layout: one store; a thread's time rides on its guarded key's
 * record or its stamp record, whichever its last commit wrote; many deletes of one kind go as one range delete when
 * the range holds nothing else. Upgrades: a database written at schema 1 (thread times in a second store,
 * `edgegraph_threads`) opens at schema 2 with every key, value and thread time intact, and a run continues on it; an
 * app's own database keeps the old layout working until its upgrade passes the transaction. Run on fake-indexeddb
 * (`indexeddb-layout.dom.test.ts`) and in real Chromium (`indexeddb-layout.browser.test.ts`).
 */
import { describe, expect, it } from 'vitest'
import type { StorageAdapter } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { createIndexedDBAdapter, INDEXEDDB_SCHEMA_VERSION, upgradeEdgegraphStores } from '../adapters/indexeddb.js'
import { clockPast } from './conformance/suite.js'
import { collect, logCounter, rejectsWith } from './helpers.js'


type Dump = { thread: string; updatedAt: number; entries: [string, Uint8Array][] }[]

/** Every thread of `store` with its time and entries, as schema 1 held them. */
async function dumpOf(store: StorageAdapter): Promise<Dump> {
  const out: Dump = []
  for (const { thread, updatedAt } of await collect(store.threads())) out.push({ thread, updatedAt, entries: await collect(store.scan(thread)) })
  return out
}

/** Histories on two threads, 'b' moved last, made on the memory adapter. */
async function histories(): Promise<Dump> {
  const memory = createMemoryAdapter()
  const g = logCounter(memory)
  await g.invoke({ count: 0 }, { threadId: 'a' })
  await clockPast(Date.now())
  await g.invoke({ log: ['more'] }, { threadId: 'b' })
  await g.invoke({ log: ['again'] }, { threadId: 'b' })
  return dumpOf(memory)
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

function openRaw(name: string, version?: number, upgrade: (db: IDBDatabase, oldVersion: number, tx: IDBTransaction) => void = () => {}): Promise<IDBDatabase> {
  const req = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version)
  req.onupgradeneeded = (e) => upgrade(req.result, e.oldVersion, req.transaction as IDBTransaction)
  return request(req)
}

/** Creates schema 1's two stores, as the adapter's version 1 did, with `extra` stores of an app beside them. */
function schema1(db: IDBDatabase, extra: string[] = []): void {
  db.createObjectStore('edgegraph_kv')
  db.createObjectStore('edgegraph_threads').createIndex('updatedAt', 'updatedAt')
  for (const store of extra) db.createObjectStore(store)
}

/** Writes `dump` in schema 1's layout: values as plain bytes under `[thread, key]`, times in `edgegraph_threads`. */
async function writeSchema1(db: IDBDatabase, dump: Dump): Promise<void> {
  const tx = db.transaction(['edgegraph_kv', 'edgegraph_threads'], 'readwrite')
  for (const { thread, updatedAt, entries } of dump) {
    for (const [key, value] of entries) tx.objectStore('edgegraph_kv').put(value, [thread, key])
    tx.objectStore('edgegraph_threads').put({ updatedAt }, thread)
  }
  await new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve()
    tx.onabort = () => reject(tx.error)
  })
}

async function rawValues(db: IDBDatabase): Promise<unknown[]> {
  return request(db.transaction('edgegraph_kv').objectStore('edgegraph_kv').getAll())
}

const fresh = (what: string) => `upgrade-${what}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`

const utf8 = (s: string) => new TextEncoder().encode(s)
const keysOf = async (store: StorageAdapter, thread: string) => (await collect(store.scan(thread))).map(([k]) => k)

/** Counts range deletes (a delete given an IDBKeyRange) while `fn` runs. */
async function rangeDeletes(fn: () => Promise<void>): Promise<number> {
  const original = IDBObjectStore.prototype.delete
  let count = 0
  IDBObjectStore.prototype.delete = function (this: IDBObjectStore, query: IDBValidKey | IDBKeyRange) {
    if (query instanceof IDBKeyRange) count++
    return original.call(this, query)
  }
  try {
    await fn()
  } finally {
    IDBObjectStore.prototype.delete = original
  }
  return count
}

export function runLayoutTests(name: string): void {
  describe(`IndexedDB adapter layout (${name})`, () => {
    it("a thread's time is its last commit's, whether the guarded key's record or the stamp record carries it", async () => {
      const adapter = createIndexedDBAdapter({ name: fresh('stamps') })
      const time = async (thread: string) => (await collect(adapter.threads())).find((t) => t.thread === thread)?.updatedAt
      await adapter.commit('t', { put: [['h', utf8('1')], ['c/1', utf8('one')]] }, { key: 'h', expect: undefined })
      await clockPast((await time('t')) as number)
      await adapter.commit('u', { put: [['x', utf8('x')]] })
      // Each step below is stamped after u, so t lists last.
      const afterU = (await time('u')) as number
      // Unguarded, guarded without writing the guard key, guarded and deleting it: each moves the time on.
      const steps = [
        () => adapter.commit('t', { put: [['c/2', utf8('two')]] }),
        () => adapter.commit('t', { put: [['c/3', utf8('three')]] }, { key: 'h', expect: utf8('1') }),
        () => adapter.commit('t', { put: [['h', utf8('2')]] }, { key: 'h', expect: utf8('1') }),
        () => adapter.commit('t', { del: ['h'] }, { key: 'h', expect: utf8('2') }),
        () => adapter.commit('t', { put: [['h', utf8('3')]] }, { key: 'h', expect: undefined }),
      ]
      let last = afterU
      for (const step of steps) {
        await clockPast(last)
        await step()
        const now = (await time('t')) as number
        expect(now).toBeGreaterThan(last)
        expect((await collect(adapter.threads())).map((t) => t.thread)).toEqual(['u', 't'])
        last = now
      }
      // The records that carry times are never seen as keys or counted as bytes.
      expect(await keysOf(adapter, 't')).toEqual(['c/1', 'c/2', 'c/3', 'h'])
      expect((await adapter.get('t', ['h']))[0]).toEqual(utf8('3'))
      expect(await adapter.bytes('t')).toBe(['c/1', 'c/2', 'c/3', 'h'].join('').length + 'onetwothree3'.length)
      await adapter.deleteThread('t')
      expect((await collect(adapter.threads())).map((t) => t.thread)).toEqual(['u'])
      await adapter.close()
    })

    it('many deletes of one kind go as one range delete when the range holds nothing else, key by key when it does', async () => {
      const adapter = createIndexedDBAdapter({ name: fresh('ranges') })
      const ids = Array.from({ length: 12 }, (_, i) => `c/${String(i).padStart(2, '0')}`)
      await adapter.commit('t', { put: [...ids, 'h', 'w/1'].map((k): [string, Uint8Array] => [k, utf8(k)]) })
      await adapter.commit('other', { put: [['c/03', utf8('other thread')]] })

      // c/00..c/05 hold nothing else: one range delete (the key that is not there changes nothing).
      expect(await rangeDeletes(() => adapter.commit('t', { put: [['p/00', utf8('pack')]], del: [...ids.slice(0, 6), 'c/055'] }))).toBe(1)
      expect(await keysOf(adapter, 't')).toEqual([...ids.slice(6), 'h', 'p/00', 'w/1'])
      // c/07 lies between the keys deleted and is kept: key by key.
      expect(await rangeDeletes(() => adapter.commit('t', { del: ['c/06', 'c/08', 'c/09', 'c/10'] }))).toBe(0)
      expect(await keysOf(adapter, 't')).toEqual(['c/07', 'c/11', 'h', 'p/00', 'w/1'])
      // A key put inside the range of the deletes survives them.
      await adapter.commit('t', { put: [['c/12', utf8('12')], ['c/13', utf8('13')]] })
      expect(await rangeDeletes(() => adapter.commit('t', { put: [['c/115', utf8('new')]], del: ['c/07', 'c/11', 'c/12', 'c/13'] }))).toBe(0)
      expect(await keysOf(adapter, 't')).toEqual(['c/115', 'h', 'p/00', 'w/1'])
      // A refused guard deletes nothing, range or not.
      await adapter.commit('t', { put: ['c/20', 'c/21', 'c/22', 'c/23'].map((k): [string, Uint8Array] => [k, utf8(k)]) })
      const before = await collect(adapter.scan('t'))
      await rejectsWith(adapter.commit('t', { put: [['p/20', utf8('pack')]], del: ['c/20', 'c/21', 'c/22', 'c/23'] }, { key: 'h', expect: utf8('stale') }), 'CONFLICT')
      expect(await collect(adapter.scan('t'))).toEqual(before)
      expect(await rangeDeletes(() => adapter.commit('t', { put: [['p/20', utf8('pack')]], del: ['c/20', 'c/21', 'c/22', 'c/23'] }, { key: 'h', expect: utf8('h') }))).toBe(1)
      expect(await keysOf(adapter, 't')).toEqual(['c/115', 'h', 'p/00', 'p/20', 'w/1'])
      expect(await keysOf(adapter, 'other')).toEqual(['c/03'])
      await adapter.close()
    })
  })

  describe(`IndexedDB adapter schema upgrades (${name})`, () => {
    it('opens a schema 1 database at schema 2 with every key, value and thread time intact, and runs continue on it', async () => {
      expect(INDEXEDDB_SCHEMA_VERSION).toBe(2)
      const dump = await histories()
      const dbName = fresh('own')
      const old = await openRaw(dbName, 1, (db) => schema1(db))
      await writeSchema1(old, dump)
      old.close()

      const adapter = createIndexedDBAdapter({ name: dbName })
      expect(await dumpOf(adapter)).toEqual(dump)
      expect(await adapter.bytes()).toBe(dump.flatMap((t) => t.entries).reduce((n, [k, v]) => n + k.length + v.length, 0))
      const g = logCounter(adapter)
      expect((await g.getState({ threadId: 'b' })).values).toEqual({ count: 2, log: ['more', 'inc 0', 'again', 'inc 1'] })
      expect((await collect(g.getStateHistory({ threadId: 'a' }))).map((s) => s.values.count)).toEqual([1, 0])

      // Continues, moves to the end of the thread list, and the head guard still refuses a stale writer.
      await clockPast(Math.max(...dump.map((t) => t.updatedAt)))
      expect(await g.invoke({ log: ['next'] }, { threadId: 'a' })).toEqual({ count: 2, log: ['inc 0', 'next', 'inc 1'] })
      const listed = await collect(adapter.threads())
      expect(listed.map((t) => t.thread)).toEqual(['b', 'a'])
      expect(listed[0]).toEqual({ thread: 'b', updatedAt: (dump[1] as Dump[number]).updatedAt })
      const [head] = await adapter.get('a', ['h'])
      await rejectsWith(adapter.commit('a', { put: [['h', new Uint8Array([1])]] }, { key: 'h', expect: new Uint8Array([9]) }), 'CONFLICT')
      expect(await adapter.get('a', ['h'])).toEqual([head])
      await adapter.close()

      const raw = await openRaw(dbName)
      expect(raw.version).toBe(2)
      expect([...raw.objectStoreNames]).toEqual(['edgegraph_kv'])
      expect([...raw.transaction('edgegraph_kv').objectStore('edgegraph_kv').indexNames]).toEqual(['updatedAt'])
      raw.close()
    })

    it("an app's schema 1 stores keep working as they are, and move to schema 2 when the app's upgrade passes its transaction", async () => {
      const dump = await histories()
      const dbName = fresh('app')
      const v1 = await openRaw(dbName, 1, (db) => schema1(db, ['todos']))
      await writeSchema1(v1, dump)

      // The app's next version calls upgradeEdgegraphStores without the transaction: nothing of edgegraph's changes.
      v1.close()
      const v2 = await openRaw(dbName, 2, (db, oldVersion) => upgradeEdgegraphStores(db, oldVersion))
      const legacy = createIndexedDBAdapter({ db: v2 })
      expect(await dumpOf(legacy)).toEqual(dump)
      await clockPast(Math.max(...dump.map((t) => t.updatedAt)))
      await logCounter(legacy).invoke({ log: ['legacy'] }, { threadId: 'a' })
      expect((await collect(legacy.threads())).map((t) => t.thread)).toEqual(['b', 'a'])
      // Schema 1 as it was: plain bytes only, the time in the second store.
      expect((await rawValues(v2)).every((v) => v instanceof Uint8Array)).toBe(true)
      expect(await request(v2.transaction('edgegraph_threads').objectStore('edgegraph_threads').getAllKeys())).toEqual(['a', 'b'])
      const before = await dumpOf(legacy)
      await legacy.close()
      v2.close()

      // Its next version passes the transaction: schema 2, the app's store untouched.
      const v3 = await openRaw(dbName, 3, (db, oldVersion, tx) => upgradeEdgegraphStores(db, oldVersion, tx))
      expect([...v3.objectStoreNames].sort()).toEqual(['edgegraph_kv', 'todos'])
      const migrated = createIndexedDBAdapter({ db: v3 })
      expect(await dumpOf(migrated)).toEqual(before)
      expect((await logCounter(migrated).getState({ threadId: 'a' })).values).toEqual({ count: 2, log: ['inc 0', 'legacy', 'inc 1'] })
      await clockPast(Math.max(...(await collect(migrated.threads())).map((t) => t.updatedAt)))
      await logCounter(migrated).invoke({ log: ['migrated'] }, { threadId: 'b' })
      expect((await collect(migrated.threads())).map((t) => t.thread)).toEqual(['a', 'b'])
      await migrated.close()
      v3.close()
    })

    it('a new database starts at schema 2, one store', async () => {
      const dbName = fresh('new')
      const adapter = createIndexedDBAdapter({ name: dbName })
      await logCounter(adapter).invoke({ count: 0 }, { threadId: 't' })
      await adapter.close()
      const raw = await openRaw(dbName)
      expect(raw.version).toBe(2)
      expect([...raw.objectStoreNames]).toEqual(['edgegraph_kv'])
      raw.close()
    })
  })
}
