/**
 * @module The demo's agent: plan → tool calls fanned out with `Send` → write a draft answer → a human approves it
 * (`interrupt()`) → the answer lands. Usage and cost are reported per step. Runs the same in the tab (on IndexedDB)
 * and in the Worker (registered as graph `agent`), on a deterministic scripted model by default, or on an
 * OpenAI-compatible endpoint.
 */
import { END, MessagesValue, START, Send, StateGraph, type Message } from '../../src/index.js'
import type { StorageAdapter } from '../../src/checkpoint/adapter.js'

export interface ToolCall {
  id: string
  name: 'weather' | 'calculator' | 'search'
  args: { query: string }
}

/** What a model answers: text (streamed through `onToken`), tool calls, and what it cost. */
export interface ModelReply {
  content: string
  toolCalls: ToolCall[]
  usage: { inputTokens: number; outputTokens: number; costUsd: number }
}

export interface Model {
  readonly name: string
  /** `tools`: whether it may call tools (the plan step) or must answer (the draft step). */
  complete(messages: Message[], options: { tools: boolean; signal: AbortSignal; onToken: (token: string) => void }): Promise<ModelReply>
}

const TOOLS = {
  weather: (q: string) => {
    // Deterministic "weather": the same city always gets the same forecast.
    let h = 0
    for (const ch of q.toLowerCase()) h = (h * 31 + ch.charCodeAt(0)) >>> 0
    const kinds = ['sunny', 'cloudy', 'light rain', 'windy', 'snow showers']
    return `${q}: ${kinds[h % kinds.length]}, ${(h % 30) - 5} °C`
  },
  calculator: (q: string) => {
    const expr = q.replace(/\s+/g, '')
    if (!/^[-+*/().\d]+$/.test(expr)) return `cannot compute "${q}"`
    return `${q} = ${evaluate(expr)}`
  },
  search: (q: string) => `Top result for "${q}": edgegraph runs LangGraph-style agents in the browser and at the edge, with every step checkpointed.`,
} satisfies Record<ToolCall['name'], (q: string) => string>

/** A tiny arithmetic evaluator (+ - * / and parentheses): no `eval` in a demo that takes typed input. */
function evaluate(expr: string): string {
  let i = 0
  const peek = () => expr[i]
  const number = (): number => {
    if (peek() === '(') {
      i++
      const v = sum()
      i++
      return v
    }
    if (peek() === '-') {
      i++
      return -number()
    }
    const m = /^\d+(\.\d+)?/.exec(expr.slice(i))
    if (!m) throw new Error('bad number')
    i += m[0].length
    return Number(m[0])
  }
  const product = (): number => {
    let v = number()
    while (peek() === '*' || peek() === '/') v = expr[i++] === '*' ? v * number() : v / number()
    return v
  }
  const sum = (): number => {
    let v = product()
    while (peek() === '+' || peek() === '-') v = expr[i++] === '+' ? v + product() : v - product()
    return v
  }
  try {
    const v = sum()
    return i === expr.length && Number.isFinite(v) ? String(Math.round(v * 1e6) / 1e6) : 'not a number'
  } catch {
    return 'not a number'
  }
}

const text = (m: Message | undefined) => (typeof m?.content === 'string' ? m.content : JSON.stringify(m?.content ?? ''))
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve()
    const t = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true })
  })

/**
 * A deterministic model: plans tool calls from keywords ("weather in Paris", "12*7", "search ..."), drafts an answer
 * from the tool results, and streams it word by word (`tokenDelayMs` apart, so a reload can land mid-answer).
 * Priced like a small hosted model, so cost per step shows something.
 */
