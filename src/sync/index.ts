/**
 * @module `edgegraph/sync`: keeps the threads of a local store (IndexedDB, Dexie, memory) and a remote one (the
 * Worker, or any adapter) in step, so an agent runs in the tab online or not and its history reaches the Worker
 * and other devices later.
 *
 * Sync exchanges checkpoints, never storage keys. After a sync both sides hold the union of their checkpoints;
 * when both advanced from a common checkpoint the thread keeps both lines (branches) and the policy picks the head
 * it continues from. Nothing is ever deleted by sync. A push or pull cut off anywhere and retried neither
 * duplicates nor loses nor reorders a checkpoint: checkpoints are immutable, imported parents first, and an import
 * skips what is already there.
 *
 * @example
 * const sync = createSync({ local: createIndexedDBAdapter(), remote: workerRemote({ url, token }) })
 * await sync.syncThread('chat-1')   // → { pushed: 3, pulled: 0, head: '...' }
 * sync.start()                      // background: on commits, when back online, and every 30 s
 */
import type { StorageAdapter } from '../checkpoint/adapter.js'
import { EdgegraphError, isEdgegraphError } from '../errors.js'
import type { Marks } from '../checkpoint/exchange.js'
import { historyPeer, type ExportedCheckpoint, type HistoryPeer, type PullAnswer, type RevChange, type SyncPeer } from './peer.js'

export { historyPeer, type ExportedCheckpoint, type HistoryPeer, type Marks, type PullAnswer, type SyncPeer }
export { workerRemote, type WorkerRemoteOptions } from './http.js'

/** Which head a thread continues from when both sides advanced from a common checkpoint. */
export type SyncPolicy = 'remote-wins' | 'local-wins' | ((conflict: { threadId: string; local: string; remote: string; ancestor: string | undefined }) => 'local' | 'remote' | Promise<'local' | 'remote'>)

export interface SyncOptions {
  /** The store runs commit to: `createIndexedDBAdapter()`, `createDexieAdapter(db)`, `createMemoryAdapter()`... */
  local: StorageAdapter
  /** The other side: `workerRemote({ url, token })` for the edgegraph Worker, or any storage adapter. */
  remote: SyncPeer | StorageAdapter
  /** Default `'remote-wins'`: the thread continues from the remote's head; the local line stays readable and forkable. */
  policy?: SyncPolicy
  /** Names this remote in the local store's sync bookkeeping, when one local store syncs with several. Default `'remote'`. */
  name?: string
}

/** When both sides advanced from a common checkpoint: both heads, their common ancestor, and the head chosen. */
export interface SyncConflict {
  local: string
  remote: string
  /** Undefined when the two lines share no checkpoint (the thread was started on both sides independently). */
  ancestor: string | undefined
  head: string
}

export interface SyncResult {
  threadId: string
  /** Checkpoints added to the remote. */
  pushed: number
  /** Checkpoints added to the local store. */
  pulled: number
  /** The head both sides continue from (undefined for a thread neither side has). */
  head: string | undefined
  conflict?: SyncConflict
  /** Why the sync stopped (what was pushed or pulled before it stays, and the next sync goes on from there). */
  error?: EdgegraphError
  /** Another tab was syncing this thread, so this sync did nothing (background sync only). */
  skipped?: boolean
}

export interface SyncStatus {
  state: 'offline' | 'syncing' | 'idle' | 'error'
  /** Checkpoints of the synced threads not yet on the remote, as far as known. */
  pending: number
  error?: EdgegraphError | undefined
  /** When the last sync that reached the remote ended (ms since the epoch). */
  lastSyncAt?: number | undefined
}

export interface SyncStartOptions {
  /** Threads to keep in step. Default: every thread of the local store, listed at each round. */
  threads?: string[]
  /** A full round every so often (ms). Default 30 000. */
  intervalMs?: number
}

