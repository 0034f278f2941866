/**
 * @module Dexie adapter beyond the contract: living in the app's own Dexie database next to its tables, the
 * missing-tables error, other tabs upgrading or deleting the database, and quota errors. Run on fake-indexeddb
 * (`dexie-app-db.dom.test.ts`) and in real Chromium (`dexie-app-db.browser.test.ts`).
 */
import { Dexie, type DBCoreMutateRequest, type DBCoreMutateResponse } from 'dexie'
import { describe, expect, it, vi } from 'vitest'
import { createDexieAdapter, edgegraphDexieTables } from '../adapters/dexie.js'
import { createIndexedDBAdapter } from '../adapters/indexeddb.js'
import { collect, deferred, logCounter, rejectsWith } from './helpers.js'

interface Todo {
  id?: number
  title: string
  done: 0 | 1
}


/** The app's database: its own table beside edgegraph's, as the README shows it. */
function appDatabase(name: string): Dexie {
  const db = new Dexie(name)
  db.version(1).stores({ ...edgegraphDexieTables, todos: '++id, done' })
  return db
}

/** Opens `name` with plain IndexedDB at `version`, as a newer app version in another tab would. */
function openRaw(name: string, version: number, upgrade: (db: IDBDatabase) => void = () => {}): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, version)
    req.onupgradeneeded = () => upgrade(req.result)
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
    req.onblocked = () => reject(new Error(`open of ${name} at version ${version} is blocked: the other connection did not step aside`))
  })
}

function deleteRaw(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
    req.onblocked = () => reject(new Error(`delete of ${name} is blocked: the other connection did not step aside`))
  })
}

/** Fails the test instead of hanging when `promise` does not settle. */
function settlesWithin<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms))])
}

