// The off-host backup settings of a target, read from the config: the restic repository, its
// password (RESTIC_PASSWORD or RESTIC_PASSWORD_FILE, from env/.env.<target>.local or the
// environment), the retention of snapshots, and the restore drill's check command and image.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { backupRecipe } from '../db-recipe.ts'
import { UsageError } from '../errors.ts'
import { appOf } from '../manifest/app-model.ts'

export type Keep = { daily: number; weekly: number; monthly: number }

export type BackupSettings = {
  /** a restic repository: a directory (a mounted disk), sftp:user@host:/path, s3:…; '' = no off-host copies */
  repository: string
  /** exactly one of the two is set when repository is */
  password: string
  passwordFile: string
  keep: Keep
  /** the restore drill's integrity check, run with sh -c inside the scratch database container: DRILL_CHECK, else the
   * manifest's backup check */
  drillCheck: string
  drillImage: string
  target: string
  db: string
  /** restic's local cache: VAR_DIR/restic-cache, with the toolkit's other runtime files */
  cacheDir: string
}

export function backupSettings(config: Config): BackupSettings {
  const b = config.offHostBackup
  return {
    repository: b.repository,
    password: b.password,
    passwordFile: b.passwordFile ? path.resolve(config.root, b.passwordFile) : '',
    keep: { ...b.keep },
    drillCheck: b.drillCheck || (backupRecipe(appOf(config))?.check ?? ''),
    drillImage: b.drillImage,
    target: config.target,
    db: config.postgres.db,
    cacheDir: path.join(config.varDir, 'restic-cache'),
  }
}

/** Problems that make off-host backups impossible, each naming its fix (empty: fine). */
export function settingsProblems(s: BackupSettings, o: { fileExists?: (f: string) => boolean } = {}): string[] {
  const exists = o.fileExists ?? ((f: string) => fs.existsSync(f))
  const problems: string[] = []
  if (!s.repository) {
    problems.push(
      'BACKUP_REPOSITORY is not set: set it to a restic repository (a directory on another disk, or sftp:user@host:/path)',
    )
    return problems
  }
  if (s.password && s.passwordFile)
    problems.push('both RESTIC_PASSWORD and RESTIC_PASSWORD_FILE are set: keep one of them')
  else if (!s.password && !s.passwordFile)
    problems.push(
      `no repository password: put RESTIC_PASSWORD in env/.env.${s.target}.local (0600), or RESTIC_PASSWORD_FILE naming a 0600 file`,
    )
  else if (s.password && s.password.length < 16)
    problems.push('RESTIC_PASSWORD is shorter than 16 characters: use a long random one (openssl rand -base64 32)')
  else if (s.passwordFile && !exists(s.passwordFile))
    problems.push(`RESTIC_PASSWORD_FILE names ${s.passwordFile}, which does not exist`)
  if (s.keep.daily + s.keep.weekly + s.keep.monthly === 0)
    problems.push(
      'BACKUP_KEEP_DAILY, BACKUP_KEEP_WEEKLY and BACKUP_KEEP_MONTHLY are all 0: restic would forget every snapshot',
    )
  return problems
}

/** Throws a UsageError (exit 2, nothing changed) naming every problem. */
export function requireRepository(s: BackupSettings, what: string): void {
  const problems = settingsProblems(s)
  if (problems.length)
    throw new UsageError(
      `Can't ${what}: ${problems.join('; ')}.`,
      'Set the values named above (README: Off-host backups); nothing was changed.',
    )
}

/** The environment restic reads its repository and password from (never argv). */
export function resticEnv(s: BackupSettings): Record<string, string> {
  return {
    RESTIC_REPOSITORY: s.repository,
    RESTIC_PASSWORD: s.password,
    RESTIC_PASSWORD_FILE: s.passwordFile,
    RESTIC_PASSWORD_COMMAND: '',
    RESTIC_PROGRESS_FPS: '0.2',
    RESTIC_CACHE_DIR: s.cacheDir,
  }
}
