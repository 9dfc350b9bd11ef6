// Real Prometheus, Alertmanager and exporters beside a real production stack (core +
// both slots), as their own compose project. Proves: every scrape target is up, the
// toolkit's textfiles reach Prometheus through node-exporter, the dashboards' PromQL
// runs on real data, and the alert path end to end: Redis stops -> RedisDown fires in
// Prometheus -> arrives in Alertmanager (API) -> Slack and PagerDuty receivers are
// called (a local sink on the bridge gateway) -> Redis back -> resolved everywhere.
// Short intervals (scrape 2s, evaluation 1s) and `for: 2s` (a rendered copy of
// alerts.yml) keep the alert path in seconds. No fixed sleeps: every wait polls
// with a deadline.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { $, type ProcessOutput } from 'zx'
import { gauge, counter, writeTextfile } from '../../lib/metrics.ts'
import { renderDashboards } from '../../monitoring/grafana/generate-dashboards.ts'
import {
  REPO,
  BASE_IMAGE,
  buildImages,
  buildOne,
  cleanupVarDir,
  compose,
  composeEnv,
  prepare,
  removeProjects,
  request,
  testStack,
  upCore,
  upSlot,
  waitFor,
} from './harness.ts'

const PREFIX = 'dmst-mon'
const VERSION = '1.0.0'
const MON_PROJECT = `${PREFIX}-monitoring`
const MON_FILE = path.join(REPO, 'compose/docker-compose.monitoring.yml')
const NET = '172.29.35'
const PROM_PORT = 22091
const AM_PORT = 22093
const SINK_PORT = 22099
const PROM = `http://127.0.0.1:${PROM_PORT}`
const AM = `http://127.0.0.1:${AM_PORT}`

const prod = testStack({
  prefix: PREFIX,
  target: 'production',
  netPrefix: NET,
  ports: { https: 22443, preview: 22444, http: 22080, status: 22090, postgres: 22432, redis: 22379 },
})
const work = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-work-`))
const rulesDir = path.join(work, 'rules')
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`

// ------------------------------------------------------------------ helpers

function monEnv(): Record<string, string> {
  return composeEnv(prod, {
    TARGET: 'production',
    SCRAPE_INTERVAL: '2s',
    SCRAPE_TIMEOUT: '2s',
    EVALUATION_INTERVAL: '1s',
    MONITORING_RULES_DIR: rulesDir,
    PROMETHEUS_PORT: String(PROM_PORT),
    ALERTMANAGER_PORT: String(AM_PORT),
    NODE_EXPORTER_PORT: '22100',
    NGINX_EXPORTER_PORT: '22113',
    BLACKBOX_EXPORTER_PORT: '22115',
    REDIS_EXPORTER_CONNECTION_TIMEOUT: '1s',
    EXPORTER_CONNECT_TIMEOUT_S: '1',
    AM_GROUP_WAIT: '1s',
    AM_CRITICAL_GROUP_WAIT: '1s',
    AM_GROUP_INTERVAL: '2s',
    // Every receiver goes to the local sink on the bridge gateway: nothing leaves the host.
    PAGERDUTY_URL: `http://${NET}.1:${SINK_PORT}/pagerduty`,
    SMTP_SMARTHOST: `${NET}.1:${SINK_PORT + 1}`,
    SMTP_REQUIRE_TLS: 'false',
    BASE_IMAGE,
  })
}

function mon(args: string[]): Promise<ProcessOutput> {
  return $({
    quiet: true,
    nothrow: true,
    env: monEnv(),
    cwd: REPO,
  })`docker compose -f ${MON_FILE} -p ${MON_PROJECT} ${args}`
}

function ok(r: ProcessOutput, what: string): ProcessOutput {
  if (r.exitCode !== 0) throw new Error(`Can't ${what}: exit ${r.exitCode}\n${r.stderr.slice(-3000)}`)
  return r
}

