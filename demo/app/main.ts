/**
 * @module The demo page: the agent (./agent.ts) runs in the tab on IndexedDB, every step checkpointed; a reload or a
 * killed tab comes back where it stopped; offline it keeps running and syncs to the Worker (`edgegraph/sync`) when
 * the network returns; `<edgegraph-devtools>` shows the graph, the timeline with its branches, state and diffs.
 * Built only from the package's public entry points.
 */
import { Command, isEdgegraphError, type Message } from '../../src/index.js'
import { createIndexedDBAdapter } from '../../adapters/indexeddb.js'
import { createSync, workerRemote, type SyncStatus } from '../../src/sync/index.js'
import { defineDevtools, type EdgegraphDevtools } from '../../src/devtools/index.js'
import { createAgent, openAICompatibleModel, scriptedModel, type Model, type Verdict } from './agent.js'

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T
const settings = {
  get: (key: string) => localStorage.getItem(`edgegraph-demo:${key}`) ?? '',
  set: (key: string, value: string) => localStorage.setItem(`edgegraph-demo:${key}`, value),
}

// A token handed over in the link (`npm start` prints one) is kept, then removed from the address bar.
const hash = new URLSearchParams(location.hash.slice(1))
if (hash.get('token')) settings.set('token', hash.get('token') as string)
if (hash.get('thread')) settings.set('thread', hash.get('thread') as string)
if (hash.has('token') || hash.has('thread')) history.replaceState(null, '', location.pathname)

if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch((err) => console.warn('no offline support:', err))

const store = createIndexedDBAdapter({ name: 'edgegraph-demo' })
function currentModel(): Model {
  if (settings.get('model') === 'openai' && settings.get('modelUrl') && settings.get('modelKey')) {
    return openAICompatibleModel({ url: settings.get('modelUrl'), apiKey: settings.get('modelKey'), model: settings.get('modelName') || 'gpt-4o-mini' })
  }
  return scriptedModel()
}
const agent = createAgent(store, currentModel)
const sync = createSync({ local: store, remote: workerRemote({ url: location.origin, token: () => settings.get('token'), graph: 'agent' }) })

defineDevtools()
const devtools = $<EdgegraphDevtools>('devtools')
devtools.graph = agent
devtools.store = store

let thread = settings.get('thread') || newThreadId()
let busy = false

function newThreadId(): string {
  return `chat-${new Date().toISOString().slice(0, 10)}-${Math.random().toString(36).slice(2, 7)}`
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> & { className?: string } = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = Object.assign(document.createElement(tag), props)
  el.append(...children)
  return el
}

const contentOf = (m: Message) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content))

// ---- rendering ----------------------------------------------------------------------------------------------

async function threadsList(): Promise<string[]> {
  const out: string[] = []
  for await (const t of store.threads()) out.push(t.thread)
  if (!out.includes(thread)) out.unshift(thread)
  return out.sort().reverse()
}

async function render(): Promise<void> {
  const select = $<HTMLSelectElement>('thread-select')
  select.replaceChildren(...(await threadsList()).map((t) => h('option', { value: t, textContent: t, selected: t === thread })))
  devtools.threadId = thread
  const state = await agent.getState({ threadId: thread }).catch((err: unknown) => (isEdgegraphError(err, 'THREAD_NOT_FOUND') ? undefined : Promise.reject(err)))
  const messages = (state?.values.messages ?? []) as Message[]
  $('messages').replaceChildren(
    ...messages.map((m) => {
      const who = m.role === 'tool' ? `tool · ${String(m.name ?? '')}` : String(m.role ?? m.type ?? '')
      return h('li', { className: String(m.role ?? '') }, h('span', { className: 'who', textContent: who }), contentOf(m) || '(calling tools…)')
    }),
  )
  const waiting = state?.interrupts.find((i) => i.node === 'review')
  $('approval').hidden = waiting === undefined
  if (waiting) $<HTMLTextAreaElement>('approval-text').value = String((waiting.value as { draft?: string }).draft ?? '')
  $<HTMLInputElement>('ask-input').disabled = busy || waiting !== undefined
  await renderUsage()
  await renderStorage(state?.values)
  await devtools.refresh()
}

