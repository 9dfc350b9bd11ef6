// Real domains and certificates against a running production stack: Debian's pebble issues
// for two names over HTTP-01 answered on the stack's HTTP listener; both names are served with
// a chain that verifies against pebble's root (trusted by these probes only); unknown host
// names are refused; a forced renewal under keep-alive load fails no request; an ACME server
// that refuses leaves the old certificate served; a provided certificate whose key does not
// match is refused with nothing changed; testssl.sh finds the SSL Labs A+ conditions.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startLoad, summarize } from '../../bench/load.ts'
import { buildImages, removeProjects } from './harness.ts'
import { handshakeVerified, mockA, requestHost, startPebble, type Pebble } from './tls-helpers.ts'
import { script, toolkitTarget } from './toolkit-env.ts'
import { makePki } from '../helpers/certs.ts'
import { aPlusProblems, type Finding } from '../helpers/tls-grade.ts'
import { $ } from 'zx'

const PREFIX = 'dmst-tls'
const DOMAINS = ['a.example.com', 'b.example.com']
const work = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-work-`))
const issuingRootFile = path.join(work, 'pebble-issuing-root.pem')
const t = toolkitTarget(PREFIX, '172.29.45', 30, {
  DOMAINS: DOMAINS.join(','),
  TLS_MODE: 'acme',
  ACME_SERVER: 'https://127.0.0.1:30014/dir',
  ACME_EMAIL: 'ops@dms.example.org',
  ACME_CA_FILE: path.join(work, 'pebble-server-ca.pem'),
  TLS_CA_FILE: issuingRootFile,
  HSTS_MAX_AGE: '31536000',
  HSTS_PRELOAD: 'true',
  VERIFY_WINDOW: '2s',
  DEPLOY_TIMEOUT: '90s',
  SMOKE_REQUESTS: '40',
  SMOKE_DURATION_MS: '3000',
  SMOKE_MAX_P95_MS: '5000',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
})
const HTTPS = t.config.ports.https
const HTTP = t.config.ports.http
const certFile = path.join(t.paths.certs, 'tls.crt')
let pebble: Pebble
let root = ''

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): void {
  assert.is(r.code, 0, `${what} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-3000)}`)
}
const audit = () =>
  fs
    .readFileSync(t.paths.audit, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>)
const served = (name = DOMAINS[0]!) => handshakeVerified(HTTPS, name, root)

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0'])
  pebble = await startPebble({
    dir: work,
    acmePort: 30014,
    dnsPort: 30053,
    dnsMgmtPort: 30055,
    httpPort: HTTP,
    tlsPort: 30001,
  })
  root = await pebble.issuingRoot()
  assert.match(root, /BEGIN CERTIFICATE/)
  fs.writeFileSync(issuingRootFile, root)
  ok(await script(t, 'deploy-production', ['--version', '1.0.0', '--yes']), 'deploy 1.0.0')
})

test.after(async () => {
  await pebble?.stop()
  await removeProjects(PREFIX)
  for (const dir of [t.paths.varDir, t.env.DMS_ENV_DIR!, work]) fs.rmSync(dir, { recursive: true, force: true })
})

test('before issuance: the self-signed default does not verify against the test CA (the probe can fail)', async () => {
  const s = await served()
  assert.not.ok(s.authorized, JSON.stringify(s))
})

test("issue: pebble validates HTTP-01 on the HTTP listener; both names served with a chain to pebble's root; keys 0600; audited", async () => {
  const r = await script(t, 'certs', ['issue', '--yes', '--json'])
  ok(r, 'certs issue')
  const doc = JSON.parse(r.stdout)
  assert.equal([...doc.certificate.names].sort(), DOMAINS)
  for (const name of DOMAINS) {
    const s = await served(name)
    assert.ok(s.authorized, `${name}: ${s.error}`)
    assert.equal([...s.names].sort(), DOMAINS)
    assert.match(s.issuer, /Pebble Intermediate/)
  }
  assert.is(fs.statSync(path.join(t.paths.certs, 'tls.key')).mode & 0o777, 0o600)
  assert.is(fs.statSync(path.join(t.paths.varDir, 'acme', 'certificates', `${DOMAINS[0]}.key`)).mode & 0o777, 0o600)
  assert.is(fs.statSync(path.join(t.paths.varDir, 'acme')).mode & 0o777, 0o700)
  const last = audit().at(-1)!
  assert.is(last.action, 'certificate-issue')
  assert.is(last.outcome, 'issued')
  assert.match(last.detail!, /a\.example\.com, b\.example\.com; issuer .*Pebble Intermediate/)
})

test('host names: the domains reach the app, an unknown name is refused on HTTPS and HTTP; the challenge path is served, not redirected', async () => {
  assert.is(await requestHost(HTTPS, 'a.example.com', '/api/version', 'https'), 200)
  assert.is(await requestHost(HTTPS, 'unknown.example.net', '/api/version', 'https'), 'closed')
  assert.is(await requestHost(HTTP, 'unknown.example.net', '/', 'http'), 'closed')
  assert.is(await requestHost(HTTP, 'b.example.com', '/', 'http'), 301)
  assert.is(await requestHost(HTTP, 'b.example.com', '/.well-known/acme-challenge/none', 'http'), 404)
})

test('show, status and health-check: names, issuer, days left, next renewal; renew when not due changes nothing', async () => {
  const show = await script(t, 'certs', ['show', '--json'])
  ok(show, 'certs show')
  const v = JSON.parse(show.stdout)
  assert.equal([...v.served.names].sort(), DOMAINS)
  assert.match(v.served.issuer, /Pebble Intermediate/)
  assert.ok(v.served.daysLeft > 30, String(v.served.daysLeft))
  assert.is(new Date(v.nextRenewal).getTime(), new Date(v.served.notAfter).getTime() - 30 * 86_400_000)
  const status = await script(t, 'status', ['--json'])
  ok(status, 'status')
  assert.equal(JSON.parse(status.stdout).certificate.served, v.served)
  const health = await script(t, 'health-check', ['--json'])
  const tlsCheck = (
    JSON.parse(health.stdout).checks as Array<{ name: string; status: string; values: Record<string, string> }>
  ).find((c) => c.name === 'tls_certificate')!
  assert.is(tlsCheck.status, 'OK')
  assert.match(tlsCheck.values.issuer!, /Pebble Intermediate/)
  assert.is(tlsCheck.values.names, DOMAINS.join(','))
  assert.is(tlsCheck.values.nextRenewal, v.nextRenewal)
  const before = fs.readFileSync(certFile, 'utf8')
  const r = await script(t, 'certs', ['renew', '--yes', '--json'])
  ok(r, 'certs renew (not due)')
  assert.is(JSON.parse(r.stdout).due, false)
  assert.is(fs.readFileSync(certFile, 'utf8'), before)
})

test('forced renewal under keep-alive load: a new certificate is served and 0 requests fail', async () => {
  const first = await served()
  const load = startLoad({ url: `https://127.0.0.1:${HTTPS}`, connections: 32, durationMs: 120_000, postRatio: 0 })
  await waitForRecords(load.records, 300)
  const r = await script(t, 'certs', ['renew', '--force', '--yes', '--json'])
  const renewedAt = performance.now() - load.t0
  // keep the load running on the new workers for as long as the old ones had it
  const afterRenew = load.records.length
  await waitForRecords(load.records, afterRenew + 500)
  load.stop()
  const records = await load.done
  ok(r, 'certs renew --force')
  const s = summarize(records)
  console.log(
    `  renewal under load: ${s.requests} requests (${records.filter((x) => x.start < renewedAt).length} before the renewal ended), ${s.failed} failed, p99 ${s.p99} ms`,
  )
  assert.is(s.failed, 0, JSON.stringify(s.firstFailures))
  assert.ok(s.requests > 1000, `enough load: ${s.requests}`)
  const now = await served()
  assert.ok(now.authorized, now.error)
  assert.is.not(now.fingerprint, first.fingerprint)
  assert.ok(fs.existsSync(path.join(t.paths.certs, 'previous', 'tls.crt')))
  assert.is(audit().at(-1)!.outcome, 'renewed')
})

