/**
 * CI's last line (`tests: N passed, N failed`) counts what happened: real `vitest run`s of the fixtures in
 * test/ci-fixtures with test/ci/count-reporter.ts, for the runs the line used to misreport, plus the verdict rules.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ciLine, type Counts } from './count-reporter.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const reporter = fileURLToPath(new URL('./count-reporter.ts', import.meta.url))
let dir: string
let runs = 0

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'edgegraph-ci-counts-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))

interface Exit {
  status: number
  output: string
}

/** Runs `command` in the repository, with the VITEST* variables of this run removed; resolves when it exits. */
function exec(command: string[], env: Record<string, string>): Promise<Exit> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST')))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command, { cwd: root, env: { ...clean, ...env, NO_COLOR: '1' } })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', reject)
    child.on('close', (status) => resolve({ status: status ?? 1, output }))
  })
}

/** `vitest run` of the fixtures whose names contain `filters`, counted by the reporter: its exit, counts and CI line. */
async function runFixtures(...filters: string[]): Promise<Exit & { counts: Counts; line: string; exitCode: number }> {
  const file = path.join(dir, `counts-${runs++}.json`)
  const vitest = path.join(root, 'node_modules/vitest/vitest.mjs')
  const exit = await exec([vitest, 'run', '--config', 'test/ci-fixtures/vitest.config.ts', `--reporter=${reporter}`, ...filters], { EDGEGRAPH_COUNTS_FILE: file })
  const text = await readFile(file, 'utf8').catch(() => '')
  expect(text, `the reporter wrote no counts; vitest said:\n${exit.output}`).not.toBe('')
  const counts = JSON.parse(text) as Counts
  return { ...exit, counts, ...ciLine(counts, exit.status) }
}

describe('the CI line counts what vitest reported', { timeout: 60_000 }, () => {
  it.concurrent('a healthy run: passed, skipped on purpose, exit 0', async () => {
    const run = await runFixtures('passing')
    expect(run.status, run.output).toBe(0)
    expect(run.line).toBe('tests: 2 passed, 0 failed, 2 skipped')
    expect(run.exitCode).toBe(0)
  })

  it.concurrent('an unhandled rejection is a failure, though every test passed', async () => {
    const run = await runFixtures('unhandled-rejection')
    expect(run.status, 'vitest fails the run').toBe(1)
    expect(run.line).toBe('tests: 1 passed, 1 failed')
    expect(run.counts.failures).toEqual(['unhandled error: a rejection nobody handled'])
    expect(run.exitCode).toBe(1)
  })

  it.concurrent('a beforeAll that throws fails each test it kept from running (vitest shows them as skipped)', async () => {
    const run = await runFixtures('before-all-throws')
    expect(run.status).toBe(1)
    expect(run.line).toBe('tests: 0 passed, 3 failed, 1 skipped')
    expect(run.counts.failures).toEqual([
      '[ci-fixtures] before-all-throws.fixture.ts > uses the browser: did not run, its file failed first: could not start the browser',
      '[ci-fixtures] before-all-throws.fixture.ts > a group with its own setup > uses a tab: did not run, its file failed first: could not start the browser',
      '[ci-fixtures] before-all-throws.fixture.ts > a group with its own setup > uses another tab: did not run, its file failed first: could not start the browser',
    ])
    expect(run.exitCode).toBe(1)
  })

  it.concurrent('a file that fails at import counts as a failure next to a failing test', async () => {
    const run = await runFixtures('import-fails', 'one-test-fails')
    expect(run.status).toBe(1)
    expect(run.line).toBe('tests: 1 passed, 2 failed')
    expect(run.counts.failures).toHaveLength(2)
    expect(run.counts.failures[0]).toMatch(/^\[ci-fixtures\] import-fails\.fixture\.ts: SyntaxError: .*JSON/)
    expect(run.counts.failures[1]).toBe('[ci-fixtures] one-test-fails.fixture.ts > fails: AssertionError: a failing assertion: expected 4 to be 5 // Object.is equality')
    expect(run.exitCode).toBe(1)
  })
})

describe('the verdict', () => {
  const counts = (passed: number, failed: number, skipped = 0, reason: Counts['reason'] = failed > 0 ? 'failed' : 'passed'): Counts => ({ passed, failed, skipped, reason, failures: [] })

  it('is the counts when they agree with vitest', () => {
    expect(ciLine(counts(5, 0), 0)).toEqual({ line: 'tests: 5 passed, 0 failed', exitCode: 0, notes: [] })
    expect(ciLine(counts(5, 2, 1), 1)).toEqual({ line: 'tests: 5 passed, 2 failed, 1 skipped', exitCode: 1, notes: [] })
  })

  it('shows at least 1 failed when vitest exits non-zero with nothing counted as failed', () => {
    const verdict = ciLine(counts(5, 0), 1)
    expect(verdict.line).toBe('tests: 5 passed, 1 failed')
    expect(verdict.exitCode).toBe(1)
    expect(verdict.notes[0]).toContain('vitest exited with status 1 although no test failed')
  })

  it('shows at least 1 failed when vitest calls the run failed or interrupted', () => {
    expect(ciLine(counts(5, 0, 0, 'interrupted'), 0).line).toBe('tests: 5 passed, 1 failed')
  })

  it('fails a run that ran no test at all', () => {
    expect(ciLine(counts(0, 0, 3), 0)).toMatchObject({ line: 'tests: 0 passed, 1 failed, 3 skipped', exitCode: 1 })
  })

  it('fails when no counts were written (typecheck or start-up failed), through the script .ci/run calls', async () => {
    const tsx = path.join(root, 'node_modules/tsx/dist/cli.mjs')
    const run = await exec([tsx, 'test/ci/line.ts', path.join(dir, 'never-written.json'), '2'], {})
    expect(run.status).toBe(1)
    const lines = run.output.trim().split('\n')
    expect(lines.at(-1)).toBe('tests: 0 passed, 1 failed')
    expect(lines.at(-2)).toContain('no test counts were written')
  }, 30_000)
})
