/** @module Applying a step's writes to the state: reducers, the one-writer rule for plain channels, schema validation. */
import { EdgegraphError } from '../errors.js'
import { START } from './command.js'
import { validateWith, type StandardSchemaV1 } from './schema.js'
import type { Scope } from './scope.js'
import type { GraphSpec } from './spec.js'

/** The writes of one task (or of the input, as START), in write order. */
export interface TaskWrites {
  node: string
  writes: [channel: string, value: unknown][]
}

/** The state after a step's writes, and which node wrote which channels. */
export interface Applied {
  values: Record<string, unknown>
  writes: Record<string, string[]>
}

/**
 * Applies writes to `base` in task order and returns the new state (a new object; `base` is untouched) and which
 * node wrote which channels. Throws `INVALID_UPDATE` for an unknown channel, two writers of a channel without a
 * reducer, a failing reducer or a value its schema refuses. Returns at once unless a schema validates (a schema may be
 * async): the run loop awaits only a promise, as each await is a turn of the microtask queue, and garbage.
 */
export function applyWrites(spec: GraphSpec, scope: Scope, base: Record<string, unknown>, tasks: TaskWrites[], validate = true): Applied | Promise<Applied> {
  const values = { ...base }
  const writtenBy = new Map<string, string>()
  const summary: Record<string, string[]> = {}
  const { channels, schema } = spec
  /** Whether a channel written has a schema of its own. */
  let checked = false
  for (const { node, writes } of tasks) {
    for (const [channel, update] of writes) {
      const channelSpec = channels.get(channel)
      if ((!channelSpec && !schema) || channel === '__proto__') {
        throw new EdgegraphError(
          'INVALID_UPDATE',
          `${node === START ? 'The input' : `Node "${node}"`} wrote unknown channel "${channel}" in ${scope.where()}. Channels: ${[...channels.keys()].join(', ') || '(none)'}.`,
          { context: scope.context(undefined, node === START ? undefined : node) },
        )
      }
      if (channelSpec?.reducer) {
        try {
          values[channel] = channelSpec.reducer(values[channel], update)
        } catch (err) {
          throw new EdgegraphError('INVALID_UPDATE', `The reducer of channel "${channel}" failed on the write of ${node === START ? 'the input' : `node "${node}"`}: ${(err as Error)?.message ?? err}`, {
            cause: err,
            context: { ...scope.context(undefined, node), channel },
          })
        }
      } else {
        const other = writtenBy.get(channel)
        if (other !== undefined && node !== START) {
          throw new EdgegraphError('INVALID_UPDATE', `Nodes "${other}" and "${node}" both wrote channel "${channel}" in one step: give it a reducer, or let one node write it.`, {
            context: { ...scope.context(undefined, node), channel },
          })
        }
        values[channel] = update
      }
      writtenBy.set(channel, node)
      if (channelSpec?.schema) checked = true
      const list = (summary[node] ??= [])
      if (!list.includes(channel)) list.push(channel)
    }
  }
  if (!validate || (!schema && !checked)) return { values, writes: summary }
  return validatedWrites(spec, scope, values, summary, writtenBy)
}

async function validatedWrites(spec: GraphSpec, scope: Scope, values: Record<string, unknown>, summary: Record<string, string[]>, writtenBy: Map<string, string>): Promise<Applied> {
  const { channels, schema } = spec
  for (const channel of writtenBy.keys()) {
    const channelSchema = channels.get(channel)?.schema
    if (channelSchema) values[channel] = await validated(scope, channelSchema, values[channel], `channel "${channel}"`, writtenBy.get(channel) as string)
  }
  if (schema && writtenBy.size > 0) return { values: (await validated(scope, schema, values, 'the state', [...new Set(writtenBy.values())].join(', '))) as Record<string, unknown>, writes: summary }
  return { values, writes: summary }
}

async function validated(scope: Scope, schema: StandardSchemaV1, value: unknown, what: string, writers: string): Promise<unknown> {
  const result = await validateWith(schema, value)
  if (result.ok) return result.value
  throw new EdgegraphError('INVALID_UPDATE', `The write of ${writers === START ? 'the input' : writers} made ${what} invalid in ${scope.where()}: ${result.problems}`, { context: scope.context() })
}
