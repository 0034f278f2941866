// Runs before `npm test`: the tests need Debian's Chromium (Playwright's own download cannot work on these machines),
// PostgreSQL and Redis (the server-store tests start their own throwaway servers on 127.0.0.1). Installs what is
// missing when we are root on Debian; otherwise says how, and fails. Same Chromium path rule as test/chromium/binary.ts,
// which the Chromium vitest projects check again when they start; test/servers/ finds the server binaries.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

const chrome = process.env.CHROME_PATH ?? '/usr/bin/chromium'
if (process.env.CHROME_PATH && !existsSync(chrome)) {
  console.error(`CHROME_PATH is set to ${chrome}, which does not exist.`)
  process.exit(1)
}
const onPath = (bin) => (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(`${dir}/${bin}`))
const postgres = () => existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`))

const needed = [
  { what: 'Chromium (browser tests)', pkg: 'chromium', present: () => existsSync(chrome) },
  { what: 'PostgreSQL (the postgres adapter and runner tests)', pkg: 'postgresql', present: postgres },
  { what: 'Redis (the redis adapter tests)', pkg: 'redis-server', present: () => onPath('redis-server') || existsSync('/usr/bin/redis-server') },
]
const missing = needed.filter((n) => !n.present())
if (missing.length === 0) process.exit(0)
const install = `apt-get update && apt-get install -y --no-install-recommends ${missing.map((m) => m.pkg).join(' ')}`
if (process.getuid?.() === 0 && existsSync('/etc/debian_version')) {
  console.error(`Missing for the tests: ${missing.map((m) => m.what).join(', ')}; installing: ${install}`)
  execSync(install, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (missing.every((m) => m.present())) process.exit(0)
}
console.error(`The tests need ${missing.map((m) => m.what).join(', ')}. Install with:\n  sudo ${install}${existsSync(chrome) ? '' : '\nor set CHROME_PATH to a Chromium binary.'}`)
process.exit(1)
