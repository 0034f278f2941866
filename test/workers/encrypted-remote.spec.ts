/**
 * @module Encryption in the client: a graph running outside the Worker (as in a browser) stores its history through the
 * remote adapter wrapped by withEncryption; the Worker's storage (D1, read here directly with SQL) holds ciphertext
 * only, and another client with the same master key reads the thread back.
 */
import { env, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createRemoteAdapter } from '../../adapters/remote.js'
import { END, START, StateGraph, type StorageAdapter } from '../../src/index.js'
import { withEncryption } from '../../src/encryption.js'
import { token } from './api.js'

const SECRET = 'my card number is 4111-1111-1111-1111'
const keys = { k1: crypto.getRandomValues(new Uint8Array(32)) }

function chat(adapter: StorageAdapter) {
  return new StateGraph({ messages: { default: (): string[] => [], reducer: (a: string[], b: string[]) => [...a, ...b] } })
    .addNode('answer', (s) => ({ messages: [`assistant: noted "${(s.messages.at(-1) as string).slice(6)}"`] }))
    .addEdge(START, 'answer')
    .addEdge('answer', END)
    .compile({ checkpointer: adapter })
}

async function client(): Promise<StorageAdapter> {
  const remote = createRemoteAdapter({ url: 'https://edgegraph.test', token: await token({ tenant: 'enc' }), fetch: (input, init) => SELF.fetch(input, init) })
  return withEncryption(remote, { keys, current: 'k1' })
}

describe('withEncryption over the remote adapter', () => {
  it('the Worker stores ciphertext only: no message text in any D1 row; another client reads the thread back', async () => {
    const thread = `secret-${Date.now().toString(36)}`
    const graph = chat(await client())
    await graph.invoke({ messages: [`user: ${SECRET}`] }, { threadId: thread })
    await graph.invoke({ messages: ['user: my name is Ada Lovelace'] }, { threadId: thread })

    const rows = (await env.DB.prepare('SELECT thread, key, value FROM edgegraph_kv WHERE thread = ?').bind(`enc/${thread}`).all<{ thread: string; key: string; value: ArrayBuffer }>()).results
    expect(rows.length).toBeGreaterThan(3)
    const stored = rows.map((r) => `${r.key} ${new TextDecoder('latin1').decode(new Uint8Array(r.value))}`).join('\n')
    for (const plain of ['4111', 'Ada', 'assistant', 'messages']) expect(stored).not.toContain(plain)
    // Every value but the wrapped key ring is sealed (0x01, key id, IV, ciphertext and tag).
    for (const r of rows) if (r.key !== '~edgegraph/keys') expect({ key: r.key, first: new Uint8Array(r.value)[0] }).toEqual({ key: r.key, first: 1 })

    const other = chat(await client())
    expect((await other.getState({ threadId: thread })).values.messages).toEqual([`user: ${SECRET}`, `assistant: noted "${SECRET}"`, 'user: my name is Ada Lovelace', 'assistant: noted "my name is Ada Lovelace"'])
  })
})
