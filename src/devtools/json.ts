/** @module How state values read in the panel: JSON text that never throws, whatever a channel holds. */

// Maps and Sets would print as `{}`, BigInts would throw: the stored forms people recognise instead.
const replacer = (_key: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Map ? Object.fromEntries(v) : v instanceof Set ? [...v] : v)

/** `value` as indented JSON (or compact with `indent` 0); `undefined` and unprintable values as a word. */
export function json(value: unknown, indent = 2): string {
  try {
    return JSON.stringify(value, replacer, indent) ?? 'undefined'
  } catch {
    return String(value)
  }
}

/** One line of JSON for lists and diffs, cut at `max` characters. */
export function brief(value: unknown, max = 160): string {
  const text = json(value, 0)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** The value at an RFC 6901 pointer (`/messages/3`), or undefined. */
export function at(root: unknown, pointer: string): unknown {
  let v = root
  for (const part of pointer.split('/').slice(1)) {
    if (typeof v !== 'object' || v === null) return undefined
    v = (v as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return v
}
