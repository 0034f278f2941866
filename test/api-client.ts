/**
 * @module Calling the Worker's HTTP API from tests, wherever they run (Node against `wrangler dev` or an in-process
 * server, or inside workerd through `SELF`): building a request and reading any answer, JSON or not. Pure TypeScript.
 */

/** An answer as the tests look at it: `json` is the parsed body, or undefined when it is not JSON. */
export interface Answer {
  status: number
  json: any
  text: string
  headers: Headers
}

/** What to send: a JSON `body` (or a `raw` one), a bearer `token` (null: none) and extra headers. */
export interface Call {
  token: string | null
  body?: unknown
  raw?: string
  headers?: Record<string, string>
}

/** The fetch options of a {@link Call}: the body as JSON (content-type set unless given) or raw. */
export function requestInit(method: string, call: Call): RequestInit {
  const headers: Record<string, string> = { ...call.headers }
  if (call.token !== null) headers.authorization = `Bearer ${call.token}`
  let body: string | undefined
  if (call.raw !== undefined) body = call.raw
  else if (call.body !== undefined) {
    body = JSON.stringify(call.body)
    headers['content-type'] ??= 'application/json'
  }
  return { method, headers, ...(body === undefined ? {} : { body }) }
}

/** Reads an answer whole. */
export async function answerOf(response: Response): Promise<Answer> {
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, json, text, headers: response.headers }
}

export const threadPath = (thread: string, rest = ''): string => `/v1/threads/${encodeURIComponent(thread)}${rest}`

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
