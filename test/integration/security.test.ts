// Secrets at rest, through the real scripts and git (no Docker stack needed): env files that
// hold secrets must be 0600 (production refuses, staging warns), and .local files and the
// runtime directory never reach git.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { ROOT, runTs, tempEnvDir } from '../helpers/run.ts'

const PG = 'Qm9vdGggc3Ryb25nIHNlY3JldA'
const REDIS = 'aW5kZWVkIGEgc3Ryb25nIG9uZQ'
const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-sec-var-'))

function envWithLocal(mode: number): string {
  const body = `POSTGRES_PASSWORD=${PG}\nREDIS_PASSWORD=${REDIS}\n`
  const dir = tempEnvDir({ '.env.production.local': body, '.env.staging.local': body })
  for (const t of ['production', 'staging']) fs.chmodSync(path.join(dir, `.env.${t}.local`), mode)
  return dir
}

const status = (target: string, dir: string, args: string[] = []) =>
  runTs('scripts/status.ts', ['--target', target, ...args], {
    env: { DMS_ENV_DIR: dir, VAR_DIR: varDir },
    timeoutMs: 30_000,
  })

test('a .local file readable by others: production scripts refuse (exit 2), staging scripts warn and go on', async () => {
  for (const mode of [0o644, 0o640, 0o604]) {
    const dir = envWithLocal(mode)
    const prod = await status('production', dir)
    assert.is(prod.code, 2, prod.stderr)
    assert.match(
      prod.stderr,
      new RegExp(
        `\\.env\\.production\\.local holds secrets and is mode ${mode.toString(8)}; it must be 0600 \\(run: chmod 600 `,
      ),
    )
    assert.is(prod.stdout, '', 'nothing else is done')
    const staging = await status('staging', dir, ['--json'])
    assert.is(staging.code, 0, staging.stderr)
    assert.match(staging.stderr, /\.env\.staging\.local holds secrets and is mode \d+; it must be 0600/)
    assert.is(JSON.parse(staging.stdout).target, 'staging')
    for (const r of [prod, staging])
      for (const s of [PG, REDIS]) assert.not.ok((r.stdout + r.stderr).includes(s), 'no secret in the output')
  }
  const ok = await status('production', envWithLocal(0o600))
  assert.is(ok.code, 0, ok.stderr)
  assert.not.match(ok.stderr, /0600/)
})

test('a secret in the committed env file readable by others is refused for production too', async () => {
  const dir = tempEnvDir()
  fs.appendFileSync(path.join(dir, '.env.production'), `REDIS_PASSWORD=${REDIS}\n`)
  fs.chmodSync(path.join(dir, '.env.production'), 0o644)
  const r = await status('production', dir)
  assert.is(r.code, 2, r.stderr)
  assert.match(
    r.stderr,
    /\.env\.production holds secrets \(REDIS_PASSWORD\) and is mode 644; secrets belong in .*\.env\.production\.local/,
  )
  assert.not.ok(r.stderr.includes(REDIS))
})

test('generated secrets go to a new 0600 .local file', async () => {
  const dir = tempEnvDir()
  const r = await runTs('test/fixtures/core-script.ts', ['--target', 'production', '--yes'], {
    env: { DMS_ENV_DIR: dir, VAR_DIR: varDir },
  })
  assert.is(r.code, 0, r.stderr)
  const local = path.join(dir, '.env.production.local')
  assert.is(fs.statSync(local).mode & 0o777, 0o600)
  assert.match(fs.readFileSync(local, 'utf8'), /^POSTGRES_PASSWORD=\S{20,}$/m)
})

test('.local env files, the runtime directory and keys are git-ignored, and none is tracked', async () => {
  const git = $({ cwd: ROOT, quiet: true, nothrow: true })
  const ignored = [
    'env/.env.production.local',
    'env/.env.staging.local',
    'var/production/audit.log',
    'var/production/secrets/postgres_password',
    'var/staging/certs/tls.key',
    'var/production/state.json',
  ]
  for (const f of ignored) assert.is((await git`git check-ignore -q ${f}`).exitCode, 0, `${f} is git-ignored`)
  for (const f of ['env/.env.production', 'env/.env.staging'])
    assert.is((await git`git check-ignore -q ${f}`).exitCode, 1, `${f} is committed on purpose`)
  const tracked = (await git`git ls-files`).stdout.split('\n')
  assert.ok(tracked.length > 50)
  assert.equal(
    tracked.filter((f) => /\.local$|^var\/|\.key$|\.pem$|secrets\//.test(f)),
    [],
    'no secret-bearing file is tracked',
  )
})

test.after(() => fs.rmSync(varDir, { recursive: true, force: true }))

test.run()
