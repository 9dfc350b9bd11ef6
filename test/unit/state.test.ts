// The state file, the audit log and the deploy lock against real files and the kernel lock.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { LockCorruptError, acquireLock, forceUnlock, lockHeld, readLock } from '../../lib/lock.ts'
import { appendAudit, readAudit } from '../../lib/audit.ts'
import { emptyState } from '../../lib/model.ts'
import { LockHeldError, RefusedError } from '../../lib/errors.ts'
import { StateCorruptError, readState, updateState, writeState } from '../../lib/state.ts'

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dms-state-'))

test('state: missing file is an empty state; written state reads back; a .bak keeps the last good copy', () => {
  const file = path.join(tmp(), 'state.json')
  assert.equal(readState(file, 'production'), emptyState('production'))
  updateState(file, 'production', (s) => {
    s.live = 'blue'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 'now', deployedBy: 'me' }
  })
  updateState(file, 'production', (s) => (s.live = 'green'))
  assert.is(readState(file, 'production').live, 'green')
  assert.is(JSON.parse(fs.readFileSync(`${file}.bak`, 'utf8')).live, 'blue')
  assert.equal(
    fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp')),
    [],
  )
})

test('state: a corrupt or foreign file is reported (exit 2) and never replaced', () => {
  const file = path.join(tmp(), 'state.json')
  for (const bad of [
    '{"schema":1,',
    '[]',
    '{"schema":2}',
    JSON.stringify({ ...emptyState('staging') }),
    JSON.stringify({ ...emptyState('production'), live: 'purple' }),
  ]) {
    fs.writeFileSync(file, bad)
    try {
      readState(file, 'production')
      assert.unreachable(`accepted ${bad}`)
    } catch (e) {
      assert.instance(e, StateCorruptError)
      assert.is((e as StateCorruptError).exitCode, 2)
      assert.match((e as Error).message, /Nothing was changed/)
    }
    try {
      updateState(file, 'production', (s) => (s.live = 'blue'))
      assert.unreachable('updated a corrupt file')
    } catch {
      assert.is(fs.readFileSync(file, 'utf8'), bad)
    }
  }
})

test('audit: one JSON line per entry with user, host, command; appended, masked', () => {
  const file = path.join(tmp(), 'audit.log')
  appendAudit(
    file,
    {
      action: 'switch',
      outcome: 'done',
      version: 'v2',
      slot: 'green',
      durationMs: 12,
      command: 'switch --token hunter2hunter2',
    },
    (s) => s.replaceAll('hunter2hunter2', '****'),
  )
  appendAudit(file, { action: 'rollback', outcome: 'failed' })
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n')
  assert.is(lines.length, 2)
  const first = JSON.parse(lines[0]!)
  for (const k of ['time', 'user', 'host', 'command', 'action', 'outcome', 'version', 'slot', 'durationMs'])
    assert.ok(k in first, k)
  assert.not.ok(lines[0]!.includes('hunter2hunter2'))
  assert.equal(
    readAudit(file, 1).map((e) => e.action),
    ['rollback'],
  )
  assert.equal(readAudit(file, 0), [], 'asking for no entries gets none, not the whole log')
})

test('lock: exclusive, names the holder, released only by its owner', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  const lock = await acquireLock(file, { command: 'deploy v1' })
  assert.is(readLock(file)!.pid, process.pid)
  try {
    await acquireLock(file, { command: 'deploy v2' })
    assert.unreachable('took a held lock')
  } catch (e) {
    assert.instance(e, LockHeldError)
    assert.is((e as LockHeldError).exitCode, 3)
    assert.match((e as Error).message, new RegExp(`pid ${process.pid} .*deploy v1`))
  }
  lock.release()
  assert.is(readLock(file), null)
})

test('lock: --lock-wait waits for the holder to finish', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  const first = await acquireLock(file)
  let waited = false
  setTimeout(() => first.release(), 300)
  const second = await acquireLock(file, { waitMs: 5000, pollMs: 50, onWait: () => (waited = true) })
  assert.ok(waited)
  second.release()
})

test('lock: a stale lock (dead pid on this host) is taken over and reported', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  fs.writeFileSync(
    file,
    JSON.stringify({
      pid: 2 ** 22 + 12345,
      host: os.hostname(),
      user: 'x',
      command: 'deploy',
      startedAt: new Date().toISOString(),
    }),
  )
  let stale: unknown
  const lock = await acquireLock(file, { onStale: (h) => (stale = h) })
  assert.ok(stale)
  assert.is(readLock(file)!.pid, process.pid)
  lock.release()
})

test('lock: a corrupt lock file is an exit-2 error naming --force-unlock; forceUnlock removes it', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  fs.writeFileSync(file, 'garbage{')
  try {
    await acquireLock(file)
    assert.unreachable('took a corrupt lock')
  } catch (e) {
    assert.instance(e, LockCorruptError)
    assert.is((e as LockCorruptError).exitCode, 2)
    assert.match((e as LockCorruptError).hint, /--force-unlock/)
  }
  forceUnlock(file)
  ;(await acquireLock(file)).release()
})

test('lock: --force-unlock refuses a lock a live process holds, removes one nobody holds', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  const lock = await acquireLock(file, { command: 'deploy v1' })
  assert.ok(lockHeld(file))
  try {
    forceUnlock(file)
    assert.unreachable('removed a held lock')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /a running process holds it \(pid \d+ .*deploy v1/)
    assert.match((e as RefusedError).hint, new RegExp(`kill ${process.pid}`))
  }
  assert.is(readLock(file)!.command, 'deploy v1', 'the record was left in place')
  lock.release()
  assert.not.ok(lockHeld(file))
  fs.writeFileSync(
    file,
    JSON.stringify({
      pid: 2 ** 22 + 1,
      host: os.hostname(),
      user: 'x',
      command: 'gone',
      startedAt: new Date().toISOString(),
    }),
  )
  assert.is(forceUnlock(file)!.command, 'gone')
  assert.is(readLock(file), null)
})

test('lock: a holder that has not named itself yet is waited for briefly, then refused as "just starting"', async () => {
  const file = path.join(tmp(), 'deploy.lock')
  const first = await acquireLock(file)
  fs.rmSync(file) // as if it had not written deploy.lock yet
  setTimeout(() => first.release(), 300)
  const t0 = Date.now()
  ;(await acquireLock(file, { waitMs: 0 })).release()
  assert.ok(Date.now() - t0 >= 250, 'it waited for the starting holder instead of refusing at once')
  const holder = await acquireLock(file)
  fs.rmSync(file)
  try {
    await acquireLock(file, { waitMs: 0 })
    assert.unreachable('took a held lock')
  } catch (e) {
    assert.instance(e, LockHeldError)
    assert.match((e as Error).message, /a process that has not written .* yet \(it is just starting\)/)
  }
  holder.release()
})

test('writeState bounds history and releases', () => {
  const file = path.join(tmp(), 'state.json')
  const s = emptyState('production')
  for (let i = 0; i < 500; i++) s.history.push({ time: 't', action: 'a', outcome: 'o' })
  writeState(file, s)
  assert.is(readState(file, 'production').history.length, 200)
})

test.run()
