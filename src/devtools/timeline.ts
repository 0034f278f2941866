/**
 * @module The timeline: a thread's checkpoints, newest first, in lanes like `git log --graph`, so a fork (or two
 * devices that wrote the same thread apart) shows as a second lane joining its parent.
 */
import type { StateSnapshot } from '../run/snapshot.js'
import { h } from './dom.js'

type Snapshot = StateSnapshot<Record<string, unknown>>

/** A chain of checkpoints from a tip (no children) down to where it joins an earlier chain (`fork`), or the root. */
interface Branch {
  rows: Set<number>
  top: number
  bottom: number
  fork: number | undefined
  column: number
}

/**
 * The lane drawing of each row (`gutter`, one list of cells per row in `snaps` order) and, for the first checkpoint of each
 * branch but the head's, the checkpoint it branched from. The head's chain takes the first lane.
 */
export function lanes(snaps: readonly Snapshot[], head: string | undefined): { gutter: string[][]; from: Map<string, Snapshot> } {
  const row = new Map(snaps.map((snap, i) => [snap.config.checkpointId, i]))
  const parents = new Set(snaps.map((snap) => snap.metadata.parentId))
  const tips = snaps.filter((snap) => !parents.has(snap.config.checkpointId))
  tips.sort((a, b) => Number(b.config.checkpointId === head) - Number(a.config.checkpointId === head))

  const owner = new Map<number, Branch>()
  const branches: Branch[] = []
  const from = new Map<string, Snapshot>()
  const spans: [number, number][][] = []
  for (const tip of tips) {
    const b: Branch = { rows: new Set(), top: row.get(tip.config.checkpointId) ?? 0, bottom: 0, fork: undefined, column: 0 }
    let snap: Snapshot | undefined = tip
    let last = tip
    while (snap && !owner.has(row.get(snap.config.checkpointId) ?? -1)) {
      const r = row.get(snap.config.checkpointId) ?? 0
      owner.set(r, b)
      b.rows.add(r)
      last = snap
      const parent: string | undefined = snap.metadata.parentId
      snap = parent === undefined ? undefined : snaps[row.get(parent) ?? -1]
    }
    if (snap) {
      b.fork = row.get(snap.config.checkpointId)
      from.set(last.config.checkpointId, snap)
    }
    b.bottom = b.fork ?? row.get(last.config.checkpointId) ?? 0
    // The first lane free over all the rows this branch spans.
    const lo = Math.min(b.top, b.bottom)
    const hi = Math.max(b.top, b.bottom)
    while ((spans[b.column] ?? []).some(([a, z]) => a <= hi && lo <= z)) b.column++
    ;(spans[b.column] ??= []).push([lo, hi])
    branches.push(b)
  }

  // Each cell of a row's gutter is the set of strokes drawn in it, from its centre (where the dot sits): u(p), d(own),
  // l(eft), r(ight), plus o (a checkpoint) or h (the head).
  const gutter = snaps.map((snap, r) => {
    const cells: string[] = Array.from({ length: spans.length }, () => '')
    const own = owner.get(r)
    const col = own?.column ?? 0
    for (const b of branches) {
      if (b === own) cells[col] = (snap.config.checkpointId === head ? 'h' : 'o') + (r > b.top ? 'u' : '') + (r < b.bottom ? 'd' : '')
      else if (Math.min(b.top, b.bottom) < r && r < Math.max(b.top, b.bottom)) cells[b.column] = 'ud'
    }
    // Branches that leave this checkpoint join its lane (`●─┴─╯`), crossing lanes that pass by.
    const joins = branches.filter((b) => b.fork === r).map((b) => b.column)
    for (const side of [1, -1]) {
      const far = side > 0 ? Math.max(col, ...joins) : Math.min(col, ...joins)
      const [toward, away] = side > 0 ? ['l', 'r'] : ['r', 'l']
      if (far !== col) cells[col] += away
      for (let c = col + side; side * c <= side * far; c += side) {
        cells[c] = c === far ? `u${toward}` : joins.includes(c) ? 'ulr' : `${cells[c] ?? ''}lr`
      }
    }
    return cells
  })
  return { gutter, from }
}

/** One timeline row: a listbox option naming the step, how it was made, who wrote, what waits, what it cost. */
export function timelineRow(snap: Snapshot, gutter: string[], head: boolean, from: Snapshot | undefined): HTMLLIElement {
  const { step, source, writes, usage } = snap.metadata
  const wrote = Object.entries(writes ?? {})
    .map(([node, channels]) => `${node} → ${channels.join(', ') || '(nothing)'}`)
    .join('; ')
  const waiting = snap.interrupts.length
  return h(
    'li',
    { role: 'option', tabindex: -1, 'aria-selected': 'false', 'data-id': snap.config.checkpointId, title: `${snap.config.checkpointId} · ${snap.createdAt}` },
    h('span', { class: 'lanes', 'aria-hidden': 'true' }, ...gutter.map((cell) => h('span', { 'data-cell': cell }, ...[...cell].map((stroke) => h('i', { class: stroke }))))),
    h(
      'span',
      { class: 'row' },
      h('b', {}, `step ${step}`),
      h('span', { class: 'tag' }, source),
      wrote && h('span', {}, wrote),
      waiting > 0 && h('span', { class: 'warn' }, `${waiting} interrupt${waiting > 1 ? 's' : ''} waiting`),
      usage && h('span', { class: 'muted' }, `${(usage.inputTokens + usage.outputTokens).toLocaleString('en')} tokens${usage.costUsd ? ` · $${usage.costUsd.toFixed(4)}` : ''}`),
      head && h('span', { class: 'tag head' }, 'head'),
      from && h('span', { class: 'muted' }, `branched from step ${from.metadata.step} (…${from.config.checkpointId.slice(-6)})`),
    ),
  )
}

/** How a checkpoint is named in lists: `step 3 · loop · …a1b2c3`. */
export function label(snap: Snapshot, head: string | undefined): string {
  const id = snap.config.checkpointId
  return `step ${snap.metadata.step} · ${snap.metadata.source} · …${id.slice(-6)}${id === head ? ' (head)' : ''}`
}