export interface Sync {
  syncThread(threadId: string): Promise<SyncResult>
  start(options?: SyncStartOptions): void
  stop(): void
  readonly status: SyncStatus
  /** Calls `listener` with the status after every change, and with each thread's result; returns the unsubscribe. */
  subscribe(listener: (status: SyncStatus, result?: SyncResult) => void): () => void
}

/** Sync bookkeeping kept in the local store, per thread: each side's marks after the last complete sync. */
const stateKey = (name: string) => `s/${name}`
/** Text per push request: keeps requests well under the Worker's body limit. */
const BATCH_BYTES = 512 * 1024
const BATCH_ITEMS = 400
/** Ids per `has` question (the Worker takes up to 1000). */
const HAS_PAGE = 500

interface SavedState {
  local: Marks
  remote: Marks
  /**
   * Written (beside the marks of the sync before) just before a sync moves the remote's head: where it moves it to.
   * Still there at the next sync, it means that sync was cut off (a closed or reloaded tab) before it could record
   * the move: a remote at this head was moved there by this device, not by anyone else.
   */
  moving?: string | undefined
}

const isPeer = (x: SyncPeer | StorageAdapter): x is SyncPeer => typeof (x as SyncPeer).pull === 'function'

/** The revisions one side went through during a sync: whether only this sync changed it since it was read. */
interface RevTrail {
  saw(change: RevChange): void
  /** The revision to remember; one that never matches when someone else changed the side meanwhile. */
  value(): string | undefined
}

function revTrail(start: string | undefined): RevTrail {
  let current = start
  let elsewhere = false
  return {
    saw(change) {
      // Another writer's import or head move came between our reads and this change: what it brought is unknown
      // here, so the next sync must compare everything.
      if (change.prevRev !== current) elsewhere = true
      current = change.rev ?? change.prevRev
    },
    value: () => (elsewhere ? '(changed elsewhere)' : current),
  }
}

/**
 * Creates a sync between a local store and a remote.
 *
 * @example
 * const sync = createSync({ local, remote: workerRemote({ url: 'https://agents.example.com', token }) })
 * const { pushed, pulled, conflict } = await sync.syncThread('chat-1')
 */
