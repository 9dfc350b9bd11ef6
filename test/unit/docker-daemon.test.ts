// live-restore in daemon.json: merged into what is there, never clobbering it; invalid JSON is a
// clear refusal that changes nothing.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { enableLiveRestore, withLiveRestore } from '../../lib/docker-daemon.ts'
import { RefusedError } from '../../lib/errors.ts'

test('no daemon.json: one with live-restore only', () => {
  const r = withLiveRestore(null)
  assert.is(r.changed, true)
  assert.equal(JSON.parse(r.text), { 'live-restore': true })
})

test('an existing daemon.json keeps every other key', () => {
  const before = {
    'log-driver': 'json-file',
    'log-opts': { 'max-size': '10m' },
    'registry-mirrors': ['https://m.example'],
    'live-restore': false,
  }
  const r = withLiveRestore(JSON.stringify(before))
  assert.is(r.changed, true)
  assert.equal(JSON.parse(r.text), { ...before, 'live-restore': true })
})

test('already on: the text is left exactly as it is', () => {
  const text = '{"live-restore":true,   "debug": true}'
  const r = withLiveRestore(text)
  assert.is(r.changed, false)
  assert.is(r.text, text)
})

test('invalid JSON or a non-object is refused, naming the file and the fix', () => {
  for (const text of ['{"debug": true,', '[1, 2]', '"live-restore"']) {
    try {
      withLiveRestore(text, '/etc/docker/daemon.json')
      assert.unreachable(`accepted ${text}`)
    } catch (e) {
      assert.instance(e, RefusedError)
      assert.match((e as Error).message, /^Can't turn on live-restore: \/etc\/docker\/daemon\.json is not/)
      assert.match((e as Error).message, /Nothing was changed/)
      assert.match((e as RefusedError).hint, /then run this again/)
    }
  }
})

test('enableLiveRestore leaves an invalid file untouched', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daemon-json-'))
  const file = path.join(dir, 'daemon.json')
  try {
    fs.writeFileSync(file, '{"debug": true,')
    try {
      await enableLiveRestore({ file, pidFile: path.join(dir, 'none.pid') })
      assert.unreachable('accepted invalid JSON')
    } catch (e) {
      assert.instance(e, RefusedError)
    }
    assert.is(fs.readFileSync(file, 'utf8'), '{"debug": true,')
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