async function renderUsage(): Promise<void> {
  const rows: HTMLTableRowElement[] = []
  let total = { inputTokens: 0, outputTokens: 0, costUsd: 0 }
  let first = true
  for await (const s of agent.getStateHistory({ threadId: thread })) {
    if (first) total = s.metadata.usageTotal ?? total
    first = false
    const u = s.metadata.usage
    if (!u) continue
    rows.push(
      h('tr', {}, h('td', { textContent: String(s.metadata.step) }), h('td', { textContent: Object.keys(s.metadata.writes ?? {}).join(', ') }), h('td', { textContent: `${u.inputTokens} / ${u.outputTokens}` }), h('td', { textContent: `$${u.costUsd.toFixed(6)}` })),
    )
  }
  $('usage-rows').replaceChildren(...rows)
  $('usage-total').textContent = `Thread total: ${total.inputTokens} tokens in, ${total.outputTokens} out, $${total.costUsd.toFixed(6)} (the head's branch).`
}

async function renderStorage(values: Record<string, unknown> | undefined): Promise<void> {
  const stored = await store.bytes(thread)
  const content = new TextEncoder().encode(JSON.stringify(values ?? {})).length
  $('storage-thread').textContent = `This thread: ${kb(stored)} stored for its whole history, ${kb(content)} of current content.`
  const estimate = await navigator.storage?.estimate?.()
  $('storage-origin').textContent = estimate ? `This site: ${kb(estimate.usage ?? 0)} used of ${kb(estimate.quota ?? 0)} available.` : ''
  const persisted = await navigator.storage?.persisted?.()
  $('persisted').textContent = persisted ? 'Storage is persistent: the browser will not evict it.' : 'Storage is best-effort: the browser may evict it under pressure.'
  $<HTMLButtonElement>('persist').hidden = persisted === true
}

