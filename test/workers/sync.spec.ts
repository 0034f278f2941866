/**
 * @module edgegraph/sync against the real Worker in workerd: a device (a memory store here; Chromium's IndexedDB in
 * the e2e test) pushes a thread to the thread's Durable Object and pulls what runs in the Worker wrote, with the
 * Worker's tokens deciding who may pull (read) and push (run), and bad pushes refused whole.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { Command } from '../../src/index.js'
import { createSync, workerRemote } from '../../src/sync/index.js'
import { createMemoryAdapter } from '../../adapters/memory.js'
import { chatGraph } from '../../worker/graphs.js'
import { call, newThread, threadPath, token } from './api.js'

const remote = (auth: string | Promise<string>, graph = 'chat') =>
  workerRemote({ url: 'https://edgegraph.test', token: async () => auth, fetch: (input, init) => SELF.fetch(input as string, init), graph })

async function device(auth: string | Promise<string> = token()) {
  const local = createMemoryAdapter()
  return { local, graph: chatGraph(local), sync: createSync({ local, remote: remote(await auth) }) }
}

const say = (content: string) => ({ messages: [{ role: 'user' as const, content }] })

describe('sync with the Worker', () => {
  it('pushes a thread a device ran offline; the run API shows and continues it; the device pulls the Worker\'s steps', async () => {
    const thread = newThread('sync')
    const d = await device()
    await d.graph.invoke(say('hi'), { threadId: thread })
    await d.graph.invoke(new Command({ resume: { approve: true } }), { threadId: thread })
    const local = await d.graph.getState({ threadId: thread })
    const r = await d.sync.syncThread(thread)
    expect(r.error).toBeUndefined()
    expect(r.pushed).toBe(3) // input, write; review waits, then its answer
    const state = await call('GET', threadPath(thread, '/state'))
    expect(state.status).toBe(200)
    expect(state.json.checkpointId).toBe(local.config.checkpointId)
    expect(state.json.values).toEqual(local.values)

    // A run in the Worker, then the device pulls it.
    const run = await call('POST', threadPath(thread, '/runs'), { body: { input: say('from the worker') } })
    expect(run.status).toBe(200)
    expect(await d.sync.syncThread(thread)).toMatchObject({ pushed: 0, pulled: 2, head: run.json.checkpointId })
    const pulled = await d.graph.getState({ threadId: thread })
    expect(pulled.values).toEqual(run.json.values)
    expect(pulled.interrupts.map((i) => i.value)).toEqual([{ question: 'Send this reply?', draft: 'You said: from the worker' }])
    // The device answers the Worker's question; the Worker sees the answer.
    await d.graph.invoke(new Command({ resume: { approve: true } }), { threadId: thread })
    expect((await d.sync.syncThread(thread)).pushed).toBe(1)
    expect((await call('GET', threadPath(thread, '/state'))).json.values.messages.at(-1)).toEqual({ role: 'assistant', content: 'You said: from the worker' })
  })

  it('keeps both lines when the device and the Worker advanced from one checkpoint', async () => {
    const thread = newThread('sync')
    const d = await device()
    await d.graph.invoke(say('one'), { threadId: thread })
    await d.sync.syncThread(thread)
    await d.graph.invoke(new Command({ resume: { approve: true } }), { threadId: thread })
    const workerSide = await call('POST', threadPath(thread, '/resume'), { body: { value: { approve: false } } })
    expect(workerSide.status).toBe(200)
    const deviceHead = (await d.graph.getState({ threadId: thread })).config.checkpointId
    const r = await d.sync.syncThread(thread)
    expect(r.conflict).toMatchObject({ local: deviceHead, remote: workerSide.json.checkpointId, head: workerSide.json.checkpointId })
    const history = await call('GET', threadPath(thread, '/history?limit=100'))
    const ids = history.json.checkpoints.map((c: { checkpointId: string }) => c.checkpointId)
    expect(ids).toContain(deviceHead)
    expect(ids).toContain(workerSide.json.checkpointId)
    expect((await d.graph.getState({ threadId: thread, checkpointId: deviceHead as string })).values.messages).toHaveLength(2)
  })

  it('authorizes with the Worker\'s tokens: read pulls, run pushes, within the tenant and prefix', async () => {
    const thread = newThread('sync')
    const owner = await device()
    await owner.graph.invoke(say('secret'), { threadId: thread })
    await owner.sync.syncThread(thread)

    const reader = await device(token({ rights: ['read'] }))
    expect((await reader.sync.syncThread(thread)).pulled).toBe(2)
    await reader.graph.invoke(new Command({ resume: { approve: true } }), { threadId: thread })
    const refused = await reader.sync.syncThread(thread)
    expect(refused.error?.message).toMatch(/403|right/)
    expect(reader.sync.status).toMatchObject({ state: 'error' })

    for (const claims of [{ tenant: 'other' }, { prefix: 'elsewhere/' }]) {
      const stranger = await device(token(claims))
      const r = await stranger.sync.syncThread(thread)
      if (claims.tenant) expect(r).toMatchObject({ pulled: 0 }) // another tenant's thread of that name is empty
      else expect(r.error?.code).toBe('STORAGE_UNAVAILABLE')
    }
    const expired = await device(token({}, -300))
    expect((await expired.sync.syncThread(thread)).error?.code).toBe('STORAGE_UNAVAILABLE')
  })

  it('refuses malformed pushes whole (400) and keeps what was stored', async () => {
    const thread = newThread('sync')
    const d = await device()
    await d.graph.invoke(say('keep'), { threadId: thread })
    await d.sync.syncThread(thread)
    const before = await call('GET', threadPath(thread, '/history?limit=100'))
    const head = before.json.checkpoints[0].checkpointId
    const bodies: unknown[] = [
      { checkpoints: 'nope' },
      { checkpoints: [['zzzzzzzzzzzzzzzz', { s: 1, n: [], c: {} }]] },
      { checkpoints: [['zzzzzzzzzzzzzzzz', { s: 9, n: [], p: '0000000000000000', c: {} }, []]] },
      { checkpoints: [['zzzzzzzzzzzzzzzz', { s: 9, n: [], p: head, c: { messages: { zz: 1 } } }, []]] },
      { checkpoints: [['zzzzzzzzzzzzzzzz', null, [['1', {}]]]] },
      { checkpoints: [['zzzzzzzzzzzzzzzz', { s: 9, n: [], p: head, c: {}, __proto__x: 1 }, []]], extra: true },
    ]
    for (const body of bodies) {
      const res = await call('POST', threadPath(thread, '/sync/push'), { body })
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.json.error.code).toMatch(/INVALID_ARGUMENT|CORRUPT_RECORD/)
    }
    expect((await call('GET', threadPath(thread, '/history?limit=100'))).json).toEqual(before.json)
    const head2 = await call('POST', threadPath(thread, '/sync/head'), { body: { id: 'zzzzzzzzzzzzzzzz', expect: head } })
    expect(head2.status).toBe(404)
  })
})
