// Bad input, table-driven, at the functions every script calls before it touches anything:
// versions, slots, targets, durations, numbers, gradual steps, --prometheus, config values
// (nginx template values included) and env files. Each must be refused with exit 2 (health-check:
// 3), a message naming the flag or key, and never the raw value back: no newline, at most a
// short, escaped excerpt of a 10 KB value.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { validateSlot, validateVersion } from '../../lib/model.ts'
import { parseGradual } from '../../lib/bluegreen.ts'
import { parseDuration, parseFlags, reportError, type ScriptSpec } from '../../lib/cli.ts'
import { loadConfig, validateTarget } from '../../lib/config.ts'
import { EXIT, RefusedError, ToolkitError, UsageError } from '../../lib/errors.ts'
import { checkPrometheusFile } from '../../lib/health/cycle.ts'
import { Printer } from '../../lib/ui.ts'
import { tempEnvDir } from '../helpers/run.ts'
import { memoryStream } from '../helpers/streams.ts'

const TEN_KB = 'a'.repeat(10 * 1024)
/** Values no flag that names a version, slot, target, duration or number may accept. */
const HOSTILE = [
  '; rm -rf /',
  '$(id)',
  '`id`',
  'a b',
  'a\nb',
  '..',
  '../../etc/passwd',
  '/etc/passwd',
  'blüe-✓',
  '',
  TEN_KB,
  '-rf',
  '--yes',
  '\u0000x',
]

function refused(fn: () => unknown, name: RegExp, what: string, code: number = EXIT.REFUSED): string {
  try {
    fn()
  } catch (e) {
    assert.instance(e, ToolkitError, `${what}: a typed error`)
    assert.is((e as ToolkitError).exitCode, code, `${what}: exit code`)
    const msg = (e as Error).message
    assert.match(msg, /^Can't /, `${what}: "Can't …"`)
    assert.match(msg, name, `${what}: names the problem`)
    assert.not.ok(msg.includes(TEN_KB.slice(0, 200)), `${what}: a 10 KB value is not echoed`)
    return msg
  }
  assert.unreachable(`${what}: accepted`)
  return ''
}

test('--version / --to: only image tags (no "..", no leading "-" or ".", nothing else)', () => {
  for (const v of [...HOSTILE, '.hidden', '-x', 'a'.repeat(129), 'v1/../../x', 'v1:latest', 'v1@sha256']) {
    const msg = refused(() => validateVersion(v), /--version/, `--version ${JSON.stringify(v.slice(0, 20))}`)
    assert.not.ok(/[\n\r]/.test(msg), 'the message is one line')
  }
  refused(() => validateVersion(undefined), /--version is required/, 'missing --version')
  refused(() => validateVersion('..', '--to'), /--to/, '--to ..')
  for (const ok of ['v1.4.2', '1.0.0', 'e2e-d1', '_build.7', 'a'.repeat(128)]) assert.is(validateVersion(ok), ok)
})

test('--slot: blue or green, nothing else', () => {
  for (const v of [...HOSTILE, 'Blue', 'green ', 'blue,green', 'red'])
    refused(() => validateSlot(v), /--slot/, `--slot ${JSON.stringify(v.slice(0, 20))}`)
  assert.is(validateSlot('blue'), 'blue')
  assert.is(validateSlot(undefined), undefined)
})

test('--target: staging or production, nothing else', () => {
  for (const v of [...HOSTILE, 'Production', 'prod', 'staging '])
    refused(() => validateTarget(v), /unknown target/, `--target ${JSON.stringify(v.slice(0, 20))}`)
})

test('durations (--timeout, --step, --verify, --keep-previous, --lock-wait, --watch) refuse every hostile value', () => {
  for (const v of [...HOSTILE, '1d', '-5s', '9'.repeat(400), '1e3s', 'NaN', 'Infinity', '0x10']) {
    const msg = refused(() => parseDuration(v, 'timeout'), /--timeout/, `--timeout ${JSON.stringify(v.slice(0, 20))}`)
    assert.not.ok(/[\n\r]/.test(msg), 'the message is one line')
    assert.ok(msg.length < 200, `a short message: ${msg.length}`)
  }
})

test('number flags (--audit) and unknown flags or positionals refuse hostile values', () => {
  const spec: ScriptSpec = { name: 'demo', summary: 'demo', flags: { audit: { type: 'number', description: 'n' } } }
  for (const v of ['', 'a b', '$(id)', '1e999', '9'.repeat(400), 'ten', TEN_KB]) {
    refused(() => parseFlags(spec, ['--audit', v]), /--audit/, `--audit ${JSON.stringify(v.slice(0, 20))}`)
  }
  for (const argv of [['--$(id)'], ['; rm -rf /'], ['--version=1'], ['--target']])
    refused(() => parseFlags(spec, argv), /command line/, argv.join(' '))
})

test('--gradual: rising percentages ending at 100', () => {
  for (const v of [
    ...HOSTILE.filter((x) => x !== ''),
    '',
    '10,5,100',
    '10,50',
    '0,100',
    '101',
    '10,,100',
    '10;100',
    '1e2',
  ]) {
    refused(() => parseGradual(v), /--gradual/, `--gradual ${JSON.stringify(v.slice(0, 20))}`)
  }
  assert.equal(parseGradual('10,50,100'), [10, 50, 100])
})

test('--prometheus: a .prom file in an existing directory, checked before anything runs', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-prom-'))
  for (const v of [
    '',
    '/etc/passwd',
    '..',
    `${dir}/../`,
    `${dir}/x.txt`,
    `${dir}/missing/x.prom`,
    `${dir}/$(id).prom`,
    `${dir}/a b.prom`,
    `${dir}/a\nb.prom`,
    `${dir}/.prom`,
    TEN_KB,
  ]) {
    refused(() => checkPrometheusFile(v), /--prometheus/, `--prometheus ${JSON.stringify(v.slice(0, 30))}`)
  }
  assert.is(checkPrometheusFile(`${dir}/health-check.prom`), `${dir}/health-check.prom`)
  assert.is(checkPrometheusFile(undefined), undefined)
})

