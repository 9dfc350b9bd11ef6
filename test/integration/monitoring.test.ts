// Monitoring configuration checked with the real tools, no Docker needed:
// promtool (check config, check service-discovery, check rules, test rules),
// amtool (check-config, config routes test), a real Alertmanager binary on loopback
// for inhibition, and Grafana provisioning/dashboards by structure, with every PromQL
// expression parsed by promtool and every app/toolkit metric name checked against
// the contract in docs/architecture.md.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import YAML from 'yaml'
import { renderDashboards } from '../../monitoring/grafana/generate-dashboards.ts'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const MON = path.join(ROOT, 'monitoring')
const RENDER = path.join(ROOT, 'compose/images/monitoring/render.sh')
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-mon-int-'))

type Run = { status: number | null; stdout: string; stderr: string }
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Run {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, input, timeout: 60_000 })
  if (r.error) throw new Error(`Can't run ${cmd}: ${r.error.message}`)
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
const out = (r: Run) => `${r.stdout}\n${r.stderr}`

function render(template: string, env: Record<string, string>, name: string): string {
  const target = path.join(tmp, name)
  const r = run('sh', [RENDER, template, target], env)
  assert.is(r.status, 0, `render ${template} failed: ${out(r)}`)
  return target
}

// Environment without the variables the templates read, so defaults are tested.
const CLEAN: Record<string, string> = {}
for (const k of [
  'NET_PREFIX',
  'TARGET',
  'SCRAPE_INTERVAL',
  'EVALUATION_INTERVAL',
  'HTTPS_PORT',
  'PROBE_ADDR',
  'RULES_DIR',
]) {
  CLEAN[k] = ''
}

// ------------------------------------------------------------------ rendering

test('render.sh: both monitoring images are built from the one copy', () => {
  for (const name of ['prometheus', 'alertmanager']) {
    const dockerfile = fs.readFileSync(path.join(ROOT, `compose/images/monitoring/Dockerfile.${name}`), 'utf8')
    assert.match(dockerfile, /^COPY render\.sh \/usr\/local\/bin\/render\.sh$/m, name)
  }
})

test('render.sh: substitutes variables and defaults, leaves relabel $1 and Go templates alone', () => {
  const tpl = path.join(tmp, 't.txt')
  fs.writeFileSync(tpl, 'a=${NET_PREFIX}.1 b=${MISSING_X:-dflt} c=$1 d=${1} e={{ $labels.x }} f=${EMPTY_X:-}\n')
  const outFile = render(tpl, { ...CLEAN, NET_PREFIX: '172.29.10' }, 't.out')
  assert.is(fs.readFileSync(outFile, 'utf8'), 'a=172.29.10.1 b=dflt c=$1 d=${1} e={{ $labels.x }} f=\n')
})

test('render.sh: fails naming the variable when one without default is unset, writes nothing', () => {
  const target = path.join(tmp, 'unset.yml')
  const r = run('sh', [RENDER, path.join(MON, 'prometheus.yml'), target], CLEAN)
  assert.is.not(r.status, 0)
  assert.match(r.stderr, /variable NET_PREFIX is not set/)
  assert.not.ok(fs.existsSync(target))
})

// ------------------------------------------------------------------ Prometheus config

let promConfig = ''
test('prometheus.yml: rendered for production passes promtool check config (with its rule file)', () => {
  promConfig = render(
    path.join(MON, 'prometheus.yml'),
    { ...CLEAN, NET_PREFIX: '172.29.10', RULES_DIR: path.join(MON, 'rules') },
    'prometheus.yml',
  )
  const r = run('promtool', ['check', 'config', promConfig])
  assert.is(r.status, 0, out(r))
  assert.match(out(r), /SUCCESS: 1 rule files found/)
  // every rule of alerts.yml, counted from the file (a new alert does not need this test edited)
  const groups = YAML.parse(fs.readFileSync(path.join(MON, 'rules/alerts.yml'), 'utf8')).groups as Array<{
    rules: unknown[]
  }>
  assert.match(out(r), new RegExp(`SUCCESS: ${groups.flatMap((g) => g.rules).length} rules found`))
})

