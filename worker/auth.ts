/** @module Auth for the worker's HTTP APIs: HS256 JWT bearer tokens any JWT library can mint, or your own `authorize` hook. */
/*
 * Tokens are signed and verified with WebCrypto (HMAC SHA-256) directly: the secret is always an HMAC key (a JWT
 * library that guesses PEM keys from the secret's text would turn a secret containing "PRIVATE" into a broken key).
 *
 * Claims ({@link AuthClaims}):
 * - `tenant` (required): who owns the threads. 1 to 64 of `A-Z a-z 0-9 _ -` (no `/`, `:` or `.`), because the
 *   storage API namespaces every thread as `${tenant}/${thread}` (see `worker/storage-api.ts`): a tenant id
 *   can never contain the separator, so no thread id can forge another tenant's namespace.
 * - `prefix` (optional, default `''`): the token may only touch threads within it, matched by whole segments
 *   ({@link inPrefix}): `team-a/` covers `team-a/...`; `user-1` covers `user-1` and `user-1/...`, not `user-10`.
 * - `rights` (required): any of `read` (get, scan, list), `write` (commit, delete), `run` (the run API; implies
 *   `read`), `admin` (implies everything).
 * - `exp` (required): expiry, seconds since the epoch. `sub`, `iat`, `nbf`, `aud`, `iss` are optional and standard.
 *
 * Time: `exp`, `nbf` and `iat` get a clock-skew allowance (`clockSkewSeconds`, default 60); a token issued in the
 * future (`iat`) is refused, and so is one that lives longer than `maxLifetimeSeconds` (default 30 days, from `iat`
 * or from now). `audience` / `issuer`, when configured, must match the token's `aud` / `iss`.
 *
 * Failures are answered as JSON `{ error: { code, message } }`: 401 `UNAUTHORIZED` (missing or malformed header,
 * malformed token, wrong algorithm, forged signature, expired or not yet valid, bad claims; the message says
 * which, never the secret) and 403 `FORBIDDEN` (valid token without the right, or thread outside its prefix).
 * These two codes exist only on the wire: `adapters/remote.ts` turns them into `STORAGE_UNAVAILABLE`.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { fromBase64, toBase64 } from '../src/checkpoint/serde.js'

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

/** What {@link verifyToken} checks besides the signature (see the module notes for the defaults). */
export interface VerifyOptions {
  /** When set, the token's `aud` (a string or a list) must name one of these. */
  audience?: string | string[]
  /** When set, the token's `iss` must be exactly this. */
  issuer?: string
  /** Longest lifetime a token may have, `exp` minus `iat` (or minus now without `iat`). Default 30 days. */
  maxLifetimeSeconds?: number
  /** Allowance for clocks that disagree, applied to `exp`, `nbf` and `iat`. Default 60 s. */
  clockSkewSeconds?: number
}

/**
 * How requests are authenticated: HS256 JWTs signed with `secret` (at least 32 characters, not a short repeated
 * pattern), with optional {@link VerifyOptions}; or your own `authorize`.
 */
export type AuthOptions =
  | ({ secret: string } & VerifyOptions)
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

/** Why `secret` is too weak to sign tokens, or undefined when it will do. */
export function secretProblem(secret: unknown): string | undefined {
  if (typeof secret !== 'string' || secret.length < MIN_SECRET) return `the JWT secret must be a string of at least ${MIN_SECRET} characters`
  if (new Set(secret).size < 8) return 'the JWT secret is too simple (fewer than 8 different characters): use random bytes, e.g. `openssl rand -hex 32`'
  for (let period = 1; period <= 16 && period < secret.length; period++) {
    if ([...secret].every((ch, i) => i < period || ch === secret[i - period])) return 'the JWT secret is a short pattern repeated: use random bytes, e.g. `openssl rand -hex 32`'
  }
  return undefined
}

function checkSecret(secret: unknown): asserts secret is string {
  const problem = secretProblem(secret)
  if (problem !== undefined) throw new TypeError(problem)
}

const MAX_LIFETIME = 30 * 86_400
const CLOCK_SKEW = 60
const utf8 = new TextEncoder()
const keys = new Map<string, Promise<CryptoKey>>()

/** The HMAC SHA-256 key of a secret, imported once. */
function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (key === undefined) {
    key = crypto.subtle.importKey('raw', utf8.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    keys.set(secret, key)
  }
  return key
}

function base64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromBase64url(text: string): Uint8Array {
  return fromBase64(text.replace(/-/g, '+').replace(/_/g, '/'))
}

