// Taking a backup that survives the host: row counts of the live database, pg_dump -Fc to
// VAR_DIR/backups (lib/db.ts: verified, kept by count and age), the counts beside it, then both
// copied into the restic repository (encrypted there) and the repository's retention applied.
// Used by `backup run` (cron) and by the deploy pipeline before it changes anything.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { coreTarget } from '../compose.ts'
import { backupDatabase, psqlArgs } from '../db.ts'
import { OperationError } from '../errors.ts'
import type { Gateway } from '../gateway.ts'
import type { Printer } from '../ui.ts'
import { COUNTS_SQL, countRows, type RowCounts } from './counts.ts'
import { backupArgs, ensureRepository, forgetArgs, parseBackupSummary, resticReason, resticRunner } from './restic.ts'
import { backupSettings, requireRepository } from './settings.ts'

export type TakenBackup = {
  file: string | null
  bytes: number
  entries: number
  /** local backups removed by BACKUP_KEEP_COUNT / BACKUP_KEEP_DAYS */
  pruned: number
  counts: RowCounts
  /** the restic snapshot holding the dump and its counts; null without a repository (or on --dry-run) */
  snapshot: string | null
  repository: string | null
}

export type CountsFile = { db: string; takenAt: string; counts: RowCounts }

export const countsName = (dumpName: string) => `${dumpName.replace(/\.dump$/, '')}.counts.json`

/** Counts files whose dump the local retention removed. */
export function orphanCounts(names: string[]): string[] {
  const dumps = new Set(names.filter((n) => n.endsWith('.dump')))
  return names.filter((n) => n.endsWith('.counts.json') && !dumps.has(n.replace(/\.counts\.json$/, '.dump')))
}

export async function takeBackup(
  sh: Gateway,
  config: Config,
  dir: string,
  ui: Printer,
  o: { version: string | null; offHost: 'required' | 'when-configured' },
): Promise<TakenBackup> {
  const s = backupSettings(config)
  const offHost = o.offHost === 'required' || s.repository !== ''
  if (offHost) requireRepository(s, 'copy the backup off the host')
  const restic = resticRunner(sh, s)
  if (offHost) await ensureRepository(restic, s)
  // counted just before pg_dump (under concurrent writes the two differ by what was written between),
  // only for off-host copies: the restore drill compares with them
  const counts = offHost
    ? await countRows(sh, psqlArgs(config, COUNTS_SQL), { env: coreTarget(config).env, what: 'the live database' })
    : {}
  const r = await backupDatabase(sh, config, dir, ui, { version: o.version })
  const taken: TakenBackup = {
    file: r.backup?.file ?? null,
    bytes: r.backup?.bytes ?? 0,
    entries: r.entries,
    pruned: r.pruned.length,
    counts,
    snapshot: null,
    repository: offHost ? s.repository : null,
  }
  const names = sh.dryRun ? [] : fs.readdirSync(dir)
  for (const n of orphanCounts(names)) fs.rmSync(path.join(dir, n), { force: true })
  if (!offHost) return taken
  const dump = r.backup?.name ?? 'the new dump'
  const sidecar = countsName(dump)
  if (!sh.dryRun) {
    const doc: CountsFile = { db: config.postgres.db, takenAt: new Date().toISOString(), counts }
    fs.writeFileSync(path.join(dir, sidecar), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 })
  }
  const up = await restic(backupArgs(s, [dump, sidecar]), { cwd: dir, action: 'copy the backup off the host' })
  if (!up.ok)
    throw new OperationError(
      `Can't copy the backup ${dump} off the host to ${s.repository}: ${resticReason(up)}. The local copy ${taken.file} is kept.`,
      'Check the repository (reachable, writable, enough space), then run: npx zx scripts/backup.ts run',
    )
  taken.snapshot = sh.dryRun ? null : parseBackupSummary(up.stdout)
  const forget = await restic(forgetArgs(s, s.keep), { action: 'apply the retention of off-host backups' })
  if (!forget.ok)
    ui.warn(
      `The backup is off the host (snapshot ${taken.snapshot}), but restic forget --prune failed: ${resticReason(forget)}. Old snapshots stay until the next run.`,
    )
  return taken
}
