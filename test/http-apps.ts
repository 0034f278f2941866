/**
 * @module A real node:http server on 127.0.0.1 for tests of fetch-style apps (the worker's Hono apps): each
 * mounted app gets its own URL prefix `/s/<id>`. Registers its own beforeAll/afterAll in the calling test file.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'

type App = { fetch: (request: Request) => Response | Promise<Response> }

/** Starts the server for this test file; `mount(app)` serves an app and returns its base URL. */
export function serveApps(): { mount: (app: App) => string } {
  const apps = new Map<string, App>()
  let server: Server
  let base = ''
  let nextId = 0

  beforeAll(async () => {
    server = createServer((req, res) => void handle(apps, req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
  })

  return {
    mount(app) {
      const id = String(nextId++)
      apps.set(id, app)
      return `${base}/s/${id}`
    },
  }
}

async function toRequest(req: IncomingMessage, url: string): Promise<Request> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else if (value !== undefined) headers.set(name, value)
  }
  const method = req.method ?? 'GET'
  return new Request(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }) })
}

async function send(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string> = {}
  response.headers.forEach((value, name) => (headers[name] = value))
  const body = Buffer.from(await response.arrayBuffer())
  res.writeHead(response.status, { ...headers, 'content-length': String(body.length) })
  res.end(body)
}

async function handle(apps: Map<string, App>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const match = /^\/s\/([^/]+)(\/.*)$/.exec(req.url ?? '')
    const app = match ? apps.get(match[1] as string) : undefined
    if (!match || !app) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'INVALID_ARGUMENT', message: 'no such app' } }))
      return
    }
    await send(await app.fetch(await toRequest(req, `http://127.0.0.1${match[2]}`)), res)
  } catch (err) {
    res.writeHead(500).end(String(err))
  }
}
