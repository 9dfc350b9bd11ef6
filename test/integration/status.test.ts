// gatherStatus (lib/health/gather-status.ts) against the real world: marker files, the state file,
// the audit log and a container of a slot's compose project listed by the real Docker daemon.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { loadConfig } from '../../lib/config.ts'
import { runtimePaths } from '../../lib/paths.ts'
import { slotProject } from '../../lib/compose.ts'
import { gatherStatus, markerSlot } from '../../lib/health/gather-status.ts'
import { writeState } from '../../lib/state.ts'
import { appendAudit } from '../../lib/audit.ts'
import { emptyState } from '../../lib/model.ts'
import { tempEnvDir } from '../helpers/run.ts'

const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-status-'))
const envDir = tempEnvDir()
const config = {
  ...loadConfig({ target: 'production', env: { DMS_ENV_DIR: envDir }, generateSecrets: false }),
  varDir,
  composeProject: `dmst-ops-status-${process.pid}`,
}
const paths = runtimePaths(varDir)
const container = `dmst-ops-status-${process.pid}-api`

test.after(async () => {
  await $({ quiet: true, nothrow: true })`docker rm -f ${container}`
  fs.rmSync(varDir, { recursive: true, force: true })
})

test('markerSlot: green wins as in nginx, no marker is null', () => {
  assert.is(markerSlot({ markers: ['blue', 'green'] }), 'green')
  assert.is(markerSlot({ markers: ['blue', 'to-green-b1'] }), 'blue')
  assert.is(markerSlot({ markers: [] }), null)
})

test('gatherStatus reads the marker, the state, the audit tail and the slot containers once', async () => {
  fs.mkdirSync(paths.live, { recursive: true })
  fs.writeFileSync(path.join(paths.live, 'green'), 'green\n')
  const state = emptyState('production')
  state.live = 'blue'
  state.slots.green = { version: '1.1.0', slot: 'green', deployedAt: '2030-01-01T11:50:00Z', deployedBy: 'bob' }
  writeState(paths.state, state)
  for (const n of [1, 2, 3]) appendAudit(paths.audit, { action: 'deploy', outcome: 'succeeded', version: `v${n}` })
  const create = await $({
    quiet: true,
    nothrow: true,
  })`docker create --name ${container} --label ${`com.docker.compose.project=${slotProject(config, 'green')}`} --label com.docker.compose.service=api --label dms.slot=green --label dms.version=1.1.0 ${config.baseImage} true`
  assert.is(create.exitCode, 0, create.stderr)
  const warnings: string[] = []
  const { view, certificate } = await gatherStatus(config, paths, {
    auditEntries: 2,
    now: new Date(),
    warn: (m) => warnings.push(m),
  })
  assert.equal(warnings, [])
  assert.is(view.live, 'green', "nginx's marker, not the state file")
  assert.is(view.stateLive, 'blue')
  const green = view.slots.find((s) => s.slot === 'green')!
  assert.equal(green.containers, { running: 0, total: 1, unhealthy: 0 })
  assert.is(green.recorded?.version, '1.1.0')
  assert.equal(
    view.audit.map((a) => a.version),
    ['v2', 'v3'],
  )
  assert.is(certificate.target, 'production')
})

test.run()
