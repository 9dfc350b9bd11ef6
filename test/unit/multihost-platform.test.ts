// The deploy scripts on several hosts, pure parts (#16): a slot's status across app hosts as one SlotStatus
// (problems named by host), the hosts' settings from the env file (a bad publish base refused, exit 2),
// --parallel, the public probe paths, and platformFor choosing the multi-host platform only with hosts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { ServiceState } from '../../lib/compose.ts'
import type { Config } from '../../lib/config.ts'
import { EXIT, UsageError } from '../../lib/errors.ts'
import { parseManifest } from '../../lib/manifest/load.ts'
import { multiHostOf, parallelFlag, platformFor, publicPaths } from '../../lib/multihost-platform.ts'
import { hostsSettings } from '../../lib/multihost-settings.ts'
import { slotStatusAcrossHosts } from '../../lib/multihost-status.ts'
import { runtimePaths } from '../../lib/paths.ts'
import { renderNginxIncludes } from '../../lib/nginx-render.ts'
import { hostsUpstreams } from '../../lib/multihost-upstreams.ts'
import { Printer } from '../../lib/ui.ts'
import { ROOT } from '../helpers/run.ts'

const text = fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8')
const hostsYaml =
  '\nhosts:\n  - { name: lb, address: 10.0.0.10, role: balancer }\n  - { name: app-1, address: 10.0.0.11 }\n  - { name: app-2, address: 10.0.0.12 }\n'
const pyshop = parseManifest(`${text}${hostsYaml}`, 'app.yaml', 'production')
const single = parseManifest(text, 'app.yaml', 'production')
const up = (service: string, version = 'v2', health = ''): ServiceState => ({
  service,
  name: `pyshop-green-${service}-1`,
  state: 'running',
  health,
  exitCode: 0,
  image: `pyshop/app:${version}`,
  labels: { 'dms.version': version },
})
const expected = ['web-1', 'web-2', 'api']

function usage(fn: () => unknown, re: RegExp) {
  try {
    fn()
    assert.unreachable('accepted')
  } catch (e) {
    assert.instance(e, UsageError)
    assert.is((e as UsageError).exitCode, EXIT.REFUSED)
    assert.match((e as Error).message, re)
  }
}

test('every host runs every container: running, healthy, one version; services named by host', () => {
  const s = slotStatusAcrossHosts('green', [
    { host: 'app-1', expected, services: expected.map((n) => up(n)) },
    { host: 'app-2', expected, services: expected.map((n) => up(n)) },
  ])
  assert.equal([s.running, s.healthy, s.version, s.problems], [true, true, 'v2', []])
  assert.equal(s.services.map((x) => x.service).slice(0, 4), ['app-1 web-1', 'app-1 web-2', 'app-1 api', 'app-2 web-1'])
  assert.is(s.expected?.length, 6)
})

test('a container missing on one host: not running, the problem names the host and the container', () => {
  const s = slotStatusAcrossHosts('green', [
    { host: 'app-1', expected, services: expected.map((n) => up(n)) },
    { host: 'app-2', expected, services: [up('web-1'), { ...up('api'), state: 'exited', exitCode: 3 }] },
  ])
  assert.equal([s.running, s.healthy], [false, false])
  assert.equal(s.problems, ['app-2 web-2: not created', 'app-2 api: exited (exit 3)'])
})

test('no containers on any host: an empty slot (nothing to replace); two versions are both named', () => {
  const empty = slotStatusAcrossHosts('blue', [
    { host: 'app-1', expected, services: [] },
    { host: 'app-2', expected, services: [] },
  ])
  assert.equal([empty.services.length, empty.version, empty.running], [0, null, false])
  const mixed = slotStatusAcrossHosts('blue', [
    { host: 'app-1', expected, services: expected.map((n) => up(n, 'v1')) },
    { host: 'app-2', expected, services: expected.map((n) => up(n, 'v2')) },
  ])
  assert.is(mixed.version, 'v1,v2')
})

