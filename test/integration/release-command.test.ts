// The release command of a manifest against real Docker Compose (lib/migrations.ts): the pending command's lines
// read with the contract marker, the command run in a one-off container of the release (--rm: none left), a
// contraction refused by its exit 3 unless allowed (then the allow_contract args are added), a failure named.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createShell } from '../../lib/compose.ts'
import { loadConfig, type Config } from '../../lib/config.ts'
import { OperationError, RefusedError } from '../../lib/errors.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import type { ReleaseCommand } from '../../lib/manifest/types.ts'
import { listPending, runMigrations } from '../../lib/migrations.ts'
import { run } from '../../lib/gateway.ts'
import { Printer } from '../../lib/ui.ts'
import { ROOT, removeOnExit, tempEnvDir } from '../helpers/run.ts'

const PROJECT = 'dmst-datarel'
const dir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-release-')))
const file = path.join(dir, 'compose.yml')
// the release's one-off service as the generated slot file names it (profile release), in a static file of the
// test's (staging's target with no runtime directory merges no generated file); no network, nothing else.
// (The generated slot file's own `release` service runs the DMS's migrations in the deploy and staging e2e.)
fs.writeFileSync(
  file,
  [
    'services:',
    '  release:',
    '    image: dms/base:bookworm',
    '    profiles: [release]',
    '    network_mode: none',
    '    labels: { dms.test: release-command }',
    '',
  ].join('\n'),
)
// applies 0001_a and 0002_b; 0002_b contracts: refused with exit 3 unless given --i-know
const SCRIPT =
  'if [ "$1" = --i-know ]; then echo applying; echo \'{"ok":true,"applied":["0001_a","0002_b"]}\'; else echo "0002_b contracts" >&2; exit 3; fi'
const release: ReleaseCommand = {
  service: 'web',
  command: ['sh', '-c', SCRIPT, 'sh'],
  pending: ['sh', '-c', 'echo 0001_a; echo "0002_b -- contract"'],
  contractMarker: '-- contract',
  allowContract: ['--i-know'],
}
const app = { ...loadManifest('examples/pyshop', { cwd: ROOT, target: 'staging' }), release }
const config = {
  ...loadConfig({
    target: 'staging',
    env: { DMS_ENV_DIR: tempEnvDir(), VAR_DIR: path.join(dir, 'no-var') },
    generateSecrets: false,
  }),
  composeFile: file,
  composeProject: PROJECT,
  app,
} as Config
const ui = new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })
const sh = createShell(ui)

async function leftContainers(): Promise<string[]> {
  const r = await run('docker', ['ps', '-aq', '--filter', 'label=dms.test=release-command'], { changes: false })
  return r.stdout.split('\n').filter(Boolean)
}

test.after(async () => {
  const ids = await leftContainers()
  if (ids.length) await run('docker', ['rm', '-f', ...ids], { nothrow: true })
})

test('the pending command: one per line, the marked one contracts', async () => {
  const p = await listPending(sh, config, 'blue', 'v1')
  assert.equal(p, {
    pending: [
      { file: '0001_a', contract: false },
      { file: '0002_b', contract: true },
    ],
    applied: [],
    contract: true,
  })
  assert.equal(await leftContainers(), [], 'compose run --rm leaves no container')
})

test('a contraction: refused by exit 3 when not allowed; applied with the allow_contract args', async () => {
  try {
    await runMigrations(sh, config, 'blue', 'v1')
    assert.unreachable('the contraction ran')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /Can't migrate to v1: it contracts the schema/)
  }
  assert.equal(await runMigrations(sh, config, 'blue', 'v1', { allowContract: true }), ['0001_a', '0002_b'])
  assert.equal(await leftContainers(), [])
})

test('a failing release command is named with its last error line', async () => {
  const failing = {
    ...config,
    app: { ...app, release: { ...release, command: ['sh', '-c', 'echo boom >&2; exit 1'] } },
  }
  try {
    await runMigrations(sh, failing as Config, 'green', 'v2')
    assert.unreachable('a failure passed')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match((e as Error).message, /Can't migrate to v2: the release command sh -c .* failed: boom/)
  }
  assert.equal(await leftContainers(), [])
})

test.run()
