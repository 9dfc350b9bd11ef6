// Runs a TypeScript entry point the way users do (node with tsx), with stdin closed.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export type RunResult = {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  ms: number
}

export function runTs(
  file: string,
  args: string[] = [],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string; onSpawn?: (pid: number) => void } = {},
): Promise<RunResult> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve(ROOT, file), ...args], {
      cwd: opts.cwd ?? ROOT,
      env: withoutForceColor({ ...process.env, NO_COLOR: '1', ...opts.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    if (child.pid) opts.onSpawn?.(child.pid)
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}

const madeDirs = new Set<string>()

/**
 * Removes a temporary directory when the test process exits (suites made hundreds of dms-env-*
 * dirs and never removed them). Only paths under the system temp dir.
 */
export function removeOnExit(dir: string): string {
  if (!path.resolve(dir).startsWith(os.tmpdir() + path.sep))
    throw new Error(`refusing to remove ${dir} on exit: not a temp dir`)
  if (madeDirs.size === 0)
    process.once('exit', () => {
      for (const d of madeDirs) fs.rmSync(d, { recursive: true, force: true })
    })
  madeDirs.add(dir)
  return dir
}

/** A temporary env dir holding copies of the committed env files, for tests that must not touch env/. Removed when the process exits. */
export function tempEnvDir(extra: Record<string, string> = {}): string {
  const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-env-')))
  for (const t of ['staging', 'production'])
    fs.copyFileSync(path.join(ROOT, 'env', `.env.${t}`), path.join(dir, `.env.${t}`))
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text, { mode: 0o600 })
  return dir
}

/** NO_COLOR and FORCE_COLOR together make Node warn on every start; tests want no colour. */
function withoutForceColor(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _drop, ...rest } = env
  return rest
}