test('usageExitCode: bad input exits 3 (UNKNOWN) for health-check, other refusals keep their code', () => {
  const spec: ScriptSpec = { name: 'health-check', summary: 'x', flags: {}, unexpectedExitCode: 3, usageExitCode: 3 }
  const ui = new Printer({ out: memoryStream(), err: memoryStream() })
  assert.is(reportError(ui, new UsageError("Can't read --timeout: bad"), spec), 3)
  assert.is(reportError(ui, new RefusedError("Can't act: refused"), spec), 2)
  assert.is(reportError(ui, new Error('boom'), spec), 3)
  assert.is(reportError(ui, new UsageError("Can't read --timeout: bad"), { ...spec, usageExitCode: undefined }), 2)
})

/** Every config problem names its key, and its source (file:line or environment). */
const BAD_VALUES: Array<[string, string, RegExp?]> = [
  ['LISTEN_ADDR', '127.0.0.1; include /etc/passwd'],
  ['LISTEN_ADDR', '127.0.0.1:443 ssl; allow all'],
  ['STATUS_ALLOW', '127.0.0.1/32; allow all'],
  ['STATUS_ALLOW', '0.0.0.0/0 }'],
  ['STATUS_ALLOW', ''],
  ['NET_PREFIX', '172.29.36; }'],
  ['NET_PREFIX', '../etc'],
  ['HTTPS_PORT', '99999'],
  ['HTTPS_PORT', '443; listen 80'],
  ['COMPOSE_PROJECT', '../x'],
  ['COMPOSE_PROJECT', 'a b'],
  ['NETWORK_NAME', '$(id)'],
  ['BASE_IMAGE', 'x;rm -rf /'],
  ['APP_IMAGE', '../../app'],
  ['VAR_DIR', ''],
  ['VAR_DIR', 'var\nx'],
  ['POSTGRES_USER', 'dms; DROP TABLE x'],
  ['POSTGRES_DB', 'Dms'],
  ['KEEP_PREVIOUS', 'forever'],
  ['DEPLOY_TIMEOUT', TEN_KB],
  ['SWITCH_MIN_SUCCESS_RATE', '2'],
  ['BACKUP_KEEP_COUNT', '-1'],
  ['WEBHOOK_URL', 'file:///etc/passwd'],
  ['WEBHOOK_URL', 'http://x/`id`'],
  ['STAGING_CHECKS', 'a\nb'],
]

