// Backups from the manifest (lib/db-recipe.ts, lib/db.ts, the plan's step): the accessory's recipe runs in that
// accessory's container; the drill's check is manifest data; an app without a recipe has no backup step.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { backupSettings } from '../../lib/backup/settings.ts'
import { loadConfig, type Config } from '../../lib/config.ts'
import { backupRecipe, hasAccessory } from '../../lib/db-recipe.ts'
import { recipeDumpArgs, recipeRestoreArgs, requireRecipe } from '../../lib/db.ts'
import { UsageError } from '../../lib/errors.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import type { Manifest } from '../../lib/manifest/types.ts'
import { backupStep } from '../../lib/pipeline/migrate-plan.ts'
import { runBackupStep } from '../../lib/pipeline/deploy-run.ts'
import { planRestore } from '../../lib/pipeline/restore.ts'
import { Printer } from '../../lib/ui.ts'
import { ROOT, tempEnvDir } from '../helpers/run.ts'

const SECRET = 'Zq8vN3kP1xR7tW5yB2mC'
const base = loadConfig({
  target: 'production',
  env: { DMS_ENV_DIR: tempEnvDir(), POSTGRES_PASSWORD: SECRET, REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD' },
  generateSecrets: false,
})
const dms = loadManifest('examples/dms', { cwd: ROOT, target: 'production' })
const pyshop = loadManifest('examples/pyshop', { cwd: ROOT, target: 'production' })
const withApp = (app: Manifest) => ({ ...base, app }) as Config
const quiet = () =>
  new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })

test("the DMS's recipe: pg_dump/pg_restore in the postgres container, verified by pg_restore --list, a drill check", () => {
  const r = backupRecipe(dms)!
  assert.is(r.accessory, 'postgres')
  assert.equal(r.command.slice(0, 2), ['sh', '-c'])
  assert.match(r.command[2]!, /cat \/run\/secrets\/postgres_password.* exec pg_dump .*--format=custom --compress=6$/)
  assert.equal(r.verify, ['pg_restore', '--list'])
  assert.match(r.check ?? '', /psql -tAc/)
  // run as the manifest writes it, in the accessory's container: nothing of PostgreSQL's added by the toolkit
  const dump = recipeDumpArgs(withApp(dms))
  assert.equal(dump.slice(dump.indexOf('exec')), ['exec', '-T', 'postgres', ...r.command])
  assert.not.ok(dump.join(' ').includes(SECRET))
  assert.match(recipeRestoreArgs(withApp(dms)).at(-1)!, /exec pg_restore .*--single-transaction/)
  assert.match(
    backupStep(withApp(dms)),
    /^back up postgres with PGPASSWORD=.* exec pg_dump .*--format=custom --compress=6 to .*verified by pg_restore --list$/,
  )
})

test("another app's recipe runs its own commands in its own accessory", () => {
  const db = { ...dms.accessories[0]!, name: 'db', backup: { command: ['dump-it', '-z'], restore: ['load-it'] } }
  const app: Manifest = { ...pyshop, accessories: [db] }
  const args = recipeDumpArgs(withApp(app))
  assert.equal(
    args.slice(args.indexOf('exec')),
    ['exec', '-T', 'db', 'dump-it', '-z'],
    'no -h/-U/-d, no password wrapper',
  )
  assert.equal(recipeRestoreArgs(withApp(app)).slice(-1), ['load-it'])
  assert.match(backupStep(withApp(app)), /^back up db with dump-it -z to /)
  assert.not.match(backupStep(withApp(app)), /verified/, 'no verify command: not claimed')
  assert.is(hasAccessory(app, 'redis'), false)
})

test('an app without a recipe: no backup step, refused with exit 2 where one is asked for, nothing run', async () => {
  const config = withApp(pyshop)
  assert.is(backupRecipe(pyshop), null)
  assert.is(backupStep(config), 'no backup: the app has no accessory with a backup recipe')
  let called = 0
  const r = await runBackupStep(
    {
      config,
      ui: quiet(),
      backup: async () => {
        called++
        return { file: 'x', bytes: 1, entries: 1, pruned: 0, snapshot: null }
      },
    },
    'v2',
  )
  assert.is(r, null)
  assert.is(called, 0)
  for (const fn of [
    () => requireRecipe(config),
    () => recipeDumpArgs(config),
    () => planRestore('/nowhere', 'v1', config),
  ]) {
    try {
      fn()
      assert.unreachable('a backup was allowed without a recipe')
    } catch (e) {
      assert.instance(e, UsageError)
      assert.is((e as UsageError).exitCode, 2)
      assert.match((e as Error).message, /no accessory with a backup recipe in .*examples\/pyshop\/app\.yaml/)
    }
  }
})

test("the drill's check: DRILL_CHECK when set, else the manifest's backup check", () => {
  const config = withApp(dms)
  assert.is(backupSettings(config).drillCheck, backupRecipe(dms)!.check)
  const over = { ...config, offHostBackup: { ...config.offHostBackup, drillCheck: 'true' } } as Config
  assert.is(backupSettings(over).drillCheck, 'true')
  assert.is(backupSettings(withApp(pyshop)).drillCheck, '')
})

test.run()