export function createSync(options: SyncOptions): Sync {
  if (!options || typeof options.local?.commit !== 'function') throw new EdgegraphError('INVALID_ARGUMENT', 'createSync needs { local }: the storage adapter runs commit to, e.g. createIndexedDBAdapter()')
  if (!options.remote || (!isPeer(options.remote) && typeof options.remote.commit !== 'function')) {
    throw new EdgegraphError('INVALID_ARGUMENT', 'createSync needs { remote }: workerRemote({ url, token }) or a storage adapter')
  }
  if ((options.local as { encrypted?: boolean }).encrypted === true && isPeer(options.remote)) {
    throw new EdgegraphError(
      'INVALID_ARGUMENT',
      'createSync: the local store is encrypted (withEncryption), but workerRemote hands the Worker plain checkpoints so it can run the graph. ' +
        'To keep the remote holding ciphertext only, sync with withEncryption(createRemoteAdapter({ url, token }), <the same keys>) as the remote.',
    )
  }
  const policy = options.policy ?? 'remote-wins'
  if (policy !== 'remote-wins' && policy !== 'local-wins' && typeof policy !== 'function') {
    throw new EdgegraphError('INVALID_ARGUMENT', `createSync: policy must be 'remote-wins', 'local-wins' or a function (conflict) => 'local' | 'remote', not ${JSON.stringify(policy)}`)
  }
  const name = options.name ?? 'remote'
  if (!/^[\w.-]{1,64}$/.test(name)) throw new EdgegraphError('INVALID_ARGUMENT', 'createSync: name must be 1-64 letters, digits, "_", "." or "-"')
  const local = historyPeer(options.local)
  const remote = isPeer(options.remote) ? options.remote : historyPeer(options.remote)
  const lockable = options.local as Partial<{ lockThread: (t: string, fn: () => Promise<unknown>, o: { wait: boolean }) => Promise<unknown> }>
  const listeners = new Set<(status: SyncStatus, result?: SyncResult) => void>()
  let status: SyncStatus = { state: 'idle', pending: 0 }
  const pendingBy = new Map<string, number>()
  /** Per thread, bumped whenever a sync sets its count: a count taken across that is stale (it read older marks). */
  const counted = new Map<string, number>()
  const recount = (threadId: string, n: number) => {
    pendingBy.set(threadId, n)
    counted.set(threadId, (counted.get(threadId) ?? 0) + 1)
  }
  let running = 0

  const emit = (result?: SyncResult) => {
    for (const listener of listeners) {
      try {
        listener(status, result)
      } catch (err) {
        queueMicrotask(() => {
          throw err
        })
      }
    }
  }
  const setStatus = (next: Partial<SyncStatus>, result?: SyncResult) => {
    let pending = 0
    for (const n of pendingBy.values()) pending += n
    status = { ...status, ...next, pending }
    emit(result)
  }

  async function readState(threadId: string): Promise<SavedState | undefined> {
    const [raw] = await local.storage.call(threadId, (a) => a.get(threadId, [stateKey(name)]))
    if (raw === undefined) return undefined
    try {
      const parsed = JSON.parse(await local.storage.text(threadId, stateKey(name), raw)) as SavedState
      return parsed && typeof parsed === 'object' && parsed.local && parsed.remote ? parsed : undefined
    } catch {
      return undefined // unreadable bookkeeping only costs a full comparison
    }
  }

  /**
   * Records where both sides stood after this sync. Not guarded by the head: the marks are what this sync read and
   * wrote, so a run that moved the thread since only shows up as "moved" next time, as it should. A lost record
   * would make the device's own later fork look like a conflict.
   */
  async function saveState(threadId: string, state: SavedState): Promise<void> {
    const put = local.storage.puts(stateKey(name), JSON.stringify(state))
    await local.storage.call(threadId, (a) => a.commit(threadId, { put }))
  }

  /** Sends `items` to `to` in batches, parents first; returns how many were added. */
  async function send(to: SyncPeer, threadId: string, items: ExportedCheckpoint[], revs: RevTrail): Promise<number> {
    let added = 0
    let batch: ExportedCheckpoint[] = []
    let bytes = 0
    const flush = async () => {
      if (batch.length === 0) return
      const r = await to.push(threadId, batch)
      revs.saw(r)
      added += r.added
      batch = []
      bytes = 0
    }
    for (const item of items) {
      const size = (item.text?.length ?? 0) + (item.pending ?? []).reduce((n, [, t]) => n + t.length, 0)
      if (batch.length > 0 && (bytes + size > BATCH_BYTES || batch.length >= BATCH_ITEMS)) await flush()
      batch.push(item)
      bytes += size
    }
    await flush()
    return added
  }

  /** What of `mine` the other side lacks: checkpoints it does not hold, and pending writes that may be new. */
  async function missingOn(peer: SyncPeer, threadId: string, mine: ExportedCheckpoint[], theirs: PullAnswer): Promise<ExportedCheckpoint[]> {
    const known = new Set((theirs.changes ?? []).filter((c) => c.text !== undefined).map((c) => c.id))
    // Their changes were all they hold: nothing more to ask. Else ask about the rest, a page at a time.
    const ask = theirs.full ? [] : mine.filter((c) => c.text !== undefined && !known.has(c.id)).map((c) => c.id)
    const held = new Set<string>()
    for (let i = 0; i < ask.length; i += HAS_PAGE) for (const id of await peer.has(threadId, ask.slice(i, i + HAS_PAGE))) held.add(id)
    const out: ExportedCheckpoint[] = []
    for (const c of mine) {
      const lacks = c.text !== undefined && !known.has(c.id) && !held.has(c.id)
      if (lacks) out.push(c)
      else if (c.pending?.length) out.push({ id: c.id, pending: c.pending })
    }
    return out
  }

  async function once(threadId: string): Promise<SyncResult> {
    const saved = await readState(threadId)
    const movingRemote = (head: string) => saveState(threadId, { local: saved?.local ?? {}, remote: saved?.remote ?? {}, moving: head })
    const mine = await local.pull(threadId, saved?.local)
    const theirs = await remote.pull(threadId, saved?.remote)
    const result: SyncResult = { threadId, pushed: 0, pulled: 0, head: mine.marks.head }
    if (mine.changes === undefined && theirs.changes === undefined) {
      recount(threadId, 0)
      return { ...result, head: theirs.marks.head ?? mine.marks.head }
    }
    // Push first: what this device made offline reaches the remote even if the pull fails.
    const localRevs = revTrail(mine.marks.rev)
    const remoteRevs = revTrail(theirs.marks.rev)
    const toPush = await missingOn(remote, threadId, mine.changes ?? [], theirs)
    result.pushed = await send(remote, threadId, toPush, remoteRevs)
    recount(threadId, 0)
    const toPull = await missingOn(local, threadId, theirs.changes ?? [], mine)
    result.pulled = await send(local, threadId, toPull, localRevs)

    let localHead = mine.marks.head
    let remoteHead = theirs.marks.head
    if (localHead !== remoteHead) {
      if (localHead === undefined || remoteHead === undefined) {
        // One side has never seen the thread: it takes the other's head.
        if (remoteHead === undefined) await movingRemote(localHead as string)
        if (localHead === undefined) localRevs.saw(await local.moveHead(threadId, (localHead = remoteHead) as string, undefined)) // no run can be going on
        else remoteRevs.saw(await remote.moveHead(threadId, (remoteHead = localHead), undefined))
      } else {
        // A side whose head did not move since the last sync follows the other (so a conflict, once resolved on
        // one device, is not resolved again the other way on the next); else a side the other descends from.
        let head: string
        let ancestor: string | undefined
        if (saved?.local.head === localHead) head = remoteHead
        else if (saved?.remote.head === remoteHead) head = localHead
        // A sync cut off after moving the remote here: the remote did not move since either, whatever this device did
        // meanwhile (a fork from an older checkpoint is not a conflict with the line it left).
        else if (saved?.moving === remoteHead) head = localHead
        else if ((ancestor = await local.commonAncestor(threadId, localHead, remoteHead)) === localHead) head = remoteHead
        else if (ancestor === remoteHead) head = localHead
        else {
          const side = await choose(threadId, localHead, remoteHead, ancestor)
          head = side === 'local' ? localHead : remoteHead
          result.conflict = { local: localHead, remote: remoteHead, ancestor, head }
        }
        if (head !== remoteHead) {
          // Recorded first: a tab closed while the move is on its way must not turn this device's next fork into a conflict.
          await movingRemote(head)
          remoteRevs.saw(await remote.moveHead(threadId, head, remoteHead))
          remoteHead = head
        }
        if (head !== localHead) {
          // Not while a run goes on here (it would fail at its next step): the next sync moves it.
          const moved = await withRunLock(threadId, () => local.moveHead(threadId, head, localHead))
          if (moved === undefined) {
            // A run is going on here: its line goes on, and the next sync carries it on from there.
            result.head = localHead
          } else {
            localRevs.saw(moved)
            localHead = head
          }
        }
      }
    }
    result.head = localHead
    await saveState(threadId, {
      // A side's pending writes are known only when its head did not move.
      local: { head: localHead, rev: localRevs.value(), pending: localHead === mine.marks.head ? mine.marks.pending : undefined },
      remote: { head: remoteHead, rev: remoteRevs.value(), pending: remoteHead === theirs.marks.head ? theirs.marks.pending : undefined },
    })
    // A count started before this save read the marks before it (or those saved while moving the remote's head).
    recount(threadId, 0)
    return result
  }

  async function choose(threadId: string, localHead: string, remoteHead: string, ancestor: string | undefined): Promise<'local' | 'remote'> {
    if (policy === 'remote-wins') return 'remote'
    if (policy === 'local-wins') return 'local'
    const side = await policy({ threadId, local: localHead, remote: remoteHead, ancestor })
    if (side !== 'local' && side !== 'remote') {
      throw new EdgegraphError('INVALID_ARGUMENT', `The sync policy returned ${JSON.stringify(side)} for thread "${threadId}"; it must return 'local' or 'remote'. Nothing was moved; both lines are stored.`, { context: { threadId } })
    }
    return side
  }

  /** Runs `fn` holding the thread's run lock if it is free (browser stores); undefined when a run holds it. */
  async function withRunLock<T>(threadId: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (!lockable.lockThread) return fn()
    try {
      return (await lockable.lockThread(threadId, fn, { wait: false })) as T
    } catch (err) {
      if (isEdgegraphError(err, 'THREAD_BUSY')) return undefined
      throw err
    }
  }

  /** Runs `fn` holding this sync's Web Lock on the thread, so one tab syncs a thread at a time; undefined if busy and not waiting. */
  async function withSyncLock<T>(threadId: string, fn: () => Promise<T>, wait: boolean): Promise<T | undefined> {
    const locks = (globalThis as { navigator?: { locks?: { request: (name: string, options: { ifAvailable?: boolean }, fn: (lock: unknown) => Promise<unknown>) => Promise<unknown> } } }).navigator?.locks
    if (!locks) return fn()
    return (await locks.request(`edgegraph-sync:${name}:${options.local.name}:${threadId}`, wait ? {} : { ifAvailable: true }, async (lock) => (lock === null ? undefined : fn()))) as T | undefined
  }

  async function syncThread(threadId: string, wait = true): Promise<SyncResult> {
    if (typeof threadId !== 'string' || threadId === '') throw new EdgegraphError('INVALID_ARGUMENT', 'syncThread(threadId) needs a thread id')
    running++
    setStatus({ state: offline() ? 'offline' : 'syncing' })
    let result: SyncResult
    try {
      const run = async () => {
        // A run or another tab's sync may move the thread between our reads and our commits: try again.
        for (let attempt = 0; ; attempt++) {
          try {
            return await once(threadId)
          } catch (err) {
            if (attempt < 2 && isEdgegraphError(err, 'CONFLICT')) continue
            throw err
          }
        }
      }
      result = (await withSyncLock(threadId, run, wait)) ?? { threadId, pushed: 0, pulled: 0, head: undefined, skipped: true }
    } catch (err) {
      result = { threadId, pushed: 0, pulled: 0, head: undefined, error: asError(threadId, err) }
    } finally {
      running--
    }
    if (result.error) setStatus({ state: offline() ? 'offline' : 'error', error: result.error }, result)
    else setStatus(running > 0 ? {} : { state: 'idle', error: undefined, lastSyncAt: result.skipped ? status.lastSyncAt : Date.now() }, result)
    return result
  }

  /** Counts the thread's checkpoints not yet pushed (those above the marks of the last complete sync). */
  async function countPending(threadId: string): Promise<void> {
    try {
      const at = counted.get(threadId)
      const saved = await readState(threadId)
      const { changes } = await local.pull(threadId, saved?.local)
      if (counted.get(threadId) !== at) return // a sync counted meanwhile, from newer marks
      recount(threadId, (changes ?? []).filter((c) => c.text !== undefined).length)
      setStatus({})
    } catch {
      // Only a count: the next sync reports what is wrong.
    }
  }

  // ---- background sync ---------------------------------------------------------------------------
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopFns: (() => void)[] = []
  let started: SyncStartOptions | undefined
  let failures = 0
  let rounding = false
  const dirty = new Set<string>()

  async function round(): Promise<void> {
    timer = undefined
    // One round at a time: a commit during a round marks its thread dirty, and the round's end schedules the next.
    if (!started || rounding) return
    if (offline()) {
      setStatus({ state: 'offline' }) // the online event starts the next round
      return
    }
    rounding = true
    let delay: number
    try {
      delay = await syncAll(started)
    } catch (err) {
      // Listing the local threads failed: report it, and back off as for a failed sync.
      failures++
      setStatus({ state: 'error', error: asError('*', err) })
      delay = backoff()
    } finally {
      rounding = false
    }
    schedule(delay)
  }

  /** Syncs every thread once; returns when the next round is due. */
  async function syncAll(opts: SyncStartOptions): Promise<number> {
    const threads = new Set(opts.threads ?? [])
    if (!opts.threads) for await (const t of options.local.threads()) threads.add(t.thread)
    for (const t of dirty) threads.add(t)
    dirty.clear()
    let failed = false
    let skipped = false
    for (const threadId of threads) {
      if (!started) break
      const r = await syncThread(threadId, false)
      if (r.error) failed = true
      if (r.skipped) {
        skipped = true
        dirty.add(threadId)
      }
    }
    failures = failed ? failures + 1 : 0
    // After failures, back off; a thread another tab was syncing, or one that moved during the round, goes again
    // soon; else the regular interval.
    if (failed) return backoff()
    return skipped ? 2000 : dirty.size > 0 ? 500 : (opts.intervalMs ?? 30_000)
  }

  /** 1 s, 2 s, 4 s... up to a minute, with jitter. */
  const backoff = () => Math.min(60_000, 1000 * 2 ** (failures - 1)) * (0.75 + Math.random() / 2)

  function schedule(delay: number): void {
    if (!started || rounding) return
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => void round(), delay)
    ;(timer as { unref?: () => void }).unref?.()
  }

  return {
    syncThread: (threadId) => syncThread(threadId, true),
    get status() {
      return status
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    start(startOptions = {}) {
      if (started) return
      if (startOptions.intervalMs !== undefined && !(startOptions.intervalMs >= 100)) throw new EdgegraphError('INVALID_ARGUMENT', 'sync.start: intervalMs must be at least 100')
      started = startOptions
      const subscribable = options.local as Partial<{ subscribe: (l: (e: { thread: string }) => void) => () => void }>
      if (subscribable.subscribe) {
        stopFns.push(
          subscribable.subscribe(({ thread }) => {
            if (startOptions.threads && !startOptions.threads.includes(thread)) return
            dirty.add(thread)
            void countPending(thread)
            if (failures === 0) schedule(500) // soon, once a burst of steps settles
          }),
        )
      }
      const target = globalThis as { addEventListener?: (type: string, fn: () => void) => void; removeEventListener?: (type: string, fn: () => void) => void }
      if (typeof target.addEventListener === 'function') {
        const online = () => {
          failures = 0
          schedule(0)
        }
        const goOffline = () => setStatus({ state: 'offline' })
        target.addEventListener('online', online)
        target.addEventListener('offline', goOffline)
        stopFns.push(() => {
          target.removeEventListener?.('online', online)
          target.removeEventListener?.('offline', goOffline)
        })
      }
      schedule(0)
    },
    stop() {
      started = undefined
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      for (const fn of stopFns) fn()
      stopFns = []
    },
  }
}

function offline(): boolean {
  return (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false
}

function asError(threadId: string, err: unknown): EdgegraphError {
  if (err instanceof EdgegraphError) return err
  return new EdgegraphError('STORAGE_FAILED', `Sync of thread "${threadId}" failed: ${(err as Error)?.message ?? String(err)}. What was already synced stays; the next sync goes on from there.`, {
    cause: err,
    context: { threadId },
  })
}
