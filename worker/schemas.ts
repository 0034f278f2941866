/** @module The run API's request schemas (zod) and the validators that answer 400 naming the field. */
/*
 * Separate from the Worker so they can be tested and fuzzed anywhere. Objects are strict (an unknown field is an
 * error, so a typo never silently does nothing); sizes are bounded.
 */
import { zValidator } from '@hono/zod-validator'
import { z } from 'zod'
import { badRequest } from './http.js'

/** Registered graph names. */
export const GRAPH_NAME = /^[A-Za-z0-9_-]{1,64}$/
/** Checkpoint ids, as edgegraph makes them. */
export const CHECKPOINT_ID = /^[0-9a-z]{11}(?:[0-9a-z]{5})?$/

/** How deep request values may nest. Deeper ones are refused (400) before anything recursive touches them. */
export const MAX_JSON_DEPTH = 64

/**
 * The problem with a parsed JSON value, or undefined when it is fine: nested at most {@link MAX_JSON_DEPTH} deep, no
 * `__proto__` key anywhere (zod's records would silently drop it). Iterative, so no input can overflow the stack.
 */
export function jsonProblem(value: unknown): string | undefined {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number]
    if (v === null || typeof v === 'string' || typeof v === 'boolean') continue
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return 'numbers must be finite'
      continue
    }
    if (typeof v !== 'object') return `a ${typeof v} is not JSON`
    if (depth >= MAX_JSON_DEPTH) return `values may nest at most ${MAX_JSON_DEPTH} levels deep`
    if (Array.isArray(v)) {
      for (const item of v) stack.push([item, depth + 1])
      continue
    }
    if (Object.hasOwn(v, '__proto__')) return 'a "__proto__" key is not allowed'
    for (const item of Object.values(v)) stack.push([item, depth + 1])
  }
  return undefined
}

/** Any JSON value, bounded as {@link jsonProblem} says. */
const json = z.unknown().superRefine((value, ctx) => {
  if (value === undefined) ctx.addIssue({ code: 'custom', message: 'a value is required' })
  else {
    const problem = jsonProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  }
})
/** A JSON object of state channel values (checked whole first, so a `__proto__` key cannot be dropped unseen). */
const jsonRecord = (maxKey: number) =>
  z.unknown().superRefine((value, ctx) => {
    const problem = jsonProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem })
  }).pipe(z.record(z.string().max(maxKey), z.unknown()))
const stateUpdate = jsonRecord(200)
const streamMode = z.enum(['values', 'updates'])
const runOptions = {
  graph: z.string().regex(GRAPH_NAME, 'must be 1 to 64 of A-Z a-z 0-9 _ -').optional(),
  checkpointId: z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id (16 characters, or 11 for older ones, of 0-9 a-z)').optional(),
  stream: z.union([streamMode, z.array(streamMode).min(1).max(2)]).optional(),
  recursionLimit: z.number().int().min(1).max(10_000).optional(),
  metadata: jsonRecord(64).optional(),
  durability: z.enum(['sync', 'async', 'exit']).optional(),
}
/** What a sync client last saw of a thread (see `edgegraph/sync`). */
const syncMarks = z.strictObject({
  head: z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id').nullable().optional(),
  rev: z.string().max(64).nullable().optional(),
  pending: z.array(z.string().max(64)).max(1000).nullable().optional(),
})
/** The run API's bodies and queries, by route (see `worker/routes.ts`). */
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
  resume: z.union([z.strictObject({ ...runOptions, value: json }), z.strictObject({ ...runOptions, values: jsonRecord(200) })]),
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
    limit: z
      .string()
      .regex(/^[1-9]\d{0,2}$/, 'must be a whole number from 1 to 100')
      .transform(Number)
      .pipe(z.number().max(100, 'must be a whole number from 1 to 100'))
      .default(20),
    before: z.string().regex(CHECKPOINT_ID).optional(),
    source: z.enum(['input', 'loop', 'update', 'fork']).optional(),
  }),
  diff: z.strictObject({ from: z.string().regex(CHECKPOINT_ID), to: z.string().regex(CHECKPOINT_ID) }),
  none: z.strictObject({}),
  syncPull: z.strictObject({ since: syncMarks.nullable().optional() }),
  syncHas: z.strictObject({ ids: z.array(z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id')).max(1000) }),
  syncPush: z.strictObject({
    checkpoints: json.pipe(
      z.array(z.tuple([z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id'), z.record(z.string(), z.unknown()).nullable(), z.array(z.tuple([z.string().regex(/^(?:-in|\d{3})$/, 'must be a task number'), z.record(z.string(), z.unknown())])).max(1000)])).max(1000),
    ),
    graph: runOptions.graph,
  }),
  syncHead: z.strictObject({ id: z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id'), expect: z.string().regex(CHECKPOINT_ID, 'must be a checkpoint id').nullable() }),
}

/**
 * zod problems as one readable 400 message naming the fields: `invalid request body: input.messages: expected array,
 * received string; ...` (a problem with the whole body or query has no field: `invalid query: Unrecognized key: "x"`).
 */
function invalid(where: string) {
  return (result: { success: boolean; error?: z.core.$ZodError | undefined }): void => {
    if (result.success || !result.error) return
    const problems = result.error.issues.slice(0, 5).map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message))
    throw badRequest(`invalid ${where}: ${problems.join('; ')}`)
  }
}

/** Hono middleware validating the JSON body with `schema` (400 naming the fields otherwise); `c.req.valid('json')` reads it. */
export const body = <S extends z.ZodType>(schema: S) => zValidator('json', schema, invalid('request body'))
/** Hono middleware validating the query with `schema`; `c.req.valid('query')` reads it. */
export const query = <S extends z.ZodType>(schema: S) => zValidator('query', schema, invalid('query'))

/**
 * `value` as `schema` parses it, or a 400 naming the fields that are wrong (`where` is `request body` or `query`):
 * for handlers that must check the caller before they validate the request.
 */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'request body' | 'query'): z.output<S> {
  const result = schema.safeParse(value)
  invalid(where)(result)
  return result.data as z.output<S>
}
