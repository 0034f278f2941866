/** Formats bench results: the side-by-side table and the target checks (figures to read, not assertions). */
import type { CaseResult } from './common.js'
import { kb, BUDGET_BYTES, type SizeReport } from './size.js'

export interface Target {
  name: string
  /** null when the case needed was not run (quick mode) or failed. */
  pass: boolean | null
  detail: string
}

type Row = [CaseResult | undefined, CaseResult | undefined]

function pairs(cases: CaseResult[]): Map<string, Row> {
  const rows = new Map<string, Row>()
  for (const c of cases) {
    const key = `${c.workload} ${c.n}`
    const row = rows.get(key) ?? [undefined, undefined]
    row[c.engine === 'edgegraph' ? 0 : 1] = c
    rows.set(key, row)
  }
  return rows
}

const fmt = (x: number | null | undefined, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '-' : x >= 100 ? Math.round(x).toString() : x.toFixed(digits))
const ratio = (lg: number | undefined, eg: number | undefined) => (lg === undefined || eg === undefined || eg === 0 ? '-' : `${fmt(lg / eg)}x`)
function bytes(b: number | undefined): string {
  if (b === undefined) return '-'
  if (b < 1024) return `${b} B`
  if (b < 1024 ** 2) return `${(b / 1024).toFixed(1)} KB`
  return `${(b / 1024 ** 2).toFixed(b < 100 * 1024 ** 2 ? 2 : 0)} MB`
}

/** One row per (workload, n); "eg" = edgegraph + memory adapter, "lg" = LangGraph.js + MemorySaver, "lg/eg" = how many times more. */
export function formatTable(cases: CaseResult[]): string {
  const header = ['workload', 'n', 'mean us/step eg', 'mean lg', 'lg/eg', 'p50 eg', 'p50 lg', 'p99 eg', 'p99 lg', 'stored eg', 'stored lg', 'lg/eg', 'B/payload eg', 'B/payload lg', 'written/payload eg', 'getState ms eg', 'getState ms lg', 'read floor ms', 'history ms eg', 'history ms lg', 'peak RSS MB eg', 'peak RSS MB lg']
  const lines: string[][] = [header]
  for (const [key, [eg, lg]] of pairs(cases)) {
    const [workload, n] = key.split(' ') as [string, string]
    const perPayload = (c: CaseResult | undefined) => (c && workload !== 'counter' ? `${(c.bytesStored / c.payloadBytes).toFixed(2)}x` : '-')
    lines.push([
      workload,
      n,
      fmt(eg?.usPerStepMean),
      fmt(lg?.usPerStepMean),
      ratio(lg?.usPerStepMean, eg?.usPerStepMean),
      fmt(eg?.usPerStep),
      fmt(lg?.usPerStep),
      fmt(eg?.usPerStepP99),
      fmt(lg?.usPerStepP99),
      bytes(eg?.bytesStored),
      bytes(lg?.bytesStored),
      ratio(lg?.bytesStored, eg?.bytesStored),
      perPayload(eg),
      perPayload(lg),
      eg?.bytesWritten !== undefined && workload !== 'counter' ? `${(eg.bytesWritten / eg.payloadBytes).toFixed(2)}x` : '-',
      fmt(eg?.getStateMs, 2),
      fmt(lg?.getStateMs, 2),
      fmt(eg?.getStateFloorMs, 2),
      fmt(eg?.historyMs),
      fmt(lg?.historyMs),
      fmt(eg?.peakRssMb, 0),
      fmt(lg?.peakRssMb, 0),
    ])
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)))
  const render = (l: string[]) => l.map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  const legend = [
    'eg = edgegraph + memory adapter, lg = LangGraph.js + MemorySaver; lg/eg = how many times more LangGraph takes or stores.',
    'us/step: mean = the whole invoke over n (what a user waits for); p50 and p99 = gaps between consecutive node calls;',
    'stored = keys + values held by the store; B/payload = stored / raw message text bytes; written/payload = bytes of every put',
    'the timed run made / raw message bytes; getState = newest state on a fresh graph; read floor = JSON.parse of that state\'s JSON',
    'text (its bytes parsed once); history = every checkpoint, values rebuilt. KB/MB are 1024-based. chat = 500-byte messages of',
    'random text; chat-text = 500-byte messages of natural-language-like text. react = a ReAct agent: model and tool nodes take turns,',
    "each message 500 bytes with an id, model messages calling a tool (edgegraph: plain objects and MessagesValue; LangGraph: MessagesAnnotation).",
  ]
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render), '', ...legend].join('\n')
}