const kb = (n: number) => (n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`)

function renderSync(status: SyncStatus): void {
  const badge = $('sync-badge')
  badge.className = `badge ${status.state}`
  const pending = status.pending > 0 ? `, ${status.pending} checkpoint${status.pending === 1 ? '' : 's'} to push` : ''
  const why = status.state === 'error' && status.error ? ` (${status.error.code})` : ''
  badge.textContent = `sync: ${status.state}${why}${pending}`
  badge.title = status.error?.message ?? (status.lastSyncAt ? `last synced ${new Date(status.lastSyncAt).toLocaleTimeString()}` : '')
  $('net-badge').textContent = navigator.onLine ? 'online' : 'offline'
}

// ---- running the agent ---------------------------------------------------------------------------------------

/** Runs the agent (a new message, a resume, or null to continue) streaming tokens into a bubble. */
async function run(input: Parameters<typeof agent.stream>[0]): Promise<void> {
  busy = true
  $('run-error').hidden = true
  $<HTMLInputElement>('ask-input').disabled = true
  const bubbles = new Map<string, HTMLLIElement>()
  const running = new Set<string>()
  try {
    const stream = agent.stream(input, { threadId: thread, streamMode: ['messages', 'tasks', 'updates'] }) as AsyncIterable<[string, unknown]>
    for await (const [mode, chunk] of stream) {
      if (mode === 'messages') {
        const [piece] = chunk as [{ id: string; content: string }]
        let li = bubbles.get(piece.id)
        if (!li) {
          li = h('li', { className: 'assistant streaming' }, h('span', { className: 'who', textContent: 'assistant (streaming)' }))
          bubbles.set(piece.id, li)
          $('messages').append(li)
        }
        li.append(piece.content)
        li.scrollIntoView({ block: 'nearest' })
      } else if (mode === 'tasks') {
        const task = chunk as { name: string; input?: unknown }
        if ('input' in task) running.add(task.name)
        else running.delete(task.name)
        devtools.running = [...running]
      } else if (mode === 'updates') {
        await render()
      }
    }
  } catch (err) {
    $('run-error').hidden = false
    $('run-error').textContent = `${(err as Error).message} The last checkpoint is intact: send again, or use Replay in the timeline.`
  } finally {
    busy = false
    devtools.running = undefined
    await render()
  }
}

$('ask').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('ask-input')
  const text = input.value.trim()
  if (!text || busy) return
  input.value = ''
  void run({ messages: [{ role: 'user', content: text }] })
})

const answer = (verdict: Verdict) => void run(new Command({ resume: verdict }))
$('approve').addEventListener('click', () => answer({ approve: true }))
$('approve-edited').addEventListener('click', () => answer({ approve: true, edit: $<HTMLTextAreaElement>('approval-text').value }))
$('reject').addEventListener('click', () => answer({ approve: false }))

function switchTo(next: string): void {
  thread = next
  settings.set('thread', thread)
  void sync.syncThread(thread).then(() => render())
  void render()
}
$('thread-select').addEventListener('change', (e) => switchTo((e.target as HTMLSelectElement).value))
$('new-thread').addEventListener('click', () => switchTo(newThreadId()))
$('open-thread').addEventListener('submit', (e) => {
  e.preventDefault()
  const id = $<HTMLInputElement>('open-thread-id').value.trim()
  if (id) switchTo(id)
})
$('persist').addEventListener('click', () => void navigator.storage?.persist?.().then(() => render()))

// Settings: model choice and the sync token, kept in this browser.
const form = $<HTMLFormElement>('model-form')
;(form.elements.namedItem('kind') as RadioNodeList).value = settings.get('model') || 'scripted'
$<HTMLInputElement>('model-url').value = settings.get('modelUrl')
$<HTMLInputElement>('model-key').value = settings.get('modelKey')
$<HTMLInputElement>('model-name').value = settings.get('modelName')
$<HTMLInputElement>('sync-token').value = settings.get('token')
form.addEventListener('submit', (e) => {
  e.preventDefault()
  settings.set('model', (form.elements.namedItem('kind') as RadioNodeList).value)
  settings.set('modelUrl', $<HTMLInputElement>('model-url').value.trim())
  settings.set('modelKey', $<HTMLInputElement>('model-key').value.trim())
  settings.set('modelName', $<HTMLInputElement>('model-name').value.trim())
  settings.set('token', $<HTMLInputElement>('sync-token').value.trim())
  void sync.syncThread(thread).then(() => render())
})

// The devtools' replay and fork act on this thread: show the result.
devtools.addEventListener('edgegraph-devtools:action', () => void render())

// ---- start: come back where the tab stopped -----------------------------------------------------------------

/** The last sync results, newest last (window.demo.syncLog, for a look from the console). */
const syncLog: unknown[] = []
sync.subscribe((status, result) => {
  if (result) syncLog.push({ at: new Date().toISOString(), ...result, error: result.error?.message }) > 20 && syncLog.shift()
  renderSync(status)
  if (result?.threadId === thread && (result.pulled > 0 || result.conflict)) void render()
})
store.subscribe(({ thread: moved }) => {
  if (moved === thread && !busy) void render()
})
window.addEventListener('online', () => renderSync(sync.status))
window.addEventListener('offline', () => renderSync(sync.status))
renderSync(sync.status)

async function start(): Promise<void> {
  settings.set('thread', thread)
  await render()
  // Interactive: the thread is on screen and the input takes a message (ms since navigation start).
  window.demo.interactiveMs = performance.now()
  const state = await agent.getState({ threadId: thread }).catch(() => undefined)
  // A run cut short (reload, killed tab) left work to do and no question waiting: say so, and continue it.
  if (state && state.next.length > 0 && state.interrupts.length === 0) {
    const note = $('resume-note')
    note.hidden = false
    note.textContent = `This thread stopped at step ${state.metadata.step} (the tab was reloaded or closed mid-run). Continuing from there: only the unfinished step runs again.`
    await run(null)
  }
  sync.start()
}

declare global {
  interface Window {
    demo: { agent: typeof agent; sync: typeof sync; store: typeof store; thread: () => string; syncLog: unknown[]; interactiveMs?: number }
  }
}
window.demo = { agent, sync, store, thread: () => thread, syncLog }
void start()
