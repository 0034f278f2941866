/**
 * `npm run bench:load`: several tenants and tokens hammering the Worker in `wrangler dev` (127.0.0.1 only, bounded in
 * time and count): runs, state reads, history and thread listings, the storage API and sync pulls at once, plus
 * forged tokens. Reports requests/s, p50/p99 latency per kind, how many were rate-limited, and checks that no
 * tenant's data changed because of another's traffic. Writes bench/results/load-latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { removeDir, startServer, tempDir, tokenFor, type DevServer } from '../test/wrangler-fixture.js'

const quick = process.argv.includes('--quick')
const SECONDS = quick ? 8 : 20
const CONCURRENCY = 16
const MAX_REQUESTS = quick ? 3_000 : 10_000
const TENANTS = ['alpha', 'beta', 'gamma', 'delta']
const progress = (s: string) => process.stderr.write(`${s}\n`)

type Kind = 'run' | 'state' | 'history' | 'threads' | 'storage-get' | 'storage-commit' | 'sync-pull' | 'forged'
interface Sample {
  kind: Kind
  ms: number
  status: number
}

progress('starting wrangler dev...')
const persistTo = await tempDir()
const server: DevServer = await startServer(persistTo)
const samples: Sample[] = []
let checks: string[] = []
try {
  const admin = Object.fromEntries(await Promise.all(TENANTS.map(async (t) => [t, await tokenFor(server, { tenant: t, sub: `${t}-admin` })] as const)))
  const reader = Object.fromEntries(await Promise.all(TENANTS.map(async (t) => [t, await tokenFor(server, { tenant: t, sub: `${t}-reader`, rights: ['read'] })] as const)))
  // Each client as its own address (wrangler dev passes cf-connecting-ip through; Cloudflare sets it itself), so the
  // per-address limit counts as it would in production (loopback is not counted).
  const send = async (kind: Kind, method: string, path: string, token: string, body: unknown, client: number): Promise<Response> => {
    const t0 = performance.now()
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': `10.0.0.${client}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    await res.arrayBuffer()
    samples.push({ kind, ms: performance.now() - t0, status: res.status })
    return res
  }

  // Before the load: a sentinel thread per tenant, never touched during it.
  const sentinel = async (tenant: string) => {
    const res = await fetch(`${server.url}/v1/threads/sentinel/state`, { headers: { authorization: `Bearer ${admin[tenant]}`, 'cf-connecting-ip': '10.0.1.1' } })
    return res.status === 200 ? JSON.stringify(((await res.json()) as { values: unknown; checkpointId: string }).checkpointId) : `status ${res.status}`
  }
  for (const t of TENANTS) {
    const res = await fetch(`${server.url}/v1/threads/sentinel/runs`, { method: 'POST', headers: { authorization: `Bearer ${admin[t]}`, 'content-type': 'application/json', 'cf-connecting-ip': '10.0.1.1' }, body: JSON.stringify({ graph: 'counter', input: { target: 3 } }) })
    if (res.status !== 200) throw new Error(`setup run for ${t}: ${res.status} ${await res.text()}`)
  }
  const before = Object.fromEntries(await Promise.all(TENANTS.map(async (t) => [t, await sentinel(t)] as const)))

  progress(`load: ${CONCURRENCY} clients for ${SECONDS} s (at most ${MAX_REQUESTS} requests), ${TENANTS.length} tenants`)
  const deadline = Date.now() + SECONDS * 1000
  let issued = 0
  let n = 0
  const started = performance.now()
  const client = async (id: number) => {
    while (Date.now() < deadline && issued < MAX_REQUESTS) {
      issued++
      const tenant = TENANTS[(id + n++) % TENANTS.length] as string
      const thread = `load-${id}-${n % 5}`
      const pick = n % 10
      if (pick === 0) await send('run', 'POST', `/v1/threads/${thread}/runs`, admin[tenant] as string, { graph: 'counter', input: { target: 2 } }, id)
      else if (pick === 1) await send('state', 'GET', `/v1/threads/${thread}/state`, reader[tenant] as string, undefined, id)
      else if (pick === 2) await send('history', 'GET', `/v1/threads/${thread}/history?limit=5`, reader[tenant] as string, undefined, id)
      else if (pick === 3) await send('threads', 'GET', '/v1/storage/threads?limit=50', reader[tenant] as string, undefined, id)
      else if (pick === 4) await send('storage-get', 'POST', `/v1/storage/threads/raw-${id}/get`, reader[tenant] as string, { keys: ['h', 'k'] }, id)
      else if (pick === 5) await send('storage-commit', 'POST', `/v1/storage/threads/raw-${id}/commit`, admin[tenant] as string, { put: [['k', btoa(`${tenant}-${n}`)]] }, id)
      else if (pick === 6) await send('sync-pull', 'POST', `/v1/threads/${thread}/sync/pull`, reader[tenant] as string, { since: null }, id)
      else if (pick === 7) await send('forged', 'GET', `/v1/threads/${thread}/state`, `${(admin[tenant] as string).slice(0, -4)}AAAA`, undefined, id)
      else await send('state', 'GET', '/v1/threads/sentinel/state', reader[tenant] as string, undefined, id)
    }
  }
  const ticker = setInterval(() => progress(`  ${samples.length} requests`), 5000)
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => client(i)))
  clearInterval(ticker)
  const seconds = (performance.now() - started) / 1000

  // After: each tenant's sentinel is as it was; each tenant lists only its own threads, and its raw values are its own.
  // (From an address of its own; should the limiter still hold it, after its one-minute window.)
  const quiet = { 'cf-connecting-ip': '10.0.1.1' }
  const probe = await fetch(`${server.url}/v1/graphs`, { headers: { authorization: `Bearer ${admin[TENANTS[0] as string]}`, ...quiet } })
  if (probe.status === 429) {
    progress('rate limited after the load: waiting out the one-minute window before checking...')
    await new Promise((resolve) => setTimeout(resolve, 61_000))
  }
  checks = []
  for (const t of TENANTS) {
    const now = await sentinel(t)
    checks.push(`${t}: sentinel ${now === before[t] ? 'unchanged' : `CHANGED (${before[t]} -> ${now})`}`)
    const listed = (await (await fetch(`${server.url}/v1/storage/threads?limit=1000`, { headers: { authorization: `Bearer ${admin[t]}`, ...quiet } })).json()) as { threads: { thread: string }[] }
    const foreign = listed.threads.filter((x) => !/^(raw-\d+|load-\d+-\d|sentinel)$/.test(x.thread))
    checks.push(`${t}: ${listed.threads.length} threads listed, ${foreign.length} not its own`)
    for (let id = 0; id < CONCURRENCY; id++) {
      const res = await fetch(`${server.url}/v1/storage/threads/raw-${id}/get`, { method: 'POST', headers: { authorization: `Bearer ${admin[t]}`, 'content-type': 'application/json', ...quiet }, body: '{"keys":["k"]}' })
      if (res.status !== 200) continue
      const [value] = ((await res.json()) as { values: (string | null)[] }).values
      if (value !== null && value !== undefined && !atob(value).startsWith(`${t}-`)) checks.push(`${t}: raw-${id} holds ANOTHER TENANT'S value ${atob(value)}`)
    }
  }

  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? Number.NaN
  const kinds = [...new Set(samples.map((s) => s.kind))]
  const lines = [
    `Load against wrangler dev (127.0.0.1), ${os.cpus()[0]?.model ?? 'cpu'}: ${samples.length} requests in ${seconds.toFixed(1)} s = ${(samples.length / seconds).toFixed(0)} requests/s, ${CONCURRENCY} clients, ${TENANTS.length} tenants`,
    '',
    '| kind | requests | p50 ms | p99 ms | 2xx | 401 | 404 | 429 | other |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...kinds.map((k) => {
      const of = samples.filter((s) => s.kind === k)
      const count = (f: (s: number) => boolean) => of.filter((s) => f(s.status)).length
      return `| ${k} | ${of.length} | ${pct(of.map((s) => s.ms), 50).toFixed(1)} | ${pct(of.map((s) => s.ms), 99).toFixed(1)} | ${count((s) => s < 300)} | ${count((s) => s === 401)} | ${count((s) => s === 404)} | ${count((s) => s === 429)} | ${count((s) => s >= 300 && ![401, 404, 429].includes(s))} |`
    }),
    '',
    `rate-limited (429): ${samples.filter((s) => s.status === 429).length}; server errors (5xx): ${samples.filter((s) => s.status >= 500).length}`,
    ...checks,
  ]
  console.log(lines.join('\n'))
  const out = fileURLToPath(new URL('./results/load-latest.json', import.meta.url))
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true })
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), seconds, requests: samples.length, kinds: Object.fromEntries(kinds.map((k) => [k, samples.filter((s) => s.kind === k).length])), statuses: samples.reduce<Record<number, number>>((m, s) => ((m[s.status] = (m[s.status] ?? 0) + 1), m), {}), checks }, null, 2))
  progress(`wrote ${out}`)
  if (checks.some((c) => /CHANGED|ANOTHER|[1-9]\d* not its own/.test(c)) || samples.some((s) => s.status >= 500)) process.exitCode = 1
} finally {
  await server.dev.stop()
  await removeDir(persistTo)
}