/** The encrypted chat beside the plain one of the same run: per-step time and stored bytes. */
export function formatEncryption(plain: CaseResult[], encrypted: CaseResult[]): string {
  const lines: string[][] = [['workload', 'n', 'mean us/step plain', 'mean encrypted', 'p50 encrypted', 'p99 encrypted', 'stored plain', 'stored encrypted', 'B/payload plain', 'B/payload encrypted', 'getState ms encrypted', 'history ms encrypted']]
  for (const e of encrypted) {
    const p = plain.find((c) => c.engine === 'edgegraph' && c.workload === e.workload && c.n === e.n)
    lines.push([
      e.workload,
      String(e.n),
      fmt(p?.usPerStepMean),
      fmt(e.usPerStepMean),
      fmt(e.usPerStep),
      fmt(e.usPerStepP99),
      bytes(p?.bytesStored),
      bytes(e.bytesStored),
      p ? `${(p.bytesStored / p.payloadBytes).toFixed(2)}x` : '-',
      `${(e.bytesStored / e.payloadBytes).toFixed(2)}x`,
      fmt(e.getStateMs, 2),
      fmt(e.historyMs),
    ])
  }
  const widths = (lines[0] as string[]).map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length)))
  return lines.map((l) => l.map((cell, i) => cell.padStart(widths[i] as number)).join('  ')).join('\n')
}

/** The chat as n grows: per-step mean, bytes and history time per step, and peak memory. */
export function formatScale(chats: CaseResult[]): string {
  const lines: string[][] = [['n', 'mean us/step', 'p50', 'p99', 'stored', 'stored/payload', 'written/payload', 'stored B/step', 'getState ms', 'history ms', 'history us/checkpoint', 'peak RSS MB']]
  for (const c of [...chats].sort((a, b) => a.n - b.n)) {
    lines.push([
      String(c.n),
      fmt(c.usPerStepMean),
      fmt(c.usPerStep),
      fmt(c.usPerStepP99),
      bytes(c.bytesStored),
      `${(c.bytesStored / c.payloadBytes).toFixed(2)}x`,
      c.bytesWritten === undefined ? '-' : `${(c.bytesWritten / c.payloadBytes).toFixed(2)}x`,
      fmt(c.bytesStored / c.n, 0),
      fmt(c.getStateMs, 2),
      fmt(c.historyMs),
      c.checkpoints > 0 ? fmt((c.historyMs * 1000) / c.checkpoints) : '-',
      fmt(c.peakRssMb, 0),
    ])
  }
  const widths = (lines[0] as string[]).map((_, i) => Math.max(...lines.map((l) => (l[i] as string).length)))
  return lines.map((l) => l.map((cell, i) => cell.padStart(widths[i] as number)).join('  ')).join('\n')
}

