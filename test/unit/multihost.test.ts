// Several hosts, pure parts (#16): one health row per host on the Nagios scale (a host whose live containers
// are not all ready is CRITICAL and named; drained only warns), and the drained list after drain/undrain
// (an unknown host, or a drain leaving a service unserved, refused with exit 2).
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT, UsageError } from '../../lib/errors.ts'
import { parseManifest } from '../../lib/manifest/load.ts'
import { nextDrained } from '../../lib/multihost-drain.ts'
import { hostLine, hostsHealth, type HostRow } from '../../lib/multihost-health.ts'
import { appHostCheckDefs, renderHostsStatus } from '../../lib/multihost-checks.ts'
import type { Config } from '../../lib/config.ts'
import { runtimePaths } from '../../lib/paths.ts'
import { ROOT } from '../helpers/run.ts'

const row = (host: string, o: Partial<HostRow> = {}, blueReady = 3): HostRow => ({
  host,
  address: `10.0.0.${host.slice(-1)}`,
  reachable: true,
  drained: false,
  slots: { blue: { running: 3, expected: 3, ready: blueReady }, green: { running: 0, expected: 3, ready: 0 } },
  ms: 12,
  ...o,
})

test('every host ready on the live slot: OK, one check per host', () => {
  const h = hostsHealth([row('host-1'), row('host-2')], 'blue')
  assert.is(h.status, 'OK')
  assert.equal(
    h.checks.map((c) => [c.name, c.status, c.detail]),
    [
      ['host_host_1', 'OK', 'host-1 (10.0.0.1): 3 of 3 blue containers ready'],
      ['host_host_2', 'OK', 'host-2 (10.0.0.2): 3 of 3 blue containers ready'],
    ],
  )
  assert.is(h.summary, 'OK: 2 hosts serve blue')
})

test('a host down after the switch is CRITICAL naming it; the other stays OK', () => {
  const down = row('host-2', { reachable: false, error: 'its Docker daemon does not answer' }, 0)
  const h = hostsHealth([row('host-1'), down], 'blue')
  assert.is(h.status, 'CRITICAL')
  assert.equal(
    h.checks.map((c) => c.status),
    ['OK', 'CRITICAL'],
  )
  assert.match(h.summary, /^CRITICAL: host-2 \(10\.0\.0\.2\): unreachable: its Docker daemon does not answer$/)
})

test('containers running but not all ready: CRITICAL with the count; the idle slot does not matter', () => {
  const h = hostsHealth([row('host-1', {}, 2)], 'blue')
  assert.is(h.status, 'CRITICAL')
  assert.is(h.checks[0]!.detail, 'host-1 (10.0.0.1): 2 of 3 blue containers ready (3 running)')
  assert.is(hostsHealth([row('host-1')], 'blue').status, 'OK', 'green not running is fine while blue is live')
})

test('a drained host only warns, even when it is down', () => {
  const h = hostsHealth([row('host-1'), row('host-2', { drained: true, reachable: false, error: 'x' }, 0)], 'blue')
  assert.is(h.status, 'WARNING')
  assert.match(h.checks[1]!.detail, /drained: out of rotation/)
})

const pyshop = parseManifest(
  `${fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8')}\nhosts:\n  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: app-1, address: 10.0.0.11 }\n  - { name: app-2, address: 10.0.0.12 }\n`,
  'app.yaml',
)

test('drain and undrain change the list by one host', () => {
  assert.equal(nextDrained(pyshop, [], 'drain', 'app-1'), ['app-1'])
  assert.equal(nextDrained(pyshop, ['app-1'], 'drain', 'app-1'), ['app-1'], 'draining twice is the same')
  assert.equal(nextDrained(pyshop, ['app-1'], 'undrain', 'app-1'), [])
})

test('draining the last host serving a service, the balancer or an unknown host is refused (exit 2)', () => {
  const refused = (f: () => unknown, re: RegExp) => {
    try {
      f()
      assert.unreachable('accepted')
    } catch (e) {
      assert.instance(e, UsageError)
      assert.is((e as UsageError).exitCode, EXIT.REFUSED)
      assert.match((e as Error).message, re)
    }
  }
  refused(() => nextDrained(pyshop, ['app-1'], 'drain', 'app-2'), /Can't drain app-2: no host would serve web/)
  refused(() => nextDrained(pyshop, [], 'drain', 'lb'), /Can't drain lb: it is not an app host of pyshop/)
  const single = parseManifest(fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8'), 'app.yaml')
  refused(() => nextDrained(single, [], 'drain', 'app-1'), /the manifest names no hosts/)
})

test('a host row for people: reachable with both slots (live marked), or UNREACHABLE with the reason; drained shown', () => {
  assert.is(
    hostLine(row('host-1'), 'blue'),
    'host-1       10.0.0.1         reachable  blue (live) 3/3 running, 3 ready  green 0/3 running',
  )
  const down = row('host-2', { reachable: false, error: 'its Docker daemon does not answer' })
  assert.is(hostLine(down, 'blue'), 'host-2       10.0.0.2         UNREACHABLE (its Docker daemon does not answer)')
  assert.match(hostLine(row('host-3', { drained: true }), 'blue'), / {2}drained$/)
  const text = renderHostsStatus({ live: 'blue', status: 'CRITICAL', summary: 'CRITICAL: host-2', hosts: [down] })
  assert.match(text, /^\nApp hosts \(1\):\n {2}host-2 .*UNREACHABLE/)
  assert.is(renderHostsStatus(undefined), '', 'no hosts: status unchanged')
})

test("the host checks' values: reachable and drained as 0/1 beside the live slot's counts", () => {
  const c = hostsHealth([row('host-1', { drained: true }, 2)], 'blue').checks[0]!
  assert.equal(c.values, { reachable: 1, drained: 1, running: 3, ready: 2, expected: 3 })
  assert.is(c.status, 'WARNING')
})

test('health-check adds one check per app host only when the manifest names hosts', () => {
  const config = (app: unknown) => ({ raw: {}, target: 'production', app }) as unknown as Config
  const paths = runtimePaths('/nonexistent')
  assert.equal(
    appHostCheckDefs({
      config: config(parseManifest(fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8'), 'app.yaml')),
      paths,
    }),
    [],
  )
  assert.equal(
    appHostCheckDefs({ config: config(pyshop), paths }).map((d) => [d.name, d.onTimeout]),
    [
      ['host_app_1', 'CRITICAL'],
      ['host_app_2', 'CRITICAL'],
    ],
  )
})

test.run()
