// The restore drill (the quarterly disaster-recovery test as a command): fetch the newest (or a
// chosen) off-host backup, restore it into a scratch PostgreSQL container, compare the row count
// of every table with the counts recorded at backup time, run the check command, report the
// time to restore, record the metric. The scratch container and the fetched files are removed
// at the end, on failure and on interrupt too.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { OperationError, errorMessage } from '../errors.ts'
import type { Gateway, RunResult } from '../gateway.ts'
import type { Printer } from '../ui.ts'
import { COUNTS_SQL, compareCounts, countRows, describeDiffs, type RowCounts } from './counts.ts'
import { chooseSnapshot, fetchFile, listSnapshots, scratchDir } from './inspect.ts'
import { recordDrill } from './metric.ts'
import { resticReason, resticRunner, snapshotDump, type Snapshot } from './restic.ts'
import {
  checkCommandArgs,
  newScratchPassword,
  removeScratch,
  restoreArgs,
  scratchName,
  scratchPsqlArgs,
  startScratch,
  type Scratch,
} from './scratch.ts'
import { backupSettings, requireRepository } from './settings.ts'
import type { CountsFile } from './take.ts'

export type DrillPlan = {
  steps: string[]
  repository: string
  snapshot: Snapshot
  dump: string
  counts: string | null
  scratch: Scratch
  check: string
}

export async function planDrill(
  sh: Gateway,
  config: Config,
  o: { snapshot: string | null; now?: Date },
): Promise<DrillPlan> {
  const s = backupSettings(config)
  requireRepository(s, 'run the restore drill')
  const snapshot = chooseSnapshot(await listSnapshots(resticRunner(sh, s), s), o.snapshot, s.repository)
  const files = snapshotDump(snapshot)
  if (!files)
    throw new OperationError(
      `Can't run the restore drill on snapshot ${snapshot.shortId}: it holds no .dump file`,
      'Choose another with --snapshot (see: npx zx scripts/backup.ts list).',
    )
  const scratch: Scratch = {
    name: scratchName(config.composeProject, o.now),
    image: s.drillImage,
    user: config.postgres.user,
    db: config.postgres.db,
    project: config.composeProject,
  }
  return {
    repository: s.repository,
    snapshot,
    dump: files.dump,
    counts: files.counts,
    scratch,
    check: s.drillCheck,
    steps: [
      `fetch ${files.dump}${files.counts ? ` and ${files.counts}` : ''} from snapshot ${snapshot.shortId} (${snapshot.time}) in ${s.repository}`,
      `start the scratch database ${scratch.name} (${scratch.image}, no network)`,
      `restore ${files.dump} into it with pg_restore --single-transaction`,
      files.counts
        ? 'compare the row count of every table with the counts recorded at backup time'
        : 'count the rows of every table (this backup recorded no counts to compare with)',
      s.drillCheck ? `run the check: ${s.drillCheck}` : 'no check command (DRILL_CHECK is empty)',
      `remove ${scratch.name} and the fetched files; record the drill in ${DRILL_METRIC}`,
    ],
  }
}

const DRILL_METRIC = 'metrics/restore-drill.prom'

export type DrillResult = {
  snapshot: string
  dump: string
  container: string
  /** fetch + start + restore, in seconds: the time to restore */
  restoreSeconds: number
  phases: { fetchMs: number; startMs: number; restoreMs: number }
  counts: RowCounts
  /** null when the backup recorded no counts */
  countsMatch: boolean | null
  rows: number
  check: { command: string; output: string } | null
  removed: boolean
  metricFile: string | null
}