export function checkTargets(cases: CaseResult[], size: SizeReport, encrypted: CaseResult[] = []): Target[] {
  const find = (engine: string, workload: string, n: number) => cases.find((c) => c.engine === engine && c.workload === workload && c.n === n)
  const chat = find('edgegraph', 'chat', 2000)
  const text = find('edgegraph', 'chat-text', 2000)
  const lgChat = find('langgraph', 'chat', 2000)
  const check = (name: string, c: CaseResult | undefined, pass: (c: CaseResult) => boolean, detail: (c: CaseResult) => string): Target => (c ? { name, pass: pass(c), detail: detail(c) } : { name, pass: null, detail: 'not run' })
  const x = (a: number, b: number) => `${(a / b).toFixed(2)} x`
  const targets: Target[] = [
    check('chat n=2000 (random text): bytes stored <= 1.3 x payload', chat, (c) => c.bytesStored <= 1.3 * c.payloadBytes, (c) => `${bytes(c.bytesStored)} = ${x(c.bytesStored, c.payloadBytes)} payload`),
    check('chat-text n=2000 (natural text): bytes stored <= 0.6 x payload', text, (c) => c.bytesStored <= 0.6 * c.payloadBytes, (c) => `${bytes(c.bytesStored)} = ${x(c.bytesStored, c.payloadBytes)} payload`),
    check('chat n=2000 (random text): bytes written <= 2 x payload', chat, (c) => (c.bytesWritten ?? Infinity) <= 2 * c.payloadBytes, (c) => `${bytes(c.bytesWritten)} = ${x(c.bytesWritten ?? Number.NaN, c.payloadBytes)} payload`),
    check('chat-text n=2000 (natural text): bytes written <= 2 x payload', text, (c) => (c.bytesWritten ?? Infinity) <= 2 * c.payloadBytes, (c) => `${bytes(c.bytesWritten)} = ${x(c.bytesWritten ?? Number.NaN, c.payloadBytes)} payload`),
    check('chat n=2000: getState no slower than LangGraph.js', chat, (c) => lgChat !== undefined && c.getStateMs <= lgChat.getStateMs, (c) => `${fmt(c.getStateMs, 2)} ms vs ${fmt(lgChat?.getStateMs, 2)} ms`),
    check('chat n=2000: getState <= 1.5 x the read floor', chat, (c) => c.getStateMs <= 1.5 * c.getStateFloorMs, (c) => `${fmt(c.getStateMs, 2)} ms vs floor ${fmt(c.getStateFloorMs, 2)} ms = ${x(c.getStateMs, c.getStateFloorMs)}`),
  ]
  const enc = encrypted.find((c) => c.workload === 'chat' && c.n === 2000)
  targets.push(
    enc
      ? { name: 'chat n=2000 encrypted: bytes stored <= 1.35 x payload', pass: enc.bytesStored <= 1.35 * enc.payloadBytes, detail: `${bytes(enc.bytesStored)} = ${(enc.bytesStored / enc.payloadBytes).toFixed(3)} x payload, ${fmt(enc.usPerStepMean)} us/step mean` }
      : { name: 'chat n=2000 encrypted: bytes stored <= 1.35 x payload', pass: null, detail: 'not run' },
  )
  for (const [key, [eg, lg]] of pairs(cases)) {
    if (!lg && eg && eg.n > 2000) continue // scale rows: LangGraph.js cannot run them
    const name = `${key.replace(' ', ' n=')}: mean per-step time >= 30x lower than LangGraph`
    if (!eg || !lg) targets.push({ name, pass: null, detail: 'a side did not run' })
    else targets.push({ name, pass: lg.usPerStepMean >= 30 * eg.usPerStepMean, detail: `${fmt(eg.usPerStepMean)} vs ${fmt(lg.usPerStepMean)} us = ${fmt(lg.usPerStepMean / eg.usPerStepMean)}x (p50 ${fmt(lg.usPerStep / eg.usPerStep)}x)` })
  }
  for (const [key, [eg]] of pairs(cases)) {
    if (eg) targets.push({ name: `${key.replace(' ', ' n=')}: edgegraph p99 <= 5 x p50`, pass: eg.usPerStepP99 <= 5 * eg.usPerStep, detail: `p99 ${fmt(eg.usPerStepP99)} us, p50 ${fmt(eg.usPerStep)} us = ${x(eg.usPerStepP99, eg.usPerStep)}` })
  }
  const scale = cases.filter((c) => c.engine === 'edgegraph' && c.workload === 'chat').sort((a, b) => a.n - b.n)
  const big = scale.at(-1)
  // The full history is read up to 20,000 steps (bench/case.ts): its linearity is judged on the largest one read.
  const bigRead = scale.filter((c) => typeof c.historyMs === 'number' && c.checkpoints > 0).at(-1)
  if (chat && big && big.n > chat.n) {
    targets.push(
      { name: `chat n=${chat.n} -> ${big.n}: per-step mean flat (within 1.5 x)`, pass: big.usPerStepMean <= 1.5 * chat.usPerStepMean, detail: `${fmt(chat.usPerStepMean)} -> ${fmt(big.usPerStepMean)} us` },
      { name: `chat n=${chat.n} -> ${big.n}: stored bytes linear (per step within 1.1 x)`, pass: big.bytesStored / big.n <= 1.1 * (chat.bytesStored / chat.n), detail: `${fmt(chat.bytesStored / chat.n, 0)} -> ${fmt(big.bytesStored / big.n, 0)} B/step` },
      bigRead && bigRead.n > chat.n
        ? { name: `chat n=${chat.n} -> ${bigRead.n}: full history linear (per checkpoint within 1.5 x)`, pass: bigRead.historyMs / bigRead.checkpoints <= 1.5 * (chat.historyMs / chat.checkpoints), detail: `${fmt((chat.historyMs * 1000) / chat.checkpoints)} -> ${fmt((bigRead.historyMs * 1000) / bigRead.checkpoints)} us/checkpoint; not read at ${big.n} (every state at once: n^2/2 items); peak RSS ${fmt(big.peakRssMb, 0)} MB at ${big.n}` }
        : { name: `chat: full history linear`, pass: null, detail: 'no scale row read its full history' },
    )
  }
  targets.push(
    chat
      ? { name: 'chat n=2000: edgegraph full history read <= 100 ms', pass: chat.historyMs <= 100, detail: `${fmt(chat.historyMs)} ms for ${chat.checkpoints} checkpoints` }
      : { name: 'chat n=2000: edgegraph full history read <= 100 ms', pass: null, detail: 'not run' },
    { name: `bundle size <= ${BUDGET_BYTES / 1024} KB min+gz`, pass: size.edgegraph.ok ? size.withinBudget : null, detail: size.edgegraph.ok ? `${kb(size.edgegraph.gzipBytes)} KB` : `bundling failed: ${size.edgegraph.error}` },
  )
  return targets
}

