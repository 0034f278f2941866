/**
 * Benchmark workloads shared by both engines, and their checks: the counter loop, the 500-byte chat loop (random
 * text, and natural-language-like text), and a
 * ReAct agent loop (a user message, then model and tool nodes taking turns, every message 500 bytes of text with an
 * id, each model message but the last calling one tool, each tool message answering that call).
 */

export type Workload = 'counter' | 'chat' | 'chat-text' | 'react'
export const WORKLOADS: readonly Workload[] = ['counter', 'chat', 'chat-text', 'react']

/** The chat graph's workloads: 500-byte messages of random text (`chat`) or of natural-language-like text (`chat-text`). */
export const isChat = (workload: Workload): boolean => workload === 'chat' || workload === 'chat-text'

/** Bytes per chat message. */
export const MESSAGE_BYTES = 500

/** mulberry32: a tiny seeded PRNG, so every run and both engines see the same messages. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * `count` messages of random printable ASCII (0x20–0x7E, one byte each in UTF-8), generated up front.
 * Random text keeps any compression in a store from flattering its byte count.
 */
export function makeMessages(count: number, seed = 42): string[] {
  const next = prng(seed)
  const out: string[] = []
  const codes: number[] = new Array(MESSAGE_BYTES)
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < MESSAGE_BYTES; j++) codes[j] = 0x20 + Math.floor(next() * 95)
    // One flat string: built with `+=` a message was a rope of 500 pieces, ~15 KB of heap until something flattened
    // it (750 MB for 50,000 messages), which the case's peak memory and every full garbage collection counted.
    out.push(String.fromCharCode(...codes))
  }
  return out
}

// Common English words, most frequent first: picked with Zipf-like weights (word k at about 1/(k+1)), as words
// are in prose, so the text compresses as a real conversation would, neither as badly as random bytes nor as well
// as one repeated sentence.
const WORDS = (
  'the of and to a in is it you that he was for on are with as I his they be at one have this from or had by not ' +
  'word but what some we can out other were all there when up use your how said an each she which do their time if ' +
  'will way about many then them write would like so these her long make thing see him two has look more day could go ' +
  'come did number sound no most people my over know water than call first who may down side been now find any new work ' +
  'part take get place made live where after back little only round man year came show every good me give our under name ' +
  'very through just form sentence great think say help low line differ turn cause much mean before move right boy old too ' +
  'same tell does set three want air well also play small end put home read hand port large spell add even land here must ' +
  'big high such follow act why ask men change went light kind off need house picture try us again animal point mother ' +
  'world near build self earth father head stand own page should country found answer school grow study still learn plant ' +
  'cover food sun four between state keep eye never last let thought city tree cross farm hard start might story saw far ' +
  'sea draw left late run while press close night real life few north open seem together next white children begin got ' +
  'walk example ease paper group always music those both mark often letter until mile river car feet care second book ' +
  'carry took science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face wood ' +
  'main enough plain girl usual young ready above ever red list though feel talk bird soon body dog family direct pose ' +
  'leave song measure door product black short numeral class wind question happen complete ship area half rock order fire ' +
  'south problem piece told knew pass since top whole king space heard best hour better true during hundred five remember ' +
  'step early hold west ground interest reach fast verb sing listen six table travel less morning ten simple several vowel ' +
  'toward war lay against pattern slow center love person money serve appear road map rain rule govern pull cold notice ' +
  'voice unit power town fine certain fly fall lead cry dark machine note wait plan figure star box noun field rest able ' +
  'pound done beauty drive stood contain front teach week final gave green oh quick develop ocean warm free minute strong'
).split(' ')

/**
 * `count` messages of natural-language-like text, each exactly 500 bytes of ASCII: sentences of common English words
 * drawn with Zipf-like weights, capitalized and punctuated. Realistic text, to measure what compression does for a
 * real conversation (random text, {@link makeMessages}, is its worst case).
 */
export function makeTextMessages(count: number, seed = 7): string[] {
  const next = prng(seed)
  // Cumulative 1/(k+1) weights, for picking word k by binary search.
  const cumulative: number[] = []
  let total = 0
  for (let k = 0; k < WORDS.length; k++) cumulative.push((total += 1 / (k + 1)))
  const word = () => {
    const x = next() * total
    let lo = 0
    let hi = cumulative.length - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((cumulative[mid] as number) < x) lo = mid + 1
      else hi = mid
    }
    return WORDS[lo] as string
  }
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    let s = ''
    while (s.length < MESSAGE_BYTES) {
      const length = 5 + Math.floor(next() * 14)
      const words = Array.from({ length }, word)
      const first = words[0] as string
      words[0] = first.charAt(0).toUpperCase() + first.slice(1)
      s += `${s ? ' ' : ''}${words.join(' ')}${next() < 0.15 ? '?' : '.'}`
    }
    out.push(s.slice(0, MESSAGE_BYTES))
  }
  return out
}

/** The messages a workload sends: random text for chat and react, natural-language-like text for chat-text. */
export function messagesFor(workload: Workload, count: number): string[] {
  if (workload === 'counter') return []
  return workload === 'chat-text' ? makeTextMessages(count) : makeMessages(count)
}

/**
 * What the workload's state is worth in raw bytes, to compare stored bytes against.
 * chat: the message text (n × 500). counter: the JSON of the final state (`{"count":n}`), since the
 * counter has no payload beyond its state; its ratio is not meaningful and the report does not show it.
 */
export function payloadBytes(workload: Workload, n: number): number {
  return workload === 'counter' ? Buffer.byteLength(JSON.stringify({ count: n })) : n * MESSAGE_BYTES
}