test('config values: every hostile value is refused, naming the key; none reaches nginx or compose', () => {
  const dir = tempEnvDir()
  for (const [key, value] of BAD_VALUES) {
    const msg = refused(
      () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir, [key]: value }, generateSecrets: false }),
      new RegExp(`${key}`),
      `${key}=${JSON.stringify(value.slice(0, 30))}`,
    )
    assert.match(msg, /environment/, `${key}: says where the value came from`)
    assert.not.ok(msg.includes(TEN_KB.slice(0, 100)))
  }
})

test('env files: malformed lines, bad values and a missing file are refused with file and line', () => {
  const cases: Array<[string, RegExp]> = [
    ['garbage line\n', /\.env\.production:1: "garbage line" is not KEY=VALUE/],
    ['1KEY=x\n', /:1: "1KEY" is not a valid name/],
    ['HTTPS_PORT="8443\n', /:1: HTTPS_PORT: the quoted value is not closed/],
    ['# ok\nLISTEN_ADDR=127.0.0.1; include /x\n', /\.env\.production:2: LISTEN_ADDR=.* is not valid/],
    ['STATUS_ALLOW=127.0.0.1/32;allow all\n', /\.env\.production:1: STATUS_ALLOW=.* is not valid/],
    ['KEEP_PREVIOUS=$(id)\n', /\.env\.production:1: KEEP_PREVIOUS=.* is not valid/],
    [`DEPLOY_TIMEOUT=${TEN_KB}\n`, /DEPLOY_TIMEOUT="a+…" is not valid/],
    ['ÜBER=1\n', /"ÜBER" is not a valid name/],
    ['A=1\0\n', /NUL bytes/],
  ]
  for (const [text, re] of cases) {
    const dir = tempEnvDir()
    fs.writeFileSync(path.join(dir, '.env.production'), text)
    refused(
      () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir }, generateSecrets: false }),
      re,
      JSON.stringify(text.slice(0, 30)),
    )
  }
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-env-empty-'))
  refused(
    () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: empty } }),
    /\.env\.production: can't read it \(ENOENT\)/,
    'missing file',
  )
})

test('a secret in the committed env file: 0644 is refused for production and warned for staging; 0600 passes', () => {
  const dir = tempEnvDir()
  const secret = 'Qm9vdGggc3Ryb25nIHNlY3JldA'
  for (const t of ['production', 'staging'])
    fs.appendFileSync(path.join(dir, `.env.${t}`), `POSTGRES_PASSWORD=${secret}\n`)
  fs.chmodSync(path.join(dir, '.env.production'), 0o644)
  fs.chmodSync(path.join(dir, '.env.staging'), 0o644)
  const msg = refused(
    () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir }, generateSecrets: false }),
    /holds secrets \(POSTGRES_PASSWORD\) and is mode 644; secrets belong in .*\.env\.production\.local/,
    'production 0644',
  )
  assert.not.ok(msg.includes(secret), 'the value is not shown')
  const staging = loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir }, generateSecrets: false })
  assert.ok(
    staging.warnings.some((w) => /holds secrets \(POSTGRES_PASSWORD\)/.test(w)),
    staging.warnings.join('\n'),
  )
  fs.chmodSync(path.join(dir, '.env.production'), 0o600)
  assert.is(
    loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir }, generateSecrets: false }).postgres.password,
    secret,
  )
})

test.run()
