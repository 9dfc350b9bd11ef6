// Off-host backups and the restore drill, pure parts and plans: settings checks, restic argv (the
// password only ever in the environment), parsers, row count comparison, the scratch container's
// argv, the drill metric, and the calls of a backup and a drill recorded by the gateway.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../../lib/config.ts'
import { compareCounts, describeDiffs, parseCounts } from '../../../lib/backup/counts.ts'
import { planDrill, runDrill } from '../../../lib/backup/drill.ts'
import { chooseSnapshot } from '../../../lib/backup/inspect.ts'
import { drillFamilies } from '../../../lib/backup/metric.ts'
import {
  backupArgs,
  forgetArgs,
  parseBackupSummary,
  parseSnapshots,
  snapshotDump,
  snapshotsArgs,
} from '../../../lib/backup/restic.ts'
import { removeArgs, runScratchArgs, scratchName, type Scratch } from '../../../lib/backup/scratch.ts'
import { backupSettings, resticEnv, settingsProblems, type BackupSettings } from '../../../lib/backup/settings.ts'
import { countsName, orphanCounts, takeBackup } from '../../../lib/backup/take.ts'
import { ToolkitError, UsageError } from '../../../lib/errors.ts'
import { hookEnv } from '../../../lib/hooks.ts'
import { createGateway, recordCalls, stopRecording, type RecordedCall } from '../../../lib/gateway.ts'
import { renderMetrics } from '../../../lib/metrics.ts'
import { Printer } from '../../../lib/ui.ts'
import { tempEnvDir } from '../../helpers/run.ts'

const PASSWORD = 'Vq7rT2mX9pL4sK8wZ3nB6yH1'
const config = loadConfig({
  target: 'production',
  env: {
    DMS_ENV_DIR: tempEnvDir(),
    POSTGRES_PASSWORD: 'Pp4kD8sL2vQ9wE6rT1yU',
    REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD',
    BACKUP_REPOSITORY: 'sftp:backup@vault:/srv/restic/dms',
    RESTIC_PASSWORD: PASSWORD,
    DRILL_CHECK: 'psql -c "select 1"',
  },
})
const ui = () => new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })
const base: BackupSettings = backupSettings(config)

test('settings: read from the config with the documented defaults', () => {
  assert.is(base.repository, 'sftp:backup@vault:/srv/restic/dms')
  assert.equal(base.keep, { daily: 7, weekly: 4, monthly: 12 })
  assert.is(base.drillImage, 'dms/postgres:local')
  assert.ok(config.secrets.includes(PASSWORD), 'RESTIC_PASSWORD is masked in every output')
  assert.equal(settingsProblems(base), [])
})

test('settings: every problem names its fix', () => {
  const p = (over: Partial<BackupSettings>) => settingsProblems({ ...base, ...over }, { fileExists: () => false })
  assert.match(p({ repository: '' }).join(), /BACKUP_REPOSITORY is not set: set it to a restic repository/)
  assert.match(p({ password: '' }).join(), /put RESTIC_PASSWORD in env\/\.env\.production\.local/)
  assert.match(p({ passwordFile: '/x' }).join(), /both RESTIC_PASSWORD and RESTIC_PASSWORD_FILE/)
  assert.match(p({ password: 'short' }).join(), /shorter than 16 characters/)
  assert.match(p({ password: '', passwordFile: '/nope' }).join(), /\/nope, which does not exist/)
  assert.match(p({ keep: { daily: 0, weekly: 0, monthly: 0 } }).join(), /restic would forget every snapshot/)
})

test('restic argv: tags select this target; forget groups by tags and prunes; no password anywhere', () => {
  assert.equal(backupArgs(base, ['a.dump', 'a.counts.json']), [
    'backup',
    '--json',
    '--host',
    'dms',
    '--tag',
    'dms-backup',
    '--tag',
    'target=production',
    '--tag',
    'db=dms',
    '--',
    'a.dump',
    'a.counts.json',
  ])
  assert.equal(forgetArgs(base, { daily: 7, weekly: 4, monthly: 12 }), [
    'forget',
    '--json',
    '--prune',
    '--group-by',
    'tags',
    '--tag',
    'dms-backup,target=production,db=dms',
    '--keep-daily',
    '7',
    '--keep-weekly',
    '4',
    '--keep-monthly',
    '12',
  ])
  assert.equal(snapshotsArgs(base).slice(-2), ['--tag', 'dms-backup,target=production,db=dms'])
  assert.is(resticEnv(base).RESTIC_PASSWORD, PASSWORD)
  assert.is(resticEnv(base).RESTIC_REPOSITORY, base.repository)
  assert.is(resticEnv(base).RESTIC_CACHE_DIR, `${config.varDir}/restic-cache`)
})