test('prometheus.yml: scrapes every required job; alerts go to Alertmanager at .51', () => {
  const cfg = YAML.parse(fs.readFileSync(promConfig, 'utf8'))
  const jobs = cfg.scrape_configs.map((j: { job_name: string }) => j.job_name).sort()
  assert.equal(jobs, ['alertmanager', 'app', 'blackbox-https', 'nginx', 'node', 'postgres', 'prometheus', 'redis'])
  assert.equal(cfg.alerting.alertmanagers[0].static_configs[0].targets, ['172.29.10.51:9093'])
  assert.is(cfg.global.external_labels.target, 'production')
  const byJob = (name: string) => cfg.scrape_configs.find((j: { job_name: string }) => j.job_name === name)
  assert.equal(byJob('node').static_configs[0].targets, ['172.29.10.1:9100'])
  assert.equal(byJob('nginx').static_configs[0].targets, ['172.29.10.1:9113'])
  assert.equal(byJob('postgres').static_configs[0].targets, ['172.29.10.53:9187'])
  assert.equal(byJob('redis').static_configs[0].targets, ['172.29.10.54:9121'])
})

test('prometheus.yml: app targets get slot and role from the static address (promtool check service-discovery)', () => {
  const r = run('promtool', ['check', 'service-discovery', '--timeout=1s', promConfig, 'app'])
  assert.is(r.status, 0, out(r))
  const targets = JSON.parse(r.stdout) as Array<{ labels: Record<string, string> }>
  const got = targets
    .map((t) => `${t.labels.__address__} ${t.labels.slot} ${t.labels.role} ${t.labels.instance}`)
    .sort()
  const roles = ['frontend', 'api', 'docs', 'main']
  const want: string[] = []
  for (const [slotNum, slot] of [
    [1, 'blue'],
    [2, 'green'],
  ] as const) {
    for (const [i, role] of roles.entries())
      want.push(`172.29.10.${slotNum}${i + 1}:8080 ${slot} ${role} ${role}-${slot}`)
  }
  assert.equal(got, want.sort())
})

test('prometheus.yml: blackbox probes the public HTTPS listener through the exporter on the gateway', () => {
  const r = run('promtool', ['check', 'service-discovery', '--timeout=1s', promConfig, 'blackbox-https'])
  assert.is(r.status, 0, out(r))
  const [t] = JSON.parse(r.stdout) as Array<{ labels: Record<string, string> }>
  assert.is(t!.labels.__address__, '172.29.10.1:9115')
  assert.is(t!.labels.__param_target, 'https://127.0.0.1:8443/nginx-health')
})

test('prometheus.yml: staging prefix and short test intervals render and validate too', () => {
  const f = render(
    path.join(MON, 'prometheus.yml'),
    {
      ...CLEAN,
      NET_PREFIX: '172.29.20',
      TARGET: 'staging',
      SCRAPE_INTERVAL: '2s',
      SCRAPE_TIMEOUT: '1s',
      EVALUATION_INTERVAL: '1s',
      HTTPS_PORT: '9443',
      RULES_DIR: path.join(MON, 'rules'),
    },
    'prometheus-staging.yml',
  )
  const r = run('promtool', ['check', 'config', f])
  assert.is(r.status, 0, out(r))
  const cfg = YAML.parse(fs.readFileSync(f, 'utf8'))
  assert.is(cfg.global.scrape_interval, '2s')
  assert.is(cfg.global.external_labels.target, 'staging')
})

// ------------------------------------------------------------------ compose file

