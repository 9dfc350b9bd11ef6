// Reading the off-host backups: the list of snapshots (beside the local dumps), and verify:
// restic check of the repository, then the newest dump fetched back and read by pg_restore --list.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Config } from '../config.ts'
import { listBackups, pgRestoreList, type BackupFile } from '../db.ts'
import { OperationError } from '../errors.ts'
import type { Gateway } from '../gateway.ts'
import {
  checkArgs,
  dumpArgs,
  parseSnapshots,
  resticReason,
  resticRunner,
  snapshotDump,
  snapshotsArgs,
  type ResticRun,
  type Snapshot,
} from './restic.ts'
import { backupSettings, requireRepository, type BackupSettings } from './settings.ts'

export async function listSnapshots(restic: ResticRun, s: BackupSettings): Promise<Snapshot[]> {
  const r = await restic(snapshotsArgs(s), { changes: false, action: 'list the off-host backups' })
  if (!r.ok)
    throw new OperationError(
      `Can't list the backups in ${s.repository}: ${resticReason(r)}`,
      /wrong password|no key found/i.test(r.stderr)
        ? 'RESTIC_PASSWORD (or RESTIC_PASSWORD_FILE) must be the one the repository was created with.'
        : 'Check that the repository is reachable, or run: npx zx scripts/backup.ts run (it creates it).',
    )
  return parseSnapshots(r.stdout)
}

export async function listAll(
  sh: Gateway,
  config: Config,
  dir: string,
): Promise<{ local: BackupFile[]; offHost: Snapshot[]; repository: string }> {
  const s = backupSettings(config)
  requireRepository(s, 'list the off-host backups')
  return { local: listBackups(dir), offHost: await listSnapshots(resticRunner(sh, s), s), repository: s.repository }
}

/** The snapshot to restore: --snapshot (its id or short id), else the newest of this target. */
export function chooseSnapshot(snapshots: Snapshot[], wanted: string | null, repository: string): Snapshot {
  const found = wanted
    ? snapshots.find((x) => x.id === wanted || x.shortId === wanted || x.id.startsWith(wanted))
    : snapshots.find((x) => snapshotDump(x))
  if (!found)
    throw new OperationError(
      wanted
        ? `Can't find the backup snapshot ${wanted} in ${repository}`
        : `Can't find a backup in ${repository}: it holds no snapshot of this target`,
      wanted
        ? 'See the snapshots with: npx zx scripts/backup.ts list'
        : 'Take one with: npx zx scripts/backup.ts run --yes',
    )
  return found
}

/** Writes one file of a snapshot to `file` (0600). */
export async function fetchFile(restic: ResticRun, snapshot: Snapshot, name: string, file: string): Promise<void> {
  const fd = fs.openSync(file, 'w', 0o600)
  let r: Awaited<ReturnType<ResticRun>>
  try {
    r = await restic(dumpArgs(snapshot.id, name), { changes: false, stdoutFd: fd, action: `fetch ${name}` })
  } finally {
    fs.closeSync(fd)
  }
  if (!r.ok)
    throw new OperationError(
      `Can't fetch ${name} from snapshot ${snapshot.shortId}: ${resticReason(r)}`,
      'Run: npx zx scripts/backup.ts verify',
    )
}

/** A private temporary directory for fetched backups; removed by the caller. */
export function scratchDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dms-restore-'))
}

export type Verified = { repository: string; snapshot: string; dump: string; entries: number; snapshots: number }

export async function verifyBackups(sh: Gateway, config: Config): Promise<Verified> {
  const s = backupSettings(config)
  requireRepository(s, 'verify the off-host backups')
  const restic = resticRunner(sh, s)
  const snapshots = await listSnapshots(restic, s)
  const newest = chooseSnapshot(snapshots, null, s.repository)
  const check = await restic(checkArgs(), { changes: false, action: 'check the backup repository' })
  if (!check.ok)
    throw new OperationError(
      `Can't verify the backups in ${s.repository}: restic check failed: ${resticReason(check)}`,
      'Run restic check --read-data on the repository to see which data is damaged; take a new backup at once.',
    )
  const dump = snapshotDump(newest)!.dump
  const dir = scratchDir()
  try {
    const file = path.join(dir, dump)
    await fetchFile(restic, newest, dump, file)
    const list = await pgRestoreList(config, file)
    if (!list.ok || list.entries === 0)
      throw new OperationError(
        `Can't verify the newest backup ${dump} (snapshot ${newest.shortId}): pg_restore --list can't read it (${list.detail})`,
        'Take a new backup now (npx zx scripts/backup.ts run --yes) and find out why this one is damaged.',
      )
    return {
      repository: s.repository,
      snapshot: newest.id,
      dump,
      entries: list.entries,
      snapshots: snapshots.length,
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
