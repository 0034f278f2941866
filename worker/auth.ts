/** @module Auth for the worker's HTTP APIs: HS256 JWT bearer tokens any JWT library can mint, or your own `authorize` hook. */
/*
 * Tokens are verified with WebCrypto through `hono/jwt`.
 *
 * Claims ({@link AuthClaims}):
 * - `tenant` (required): who owns the threads. 1 to 64 of `A-Z a-z 0-9 _ -` (no `/`, `:` or `.`), because the
 *   storage API namespaces every thread as `${tenant}/${thread}` (see `worker/storage-api.ts`): a tenant id
 *   can never contain the separator, so no thread id can forge another tenant's namespace.
 * - `prefix` (optional, default `''`): the token may only touch threads within it, matched by whole segments
 *   ({@link inPrefix}): `team-a/` covers `team-a/...`; `user-1` covers `user-1` and `user-1/...`, not `user-10`.
 * - `rights` (required): any of `read` (get, scan, list), `write` (commit, delete), `run` (the run API; implies
 *   `read`), `admin` (implies everything).
 * - `exp` (required): expiry, seconds since the epoch. `sub`, `iat`, `nbf` are optional and standard.
 *
 * Failures are answered as JSON `{ error: { code, message } }`: 401 `UNAUTHORIZED` (missing or malformed header,
 * malformed token, wrong algorithm, forged signature, expired or not yet valid, bad claims; the message says
 * which, never the secret) and 403 `FORBIDDEN` (valid token without the right, or thread outside its prefix).
 * These two codes exist only on the wire: `adapters/remote.ts` turns them into `STORAGE_UNAVAILABLE`.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { decode, sign, verify } from 'hono/jwt'

/**
 * What a token may do: `read` (state, history, get, scan, list), `run` (runs and updates; implies read), `write`
 * (commit, delete, retention), `admin` (everything).
 */
export type Right = 'read' | 'run' | 'write' | 'admin'

/** The claims of a token (standard JWT claims plus `tenant`, `prefix` and `rights`). */
export interface AuthClaims {
  /** Subject (user id), informational. */
  sub?: string
  /** Tenant owning the threads: `[A-Za-z0-9_-]{1,64}`. */
  tenant: string
  /** Allowed thread id prefix (default `''`: every thread of the tenant). */
  prefix?: string
  /** What the token may do. */
  rights: Right[]
  /** Expiry in seconds since the epoch. */
  exp: number
}

/** Hono env of apps using {@link requireAuth}: the verified claims are `c.get('auth')`. */
export type AuthEnv = { Variables: { auth: AuthClaims } }

/** Why a token was refused (all are answered 401). */
export type AuthFailureReason = 'missing' | 'malformed' | 'algorithm' | 'signature' | 'expired' | 'claims'

/** What {@link verifyToken} finds: the claims, or why the token is refused, in words the client may see. */
export type VerifyResult = { ok: true; claims: AuthClaims } | { ok: false; reason: AuthFailureReason; message: string }

/** How requests are authenticated: HS256 JWTs signed with `secret` (at least 32 characters), or your own `authorize`. */
export type AuthOptions =
  | { secret: string }
  | {
      /** Your own auth: the caller's claims, or `undefined` to refuse with 401. Thrown errors also give 401. */
      authorize: (request: Request) => Promise<AuthClaims | undefined>
    }

/** Tenant ids: no `/`, `:` or `.`, so a tenant can never name another's threads. */
export const TENANT_ID = /^[A-Za-z0-9_-]{1,64}$/
const RIGHTS: readonly Right[] = ['read', 'run', 'write', 'admin']
const MIN_SECRET = 32

/**
 * Whether thread id `thread` is within a token's `prefix`, by whole segments: `''` matches every thread, `user-1/`
 * the threads under it, and `user-1` that thread and the threads under it (`user-1/...`), never `user-10` or `user-1x`.
 */
export function inPrefix(thread: string, prefix: string): boolean {
  if (prefix === '' || prefix.endsWith('/')) return thread.startsWith(prefix)
  return thread === prefix || thread.startsWith(`${prefix}/`)
}

/** True when `claims` grant `right` (admin implies all; run implies read). */
export function hasRight(claims: AuthClaims, right: Right): boolean {
  const rights = claims.rights
  return rights.includes('admin') || rights.includes(right) || (right === 'read' && rights.includes('run'))
}

function checkSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET) {
    throw new TypeError(`the JWT secret must be a string of at least ${MIN_SECRET} characters`)
  }
}

/** The claims' problem, or undefined when they are well formed (expiry is not checked here). */
function claimsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'claims must be an object'
  const c = value as Record<string, unknown>
  if (typeof c.tenant !== 'string' || !TENANT_ID.test(c.tenant)) return '"tenant" must be 1 to 64 of A-Z a-z 0-9 _ -'
  if (c.prefix !== undefined && (typeof c.prefix !== 'string' || c.prefix.length > 200)) return '"prefix" must be a string of at most 200 characters'
  if (!Array.isArray(c.rights) || !c.rights.every((r) => RIGHTS.includes(r as Right))) return `"rights" must be an array of ${RIGHTS.join(', ')}`
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) return '"exp" (expiry, seconds since the epoch) is required'
  if (c.sub !== undefined && typeof c.sub !== 'string') return '"sub" must be a string'
  return undefined
}

