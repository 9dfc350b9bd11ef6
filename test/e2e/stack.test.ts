// The real stack in Docker: images, compose files, nginx config and the sample app,
// through nginx over HTTPS. Staging first, then production core + blue slot.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  buildImages,
  cleanupVarDir,
  compose,
  exec,
  migrate,
  prepare,
  publicUrl,
  previewUrl,
  removeProjects,
  request,
  slotEnv,
  statusUrl,
  testStack,
  upCore,
  upSlot,
  waitFor,
  waitHttp,
  type TestStack,
} from './harness.ts'

const PREFIX = 'dmst-stack'
const VERSION = '1.0.0'
const ROLES: Array<[string, string]> = [
  ['/', 'frontend'],
  ['/api/version', 'api'],
  ['/docs/version', 'docs'],
  ['/app/version', 'main'],
]
const staging = testStack({ prefix: PREFIX, target: 'staging' })
const prod = testStack({ prefix: PREFIX, target: 'production' })
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`

test.before(async () => {
  await removeProjects(PREFIX, [staging, prod])
  const built = await buildImages([VERSION])
  console.log(`  images ${JSON.stringify(built)} at ${since()}`)
})

test.after(async () => {
  await removeProjects(PREFIX, [staging, prod])
  cleanupVarDir(staging)
  cleanupVarDir(prod)
})

test('docker compose config -q accepts every compose file', async () => {
  await prepare(staging) // secret files must exist for config to resolve
  await prepare(prod)
  for (const [stack, extra] of [
    [staging, {}],
    [prod, slotEnv('green', VERSION)],
  ] as const) {
    const r = await compose(stack, stack.projects.core, ['config', '-q'], extra)
    assert.is(r.exitCode, 0, `${stack.composeFile}: ${r.stderr}`)
  }
  const again = await prepare(prod)
  assert.equal(again.changed, [], 'prepareRuntime is idempotent')
  assert.is(again.networkCreated, false)
  const config = await compose(prod, prod.projects.green, ['config', '--format', 'json'], slotEnv('green', VERSION))
  const services = JSON.parse(config.stdout).services
  assert.equal(Object.keys(services).sort(), ['api', 'docs', 'frontend', 'main', 'migrate', 'nginx'])
  // the core project: nginx from the static file, postgres and redis from the manifest's generated file
  const core = await compose(prod, prod.projects.core, ['config', '--format', 'json'], slotEnv('blue', VERSION))
  assert.is(core.exitCode, 0, core.stderr)
  const coreServices = JSON.parse(core.stdout).services
  assert.ok(
    ['nginx', 'postgres', 'redis'].every((s) => s in coreServices),
    Object.keys(coreServices).join(', '),
  )
  assert.is(coreServices.postgres.networks.app.ipv4_address, `${prod.settings.netPrefix}.3`)
  assert.is(services.api.networks.dms.ipv4_address, '172.29.31.22')
  assert.is(services.api.image, `dms/app:${VERSION}`)
  assert.not.ok(config.stdout.includes(prod.settings.postgresPassword), 'no secret value in the resolved config')
})

async function checkRoles(stack: TestStack, slot: string, version: string): Promise<void> {
  for (const [p, role] of ROLES) {
    const r = await request(publicUrl(stack, p))
    assert.is(r.status, 200, `${p}: ${r.body}`)
    assert.is(r.headers['x-slot'], slot, `${p} X-Slot`)
    assert.is(r.headers['x-deploy-slot'], slot, `${p} X-Deploy-Slot, added by nginx`)
    assert.is(r.headers['x-role'], role, `${p} X-Role`)
    assert.is(r.headers['x-version'], version, `${p} X-Version`)
    assert.ok(String(r.headers['strict-transport-security']).includes('max-age=63072000'), `${p} HSTS`)
  }
}

async function checkDocuments(stack: TestStack): Promise<void> {
  const base = publicUrl(stack, '/api/documents')
  const created = await request(base, { method: 'POST', body: { title: 'Contract', body: 'v1' } })
  assert.is(created.status, 201, created.body)
  const id = created.json().id
  assert.type(id, 'number')

  const first = await request(`${base}/${id}`)
  assert.is(first.status, 200)
  assert.is(first.headers['x-cache'], 'miss')
  assert.is(first.json().title, 'Contract')
  const second = await request(`${base}/${id}`)
  assert.is(second.headers['x-cache'], 'hit')
  assert.is(second.json().body, 'v1')

  const updated = await request(`${base}/${id}`, { method: 'PUT', body: { title: 'Contract (signed)', body: 'v2' } })
  assert.is(updated.status, 200, updated.body)
  const afterUpdate = await request(`${base}/${id}`)
  assert.is(afterUpdate.json().title, 'Contract (signed)')
  assert.is(afterUpdate.headers['x-cache'], 'miss', 'update invalidates the cache')

  const deleted = await request(`${base}/${id}`, { method: 'DELETE' })
  assert.is(deleted.status, 200, deleted.body)
  const gone = await request(`${base}/${id}`)
  assert.is(gone.status, 404)

  const bad = await request(base, { method: 'POST', body: { body: 'no title' } })
  assert.is(bad.status, 400)
}

test('staging: the whole stack comes up and serves through nginx', async () => {
  try {
    await upCore(staging, VERSION)
    console.log(`  staging up at ${since()}`)
    const pending = JSON.parse(await migrate(staging, 'blue', VERSION, ['--list-pending', '--json']))
    assert.equal(
      pending.pending.map((m: { version: string }) => m.version),
      ['001', '002'],
    )
    assert.is(pending.contract, false)
    assert.match(await migrate(staging, 'blue', VERSION), /2 migration\(s\) applied/)
    assert.match(await migrate(staging, 'blue', VERSION), /schema is up to date/)
    await checkRoles(staging, 'blue', VERSION)
    const ready = await request(publicUrl(staging, '/api/ready'))
    assert.is(ready.status, 200, ready.body)
    assert.is(ready.json().ready, true)
    await checkDocuments(staging)
    const redirect = await request(`http://127.0.0.1:${staging.settings.httpPort}/docs/?x=1`)
    assert.is(redirect.status, 301)
    assert.is(redirect.headers.location, `https://127.0.0.1:${staging.settings.httpsPort}/docs/?x=1`)
  } finally {
    const down = await compose(staging, staging.projects.core, ['down', '-v', '--remove-orphans', '-t', '10'])
    assert.is(down.exitCode, 0, down.stderr)
    console.log(`  staging down at ${since()}`)
  }
})

