/**
 * @module edgegraph/langgraph: a LangGraph.js checkpointer (`BaseCheckpointSaver`) over any edgegraph storage adapter,
 * storing history the way edgegraph does: each checkpoint as a delta against its parent, so a chat costs about its
 * messages instead of a full copy of the state per step. It imports `@langchain/langgraph-checkpoint` (an optional
 * peer dependency of this entry point only; the `edgegraph` core stays dependency-free).
 *
 * @example
 * import { EdgegraphSaver } from 'edgegraph/langgraph'
 * import { createIndexedDBAdapter } from 'edgegraph/adapters/indexeddb'
 * const graph = builder.compile({ checkpointer: new EdgegraphSaver(createIndexedDBAdapter({ name: 'chat' })) })
 */
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  getCheckpointId,
  maxChannelVersion,
  writesSortKey,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint'
import type { StorageAdapter } from './checkpoint/adapter.js'
import { corruptRecord } from './checkpoint/read-errors.js'
import { ChunkedStorage, storedKeys } from './checkpoint/storage.js'
import { EdgegraphError, isEdgegraphError } from './errors.js'
import { deserialize, docSize, encodeRecord, readWrite, recordHead, serialize, setSerialized, sizeOf, snapshotText, writeText, type Doc, type Loaded, type Serialized } from './langgraph/doc.js'
import { ALL_RECORDS, THREAD_PREFIX, nsWritesRange, parseRecordKey, parseWriteKey, recordKey, recordRange, recordsAfter, threadIdOf, threadName, writeKey, writesRange } from './langgraph/keys.js'
import { DocCache, NamespaceReader, WritesReader, type StoredWrite } from './langgraph/reader.js'

type RunnableConfig = Parameters<BaseCheckpointSaver['getTuple']>[0]

/** Options of {@link EdgegraphSaver}. */
export interface EdgegraphSaverOptions {
  /** LangGraph's serializer for channel values, metadata and writes (default: its `JsonPlusSerializer`). */
  serde?: SerializerProtocol
  /**
   * Store a checkpoint in full once rebuilding it would read more than `snapshotFactor` × its size in records
   * (default 2, as edgegraph's own history). An append-only channel then never needs a snapshot; a value that is
   * rewritten every step gets one soon, so a read never costs more than about twice the state it returns.
   */
  snapshotFactor?: number
}

/**
 * LangGraph.js's checkpointer interface over an edgegraph {@link StorageAdapter}: a drop-in for `MemorySaver` (or
 * the SQLite and Postgres savers) whose `list`, `getTuple`, `put`, `putWrites` and `deleteThread` behave as
 * `MemorySaver`'s, and which passes `@langchain/langgraph-checkpoint-validation`.
 *
 * Each LangGraph thread lives in the adapter thread `.langgraph/<thread>`. A checkpoint is one record holding the
 * delta between its channel values (as the serde writes them) and its parent's, so appending one message to a long
 * list stores that message; a snapshot is stored when rebuilding would read more than `snapshotFactor` × the state.
 * Records and writes carry edgegraph's checksums and are split into chunks above the adapter's value limit.
 *
 * As the Postgres and Redis savers do, a channel not in a `put`'s `newVersions` keeps the value its parent stored at
 * that version (it is not read from the checkpoint again); LangGraph's own runs write every changed channel there.
 *
 * @example
 * import { EdgegraphSaver } from 'edgegraph/langgraph'
 * import { createMemoryAdapter } from 'edgegraph/adapters/memory'
 * const graph = workflow.compile({ checkpointer: new EdgegraphSaver(createMemoryAdapter()) }) // was: new MemorySaver()
 */
export class EdgegraphSaver extends BaseCheckpointSaver {
  readonly adapter: StorageAdapter
  readonly #storage: ChunkedStorage
  readonly #cache = new DocCache()
  readonly #snapshotFactor: number