const SNAPSHOTS = JSON.stringify([
  {
    time: '2026-11-01T03:15:00Z',
    paths: ['/var/b/dms-20261101T031500Z.dump', '/var/b/dms-20261101T031500Z.counts.json'],
    tags: ['dms-backup'],
    id: 'aaaa1111bbbb',
    short_id: 'aaaa1111',
  },
  {
    time: '2026-12-01T03:15:00Z',
    paths: ['/var/b/dms-20261201T031500Z.dump', '/var/b/dms-20261201T031500Z.counts.json'],
    tags: ['dms-backup'],
    id: 'cccc2222dddd',
    short_id: 'cccc2222',
  },
])

test('parsers: snapshots newest first with their files; the backup summary gives the id', () => {
  const s = parseSnapshots(SNAPSHOTS)
  assert.equal(
    s.map((x) => x.shortId),
    ['cccc2222', 'aaaa1111'],
  )
  assert.equal(snapshotDump(s[0]!), { dump: 'dms-20261201T031500Z.dump', counts: 'dms-20261201T031500Z.counts.json' })
  assert.is(snapshotDump({ ...s[0]!, files: ['x.txt'] }), null)
  assert.is(
    parseBackupSummary('{"message_type":"status"}\n{"message_type":"summary","snapshot_id":"397d938e"}\n'),
    '397d938e',
  )
  assert.is(parseBackupSummary('not json'), null)
})

test('chooseSnapshot: newest by default, a chosen one by short or full id, an unknown one names the list command', () => {
  const s = parseSnapshots(SNAPSHOTS)
  assert.is(chooseSnapshot(s, null, 'r').shortId, 'cccc2222')
  assert.is(chooseSnapshot(s, 'aaaa1111', 'r').id, 'aaaa1111bbbb')
  try {
    chooseSnapshot(s, 'ffff', 'r')
    assert.unreachable()
  } catch (e) {
    assert.match((e as ToolkitError).message, /Can't find the backup snapshot ffff in r/)
    assert.match((e as ToolkitError).hint, /backup\.ts list/)
  }
})

test('row counts: parsed from psql -tA, compared table by table (missing on either side too)', () => {
  const counts = parseCounts('public.documents|42\npublic.tags|0\n\n')
  assert.equal(counts, { 'public.documents': 42, 'public.tags': 0 })
  assert.equal(compareCounts(counts, { ...counts }), [])
  const diffs = compareCounts(counts, { 'public.documents': 41, 'public.extra': 1 })
  assert.equal(diffs, [
    { table: 'public.documents', expected: 42, restored: 41 },
    { table: 'public.extra', expected: null, restored: 1 },
    { table: 'public.tags', expected: 0, restored: null },
  ])
  assert.is(
    describeDiffs(diffs),
    "public.documents has 41 rows, 42 at backup time; public.extra is not in the backup's counts; public.tags is missing after the restore",
  )
})

test('counts files: named after their dump; the ones whose dump retention removed are orphans', () => {
  assert.is(countsName('dms-20261201T031500Z.dump'), 'dms-20261201T031500Z.counts.json')
  assert.equal(orphanCounts(['a.dump', 'a.counts.json', 'b.counts.json', 'c.dump.partial']), ['b.counts.json'])
})

const scratch: Scratch = {
  name: 'dms-prod-drill-x',
  image: 'dms/postgres:local',
  user: 'dms',
  db: 'dms',
  project: 'dms-prod',
}

test('scratch container: no network, labelled, the password only by name; removed with its volume', () => {
  const args = runScratchArgs(scratch)
  assert.ok(args.join(' ').includes('--network none'))
  assert.ok(args.join(' ').includes('--label dms.restore-drill=dms-prod'))
  assert.ok(args.includes('POSTGRES_PASSWORD'), 'taken from the environment of docker run')
  assert.not.ok(args.some((a) => a.startsWith('POSTGRES_PASSWORD=')))
  assert.equal(removeArgs(['id1']), ['rm', '-f', '-v', 'id1'])
  assert.is(scratchName('dms-prod', new Date('2026-12-01T03:15:00.123Z')), 'dms-prod-drill-20261201t031500z')
})

test('drill metric: last success, time to restore and rows, per target', () => {
  const text = renderMetrics(drillFamilies('production', new Date('2026-12-01T00:00:00Z'), 12.5, 42))
  const at = Date.UTC(2026, 11, 1) / 1000
  assert.ok(text.includes(`dms_restore_drill_last_success_timestamp_seconds{target="production"} ${at}\n`), text)
  assert.match(text, /dms_restore_drill_duration_seconds\{target="production"\} 12\.5\n/)
  assert.match(text, /dms_restore_drill_rows\{target="production"\} 42\n/)
})

const noPassword = (calls: RecordedCall[]) =>
  assert.not.ok(
    calls.some((c) => c.args.some((a) => a.includes(PASSWORD))),
    'the password on argv',
  )

test('backup run --dry-run: counts and repository read for real; dump, upload and forget only printed', async () => {
  const calls = recordCalls((c) => (c.args.includes('psql') ? { stdout: 'public.documents|3\n' } : undefined))
  try {
    const r = await takeBackup(createGateway(ui(), { dryRun: true }), config, '/nonexistent', ui(), {
      version: null,
      offHost: 'required',
    })
    assert.equal(r.counts, { 'public.documents': 3 })
    assert.is(r.snapshot, null)
    assert.equal(
      calls.map(
        (c) => `${c.program} ${c.args[0] === 'compose' ? 'compose' : c.args[0]} ${c.dryRun ? 'printed' : 'ran'}`,
      ),
      ['restic cat ran', 'docker compose ran', 'restic backup printed', 'restic forget printed'],
    )
    assert.is(calls[0]!.env?.RESTIC_PASSWORD, PASSWORD)
    noPassword(calls)
  } finally {
    stopRecording()
  }
})

test('backup run: no repository password is a UsageError (exit 2) before any command', async () => {
  const calls = recordCalls()
  const c2 = loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: tempEnvDir(), BACKUP_REPOSITORY: '/mnt/backup', POSTGRES_PASSWORD: 'Pp4kD8sL2vQ9wE6rT1yU' },
    generateSecrets: false,
  })
  try {
    await takeBackup(createGateway(ui()), c2, '/nonexistent', ui(), { version: null, offHost: 'required' })
    assert.unreachable()
  } catch (e) {
    assert.instance(e, UsageError)
    assert.match((e as Error).message, /Can't copy the backup off the host: no repository password/)
    assert.equal(calls, [])
  } finally {
    stopRecording()
  }
})