async function promQuery(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await request(`${PROM}/api/v1/query?query=${encodeURIComponent(expr)}`)
  const body = r.json()
  if (r.status !== 200 || body.status !== 'success')
    throw new Error(`query ${expr}: ${r.status} ${r.body.slice(0, 300)}`)
  return body.data.result
}

type PromAlert = { labels: Record<string, string>; state: string }
async function promAlerts(name: string): Promise<PromAlert[]> {
  const r = await request(`${PROM}/api/v1/alerts`)
  return (r.json().data.alerts as PromAlert[]).filter((a) => a.labels.alertname === name)
}

type AmAlert = { labels: Record<string, string>; status: { state: string }; receivers: Array<{ name: string }> }
async function amAlerts(name: string): Promise<AmAlert[]> {
  const r = await request(`${AM}/api/v2/alerts?filter=${encodeURIComponent(`alertname="${name}"`)}`)
  if (r.status !== 200) throw new Error(`alertmanager ${r.status}: ${r.body.slice(0, 200)}`)
  return r.json() as AmAlert[]
}

// A sink for the Slack webhook and PagerDuty events (HTTP) on the bridge gateway.
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
type Received = { path: string; at: number; body: any }
const received: Received[] = []
let sink: http.Server | undefined
function startSink(): Promise<void> {
  sink = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {
        // keep text
      }
      received.push({ path: req.url ?? '', at: Date.now(), body })
      res.writeHead(req.url?.startsWith('/pagerduty') ? 202 : 200, { 'content-type': 'application/json' })
      res.end(req.url?.startsWith('/pagerduty') ? '{"status":"success","message":"Event processed"}' : 'ok')
    })
  })
  return new Promise((resolve, reject) => {
    sink!.once('error', reject)
    sink!.listen(SINK_PORT, `${NET}.1`, () => resolve())
  })
}

/** The monitoring images: name, build context under compose/images, Dockerfile in it. */
const MONITORING_IMAGES: Array<[string, string, string | undefined]> = [
  ['dms/prometheus:local', 'monitoring', 'Dockerfile.prometheus'],
  ['dms/alertmanager:local', 'monitoring', 'Dockerfile.alertmanager'],
  ['dms/exporters:local', 'exporters', undefined],
]

/** Builds them unless an image carries the hash of its source. */
async function buildMonitoringImages(): Promise<Record<string, string>> {
  const result: Record<string, string> = {}
  for (const [image, context, dockerfile] of MONITORING_IMAGES) {
    result[image] = await buildOne(image, path.join(REPO, 'compose/images', context), { BASE_IMAGE }, dockerfile)
  }
  return result
}

/** alerts.yml with every `for:` shortened to 2s, for a fast alert path. */
function writeFastRules(): void {
  fs.mkdirSync(rulesDir, { recursive: true })
  const doc = YAML.parse(fs.readFileSync(path.join(REPO, 'monitoring/rules/alerts.yml'), 'utf8'))
  for (const g of doc.groups) for (const r of g.rules) if (r.for) r.for = '2s'
  fs.writeFileSync(path.join(rulesDir, 'alerts.yml'), YAML.stringify(doc))
  fs.chmodSync(rulesDir, 0o755)
  fs.chmodSync(path.join(rulesDir, 'alerts.yml'), 0o644)
}

async function writeToolkitTextfiles(): Promise<void> {
  const dir = path.join(prod.settings.varDir, 'metrics')
  const now = Date.now() / 1000
  await writeTextfile(dir, 'e2e-toolkit', [
    gauge('dms_live_slot', 'Live slot: 1 for the live one, 0 otherwise.', [
      { labels: { target: 'production', slot: 'blue' }, value: 1 },
      { labels: { target: 'production', slot: 'green' }, value: 0 },
    ]),
    gauge('dms_health_check_status', 'Health check results.', [{ labels: { check: 'e2e' }, value: 0 }]),
    gauge('dms_health_check_last_run_timestamp_seconds', 'Last health check run.', [{ value: now }]),
    counter('dms_deploy_total', 'Deploys by outcome.', [
      { labels: { target: 'production', outcome: 'succeeded' }, value: 1 },
      { labels: { target: 'production', outcome: 'failed' }, value: 0 },
    ]),
  ])
  fs.chmodSync(dir, 0o755)
}

