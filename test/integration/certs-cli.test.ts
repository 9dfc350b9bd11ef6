// scripts/certs.ts without a stack: help, bad commands and settings refused with exit 2 before
// anything changes, show on a target with no certificate yet, and the exact lego command of a
// dry run (no process, no file).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runTs, tempEnvDir } from '../helpers/run.ts'

const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-certs-cli-'))
const base = {
  DMS_ENV_DIR: tempEnvDir({
    '.env.production.local':
      'POSTGRES_PASSWORD=Qm9vdGggc3Ryb25nIHNlY3JldA\nREDIS_PASSWORD=aW5kZWVkIGEgc3Ryb25nIG9uZQ\n',
  }),
  VAR_DIR: varDir,
}
fs.chmodSync(path.join(base.DMS_ENV_DIR, '.env.production.local'), 0o600)
const acme = {
  DOMAINS: 'a.example.com,b.example.com',
  TLS_MODE: 'acme',
  ACME_EMAIL: 'ops@example.org',
  ACME_SERVER: 'https://127.0.0.1:30914/dir',
}
const certs = (args: string[], env: Record<string, string> = {}) =>
  runTs('scripts/certs.ts', args, { env: { ...base, ...env }, timeoutMs: 30_000 })

test.after(() => {
  fs.rmSync(varDir, { recursive: true, force: true })
  fs.rmSync(base.DMS_ENV_DIR, { recursive: true, force: true })
})

test('--help: the commands and the flags, exit 0', async () => {
  const r = await certs(['--help'])
  assert.is(r.code, 0, r.stderr)
  for (const s of ['show', 'issue', 'renew', '--force', '--dry-run', '--lock-wait']) assert.ok(r.stdout.includes(s), s)
})

test('bad input exits 2 naming the problem and the fix; nothing is created', async () => {
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [['revoke'], {}, /unknown command "revoke".*\n.*Use show, issue or renew/],
    [['renew', '--days', '3'], {}, /Can't read the command line: Unknown option '--days'/],
    [['issue', '--yes'], {}, /TLS_MODE=self-signed uses the generated certificate.*\n.*Set TLS_MODE=acme/],
    [['show'], { TLS_MODE: 'acme' }, /TLS_MODE=acme needs the names to serve: set DOMAINS=/],
    [['show'], { DOMAINS: 'a.example.com;return 200' }, /DOMAINS=.* is not a host name/],
    [['issue'], acme, /no terminal|--yes/],
  ]
  for (const [args, env, message] of cases) {
    const r = await certs(args, env)
    assert.is(r.code, 2, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stdout}${r.stderr}`)
    assert.match(r.stderr, message)
  }
  assert.not.ok(fs.existsSync(path.join(varDir, 'acme')))
  assert.not.ok(
    fs.existsSync(path.join(varDir, 'audit.log')) &&
      fs.readFileSync(path.join(varDir, 'audit.log'), 'utf8').includes('issued'),
  )
})

test('show with no certificate yet; --json is one document', async () => {
  const r = await certs(['show', '--json'], acme)
  assert.is(r.code, 0, r.stderr)
  const v = JSON.parse(r.stdout)
  assert.equal(v.domains, ['a.example.com', 'b.example.com'])
  assert.is(v.mode, 'acme')
  assert.is(v.served, null)
})

test('issue --dry-run prints the exact lego command and changes nothing', async () => {
  const r = await certs(['issue', '--dry-run'], acme)
  assert.is(r.code, 0, r.stderr)
  const out = r.stdout + r.stderr
  assert.match(
    out,
    /lego --server https:\/\/127\.0\.0\.1:30914\/dir --email ops@example\.org --accept-tos --path \S+\/acme --key-type ec256 --http --http\.webroot \S+\/certs\/acme-challenge --domains a\.example\.com --domains b\.example\.com run/,
  )
  assert.match(out, /Dry run: nothing was changed/)
  assert.not.ok(fs.existsSync(path.join(varDir, 'acme')))
})

test.run()
