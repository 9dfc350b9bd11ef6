// test/run-one.sh, the per-file runner of npm test: a before hook that throws is printed with its error
// (test/helpers/hook-errors.ts) and counts the file as failed; a passing file counts its tests.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT } from '../helpers/run.ts'

function runOne(file: string): { out: string; res: string } {
  const results = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-run-one-'))
  try {
    const r = spawnSync('bash', ['test/run-one.sh', file], {
      cwd: ROOT,
      env: { ...process.env, DMS_RESULTS: results },
      encoding: 'utf8',
      timeout: 60_000,
    })
    const id = file.replace(/^test\//, '').replaceAll('/', '__')
    return { out: r.stdout + r.stderr, res: fs.readFileSync(path.join(results, `${id}.res`), 'utf8').trim() }
  } finally {
    fs.rmSync(results, { recursive: true, force: true })
  }
}

test('a before hook that throws: its error and stack are printed, the file counts as failed', () => {
  const { out, res } = runOne('test/fixtures/hooks/before-throws.test.ts')
  assert.match(out, /!! test\.before hook threw/)
  assert.match(out, /Error: fixture: the before hook failed on purpose/)
  assert.match(out, /before-throws\.test\.ts:7/)
  assert.match(out, /1 of 1 tests did not pass and none reported a failure: a before\/after hook threw/)
  assert.is(res, '0 1 1')
})

test('a file whose hooks and tests pass counts its tests and prints no hook error', () => {
  const { out, res } = runOne('test/fixtures/hooks/passes.test.ts')
  assert.not.match(out, /hook threw/)
  assert.is(res, '1 0 0')
})

test.run()