  constructor(adapter: StorageAdapter, options: EdgegraphSaverOptions = {}) {
    super(options.serde)
    this.#storage = new ChunkedStorage(adapter)
    this.adapter = adapter
    const factor = options.snapshotFactor ?? 2
    if (typeof factor !== 'number' || !(factor >= 1)) throw new EdgegraphError('INVALID_ARGUMENT', `EdgegraphSaver: snapshotFactor must be a number of at least 1, not ${String(factor)}.`)
    this.#snapshotFactor = factor
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = config.configurable?.thread_id as unknown
    if (threadId === undefined) return undefined
    const ns = namespaceOf(config)
    const thread = threadName(checkThreadId(threadId))
    let id: string | undefined = getCheckpointId(config) || undefined
    if (id === undefined) {
      for await (const [key] of this.#storage.scan(thread, { ...recordRange(ns), reverse: true, limit: 1 })) id = parseKey(threadId as string, key).id
      if (id === undefined) return undefined
    }
    const reader = new NamespaceReader(this.#storage, thread, threadId as string, ns, this.#cache, { id, inclusive: true })
    try {
      const loaded = await reader.load(id)
      if (!loaded) return undefined
      const writes: StoredWrite[] = []
      for await (const [key, raw] of this.#storage.scan(thread, writesRange(ns, id))) writes.push({ ...parseWrite(threadId as string, id, key), text: await this.#storage.text(thread, key, raw) })
      const tupleConfig = getCheckpointId(config) ? config : { configurable: { thread_id: threadId, checkpoint_id: id, checkpoint_ns: ns } }
      return await this.#tuple(threadId as string, ns, id, loaded, writes, tupleConfig)
    } finally {
      await reader.close()
    }
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { before, filter } = options
    let left = options.limit
    const beforeId = before?.configurable?.checkpoint_id as string | undefined
    const onlyId = config.configurable?.checkpoint_id as string | undefined
    const onlyNs = config.configurable?.checkpoint_ns as string | undefined
    const threadIds = config.configurable?.thread_id !== undefined ? [checkThreadId(config.configurable.thread_id)] : await this.#threadIds()
    for (const threadId of threadIds) {
      const thread = threadName(threadId)
      for (const ns of onlyNs !== undefined ? [onlyNs] : await this.#namespaces(thread, threadId)) {
        if (onlyId !== undefined && beforeId !== undefined && onlyId >= beforeId) continue
        const upper = onlyId !== undefined ? { id: onlyId, inclusive: true } : beforeId !== undefined ? { id: beforeId, inclusive: false } : undefined
        const reader = new NamespaceReader(this.#storage, thread, threadId, ns, this.#cache, upper)
        const writes = new WritesReader(this.#storage, thread, threadId, onlyId !== undefined ? writesRange(ns, onlyId) : nsWritesRange(ns, beforeId))
        try {
          for await (const id of onlyId !== undefined ? [onlyId] : reader.ids()) {
            const loaded = await reader.load(id)
            if (!loaded) continue
            const stored = await writes.of(id)
            reader.release(id)
            if (filter && Object.keys(filter).length > 0) {
              const metadata = (await this.#metadata(loaded.doc)) as Record<string, unknown> | undefined
              if (!Object.entries(filter).every(([key, value]) => metadata?.[key] === value)) continue
            }
            if (left !== undefined) {
              if (left <= 0) return
              left -= 1
            }
            yield await this.#tuple(threadId, ns, id, loaded, stored, { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: id } })
          }
        } finally {
          await reader.close()
          await writes.close()
        }
      }
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const threadId = config.configurable?.thread_id as unknown
    if (threadId === undefined) throw missing('put a checkpoint', 'thread_id')
    const thread = threadName(checkThreadId(threadId))
    const ns = namespaceOf(config)
    const parentId = (config.configurable?.checkpoint_id as string | undefined) || undefined
    if (typeof checkpoint?.id !== 'string' || checkpoint.id === '') throw new EdgegraphError('INVALID_ARGUMENT', 'EdgegraphSaver.put: the checkpoint has no id.')
    // Taken before the first await, so the values stored are those of the call.
    const values = checkpoint.channel_values ?? {}
    const versions: Record<string, unknown> = { ...checkpoint.channel_versions }
    const doc: Doc = { v: checkpoint.v, ts: checkpoint.ts, cv: versions, vs: structuredClone(checkpoint.versions_seen ?? {}), ch: {} }
    // Serialized: the channels `newVersions` names, and those never written (a default value, without a version).
    const fresh = Object.keys(values).filter((name) => Object.hasOwn(newVersions, name) || versions[name] === undefined)
    const serialized = Promise.all([serialize(this.serde, metadata), ...fresh.map((name) => serialize(this.serde, values[name]))])

    const parent = parentId !== undefined && parentId !== checkpoint.id ? await this.#load(thread, threadId as string, ns, parentId) : undefined
    const [meta, ...channels] = await serialized
    setSerialized(doc, undefined, meta as Serialized)
    const sizes: Record<string, number> = {}
    const parentSizes = parent && (parent.sizes ??= sizesOf(parent.doc))
    for (const name of Object.keys(values)) {
      const at = fresh.indexOf(name)
      if (at >= 0) {
        const s = channels[at] as Serialized
        setSerialized(doc, name, s)
        sizes[name] = s.size
      } else if (parent && parent.doc.cv[name] === versions[name]) {
        // Not new: the value the parent stored at this version, as a saver that stores only `newVersions` reads it.
        const bin = parent.doc.bin?.[name]
        if (bin) (doc.bin ??= {})[name] = bin
        else if (Object.hasOwn(parent.doc.ch, name)) doc.ch[name] = parent.doc.ch[name]
        else continue
        sizes[name] = parentSizes?.[name] ?? sizeOf(doc, name)
      }
    }
    const size = docSize(doc, sizes)
    const { text, snapshot } = encodeRecord(doc, parentId, parent, size, this.#snapshotFactor)
    const key = recordKey(ns, checkpoint.id)
    let chain = snapshot ? text.length : (parent as Loaded).chain + text.length
    try {
      await this.#storage.call(thread, (a) => a.commit(thread, { put: this.#storage.puts(key, text) }, { key, expect: undefined }))
    } catch (err) {
      if (!isEdgegraphError(err, 'CONFLICT')) throw err
      chain = await this.#replace(thread, threadId as string, ns, checkpoint.id, doc, parentId)
    }
    this.#cache.set(thread, ns, checkpoint.id, { doc, parent: parentId, chain, sizes })
    return { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id } }
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const threadId = config.configurable?.thread_id as unknown
    const id = config.configurable?.checkpoint_id as unknown
    if (threadId === undefined) throw missing('put writes', 'thread_id')
    if (id === undefined) throw missing('put writes', 'checkpoint_id')
    if (typeof id !== 'string' || typeof taskId !== 'string') throw new EdgegraphError('INVALID_ARGUMENT', 'EdgegraphSaver.putWrites: checkpoint_id and the task id must be strings.')
    const thread = threadName(checkThreadId(threadId))
    const ns = namespaceOf(config)
    const serialized = Promise.all(writes.map(([, value]) => serialize(this.serde, value)))
    // As MemorySaver: a write already stored for this task and index is kept, except the special (negative) ones.
    const existing = new Map<string, Uint8Array>()
    for await (const [key, raw] of this.#storage.scan(thread, writesRange(ns, id, taskId))) existing.set(key, raw)
    const values = await serialized
    const puts = new Map<string, [string, Uint8Array][]>()
    writes.forEach(([channel], i) => {
      const idx = WRITES_IDX_MAP[channel] || i
      const key = writeKey(ns, id, taskId, idx)
      if (idx >= 0 && existing.has(key)) return
      puts.set(key, this.#storage.puts(key, writeText(channel, taskPath ?? '', values[i] as Serialized)))
    })
    if (puts.size === 0) return
    const put = [...puts.values()].flat()
    const putKeys = new Set(put.map(([k]) => k))
    // A replaced write that had been split into more chunks leaves none behind.
    const del = [...puts.keys()].flatMap((key) => (existing.has(key) ? storedKeys(key, existing.get(key) as Uint8Array) : [])).filter((k) => !putKeys.has(k))
    await this.#storage.call(thread, (a) => a.commit(thread, del.length > 0 ? { put, del } : { put }))
  }

  async deleteThread(threadId: string): Promise<void> {
    const thread = threadName(checkThreadId(threadId))
    await this.#storage.call(thread, (a) => a.deleteThread(thread))
    this.#cache.drop(thread)
  }

  async #load(thread: string, threadId: string, ns: string, id: string): Promise<Loaded | undefined> {
    const reader = new NamespaceReader(this.#storage, thread, threadId, ns, this.#cache, { id, inclusive: true })
    try {
      return await reader.load(id)
    } finally {
      await reader.close()
    }
  }

  /**
   * Stores checkpoint `id` again (LangGraph never does; MemorySaver allows it): the checkpoints stored as deltas
   * against the old doc become snapshots first, and the new record is a snapshot, in one commit guarded by the
   * record it replaces.
   */
  async #replace(thread: string, threadId: string, ns: string, id: string, doc: Doc, parentId: string | undefined): Promise<number> {
    const key = recordKey(ns, id)
    const [old] = await this.#storage.call(thread, (a) => a.get(thread, [key]))
    const put: [string, Uint8Array][] = []
    const del: string[] = old ? storedKeys(key, old) : []
    const reader = new NamespaceReader(this.#storage, thread, threadId, ns, this.#cache)
    try {
      for await (const [childKey, raw] of this.#storage.scan(thread, recordRange(ns))) {
        const childId = parseKey(threadId, childKey).id
        let head: ReturnType<typeof recordHead>
        try {
          head = recordHead(await this.#storage.text(thread, childKey, raw))
        } catch (err) {
          throw isEdgegraphError(err) ? err : corruptRecord(threadId, childId, (err as Error).message, err)
        }
        if (head.parent !== id || head.snapshot) continue
        const child = (await reader.load(childId)) as Loaded
        del.push(...storedKeys(childKey, raw))
        put.push(...this.#storage.puts(childKey, snapshotText(child.doc, child.parent)))
      }
    } finally {
      await reader.close()
    }
    const text = snapshotText(doc, parentId)
    put.push(...this.#storage.puts(key, text))
    const putKeys = new Set(put.map(([k]) => k))
    await this.#storage.call(thread, (a) => a.commit(thread, { put, del: del.filter((k) => !putKeys.has(k)) }, { key, expect: old }))
    this.#cache.drop(thread, ns)
    return text.length
  }

  async #tuple(threadId: string, ns: string, id: string, loaded: Loaded, stored: StoredWrite[], config: RunnableConfig): Promise<CheckpointTuple> {
    const { doc, parent } = loaded
    const channelValues: Record<string, unknown> = {}
    for (const name of Object.keys(doc.ch)) channelValues[name] = await deserialize(this.serde, doc.ch[name])
    for (const name of Object.keys(doc.bin ?? {})) channelValues[name] = await deserialize(this.serde, undefined, doc.bin?.[name])
    const checkpoint: Checkpoint = {
      v: doc.v,
      id,
      ts: doc.ts,
      channel_values: channelValues,
      channel_versions: structuredClone(doc.cv) as ChannelVersions,
      versions_seen: structuredClone(doc.vs) as Checkpoint['versions_seen'],
    }
    const thread = threadName(threadId)
    if (doc.v < 4 && parent !== undefined) await this.#migratePendingSends(thread, threadId, ns, parent, checkpoint)
    const tuple: CheckpointTuple = {
      config,
      checkpoint,
      metadata: (await this.#metadata(doc)) as CheckpointMetadata,
      pendingWrites: await this.#pendingWrites(threadId, id, stored),
    }
    if (parent !== undefined) tuple.parentConfig = { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: parent } }
    return tuple
  }

  /** Checkpoints before format 4 kept pending sends as writes of their parent: moved into `channel_values`, as MemorySaver does. */
  async #migratePendingSends(thread: string, threadId: string, ns: string, parentId: string, checkpoint: Checkpoint): Promise<void> {
    const stored: StoredWrite[] = []
    for await (const [key, raw] of this.#storage.scan(thread, writesRange(ns, parentId))) stored.push({ ...parseWrite(threadId, parentId, key), text: await this.#storage.text(thread, key, raw) })
    const sends = (await this.#pendingWrites(threadId, parentId, stored)).filter(([, channel]) => channel === TASKS).map(([, , value]) => value)
    checkpoint.channel_values[TASKS] = sends
    const versions = Object.values(checkpoint.channel_versions)
    checkpoint.channel_versions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined)
  }

  /** Pending writes in `writesSortKey` order, the order LangGraph applies them in. */
  async #pendingWrites(threadId: string, id: string, stored: StoredWrite[]): Promise<CheckpointPendingWrite[]> {
    const read = stored.map((w) => {
      try {
        return { ...w, ...readWrite(w.text) }
      } catch (err) {
        throw corruptRecord(threadId, id, `pending write ${w.idx} of task "${w.task}": ${(err as Error).message}`, err)
      }
    })
    read.sort((a, b) => compareWritesSortKeys(writesSortKey(a.taskPath, a.task, a.idx), writesSortKey(b.taskPath, b.task, b.idx)))
    const out: CheckpointPendingWrite[] = []
    for (const w of read) out.push([w.task, w.channel, await deserialize(this.serde, w.json, w.bin)])
    return out
  }

  #metadata(doc: Doc): Promise<unknown> {
    return deserialize(this.serde, doc.m, doc.mb)
  }

  async #threadIds(): Promise<string[]> {
    const ids: string[] = []
    for await (const { thread } of this.#storage.adapter.threads({ prefix: THREAD_PREFIX })) {
      const id = threadIdOf(thread)
      if (id !== undefined) ids.push(id)
    }
    return ids
  }

  /** The namespaces a thread holds checkpoints in, in key order (the root namespace first), one short scan each. */
  async #namespaces(thread: string, threadId: string): Promise<string[]> {
    const out: string[] = []
    let range: { from: string; to: string } = ALL_RECORDS
    for (;;) {
      let ns: string | undefined
      for await (const [key] of this.#storage.scan(thread, { ...range, limit: 1 })) ns = parseKey(threadId, key).ns
      if (ns === undefined) return out
      out.push(ns)
      range = recordsAfter(ns)
    }
  }
}

function sizesOf(doc: Doc): Record<string, number> {
  const sizes: Record<string, number> = {}
  for (const name of [...Object.keys(doc.ch), ...Object.keys(doc.bin ?? {})]) sizes[name] = sizeOf(doc, name)
  return sizes
}

function namespaceOf(config: RunnableConfig): string {
  const ns = (config.configurable?.checkpoint_ns as unknown) ?? ''
  if (typeof ns !== 'string') throw new EdgegraphError('INVALID_ARGUMENT', `EdgegraphSaver: checkpoint_ns must be a string, not ${typeof ns}.`)
  return ns
}

function checkThreadId(threadId: unknown): string {
  if (typeof threadId !== 'string' || threadId === '') {
    throw new EdgegraphError('INVALID_ARGUMENT', `EdgegraphSaver: thread_id must be a non-empty string, not ${JSON.stringify(threadId) ?? String(threadId)}.`)
  }
  return threadId
}

function missing(what: string, field: string): EdgegraphError {
  return new EdgegraphError(
    'INVALID_ARGUMENT',
    `EdgegraphSaver: cannot ${what}: the config has no "${field}" in its "configurable" (e.g. graph.invoke(input, { configurable: { thread_id: "my-thread" } })).`,
  )
}

function parseKey(threadId: string, key: string): { ns: string; id: string } {
  try {
    return parseRecordKey(key)
  } catch (err) {
    throw corruptRecord(threadId, key, (err as Error).message, err)
  }
}

function parseWrite(threadId: string, id: string, key: string): { task: string; idx: number } {
  try {
    const { task, idx } = parseWriteKey(key)
    return { task, idx }
  } catch (err) {
    throw corruptRecord(threadId, id, (err as Error).message, err)
  }
}
