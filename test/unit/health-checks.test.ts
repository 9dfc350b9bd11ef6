// The health run's check list (lib/health/checks-service.ts, checks-host.ts): every check in the
// report's order, what each reports when it runs out of time, and the bad-settings check.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Config } from '../../lib/config.ts'
import { runtimePaths } from '../../lib/paths.ts'
import { hostChecks, thresholdCheck } from '../../lib/health/checks-host.ts'
import { serviceChecks } from '../../lib/health/checks-service.ts'
import { createSources } from '../../lib/health/sources.ts'
import { reportReserveMs } from '../../lib/health/run.ts'
import { DEFAULT_THRESHOLDS } from '../../lib/config-health.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import { ROOT } from '../helpers/run.ts'

const config = {
  target: 'production',
  app: loadManifest('examples/dms', { cwd: ROOT, target: 'production' }),
  netPrefix: '172.29.99',
  listenAddr: '0.0.0.0',
  composeProject: 'dms-prod',
  ports: { https: 443, preview: 8443, status: 8080, postgres: 5432, redis: 6379 },
} as unknown as Config
const sources = (deadlineMs: number, c: Config = config) =>
  createSources({
    config: c,
    paths: runtimePaths('/var/x'),
    thresholds: DEFAULT_THRESHOLDS,
    thresholdProblems: [],
    restarts: {},
    deadlineMs,
  })

test('every check, in the order of the report; services are CRITICAL on timeout, facts UNKNOWN', () => {
  const s = sources(5000)
  const defs = [...serviceChecks(s), ...hostChecks(s)]
  assert.equal(
    defs.map((d) => `${d.name}:${d.onTimeout}`),
    [
      'public_https:CRITICAL',
      'role_frontend:CRITICAL',
      'role_api:CRITICAL',
      'role_docs:CRITICAL',
      'role_main:CRITICAL',
      'slot_blue:CRITICAL',
      'slot_green:CRITICAL',
      'postgres:CRITICAL',
      'redis:CRITICAL',
      'containers:UNKNOWN',
      'host_disk:UNKNOWN',
      'host_memory:UNKNOWN',
      'host_load:UNKNOWN',
      'tls_certificate:UNKNOWN',
      'drift:UNKNOWN',
      'docker_live_restore:UNKNOWN',
      'maintenance:UNKNOWN',
      'deploy_lock:UNKNOWN',
    ],
  )
})

test('an app without postgres or redis has no store checks; its services named by the manifest', () => {
  const app = loadManifest('examples/pyshop', { cwd: ROOT, target: 'production' })
  const s = sources(5000, { ...config, app } as unknown as Config)
  assert.equal(
    serviceChecks(s).map((d) => d.name),
    ['public_https', 'role_web', 'role_api', 'slot_blue', 'slot_green'],
  )
})

test('probes are sent to 127.0.0.1 for a wildcard listener, with a timeout inside the deadline', () => {
  const s = sources(300)
  assert.is(s.host, '127.0.0.1')
  assert.is(s.https(443, '/x'), 'https://127.0.0.1:443/x')
  assert.is(s.timeoutMs, 250)
})

test('bad HEALTH_* settings are one UNKNOWN check, only when there are some', async () => {
  assert.equal(thresholdCheck([]), [])
  const [d] = thresholdCheck(['HEALTH_DISK_WARN_PCT is not a number'])
  assert.equal(await d!.run(new AbortController().signal), {
    name: 'thresholds',
    status: 'UNKNOWN',
    latencyMs: 0,
    detail: 'bad HEALTH_* settings in the env file: HEALTH_DISK_WARN_PCT is not a number',
  })
})

test('reportReserveMs: 10% of the deadline is kept for the report, 20 to 500 ms', () => {
  assert.is(reportReserveMs(2000), 200)
  assert.is(reportReserveMs(10_000), 500)
  assert.is(reportReserveMs(60_000), 500)
  assert.is(reportReserveMs(100), 20)
})

test.run()