export function dexieAppDatabaseTests(env: string): void {
  const run = `${env}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  let n = 0
  const fresh = (what: string) => `dexie-${what}-${run}-${n++}`

  describe(`dexie adapter in the app's own database (${env})`, () => {
    it('stores checkpoints next to the app tables, leaves them untouched, and continues after a reload', async () => {
      const name = fresh('app')
      const db = appDatabase(name)
      const todos = db.table<Todo, number>('todos')
      await todos.bulkAdd([
        { title: 'write tests', done: 1 },
        { title: 'ship adapter', done: 0 },
      ])
      const before = await todos.toArray()

      const graph = logCounter(createDexieAdapter(db))
      expect(await graph.invoke({ count: 10 }, { threadId: 'chat' })).toEqual({ count: 11, log: ['inc 10'] })
      expect(await graph.invoke({ log: ['hi'] }, { threadId: 'chat' })).toEqual({ count: 12, log: ['inc 10', 'hi', 'inc 11'] })
      await todos.add({ title: 'added between runs', done: 0 })

      // Both live in one database: the app's rows as written, edgegraph's keys under the thread.
      expect(await todos.toArray()).toEqual([...before, { id: 3, title: 'added between runs', done: 0 }])
      expect(await todos.where('done').equals(0).count()).toBe(2)
      const kvKeys = (await db.table('edgegraph_kv').toCollection().primaryKeys()) as [string, string][]
      expect(kvKeys.length).toBeGreaterThan(0)
      expect(new Set(kvKeys.map(([thread]) => thread))).toEqual(new Set(['chat']))
      expect((await db.table('edgegraph_threads').toCollection().primaryKeys())).toEqual(['chat'])

      // A reload: a new Dexie instance on the same database, a new adapter and graph, the same history.
      db.close()
      const reloaded = appDatabase(name)
      const again = logCounter(createDexieAdapter(reloaded))
      expect((await again.getState({ threadId: 'chat' })).values).toEqual({ count: 12, log: ['inc 10', 'hi', 'inc 11'] })
      expect(await collect(again.getStateHistory({ threadId: 'chat' }))).toHaveLength(4) // input + inc, twice
      expect(await again.invoke({ log: ['again'] }, { threadId: 'chat' })).toEqual({ count: 13, log: ['inc 10', 'hi', 'inc 11', 'again', 'inc 12'] })

      // Deleting the thread removes edgegraph's rows only.
      const adapter = createDexieAdapter(reloaded)
      await adapter.deleteThread('chat')
      expect(await reloaded.table('edgegraph_kv').count()).toBe(0)
      expect(await reloaded.table('edgegraph_threads').count()).toBe(0)
      expect(await reloaded.table<Todo, number>('todos').count()).toBe(3)
      await adapter.close()
      // close() leaves the app's database open for the app.
      expect(reloaded.isOpen()).toBe(true)
      reloaded.close()
    })

    it('fails with STORAGE_UNAVAILABLE saying how to declare the tables when the app schema lacks them', async () => {
      const name = fresh('no-tables')
      const db = new Dexie(name)
      db.version(1).stores({ todos: '++id' })
      const adapter = createDexieAdapter(db) // creating it does no work: the first call reports the problem
      const err = await rejectsWith(adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE')
      expect(err.message).toContain('...edgegraphDexieTables')
      expect(err.message).toContain(`"${name}"`)
      expect(err.context.adapter).toBe('dexie')
      await rejectsWith(adapter.commit('t', { put: [['h', new Uint8Array([1])]] }), 'STORAGE_UNAVAILABLE')
      // Through a graph, the same error reaches the caller.
      await rejectsWith(logCounter(adapter).invoke({ count: 0 }, { threadId: 't' }), 'STORAGE_UNAVAILABLE')
      // The app's own table is unaffected.
      await db.table('todos').add({ title: 'still works' })
      expect(await db.table('todos').count()).toBe(1)
      db.close()
      // Tables of those names declared another way (inbound keys) are refused the same way, before any write.
      const other = new Dexie(fresh('wrong-tables'))
      other.version(1).stores({ edgegraph_kv: '[thread+key]', edgegraph_threads: 'thread' })
      expect((await rejectsWith(createDexieAdapter(other).get('t', ['h']), 'STORAGE_UNAVAILABLE')).message).toContain('...edgegraphDexieTables')
    })

    it('maps a quota error from a commit to QUOTA_EXCEEDED and keeps the last checkpoint', async () => {
      const db = appDatabase(fresh('quota'))
      let failWith: Error | undefined
      // Fails edgegraph's writes the way Dexie reports a full disk: a request's QuotaExceededError, or (as
      // Chromium does at commit time) an AbortError whose `inner` is the QuotaExceededError.
      db.use({
        stack: 'dbcore',
        name: 'full-disk',
        create: (down) => ({
          ...down,
          table: (table) => {
            const t = down.table(table)
            return {
              ...t,
              mutate: (req: DBCoreMutateRequest): Promise<DBCoreMutateResponse> => (failWith && table === 'edgegraph_kv' && req.type === 'put' ? Promise.reject(failWith) : t.mutate(req)),
            }
          },
        }),
      })
      const adapter = createDexieAdapter(db)
      const graph = logCounter(adapter)
      await graph.invoke({ count: 0 }, { threadId: 't' })
      const kvBefore = await db.table('edgegraph_kv').count()
      const threadsBefore = await collect(adapter.threads())
      const quota = new DOMException('The quota has been exceeded.', 'QuotaExceededError')
      for (const error of [quota, new Dexie.AbortError(quota)]) {
        failWith = error
        const err = await rejectsWith(adapter.commit('t', { put: [['x', new Uint8Array(8)]], del: ['h'] }), 'QUOTA_EXCEEDED')
        expect(err.message).toContain('dexie adapter')
        expect(err.message).toContain('thread "t"')
        await rejectsWith(graph.invoke({ log: ['more'] }, { threadId: 't' }), 'QUOTA_EXCEEDED')
        // Nothing of the failed commits was written: not the deletes, not the thread's time.
        expect(await db.table('edgegraph_kv').count()).toBe(kvBefore)
        expect(await collect(adapter.threads())).toEqual(threadsBefore)
      }
      failWith = undefined
      expect(await graph.invoke({ log: ['more'] }, { threadId: 't' })).toEqual({ count: 2, log: ['inc 0', 'more', 'inc 1'] })
      db.close()
    })

    it('another tab upgrading or deleting the adapter’s own database: it steps aside, then says so instead of hanging', async () => {
      for (const other of ['upgrade', 'delete'] as const) {
        const name = fresh(`own-${other}`)
        const adapter = createDexieAdapter({ name })
        await adapter.commit('t', { put: [['h', new Uint8Array([1])]] })
        // Rejects (instead of hanging) when this adapter did not release the database.
        if (other === 'upgrade') (await settlesWithin(openRaw(name, 1000, (db) => db.createObjectStore('future')))).close()
        else await settlesWithin(deleteRaw(name))
        const err = await settlesWithin(rejectsWith(adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE'))
        expect(err.message).toContain('another tab upgraded or deleted')
        await settlesWithin(rejectsWith(adapter.commit('t', { put: [['h', new Uint8Array([2])]] }), 'STORAGE_UNAVAILABLE'))
        await adapter.close()
        await deleteRaw(name)
      }
    })

    it('refuses its own database once a newer version of the app has upgraded it, and changes nothing', async () => {
      const name = fresh('newer')
      const old = createDexieAdapter({ name })
      await old.commit('t', { put: [['h', new Uint8Array([1])]] })
      await old.close()
      ;(await openRaw(name, 1000, (db) => db.createObjectStore('future'))).close()
      const adapter = createDexieAdapter({ name })
      const err = await settlesWithin(rejectsWith(adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE'))
      expect(err.message).toContain('newer version')
      await rejectsWith(adapter.commit('t', { put: [['h', new Uint8Array([2])]] }), 'STORAGE_UNAVAILABLE')
      const raw = await openRaw(name, 1000)
      expect([...raw.objectStoreNames].sort()).toEqual(['edgegraph_kv', 'edgegraph_threads', 'future'])
      raw.close()
      await adapter.close()
      await deleteRaw(name)
    })

    it("in the app's database it follows the app's Dexie: reopened after another tab's upgrade, unavailable once the app closes it", async () => {
      const name = fresh('app-upgrade')
      const db = appDatabase(name)
      const adapter = createDexieAdapter(db)
      await adapter.commit('t', { put: [['h', new Uint8Array([1])]] })
      // Dexie's default closes the connection for the other tab and reopens it on the next call.
      ;(await settlesWithin(openRaw(name, 1000, (raw) => raw.createObjectStore('future')))).close()
      expect(await settlesWithin(adapter.get('t', ['h']))).toEqual([new Uint8Array([1])])
      await adapter.commit('t', { put: [['h', new Uint8Array([2])]] }, { key: 'h', expect: new Uint8Array([1]) })
      db.close()
      const err = await settlesWithin(rejectsWith(adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE'))
      expect(err.message).toContain('closed')
    })

    it('tells subscribers of each commit and deleteThread, in this adapter and another on the same database', async () => {
      const name = fresh('notify')
      const [a, b] = [createDexieAdapter({ name }), createDexieAdapter({ name })]
      const heardA: string[] = []
      const heardB: string[] = []
      const stopA = a.subscribe(({ thread }) => heardA.push(thread))
      b.subscribe(({ thread }) => heardB.push(thread))
      await a.commit('t1', { put: [['h', new Uint8Array([1])]] })
      // A commit that fails moves nothing, so nobody hears of it.
      await rejectsWith(a.commit('t1', { put: [['h', new Uint8Array([2])]] }, { key: 'h', expect: undefined }), 'CONFLICT')
      await a.deleteThread('t1')
      expect(heardA).toEqual(['t1', 't1'])
      await vi.waitFor(() => expect(heardB).toEqual(['t1', 't1']))
      stopA()
      await a.commit('t2', { put: [['h', new Uint8Array([1])]] })
      await vi.waitFor(() => expect(heardB).toEqual(['t1', 't1', 't2']))
      expect(heardA).toEqual(['t1', 't1'])
      await a.close()
      await b.close()
    })

    // happy-dom's navigator.locks is null; without Web Locks, lockThread runs at once and proves nothing.
    const hasLocks = Boolean((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks)
    it.skipIf(!hasLocks)('lockThread is exclusive per thread across adapters of one database, the IndexedDB adapter’s included [needs Web Locks]', async () => {
      const name = fresh('locks')
      const [a, b, idb] = [createDexieAdapter({ name }), createDexieAdapter({ name }), createIndexedDBAdapter({ name })]
      const release = deferred()
      const entered = deferred()
      const held = a.lockThread('t', async () => {
        entered.resolve()
        await release.promise
        return 'first'
      }, { wait: true })
      await entered.promise
      await rejectsWith(b.lockThread('t', async () => 'second', { wait: false }), 'THREAD_BUSY')
      await rejectsWith(idb.lockThread('t', async () => 'second', { wait: false }), 'THREAD_BUSY')
      expect(await b.lockThread('other', async () => 'other thread', { wait: false })).toBe('other thread')
      const queued = b.lockThread('t', async () => 'after', { wait: true })
      release.resolve()
      expect([await held, await queued]).toEqual(['first', 'after'])
      await Promise.all([a.close(), b.close(), idb.close()])
    })

    it('reads and continues a history the IndexedDB adapter wrote to the same database', async () => {
      const name = fresh('from-idb')
      const idb = createIndexedDBAdapter({ name })
      await logCounter(idb).invoke({ count: 0 }, { threadId: 't' })
      await logCounter(idb).invoke({ log: ['more'] }, { threadId: 't' })
      await idb.close()
      const dexie = createDexieAdapter({ name })
      const graph = logCounter(dexie)
      expect((await graph.getState({ threadId: 't' })).values).toEqual({ count: 2, log: ['inc 0', 'more', 'inc 1'] })
      expect(await graph.invoke({ log: ['again'] }, { threadId: 't' })).toEqual({ count: 3, log: ['inc 0', 'more', 'inc 1', 'again', 'inc 2'] })
      expect(await dexie.bytes('t')).toBeGreaterThan(0)
      expect(await dexie.bytes()).toBe(await dexie.bytes('t'))
      await dexie.close()
      await rejectsWith(dexie.get('t', ['h']), 'STORAGE_UNAVAILABLE')
    })
  })
}
