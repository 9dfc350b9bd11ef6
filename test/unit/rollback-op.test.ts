// The rollback operation (lib/pipeline/rollback-op.ts, restore.ts) with fakes: the plan adds the
// restore of the backup taken before the release being rolled back; none is refused; the restore
// is asked again and refused without a terminal; the database is never restored in a dry run.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Config } from '../../lib/config.ts'
import { RefusedError } from '../../lib/errors.ts'
import { confirmRestore, planRestore } from '../../lib/pipeline/restore.ts'
import { rollbackOperation, type RollbackRequest } from '../../lib/pipeline/rollback-op.ts'
import { emptyState, type AuditEntry } from '../../lib/model.ts'
import { fakePlatform, memoryStore, quiet } from '../helpers/fakes.ts'
import { ROOT } from '../helpers/run.ts'
import { loadManifest } from '../../lib/manifest/load.ts'

const DMS = loadManifest('examples/dms', { cwd: ROOT, target: 'production' })

const backups = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-restore-'))
  for (const n of ['dms-20260101T000000Z-before-v2.dump', 'dms-20260102T000000Z-before-v3.dump'])
    fs.writeFileSync(path.join(dir, n), 'x')
  return dir
}

test('planRestore picks the backup taken before the release being rolled back, and names what is lost', () => {
  const dir = backups()
  try {
    const r = planRestore(dir, 'v2')
    assert.is(r.backup.name, 'dms-20260101T000000Z-before-v2.dump')
    assert.equal(r.steps, [
      'restore the database from dms-20260101T000000Z-before-v2.dump, taken 2026-01-01T00:00:00.000Z: every write since then is lost',
      'empty the Redis cache',
    ])
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('planRestore refuses when there is no backup', () => {
  try {
    planRestore(path.join(os.tmpdir(), 'dms-no-such-backups'), 'v2')
    assert.unreachable('expected a refusal')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /there is no backup in .*\. Nothing was changed\./)
  }
})

test('confirmRestore needs --yes or a terminal', async () => {
  const dir = backups()
  const { backup } = planRestore(dir, 'v3')
  fs.rmSync(dir, { recursive: true, force: true })
  await confirmRestore(backup, { yes: true, ui: quiet() })
  try {
    await confirmRestore(backup, { yes: false, ui: quiet(), stdin: { isTTY: false } })
    assert.unreachable('expected a refusal')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /Can't restore the database: confirmation is needed/)
  }
})

test('rollback with --restore-db plans the switch back and the restore; without it the database is untouched', async () => {
  const dir = backups()
  try {
    const setup = (restoreDb: boolean) => {
      const state = emptyState('production')
      state.live = 'green'
      state.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'me', verified: true }
      state.slots.green = { version: 'v2', slot: 'green', deployedAt: 't', deployedBy: 'me', verified: true }
      state.releases = [state.slots.blue, state.slots.green]
      state.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(Date.now() + 60_000).toISOString() }
      const { p: platform } = fakePlatform({
        live: 'green',
        blue: { version: 'v1', healthy: true },
        green: { version: 'v2', healthy: true },
      })
      const audit: AuditEntry[] = []
      const store = memoryStore(state, { entries: audit })
      const config = { target: 'production', app: DMS, keepPreviousMs: 60_000, verifyMs: 0 } as unknown as Config
      const request: RollbackRequest = {
        allowUnverified: false,
        restoreDb,
        timeoutMs: 1000,
        yes: true,
        dryRun: false,
        signal: new AbortController().signal,
      }
      const deps = { platform, store, ui: quiet(), config, backupsDir: dir }
      return rollbackOperation(deps, request)
    }
    const withRestore = await setup(true).plan()
    assert.is(withRestore.to, 'blue')
    assert.is(withRestore.backup?.name, 'dms-20260101T000000Z-before-v2.dump')
    assert.match(withRestore.steps.join('\n'), /restore the database from dms-20260101T000000Z-before-v2\.dump/)
    const without = await setup(false).plan()
    assert.is(without.backup, null)
    assert.not.match(without.steps.join('\n'), /restore the database/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