// ------------------------------------------------------------------ lifecycle

// uvu reports a failing before hook only as tests not run: remember the reason
// and fail every test with it.
let setupError: Error | undefined
function requireSetup(): void {
  if (setupError) assert.unreachable(`setup failed: ${setupError.message}`)
}

test.before(async () => {
  try {
    await setup()
  } catch (error) {
    setupError = error as Error
    console.error(`  setup failed at ${since()}: ${setupError.message}`)
  }
})

async function setup(): Promise<void> {
  await mon(['down', '-v', '--remove-orphans', '-t', '2'])
  await removeProjects(PREFIX, [prod])
  const built = await buildImages([VERSION])
  console.log(`  stack images ${JSON.stringify(built)} at ${since()}`)
  // The contract (docs/architecture.md) makes ${NET_PREFIX}.1 the bridge gateway = the host,
  // where the host-network exporters listen. lib/runtime-dir.ts creates the network with
  // --ip-range .128/25 but no --gateway, so Docker picks .128; create it as the contract
  // says (prepare() accepts an existing network with the right subnet).
  ok(
    await $({
      quiet: true,
      nothrow: true,
    })`docker network create --driver bridge --subnet ${`${NET}.0/24`} --ip-range ${`${NET}.128/25`} --gateway ${`${NET}.1`} --label dms.managed=true ${prod.settings.networkName}`,
    'create the network',
  )
  await prepare(prod)
  const secrets = path.join(prod.settings.varDir, 'secrets')
  for (const [name, value] of [
    ['alertmanager_slack_webhook_url', `http://${NET}.1:${SINK_PORT}/slack`],
    ['alertmanager_pagerduty_routing_key', 'e2e-routing-key'],
    ['alertmanager_smtp_password', ''],
  ]) {
    fs.writeFileSync(path.join(secrets, name!), value!, { mode: 0o600 })
  }
  writeFastRules()
  await writeToolkitTextfiles()
  await startSink()
  const builtMon = await buildMonitoringImages()
  console.log(`  monitoring images ${JSON.stringify(builtMon)}`)
  console.log(`  monitoring images built at ${since()}`)
  await upCore(prod, VERSION)
  await Promise.all([upSlot(prod, 'blue', VERSION), upSlot(prod, 'green', VERSION)])
  console.log(`  stack (core, blue, green) up at ${since()}`)
  ok(await mon(['up', '-d', '--no-build', '--wait', '--wait-timeout', '120']), 'start the monitoring project')
  console.log(`  monitoring up at ${since()}`)
}

test.after(async () => {
  sink?.close()
  const logs = await mon(['logs', '--no-color', '--tail', '30'])
  if (process.env.DMS_E2E_LOGS) console.log(logs.stdout)
  await mon(['down', '-v', '--remove-orphans', '-t', '5'])
  await removeProjects(PREFIX, [prod])
  cleanupVarDir(prod)
  fs.rmSync(work, { recursive: true, force: true })
})

// ------------------------------------------------------------------ tests

test('monitoring compose file resolves (docker compose config)', async () => {
  requireSetup()
  const r = await mon(['config', '--format', 'json'])
  assert.is(r.exitCode, 0, r.stderr)
  const services = JSON.parse(r.stdout).services
  assert.equal(Object.keys(services).sort(), [
    'alertmanager',
    'blackbox-exporter',
    'nginx-exporter',
    'node-exporter',
    'postgres-exporter',
    'prometheus',
    'redis-exporter',
  ])
  assert.ok(services.prometheus.command.includes('--storage.tsdb.retention.time=30d'))
  assert.is(services.prometheus.networks.dms.ipv4_address, `${NET}.50`)
})

