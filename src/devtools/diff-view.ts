/** @module A JSON Patch between two checkpoints as lines a person can scan: `+ /path value`, `~ /path old → new`, `- /path`. */
import type { JsonPatchOperation } from '../checkpoint/patch.js'
import { h } from './dom.js'
import { at, brief } from './json.js'

/** One list item per operation; `before` is the state the patch starts from, for the old side of a replace. */
export function patchLines(ops: readonly JsonPatchOperation[], before: unknown): HTMLLIElement[] {
  return ops.map((op) => {
    const text =
      op.op === 'add' ? `+ ${op.path}  ${brief(op.value)}`
      : op.op === 'replace' ? `~ ${op.path}  ${brief(at(before, op.path))} → ${brief(op.value)}`
      : `- ${op.path}`
    return h('li', { class: op.op }, text)
  })
}
