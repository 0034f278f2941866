/** @module Helpers for the run API tests inside workerd: signed requests to the Worker (`SELF`), SSE parsing. */
import { env, SELF } from 'cloudflare:test'
import { expect } from 'vitest'
import { mintToken, type AuthClaims } from '../../worker/auth.js'
import { answerOf, requestInit, sleep, type Answer, type Call } from '../api-client.js'

export { sleep, threadPath, type Answer } from '../api-client.js'

export const SECRET = env.EDGEGRAPH_JWT_SECRET

let threads = 0
/** A thread id no other test uses. */
export const newThread = (name = 't'): string => `${name}-${Date.now().toString(36)}-${(threads++).toString(36)}`

export function token(claims: Partial<AuthClaims> = {}, expiresIn = 600): Promise<string> {
  return mintToken(SECRET, { tenant: 'acme', rights: ['admin'], ...claims }, { expiresIn })
}

/** Calls the Worker. `body` is sent as JSON unless `raw` is given; `auth` is a token (default: an admin one), or null for none. */
export async function call(method: string, path: string, options: Omit<Call, 'token'> & { auth?: string | null } = {}): Promise<Answer> {
  const { auth, ...rest } = options
  return answerOf(await SELF.fetch(`https://edgegraph.test${path}`, requestInit(method, { ...rest, token: auth === undefined ? await token() : auth })))
}


/** Server-Sent Events of a finished stream: `{ event, data }` with data parsed as JSON. */
export function parseSse(text: string): { event: string; data: any }[] {
  return text
    .split(/\n\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      let event = 'message'
      const data: string[] = []
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim()
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart())
      }
      return { event, data: JSON.parse(data.join('\n')) }
    })
}


/** Polls `read` until `done` holds (alarms run on their own schedule), for up to 5 s. */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read()
  for (let i = 0; i < 100 && !done(value); i++) {
    await sleep(50)
    value = await read()
  }
  expect(done(value), `condition not met; last value: ${JSON.stringify(value).slice(0, 300)}`).toBe(true)
  return value
}
