/**
 * The demo's agent (demo/app/agent.ts) in Node: the scripted model's plan, fan-out and approval, and the
 * OpenAI-compatible client against a local server speaking the streamed `/chat/completions` protocol (tool-call
 * deltas, content tokens, usage in the last chunk), since no real endpoint is reachable from the tests.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Command } from '../src/index.js'
import { createMemoryAdapter } from '../adapters/memory.js'
import { createAgent, openAICompatibleModel, scriptedModel } from '../demo/app/agent.js'
import { rejectsWith } from './helpers.js'

describe('the demo agent on the scripted model', () => {
  it('plans tool calls, runs them side by side, drafts, waits for approval, then answers; usage on the model steps', async () => {
    const g = createAgent(createMemoryAdapter(), () => scriptedModel({ tokenDelayMs: 0 }))
    const tokens: string[] = []
    for await (const [mode, chunk] of g.stream({ messages: [{ role: 'user', content: 'weather in Paris and 12*(3+4)' }] }, { threadId: 't', streamMode: ['messages'] }) as AsyncIterable<[string, [{ content: string }]]>) {
      if (mode === 'messages') tokens.push(chunk[0].content)
    }
    const waiting = await g.getState({ threadId: 't' })
    expect(waiting.next).toEqual(['review'])
    const draft = (waiting.interrupts[0]?.value as { draft: string }).draft
    expect(draft).toMatch(/^Here is what I found\. Paris: .+ 12\*\(3\+4\) = 84$/)
    expect(tokens.join('')).toContain(draft)
    const done = await g.invoke(new Command({ resume: { approve: true, edit: 'Edited.' } }), { threadId: 't' })
    expect(done.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant'])
    expect(done.messages.at(-1)?.content).toBe('Edited.')
    const steps: [number, string[], boolean][] = []
    for await (const s of g.getStateHistory({ threadId: 't' })) steps.push([s.metadata.step, Object.keys(s.metadata.writes ?? {}), s.metadata.usage !== undefined])
    expect(steps.reverse()).toEqual([
      [0, ['__start__'], false],
      [1, ['plan'], true],
      [2, ['tool'], false], // both calls in one step
      [3, ['write'], true],
      [4, ['review'], false],
    ])
  })
})

describe('the OpenAI-compatible model client', () => {
  let server: Server
  let url: string
  const requests: Record<string, unknown>[] = []
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.on('data', (d) => (body += d))
      req.on('end', () => {
        if (req.headers.authorization !== 'Bearer sk-test') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key"}}')
        const parsed = JSON.parse(body) as Record<string, unknown>
        requests.push(parsed)
        const events: unknown[] = parsed.tools
          ? [
              { choices: [{ delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'call_1', function: { name: 'weather', arguments: '' } }] } }] },
              { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"query":' } }] } }] },
              { choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '"Oslo"}' } }] } }] },
              { choices: [], usage: { prompt_tokens: 20, completion_tokens: 8 } },
            ]
          : [{ choices: [{ delta: { content: 'It is ' } }] }, { choices: [{ delta: { content: 'sunny.' } }] }, { choices: [], usage: { prompt_tokens: 40, completion_tokens: 3 } }]
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.end(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('') + 'data: [DONE]\n\n')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('streams tokens, assembles tool calls from deltas, sends tool results back, and prices the usage', async () => {
    const model = openAICompatibleModel({ url, apiKey: 'sk-test', model: 'test-model', pricePerMTokens: { input: 1, output: 2 } })
    const g = createAgent(createMemoryAdapter(), () => model)
    const tokens: string[] = []
    for await (const [, chunk] of g.stream({ messages: [{ role: 'user', content: 'weather?' }] }, { threadId: 't', streamMode: ['messages'] }) as AsyncIterable<[string, [{ content: string }]]>) tokens.push(chunk[0].content)
    expect(tokens).toEqual(['It is ', 'sunny.'])
    const state = await g.getState({ threadId: 't' })
    expect((state.interrupts[0]?.value as { draft: string }).draft).toBe('It is sunny.')
    const messages = state.values.messages
    expect(messages[1]).toMatchObject({ role: 'assistant', tool_calls: [{ id: 'call_1', name: 'weather', args: { query: 'Oslo' } }] })
    expect(messages[2]).toMatchObject({ role: 'tool', tool_call_id: 'call_1', content: expect.stringMatching(/^Oslo: /) })
    // The second request carried the assistant's tool call and the tool's answer in the protocol's shape.
    expect(requests[1]?.messages).toEqual([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"query":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: messages[2]?.content },
    ])
    expect(state.metadata.usageTotal).toEqual({ inputTokens: 60, outputTokens: 11, costUsd: (60 * 1 + 11 * 2) / 1e6 })
  })

  it('a refused key fails the step with the endpoint\'s answer, and the thread resumes once fixed', async () => {
    let key = 'wrong'
    const g = createAgent(createMemoryAdapter(), () => openAICompatibleModel({ url, apiKey: key, model: 'test-model' }))
    const err = await rejectsWith(g.invoke({ messages: [{ role: 'user', content: 'weather?' }] }, { threadId: 'k' }), 'NODE_FAILED')
    expect(err.message).toMatch(/answered 401: .*bad key/)
    key = 'sk-test'
    await g.invoke(null, { threadId: 'k' })
    expect((await g.getState({ threadId: 'k' })).next).toEqual(['review'])
  })
})
