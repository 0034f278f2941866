/** @module State migrations: a graph's state version, and how the values of an older checkpoint are brought up to it. */
import { EdgegraphError } from '../errors.js'
import type { StateVersion } from '../checkpoint/history.js'
import type { GraphSpec } from './spec.js'

/**
 * `migrations[N]` of `compile({ version, migrations })`: takes the whole state of version N-1 and returns the whole
 * state of version N, as a new object (like a reducer, it must not change the old state in place). A method type, so
 * that a migration may annotate `state` with the old state's shape.
 *
 * @example
 * const migrations = { 2: ({ name, ...rest }: { name: string }) => ({ ...rest, fullName: name }) }
 */
export type Migration = { migrate(state: Record<string, unknown>): Record<string, unknown> }['migrate']

/** Checks `compile({ version, migrations })` (a migration for each version from 2 to `version`, and nothing else). */
export function stateVersion(spec: GraphSpec, version = 1, migrations: Record<number, Migration> = {}): StateVersion {
  let ok = Object.keys(migrations).length === version - 1
  for (let n = 2; n <= version; n++) ok &&= typeof migrations[n] === 'function'
  if (!ok) {
    const got = Object.entries(migrations).map(([n, m]) => `${n}: ${typeof m}`)
    throw new EdgegraphError('INVALID_ARGUMENT', `compile options: migrations must hold a function for each N from 2 to version (${version}), turning state of version N-1 into N, and nothing else; got { ${got.join(', ')} }`)
  }
  return {
    version,
    migrate(c) {
      let values = c.values
      for (let n = c.version + 1; n <= version; n++) {
        let out: unknown
        let error: unknown
        try {
          out = (migrations[n] as Migration)(values)
        } catch (err) {
          error = err
        }
        if (typeof out !== 'object' || !out) {
          const why = error === undefined ? 'it returned no state object' : ((error as Error)?.message ?? error)
          throw new EdgegraphError('INVALID_UPDATE', `migrations[${n}] failed on checkpoint "${c.id}" of thread "${c.threadId}": ${why}. Fix it; nothing was written.`, {
            cause: error,
            context: { threadId: c.threadId, checkpointId: c.id },
          })
        }
        values = out as Record<string, unknown>
      }
      // Channels the migrations did not fill start from their defaults, as in a new thread.
      values = { ...values }
      for (const [name, ch] of spec.channels) if (ch.default && !Object.hasOwn(values, name)) values[name] = ch.default()
      return values
    },
  }
}