export function formatTargets(targets: Target[]): string {
  const width = Math.max(...targets.map((t) => t.name.length))
  return targets.map((t) => `${t.pass === null ? 'N/A ' : t.pass ? 'PASS' : 'MISS'}  ${t.name.padEnd(width)}  ${t.detail}`).join('\n')
}

/** The results file `bench/run.ts` writes (bench/results/latest.json). */
export interface BenchRecord {
  date: string
  node: string
  cases: (CaseResult & { encrypted?: boolean })[]
}

/**
 * The README's tables from a run's JSON (`tsx bench/run.ts --readme`): side by side with LangGraph.js, then the scale
 * rows, in Markdown. Ratios are LangGraph.js over edgegraph (how many times more it takes or stores).
 */
export function formatReadme(record: BenchRecord): string {
  const plain = record.cases.filter((c) => !c.encrypted)
  const scale = new Set(plain.filter((c) => c.engine === 'edgegraph' && !plain.some((o) => o.engine !== 'edgegraph' && o.workload === c.workload && o.n === c.n)).map((c) => `${c.workload} ${c.n}`))
  const times = (c: CaseResult | undefined) => (c ? `${fmt(c.usPerStepMean)} (${fmt(c.usPerStep)} / ${fmt(c.usPerStepP99)})` : '–')
  const multiple = (r: number) => (r >= 10 ? `${Math.round(r)}×` : `${r.toFixed(2)}×`)
  const per = (c: CaseResult | undefined, value: number | undefined) => (c && c.workload !== 'counter' && value !== undefined ? multiple(value / c.payloadBytes) : '–')
  const x = (lg: number | undefined, eg: number | undefined) => (lg === undefined || eg === undefined || eg === 0 ? '–' : `${Math.round(lg / eg)}×`)
  const out = [
    `<!-- bench ${record.date}, node ${record.node}; printed by \`npx tsx bench/run.ts --readme\` -->`,
    '| workload | N | µs/step edgegraph: mean (p50 / p99) | µs/step LangGraph.js: mean (p50 / p99) | faster (mean) | stored edgegraph | stored LangGraph.js | smaller | stored / message bytes (eg / lg) | written / message bytes (eg) | getState ms (eg / lg / read floor) | full history ms (eg / lg) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const [key, [eg, lg]] of pairs(plain)) {
    if (scale.has(key)) continue
    const [workload, n] = key.split(' ')
    out.push(
      `| ${workload} | ${n} | ${times(eg)} | ${times(lg)} | ${x(lg?.usPerStepMean, eg?.usPerStepMean)} | ${bytes(eg?.bytesStored)} | ${bytes(lg?.bytesStored)} | ${x(lg?.bytesStored, eg?.bytesStored)} | ${per(eg, eg?.bytesStored)} / ${per(lg, lg?.bytesStored)} | ${per(eg, eg?.bytesWritten)} | ${fmt(eg?.getStateMs)} / ${fmt(lg?.getStateMs)} / ${fmt(eg?.getStateFloorMs)} | ${fmt(eg?.historyMs, 0)} / ${fmt(lg?.historyMs, 0)} |`,
    )
  }
  const chats = plain.filter((c) => c.engine === 'edgegraph' && c.workload === 'chat').sort((a, b) => a.n - b.n)
  if (chats.some((c) => scale.has(`chat ${c.n}`))) {
    out.push('', '| chat, edgegraph only | µs/step: mean (p50 / p99) | stored | stored B/step | written / message bytes | getState ms | full history ms | µs per checkpoint listed | peak RSS MB |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
    for (const c of chats) {
      out.push(`| ${c.n} | ${times(c)} | ${bytes(c.bytesStored)} | ${fmt(c.bytesStored / c.n, 0)} | ${per(c, c.bytesWritten)} | ${fmt(c.getStateMs)} | ${c.checkpoints > 0 ? fmt(c.historyMs, 0) : 'not read'} | ${c.checkpoints > 0 ? fmt((c.historyMs * 1000) / c.checkpoints) : '–'} | ${fmt(c.peakRssMb, 0)} |`)
    }
  }
  return out.join('\n')
}