test('production: core + blue slot serve through nginx over HTTPS', async () => {
  await upCore(prod)
  await waitHttp(statusUrl(prod, '/nginx-health'))
  // No slot yet: nginx is up and answers 502/504 with the security headers.
  // (502 or 504: a missing container's address does not answer ARP, so connect times out.)
  const noSlot = await request(publicUrl(prod, '/'))
  assert.ok([502, 504].includes(noSlot.status), `status ${noSlot.status}`)
  assert.is(noSlot.headers['x-content-type-options'], 'nosniff')
  await upSlot(prod, 'blue', VERSION)
  console.log(`  production core + blue up at ${since()}`)
  const out = await migrate(prod, 'blue', VERSION, ['--json'])
  assert.ok(JSON.parse(out.trim().split('\n').pop() ?? '{}').ok, out)
  await checkRoles(prod, 'blue', VERSION)
  const ready = await request(publicUrl(prod, '/api/ready'))
  assert.is(ready.json().ready, true, ready.body)
  await checkDocuments(prod)
})

test('production: headers on errors, status listener, preview of a missing slot', async () => {
  const missing = await request(publicUrl(prod, '/api/no-such-thing'))
  assert.is(missing.status, 404)
  for (const h of [
    'content-security-policy',
    'x-frame-options',
    'referrer-policy',
    'permissions-policy',
    'strict-transport-security',
  ]) {
    assert.ok(missing.headers[h], `404 carries ${h}`)
  }
  assert.not.ok(String(missing.headers.server ?? '').match(/\d/), 'server_tokens off')
  for (const p of ['/metrics', '/api/metrics', '/docs/metrics', '/app/metrics/']) {
    assert.is((await request(publicUrl(prod, p))).status, 404, `${p} is not public`)
  }
  const live = await request(statusUrl(prod, '/live-slot'))
  assert.equal(live.json(), { live: 'blue' })
  const stub = await request(statusUrl(prod, '/stub_status'))
  assert.match(stub.body, /Active connections/)
  const other = await request(statusUrl(prod, '/stub_status'), { localAddress: '127.0.0.2' })
  assert.is(other.status, 200, '127.0.0.0/8 is in the test allow-list')
  const green = await request(previewUrl(prod, '/api/version'))
  assert.ok([502, 504].includes(green.status), `preview goes to the idle slot, which does not run: ${green.status}`)
  assert.is(green.headers['x-deploy-slot'], 'green', 'nginx names the slot it tried, even on a 502')
  const blue = await request(previewUrl(prod, '/api/version'), { headers: { 'X-DMS-Slot': 'blue' } })
  assert.is(blue.headers['x-slot'], 'blue')
  assert.is(blue.headers['x-deploy-slot'], 'blue')
})

