/**
 * @module Cross-tab coordination for browser adapters: a Web Lock per thread around runs, and a
 * BroadcastChannel that tells every tab when a thread moved. Shared by the IndexedDB and Dexie adapters.
 */
import { EdgegraphError } from '../src/errors.js'

/** What a browser adapter mixes in: thread locks and change notifications, scoped to one database. */
export interface TabCoordinator {
  lockThread<T>(thread: string, fn: () => Promise<T>, options: { wait: boolean; signal?: AbortSignal }): Promise<T>
  subscribe(listener: (event: { thread: string }) => void): () => void
  /** Tells this tab's listeners and every other tab that `thread` moved. */
  notify(thread: string): void
  close(): void
}

/**
 * Coordinates tabs sharing the store `scope` (e.g. `indexeddb:<database name>`). Where the platform has no
 * Web Locks (Node, old browsers), runs are not serialized and the head guard alone catches a second writer;
 * where it has no BroadcastChannel, only this tab's listeners hear about commits.
 */
export function createTabCoordinator(scope: string, adapter: string): TabCoordinator {
  const listeners = new Set<(event: { thread: string }) => void>()
  let channel: BroadcastChannel | undefined
  const emit = (thread: string) => {
    for (const listener of listeners) {
      try {
        listener({ thread })
      } catch (err) {
        // A failing listener must not break the commit that triggered it, nor the other listeners.
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }
  const open = () => {
    if (channel || typeof BroadcastChannel === 'undefined') return channel
    channel = new BroadcastChannel(`edgegraph:${scope}`)
    channel.onmessage = (e: MessageEvent) => {
      const thread = (e.data as { thread?: unknown } | null)?.thread
      if (typeof thread === 'string') emit(thread)
    }
    return channel
  }

  return {
    async lockThread<R>(thread: string, fn: () => Promise<R>, { wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<R> {
      const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      if (!locks) return fn()
      const name = `edgegraph:${scope}:${thread}`
      const options: LockOptions = wait ? (signal ? { signal } : {}) : { ifAvailable: true }
      return locks.request(name, options, async (lock) => {
        if (!lock) {
          throw new EdgegraphError(
            'THREAD_BUSY',
            `Thread "${thread}" is being run by another tab or worker (${adapter} adapter). Wait for it, or run with ifBusy: 'wait' to queue behind it.`,
            { context: { threadId: thread, adapter } },
          )
        }
        return fn()
      }) as Promise<R>
    },

    subscribe(listener) {
      listeners.add(listener)
      open()
      return () => {
        listeners.delete(listener)
      }
    },

    notify(thread) {
      emit(thread)
      open()?.postMessage({ thread })
    },

    close() {
      channel?.close()
      channel = undefined
      listeners.clear()
    },
  }
}
