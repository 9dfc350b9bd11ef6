// Security of a running production stack, tried from outside with real tools: TLS with
// openssl s_client (protocols and every cipher this openssl can offer), security headers on
// every kind of response, rate limits per client, the status allow-list, and secrets: never on
// a command line during deploy/create/switch/rollback, never in output, audit log,
// notifications, hook environments, images, compose config or container environments. The
// audit log is made append-only with chattr +a for the whole sequence, so any rewrite fails.
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { acquireLock } from '../../lib/lock.ts'
import { composeArgs, coreTarget, slotTarget } from '../../lib/compose.ts'
import { buildImages, removeProjects, request, waitFor, type HttpResult } from './harness.ts'
import {
  assertAppended,
  handshake,
  mapLimit,
  readText,
  sampleProcessList,
  tls12Ciphers,
  type SampleReport,
} from './security-helpers.ts'
import { liveMarker, script, toolkitTarget } from './toolkit-env.ts'

const PREFIX = 'dmst-sec'
const HOOK_PORT = 23095
const CONTROL_TLS_PORT = 23998
const TOKEN = crypto.randomBytes(12).toString('hex')
const hooks = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-hooks-`))
fs.writeFileSync(path.join(hooks, 'post-deploy'), `#!/bin/sh\nenv > ${hooks}/post-deploy.env\n`, { mode: 0o755 })
const t = toolkitTarget(PREFIX, '172.29.36', 23, {
  STATUS_ALLOW: '127.0.0.1/32',
  VERIFY_WINDOW: '2s',
  DEPLOY_TIMEOUT: '90s',
  SMOKE_REQUESTS: '60',
  SMOKE_DURATION_MS: '4000',
  SMOKE_MAX_P95_MS: '5000',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
  WEBHOOK_URL: `http://127.0.0.1:${HOOK_PORT}/hook/${TOKEN}`,
  HOOKS_DIR: hooks,
})
const SECRETS = [...t.config.secrets, TOKEN]
const PUBLIC = t.config.ports.https
const PREVIEW = t.config.ports.preview
const url = (port: number, p: string, scheme = 'https') => `${scheme}://127.0.0.1:${port}${p}`
const SECURITY_HEADERS = [
  'content-security-policy',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'permissions-policy',
]

const outputs: Array<{ what: string; text: string }> = []
const samples: Array<{ what: string; report: SampleReport }> = []
const webhooks: Array<{ url: string; body: string }> = []
let hookServer: http.Server
let control: ChildProcess | undefined
let auditSoFar = ''
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.is(r.code, 0, `${what} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`)
}

/** Runs a script with the process list sampled throughout; keeps its output for the secrets check. */
async function sampled(what: string, name: string, args: string[]) {
  const sampler = sampleProcessList(SECRETS)
  const r = await script(t, name, args)
  samples.push({ what, report: await sampler.stop() })
  outputs.push({ what, text: r.stdout + r.stderr })
  return r
}

/** After each operation: the audit log's earlier lines are untouched; returns the new entries. */
function auditStep(what: string): Array<Record<string, unknown>> {
  const now = readText(t.paths.audit)
  const added = assertAppended(auditSoFar, now, what)
  auditSoFar = now
  return added
}

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0', '2.0.0'])
  hookServer = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      webhooks.push({ url: String(req.url), body })
      res.end('ok')
    })
  })
  await new Promise<void>((resolve) => hookServer.listen(HOOK_PORT, '127.0.0.1', resolve))
  // The audit log is append-only at the filesystem level for the whole suite (ext4 supports it).
  fs.mkdirSync(t.paths.varDir, { recursive: true })
  fs.writeFileSync(t.paths.audit, '', { mode: 0o640 })
  await $`chattr +a ${t.paths.audit}`
  console.log(`  images ready at ${since()}`)
})

test.after(async () => {
  control?.kill()
  hookServer?.close()
  await $({ nothrow: true, quiet: true })`chattr -a ${t.paths.audit}`
  await removeProjects(PREFIX)
  for (const dir of [t.paths.varDir, t.env.DMS_ENV_DIR!, hooks]) fs.rmSync(dir, { recursive: true, force: true })
})

