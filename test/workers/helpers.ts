/** @module Adapters for the workerd tests: each `create()` gets fresh, empty storage. */
import { env, runInDurableObject } from 'cloudflare:test'
import type { StorageAdapter } from '../../src/index.js'
import { createDurableObjectAdapter, type DurableObjectAdapterOptions } from '../../adapters/durable-object.js'
import { createD1Adapter, type D1AdapterOptions } from '../../adapters/d1.js'
import { SQL_MAX_VALUE_BYTES } from '../../adapters/sql.js'

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** A fresh Durable Object (new unique id, so empty storage) and a way to run code inside it. */
export function freshDurableObject() {
  const stub = env.STORE.get(env.STORE.newUniqueId())
  return {
    stub,
    run: <T>(fn: (storage: DurableObjectStorage) => T | Promise<T>): Promise<T> => runInDurableObject(stub, (_instance, state) => fn(state.storage)),
  }
}

/**
 * The Durable Object adapter as the engine uses it in production: created on the object's own storage and
 * called inside the object. Every call is made inside the Durable Object through `runInDurableObject`; scans
 * are read there and handed back.
 */
export function durableObjectAdapter(options: DurableObjectAdapterOptions = {}): StorageAdapter & { run: ReturnType<typeof freshDurableObject>['run'] } {
  const { run } = freshDurableObject()
  // One adapter per object, created inside it on first use (as a Durable Object's constructor would).
  let adapter: StorageAdapter | undefined
  const inside = <T>(fn: (adapter: StorageAdapter) => Promise<T>) => run((storage) => fn((adapter ??= createDurableObjectAdapter(storage, options))))
  return {
    name: 'durable-object',
    limits: { maxValueBytes: options.maxValueBytes ?? SQL_MAX_VALUE_BYTES },
    get: (thread, keys) => inside((a) => a.get(thread, keys)),
    async *scan(thread, range) {
      yield* await inside((a) => collect(a.scan(thread, range)))
    },
    commit: (thread, batch, guard) => inside((a) => a.commit(thread, batch, guard)),
    deleteThread: (thread) => inside((a) => a.deleteThread(thread)),
    async *threads(opts) {
      yield* await inside((a) => collect(a.threads(opts)))
    },
    run,
  }
}

let tables = 0

/** A D1 adapter on tables of its own (a fresh prefix), so it starts empty. */
export function d1Adapter(options: Omit<D1AdapterOptions, 'table'> = {}): StorageAdapter & { table: string } {
  const table = `t${Date.now().toString(36)}_${(tables++).toString(36)}`
  return Object.assign(createD1Adapter(env.DB, { ...options, table }), { table })
}
