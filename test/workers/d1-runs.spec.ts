/**
 * @module The thread object with `store: 'd1'` (worker/thread/): the object runs the graph and is the thread's single
 * writer, the history lives in D1 where the storage API (and so remote-adapter clients) can read it. Driven through
 * the object's RPC methods, as the Worker calls them after auth and validation.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createD1Adapter } from '../../adapters/d1.js'
import { StateGraph } from '../../src/index.js'
import { threadStub } from '../../worker/thread/object.js'
import { newThread, SECRET, waitFor } from './api.js'
import { storageApi } from '../../worker/storage-api.js'
import { mintToken, type Right } from '../../worker/auth.js'

const objectOf = (thread: string) => env.THREADS_D1.get(env.THREADS_D1.idFromName(thread))

/** Calls the object's RPC method `name` as the Worker does, and answers as the Worker would (status and JSON). */
async function op(thread: string, name: 'run' | 'state' | 'history', args: Record<string, unknown> = {}): Promise<{ status: number; json: any }> {
  const stub = threadStub(env.THREADS_D1, thread)
  const outcome = name === 'run' ? await stub.run({ ...args, thread }) : name === 'state' ? await stub.state(thread) : await stub.history(thread, { limit: 100, ...args })
  return outcome.ok ? { status: 200, json: 'state' in outcome.value ? outcome.value.state : outcome.value } : { status: outcome.error.status, json: { error: outcome.error } }
}

describe('thread objects on D1, next to the storage API', () => {
  it('the storage API reads a thread the run API owns, but writes to it only with an admin token', async () => {
    const name = newThread('owned')
    const thread = `acme/${name}`
    expect((await op(thread, 'run', { graph: 'counter', input: { target: 2 } })).status).toBe(200)
    const api = storageApi(() => createD1Adapter(env.DB, { table: 'runs_d1' }), { auth: { secret: SECRET } })
    const call = async (path: string, body: unknown, rights: Right[]) =>
      api.fetch(new Request(`https://x/v1/storage/threads/${encodeURIComponent(name)}${path}`, {
        method: path === '' ? 'DELETE' : 'POST',
        headers: { authorization: `Bearer ${await mintToken(SECRET, { tenant: 'acme', rights })}`, 'content-type': 'application/json' },
        ...(path === '' ? {} : { body: JSON.stringify(body) }),
      }))
    expect((await call('/get', { keys: ['h'] }, ['read'])).status).toBe(200)
    const forged = await call('/commit', { put: [['h', btoa('zzzzzzzzzzzzzzzz')]] }, ['write'])
    expect(forged.status).toBe(403)
    expect(((await forged.json()) as { error: { message: string } }).error.message).toMatch(/run by the run API/)
    expect((await call('', undefined, ['write'])).status).toBe(403)
    expect((await op(thread, 'state')).json.values.count).toBe(2) // untouched
    // A thread the run API does not own stays writable with the write right.
    const free = await api.fetch(new Request(`https://x/v1/storage/threads/${newThread('free')}/commit`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await mintToken(SECRET, { tenant: 'acme', rights: ['write'] })}`, 'content-type': 'application/json' },
      body: JSON.stringify({ put: [['k', btoa('v')]] }),
    }))
    expect(free.status).toBe(200)
    expect((await call('/commit', { put: [['x', btoa('admin')]] }, ['admin'])).status).toBe(200)
  })
})

describe('thread objects on D1', () => {
  it('runs a graph with its history in D1, readable by any D1 adapter on the same tables', async () => {
    const thread = newThread('d1')
    const res = await op(thread, 'run', { graph: 'counter', input: { target: 4 } })
    expect(res.status).toBe(200)
    expect(res.json.values.count).toBe(4)
    const rows = await env.DB.prepare('SELECT count(*) AS n FROM runs_d1_kv WHERE thread = ?').bind(thread).first<{ n: number }>()
    expect(rows?.n).toBeGreaterThan(4)
    // Another reader of the same D1 tables (a storage API client, another Worker) sees the same thread.
    const reader = new StateGraph({ count: { default: () => 0 }, target: { default: () => 5 }, delayMs: { default: () => 0 } })
      .addNode('increment', (s) => ({ count: s.count + 1 }))
      .addEdge('__start__', 'increment')
      .compile({ checkpointer: createD1Adapter(env.DB, { table: 'runs_d1' }) })
    expect((await reader.getState({ threadId: thread })).values.count).toBe(4)
  })

  it('continues a run cut short by a reset object from the D1 history (alarm)', async () => {
    const thread = newThread('d1-evict')
    const pending = op(thread, 'run', { graph: 'freezeOnce', input: { target: 6, freezeAt: 2, key: thread } }).catch((err: unknown) => err)
    await waitFor(() => op(thread, 'state'), (s) => s.status === 200 && s.json.values.count === 2)
    await runInDurableObject(objectOf(thread), (_instance, state) => state.abort('test: evicted')).catch(() => undefined)
    await pending
    // The new incarnation re-drives the run through its alarm (brought forward on first touch; run now to be sure).
    await runDurableObjectAlarm(objectOf(thread))
    const state = await waitFor(() => op(thread, 'state'), (s) => s.json.values?.count === 6)
    expect(state.json.values.count).toBe(6)
    const history = await op(thread, 'history', { limit: 100 })
    expect(history.json.checkpoints.map((c: any) => c.metadata.step)).toEqual([6, 5, 4, 3, 2, 1, 0])
  })
})