test('every scrape target is up (8 app targets in both slots, exporters, Prometheus, Alertmanager)', async () => {
  requireSetup()
  type Target = { labels: Record<string, string>; health: string; lastError: string; scrapeUrl: string }
  let last: Target[] = []
  try {
    await waitFor(
      'all targets up',
      async () => {
        const r = await request(`${PROM}/api/v1/targets?state=active`)
        last = r.json().data.activeTargets as Target[]
        return last.length > 0 && last.every((t) => t.health === 'up') ? true : undefined
      },
      90_000,
      1000,
    )
  } catch (error) {
    const bad = last
      .filter((t) => t.health !== 'up')
      .map((t) => `${t.labels.job}/${t.labels.instance} ${t.health} ${t.lastError}`)
    assert.unreachable(`${(error as Error).message}\n${bad.join('\n')}`)
  }
  const byJob = new Map<string, number>()
  for (const t of last) byJob.set(t.labels.job!, (byJob.get(t.labels.job!) ?? 0) + 1)
  assert.equal(Object.fromEntries([...byJob].sort()), {
    alertmanager: 1,
    app: 8,
    'blackbox-https': 1,
    nginx: 1,
    node: 1,
    postgres: 1,
    prometheus: 1,
    redis: 1,
  })
  const app = last
    .filter((t) => t.labels.job === 'app')
    .map((t) => `${t.labels.instance}`)
    .sort()
  assert.equal(app, [
    'api-blue',
    'api-green',
    'docs-blue',
    'docs-green',
    'frontend-blue',
    'frontend-green',
    'main-blue',
    'main-green',
  ])
  console.log(`  all ${last.length} targets up at ${since()}`)
})

test('exporters report real values: nginx, PostgreSQL, Redis, TLS expiry, toolkit textfile', async () => {
  requireSetup()
  const one = async (expr: string) => {
    const r = await waitFor(
      expr,
      async () => {
        const res = await promQuery(expr)
        return res.length > 0 ? res : undefined
      },
      30_000,
      1000,
    )
    return Number(r[0]!.value[1])
  }
  assert.is(await one('nginx_up'), 1)
  assert.is(await one('pg_up'), 1)
  assert.is(await one('redis_up'), 1)
  assert.is(await one('probe_success{job="blackbox-https"}'), 1)
  assert.ok((await one('probe_ssl_earliest_cert_expiry - time()')) > 86400, 'certificate expiry is seen')
  assert.is(await one('dms_live_slot{slot="blue",target="production"}'), 1)
  assert.ok((await one('redis_memory_max_bytes')) > 0, 'maxmemory is set, so RedisMemoryHigh can work')
  assert.ok((await one('pg_settings_max_connections')) > 0)
  assert.ok((await one('node_memory_MemTotal_bytes')) > 0)
  assert.ok((await one('count(dms_app_info)')) === 8)
})

test('every dashboard expression runs on the real Prometheus without error', async () => {
  requireSetup()
  const errors: string[] = []
  let count = 0
  for (const [file, text] of renderDashboards()) {
    const d = JSON.parse(text)
    const exprs: string[] = []
    for (const p of d.panels) for (const t of p.targets) exprs.push(t.expr)
    for (const a of d.annotations.list) if (a.expr) exprs.push(a.expr)
    for (const e of exprs) {
      const q = e
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__interval', '15s')
        .replaceAll('$__range', '1h')
        .replace(/\$(\w+)/g, '.*')
      count++
      try {
        await promQuery(q)
      } catch (error) {
        errors.push(`${file}: ${(error as Error).message}`)
      }
    }
  }
  assert.equal(errors, [])
  assert.ok(count > 50)
})

