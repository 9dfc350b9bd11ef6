// Pure: the app's backup recipe, from its manifest (config.app): the accessory whose `backup` says how to dump and
// restore it (commands run in that accessory's container), and the restore drill's check. An app without one has
// no backup step: deploys skip it and say so, `backup run` and the restore drill have nothing to do.
import type { Manifest } from './manifest/types.ts'

export type BackupRecipe = {
  /** the accessory (its compose service) the commands run in */
  accessory: string
  /** writes the dump to stdout */
  command: string[]
  /** reads a dump on stdin */
  restore: string[]
  /** reads a dump on stdin and fails when it is unreadable (each line of its output: one entry); none: not verified */
  verify?: string[]
  /** the restore drill's integrity check (sh -c in the scratch container); DRILL_CHECK overrides it */
  check?: string
}

/** The plan's words for an app without a backup recipe. */
export const NO_BACKUP = 'no backup: the app has no accessory with a backup recipe'

/** The first accessory with a backup recipe, or null. */
export function backupRecipe(m: Manifest): BackupRecipe | null {
  const a = m.accessories.find((x) => x.backup)
  if (!a?.backup) return null
  return {
    accessory: a.name,
    command: a.backup.command,
    restore: a.backup.restore,
    ...(a.backup.verify ? { verify: a.backup.verify } : {}),
    ...(a.backup.check ? { check: a.backup.check } : {}),
  }
}

/** Whether the app has an accessory of this name (a cache to empty after a restore, say). */
export const hasAccessory = (m: Manifest, name: string): boolean => m.accessories.some((a) => a.name === name)
