/**
 * @module edgegraph/devtools: `<edgegraph-devtools>`, a framework-free panel any web app drops in to see a thread of
 * its graph (the graph with its running nodes, the checkpoint timeline with its branches, state, diffs) and to replay
 * or fork from a checkpoint. Nothing runs at import: `defineDevtools()` registers the element.
 */
import { EdgegraphError } from '../errors.js'
import { EdgegraphDevtools } from './element.js'

export { EdgegraphDevtools, type DevtoolsActionDetail, type DevtoolsSelectDetail, type DevtoolsStore } from './element.js'

/**
 * Registers the element as `tag` (default `edgegraph-devtools`) and returns its class; calling it again is harmless.
 * Throws `INVALID_ARGUMENT` when another element already has that tag name.
 *
 * @example
 * import { defineDevtools } from 'edgegraph/devtools'
 * defineDevtools()
 * const el = document.createElement('edgegraph-devtools')
 * document.body.append(el)
 * el.graph = graph
 * el.threadId = 'chat-1'
 * el.addEventListener('edgegraph-devtools:action', (e) => console.log(e.detail))
 */
export function defineDevtools(tag = 'edgegraph-devtools'): typeof EdgegraphDevtools {
  const existing = customElements.get(tag)
  if (existing === undefined) {
    // A constructor can be registered under one name only: each name gets its own subclass.
    const element = class extends EdgegraphDevtools {}
    customElements.define(tag, element)
    return element
  }
  if (existing.prototype instanceof EdgegraphDevtools) return existing as typeof EdgegraphDevtools
  throw new EdgegraphError('INVALID_ARGUMENT', `defineDevtools: <${tag}> is already defined by another element. Pass another tag name, such as defineDevtools('my-graph-devtools').`)
}

declare global {
  interface HTMLElementTagNameMap {
    'edgegraph-devtools': EdgegraphDevtools
  }
}
