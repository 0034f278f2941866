/** @module Building the panel's DOM from data: text always goes in as text nodes, never as markup. */

type Child = Node | string | false | undefined
type Props = Record<string, string | number | boolean | undefined | ((e: Event) => void)>

/**
 * An HTML element with attributes (`false` / `undefined` left out, `true` as an empty attribute), `on*` listeners
 * and children; strings become text nodes, so data from a thread can never inject markup.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  return fill(document.createElement(tag), props, children)
}

/** The same for an SVG element. */
export function s(tag: string, props: Props = {}, ...children: Child[]): SVGElement {
  return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), props, children)
}

function fill<E extends Element>(el: E, props: Props, children: Child[]): E {
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2), value)
    else if (value !== false && value !== undefined) el.setAttribute(key, value === true ? '' : String(value))
  }
  for (const child of children) if (child !== false && child !== undefined) el.append(child)
  return el
}