/** The JSON value a base64url part holds; throws when it is not one. */
function jsonPart(part: string): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(fromBase64url(part)))
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
  const data = `${base64url(utf8.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })))}.${base64url(utf8.encode(JSON.stringify(payload)))}`
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', await hmacKey(secret), utf8.encode(data)))
  return `${data}.${base64url(signature)}`
}

/**
 * Verifies an HS256 token: its form, the algorithm, the signature (constant time, by WebCrypto), then the time
 * claims (with `clockSkewSeconds`), the lifetime, `aud`/`iss` when configured, and the claims' shape.
 */
export async function verifyToken(secret: string, token: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  checkSecret(secret)
  const fail = (reason: AuthFailureReason, message: string): VerifyResult => ({ ok: false, reason, message })
  const parts = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(token)
  if (!parts) return fail('malformed', 'the bearer token is not a JWT (three base64url parts)')
  const [, headerPart, payloadPart, signaturePart] = parts as unknown as [string, string, string, string]
  let header: unknown
  try {
    header = jsonPart(headerPart)
  } catch {
    return fail('malformed', 'the JWT header is not valid base64url JSON')
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return fail('malformed', 'the JWT header is not a JSON object')
  const h = header as Record<string, unknown>
  // The algorithm a token names is not repeated back: only what is accepted.
  if (h.alg !== 'HS256') return fail('algorithm', 'the JWT algorithm is not accepted; tokens must be signed with HS256')
  if ((h.typ !== undefined && h.typ !== 'JWT') || h.crit !== undefined) return fail('malformed', 'the JWT header is invalid (typ must be JWT, no crit)')
  let signature: Uint8Array
  try {
    signature = fromBase64url(signaturePart)
  } catch {
    return fail('malformed', 'the JWT signature is not base64url')
  }
  const valid = await crypto.subtle.verify('HMAC', await hmacKey(secret), signature as Uint8Array<ArrayBuffer>, utf8.encode(`${headerPart}.${payloadPart}`))
  if (!valid) return fail('signature', 'the JWT signature does not match (forged or signed with another secret)')
  let payload: unknown
  try {
    payload = jsonPart(payloadPart)
  } catch {
    return fail('malformed', 'the JWT payload is not valid base64url JSON')
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return fail('claims', 'the JWT payload is not a JSON object of claims')
  const c = payload as Record<string, unknown>
  const now = Math.floor(Date.now() / 1000)
  const skew = options.clockSkewSeconds ?? CLOCK_SKEW
  const time = (name: string) => c[name] === undefined || (typeof c[name] === 'number' && Number.isFinite(c[name]))
  if (!time('iat') || !time('nbf')) return fail('claims', '"iat" and "nbf" must be numbers (seconds since the epoch)')
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) return fail('claims', 'the JWT has no "exp" (expiry) claim')
  if (c.exp + skew <= now) return fail('expired', `the JWT expired at ${new Date(c.exp * 1000).toISOString()}`)
  if (typeof c.nbf === 'number' && c.nbf > now + skew) return fail('expired', 'the JWT is not valid yet ("nbf")')
  if (typeof c.iat === 'number' && c.iat > now + skew) return fail('claims', 'the JWT was issued in the future ("iat"); check the issuer\'s clock')
  const maxLifetime = options.maxLifetimeSeconds ?? MAX_LIFETIME
  if (c.exp - (typeof c.iat === 'number' ? c.iat : now) > maxLifetime) return fail('claims', `the JWT lives longer than the ${maxLifetime} s this server accepts; mint a shorter-lived one`)
  if (options.issuer !== undefined && c.iss !== options.issuer) return fail('claims', 'the JWT is not from the expected issuer ("iss")')
  if (options.audience !== undefined) {
    const wanted = Array.isArray(options.audience) ? options.audience : [options.audience]
    const aud = Array.isArray(c.aud) ? c.aud : [c.aud]
    if (!aud.some((a) => typeof a === 'string' && wanted.includes(a))) return fail('claims', 'the JWT is not for this audience ("aud")')
  }
  const problem = claimsProblem(c)
  if (problem !== undefined) return fail('claims', `the JWT claims are invalid: ${problem}`)
  return { ok: true, claims: pick(c) }
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
      const result = await verifyToken(options.secret, match[1] as string, options)
      if (!result.ok) return authError(c, 401, result.message)
      claims = result.claims
    }
    c.set('auth', claims)
    await next()
  }
}
