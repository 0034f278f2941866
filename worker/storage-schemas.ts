/** @module The storage API's request schemas (zod): strict objects, bounded printable keys, canonical base64 values. */
/*
 * Beside the run API's (`worker/schemas.ts`). Objects are strict (an unknown field is an error); stored keys (get,
 * put, del, guard) are printable ASCII of at most 1024 characters, scan bounds any string of at most 1024 (a client
 * resumes a scan from `last + "\0"`); values are strict, canonical base64; a request names at most 1000 keys or
 * entries.
 */
import { z } from 'zod'
import { fromBase64, toBase64 } from '../src/checkpoint/serde.js'

const MAX_KEY = 1024
const MAX_KEYS = 1000
const MAX_SCAN = 1000
/** Most threads one `GET /v1/storage/threads` page lists. */
export const MAX_THREADS_PAGE = 1000
const PRINTABLE = /^[\x20-\x7e]*$/
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

const anyKey = z.string({ error: 'must be a string' }).max(MAX_KEY, `must be at most ${MAX_KEY} characters`)
const storedKey = anyKey.regex(PRINTABLE, 'must be printable ASCII')
const storedKeys = z.array(storedKey, { error: 'must be an array of strings' }).max(MAX_KEYS, `must hold at most ${MAX_KEYS} entries`)

/** A base64 value as its bytes: canonical only (no stray bits in the last character), so what is read back is exactly what was sent. */
const bytes = z
  .string({ error: 'must be a base64 string' })
  .regex(BASE64, 'must be a base64 string')
  .transform((text, ctx) => {
    const decoded = fromBase64(text)
    if (toBase64(decoded) !== text) ctx.addIssue({ code: 'custom', message: 'must be canonical base64 (it decodes to bytes that encode differently)' })
    return decoded
  })

/** A query parameter holding a whole number from `min` to `max`, given at most once. */
const integerParam = (min: number, max: number) =>
  z
    .string({ error: 'must be given once' })
    .regex(/^-?\d{1,16}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`))

/** The storage API's bodies and the thread list's query, by route (see `worker/storage-api.ts`). */
export const storageSchemas = {
  /** `POST .../get`: `{ keys }`. */
  get: z.strictObject({ keys: storedKeys }),
  /** `POST .../scan`: `{ from?, to?, reverse?, limit }`. */
  scan: z.strictObject({
    from: anyKey.optional(),
    to: anyKey.optional(),
    reverse: z.boolean({ error: 'must be a boolean' }).optional(),
    limit: z.number({ error: `must be an integer from 1 to ${MAX_SCAN}` }).int(`must be an integer from 1 to ${MAX_SCAN}`).min(1, `must be an integer from 1 to ${MAX_SCAN}`).max(MAX_SCAN, `must be an integer from 1 to ${MAX_SCAN}`),
  }),
  /** `POST .../commit`: `{ put?: [key, base64 value][], del?: key[], guard?: { key, expect: base64 | null } }`. */
  commit: z.strictObject({
    put: z
      .array(z.tuple([storedKey, bytes], { error: 'must be a [key, base64 value] pair' }), { error: 'must be an array of [key, base64 value] pairs' })
      .max(MAX_KEYS, `must hold at most ${MAX_KEYS} entries`)
      .optional(),
    del: storedKeys.optional(),
    guard: z.strictObject({ key: storedKey, expect: bytes.nullable() }, { error: 'must be an object { key, expect }' }).optional(),
  }),
  /** `GET /v1/storage/threads?updatedBefore=&limit=&after=` (query values as Hono reads them: a string, or an array when repeated). */
  threads: z.strictObject({
    updatedBefore: integerParam(-8.64e15, 8.64e15).optional(),
    limit: integerParam(0, MAX_THREADS_PAGE).default(MAX_THREADS_PAGE),
    /** The cursor a previous page answered as `next`: `<updatedAt>:<thread>`. */
    after: z
      .string({ error: 'must be given once' })
      .max(MAX_KEY + 20)
      .regex(/^-?\d{1,16}:[\x20-\x7e]+$/, 'must be the "next" cursor of a previous page')
      .transform((text) => ({ updatedAt: Number(text.slice(0, text.indexOf(':'))), thread: text.slice(text.indexOf(':') + 1) }))
      .optional(),
  }),
}