test('production: login limits answer 429 with Retry-After, counted by the frontend', async () => {
  const url = publicUrl(prod, '/api/auth/login')
  const wrong = await request(url, { method: 'POST', body: { username: 'demo', password: 'wrong' } })
  assert.is(wrong.status, 401)
  const statuses: number[] = []
  let limited: Awaited<ReturnType<typeof request>> | undefined
  for (let i = 0; i < 20; i++) {
    const r = await request(url, { method: 'POST', body: { username: 'demo', password: 'wrong' } })
    statuses.push(r.status)
    if (r.status === 429) limited = r
  }
  assert.ok(limited, `some of 20 quick logins are limited: ${statuses.join(',')}`)
  assert.is(limited.headers['retry-after'], '1')
  assert.is(limited.json().zone, 'auth')
  assert.ok(limited.headers['content-security-policy'], '429 carries the security headers')
  // Another client address has its own budget.
  const other = await request(url, {
    method: 'POST',
    body: { username: 'demo', password: 'demo-password' },
    localAddress: '127.0.0.2',
  })
  assert.is(other.status, 200, other.body)
  const metrics = await exec(prod, prod.projects.blue, 'frontend', ['curl', '-fsS', 'http://127.0.0.1:8080/metrics'])
  assert.match(
    metrics.stdout,
    /dms_rate_limited_requests_total\{role="frontend",slot="blue",version="1.0.0",zone="auth"\} [1-9]/,
  )
  const api = await exec(prod, prod.projects.blue, 'api', ['curl', '-fsS', 'http://127.0.0.1:8080/metrics'])
  assert.match(api.stdout, /dms_auth_failures_total\{role="api",slot="blue",version="1.0.0"\} [1-9]/)
  assert.match(api.stdout, /dms_cache_hits_total\{[^}]*\} [1-9]/)
  assert.match(
    api.stdout,
    /http_request_duration_seconds_bucket\{role="api",slot="blue",version="1.0.0",route="\/documents\/:id",le="\+Inf"\} [1-9]/,
  )
})

test('production: nginx -t passes inside the nginx container', async () => {
  const r = await exec(prod, prod.projects.core, 'nginx', ['nginx', '-t'])
  assert.is(r.exitCode, 0, r.stderr)
  assert.match(r.stderr, /syntax is ok/)
})

test('production: a stopping api answers its in-flight request, then exits 0', async () => {
  const inflight = request(publicUrl(prod, '/api/version?delay_ms=2500'), { timeoutMs: 20000 })
  // In flight = nginx is writing more than the stub_status response itself.
  await waitFor(
    'the delayed request to be in flight',
    async () => {
      const m = /Writing: (\d+)/.exec((await request(statusUrl(prod, '/stub_status'))).body)
      return m && Number(m[1]) >= 2 ? true : undefined
    },
    5000,
    50,
  )
  const started = Date.now()
  const stop = await compose(
    prod,
    prod.projects.blue,
    ['--profile', 'slot', 'stop', '-t', '20', 'api'],
    slotEnv('blue', VERSION),
  )
  assert.is(stop.exitCode, 0, stop.stderr)
  const r = await inflight
  assert.is(r.status, 200, r.body)
  assert.equal(r.json(), { version: VERSION, slot: 'blue', role: 'api' })
  assert.ok(Date.now() - started < 15000, 'exited by itself well before the grace period')
  const ps = await compose(
    prod,
    prod.projects.blue,
    ['--profile', 'slot', 'ps', '-a', '--format', 'json', 'api'],
    slotEnv('blue', VERSION),
  )
  const rows = ps.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
  assert.is(rows[0]?.ExitCode, 0, ps.stdout)
})

test.run()
