// Migrations from the manifest (lib/migrations.ts, lib/pipeline/migrate-plan.ts): the release command's argv in
// its one-off container, the pending list in either form, the contract guard, and no step for an app without one.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig, type Config } from '../../lib/config.ts'
import {
  listPendingArgs,
  migrateArgs,
  parsePending,
  releaseOf,
  releaseTarget,
  runMigrations,
  listPending,
  type PendingMigrations,
  type ReleaseVia,
} from '../../lib/migrations.ts'
import type { Shell } from '../../lib/compose.ts'
import type { RunResult } from '../../lib/gateway.ts'
import { RefusedError } from '../../lib/errors.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import type { Manifest } from '../../lib/manifest/types.ts'
import { migrationStep, planMigrations } from '../../lib/pipeline/migrate-plan.ts'
import type { DeployPorts } from '../../lib/pipeline/adapters.ts'
import { ROOT, tempEnvDir } from '../helpers/run.ts'

const base = loadConfig({
  target: 'production',
  env: { DMS_ENV_DIR: tempEnvDir(), POSTGRES_PASSWORD: 'Zq8vN3kP1xR7tW5yB2mC', REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD' },
  generateSecrets: false,
})
const dms = loadManifest('examples/dms', { cwd: ROOT, target: 'production' })
const pyshop = loadManifest('examples/pyshop', { cwd: ROOT, target: 'production' })
const withApp = (app: Manifest) => ({ ...base, app }) as Config

test("the DMS's release command runs in the one-off service of its slot project, --allow-contract only when allowed", () => {
  const config = withApp(dms)
  const release = releaseOf(config)!
  const t = releaseTarget(config, 'blue', 'v2')
  assert.is(t.project, `${base.composeProject}-blue`)
  const args = migrateArgs(t, release, { allowContract: true })
  assert.is(args[args.indexOf('--profile') + 1], t.service)
  assert.equal(args.slice(-5), [t.service, 'node', '/app/src/migrate.js', '--json', '--allow-contract'])
  assert.equal(migrateArgs(t, release).slice(-4), [t.service, 'node', '/app/src/migrate.js', '--json'])
  assert.equal(listPendingArgs(t, release)!.slice(-5), [
    t.service,
    'node',
    '/app/src/migrate.js',
    '--list-pending',
    '--json',
  ])
  assert.ok(args.includes('--rm'), args.join(' '))
})

test('the generated slot file names the one-off service release; an app without a pending command lists nothing', () => {
  const t = { file: '/run/slot-blue.yml', project: 'app-blue', profiles: ['release'], env: {}, service: 'release' }
  const release = { service: 'web', command: ['./manage', 'migrate'] }
  assert.equal(migrateArgs(t, release, { allowContract: true }).slice(-3), ['release', './manage', 'migrate'])
  assert.is(listPendingArgs(t, release), null)
})

test("pending: migrate.js's JSON document, or one per line with the contract marker", () => {
  const json =
    'connecting\n{"pending":[{"version":"003","name":"add_tags","file":"003_add_tags.sql","contract":false},{"version":"004","name":"drop","file":"004_drop.sql","contract":true}],"applied":["001","002"],"contract":true}\n'
  const p = parsePending(json, '-- contract')
  assert.equal(
    p.pending.map((m) => [m.file, m.contract]),
    [
      ['003_add_tags.sql', false],
      ['004_drop.sql', true],
    ],
  )
  assert.equal(p.applied, ['001', '002'])
  assert.is(p.contract, true)
  const lines = parsePending('0007_add_col\n0008_drop_old -- contract\n\n', '-- contract')
  assert.equal(lines, {
    pending: [
      { file: '0007_add_col', contract: false },
      { file: '0008_drop_old', contract: true },
    ],
    applied: [],
    contract: true,
  })
  assert.is(parsePending('0008_drop_old -- contract\n').contract, false, 'no marker in the manifest: no guard')
  assert.equal(parsePending(''), { pending: [], applied: [], contract: false })
})

const CONTRACTING: PendingMigrations = {
  pending: [{ file: '004_drop.sql', contract: true }],
  applied: [],
  contract: true,
}

function ports(app: Manifest, pending: PendingMigrations | null) {
  const calls: string[] = []
  const p = {
    config: withApp(app),
    platform: { imageAvailable: async () => true } as unknown as DeployPorts['platform'],
    listPending: async (slot: string, version: string) => {
      calls.push(`${slot} ${version}`)
      return pending
    },
  }
  return { p, calls }
}

test('the plan: the pending migrations; a contraction refused unless allowed', async () => {
  const { p, calls } = ports(dms, CONTRACTING)
  try {
    await planMigrations(p, { version: 'v4', build: false, allowContract: false }, 'green', true)
    assert.unreachable('a contraction was planned')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /contract the schema \(004_drop\.sql\)/)
  }
  const ok = await planMigrations(p, { version: 'v4', build: false, allowContract: true }, 'green', true)
  assert.is(ok.migrationsNote, '004_drop.sql (CONTRACT)')
  assert.equal(calls, ['green v4', 'green v4'])
  assert.match(
    migrationStep(p.config, 'v4', ok.migrationsNote, true),
    /node \/app\/src\/migrate\.js --json of v4 .*\(contracting allowed\)$/,
  )
})

test('an app without a release command: no migration step, the pending command is never asked', async () => {
  const { p, calls } = ports(pyshop, CONTRACTING)
  const r = await planMigrations(p, { version: 'v4', build: false, allowContract: false }, 'green', true)
  assert.equal(r, { migrations: null, migrationsNote: 'no migration step (the app has no release command)' })
  assert.equal(calls, [])
  assert.is(migrationStep(p.config, 'v4', r.migrationsNote, false), 'no migrations: the app has no release command')
})

test("with hosts, the release command goes where via says (its host's file and project), never to the local shell", async () => {
  const calls: string[][] = []
  const answer = (stdout: string): RunResult => ({ ok: true, code: 0, stdout, stderr: '' }) as RunResult
  const via: ReleaseVia = {
    target: {
      file: '/v/hosts/dms-green.app-1.release.yml',
      project: 'dms-green',
      profiles: ['release'],
      env: {},
      service: 'release',
    },
    docker: async (args) => {
      calls.push(args)
      // the migrate call first, then the pending list (the order of the calls below)
      return answer(calls.length === 1 ? '{"ok":true,"applied":["002-x"]}' : '{"pending":["003-y"]}')
    },
  }
  const local: Shell = {
    dryRun: false,
    docker: async () => assert.unreachable('the local shell ran the release command') as never,
  }
  const applied = await runMigrations(local, withApp(dms), 'green', 'v2', {}, via)
  assert.equal(applied, ['002-x'])
  const pending = await listPending(local, withApp(dms), 'green', 'v2', via)
  assert.equal(
    pending?.pending.map((p) => p.file),
    ['003-y'],
  )
  for (const args of calls) {
    assert.equal(args.slice(0, 5), ['compose', '-f', '/v/hosts/dms-green.app-1.release.yml', '-p', 'dms-green'])
    assert.ok(args.includes('release'), args.join(' '))
  }
  assert.is(calls.length, 2)
})

test.run()
