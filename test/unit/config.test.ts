// The typed configuration: env file parsing, sources, every problem at once, secrets, and the
// settings of other parts read once into typed values.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isWeakSecret } from '../../lib/config-secrets.ts'
import { loadConfig } from '../../lib/config.ts'
import { UsageError } from '../../lib/errors.ts'
import { parseEnvFile } from '../../lib/envfile.ts'
import { tempEnvDir } from '../helpers/run.ts'

const strong = { POSTGRES_PASSWORD: 'Qm9vdGggc3Ryb25nIHNlY3JldA', REDIS_PASSWORD: 'aW5kZWVkIGEgc3Ryb25nIG9uZQ' }

function expectProblems(fn: () => unknown, ...patterns: RegExp[]): string {
  try {
    fn()
  } catch (e) {
    assert.instance(e, UsageError)
    assert.is((e as UsageError).exitCode, 2)
    for (const p of patterns) assert.match((e as Error).message, p)
    return (e as Error).message
  }
  assert.unreachable('expected a configuration error')
  return ''
}

test('parseEnvFile: comments, export, quotes, and line numbers of problems', () => {
  const { entries, problems } = parseEnvFile(
    '# c\nexport A=1\nB="two words"\nC=\'x\' \nD=3 # note\nbad line\nlower=1\nE="open\n',
    'f',
  )
  assert.is(entries.get('A')!.value, '1')
  assert.is(entries.get('B')!.value, 'two words')
  assert.is(entries.get('C')!.value, 'x')
  assert.is(entries.get('D')!.value, '3')
  assert.is(entries.get('D')!.line, 5)
  assert.equal(
    problems.map((p) => p.line),
    [6, 7, 8],
  )
})

test('loads the committed production file with generated secrets into a 0600 .local file', () => {
  const dir = tempEnvDir()
  const env = { DMS_ENV_DIR: dir }
  const c = loadConfig({ target: 'production', env, generateSecrets: true })
  assert.is(c.target, 'production')
  assert.is(c.composeProject, 'dms-prod')
  assert.is(c.ports.https, 8443)
  assert.is(c.keepPreviousMs, 30 * 60_000)
  assert.ok(c.postgres.password.length >= 24)
  assert.is.not(c.postgres.password, c.redisPassword)
  const local = path.join(dir, '.env.production.local')
  assert.is(fs.statSync(local).mode & 0o777, 0o600)
  assert.ok(c.secrets.includes(c.postgres.password))
  // the second load reuses them
  const again = loadConfig({ target: 'production', env, generateSecrets: true })
  assert.is(again.postgres.password, c.postgres.password)
  assert.match(again.sources.POSTGRES_PASSWORD!, /\.env\.production\.local:\d+/)
})

test('without generateSecrets (dry run) nothing is written', () => {
  const dir = tempEnvDir()
  const c = loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir }, generateSecrets: false })
  assert.is(c.postgres.password, '')
  assert.not.ok(fs.existsSync(path.join(dir, '.env.staging.local')))
})

test('the process environment overrides the files, for known keys only', () => {
  const dir = tempEnvDir({
    '.env.production.local': Object.entries(strong)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  })
  const c = loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: dir, HTTPS_PORT: '18443', HEALTH_DISK_WARN_PCT: '70', RANDOM_THING: 'x' },
  })
  assert.is(c.ports.https, 18443)
  assert.is(c.sources.HTTPS_PORT, 'environment')
  assert.is(c.raw.HEALTH_DISK_WARN_PCT, '70')
  assert.is(c.raw.RANDOM_THING, undefined)
})

