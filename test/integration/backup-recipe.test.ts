// The backup scripts for an app without a backup recipe, as users run them (APP=examples/pyshop): backup run and
// the restore drill have nothing to do (exit 0, said so); rollback --restore-db is refused (exit 2, state untouched).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { removeOnExit, runTs, tempEnvDir } from '../helpers/run.ts'

const target = () => ({
  DMS_ENV_DIR: tempEnvDir(),
  VAR_DIR: removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-recipe-var-'))),
  APP: 'examples/pyshop',
})
/** what a run left in VAR_DIR besides the cached app model */
const changed = (dir: string) => fs.readdirSync(dir).filter((n) => n !== 'app-model.json')

test('backup run: nothing to back up, exit 0, --json says so; nothing written', async () => {
  const env = target()
  const r = await runTs('scripts/backup.ts', ['run', '--yes', '--json'], { env })
  assert.is(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout) as { ok: boolean; nothingToBackUp: boolean; reason: string }
  assert.equal(doc, {
    ok: true,
    nothingToBackUp: true,
    reason: 'no backup: the app has no accessory with a backup recipe',
  })
  const human = await runTs('scripts/backup.ts', ['run', '--yes'], { env })
  assert.is(human.code, 0, human.stderr)
  assert.match(human.stdout + human.stderr, /Nothing to back up: no backup: .*examples\/pyshop\/app\.yaml/)
  assert.equal(changed(env.VAR_DIR), [])
})

test('restore-drill: nothing to drill, exit 0, even without a repository', async () => {
  const env = target()
  const r = await runTs('scripts/restore-drill.ts', ['--yes'], { env })
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout + r.stderr, /Nothing to drill/)
  assert.equal(changed(env.VAR_DIR), [])
})

test('rollback-production --restore-db: refused before anything, exit 2, naming the fix', async () => {
  const env = target()
  const r = await runTs('scripts/rollback-production.ts', ['--restore-db', '--yes'], { env })
  assert.is(r.code, 2, r.stdout + r.stderr)
  assert.match(r.stderr, /Can't back up or restore pyshop: no backup: the app has no accessory with a backup recipe/)
  assert.match(r.stderr, /backup: \{ command, restore \}/)
  // only what every refused operation leaves: its lock file and the audit line of the refusal; no state, no routing
  assert.equal(changed(env.VAR_DIR).sort(), ['audit.log', 'deploy.lock.flock'])
  const audit = fs.readFileSync(path.join(env.VAR_DIR, 'audit.log'), 'utf8').trim().split('\n')
  assert.is(audit.length, 1)
  assert.match(audit[0]!, /"action":"rollback","outcome":"refused"/)
})

test.run()
