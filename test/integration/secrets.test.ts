// First-run secrets as whole processes: several first runs at once (a pause injected between
// reading the .local file and writing it, DMS_FAULT) end with one password per key in
// env/.env.<target>.local, and every run uses that one.
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseEnvFile } from '../../lib/envfile.ts'
import { runTs, tempEnvDir } from '../helpers/run.ts'

const RACERS = 4
const ROUNDS = 3
const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 16)

test(`${RACERS} first runs at once, ${ROUNDS} rounds: one password per secret in the .local file, used by every run`, async () => {
  for (let round = 0; round < ROUNDS; round++) {
    const dir = tempEnvDir()
    const start = String(Date.now() + 1500)
    const runs = await Promise.all(
      Array.from({ length: RACERS }, () =>
        runTs('test/fixtures/first-run.ts', [dir, start], { env: { DMS_FAULT: 'secrets.generate=pause:300' } }),
      ),
    )
    for (const r of runs) assert.is(r.code, 0, r.stderr)
    const local = path.join(dir, '.env.production.local')
    const text = fs.readFileSync(local, 'utf8')
    const lines = text.split('\n').filter((l) => /^[A-Z]/.test(l))
    assert.equal(
      lines.map((l) => l.split('=')[0]).sort(),
      ['POSTGRES_PASSWORD', 'REDIS_PASSWORD'],
      `round ${round}: one line per secret, not one per run`,
    )
    assert.is(fs.statSync(local).mode & 0o777, 0o600)
    const entries = parseEnvFile(text, local).entries
    const inFile = {
      postgres: hash(entries.get('POSTGRES_PASSWORD')!.value),
      redis: hash(entries.get('REDIS_PASSWORD')!.value),
    }
    for (const r of runs)
      assert.equal(JSON.parse(r.stdout.trim()), inFile, `round ${round}: every run uses the password in the file`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