test('the process-list sampler sees a secret on a command line (the check can fail)', async () => {
  const canary = `canary-${SECRETS[0]}`
  const sampler = sampleProcessList(SECRETS)
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)', canary], { stdio: 'ignore' })
  try {
    await waitFor(
      'the sampler to see the canary',
      async () => (sampler.report.leaks.some((l) => l.includes(canary)) ? true : undefined),
      10_000,
      20,
    )
  } finally {
    const gone = new Promise((r) => child.once('exit', r))
    child.kill()
    await gone
    await sampler.stop()
  }
})

test('first deploy on a bare target (process list sampled throughout, audit log append-only)', async () => {
  const r = await sampled('deploy 1.0.0', 'deploy-production', ['--version', '1.0.0', '--yes', '--verbose'])
  ok(r, 'deploy 1.0.0')
  console.log(`  deploy 1.0.0: ${(r.ms / 1000).toFixed(1)}s at ${since()}`)
  assert.is(liveMarker(t), 'green')
  const added = auditStep('deploy')
  assert.ok(
    added.some((e) => e.action === 'deploy' && e.outcome === 'succeeded' && e.version === '1.0.0'),
    JSON.stringify(added),
  )
})

test('TLS: 1.0 and 1.1 refused, 1.2 and 1.3 accepted (openssl s_client)', async () => {
  for (const [flag, accepted] of [
    ['-tls1', false],
    ['-tls1_1', false],
    ['-tls1_2', true],
    ['-tls1_3', true],
  ] as const) {
    for (const port of [PUBLIC, PREVIEW]) {
      const h = await handshake(port, [flag, '-cipher', 'ALL:@SECLEVEL=0'])
      if (accepted) assert.ok(h.ok, `${flag} on ${port} accepted:\n${h.out.slice(-800)}`)
      else {
        assert.not.ok(h.ok, `${flag} on ${port} must be refused, got ${h.protocol} ${h.cipher}`)
        assert.ok(
          h.alert,
          `${flag} on ${port}: the server refused with an alert (not a client-side failure):\n${h.out.slice(-800)}`,
        )
      }
    }
  }
})

test('TLS 1.2: only ECDHE with AEAD ciphers; NULL, CBC-SHA1, static RSA, anonymous and the rest refused', async () => {
  const all = await tls12Ciphers()
  assert.ok(all.length > 50, `this openssl offers ${all.length} TLS 1.2 ciphers`)
  const results = await mapLimit(all, 8, async (c) => ({
    c,
    h: await handshake(PUBLIC, ['-tls1_2', '-cipher', `${c}:@SECLEVEL=0`]),
  }))
  const accepted = results
    .filter((r) => r.h.ok)
    .map((r) => r.c)
    .sort()
  assert.ok(accepted.length > 0, 'some cipher is accepted')
  for (const c of accepted)
    assert.match(
      c,
      /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/,
      `weak cipher accepted: ${c}`,
    )
  const weak = [
    'ECDHE-ECDSA-NULL-SHA',
    'ECDHE-ECDSA-AES128-SHA',
    'ECDHE-ECDSA-AES256-SHA',
    'ECDHE-ECDSA-AES128-SHA256',
    'AES128-SHA',
    'AES256-GCM-SHA384',
    'AECDH-AES128-SHA',
    'NULL-SHA256',
    'ECDHE-ECDSA-CAMELLIA128-SHA256',
  ]
  for (const c of weak.filter((w) => all.includes(w))) {
    const r = results.find((x) => x.c === c)!
    assert.not.ok(r.h.ok, `${c} must be refused`)
    assert.ok(r.h.alert, `${c}: refused by the server:\n${r.h.out.slice(-500)}`)
  }
  const missing = ['RC4-SHA', 'DES-CBC3-SHA', 'EXP-RC4-MD5'].filter((c) => !all.includes(c))
  console.log(
    `  ${all.length} TLS 1.2 ciphers tried, accepted: ${accepted.join(' ')}; not offered by this openssl at all: ${missing.join(' ')}`,
  )
  const suites = await handshake(PUBLIC, ['-tls1_3', '-ciphersuites', 'TLS_AES_128_CCM_8_SHA256'])
  assert.not.ok(suites.ok, 'TLS 1.3 CCM_8 (not in the defaults) is refused')
})

