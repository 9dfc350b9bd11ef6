// logs and exec name the target's app services from its manifest (config.app), replicas by their compose
// names: pyshop's web-1, web-2 and api, and a DMS role is no service of it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { REPO_ROOT, loadConfig } from '../../../lib/config.ts'
import { planExec } from '../../../lib/day2/exec.ts'
import { planLogs } from '../../../lib/day2/logs.ts'
import { ToolkitError } from '../../../lib/errors.ts'
import { appServiceNames } from '../../../lib/manifest/app-model.ts'
import { loadManifest } from '../../../lib/manifest/load.ts'
import { emptyState } from '../../../lib/model.ts'
import { tempEnvDir } from '../../helpers/run.ts'

const pyshop = loadManifest(`${REPO_ROOT}/examples/pyshop`, { target: 'production' })
const config = {
  ...loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir() }, generateSecrets: false }),
  app: pyshop,
}
const state = emptyState('production')
state.slots.blue = { version: 'v1', slot: 'blue', deployedAt: '', deployedBy: 'unit' }
state.live = 'blue'

function refusal(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.instance(e, ToolkitError)
    return `${(e as ToolkitError).message} ${(e as ToolkitError).hint}`
  }
  assert.unreachable('should have been refused')
  return ''
}

test('appServiceNames: one name per container of a slot, replicas numbered', () => {
  assert.equal(appServiceNames(pyshop), ['web-1', 'web-2', 'api'])
  assert.equal(appServiceNames(loadManifest(`${REPO_ROOT}/examples/dms`)), ['frontend', 'api', 'docs', 'main'])
})

test("logs: every app service of the manifest by default, one by name, a name it doesn't have refused", () => {
  const all = planLogs(config, {}, state, 'blue')
  assert.equal(all.args.slice(-3), ['web-1', 'web-2', 'api'])
  assert.equal(planLogs(config, { service: 'web-2' }, state, 'blue').args.slice(-1), ['web-2'])
  assert.match(
    refusal(() => planLogs(config, { service: 'frontend' }, state, 'blue')),
    /web-1, web-2, api/,
  )
})

test('exec --running: a service of the manifest, not a DMS role', () => {
  assert.is(planExec(config, { command: ['sh'], running: 'api', tty: false }, state, 'blue').service, 'api')
  assert.match(
    refusal(() => planExec(config, { command: ['sh'], running: 'docs', tty: false }, state, 'blue')),
    /Name one of web-1, web-2, api/,
  )
})

test.run()
