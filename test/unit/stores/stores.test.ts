// The stores: the file store is built once per Env and writes state, audit and metrics under
// VAR_DIR; the dry-run store reads the real state and writes nothing; the memory store keeps all in memory.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { AppConfig } from '../../../lib/manifest/app-model.ts'
import { emptyState, type Slot } from '../../../lib/model.ts'
import { runtimePaths } from '../../../lib/paths.ts'
import type { Env } from '../../../lib/script-env.ts'
import { writeState } from '../../../lib/state.ts'
import { fileStore } from '../../../lib/stores/file-store.ts'
import { memoryStore } from '../../../lib/stores/memory-store.ts'
import { Printer } from '../../../lib/ui.ts'
import { memoryStream } from '../../helpers/streams.ts'

function env(dryRun: boolean): Env {
  const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-stores-'))
  const ui = new Printer({ out: memoryStream(), err: memoryStream() })
  return { config: { target: 'production', varDir } as AppConfig, paths: runtimePaths(varDir), ui, dryRun }
}

test('fileStore: one store per Env (the script and the operation frame share it); a new Env gets its own', () => {
  const e = env(false)
  assert.is(fileStore(e), fileStore(e))
  assert.is.not(fileStore(e), fileStore(env(false)))
})

test('fileStore writes the state file, an audit line with the target, and the live slot to the metrics textfile', async () => {
  const e = env(false)
  const store = fileStore(e)
  store.update((s) => {
    s.live = 'green'
  })
  store.audit({ action: 'switch', outcome: 'succeeded' })
  await store.recordLive?.('green', true)
  assert.is(JSON.parse(fs.readFileSync(e.paths.state, 'utf8')).live, 'green')
  const line = JSON.parse(fs.readFileSync(e.paths.audit, 'utf8').trim())
  assert.is(line.target, 'production')
  assert.is(line.action, 'switch')
  const prom = fs.readFileSync(path.join(e.paths.metrics, 'deploy.prom'), 'utf8')
  assert.match(prom, /dms_live_slot\{[^}]*slot="green"[^}]*\} 1/)
  assert.match(prom, /dms_rollbacks_total\{[^}]*\} 1/)
})

test('the dry-run store reads the real state, keeps changes in memory and writes nothing', async () => {
  const e = env(true)
  const recorded = emptyState('production')
  recorded.live = 'blue'
  writeState(e.paths.state, recorded)
  const before = fs.readFileSync(e.paths.state, 'utf8')
  const store = fileStore(e)
  assert.is(store.read().live, 'blue')
  assert.is(
    store.update((s) => {
      s.live = 'green'
    }).live,
    'green',
  )
  assert.is(store.read().live, 'green', 'the change is kept in memory')
  store.audit({ action: 'switch', outcome: 'succeeded' })
  await store.recordLive?.('green', false)
  assert.is(fs.readFileSync(e.paths.state, 'utf8'), before)
  assert.not.ok(fs.existsSync(e.paths.audit))
  assert.not.ok(fs.existsSync(e.paths.metrics))
})

test('memoryStore: reads are copies, updates change the given state, audit entries and recordLive are seen', async () => {
  const state = emptyState('production')
  const lives: Array<[Slot, boolean]> = []
  const store = memoryStore(state, { recordLive: (slot, rollback) => void lives.push([slot, rollback]) })
  const copy = store.read()
  copy.live = 'green'
  assert.is(state.live, null)
  store.update((s) => {
    s.live = 'blue'
  })
  assert.is(state.live, 'blue')
  store.audit({ action: 'create', outcome: 'succeeded' })
  await store.recordLive?.('blue', true)
  assert.equal(
    store.entries.map((e) => e.action),
    ['create'],
  )
  assert.equal(lives, [['blue', true]])
})

test.run()
