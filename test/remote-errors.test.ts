/** @module The remote adapter keeps the code of every error a server answers with, from the one list of codes. */
import { describe, expect, it } from 'vitest'
import { createRemoteAdapter } from '../adapters/remote.js'
import { ERROR_CODES } from '../src/index.js'
import { rejectsWith } from './helpers.js'

const url = 'https://agents.example.test'

/** A remote adapter whose server answers every request with `status` and `{ error: { code, message } }`. */
function answering(status: number, code: string, message = `the server says ${code}`) {
  const seen: string[] = []
  const adapter = createRemoteAdapter({
    url,
    fetch: async (input) => {
      seen.push(String(input))
      return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { 'content-type': 'application/json' } })
    },
  })
  return { adapter, seen }
}

describe('remote adapter: error codes sent by a server', () => {
  it.each(ERROR_CODES.map((code) => [code]))('%s comes back as the same code, naming the adapter, thread and server message', async (code) => {
    const { adapter, seen } = answering(code === 'CONFLICT' ? 409 : 400, code)
    const err = await rejectsWith(adapter.commit('t-1', { put: [['h', new Uint8Array([1])]] }), code)
    expect(seen).toEqual([`${url}/v1/storage/threads/t-1/commit`])
    expect(err.context).toEqual({ adapter: 'remote', threadId: 't-1' })
    expect(err.message).toContain(`remote adapter (${url}), thread "t-1": `)
    expect(err.message).toContain(`the server says ${code}`)
  })

  it('a code outside the list is STORAGE_FAILED, and the auth codes are STORAGE_UNAVAILABLE', async () => {
    await rejectsWith(answering(500, 'SOMETHING_NEW').adapter.get('t', ['h']), 'STORAGE_FAILED')
    await rejectsWith(answering(500, 'toString').adapter.get('t', ['h']), 'STORAGE_FAILED')
    for (const [status, code] of [[401, 'UNAUTHORIZED'], [403, 'FORBIDDEN'], [429, 'RATE_LIMITED']] as const) {
      const err = await rejectsWith(answering(status, code).adapter.get('t', ['h']), 'STORAGE_UNAVAILABLE')
      expect(err.message).toContain(`${status} ${code}`)
    }
  })
})

describe('remote adapter: a server that never finishes a scan', () => {
  /** A server whose scan answers the given pages in turn (the last one forever), counting requests. */
  function scanning(pages: { entries: [string, string][]; done: boolean }[]) {
    let calls = 0
    const adapter = createRemoteAdapter({
      url,
      fetch: async () => {
        const page = pages[Math.min(calls++, pages.length - 1)]
        return new Response(JSON.stringify(page), { status: 200, headers: { 'content-type': 'application/json' } })
      },
    })
    return { adapter, calls: () => calls }
  }
  const drain = async (adapter: ReturnType<typeof createRemoteAdapter>) => {
    for await (const _ of adapter.scan('t', {})) void _
  }

  it('fails with STORAGE_FAILED on an empty "not done" page instead of asking forever', async () => {
    const server = scanning([{ entries: [['a', 'AQ==']], done: false }, { entries: [], done: false }])
    const err = await rejectsWith(drain(server.adapter), 'STORAGE_FAILED')
    expect(err.message).toMatch(/empty scan page that is not done/)
    expect(server.calls()).toBe(2)
  })

  it('fails on keys that do not move forward (a server repeating its page)', async () => {
    const server = scanning([{ entries: [['a', 'AQ==']], done: false }])
    const err = await rejectsWith(drain(server.adapter), 'STORAGE_FAILED')
    expect(err.message).toMatch(/out of order/)
    expect(server.calls()).toBe(2)
  })
})
