/** A warm process's memory for the Node bench processes (case.ts, server-case.ts); Node only, unlike common.ts. */

/**
 * Node flags for every bench process: a young generation that starts at its full size (16 MB semi-spaces, Node 20's
 * maximum on 64-bit), so `touchMemory` can fault it in before the warm-up and it is not grown during the timed run.
 */
export const WARM_MEMORY_FLAGS = ['--min-semi-space-size=16']

const ring: unknown[] = new Array(1024)
/**
 * Writes every page of the young generation once, before the warm-up: on the Firecracker VMs the bench runs on, the
 * first write to a 4 KB page costs ~11 µs (the second ~0.1), and while V8 grows its young generation a step that
 * allocates 13 KB paid 40-55 µs for this alone, for a few hundred steps (../shared/TOOLCHAIN.md). A long-running
 * server or a tab has touched its heap long before; so does every bench process, whichever engine it measures.
 * 64 MB of short-lived arrays: each semi-space is filled and scavenged a few times over.
 */
export function touchMemory(): void {
  // The young generation's size is not a test: it grows with what the process allocated before this call.
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)]
  const missing = WARM_MEMORY_FLAGS.filter((flag) => !given.includes(flag))
  if (missing.length > 0) throw new Error(`bench processes run with ${missing.join(' ')}: spawn them through bench/run.ts or bench/servers.ts`)
  for (let i = 0; i < 1 << 19; i++) ring[i & 1023] = [i, i, i, i, i, i, i, i, i, i, i, i, i, i]
  ring.fill(undefined)
}