test('pre-deploy backup without BACKUP_REPOSITORY: only the local dump, no count query, no restic', async () => {
  const local = loadConfig({
    target: 'production',
    env: {
      DMS_ENV_DIR: tempEnvDir(),
      POSTGRES_PASSWORD: 'Pp4kD8sL2vQ9wE6rT1yU',
      REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD',
    },
  })
  const calls = recordCalls()
  try {
    const r = await takeBackup(createGateway(ui(), { dryRun: true }), local, '/nonexistent', ui(), {
      version: 'v2',
      offHost: 'when-configured',
    })
    assert.equal(calls, [])
    assert.is(r.snapshot, null)
    assert.is(r.repository, null)
  } finally {
    stopRecording()
  }
})

test('restore drill: plan names the snapshot, the scratch container and the check', async () => {
  recordCalls((c) => (c.args[0] === 'snapshots' ? { stdout: SNAPSHOTS } : undefined))
  try {
    const plan = await planDrill(createGateway(ui()), config, { snapshot: null })
    assert.is(plan.dump, 'dms-20261201T031500Z.dump')
    assert.match(plan.steps[0]!, /snapshot cccc2222/)
    assert.match(plan.steps[1]!, /scratch database dms-prod-drill-.* \(dms\/postgres:local, no network\)/)
    assert.match(plan.steps[4]!, /run the check: psql -c "select 1"/)
  } finally {
    stopRecording()
  }
})

test('restore drill: a failed pg_restore fails the drill and still removes the scratch container', async () => {
  let started = false
  const calls = recordCalls((c) => {
    if (c.args[0] === 'snapshots') return { stdout: SNAPSHOTS }
    if (c.args[0] === 'run') started = true
    if (c.args[0] === 'ps') return { stdout: started ? 'abc123\n' : '' }
    if (c.args[0] === 'exec' && c.args.includes('pg_restore'))
      return { code: 1, stderr: 'pg_restore: error: input file is too short' }
    return undefined
  })
  try {
    const gw = createGateway(ui())
    const plan = await planDrill(gw, config, { snapshot: null })
    await runDrill(gw, config, '/nonexistent', ui(), { ...plan, counts: null })
    assert.unreachable()
  } catch (e) {
    assert.instance(e, ToolkitError)
    assert.match((e as Error).message, /Can't pass the restore drill: pg_restore of dms-20261201T031500Z\.dump failed/)
    assert.equal(calls.at(-1)!.args, ['rm', '-f', '-v', 'abc123'])
    noPassword(calls)
  } finally {
    stopRecording()
  }
})

test('hooks: the backup file and snapshot in DMS_BACKUP_*; the repository password never', () => {
  const h = { version: 'v2', slot: 'green', previousSlot: 'blue', target: 'production', outcome: 'succeeded' }
  const env = hookEnv(
    { RESTIC_PASSWORD: PASSWORD, PATH: '/bin' },
    { ...h, backup: { file: '/b/x.dump', snapshot: 'ab12cd34' } },
  )
  assert.is(env.DMS_BACKUP_FILE, '/b/x.dump')
  assert.is(env.DMS_BACKUP_SNAPSHOT, 'ab12cd34')
  assert.is(env.RESTIC_PASSWORD, undefined)
  assert.is(hookEnv({}, h).DMS_BACKUP_SNAPSHOT, '')
})

test.run()
