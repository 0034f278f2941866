/** @module One checkpoint's state: what runs next, its tasks and waiting interrupts, then each channel's value as JSON. */
import type { StateSnapshot } from '../run/snapshot.js'
import { h } from './dom.js'
import { brief, json } from './json.js'

/** The nodes showing `snap`; each channel folds (a `<details>`), open to start with. */
export function stateView(snap: StateSnapshot<Record<string, unknown>>): Node[] {
  const list = (items: string[], none: string) => (items.length ? h('ul', {}, ...items.map((item) => h('li', {}, item))) : none)
  const tasks = snap.tasks.map((t) => {
    const waits = t.interrupts.length ? `, ${t.interrupts.length} interrupt(s) waiting` : ''
    return `${t.name}${t.error ? ` failed: ${t.error.message}` : t.result ? ' (done)' : ''}${waits}`
  })
  const interrupts = snap.interrupts.map((i) => `${i.node} (${i.when})${i.value === undefined ? '' : `: ${brief(i.value)}`}`)
  const values = Object.entries(snap.values)
  return [
    h(
      'dl',
      {},
      h('dt', {}, 'next'),
      h('dd', {}, snap.next.join(', ') || 'nothing: the run is done'),
      h('dt', {}, 'tasks'),
      h('dd', {}, list(tasks, 'none')),
      h('dt', {}, 'interrupts'),
      h('dd', {}, list(interrupts, 'none')),
    ),
    ...(values.length ? values.map(([key, value]) => h('details', { open: true }, h('summary', {}, key), h('pre', {}, json(value)))) : [h('p', { class: 'muted' }, 'No values.')]),
  ]
}