export async function runDrill(
  sh: Gateway,
  config: Config,
  metricsDir: string,
  ui: Printer,
  plan: DrillPlan,
  signal?: AbortSignal,
): Promise<DrillResult> {
  const s = backupSettings(config)
  const restic = resticRunner(sh, s)
  const c = plan.scratch
  const password = newScratchPassword()
  const env = { POSTGRES_PASSWORD: password, PGPASSWORD: password }
  ui.secrets.add([password])
  const left = await removeScratch(sh, c.project)
  if (left) ui.warn(`Removed ${left} scratch container(s) left by an earlier drill that was killed.`)
  const dir = scratchDir()
  const t0 = Date.now()
  let removed = false
  try {
    const file = path.join(dir, plan.dump)
    await fetchFile(restic, plan.snapshot, plan.dump, file)
    let expected: RowCounts | null = null
    if (plan.counts) {
      await fetchFile(restic, plan.snapshot, plan.counts, path.join(dir, plan.counts))
      expected = (JSON.parse(fs.readFileSync(path.join(dir, plan.counts), 'utf8')) as CountsFile).counts
    }
    const t1 = Date.now()
    await startScratch(sh, c, env, { timeoutMs: config.deployTimeoutMs, signal })
    const t2 = Date.now()
    await restoreInto(sh, c, env, file, ui)
    const t3 = Date.now()
    const counts = await countRows(sh, scratchPsqlArgs(c, COUNTS_SQL), { env, what: 'the restored copy' })
    const diffs = expected ? compareCounts(expected, counts) : []
    if (diffs.length)
      throw new OperationError(
        `Can't pass the restore drill: the restored copy of ${plan.dump} differs from the database at backup time: ${describeDiffs(diffs)}`,
        'A backup taken while the database was written to can differ by those writes; if it persists, the backup is incomplete: investigate before you need it.',
      )
    const check = plan.check ? await runCheck(sh, c, env, plan.check, ui) : null
    const restoreSeconds = Math.round((t3 - t0) / 10) / 100
    const rows = Object.values(counts).reduce((a, b) => a + b, 0)
    await removeScratch(sh, c.project)
    removed = true
    let metricFile: string | null = null
    if (!sh.dryRun) {
      try {
        metricFile = await recordDrill(metricsDir, config.target, new Date(), restoreSeconds, rows)
      } catch (e) {
        ui.warn(`The drill passed, but its metric could not be written: ${errorMessage(e)}`)
      }
    }
    return {
      snapshot: plan.snapshot.id,
      dump: plan.dump,
      container: c.name,
      restoreSeconds,
      phases: { fetchMs: t1 - t0, startMs: t2 - t1, restoreMs: t3 - t2 },
      counts,
      countsMatch: expected ? true : null,
      rows,
      check,
      removed,
      metricFile,
    }
  } finally {
    if (!removed) await removeScratch(sh, c.project)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function restoreInto(sh: Gateway, c: Scratch, env: Record<string, string>, file: string, ui: Printer) {
  const fd = fs.openSync(file, 'r')
  let r: RunResult
  try {
    r = await sh.docker(restoreArgs(c), {
      env,
      stdinFd: fd,
      nothrow: true,
      timeoutMs: 60 * 60_000,
      action: `restore ${path.basename(file)} into the scratch database`,
    })
  } finally {
    fs.closeSync(fd)
  }
  if (!r.ok)
    throw new OperationError(
      `Can't pass the restore drill: pg_restore of ${path.basename(file)} failed: ${ui.mask(resticReason(r))}`,
      'The backup does not restore: take a new one now (npx zx scripts/backup.ts run --yes) and find out why.',
    )
}

async function runCheck(sh: Gateway, c: Scratch, env: Record<string, string>, command: string, ui: Printer) {
  const r = await sh.docker(checkCommandArgs(c, command), {
    env,
    nothrow: true,
    changes: false,
    timeoutMs: 10 * 60_000,
    action: 'run the drill check',
  })
  const output = ui.mask(`${r.stdout}${r.stderr}`.trim()).split('\n').slice(-10).join('\n')
  if (!r.ok)
    throw new OperationError(
      `Can't pass the restore drill: the check command exited ${r.code}: ${output || '(no output)'}`,
      'DRILL_CHECK runs with sh -c inside the scratch database container (psql reaches the restored copy through PGHOST/PGUSER/PGDATABASE).',
    )
  return { command, output }
}
