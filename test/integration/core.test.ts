// The shared core as whole processes: lock races, crash safety, no-TTY refusal, masking.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readState } from '../../lib/state.ts'
import { ROOT, runTs, tempEnvDir } from '../helpers/run.ts'

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dms-core-'))

test('processes racing for the lock: exactly one wins each round', async () => {
  for (let round = 0; round < 3; round++) {
    const file = path.join(tmp(), 'deploy.lock')
    const start = String(Date.now() + 1500)
    const release = `${file}.release`
    let finished = 0
    const runs = [0, 1, 2, 3].map(() =>
      runTs('test/fixtures/lock-child.ts', [file, start, release], { timeoutMs: 120_000 }).then((r) => {
        finished++
        return r
      }),
    )
    // the winner holds the lock until the three others have lost (or a deadline: then the count fails)
    const deadline = Date.now() + 90_000
    while (finished < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    fs.writeFileSync(release, '')
    const results = await Promise.all(runs)
    const outs = results.map((r) => r.stdout.trim())
    assert.is(outs.filter((o) => o === 'won').length, 1, `round ${round}: ${outs.join(',')}`)
    assert.is(
      outs.filter((o) => o === 'lost').length,
      3,
      `round ${round}: ${outs.join(',')} ${results.map((r) => r.stderr).join('')}`,
    )
    assert.not.ok(fs.existsSync(file), 'the winner released the lock')
  }
})

test('a process killed with SIGKILL while writing state leaves a parseable file', async () => {
  for (let i = 0; i < 5; i++) {
    const file = path.join(tmp(), 'state.json')
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test/fixtures/state-writer.ts'), file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()))
    await new Promise((r) => setTimeout(r, 20 + i * 37)) // vary the moment of the kill
    child.kill('SIGKILL')
    await new Promise((r) => child.once('close', r))
    const s = readState(file, 'production')
    assert.ok(s.history.length > 5, 'the file holds a complete state')
  }
})

test('a script with stdin from /dev/null and no --yes exits 2 within a second, naming --yes', async () => {
  const dir = tempEnvDir()
  const r = await runTs('test/fixtures/core-script.ts', ['--target', 'staging'], {
    env: { DMS_ENV_DIR: dir },
    timeoutMs: 10_000,
  })
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /--yes/)
  assert.match(r.stderr, /no terminal/)
  // measured from process start, so it includes Node and tsx start-up
  assert.ok(r.ms < 5000, `took ${r.ms} ms`)
  const withYes = await runTs('test/fixtures/core-script.ts', ['--target', 'staging', '--yes'], {
    env: { DMS_ENV_DIR: dir },
  })
  assert.is(withYes.code, 0, withYes.stderr)
})

test('secrets appear in no output mode: human, --json, --quiet, --verbose, errors', async () => {
  const dir = tempEnvDir()
  const env = { DMS_ENV_DIR: dir }
  // first run generates the secrets
  const first = await runTs('test/fixtures/core-script.ts', ['--target', 'production', '--yes'], { env })
  assert.is(first.code, 0, first.stderr)
  const local = fs.readFileSync(path.join(dir, '.env.production.local'), 'utf8')
  const secrets = [...local.matchAll(/^[A-Z_]+=(.+)$/gm)].map((m) => m[1]!)
  assert.is(secrets.length, 2)
  const modes = [
    ['--yes'],
    ['--yes', '--json'],
    ['--yes', '--quiet'],
    ['--yes', '--verbose'],
    ['--yes', '--fail'],
    ['--yes', '--fail', '--json'],
    ['--yes', '--fail', '--verbose'],
    [],
  ]
  for (const args of modes) {
    const r = await runTs('test/fixtures/core-script.ts', ['--target', 'production', ...args], { env })
    const all = r.stdout + r.stderr
    for (const s of secrets) assert.not.ok(all.includes(s), `secret leaked with ${args.join(' ')}: ${all}`)
    assert.ok(all.includes('****'), `masked marker present with ${args.join(' ')}`)
    if (args.includes('--json')) {
      const doc = JSON.parse(r.stdout)
      assert.type(doc, 'object', 'stdout is one JSON document')
    }
  }
})

test.run()