test('the hosts settings: defaults from VAR_DIR, the env file overrides, a bad publish base refused', () => {
  const paths = runtimePaths('/var/lib/dms')
  const config = (raw: Record<string, string>) =>
    ({ raw, multiHost: hostsSettings(raw), target: 'production' }) as unknown as Config
  const d = multiHostOf(config({}), paths, pyshop)
  assert.equal(
    [d.ssh.dir, d.ssh.identityFile, d.publishBase, d.parallel, d.project],
    ['/var/lib/dms/ssh', undefined, 20000, 2, 'pyshop'],
  )
  const o = multiHostOf(
    config({ HOSTS_SSH_DIR: '/s', HOSTS_SSH_KEY: '/k', HOSTS_PUBLISH_BASE: '35100' }),
    paths,
    pyshop,
    1,
  )
  assert.equal([o.ssh.dir, o.ssh.identityFile, o.publishBase, o.parallel], ['/s', '/k', 35100, 1])
  for (const bad of ['80', 'x', '65500', '-1'])
    usage(
      () => multiHostOf(config({ HOSTS_PUBLISH_BASE: bad }), paths, pyshop),
      /^Can't use HOSTS_PUBLISH_BASE=.*: expected a port from 1024 to 65471/,
    )
})

test('--parallel: absent is every host at once; 1-100 only', () => {
  assert.is(parallelFlag(undefined), undefined)
  assert.is(parallelFlag('3'), 3)
  for (const bad of ['0', '101', 'two', '1.5']) usage(() => parallelFlag(bad), /^Can't use --parallel/)
})

test('the public probes: one path per service, the first route of each', () => {
  assert.equal(publicPaths(pyshop), [
    { service: 'web', path: '/' },
    { service: 'api', path: '/api/' },
  ])
})

test('platformFor: the one-host platform without hosts, the hosts platform (build refused, names the hosts) with them', async () => {
  const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mhp-'))
  try {
    const paths = runtimePaths(varDir)
    const ui = new Printer({ quiet: true })
    const config = (app: typeof pyshop) => ({ raw: {}, target: 'production', app }) as unknown as Config
    const one = platformFor(config(single), paths, ui)
    const many = platformFor(config(pyshop), paths, ui)
    assert.equal(many.services, one.services)
    assert.ok(fs.existsSync(path.join(varDir, 'ssh', 'config')), 'the SSH config is written for the hosts')
    try {
      await many.buildImage('v2')
      assert.unreachable('a build on the hosts was accepted')
    } catch (e) {
      assert.is((e as { exitCode: number }).exitCode, EXIT.REFUSED)
      assert.match((e as Error).message, /Can't build v2 on the app hosts \(app-1, app-2\)/)
    }
  } finally {
    fs.rmSync(varDir, { recursive: true, force: true })
  }
})

test("the stack's nginx includes: with hosts, a server per host and container on the published port, drained hosts down", () => {
  const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mhu-'))
  try {
    const config = (app: unknown, raw: Record<string, string> = {}) =>
      ({ raw, multiHost: hostsSettings(raw), target: 'production', app, varDir }) as unknown as Config
    assert.equal(hostsUpstreams(config(single)), {}, 'no hosts: the one-host upstreams')
    fs.writeFileSync(path.join(varDir, 'hosts-drained.json'), '["app-2"]\n')
    const hosts = hostsUpstreams(config(pyshop, { HOSTS_PUBLISH_BASE: '35100' }))
    assert.equal(hosts, { hosts: { publishBase: 35100, drained: ['app-2'] } })
    const base = { netPrefix: '172.29.9', listenAddr: '127.0.0.1', httpsPort: 8443, httpPort: 8080 }
    const settings = { ...base, previewPort: 8444, statusPort: 8090, statusAllow: ['127.0.0.1'], app: pyshop }
    const up = renderNginxIncludes({ ...settings, ...hosts })['upstreams.conf']!
    assert.match(
      up,
      /^upstream web_blue \{\n {4}server 10\.0\.0\.11:35100 max_fails=1 fail_timeout=5s; # app-1 web-1\n/m,
    )
    assert.match(up, /server 10\.0\.0\.12:35100 max_fails=1 fail_timeout=5s down; # app-2 web-1/)
    assert.match(up, /upstream api_green \{\n {4}server 10\.0\.0\.11:35134 /)
    assert.not.match(up, /172\.29\.9\./, 'no container address on this machine')
    assert.match(up, /limit_req_zone/, "the app's rate-limit zones are kept")
    const one = renderNginxIncludes({ ...settings, app: single })['upstreams.conf']!
    assert.match(one, /172\.29\.9\./, 'without hosts: the containers on this machine')
  } finally {
    fs.rmSync(varDir, { recursive: true, force: true })
  }
})

test.run()