function pick(c: Record<string, unknown>): AuthClaims {
  return {
    ...(typeof c.sub === 'string' ? { sub: c.sub } : {}),
    tenant: c.tenant as string,
    prefix: (c.prefix as string | undefined) ?? '',
    rights: [...(c.rights as Right[])],
    exp: c.exp as number,
  }
}

/**
 * Mints an HS256 token (a development helper; any JWT library can mint the same tokens).
 * `exp` defaults to now + `expiresIn` seconds (default 3600).
 */
export async function mintToken(
  secret: string,
  claims: Omit<AuthClaims, 'exp'> & { exp?: number },
  options: { expiresIn?: number } = {},
): Promise<string> {
  checkSecret(secret)
  const now = Math.floor(Date.now() / 1000)
  const payload = { ...claims, iat: now, exp: claims.exp ?? now + (options.expiresIn ?? 3600) }
  const problem = claimsProblem(payload)
  if (problem !== undefined) throw new TypeError(`mintToken: ${problem}`)
  return sign(payload, secret, 'HS256')
}

/** Verifies an HS256 token: signature first, then expiry (`exp` required), `nbf`, and the claims' shape. */
export async function verifyToken(secret: string, token: string): Promise<VerifyResult> {
  checkSecret(secret)
  const fail = (reason: AuthFailureReason, message: string): VerifyResult => ({ ok: false, reason, message })
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) return fail('malformed', 'the bearer token is not a JWT (three base64url parts)')
  let alg: unknown
  try {
    alg = (decode(token).header as { alg?: unknown }).alg
  } catch {
    return fail('malformed', 'the JWT header is not valid base64url JSON')
  }
  if (alg !== 'HS256') return fail('algorithm', `JWT algorithm ${JSON.stringify(alg ?? null)} is not accepted; tokens must be signed with HS256`)
  let payload: Record<string, unknown>
  try {
    // Time claims are checked below, after the signature, so a forged token learns nothing about them.
    payload = await verify(token, secret, { alg: 'HS256', exp: false, nbf: false, iat: false })
  } catch (err) {
    const name = err instanceof Error ? err.name : ''
    if (name === 'JwtTokenSignatureMismatched') return fail('signature', 'the JWT signature does not match (forged or signed with another secret)')
    if (name === 'JwtHeaderInvalid') return fail('malformed', 'the JWT header is invalid (typ must be JWT, no crit)')
    return fail('malformed', 'the JWT is malformed')
  }
  const now = Math.floor(Date.now() / 1000)
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return fail('claims', 'the JWT has no "exp" (expiry) claim')
  if (payload.exp <= now) return fail('expired', `the JWT expired at ${new Date(payload.exp * 1000).toISOString()}`)
  if (payload.nbf !== undefined && (typeof payload.nbf !== 'number' || payload.nbf > now)) return fail('expired', 'the JWT is not valid yet ("nbf")')
  const problem = claimsProblem(payload)
  if (problem !== undefined) return fail('claims', `the JWT claims are invalid: ${problem}`)
  return { ok: true, claims: pick(payload) }
}

/** The JSON answer for an auth failure. */
export function authError(c: Context, status: 401 | 403, message: string): Response {
  if (status === 401) c.header('www-authenticate', 'Bearer error="invalid_token"')
  return c.json({ error: { code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message } }, status)
}

/**
 * Middleware requiring a valid bearer token (or your `authorize` hook's approval); sets `c.get('auth')` to the
 * claims. Rights and prefixes are checked by the routes, which know what each request touches.
 */
export function requireAuth(options: AuthOptions): MiddlewareHandler<AuthEnv> {
  if ('secret' in options) checkSecret(options.secret)
  return async (c, next) => {
    let claims: AuthClaims
    if ('authorize' in options) {
      let result: AuthClaims | undefined
      try {
        result = await options.authorize(c.req.raw)
      } catch {
        return authError(c, 401, 'the request was not authorized')
      }
      if (result === undefined) return authError(c, 401, 'the request was not authorized')
      const problem = claimsProblem(result)
      if (problem !== undefined) {
        console.error(`authorize hook returned invalid claims: ${problem}`)
        return authError(c, 401, 'the request was not authorized')
      }
      if (result.exp <= Date.now() / 1000) return authError(c, 401, 'the credentials have expired')
      claims = pick(result as unknown as Record<string, unknown>)
    } else {
      const header = c.req.header('authorization')
      if (header === undefined || header === '') return authError(c, 401, 'missing Authorization header; send "Authorization: Bearer <JWT>"')
      const match = /^Bearer ([^\s]+)$/i.exec(header.trim())
      if (!match) return authError(c, 401, 'malformed Authorization header; expected "Bearer <JWT>"')
      const result = await verifyToken(options.secret, match[1] as string)
      if (!result.ok) return authError(c, 401, result.message)
      claims = result.claims
    }
    c.set('auth', claims)
    await next()
  }
}
