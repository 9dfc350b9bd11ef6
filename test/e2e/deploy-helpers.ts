// Shared by the deploy e2e suites (deploy, deploy-faults, staging): the dmst-deploy target
// (net 172.29.33, ports 20443/20444/20080/20090, postgres 20432, redis 20379), the release
// images, running the scripts with their output watched, and reading the database.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import type { DeployState } from '../../lib/model.ts'
import { coreTarget, createShell } from '../../lib/compose.ts'
import { psqlArgs } from '../../lib/db.ts'
import * as assert from 'uvu/assert'
import { readState } from '../../lib/state.ts'
import { ROOT, type RunResult } from '../helpers/run.ts'
import { BASE_IMAGE, buildImages, waitFor } from './harness.ts'
import { toolkitTarget, type ToolkitTarget } from './toolkit-env.ts'

export const PREFIX = 'dmst-deploy'
export const NET = '172.29.33'
export const V1 = 'e2e-d1'
export const V2 = 'e2e-d2'
export const V3 = 'e2e-d3'

/** A hooks directory with the given hooks (name -> shell script body); every hook logs to hooks.log. */
export function hooksDir(hooks: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-hooks-`))
  const log = path.join(dir, 'hooks.log')
  for (const name of ['pre-deploy', 'post-deploy', 'on-rollback', 'on-failure']) {
    const body = hooks[name] ?? 'exit 0'
    fs.writeFileSync(
      path.join(dir, name),
      `#!/bin/sh\necho "${name} $DMS_VERSION $DMS_SLOT $DMS_PREVIOUS_SLOT $DMS_TARGET $DMS_OUTCOME" >> ${log}\n${body}\n`,
      { mode: 0o755 },
    )
  }
  return dir
}

export function hookLog(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'hooks.log'), 'utf8').trim().split('\n').filter(Boolean)
  } catch {
    return []
  }
}

/** The production target of these suites; short windows so a deploy takes seconds. */
export function deployTarget(extra: Record<string, string> = {}): ToolkitTarget {
  return toolkitTarget(PREFIX, NET, 20, {
    VERIFY_WINDOW: '3s',
    DEPLOY_TIMEOUT: '90s',
    KEEP_PREVIOUS: '30m',
    SMOKE_REQUESTS: '200',
    SMOKE_DURATION_MS: '8000',
    SMOKE_MAX_P95_MS: '5000',
    DISK_MIN_FREE_MB: '100',
    SWITCH_MAX_P95_MS: '5000',
    HOOKS_DIR: hooksDir(),
    ...extra,
  })
}

/** Release images: 1 (migration 001), 2 (001-002: adds tags), 3 (adds 003: a summary column). */
export async function buildReleases(): Promise<void> {
  await buildImages([
    { version: V1, migrationsUntil: '001' },
    { version: V2, migrationsUntil: '002' },
  ])
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-v3-`))
  fs.writeFileSync(
    path.join(ctx, '003_add_document_summary.sql'),
    "-- expand: a summary column with a default\nALTER TABLE documents ADD COLUMN IF NOT EXISTS summary text NOT NULL DEFAULT '';\n",
  )
  fs.writeFileSync(
    path.join(ctx, 'Dockerfile'),
    `FROM dms/app:${V2}\nENV MIGRATIONS_UNTIL=\nCOPY 003_add_document_summary.sql /app/migrations/\n`,
  )
  const r = await $({ quiet: true, nothrow: true })`docker build -q --network host -t ${`dms/app:${V3}`} ${ctx}`
  fs.rmSync(ctx, { recursive: true, force: true })
  if (r.exitCode !== 0) throw new Error(`Can't build dms/app:${V3}: ${r.stderr}`)
  void BASE_IMAGE
}

export type Running = {
  pid: number
  output: () => string
  /** resolves when the output matches (polls with a deadline) */
  waitOutput: (re: RegExp, timeoutMs?: number) => Promise<void>
  done: Promise<RunResult>
}

/** Starts a script with its output watched (stdin closed, NO_COLOR), like a user runs it. */
export function startScript(
  t: ToolkitTarget,
  name: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 300_000,
): Running {
  const started = Date.now()
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', `${name}.ts`), ...args], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '', NO_COLOR: '1', ...t.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
  let exited = false
  void done.then(() => (exited = true))
  return {
    pid: child.pid!,
    output: () => stdout + stderr,
    waitOutput: (re, ms = 120_000) =>
      waitFor(
        `${name} to print ${re}`,
        async () => {
          if (re.test(stdout + stderr)) return true
          if (exited) throw new Error(`${name} exited before printing ${re}:\n${(stdout + stderr).slice(-3000)}`)
          return undefined
        },
        ms,
        50,
      ).then(() => undefined),
    done,
  }
}

export function deploy(
  t: ToolkitTarget,
  version: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Running {
  return startScript(t, 'deploy-production', ['--version', version, '--yes', ...args], env)
}

export function state(t: ToolkitTarget): DeployState {
  return readState(t.paths.state, 'production')
}

export async function sql(t: ToolkitTarget, query: string): Promise<string> {
  const r = await createShell(t.ui).docker(psqlArgs(t.config, query), {
    env: coreTarget(t.config).env,
    changes: false,
    action: 'query the database',
  })
  return r.stdout.trim()
}

/** "what it printed" for assertion messages. */
export function tail(r: { stdout: string; stderr: string }, n = 4000): string {
  return `\n--- output ---\n${(r.stdout + r.stderr).slice(-n)}`
}

/** Asserts a script run exited 0, showing the end of its output when it did not. */
export function assertExit0(r: { code: number | null; stderr: string; stdout: string }, what: string): void {
  assert.is(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-1000)}`)
}
