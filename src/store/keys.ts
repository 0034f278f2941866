/**
 * @module The store's key layout inside its reserved thread: the one place that builds and parses its keys.
 *
 *   i/<label>$<label>...!<key>        an item: its record (timestamps and value, or a chunk header)
 *   x/<label>$...!<key>!<tag>!<n>     chunk n of an item too large for one value (tag: the write that made it)
 *
 * Labels and keys are stored as their UTF-8 bytes: a byte from `&` (0x26) to `}` (0x7D) as itself, a lower one as
 * `%XX`, a higher one (`~`, DEL, every byte of a non-ASCII character) as `~XX`. Every stored key is printable ASCII
 * and the encoding keeps byte order: `%` sorts below every plain byte and `~` above, and the two separators, `!`
 * before an item key and `$` between labels, sort below all three. So string order of stored keys is the order of
 * (namespace label by label, then key) by code point, a namespace's own items come before its children's, and a
 * namespace prefix is one key range.
 */

/** Separates the namespace from the item key. Below `LABEL_SEP`: a namespace's own items sort before its children. */
const KEY_SEP = '!'
/** Separates namespace labels. */
const LABEL_SEP = '$'

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** A label or key as stored (see the module header). */
export function encodePart(text: string): string {
  let out = ''
  for (const b of utf8.encode(text)) {
    out += b >= 0x26 && b <= 0x7d ? String.fromCharCode(b) : `${b < 0x26 ? '%' : '~'}${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** The text of a stored label or key; throws a plain Error on text {@link encodePart} cannot have made. */
export function decodePart(part: string): string {
  const bytes: number[] = []
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i)
    if (c === 0x25 || c === 0x7e) {
      const hex = part.slice(i + 1, i + 3)
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new Error(`bad escape in "${part}"`)
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else if (c >= 0x26 && c <= 0x7d) bytes.push(c)
    else throw new Error(`bad character in "${part}"`)
  }
  return utf8Strict.decode(new Uint8Array(bytes))
}

const encodeNamespace = (namespace: readonly string[]): string => namespace.map(encodePart).join(LABEL_SEP)

/** The key of an item. */
export const itemKey = (namespace: readonly string[], key: string): string => `i/${encodeNamespace(namespace)}${KEY_SEP}${encodePart(key)}`

/** The keys of the `count` chunks of the item at `item` (its key), written by the write `tag`. */
export const chunkKeys = (item: string, tag: string, count: number): string[] => Array.from({ length: count }, (_, n) => `x/${item.slice(2)}${KEY_SEP}${tag}${KEY_SEP}${n}`)

/** The namespace and key of an item key; throws a plain Error on a key the store cannot have written. */
export function parseItemKey(stored: string): { namespace: string[]; key: string } {
  const at = stored.indexOf(KEY_SEP)
  if (!stored.startsWith('i/') || at < 0) throw new Error(`not an item key: "${stored}"`)
  return { namespace: stored.slice(2, at).split(LABEL_SEP).map(decodePart), key: decodePart(stored.slice(at + 1)) }
}

/** Every item whose namespace starts with `prefix` (all items for `[]`): the namespace's own, then its children's. */
export function prefixRange(prefix: readonly string[]): { from: string; to: string } {
  if (prefix.length === 0) return { from: 'i/', to: 'i0' }
  const ns = `i/${encodeNamespace(prefix)}`
  // '%' is the character right after '$': the range ends after the last child.
  return { from: `${ns}${KEY_SEP}`, to: `${ns}%` }
}

/** Where a scan resumes to skip the own items of `namespace` (and only them: its children come next). */
export const afterOwnItems = (namespace: readonly string[]): string => `i/${encodeNamespace(namespace)}"`

/** Where a scan resumes to skip `namespace` and everything under it. */
export const afterSubtree = (namespace: readonly string[]): string => prefixRange(namespace).to
