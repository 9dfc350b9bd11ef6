// Restoring a backup (rollback-production --restore-db): which backup, the recipe's restore command (pg_restore
// --clean in one transaction for the DMS) inside its accessory's container (the archive streamed on stdin), then
// the Redis cache emptied when the app has one. The backups themselves are made by db.ts.
import fs from 'node:fs'
import path from 'node:path'
import { coreTarget, execArgs, quoteArgv, type Shell } from './compose.ts'
import type { Config } from './config.ts'
import { BACKUP_TIMEOUT_MS, listBackups, recipeRestoreArgs, type BackupFile } from './db.ts'
import { hasAccessory } from './db-recipe.ts'
import { OperationError } from './errors.ts'
import { appOf } from './manifest/app-model.ts'
import { run, type RunResult } from './gateway.ts'
import type { Printer } from './ui.ts'

/** pg_restore --clean of a backup into the database, inside the postgres container, in one transaction. */
export async function restoreBackup(sh: Shell, config: Config, file: string, ui: Printer): Promise<void> {
  const args = recipeRestoreArgs(config)
  if (sh.dryRun) {
    ui.info(`${ui.c.cyan('[dry-run]')} docker ${quoteArgv(args)} < ${file}`)
    return
  }
  ui.detail(`$ docker ${quoteArgv(args)} < ${file}`)
  const fd = fs.openSync(file, 'r')
  let p: RunResult
  try {
    const t = coreTarget(config)
    p = await run('docker', args, {
      env: t.env,
      stdinFd: fd,
      nothrow: true,
      timeoutMs: 2 * BACKUP_TIMEOUT_MS,
      action: `restore ${path.basename(file)}`,
    })
  } finally {
    fs.closeSync(fd)
  }
  if (!p.ok)
    throw new OperationError(
      `Can't restore ${path.basename(file)}: ${args.includes('pg_restore') ? 'pg_restore' : 'the restore command'} exited ${p.code}: ${ui.mask(p.stderr.trim().split('\n').slice(-3).join(' '))}. It ran in one transaction, so the database is as it was.`,
      'Check the archive with: pg_restore --list <file>',
    )
}

/**
 * The backup to restore when rolling back from `fromVersion`: the newest one taken before that
 * release was deployed (its migrations ran after it), else the newest of all.
 */
export function chooseBackup(dir: string, fromVersion: string | null): BackupFile | null {
  const all = listBackups(dir)
  return all.find((b) => fromVersion && b.name.endsWith(`-before-${fromVersion}.dump`)) ?? all[0] ?? null
}

/** Empties the Redis cache (what was cached after the backup would be stale), password from the secret file. */
export const flushCacheArgs = (config: Config) =>
  execArgs(coreTarget(config), 'redis', [
    'sh',
    '-c',
    'REDISCLI_AUTH="$(cat /run/secrets/redis_password)"; export REDISCLI_AUTH; exec redis-cli FLUSHDB',
  ])

/** Restores a backup, then empties the cache (an app with a redis accessory). */
export async function restoreDatabase(sh: Shell, config: Config, file: string, ui: Printer): Promise<void> {
  await restoreBackup(sh, config, file, ui)
  if (!hasAccessory(appOf(config), 'redis')) return
  const r = await sh.docker(flushCacheArgs(config), {
    env: coreTarget(config).env,
    nothrow: true,
    action: 'empty the Redis cache',
  })
  if (!r.ok)
    ui.warn(
      `Can't empty the Redis cache (${r.stderr.trim().split('\n').pop()}); cached answers may be stale until they expire.`,
    )
}