test('the TLS probe does see an old protocol and a weak cipher when a server accepts them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-tls-`))
  await $({
    quiet: true,
  })`openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout ${dir}/k.pem -out ${dir}/c.pem -days 1 -subj /CN=localhost`
  control = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${CONTROL_TLS_PORT}`,
      '-cert',
      `${dir}/c.pem`,
      '-key',
      `${dir}/k.pem`,
      '-cipher',
      'ALL:eNULL:@SECLEVEL=0',
      '-quiet',
    ],
    { stdio: 'ignore' },
  )
  try {
    const old = await waitFor(
      'the control server to accept TLS 1.0',
      async () => {
        const h = await handshake(CONTROL_TLS_PORT, ['-tls1', '-cipher', 'ALL:@SECLEVEL=0'])
        return h.ok ? h : undefined
      },
      10_000,
      100,
    )
    assert.is(old.protocol, 'TLSv1.0')
    const nul = await handshake(CONTROL_TLS_PORT, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0'])
    assert.ok(nul.ok, nul.out.slice(-500))
    assert.is(nul.cipher, 'ECDHE-ECDSA-NULL-SHA')
  } finally {
    control.kill()
    control = undefined
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

/** A raw HTTP/1.1 exchange (for requests a client library would not send). */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(text))
    let out = ''
    s.on('data', (d) => (out += d))
    s.on('end', () => resolve(out))
    s.on('error', reject)
    s.setTimeout(5000, () => s.destroy(new Error('timeout')))
  })
}

function checkHeaders(
  r: HttpResult | { status: number; headers: Record<string, unknown>; body: string },
  what: string,
  tls: boolean,
): void {
  for (const h of SECURITY_HEADERS) assert.ok(r.headers[h], `${what} (${r.status}) carries ${h}`)
  if (tls) {
    const m = /max-age=(\d+)/.exec(String(r.headers['strict-transport-security'] ?? ''))
    assert.ok(
      m && Number(m[1]) >= 31_536_000,
      `${what} (${r.status}): HSTS max-age of at least a year: ${String(r.headers['strict-transport-security'])}`,
    )
  }
  assert.ok(
    /^nginx$/.test(String(r.headers.server ?? 'nginx')),
    `${what}: Server header without a version: ${String(r.headers.server)}`,
  )
  assert.not.match(r.body, /nginx\/\d/, `${what}: no version on the error page`)
}

test('security headers, HSTS and no version on every kind of response: 200, 301, 400, 403, 404, 413, 502', async () => {
  const cases: Array<[string, Promise<HttpResult>, number[], boolean]> = [
    ['public /', request(url(PUBLIC, '/')), [200], true],
    ['public /api/version', request(url(PUBLIC, '/api/version')), [200], true],
    ['public 404 from the app', request(url(PUBLIC, '/api/no-such-thing')), [404], true],
    ['public 404 from nginx', request(url(PUBLIC, '/__ratelimited')), [404], true],
    ['public /metrics', request(url(PUBLIC, '/api/metrics')), [404], true],
    [
      '413 body too large',
      request(url(PUBLIC, '/api/documents'), {
        method: 'POST',
        body: JSON.stringify({ title: 'x', body: 'x'.repeat(3 * 1024 * 1024) }),
      }),
      [413],
      true,
    ],
    ['preview of a slot that does not run', request(url(PREVIEW, '/api/version')), [502, 504], true],
    ['http redirect', request(url(t.config.ports.http, '/docs/', 'http')), [301], false],
    [
      'status 403',
      request(url(t.config.ports.status, '/stub_status', 'http'), { localAddress: '127.0.0.2' }),
      [403],
      false,
    ],
    ['status 404', request(url(t.config.ports.status, '/nope', 'http')), [404], false],
  ]
  for (const [what, p, statuses, tls] of cases) {
    const r = await p
    assert.ok(statuses.includes(r.status), `${what}: status ${r.status}`)
    checkHeaders(r, what, tls)
  }
  const bad = await rawHttp(t.config.ports.http, 'GET / HTTP/1.1\r\nHost: bad host name\r\n\r\n')
  assert.match(bad, /^HTTP\/1\.1 400/)
  const headers = Object.fromEntries(
    bad
      .split('\r\n\r\n')[0]!
      .split('\r\n')
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  )
  checkHeaders({ status: 400, headers, body: bad.split('\r\n\r\n').slice(1).join('') }, '400 bad request', false)
})

test('rate limit: a login burst gets 429 with Retry-After; another client and other paths are unaffected', async () => {
  const login = url(PUBLIC, '/api/auth/login')
  const wrong = { method: 'POST', body: { username: 'demo', password: 'wrong' } }
  const [burst, other, sameClientApi] = await Promise.all([
    Promise.all(Array.from({ length: 40 }, () => request(login, wrong))),
    (async () => {
      const out: number[] = []
      for (let i = 0; i < 4; i++)
        out.push(
          (
            await request(login, {
              method: 'POST',
              body: { username: 'demo', password: 'demo-password' },
              localAddress: '127.0.0.2',
            })
          ).status,
        )
      for (let i = 0; i < 20; i++)
        out.push((await request(url(PUBLIC, '/api/version'), { localAddress: '127.0.0.2' })).status)
      return out
    })(),
    Promise.all(Array.from({ length: 20 }, () => request(url(PUBLIC, '/api/version')))),
  ])
  const limited = burst.filter((r) => r.status === 429)
  const statuses = burst.map((r) => r.status)
  assert.ok(limited.length >= 20, `most of a 40-request burst is limited: ${statuses.join(',')}`)
  assert.ok(statuses.filter((s) => s === 401).length >= 1, 'the first logins of the burst pass to the app')
  for (const r of limited) {
    assert.is(r.headers['retry-after'], '1')
    checkHeaders(r, '429', true)
  }
  assert.equal(other, [...Array(4).fill(200), ...Array(20).fill(200)], `127.0.0.2 is unaffected: ${other.join(',')}`)
  assert.equal(
    sameClientApi.map((r) => r.status),
    Array(20).fill(200),
    'the api zone is separate from the auth zone',
  )
})

test('status listener: stub_status, live-slot and /metrics refused (403) outside the allow-list, served inside', async () => {
  const status = (p: string, localAddress: string) => request(url(t.config.ports.status, p, 'http'), { localAddress })
  assert.is(
    fs
      .readFileSync(path.join(t.paths.nginx, 'status-allow.conf'), 'utf8')
      .match(/^allow .*$/gm)
      ?.join(';'),
    'allow 127.0.0.1/32;',
  )
  for (const p of ['/stub_status', '/live-slot', '/metrics', '/']) {
    assert.is((await status(p, '127.0.0.2')).status, 403, `${p} from 127.0.0.2`)
  }
  const stub = await status('/stub_status', '127.0.0.1')
  assert.is(stub.status, 200)
  assert.match(stub.body, /Active connections: \d+/)
  assert.equal((await status('/live-slot', '127.0.0.1')).json(), { live: 'green' })
  assert.is(
    (await status('/metrics', '127.0.0.1')).status,
    404,
    'nginx serves no /metrics (Prometheus scrapes the apps by address)',
  )
  assert.is((await status('/nginx-health', '127.0.0.2')).status, 200, 'health is open')
  for (const p of ['/metrics', '/api/metrics', '/docs/metrics', '/app/metrics', '/stub_status']) {
    assert.is((await request(url(PUBLIC, p), { localAddress: '127.0.0.2' })).status, 404, `public ${p}`)
  }
})

test('create, switch, rollback, refusals and a forced unlock: process list clean, audit log only appended', async () => {
  ok(await sampled('create 2.0.0', 'create-green-environment', ['--version', '2.0.0', '--yes']), 'create 2.0.0')
  assert.ok(auditStep('create').some((e) => e.action === 'create' && e.outcome === 'succeeded'))
  ok(await sampled('switch', 'switch-to-green', ['--yes', '--verify', '1s']), 'switch to blue')
  assert.ok(auditStep('switch').some((e) => e.action === 'switch' && e.outcome === 'succeeded'))
  assert.is(liveMarker(t), 'blue')
  ok(await sampled('rollback', 'rollback-production', ['--yes']), 'rollback')
  assert.ok(auditStep('rollback').some((e) => e.action === 'rollback' && e.outcome === 'succeeded'))
  assert.is(liveMarker(t), 'green')

  // refused: switching to the live slot
  const refused = await sampled('refused switch', 'switch-to-green', ['--slot', 'green', '--yes'])
  assert.is(refused.code, 2, refused.stderr)
  const r1 = auditStep('refused switch')
  assert.ok(
    r1.some((e) => e.action === 'switch' && e.outcome === 'refused' && /already live/.test(String(e.detail))),
    JSON.stringify(r1),
  )

  // refused: another deploy holds the lock (this test process holds the kernel lock; a lock file
  // alone names no live holder any more: it is taken over as stale)
  const holding = await acquireLock(t.paths.lock, { command: 'deploy-production.ts --version 9' })
  const held = await sampled('lock held', 'create-green-environment', [
    '--version',
    '2.0.0',
    '--yes',
    '--replace',
  ]).finally(() => holding.release())
  assert.is(held.code, 3, held.stderr)
  const r2 = auditStep('lock held')
  assert.ok(
    r2.some((e) => e.action === 'create' && e.outcome === 'refused' && /holds it/.test(String(e.detail))),
    JSON.stringify(r2),
  )

  // forced unlock of a lock from a host that is gone, then a refusal (green is live)
  fs.writeFileSync(
    t.paths.lock,
    JSON.stringify({
      pid: 4242,
      host: 'gone.example',
      user: 'alice',
      command: 'deploy-production.ts --version 9',
      startedAt: new Date().toISOString(),
    }),
  )
  const unlock = await sampled('force unlock', 'switch-to-green', ['--slot', 'green', '--force-unlock', '--yes'])
  assert.is(unlock.code, 2, unlock.stderr)
  const r3 = auditStep('force unlock')
  assert.ok(
    r3.some((e) => e.action === 'force-unlock' && e.outcome === 'done' && /alice/.test(String(e.detail))),
    JSON.stringify(r3),
  )
  assert.not.ok(fs.existsSync(t.paths.lock), 'the lock is gone and the refused run left none')

  // a corrupt lock file: refused (exit 2) with a hint naming --force-unlock, which then removes it
  fs.writeFileSync(t.paths.lock, 'not a lock {')
  const corrupt = await sampled('corrupt lock', 'switch-to-green', ['--slot', 'green', '--yes'])
  assert.is(corrupt.code, 2, corrupt.stderr)
  assert.match(corrupt.stderr, /--force-unlock/)
  const forced = await sampled('force unlock corrupt', 'switch-to-green', [
    '--slot',
    'green',
    '--force-unlock',
    '--yes',
  ])
  assert.is(forced.code, 2, forced.stderr)
  assert.match(forced.stderr, /already live/)
  const r4 = auditStep('corrupt lock')
  assert.ok(
    r4.some((e) => e.action === 'force-unlock' && e.outcome === 'done'),
    JSON.stringify(r4),
  )
  assert.not.ok(fs.existsSync(t.paths.lock))

  const audit = readText(t.paths.audit)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  for (const action of ['deploy', 'create', 'switch', 'rollback', 'force-unlock'])
    assert.ok(
      audit.some((e) => e.action === action),
      `audited: ${action}`,
    )
  assert.ok(
    audit.every((e) => e.user && e.host && e.time && e.command !== undefined),
    'every entry has time, user, host and command',
  )
})

test('no secret on any command line while the scripts ran', () => {
  assert.ok(samples.length >= 7)
  for (const { what, report } of samples) {
    assert.ok(report.samples >= 3, `${what}: the process list was sampled (${report.samples} rounds)`)
    assert.equal(report.leaks, [], `${what}: a secret on a command line`)
  }
  const all = new Set(samples.flatMap((s) => [...s.report.commands]))
  assert.ok(
    [...all].some((c) => /docker compose|docker-compose|compose -f/.test(c)),
    'the sampler saw the compose commands',
  )
  console.log(
    `  process list: ${samples.reduce((n, s) => n + s.report.samples, 0)} samples, ${all.size} distinct command lines, no secret`,
  )
})

test('no secret in any output mode, the audit log, the webhook payloads or a hook environment', async () => {
  const runs: Array<[string, string[]]> = [
    ['status', []],
    ['status', ['--json']],
    ['status', ['--quiet']],
    ['status', ['--verbose']],
    ['health-check', []],
    ['health-check', ['--json']],
    ['health-check', ['--cron', '--verbose']],
    ['create-green-environment', ['--version', '2.0.0', '--replace', '--dry-run', '--verbose']],
    ['create-green-environment', ['--version', '2.0.0', '--replace', '--dry-run', '--json']],
    ['deploy-production', ['--version', '2.0.0', '--dry-run', '--verbose']],
    ['switch-to-green', ['--slot', 'nope']],
    ['rollback-production', ['--dry-run', '--json']],
  ]
  for (const [name, args] of runs) {
    const r = await script(t, name, args)
    outputs.push({ what: `${name} ${args.join(' ')}`, text: r.stdout + r.stderr })
    if (args.includes('--json')) assert.type(JSON.parse(r.stdout), 'object', `${name} --json prints one document`)
  }
  assert.ok(outputs.length >= 15)
  for (const { what, text } of outputs)
    for (const s of SECRETS) assert.not.ok(text.includes(s), `${what}: a secret in its output`)
  assert.ok(
    outputs.some((o) => o.text.includes('****')),
    'masked values do appear as ****',
  )
  const audit = readText(t.paths.audit)
  for (const s of SECRETS) assert.not.ok(audit.includes(s), 'a secret in the audit log')
  assert.ok(webhooks.length >= 2, `the deploy notified the webhook (${webhooks.length})`)
  assert.ok(webhooks.some((w) => w.body.includes('"event":"succeeded"')))
  for (const w of webhooks) for (const s of SECRETS) assert.not.ok(w.body.includes(s), 'a secret in a webhook payload')
  const hookEnv = readText(path.join(hooks, 'post-deploy.env'))
  assert.match(hookEnv, /DMS_VERSION=1\.0\.0/)
  for (const s of SECRETS) assert.not.ok(hookEnv.includes(s), 'a secret in the post-deploy hook environment')
  assert.not.match(hookEnv, /PASSWORD|WEBHOOK_URL/)
})

test('secrets: files 0600 in a 0700 directory, .local 0600, the TLS key 0600', () => {
  const mode = (f: string) => fs.statSync(f).mode & 0o777
  assert.is(mode(t.paths.secrets), 0o700)
  for (const f of fs.readdirSync(t.paths.secrets)) assert.is(mode(path.join(t.paths.secrets, f)), 0o600, f)
  assert.is(mode(path.join(t.env.DMS_ENV_DIR!, '.env.production.local')), 0o600)
  assert.is(mode(path.join(t.paths.certs, 'tls.key')), 0o600)
})

test('no secret in the images (docker history, docker image inspect)', async () => {
  for (const image of ['dms/app:1.0.0', 'dms/app:2.0.0', 'dms/nginx:local', 'dms/postgres:local', 'dms/redis:local']) {
    const history = await $({ quiet: true })`docker history --no-trunc --format ${'{{.CreatedBy}}'} ${image}`
    const inspect = await $({ quiet: true })`docker image inspect ${image}`
    assert.ok(history.stdout.split('\n').length > 3, `${image}: history read`)
    const text = history.stdout + inspect.stdout
    for (const s of SECRETS) assert.not.ok(text.includes(s), `${image}: a secret`)
    const env: string[] = JSON.parse(inspect.stdout)[0].Config.Env ?? []
    for (const e of env) assert.not.match(e, /^[A-Z_]*(PASSWORD|SECRET|TOKEN)[A-Z_]*=./, `${image}: ENV ${e}`)
    assert.not.match(
      history.stdout,
      /(PASSWORD|SECRET|TOKEN)=[^\s$"']/,
      `${image}: a literal credential in a build step`,
    )
  }
})

test('no secret in the compose configuration (compose config resolves files, not values)', async () => {
  for (const target of [coreTarget(t.config), slotTarget(t.config, 'blue', '1.0.0')]) {
    const args = composeArgs({ ...target, profiles: ['core', 'slot', 'migrate'] }, 'config')
    const r = await $({ quiet: true, env: { ...process.env, ...target.env } })`docker ${args}`
    assert.match(r.stdout, /postgres_password/)
    assert.ok(
      r.stdout.includes(path.join(t.paths.secrets, 'postgres_password')),
      'the secret is a file under VAR_DIR/secrets',
    )
    for (const s of SECRETS) assert.not.ok(r.stdout.includes(s), 'a secret value in the resolved compose config')
    assert.not.match(r.stdout, /PASSWORD: ['"]?[^\s'"$]/, 'no literal password in the environment sections')
  }
  for (const f of ['docker-compose.production.yml', 'docker-compose.staging.yml']) {
    const text = fs.readFileSync(path.join(t.config.root, 'compose', f), 'utf8')
    for (const m of text.matchAll(/^\s*([A-Z_]*PASSWORD[A-Z_]*):\s*(.*)$/gm)) {
      assert.match(
        m[2]!,
        /^(\/run\/secrets\/[a-z_]+|\$\{[A-Z_]+:-\})$/,
        `${f}: ${m[1]} is a secret file or empty by default, never a value`,
      )
    }
  }
})

test('database and Redis passwords reach the containers as compose secrets, not as environment values', async () => {
  const ids = (await $({ quiet: true })`docker ps -q --filter ${`name=^${PREFIX}-`}`).stdout.split('\n').filter(Boolean)
  assert.ok(ids.length >= 7, `containers of the stack: ${ids.length}`)
  const all = JSON.parse((await $({ quiet: true })`docker inspect ${ids}`).stdout) as Array<{
    Name: string
    Config: { Env: string[]; Cmd: string[] | null; Entrypoint: string[] | null }
    Args: string[]
    Mounts: Array<{ Destination: string }>
  }>
  for (const c of all) {
    const text = JSON.stringify([c.Config.Env, c.Config.Cmd, c.Config.Entrypoint, c.Args])
    for (const s of SECRETS) assert.not.ok(text.includes(s), `${c.Name}: a secret in its environment or command`)
    for (const e of c.Config.Env)
      assert.not.match(e, /^(POSTGRES_PASSWORD|REDIS_PASSWORD|PGPASSWORD)=/, `${c.Name}: ${e.split('=')[0]}`)
  }
  const withSecret = (name: RegExp, secret: string) =>
    all.filter((c) => name.test(c.Name) && c.Mounts.some((m) => m.Destination === `/run/secrets/${secret}`))
  assert.is(withSecret(/-postgres-1$/, 'postgres_password').length, 1, 'postgres gets its password as a compose secret')
  assert.is(withSecret(/-redis-1$/, 'redis_password').length, 1, 'redis gets its password as a compose secret')
  assert.ok(
    withSecret(/-api-1$/, 'postgres_password').length >= 1,
    'the api gets the database password as a compose secret',
  )
})

test.run()
