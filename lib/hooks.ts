// Deploy hooks: executables in hooks/ (HOOKS_DIR overrides it) named pre-deploy, post-deploy,
// on-rollback, on-failure and smoke. Each runs without a shell, with the release in its
// environment (DMS_VERSION, DMS_SLOT, DMS_PREVIOUS_SLOT, DMS_TARGET, DMS_OUTCOME,
// DMS_BACKUP_FILE, DMS_BACKUP_SNAPSHOT) and without
// the toolkit's secrets. A missing hook is not an error; what a failing one means is the caller's.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import { CommandTimeoutError, run, type RunResult } from './gateway.ts'
import type { Printer } from './ui.ts'

export const HOOK_NAMES = ['pre-deploy', 'post-deploy', 'on-rollback', 'on-failure', 'smoke'] as const
export type HookName = (typeof HOOK_NAMES)[number]

export type HookContext = {
  version: string
  slot: string | null
  previousSlot: string | null
  target: string
  outcome: string
  /** the pre-deploy backup, once taken: its file and the restic snapshot of its off-host copy */
  backup?: { file: string | null; snapshot: string | null } | null
}

export type HookResult = {
  name: HookName
  ran: boolean
  ok: boolean
  code: number | null
  output: string
  ms: number
  detail: string
}

export function hooksDir(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(config.root, env.HOOKS_DIR || 'hooks')
}

const SECRET_KEY = /PASSWORD|TOKEN|SECRET|_KEY$|WEBHOOK_URL/

/** The hook's environment: ours without secrets, plus the DMS_* facts of this release. */
export function hookEnv(base: NodeJS.ProcessEnv, h: HookContext): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !SECRET_KEY.test(k)) out[k] = v
  return {
    ...out,
    DMS_VERSION: h.version,
    DMS_SLOT: h.slot ?? '',
    DMS_PREVIOUS_SLOT: h.previousSlot ?? '',
    DMS_TARGET: h.target,
    DMS_OUTCOME: h.outcome,
    DMS_BACKUP_FILE: h.backup?.file ?? '',
    DMS_BACKUP_SNAPSHOT: h.backup?.snapshot ?? '',
  }
}

/** Runs hooks/<name> when it exists and is executable. Never throws; the result says how it went. */
export async function runHook(
  name: HookName,
  h: HookContext,
  o: { dir: string; ui: Printer; timeoutMs?: number; cwd?: string },
): Promise<HookResult> {
  const file = path.join(o.dir, name)
  const started = Date.now()
  const result = (ran: boolean, ok: boolean, code: number | null, output: string, detail: string): HookResult => ({
    name,
    ran,
    ok,
    code,
    output,
    ms: Date.now() - started,
    detail,
  })
  if (!fs.existsSync(file)) return result(false, true, null, '', 'no hook')
  try {
    fs.accessSync(file, fs.constants.X_OK)
  } catch {
    o.ui.warn(`The hook ${file} is not executable, so it was not run (chmod +x it to use it).`)
    return result(false, true, null, '', 'not executable')
  }
  const timeoutMs = o.timeoutMs ?? 120_000
  let p: RunResult
  let stopped = ''
  try {
    p = await run(file, [], {
      cwd: o.cwd ?? path.dirname(o.dir),
      env: hookEnv(process.env, h),
      clearEnv: true,
      nothrow: true,
      timeoutMs,
      action: `run the ${name} hook`,
    })
  } catch (e) {
    // past its deadline, or the operation was interrupted: the hook's process group was killed
    stopped = e instanceof CommandTimeoutError ? 'timeout' : 'interrupted'
    p = { ok: false, code: null, stdout: '', stderr: '' }
  }
  const output = o.ui.mask((p.stdout + p.stderr).trim())
  for (const line of output.split('\n').filter(Boolean).slice(-20)) o.ui.info(`  ${o.ui.c.dim(`[${name}]`)} ${line}`)
  const detail = p.ok
    ? 'ok'
    : p.code === null
      ? `killed (${stopped || 'signal'}) after ${Math.round((Date.now() - started) / 1000)}s`
      : `exit ${p.code}`
  return result(true, p.ok, p.code, output, detail)
}
