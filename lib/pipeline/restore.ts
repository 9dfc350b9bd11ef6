// The database restore that rollback-production --restore-db adds: which backup (the one taken
// before the release being rolled back), asking first with its time, restoring, and auditing it.
import type { Store } from '../bluegreen.ts'
import { createShell } from '../compose.ts'
import type { Config } from '../config.ts'
import { requireRecipe, type BackupFile } from '../db.ts'
import { hasAccessory } from '../db-recipe.ts'
import { appOf } from '../manifest/app-model.ts'
import { chooseBackup, restoreDatabase } from '../db-restore.ts'
import { OperationError, RefusedError } from '../errors.ts'
import { confirm } from '../prompt.ts'
import type { Printer } from '../ui.ts'

/** The backup to restore when rolling back from `fromVersion`; refused when there is none. */
export function planRestore(
  backupsDir: string,
  fromVersion: string | null,
  config?: Config,
): { backup: BackupFile; steps: string[] } {
  if (config) requireRecipe(config)
  const backup = chooseBackup(backupsDir, fromVersion)
  if (!backup)
    throw new RefusedError(`Can't restore the database: there is no backup in ${backupsDir}. Nothing was changed.`)
  return {
    backup,
    steps: [
      `restore the database from ${backup.name}, taken ${backup.time.toISOString()}: every write since then is lost`,
      ...(config && !hasAccessory(appOf(config), 'redis') ? [] : ['empty the Redis cache']),
    ],
  }
}

/** Asks a second time, naming the backup's time and age: every write since then is lost. */
export async function confirmRestore(
  backup: BackupFile,
  o: { yes: boolean; ui: Printer; nowMs?: number; stdin?: { isTTY?: boolean } },
): Promise<void> {
  const at = backup.time.toISOString()
  const age = Math.round(((o.nowMs ?? Date.now()) - backup.time.getTime()) / 60_000)
  o.ui.warn(
    `The database will be restored to ${at} (${age} minutes ago) from ${backup.file}. Every write since then will be lost.`,
  )
  const yes = await confirm('restore the database', {
    yes: o.yes,
    ui: o.ui,
    stdin: o.stdin,
    question: `Restore the database to ${at} and lose every write since then?`,
  })
  if (!yes)
    throw new OperationError(
      "Can't roll back with --restore-db: the restore was not confirmed. Nothing was changed.",
      'Roll back without --restore-db to keep the data.',
    )
}

/** pg_restore of the backup, the Redis cache emptied, and the audit entry. */
export async function restoreFromBackup(
  config: Config,
  store: Store,
  ui: Printer,
  backup: BackupFile,
  o: { version: string; dryRun: boolean },
): Promise<void> {
  const sh = createShell(ui, { dryRun: o.dryRun })
  await ui.step(`Restoring the database from ${backup.name}`, () => restoreDatabase(sh, config, backup.file, ui))
  store.audit({
    action: 'restore-db',
    outcome: 'succeeded',
    version: o.version,
    detail: `${backup.name} (${backup.time.toISOString()})`,
  })
}
