/** @module Cross-tab coordination for the browser adapters: a Web Lock per thread around runs, a BroadcastChannel for commits. */
import { adapterError, type AdapterRef, type StorageAdapter } from '../src/checkpoint/adapter.js'

/** What the browser adapters (IndexedDB, Dexie) offer beyond the storage contract. */
export interface BrowserAdapter extends StorageAdapter {
  /**
   * Runs `fn` holding this thread's Web Lock, shared by every tab of the origin; with `wait: false`, throws
   * `THREAD_BUSY` when another tab holds it. Runs take it themselves (`ifBusy` in the run config).
   */
  lockThread<T>(thread: string, fn: () => Promise<T>, options: { wait: boolean; signal?: AbortSignal }): Promise<T>
  /**
   * Calls `listener` whenever a thread moves, by a commit in this tab or another; returns the unsubscribe. Commits of
   * this tab are heard at once; another tab's arrive in order, batched: the first at once, the rest within 50 ms.
   *
   * @example
   * const stop = checkpointer.subscribe(({ thread }) => { if (thread === current) refresh() })
   */
  subscribe(listener: (event: { thread: string }) => void): () => void
  /** Bytes stored (keys + values) for one thread, or for all. */
  bytes(thread?: string): Promise<number>
  /** Stops the adapter; it cannot be used afterwards. */
  close(): Promise<void>
}

/** What a browser adapter mixes in: thread locks and change notifications, scoped to one database. */
export interface TabCoordinator {
  lockThread<T>(thread: string, fn: () => Promise<T>, options: { wait: boolean; signal?: AbortSignal }): Promise<T>
  subscribe(listener: (event: { thread: string }) => void): () => void
  /** Tells this tab's listeners (at once) and every other tab (within 50 ms, one call per commit) that `thread` moved. */
  notify(thread: string): void
  close(): void
}

/** How often, at most, other tabs are sent the commits of this one (the first at once, the rest batched). */
const NOTIFY_MS = 50

/**
 * Coordinates tabs sharing the store `scope` (e.g. `indexeddb:<database name>`). Where the platform has no
 * Web Locks (Node, old browsers), runs are not serialized and the head guard alone catches a second writer;
 * where it has no BroadcastChannel, only this tab's listeners hear about commits.
 */
export function createTabCoordinator(scope: string, adapter: AdapterRef): TabCoordinator {
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
    // In Node a BroadcastChannel keeps the process alive; a store must never do that.
    ;(channel as { unref?: () => void }).unref?.()
    channel.onmessage = (e: MessageEvent) => {
      const data = e.data as { thread?: unknown; moves?: unknown } | null
      // `{ thread }` alone: one commit, as tabs of an older version send it.
      if (!Array.isArray(data?.moves)) return typeof data?.thread === 'string' ? emit(data.thread) : undefined
      for (const move of data.moves as unknown[]) {
        const [thread, count] = Array.isArray(move) ? (move as unknown[]) : []
        if (typeof thread === 'string' && Number.isInteger(count)) for (let i = 0; i < Math.min(count as number, 10_000); i++) emit(thread)
      }
    }
    return channel
  }

  // Other tabs hear of commits in batches: the first at once, then what came in the next NOTIFY_MS in one message,
  // in commit order. A run commits a step every few hundred microseconds; a message per commit costs each step a
  // round of inter-process messaging that delays its own IndexedDB requests.
  let moves: [thread: string, count: number][] = []
  let sending: ReturnType<typeof setTimeout> | undefined
  const post = () => {
    if (moves.length === 0) return void (sending = undefined)
    // `thread` too, for tabs of an older version: they hear one move per batch.
    channel?.postMessage({ thread: moves[0]?.[0], moves })
    moves = []
    sending = setTimeout(post, NOTIFY_MS)
    ;(sending as { unref?: () => void }).unref?.()
  }

  return {
    async lockThread<R>(thread: string, fn: () => Promise<R>, { wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<R> {
      const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks
      if (!locks) return fn()
      const name = `edgegraph:${scope}:${thread}`
      const options: LockOptions = wait ? (signal ? { signal } : {}) : { ifAvailable: true }
      const granted = locks.request(name, options, async (lock) => {
        if (!lock) {
          throw adapterError(adapter, 'THREAD_BUSY', `another tab or worker is running this thread. Wait for it, or run with ifBusy: 'wait' to queue behind it.`, { thread })
        }
        return fn()
      }) as Promise<R>
      return granted.catch((err: unknown) => {
        // Aborted while queued behind another tab's run: the same typed error as an abort between steps.
        if (signal?.aborted && (err === signal.reason || (err as Error)?.name === 'AbortError')) {
          throw adapterError(adapter, 'ABORTED', 'the run was aborted while waiting for another tab to finish it. Nothing was written.', { thread, cause: signal.reason })
        }
        throw err
      })
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
      if (!open()) return
      const last = moves[moves.length - 1]
      if (last?.[0] === thread) last[1]++
      else moves.push([thread, 1])
      if (sending === undefined) post()
    },

    close() {
      clearTimeout(sending)
      sending = undefined
      if (moves.length > 0) channel?.postMessage({ thread: moves[0]?.[0], moves })
      moves = []
      channel?.close()
      channel = undefined
      listeners.clear()
    },
  }
}

/** What {@link requestPersistentStorage} found out. */
export interface StorageStatus {
  /** True when the browser promised not to evict this origin's storage under pressure. */
  persisted: boolean
  /** Bytes this origin uses, as the browser estimates them (undefined where unsupported). */
  usage: number | undefined
  /** Bytes this origin may use, as the browser estimates them (undefined where unsupported). */
  quota: number | undefined
}

/**
 * Asks the browser to keep this origin's data (checkpoints included) when storage runs low, and reports usage.
 * Browsers may grant it silently (installed apps, engagement) or ask the user; call it from a user gesture.
 *
 * @example
 * const { persisted, usage, quota } = await requestPersistentStorage()
 */
export async function requestPersistentStorage(): Promise<StorageStatus> {
  // persist() exists on windows only (not in workers), so the type is spelled out rather than taken from a lib.
  const storage = (globalThis as { navigator?: { storage?: { persisted?(): Promise<boolean>; persist?(): Promise<boolean>; estimate?(): Promise<{ usage?: number; quota?: number }> } } }).navigator?.storage
  if (!storage) return { persisted: false, usage: undefined, quota: undefined }
  const persisted = (await storage.persisted?.()) || ((await storage.persist?.()) ?? false)
  const estimate = await storage.estimate?.()
  return { persisted, usage: estimate?.usage, quota: estimate?.quota }
}
