// Database backups by the app's backup recipe (db-recipe.ts: the manifest's accessory backup commands, run as
// written inside that accessory's container; pg_dump -Fc with its password from the compose secret file in the DMS
// example), streamed to VAR_DIR/backups (0600), verified by the recipe's verify command, kept by count and age.
// Passwords never travel on argv: a recipe reads them from its secret files inside the container.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import { coreTarget, execArgs, quoteArgv, type Shell } from './compose.ts'
import { backupRecipe, NO_BACKUP, type BackupRecipe } from './db-recipe.ts'
import { OperationError, UsageError, errorMessage } from './errors.ts'
import { appOf } from './manifest/app-model.ts'
import { run, type RunResult } from './gateway.ts'
import type { Printer } from './ui.ts'

/** the migrations live in migrations.ts; importers keep importing them from here */
export * from './migrations.ts'

// ---------------------------------------------------------------- backups

/** The deadline of pg_dump (a restore gets twice this). */
export const BACKUP_TIMEOUT_MS = 30 * 60_000

/** psql's PGPASSWORD read from the compose secret file inside the container (PostgreSQL's row counts, tests). */
const WITH_PASSWORD = 'PGPASSWORD="$(cat /run/secrets/postgres_password)"; export PGPASSWORD; exec "$@"'

/** The app's backup recipe; refused (nothing changed) for an app without one. */
export function requireRecipe(config: Config): BackupRecipe {
  const r = backupRecipe(appOf(config))
  if (!r)
    throw new UsageError(
      `Can't back up or restore ${appOf(config).name}: ${NO_BACKUP} in ${appOf(config).file}. Nothing was changed.`,
      'Give the accessory that holds the data a backup: { command, restore } (README: Manifest reference).',
    )
  return r
}

/** One of the recipe's commands, run as the manifest writes it, in its accessory's container (compose exec -T). */
const recipeArgs = (config: Config, cmd: string[]) => execArgs(coreTarget(config), requireRecipe(config).accessory, cmd)

/** the recipe's dump command (pg_dump --format=custom for the DMS), writing to stdout */
export const recipeDumpArgs = (config: Config) => recipeArgs(config, requireRecipe(config).command)
/** the recipe's restore command (pg_restore --clean in one transaction for the DMS), reading stdin */
export const recipeRestoreArgs = (config: Config) => recipeArgs(config, requireRecipe(config).restore)
/**
 * psql -tA -c <sql> in the recipe's accessory, as the target's POSTGRES_USER on POSTGRES_DB over the local socket:
 * PostgreSQL's row counts (recorded with an off-host backup, compared by the restore drill) and the tests.
 */
export const psqlArgs = (config: Config, sql: string) =>
  recipeArgs(config, [
    'sh',
    '-c',
    WITH_PASSWORD,
    'sh',
    'psql',
    '-v',
    'ON_ERROR_STOP=1',
    '-tA',
    '-c',
    sql,
    '-h',
    '/var/run/postgresql',
    '-U',
    config.postgres.user,
    '-d',
    config.postgres.db,
  ])
/** the recipe's verify command (pg_restore --list for the DMS) in its container, reading the dump on stdin */
export const recipeVerifyArgs = (config: Config, verify: string[]) => recipeArgs(config, verify)

export type BackupFile = { file: string; name: string; time: Date; bytes: number }
export type RetentionPolicy = { keepCount: number; keepDays: number }

const BACKUP_RE = /^(.+)-(\d{8}T\d{6}Z)(?:-(.+))?\.dump$/

/** <db>-<time>-before-<version>.dump before a deploy; <db>-<time>.dump for a scheduled backup (no version). */
export function backupName(db: string, version: string | null, now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return `${db}-${stamp}${version ? `-before-${version}` : ''}.dump`
}

/** The time a backup was taken, from its name (the file's mtime for other names). */
export function backupTime(name: string, mtime: Date): Date {
  const m = BACKUP_RE.exec(name)
  if (!m) return mtime
  const s = m[2]!
  return new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
  )
}

/** Backups in a directory, newest first. Partial files (`.partial`) are not backups. */
export function listBackups(dir: string): BackupFile[] {
  let names: string[] = []
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  return names
    .filter((n) => n.endsWith('.dump'))
    .map((name) => {
      const file = path.join(dir, name)
      const st = fs.statSync(file)
      return { file, name, time: backupTime(name, st.mtime), bytes: st.size }
    })
    .sort((a, b) => b.time.getTime() - a.time.getTime() || b.name.localeCompare(a.name))
}

/**
 * Which backups the policy removes: everything beyond the newest keepCount, and among those
 * any older than keepDays, except that the newest backup is always kept.
 */