test('stopping Redis: RedisDown fires in Prometheus, reaches Alertmanager and the receivers, then resolves', async () => {
  requireSetup()
  // Nothing about Redis is alerting before.
  assert.equal(
    (await promAlerts('RedisDown')).filter((a) => a.state === 'firing'),
    [],
  )
  const stopAt = Date.now()
  ok(await compose(prod, prod.projects.core, ['--profile', 'core', 'stop', '-t', '5', 'redis']), 'stop redis')
  const stopped = Date.now()

  const firing = await waitFor(
    'RedisDown firing in Prometheus',
    async () => {
      const a = (await promAlerts('RedisDown')).find((x) => x.state === 'firing')
      return a
    },
    90_000,
    250,
  )
  const firingAt = Date.now()
  assert.is(firing.labels.severity, 'critical')

  const inAm = await waitFor(
    'RedisDown in Alertmanager',
    async () => {
      const list = await amAlerts('RedisDown')
      return list.find((a) => a.status.state === 'active')
    },
    60_000,
    250,
  )
  const amAt = Date.now()
  assert.is(inAm.labels.target, 'production', 'external label target reaches Alertmanager')
  assert.equal(inAm.receivers.map((r) => r.name).sort(), ['oncall-pager', 'team-critical'])

  const notified = await waitFor(
    'Slack and PagerDuty notifications',
    async () => {
      const slack = received.find((r) => r.path === '/slack' && JSON.stringify(r.body).includes('RedisDown'))
      const pd = received.find(
        (r) => r.path.startsWith('/pagerduty') && JSON.stringify(r.body).includes('Redis is down'),
      )
      return slack && pd ? { slack, pd } : undefined
    },
    60_000,
    250,
  )
  assert.is(notified.pd.body.routing_key, 'e2e-routing-key', 'the routing key comes from the secret file')
  assert.is(notified.pd.body.event_action, 'trigger')
  assert.is(notified.slack.body.channel, '#dms-critical')
  assert.match(notified.slack.body.attachments[0].text, /Runbook: docs\/runbooks\/RedisDown\.md/)

  // RedisMemoryHigh etc. are not what we test; RedisDown must not page via the warning route.
  const startAt = Date.now()
  ok(await compose(prod, prod.projects.core, ['--profile', 'core', 'start', 'redis']), 'start redis')
  await waitFor(
    'RedisDown gone from Prometheus',
    async () => ((await promAlerts('RedisDown')).length === 0 ? true : undefined),
    90_000,
    250,
  )
  const resolvedPromAt = Date.now()
  await waitFor(
    'RedisDown resolved in Alertmanager',
    async () => {
      const list = await amAlerts('RedisDown')
      return list.every((a) => a.status.state !== 'active') ? true : undefined
    },
    60_000,
    250,
  )
  const resolvedAmAt = Date.now()
  await waitFor(
    'resolved notification to PagerDuty',
    async () =>
      received.find((r) => r.path.startsWith('/pagerduty') && r.body?.event_action === 'resolve') ? true : undefined,
    60_000,
    250,
  )
  const resolvedNotifiedAt = Date.now()

  const s = (a: number, b: number) => `${((b - a) / 1000).toFixed(1)}s`
  console.log(
    `  alert path: stop ${s(stopAt, stopped)}, firing in Prometheus +${s(stopped, firingAt)}, in Alertmanager +${s(stopped, amAt)}, ` +
      `notified +${s(stopped, Math.max(notified.slack.at, notified.pd.at))}; ` +
      `after start: gone from Prometheus +${s(startAt, resolvedPromAt)}, resolved in Alertmanager +${s(startAt, resolvedAmAt)}, ` +
      `resolve sent +${s(startAt, resolvedNotifiedAt)}; total ${s(stopAt, resolvedNotifiedAt)}`,
  )
  assert.ok(resolvedNotifiedAt - stopAt < 120_000, 'the whole alert path takes well under two minutes')
})

test.run()