export function scriptedModel(options: { tokenDelayMs?: number } = {}): Model {
  const delay = options.tokenDelayMs ?? 40
  return {
    name: 'scripted',
    async complete(messages, { tools, signal, onToken }) {
      const prompt = messages.map(text).join('\n')
      const lastUser = [...messages].reverse().find((m) => m.role === 'user')
      const ask = text(lastUser)
      let content = ''
      const toolCalls: ToolCall[] = []
      if (tools) {
        let n = 0
        const id = () => `call_${Date.now().toString(36)}_${n++}`
        for (const m of ask.matchAll(/weather (?:in|for) ([A-Za-zÀ-ÿ .'-]+?)(?=[,.?!]| and |$)/gi)) toolCalls.push({ id: id(), name: 'weather', args: { query: (m[1] as string).trim() } })
        for (const m of ask.matchAll(/[-(]?\d[\d\s.]*(?:[-+*/][\s(]*\d[\d\s.)]*)+/g)) toolCalls.push({ id: id(), name: 'calculator', args: { query: m[0].trim() } })
        for (const m of ask.matchAll(/(?:search(?: for)?|look up) ([^,.?!]+)/gi)) toolCalls.push({ id: id(), name: 'search', args: { query: (m[1] as string).trim() } })
        content = toolCalls.length > 0 ? `I'll use ${toolCalls.map((c) => c.name).join(', ')}.` : ''
      } else {
        const results = messages.filter((m) => m.role === 'tool').slice(-8).map(text)
        content = results.length > 0 ? `Here is what I found. ${results.join(' ')}` : `You said: "${ask}". Ask me about the weather in a city, a sum like 12*7, or to search something.`
      }
      const words = content.split(/(?<= )/)
      for (const w of words) {
        await sleep(delay, signal)
        onToken(w)
      }
      const inputTokens = Math.ceil(prompt.length / 4)
      const outputTokens = words.length + toolCalls.length * 12
      return { content, toolCalls, usage: { inputTokens, outputTokens, costUsd: (inputTokens * 0.15 + outputTokens * 0.6) / 1e6 } }
    },
  }
}

/**
 * A model behind an OpenAI-compatible `/chat/completions` endpoint (streamed). `pricePerMTokens` turns its reported
 * usage into cost.
 */
export function openAICompatibleModel(options: { url: string; apiKey: string; model: string; pricePerMTokens?: { input: number; output: number } }): Model {
  const price = options.pricePerMTokens ?? { input: 0, output: 0 }
  const toolSpecs = (Object.keys(TOOLS) as ToolCall['name'][]).map((name) => ({
    type: 'function',
    function: { name, description: `The ${name} tool`, parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
  }))
  return {
    name: options.model,
    async complete(messages, { tools, signal, onToken }) {
      const wire = messages.map((m) =>
        m.role === 'tool'
          ? { role: 'tool', tool_call_id: m.tool_call_id, content: text(m) }
          : { role: m.role, content: text(m), ...(Array.isArray(m.tool_calls) && m.tool_calls.length > 0 ? { tool_calls: (m.tool_calls as ToolCall[]).map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) } : {}) },
      )
      const res = await fetch(`${options.url.replace(/\/+$/, '')}/chat/completions`, {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.apiKey}` },
        body: JSON.stringify({ model: options.model, messages: wire, stream: true, stream_options: { include_usage: true }, ...(tools ? { tools: toolSpecs } : {}) }),
      })
      if (!res.ok || !res.body) throw new Error(`the model endpoint answered ${res.status}: ${(await res.text()).slice(0, 300)}`)
      let content = ''
      const calls = new Map<number, { id: string; name: string; args: string }>()
      let usage = { prompt_tokens: 0, completion_tokens: 0 }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        let nl: number
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim()
          buffer = buffer.slice(nl + 1)
          if (!line.startsWith('data:') || line === 'data: [DONE]') continue
          const chunk = JSON.parse(line.slice(5)) as {
            choices?: { delta?: { content?: string; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] } }[]
            usage?: typeof usage
          }
          if (chunk.usage) usage = chunk.usage
          const delta = chunk.choices?.[0]?.delta
          if (delta?.content) {
            content += delta.content
            onToken(delta.content)
          }
          for (const t of delta?.tool_calls ?? []) {
            const c = calls.get(t.index) ?? { id: '', name: '', args: '' }
            c.id ||= t.id ?? ''
            c.name += t.function?.name ?? ''
            c.args += t.function?.arguments ?? ''
            calls.set(t.index, c)
          }
        }
      }
      const toolCalls = [...calls.values()]
        .filter((c): c is { id: string; name: ToolCall['name']; args: string } => c.name in TOOLS)
        .map((c) => ({ id: c.id, name: c.name, args: { query: String((JSON.parse(c.args || '{}') as { query?: unknown }).query ?? '') } }))
      const inputTokens = usage.prompt_tokens
      const outputTokens = usage.completion_tokens
      return { content, toolCalls, usage: { inputTokens, outputTokens, costUsd: (inputTokens * price.input + outputTokens * price.output) / 1e6 } }
    },
  }
}

/** What the human says at the approval step. */
export type Verdict = { approve: true; edit?: string } | { approve: false }

/** The agent graph on `checkpointer`, with `model` (a function, so the page can switch models between runs). */
export function createAgent(checkpointer: StorageAdapter, model: () => Model) {
  return new StateGraph({
    messages: MessagesValue,
    draft: { default: () => '' },
  })
    .addNode('plan', async (s, ctx) => {
      const id = `ai_${ctx.step}_${Date.now().toString(36)}`
      const reply = await model().complete(s.messages, { tools: true, signal: ctx.signal, onToken: (t) => ctx.writeMessage({ id, content: t }) })
      ctx.reportUsage(reply.usage)
      return { messages: [{ id, role: 'assistant', content: reply.content, tool_calls: reply.toolCalls }] }
    })
    // Runs once per tool call, each with its call as input (a `Send`), all in one step.
    .addNode('tool', (input) => {
      const call = input as unknown as ToolCall
      return { messages: [{ role: 'tool', name: call.name, tool_call_id: call.id, content: TOOLS[call.name](call.args.query) }] }
    })
    .addNode('write', async (s, ctx) => {
      const id = `draft_${ctx.step}_${Date.now().toString(36)}`
      const reply = await model().complete(s.messages, { tools: false, signal: ctx.signal, onToken: (t) => ctx.writeMessage({ id, content: t }) })
      ctx.reportUsage(reply.usage)
      return { draft: reply.content }
    })
    .addNode('review', (s, ctx) => {
      const verdict = ctx.interrupt<Verdict>({ question: 'Send this answer?', draft: s.draft })
      if (!verdict.approve) return { draft: '', messages: [{ role: 'assistant', content: '(answer withheld by the reviewer)' }] }
      return { draft: '', messages: [{ role: 'assistant', content: verdict.edit ?? s.draft }] }
    })
    .addEdge(START, 'plan')
    .addConditionalEdges(
      'plan',
      (s) => {
        const calls = (s.messages.at(-1)?.tool_calls ?? []) as ToolCall[]
        return calls.length > 0 ? calls.map((c) => new Send('tool', c)) : 'write'
      },
      ['tool', 'write'],
    )
    .addEdge('tool', 'write')
    .addEdge('write', 'review')
    .addEdge('review', END)
    .compile({ checkpointer })
}

export type Agent = ReturnType<typeof createAgent>
