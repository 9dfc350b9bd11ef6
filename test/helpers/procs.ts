// The process table for tests that prove no child is left: a program that never answers (and
// ignores SIGTERM, with a grandchild), and a search of /proc by a tag in the command line.
import fs from 'node:fs'
import path from 'node:path'

/**
 * Writes `dir/name`: a CLI that never answers. It ignores SIGTERM and starts a grandchild whose
 * command line carries `tag`, so a test can see whether anything of it is left.
 */
export function hangingProgram(dir: string, name: string, tag: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(
    file,
    `#!/bin/bash\n# ${tag}: never answers, ignores SIGTERM\ntrap '' TERM\n(exec -a ${tag}-grandchild sleep 100000) &\nwhile :; do sleep 1; done\n`,
    { mode: 0o755 },
  )
  return file
}

/** Pids of processes whose command line contains `text` (this process excluded). */
export function processesMatching(text: string): number[] {
  const out: number[] = []
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ')
      const state = /^State:\s+(\w)/m.exec(fs.readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]
      if (cmd.includes(text) && state !== 'Z') out.push(Number(d))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Waits until no process matches (a killed group may take a moment to be reaped); returns what is left. */
export async function waitGone(text: string, ms: number): Promise<number[]> {
  const until = Date.now() + ms
  let left = processesMatching(text)
  while (left.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25))
    left = processesMatching(text)
  }
  return left
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