/** Whether the workload's messages are text (chat, react); the counter needs none. */
export const usesMessages = (workload: Workload): boolean => workload !== 'counter'

/** Node calls a run of `n` makes: n, but react's first message is the user's, in the input. */
export const nodeCalls = (workload: Workload, n: number): number => (workload === 'react' ? n - 1 : n)

/** The run's input: react starts from the user's message (message 0), with an id as a chat UI gives it. */
export function inputOf(workload: Workload, messages: readonly string[]): Record<string, unknown> {
  if (workload === 'counter') return { count: 0 }
  return { messages: workload === 'react' ? [{ id: 'human-0', type: 'human', content: messages[0] }] : [] }
}

/** A react message as both engines' nodes write it (LangGraph turns it into an AIMessage / ToolMessage). */
export type ReactMessage = {
  id: string
  type: 'human' | 'ai' | 'tool'
  content: string
  tool_calls?: { id: string; name: string; args: { page: number }; type: 'tool_call' }[]
  tool_call_id?: string
  name?: string
}

/**
 * The model's message when the list holds `i` messages and the run ends at `n` messages: model messages sit at odd
 * positions (the user's is at 0, tool answers at even ones) and call the `search` tool while there is room for its
 * answer. Message i's content is `text(i)` whichever node writes it.
 */
export function reactModel(i: number, n: number, text: (i: number) => string): ReactMessage {
  const call = i + 1 < n ? [{ id: `call-${i}`, name: 'search', args: { page: i }, type: 'tool_call' as const }] : []
  return { id: `ai-${i}`, type: 'ai', content: text(i), tool_calls: call }
}

/** The tool's answer to the model's call in the last message (at `i - 1`). */
export function reactTool(i: number, text: (i: number) => string): ReactMessage {
  return { id: `tool-${i}`, type: 'tool', tool_call_id: `call-${i - 1}`, name: 'search', content: text(i) }
}

/** Where the react agent goes after the model: to the tool if it called one, else it is done. */
export const reactCalledTool = (last: { tool_calls?: unknown[] } | undefined): boolean => (last?.tool_calls?.length ?? 0) > 0

/** Throws unless `values` is the correct final state of `workload` after `n` steps. */
export function checkFinal(workload: Workload, n: number, messages: readonly string[], values: Record<string, unknown>, where: string): void {
  if (workload === 'counter') {
    if (values['count'] !== n) throw new Error(`${where}: expected count ${n}, got ${JSON.stringify(values['count'])}`)
    return
  }
  const got = values['messages']
  if (!Array.isArray(got) || got.length !== n) throw new Error(`${where}: expected ${n} messages, got ${Array.isArray(got) ? got.length : typeof got}`)
  for (let i = 0; i < n; i++) {
    // chat keeps strings; react keeps messages (plain objects in edgegraph, LangChain message instances in LangGraph).
    const text = isChat(workload) ? got[i] : (got[i] as { content?: unknown } | undefined)?.content
    if (text !== messages[i]) throw new Error(`${where}: message ${i} differs from what was sent`)
    if (workload === 'react') {
      const m = got[i] as ReactMessage
      const want = i === 0 ? 'human-0' : i % 2 === 1 ? `ai-${i}` : `tool-${i}`
      if (m.id !== want) throw new Error(`${where}: message ${i} has id ${JSON.stringify(m.id)}, expected ${want}`)
    }
  }
}

/** How far a state has got: the counter's count or the number of messages (-1 when absent, e.g. LangGraph's input checkpoint). */
export function progress(workload: Workload, values: Record<string, unknown>): number {
  const v = workload === 'counter' ? values['count'] : (values['messages'] as unknown[] | undefined)?.length
  return typeof v === 'number' ? v : -1
}

/**
 * Throws unless a history (newest first) starts at step n and holds a checkpoint for every step back to `from`
 * (0; react's first checkpoint already holds the user's message).
 */
export function checkHistory(n: number, seen: readonly number[], where: string, from = 0): void {
  if (seen[0] !== n) throw new Error(`${where}: newest checkpoint has progress ${seen[0]}, expected ${n}`)
  const have = new Set(seen)
  for (let i = from; i <= n; i++) if (!have.has(i)) throw new Error(`${where}: no checkpoint with progress ${i}`)
}

/** The first progress a workload's history holds a checkpoint for. */
export const firstProgress = (workload: Workload): number => (workload === 'react' ? 1 : 0)

/** What a browser page measures of one timed run, for either engine. */
export interface BrowserRunSample {
  usPerStep: number
  usPerStepMean: number
  runMs: number
  bytesStored: number
  getStateMs: number
  historyMs: number
  checkpoints: number
  jsHeapMb: number
}

/** The browser benchmarks' median: the upper middle value of the sorted samples. */
export const upperMedian = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN

/**
 * What a browser page reports of a timed run: per-step time from the timestamps taken at each node call (ms),
 * as the median and mean gap in µs, and Chromium's used JS heap in MB (NaN where the browser does not say).
 */
export function stepSample(stamps: readonly number[]): { usPerStep: number; usPerStepMean: number; jsHeapMb: number } {
  const gaps = stamps.slice(1).map((t, i) => (t - (stamps[i] as number)) * 1000)
  const memory = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory
  return {
    usPerStep: upperMedian(gaps),
    usPerStepMean: gaps.reduce((a, b) => a + b, 0) / Math.max(1, gaps.length),
    jsHeapMb: (memory?.usedJSHeapSize ?? Number.NaN) / 2 ** 20,
  }
}