test('settings of other parts are read once into typed values; a wildcard listen address is reached on loopback', () => {
  const dir = tempEnvDir({
    '.env.production': 'LISTEN_ADDR=0.0.0.0\nPROMETHEUS_PORT=19091\n',
    '.env.production.local': Object.entries(strong)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
  })
  const c = loadConfig({
    target: 'production',
    env: {
      DMS_ENV_DIR: dir,
      NOTIFY_TIMEOUT_MS: '1500',
      SMOKE_REQUESTS: '20',
      SMOKE_CONCURRENCY: '0',
      SMOKE_MAX_P95_MS: 'fast',
      ALERT_SMTP_PASSWORD: 'smtp-secret-value-1',
      APP_LOG_LEVEL: 'debug',
      APP_NOT_A_KNOB: 'x',
      HEALTH_DISK_WARN_PCT: '70',
      HEALTH_MEM_WARN_PCT: '101',
    },
  })
  assert.is(c.localAddr, '127.0.0.1')
  assert.is(c.ports.prometheus, 19091)
  assert.is(c.ports.alertmanager, 8093)
  assert.is(c.notifyTimeoutMs, 1500)
  assert.equal(c.smoke, { requests: 20, durationMs: 15_000, concurrency: 1, maxErrorRate: 0.01, maxP95Ms: 1500 })
  assert.equal(c.alertmanager, { slackWebhookUrl: '', pagerdutyRoutingKey: '', smtpPassword: 'smtp-secret-value-1' })
  assert.equal(c.appEnv, { LOG_LEVEL: 'debug' })
  assert.is(c.health.thresholds.diskWarnPct, 70)
  assert.is(c.health.thresholds.memWarnPct, 85)
  assert.equal(c.health.problems, ['HEALTH_MEM_WARN_PCT=101 is above 100; using 85'])
  const local = loadConfig({
    target: 'production',
    env: {
      DMS_ENV_DIR: tempEnvDir({ '.env.production': 'LISTEN_ADDR=10.1.2.3\n', '.env.production.local': '' }),
      ...strong,
    },
  })
  assert.is(local.localAddr, '10.1.2.3')
  assert.is(local.notifyTimeoutMs, 5000)
})

test('every problem is reported at once with file and line', () => {
  const dir = tempEnvDir()
  fs.appendFileSync(
    path.join(dir, '.env.staging'),
    'HTTPS_PORT=99999\nNET_PREFIX=10.0.0.0/8\nnot a line\nCOMPOSE_PROJECT=Bad Name;rm\n',
  )
  const msg = expectProblems(
    () => loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir } }),
    /4 problems/,
    /\.env\.staging:\d+: HTTPS_PORT="99999" is not valid: write a port number/,
    /NET_PREFIX="10\.0\.0\.0\/8"/,
    /\.env\.staging:\d+: "not a line" is not KEY=VALUE/,
    /COMPOSE_PROJECT/,
  )
  assert.match(msg, /^Can't load the staging configuration/)
})

test('unknown target and missing file are exit-2 errors', () => {
  expectProblems(() => loadConfig({ target: 'prod;rm -rf /' }), /unknown target/)
  expectProblems(
    () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: '/nonexistent-dir' } }),
    /\.env\.production: can't read it \(ENOENT\)/,
  )
})

test('production refuses placeholder and weak secrets; staging only warns', () => {
  for (const weak of ['change-me', 'password', 'short', 'aaaaaaaaaaaaaaaaaaaa', 'CHANGE_ME_please_now_123']) {
    assert.ok(isWeakSecret(weak), weak)
    const dir = tempEnvDir({
      '.env.production.local': `POSTGRES_PASSWORD=${weak}\nREDIS_PASSWORD=${strong.REDIS_PASSWORD}\n`,
    })
    expectProblems(
      () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir } }),
      /POSTGRES_PASSWORD is a placeholder or weak secret/,
    )
  }
  const dir = tempEnvDir({
    '.env.staging.local': `POSTGRES_PASSWORD=change-me\nREDIS_PASSWORD=${strong.REDIS_PASSWORD}\n`,
  })
  const c = loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir } })
  assert.ok(c.warnings.some((w) => /placeholder or weak/.test(w)))
  assert.not.ok(isWeakSecret(strong.POSTGRES_PASSWORD))
})

test('a .local file readable by others is refused for production, warned for staging', () => {
  const body = Object.entries(strong)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')
  const dir = tempEnvDir({ '.env.production.local': body, '.env.staging.local': body })
  fs.chmodSync(path.join(dir, '.env.production.local'), 0o644)
  fs.chmodSync(path.join(dir, '.env.staging.local'), 0o640)
  expectProblems(
    () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir } }),
    /mode 644; it must be 0600 \(run: chmod 600/,
  )
  const c = loadConfig({ target: 'staging', env: { DMS_ENV_DIR: dir } })
  assert.ok(c.warnings.some((w) => /must be 0600/.test(w)))
})

test('secret values with shell or quote characters are refused, and never echoed', () => {
  const dir = tempEnvDir({
    '.env.production.local': `POSTGRES_PASSWORD="abc def$(x)ghijklmnop"\nREDIS_PASSWORD=${strong.REDIS_PASSWORD}\n`,
  })
  const msg = expectProblems(
    () => loadConfig({ target: 'production', env: { DMS_ENV_DIR: dir } }),
    /POSTGRES_PASSWORD=\(secret\) is not valid/,
  )
  assert.not.ok(msg.includes('ghijklmnop'))
})

test.run()