export function selectExpired(backups: readonly BackupFile[], policy: RetentionPolicy, now = new Date()): BackupFile[] {
  const sorted = [...backups].sort((a, b) => b.time.getTime() - a.time.getTime())
  const maxAge = policy.keepDays * 86_400_000
  return sorted.filter(
    (b, i) =>
      i > 0 &&
      (i >= Math.max(1, policy.keepCount) || (policy.keepDays > 0 && now.getTime() - b.time.getTime() > maxAge)),
  )
}

export function pruneBackups(dir: string, policy: RetentionPolicy, now = new Date()): BackupFile[] {
  const expired = selectExpired(listBackups(dir), policy, now)
  for (const b of expired) fs.rmSync(b.file, { force: true })
  return expired
}

/** The recipe's verify command on a dump (on the host when it has the program, else in the accessory's container). */
export async function pgRestoreList(
  config: Config,
  file: string,
): Promise<{ ok: boolean; entries: number; detail: string }> {
  const verify = requireRecipe(config).verify
  if (!verify) return { ok: true, entries: 0, detail: 'not verified (the backup recipe has no verify command)' }
  const [program, ...args] = verify as [string, ...string[]]
  const host = await run('command', ['-v', program], {
    nothrow: true,
    changes: false,
    action: `look for ${program}`,
  })
  let p: RunResult
  if (host.ok) {
    p = await run(program, [...args, file], { nothrow: true, changes: false, action: 'check the backup' })
  } else {
    const t = coreTarget(config)
    const fd = fs.openSync(file, 'r')
    try {
      p = await run('docker', recipeVerifyArgs(config, verify), {
        env: t.env,
        stdinFd: fd,
        nothrow: true,
        changes: false,
        action: 'check the backup',
      })
    } finally {
      fs.closeSync(fd)
    }
  }
  const entries = p.stdout.split('\n').filter((l) => l.trim() && !l.startsWith(';')).length
  return {
    ok: p.ok,
    entries,
    detail: p.ok ? `${entries} entries` : (p.stderr.trim().split('\n').pop() ?? `exit ${p.code}`),
  }
}

/** "12 KiB free" when the filesystem holding dir has less than 1 MiB left, else null. */
function diskFull(dir: string): string | null {
  try {
    const st = fs.statfsSync(dir)
    const free = st.bavail * st.bsize
    return free < 1024 * 1024 ? `${Math.floor(free / 1024)} KiB free` : null
  } catch {
    return null
  }
}

/**
 * pg_dump -Fc inside the postgres container, streamed to backups/<db>-<time>-before-<version>.dump
 * (0600), verified non-empty and readable by pg_restore --list, then the retention policy.
 */
export async function backupDatabase(
  sh: Shell,
  config: Config,
  dir: string,
  ui: Printer,
  o: { version: string | null; now?: Date },
): Promise<{ backup: BackupFile | null; entries: number; pruned: BackupFile[] }> {
  const name = backupName(config.postgres.db, o.version, o.now)
  const file = path.join(dir, name)
  const args = recipeDumpArgs(config)
  if (sh.dryRun) {
    ui.info(`${ui.c.cyan('[dry-run]')} docker ${quoteArgv(args)} > ${file}`)
    return { backup: null, entries: 0, pruned: [] }
  }
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const n of fs.readdirSync(dir)) if (n.endsWith('.partial')) fs.rmSync(path.join(dir, n), { force: true })
  const partial = `${file}.partial`
  ui.detail(`$ docker ${quoteArgv(args)} > ${partial}`)
  const fail = (why: string) => {
    fs.rmSync(partial, { force: true })
    const full = diskFull(dir)
    return new OperationError(
      `Can't back up the database: ${full ? `the disk holding ${dir} is full (${full}); ` : ''}${why}. The partial file was removed; nothing was changed.`,
      full
        ? `Free space on that disk (older backups in ${dir}, unused Docker images), then deploy again.`
        : 'Check the postgres container: docker compose logs postgres.',
    )
  }
  let p: RunResult
  try {
    const fd = fs.openSync(partial, 'w', 0o600)
    try {
      const t = coreTarget(config)
      p = await run('docker', args, {
        env: t.env,
        stdoutFd: fd,
        nothrow: true,
        timeoutMs: BACKUP_TIMEOUT_MS,
        action: 'back up the database',
      })
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch (e) {
    throw fail(`writing ${partial} failed (${errorMessage(e)})`)
  }
  const bytes = fs.statSync(partial).size
  if (!p.ok) throw fail(`pg_dump exited ${p.code}: ${ui.mask(p.stderr.trim().split('\n').slice(-2).join(' '))}`)
  if (bytes === 0) throw fail('pg_dump wrote nothing')
  const check = await pgRestoreList(config, partial)
  if (!check.ok) throw fail(`${requireRecipe(config).verify?.join(' ')} can't read the archive (${check.detail})`)
  fs.renameSync(partial, file)
  fs.chmodSync(file, 0o600)
  const pruned = pruneBackups(dir, config.backup)
  return { backup: { file, name, time: backupTime(name, new Date()), bytes }, entries: check.entries, pruned }
}
