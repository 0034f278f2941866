/**
 * @module Which Chromium the browser tests use: Debian's (Playwright's own download cannot work on these machines),
 * or CHROME_PATH. Read by vitest.config.ts, the e2e harness and the browser benchmark; test/ensure-system.mjs
 * (`pretest`) installs it.
 */
import { existsSync } from 'node:fs'

export const chromiumPath = process.env.CHROME_PATH ?? '/usr/bin/chromium'

/** Flags that work headless on these machines (no sandbox as root, no network chatter). */
export const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Why the browser tests cannot run here, with the command that fixes it; undefined when Chromium is there. */
export function chromiumMissing(): string | undefined {
  if (existsSync(chromiumPath)) return undefined
  return (
    `Chromium not found at ${chromiumPath}: the browser tests need it. Install it with: ` +
    'apt-get update && apt-get install -y --no-install-recommends chromium (or set CHROME_PATH to a Chromium binary). ' +
    '`npm test` does this itself when run as root on Debian.'
  )
}
