/** @module A storage adapter with some of its calls replaced: for tests, and for the bench's counting store. Imports no test runner. */
import type { StorageAdapter } from '../../src/index.js'

/** `inner` with some of its calls replaced (a failing commit, a slow one, a recording scan...), the rest passed through; no lock or subscribe. */
export function over(inner: StorageAdapter, replace: Partial<Pick<StorageAdapter, 'get' | 'scan' | 'commit' | 'deleteThread' | 'threads'>>): StorageAdapter {
  return {
    name: inner.name,
    limits: inner.limits,
    get: (t, k) => inner.get(t, k),
    scan: (t, r) => inner.scan(t, r),
    commit: (t, b, g) => inner.commit(t, b, g),
    deleteThread: (t) => inner.deleteThread(t),
    threads: (o) => inner.threads(o),
    ...replace,
  }
}