async function waitForRecords(records: unknown[], n: number): Promise<void> {
  const deadline = Date.now() + 60_000
  while (records.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  assert.ok(records.length >= n, `the load reached ${n} requests (${records.length})`)
}

test('the ACME server refuses (validation cannot reach the listener): clear error, exit 1, old certificate still served, audited', async () => {
  const before = await served()
  const file = fs.readFileSync(certFile, 'utf8')
  await mockA(pebble, DOMAINS[1]!, ['127.0.0.2'])
  try {
    const r = await script(t, 'certs', ['renew', '--force', '--yes'])
    assert.is(r.code, 1, r.stdout + r.stderr)
    assert.match(
      r.stderr,
      /Can't obtain a certificate for a\.example\.com, b\.example\.com from https:\/\/127\.0\.0\.1:30014\/dir: .*The certificate in use was not changed\./,
    )
    assert.match(r.stderr, /Check that each name resolves to this host/)
  } finally {
    await mockA(pebble, DOMAINS[1]!, [])
  }
  assert.is(fs.readFileSync(certFile, 'utf8'), file)
  assert.is((await served()).fingerprint, before.fingerprint)
  const last = audit().at(-1)!
  assert.is(last.action, 'certificate-renew')
  assert.is(last.outcome, 'failed')
})

test('A+: testssl.sh against the production listener serving the ACME certificate meets the SSL Labs A+ conditions', async () => {
  const json = path.join(work, 'testssl.json')
  const started = Date.now()
  const r = await $({
    nothrow: true,
    quiet: true,
    timeout: 600_000,
    cwd: work,
  })`testssl --quiet --color 0 --warnings off --nodns none --ip 127.0.0.1 --add-ca ${issuingRootFile} --jsonfile ${json} -p -s -f -E -U -h -S ${`https://${DOMAINS[0]}:${HTTPS}`}`
  const findings = JSON.parse(fs.readFileSync(json, 'utf8')) as Finding[]
  console.log(
    `  testssl: ${findings.length} findings in ${((Date.now() - started) / 1000).toFixed(0)} s (exit ${r.exitCode})`,
  )
  assert.ok(findings.length > 50, r.stdout.slice(-2000) + r.stderr.slice(-1000))
  assert.equal(aPlusProblems(findings), [])
})

test('provided certificate whose key does not match: refused (exit 2), files and served certificate unchanged; the matching key installs', async () => {
  const pki = await makePki(DOMAINS, { dir: fs.mkdtempSync(path.join(work, 'provided-')) })
  const chain = path.join(pki.dir, 'chain.pem')
  fs.writeFileSync(chain, pki.leafPem + pki.intermediatePem)
  const rootFile = path.join(pki.dir, 'root.crt')
  const env = {
    TLS_MODE: 'provided',
    TLS_CERT_FILE: chain,
    TLS_KEY_FILE: path.join(pki.dir, 'other.key'),
    TLS_CA_FILE: rootFile,
  }
  const before = await served()
  const files = {
    crt: fs.readFileSync(certFile, 'utf8'),
    key: fs.readFileSync(path.join(t.paths.certs, 'tls.key'), 'utf8'),
  }
  const bad = await script(t, 'certs', ['issue', '--yes'], env)
  assert.is(bad.code, 2, bad.stdout + bad.stderr)
  assert.match(
    bad.stderr,
    /Can't install the provided certificate: the key does not match the certificate \(CN=a\.example\.com\).*Nothing was changed/,
  )
  assert.is(fs.readFileSync(certFile, 'utf8'), files.crt)
  assert.is(fs.readFileSync(path.join(t.paths.certs, 'tls.key'), 'utf8'), files.key)
  assert.is((await served()).fingerprint, before.fingerprint)
  assert.is(audit().at(-1)!.outcome, 'refused')

  const good = await script(t, 'certs', ['issue', '--yes'], { ...env, TLS_KEY_FILE: path.join(pki.dir, 'leaf.key') })
  ok(good, 'certs issue (provided)')
  const now = await handshakeVerified(HTTPS, DOMAINS[0]!, pki.rootPem)
  assert.ok(now.authorized, now.error)
  assert.match(now.issuer, /DMS Test Intermediate/)
})

test.run()
