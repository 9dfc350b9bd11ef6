// restic, the tool that keeps the off-host copies: argv builders (pure), parsers of its JSON,
// and one runner through the gateway with the repository and password in the environment.
import type { Gateway, RunResult } from '../gateway.ts'
import { OperationError } from '../errors.ts'
import { resticEnv, type BackupSettings, type Keep } from './settings.ts'

/** restic's own deadline: an upload or a check of a large repository takes a while. */
export const RESTIC_TIMEOUT_MS = 60 * 60_000

/** The tags every snapshot of a target carries; list, forget and the drill select by them. */
export function snapshotTags(s: Pick<BackupSettings, 'target' | 'db'>): string[] {
  return ['dms-backup', `target=${s.target}`, `db=${s.db}`]
}
const tagFilter = (s: Pick<BackupSettings, 'target' | 'db'>) => ['--tag', snapshotTags(s).join(',')]

export const catConfigArgs = () => ['cat', 'config', '--no-lock']
export const initArgs = () => ['init']

/** Backs up files of one directory (run with cwd there): the snapshot holds /<name> for each. */
export function backupArgs(s: Pick<BackupSettings, 'target' | 'db'>, files: string[]): string[] {
  return ['backup', '--json', '--host', 'dms', ...snapshotTags(s).flatMap((t) => ['--tag', t]), '--', ...files]
}

export function snapshotsArgs(s: Pick<BackupSettings, 'target' | 'db'>): string[] {
  return ['snapshots', '--json', ...tagFilter(s)]
}

/** Retention: grouped by tags, since every snapshot holds different file names (the default groups by paths). */
export function forgetArgs(s: Pick<BackupSettings, 'target' | 'db'>, keep: Keep): string[] {
  return [
    'forget',
    '--json',
    '--prune',
    '--group-by',
    'tags',
    ...tagFilter(s),
    '--keep-daily',
    String(keep.daily),
    '--keep-weekly',
    String(keep.weekly),
    '--keep-monthly',
    String(keep.monthly),
  ]
}

export const checkArgs = () => ['check']
/** The content of one file of a snapshot, on stdout. */
export const dumpArgs = (snapshot: string, name: string) => ['dump', snapshot, `/${name}`]

export type Snapshot = { id: string; shortId: string; time: string; files: string[]; tags: string[] }

/** `restic snapshots --json`, newest first. */
export function parseSnapshots(stdout: string): Snapshot[] {
  let doc: unknown
  try {
    doc = JSON.parse(stdout.trim() || '[]')
  } catch {
    throw new OperationError(`Can't read restic's snapshot list: it is not JSON (${stdout.slice(0, 80)})`)
  }
  if (!Array.isArray(doc)) return []
  return doc
    .map((x: Record<string, unknown>) => ({
      id: String(x.id ?? ''),
      shortId: String(x.short_id ?? String(x.id ?? '').slice(0, 8)),
      time: String(x.time ?? ''),
      files: ((x.paths as string[]) ?? []).map((p) => p.split('/').pop() ?? p).sort(),
      tags: (x.tags as string[]) ?? [],
    }))
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time))
}

/** The snapshot id from `restic backup --json` (its summary line). */
export function parseBackupSummary(stdout: string): string | null {
  for (const line of stdout.trim().split('\n').reverse()) {
    try {
      const doc = JSON.parse(line) as Record<string, unknown>
      if (doc.message_type === 'summary' && typeof doc.snapshot_id === 'string') return doc.snapshot_id
    } catch {
      // a status line cut short
    }
  }
  return null
}

/** The dump (and its counts file) a snapshot holds. */
export function snapshotDump(s: Snapshot): { dump: string; counts: string | null } | null {
  const dump = s.files.find((f) => f.endsWith('.dump'))
  if (!dump) return null
  const counts = `${dump.replace(/\.dump$/, '')}.counts.json`
  return { dump, counts: s.files.includes(counts) ? counts : null }
}

/** The last line of restic's error output, for messages. */
export function resticReason(r: RunResult): string {
  return (
    r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .pop() ?? `exit ${r.code}`
  )
}

export type ResticRun = (
  args: string[],
  o?: { changes?: boolean; cwd?: string; stdoutFd?: number; action?: string },
) => Promise<RunResult>

/** A runner of restic for one repository: never throws on a non-zero exit (the callers word the error). */
export function resticRunner(sh: Gateway, s: BackupSettings): ResticRun {
  return (args, o = {}) =>
    sh.run('restic', args, {
      env: resticEnv(s),
      nothrow: true,
      timeoutMs: RESTIC_TIMEOUT_MS,
      changes: o.changes ?? true,
      action: o.action ?? `run restic ${args[0]}`,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.stdoutFd !== undefined ? { stdoutFd: o.stdoutFd } : {}),
    })
}

/** Creates the repository when there is none; a wrong password or an unreachable one is an error. */
export async function ensureRepository(restic: ResticRun, s: BackupSettings): Promise<'found' | 'created'> {
  const r = await restic(catConfigArgs(), { changes: false, action: 'open the restic repository' })
  if (r.ok) return 'found'
  const why = resticReason(r)
  if (/wrong password|no key found/i.test(r.stderr))
    throw new OperationError(
      `Can't open the backup repository ${s.repository}: wrong password`,
      'RESTIC_PASSWORD (or RESTIC_PASSWORD_FILE) must be the one the repository was created with.',
    )
  if (!/does not exist|Is there a repository|unable to open config file/i.test(r.stderr))
    throw new OperationError(
      `Can't open the backup repository ${s.repository}: ${why}`,
      'Check that it is reachable (the mount, or ssh to the SFTP host) and that restic can read it.',
    )
  const init = await restic(initArgs(), { action: 'create the restic repository' })
  if (!init.ok)
    throw new OperationError(
      `Can't create the backup repository ${s.repository}: ${resticReason(init)}`,
      'Check that the location is writable.',
    )
  return 'created'
}
