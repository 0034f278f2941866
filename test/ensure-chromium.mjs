// Runs before `npm test`: the browser tests need Debian's Chromium (Playwright's own download cannot work
// on these machines). Installs it when missing and we are root on Debian; otherwise says how, and fails.
// Same path rule as test/chromium/binary.ts, which the Chromium vitest projects check again when they start.
import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const path = process.env.CHROME_PATH ?? '/usr/bin/chromium'
const install = 'apt-get update && apt-get install -y --no-install-recommends chromium'
if (existsSync(path)) process.exit(0)
if (process.env.CHROME_PATH) {
  console.error(`CHROME_PATH is set to ${path}, which does not exist.`)
  process.exit(1)
}
if (process.getuid?.() === 0 && existsSync('/etc/debian_version')) {
  console.error(`Chromium is missing; installing it for the browser tests: ${install}`)
  execSync(install, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  if (existsSync(path)) process.exit(0)
}
console.error(`The browser tests need Chromium at ${path}. Install it with:\n  sudo ${install}\nor set CHROME_PATH to a Chromium binary.`)
process.exit(1)
