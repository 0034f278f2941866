/**
 * @module The run API's request schemas (zod), separate from the Worker so they can be tested and fuzzed anywhere.
 * Objects are strict (an unknown field is an error, so a typo never silently does nothing); sizes are bounded.
 */
import { zValidator } from '@hono/zod-validator'
import { z } from 'zod'
import { badRequest } from './http.js'

export const GRAPH_NAME = /^[A-Za-z0-9_-]{1,64}$/
export const CHECKPOINT_ID = /^[0-9a-z]{11}$/

const json = z.json()
const stateUpdate = z.record(z.string().max(200), json)
const streamMode = z.enum(['values', 'updates'])
const runOptions = {
  graph: z.string().regex(GRAPH_NAME, 'must be 1 to 64 of A-Z a-z 0-9 _ -').optional(),
  checkpointId: z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id (11 characters, 0-9 a-z)').optional(),
  stream: z.union([streamMode, z.array(streamMode).min(1).max(2)]).optional(),
  recursionLimit: z.number().int().min(1).max(10_000).optional(),
  metadata: z.record(z.string().max(64), json).optional(),
  durability: z.enum(['sync', 'async', 'exit']).optional(),
}
export const schemas = {
  run: z.strictObject({
    ...runOptions,
    input: stateUpdate.nullable().optional(),
    command: z
      .strictObject({
        update: stateUpdate.optional(),
        goto: z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).min(1).max(64)]).optional(),
        resume: json.optional(),
      })
      .optional(),
  }),
  resume: z.union([z.strictObject({ ...runOptions, value: json }), z.strictObject({ ...runOptions, values: z.record(z.string().max(200), json) })]),
  update: z.strictObject({
    values: stateUpdate,
    asNode: z.string().min(1).max(200).optional(),
    checkpointId: runOptions.checkpointId,
    graph: runOptions.graph,
  }),
  retention: z.strictObject({
    ttlSeconds: z.number().int().min(1).max(10 * 365 * 86_400).nullable().optional(),
    keepLast: z.number().int().min(1).max(1_000_000).nullable().optional(),
  }),
  history: z.strictObject({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    before: z.string().regex(CHECKPOINT_ID).optional(),
    source: z.enum(['input', 'loop', 'update', 'fork']).optional(),
  }),
  diff: z.strictObject({ from: z.string().regex(CHECKPOINT_ID), to: z.string().regex(CHECKPOINT_ID) }),
  none: z.strictObject({}),
}

/** zod problems as one readable 400 message: `input.messages: expected array, received string; ...`. */
function invalid(where: string) {
  return (result: { success: boolean; error?: z.core.$ZodError | undefined }): void => {
    if (result.success || !result.error) return
    const problems = result.error.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join('.') : where}: ${i.message}`)
    throw badRequest(`invalid ${where}: ${problems.join('; ')}`)
  }
}
export const body = <S extends z.ZodType>(schema: S) => zValidator('json', schema, invalid('request body'))
export const query = <S extends z.ZodType>(schema: S) => zValidator('query', schema, invalid('query'))