test('compose: 30-day retention flag, static addresses .50-.59, external network, secrets from VAR_DIR', () => {
  const text = fs.readFileSync(path.join(ROOT, 'compose/docker-compose.monitoring.yml'), 'utf8')
  const c = YAML.parse(text, { merge: true })
  assert.ok(c.services.prometheus.command.includes('--storage.tsdb.retention.time=30d'))
  assert.is(c.networks.dms.external, true)
  assert.is(c.networks.dms.name, '${NETWORK_NAME:?NETWORK_NAME is required}')
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
  for (const [name, svc] of Object.entries<Record<string, any>>(c.services)) {
    if (svc.network_mode === 'host') continue
    const ip = svc.networks.dms.ipv4_address as string
    const m = /^\$\{NET_PREFIX\}\.(\d+)$/.exec(ip)
    assert.ok(m && Number(m[1]) >= 50 && Number(m[1]) <= 59, `${name}: ${ip} not in .50-.59`)
    if (svc.ports)
      for (const p of svc.ports as string[])
        assert.ok(p.startsWith('127.0.0.1:'), `${name} publishes beyond loopback: ${p}`)
  }
  for (const [name, s] of Object.entries<{ file: string }>(c.secrets)) {
    assert.is(s.file, `\${VAR_DIR}/secrets/${name}`)
  }
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
  for (const svc of Object.values<Record<string, any>>(c.services)) {
    assert.is(svc.build.network, 'host')
    assert.ok(String(svc.build.args.BASE_IMAGE).startsWith('${BASE_IMAGE'))
  }
  assert.not.match(text, /PASSWORD:\s*['"]?[A-Za-z0-9]/, 'no literal passwords in the compose file')
})

test('images: every Dockerfile builds FROM ${BASE_IMAGE} with Debian packages', () => {
  const pkgs: Record<string, string[]> = {
    'monitoring/Dockerfile.prometheus': ['prometheus'],
    'monitoring/Dockerfile.alertmanager': ['prometheus-alertmanager'],
    'exporters/Dockerfile': [
      'prometheus-node-exporter',
      'prometheus-nginx-exporter',
      'prometheus-postgres-exporter',
      'prometheus-redis-exporter',
      'prometheus-blackbox-exporter',
    ],
  }
  for (const [image, wanted] of Object.entries(pkgs)) {
    const df = fs.readFileSync(path.join(ROOT, 'compose/images', image), 'utf8')
    assert.match(df, /^FROM \$\{BASE_IMAGE\}$/m, image)
    for (const p of wanted) assert.ok(new RegExp(`\\b${p}\\b`).test(df), `${image} installs ${p}`)
  }
})

// ------------------------------------------------------------------ rules

type Rule = {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
const ruleGroups = YAML.parse(fs.readFileSync(path.join(MON, 'rules/alerts.yml'), 'utf8')).groups as Array<{
  name: string
  rules: Rule[]
}>
const alerts = ruleGroups.flatMap((g) => g.rules).filter((r) => r.alert)

test('rules: promtool check rules', () => {
  const r = run('promtool', ['check', 'rules', path.join(MON, 'rules/alerts.yml')])
  assert.is(r.status, 0, out(r))
})

test('rules: promtool test rules (every *.test.yml)', () => {
  const files = fs.readdirSync(path.join(MON, 'rules')).filter((f) => f.endsWith('.test.yml'))
  assert.ok(files.length > 0)
  for (const f of files) {
    const r = run('promtool', ['test', 'rules', path.join(MON, 'rules', f)])
    assert.is(r.status, 0, `${f}:\n${out(r)}`)
    assert.match(r.stdout, /SUCCESS/)
  }
})

test('rules: every alert tested both firing and silent', () => {
  const tests = YAML.parse(fs.readFileSync(path.join(MON, 'rules/alerts.test.yml'), 'utf8')).tests as Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>
  }>
  const fires = new Set<string>()
  const silent = new Set<string>()
  for (const t of tests) {
    for (const a of t.alert_rule_test ?? []) {
      if (a.exp_alerts && a.exp_alerts.length > 0) fires.add(a.alertname)
      else silent.add(a.alertname)
    }
  }
  for (const name of new Set(alerts.map((a) => a.alert!))) {
    assert.ok(fires.has(name), `${name} has no firing test`)
    assert.ok(silent.has(name), `${name} has no silent test`)
  }
})

test('rules: severity, summary, description and an existing runbook for every alert', () => {
  const severities = new Set<string>()
  for (const a of alerts) {
    const sev = a.labels?.severity ?? ''
    assert.ok(['critical', 'warning', 'info'].includes(sev), `${a.alert}: severity ${sev}`)
    severities.add(sev)
    assert.ok(a.annotations?.summary, `${a.alert}: summary`)
    assert.ok(a.annotations?.description, `${a.alert}: description`)
    assert.is(a.annotations?.runbook_url, `docs/runbooks/${a.alert}.md`)
    const runbook = fs.readFileSync(path.join(ROOT, a.annotations!.runbook_url!), 'utf8')
    assert.match(runbook, /## What it means/)
    assert.match(runbook, /## First three things to check/)
    assert.match(runbook, /npx zx scripts\/health-check\.ts|docker compose/)
  }
  assert.equal([...severities].sort(), ['critical', 'info', 'warning'])
})

test('rules: the required conditions are all covered', () => {
  const names = new Set(alerts.map((a) => a.alert))
  for (const n of [
    'ServiceDown',
    'HighErrorRate',
    'HighLatencyP95',
    'PostgresDown',
    'PostgresConnectionsNearMax',
    'RedisDown',
    'RedisMemoryHigh',
    'DiskSpaceLow',
    'MemoryLow',
    'HighCpuUsage',
    'TlsCertificateExpiring',
    'HealthCheckFailing',
    'DeployFailed',
    'DeployStuck',
    'BlueGreenDrift',
    'PreviousSlotGone',
    'AuthFailuresSpike',
    'RateLimitedSpike',
    'RestoreDrillOverdue',
  ]) {
    assert.ok(names.has(n), `missing alert ${n}`)
  }
  const p95 = alerts.find((a) => a.alert === 'HighLatencyP95')!
  assert.match(p95.expr, /> 0\.2\s*$/, 'API promise is 200 ms')
})

// ------------------------------------------------------------------ Alertmanager

let amConfig = ''
test('alertmanager.yml: renders with defaults and passes amtool check-config', () => {
  amConfig = render(path.join(MON, 'alertmanager.yml'), {}, 'alertmanager.yml')
  const r = run('amtool', ['check-config', amConfig])
  assert.is(r.status, 0, out(r))
  assert.match(r.stdout, /4 receivers/)
  assert.match(r.stdout, /2 inhibit rules/)
})

test('alertmanager.yml: credentials only through *_file fields, never committed', () => {
  const text = fs.readFileSync(path.join(MON, 'alertmanager.yml'), 'utf8')
  for (const key of ['api_url', 'routing_key', 'service_key', 'auth_password', 'smtp_auth_password']) {
    assert.not.match(text, new RegExp(`^\\s*${key}:`, 'm'), `${key} must be a *_file field`)
  }
  assert.match(text, /api_url_file: \/run\/dms\/secrets\/slack_webhook_url/)
  assert.match(text, /routing_key_file: \/run\/dms\/secrets\/pagerduty_routing_key/)
  assert.match(text, /smtp_auth_password_file: \/run\/dms\/secrets\/smtp_password/)
  assert.not.match(text, /hooks\.slack\.com\/services\/T/)
})

const routeCases: Array<[string[], string]> = [
  [['alertname=RedisDown', 'severity=critical', 'target=production'], 'oncall-pager,team-critical'],
  [['alertname=ServiceDown', 'severity=critical', 'role=api', 'slot=blue'], 'oncall-pager,team-critical'],
  [['alertname=HighLatencyP95', 'severity=warning'], 'team-warning'],
  [['alertname=DeployFailed', 'severity=warning', 'target=staging'], 'team-warning'],
  [['alertname=RollbackPerformed', 'severity=info'], 'team-info'],
  [['alertname=RateLimitedSpike', 'severity=info', 'zone=api'], 'team-info'],
  [['alertname=SomethingNew'], 'team-warning'],
]
for (const [labels, receivers] of routeCases) {
  test(`amtool config routes test: ${labels.join(' ')} -> ${receivers}`, () => {
    const r = run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${amConfig}`,
      `--verify.receivers=${receivers}`,
      ...labels,
    ])
    assert.is(r.status, 0, out(r))
    assert.is(r.stdout.trim(), receivers)
  })
}

test('amtool config routes test: a wrong expectation fails (the check is real)', () => {
  const r = run('amtool', [
    'config',
    'routes',
    'test',
    `--config.file=${amConfig}`,
    '--verify.receivers=team-info',
    'severity=critical',
  ])
  assert.is.not(r.status, 0)
})

// A real Alertmanager on loopback proves the inhibition rules.
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}
async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined) return v
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
}

test('alertmanager: a critical inhibits the matching warning, RedisDown inhibits Redis warnings', async () => {
  assert.ok(
    fs.existsSync('/usr/bin/prometheus-alertmanager'),
    'prometheus-alertmanager (Debian package) is required; npm test installs it',
  )
  const secrets = path.join(tmp, 'secrets')
  fs.mkdirSync(secrets, { recursive: true })
  // No receiver may reach the outside: everything points at a closed loopback port.
  fs.writeFileSync(path.join(secrets, 'slack_webhook_url'), 'http://127.0.0.1:9/slack')
  fs.writeFileSync(path.join(secrets, 'pagerduty_routing_key'), 'test-key')
  fs.writeFileSync(path.join(secrets, 'smtp_password'), 'test-password')
  const rendered = render(
    path.join(MON, 'alertmanager.yml'),
    {
      PAGERDUTY_URL: 'http://127.0.0.1:9/pd',
      SMTP_SMARTHOST: '127.0.0.1:9',
      AM_GROUP_WAIT: '10m',
      AM_CRITICAL_GROUP_WAIT: '10m',
    },
    'alertmanager-inhibit.yml',
  )
  fs.writeFileSync(rendered, fs.readFileSync(rendered, 'utf8').replaceAll('/run/dms/secrets/', `${secrets}/`))
  const port = await freePort()
  const data = fs.mkdtempSync(path.join(tmp, 'am-'))
  let am: ChildProcess | undefined
  let log = ''
  try {
    am = spawn(
      '/usr/bin/prometheus-alertmanager',
      [
        `--config.file=${rendered}`,
        `--storage.path=${data}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    am.stdout!.on('data', (d) => (log += d))
    am.stderr!.on('data', (d) => (log += d))
    const base = `http://127.0.0.1:${port}`
    await waitFor('alertmanager ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined), 15_000)
    const now = new Date().toISOString()
    const a = (labels: Record<string, string>) => ({
      labels: { target: 'production', ...labels },
      annotations: {},
      startsAt: now,
    })
    const posted = await fetch(`${base}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        a({ alertname: 'HighErrorRate', severity: 'critical', role: 'api', slot: 'blue' }),
        a({ alertname: 'HighErrorRate', severity: 'warning', role: 'api', slot: 'blue' }),
        a({ alertname: 'HighErrorRate', severity: 'warning', role: 'docs', slot: 'blue' }),
        a({ alertname: 'DiskSpaceLow', severity: 'critical', instance: 'host', mountpoint: '/var/lib/docker' }),
        a({ alertname: 'DiskSpaceLow', severity: 'warning', instance: 'host', mountpoint: '/' }),
        a({ alertname: 'RedisDown', severity: 'critical', job: 'redis', instance: 'redis' }),
        a({ alertname: 'RedisMemoryHigh', severity: 'warning', job: 'redis', instance: 'redis' }),
        a({ alertname: 'MonitoringTargetDown', severity: 'warning', job: 'postgres', instance: 'postgres' }),
      ]),
    })
    assert.is(posted.status, 200)
    type AmAlert = { labels: Record<string, string>; status: { state: string; inhibitedBy: string[] } }
    const all = await waitFor(
      '8 alerts',
      async () => {
        const list = (await (await fetch(`${base}/api/v2/alerts`)).json()) as AmAlert[]
        return list.length === 8 ? list : undefined
      },
      10_000,
    )
    const state = (name: string, sev: string, extra: Record<string, string> = {}) => {
      const found = all.find(
        (x) =>
          x.labels.alertname === name &&
          x.labels.severity === sev &&
          Object.entries(extra).every(([k, v]) => x.labels[k] === v),
      )
      assert.ok(found, `${name}/${sev} ${JSON.stringify(extra)} not found`)
      return found!.status.state
    }
    assert.is(state('HighErrorRate', 'critical'), 'active')
    assert.is(state('HighErrorRate', 'warning', { role: 'api' }), 'suppressed')
    assert.is(state('HighErrorRate', 'warning', { role: 'docs' }), 'active', 'another role is not silenced')
    assert.is(state('DiskSpaceLow', 'warning', { mountpoint: '/' }), 'active', 'another mountpoint is not silenced')
    assert.is(state('RedisMemoryHigh', 'warning'), 'suppressed')
    assert.is(state('MonitoringTargetDown', 'warning'), 'active')
  } catch (error) {
    throw new Error(`${(error as Error).message}\nalertmanager log:\n${log.slice(-2000)}`)
  } finally {
    am?.kill('SIGTERM')
  }
})

// ------------------------------------------------------------------ Grafana

const DASH_DIR = path.join(MON, 'grafana/dashboards')
type Panel = {
  id: number
  type: string
  title: string
  gridPos: { x: number; y: number; w: number; h: number }
  datasource?: { uid: string }
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>
}
type Dashboard = {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string; query: unknown }> }
  annotations: { list: Array<{ expr?: string; datasource?: { uid: string } }> }
}
const dashboardFiles = fs
  .readdirSync(DASH_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
const dashboardsByFile = new Map<string, Dashboard>(
  dashboardFiles.map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASH_DIR, f), 'utf8'))]),
)

test('grafana: committed dashboards equal the generator output', () => {
  const generated = renderDashboards()
  assert.equal([...generated.keys()].sort(), dashboardFiles)
  for (const [file, text] of generated) {
    assert.is(
      fs.readFileSync(path.join(DASH_DIR, file), 'utf8'),
      text,
      `${file} differs: run npx tsx monitoring/grafana/generate-dashboards.ts`,
    )
  }
})

const provisionedDatasources = YAML.parse(
  fs.readFileSync(path.join(MON, 'grafana/provisioning/datasources/dms.yml'), 'utf8'),
)

test('grafana: provisioning files have the structure Grafana expects', () => {
  assert.is(provisionedDatasources.apiVersion, 1)
  const prom = provisionedDatasources.datasources.find((d: { type: string }) => d.type === 'prometheus')
  assert.is(prom.uid, 'dms-prometheus')
  assert.is(prom.url, 'http://${NET_PREFIX}.50:9090')
  assert.is(prom.isDefault, true)
  assert.is(provisionedDatasources.datasources.filter((d: { isDefault?: boolean }) => d.isDefault).length, 1)
  const am = provisionedDatasources.datasources.find((d: { type: string }) => d.type === 'alertmanager')
  assert.is(am.url, 'http://${NET_PREFIX}.51:9093')
  const dash = YAML.parse(fs.readFileSync(path.join(MON, 'grafana/provisioning/dashboards/dms.yml'), 'utf8'))
  assert.is(dash.apiVersion, 1)
  assert.is(dash.providers.length, 1)
  assert.is(dash.providers[0].type, 'file')
  assert.ok(dash.providers[0].options.path)
})

test('grafana: the five dashboards exist with the metrics they are about', () => {
  const titles = [...dashboardsByFile.values()].map((d) => d.title).sort()
  assert.equal(titles, [
    'DMS / Application by role and slot',
    'DMS / Business',
    'DMS / Deployment status',
    'DMS / Security',
    'DMS / System overview',
  ])
  const text = (f: string) => fs.readFileSync(path.join(DASH_DIR, f), 'utf8')
  assert.match(text('business.json'), /dms_documents_created_total/)
  assert.match(text('business.json'), /dms_documents_read_total/)
  assert.match(text('security.json'), /dms_auth_failures_total/)
  assert.match(text('security.json'), /dms_rate_limited_requests_total/)
  assert.match(text('deployment.json'), /dms_live_slot == 1/)
  assert.match(text('deployment.json'), /dms_deploy_total/)
  assert.match(text('application.json'), /role=~\\"\$role\\", slot=~\\"\$slot\\"/)
  assert.match(text('system-overview.json'), /node_cpu_seconds_total/)
})

test('grafana: dashboard JSON structure (uids, panel ids, grid, datasources, targets, variables)', () => {
  const dsUids = new Set<string>(provisionedDatasources.datasources.map((d: { uid: string }) => d.uid))
  const uids = new Set<string>()
  for (const [file, d] of dashboardsByFile) {
    assert.ok(d.uid && d.uid.length <= 40, `${file}: uid`)
    assert.not.ok(uids.has(d.uid), `${file}: duplicate uid ${d.uid}`)
    uids.add(d.uid)
    assert.ok(d.title, `${file}: title`)
    assert.type(d.schemaVersion, 'number')
    assert.ok(Array.isArray(d.panels) && d.panels.length > 0, `${file}: panels`)
    const ids = new Set<number>()
    const vars = new Set(d.templating.list.map((v) => v.name))
    for (const p of d.panels) {
      assert.not.ok(ids.has(p.id), `${file}: duplicate panel id ${p.id}`)
      ids.add(p.id)
      assert.ok(['timeseries', 'stat', 'table', 'bargauge'].includes(p.type), `${file}: panel type ${p.type}`)
      assert.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${file}/${p.title}: grid`)
      assert.ok(dsUids.has(p.datasource!.uid), `${file}/${p.title}: datasource ${p.datasource!.uid}`)
      assert.ok(p.targets && p.targets.length > 0, `${file}/${p.title}: targets`)
      const refIds = new Set<string>()
      for (const t of p.targets!) {
        assert.ok(t.refId && !refIds.has(t.refId), `${file}/${p.title}: refId`)
        refIds.add(t.refId)
        assert.ok(t.expr.trim().length > 0, `${file}/${p.title}: expr`)
        for (const m of t.expr.matchAll(/\$(\w+)/g)) {
          const v = m[1]!
          assert.ok(v.startsWith('__') || vars.has(v), `${file}/${p.title}: undefined variable $${v}`)
        }
      }
    }
    // No two panels overlap.
    const cells = new Set<string>()
    for (const p of d.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const k = `${x},${y}`
          assert.not.ok(cells.has(k), `${file}/${p.title}: overlaps at ${k}`)
          cells.add(k)
        }
      }
    }
  }
})

// Every PromQL expression: dashboards (panels, annotations, variable queries) and rules.
function grafanaToPromQL(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '5m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1d')
    .replace(/\$(\w+)/g, '.*')
}
function dashboardExpressions(): Array<{ where: string; expr: string }> {
  const exprs: Array<{ where: string; expr: string }> = []
  for (const [file, d] of dashboardsByFile) {
    for (const p of d.panels)
      for (const t of p.targets ?? []) exprs.push({ where: `${file}/${p.title}/${t.refId}`, expr: t.expr })
    for (const a of d.annotations.list) if (a.expr) exprs.push({ where: `${file}/annotation`, expr: a.expr })
    for (const v of d.templating.list) {
      const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query
      const m = q ? /^label_values\((.+),\s*\w+\)$/.exec(q) : null
      if (m) exprs.push({ where: `${file}/$${v.name}`, expr: m[1]! })
    }
  }
  return exprs
}

function checkPromQL(exprs: Array<{ where: string; expr: string }>, name: string): Run {
  const file = path.join(tmp, name)
  const rules = exprs.map((e, i) => ({ record: `dms:check_${i}`, expr: grafanaToPromQL(e.expr) }))
  fs.writeFileSync(file, YAML.stringify({ groups: [{ name: 'dashboard-expressions', rules }] }))
  return run('promtool', ['check', 'rules', file])
}

test('grafana: every PromQL expression in the dashboards parses (promtool check rules)', () => {
  const exprs = dashboardExpressions()
  assert.ok(exprs.length > 50, `only ${exprs.length} expressions found`)
  const r = checkPromQL(exprs, 'dashboard-exprs.yml')
  assert.is(r.status, 0, out(r))
  assert.match(out(r), new RegExp(`SUCCESS: ${exprs.length} rules found`))
})

test('grafana: the PromQL check is real (a broken expression fails)', () => {
  const r = checkPromQL([{ where: 'x', expr: 'sum by (role (rate(http_requests_total[5m]))' }], 'broken.yml')
  assert.is.not(r.status, 0)
})

// App and toolkit metric names used anywhere must be in the contract (docs/architecture.md).
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
  return [...stripped.matchAll(/\b((?:dms|http|process)_[a-zA-Z0-9_]+)\b(?!\s*\()/g)].map((m) =>
    m[1]!.replace(/_(bucket|sum|count)$/, ''),
  )
}

test('contract: every dms_/http_/process_ metric used by rules and dashboards is in docs/architecture.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/architecture.md'), 'utf8')
  const contract = new Set(
    [...doc.matchAll(/`((?:dms|http|process)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')),
  )
  assert.ok(contract.has('dms_live_slot') && contract.has('http_requests_total'), 'contract parsed')
  const used = new Map<string, string>()
  for (const e of dashboardExpressions()) for (const n of metricNames(e.expr)) used.set(n, e.where)
  for (const a of alerts) for (const n of metricNames(a.expr)) used.set(n, `alert ${a.alert}`)
  assert.ok(used.size > 15)
  for (const [name, where] of used) assert.ok(contract.has(name), `${name} (${where}) is not in docs/architecture.md`)
})

test.after(() => {
  fs.rmSync(tmp, { recursive: true, force: true })
})

test.run()
