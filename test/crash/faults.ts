/**
 * @module Fault injection for the crash matrix (issue 13): a {@link StorageAdapter} wrapper that "kills the process"
 * before or after one chosen call. Runtime-neutral (Node, a Chromium page, workerd): no node: imports, no vitest.
 */
import type { StorageAdapter } from '../../src/checkpoint/adapter.js'

/** What a killed process leaves: every call from the crash on fails. */
export class Crash extends Error {
  override name = 'Crash'
}

/** Where a crash happens: call number `at` (0-based, counting get, scan, commit and deleteThread), before or after it reaches the store. */
export interface CrashPoint {
  at: number
  when: 'before' | 'after'
}

export interface Crashing {
  /** The wrapped adapter; from the crash on, every call throws {@link Crash}. */
  adapter: StorageAdapter
  /** Calls made so far (the crashing call included). */
  calls: () => number
  /** Whether the crash has happened. */
  crashed: () => boolean
}

/**
 * Wraps `inner` so that call number `at` crashes before or after it reaches the store; counts calls. With
 * `at = Infinity` it never crashes and only counts. `threads` is passed through uncounted; optional `lockThread` and
 * `subscribe` are not offered (a crashed process holds no lock and hears nothing).
 */
export function crashing(inner: StorageAdapter, at: number, when: 'before' | 'after'): Crashing {
  let calls = 0
  let dead = false
  const gate = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (dead) throw new Crash('the process is gone')
    const n = calls++
    if (n === at && when === 'before') {
      dead = true
      throw new Crash(`crash before call ${n}`)
    }
    const out = await fn()
    if (n === at && when === 'after') {
      dead = true
      throw new Crash(`crash after call ${n}`)
    }
    return out
  }
  const adapter: StorageAdapter = {
    name: inner.name,
    limits: inner.limits,
    get: (t, k) => gate(() => inner.get(t, k)),
    async *scan(t, r) {
      const entries: [string, Uint8Array][] = await gate(async () => {
        const out: [string, Uint8Array][] = []
        for await (const e of inner.scan(t, r)) out.push(e)
        return out
      })
      yield* entries
    },
    commit: (t, b, g) => gate(() => inner.commit(t, b, g)),
    deleteThread: (t) => gate(() => inner.deleteThread(t)),
    threads: (o) => inner.threads(o),
  }
  return { adapter, calls: () => calls, crashed: () => dead }
}
