// test-lane: hosts
// Several hosts through the deploy scripts (#16): pyshop's manifest with two app hosts (network namespaces
// with their own dockerd and sshd, reached only over SSH: hosts-helpers.ts) behind one balancer (the stack's
// nginx on this machine with the upstreams across hosts: hosts-balancer.ts). The scripts pick the multi-host
// platform from the manifest (lib/multihost-platform.ts). Under continuous keep-alive load:
// create-green-environment --parallel 1, switch-to-green --gradual, rollback-production - 0 failed requests,
// both hosts serving; host-2's dockerd stopped before a create or deploy-production: refused (exit 2) naming
// it, nothing changed;
// host-2 failing while the candidate starts: aborted (exit 1) naming it, removed everywhere, nothing switched;
// host-2 down after the switch: health-check CRITICAL naming it, status one row per host, logs.ts
// host-1's lines and host-2 named (exit 1).
// Prefix dmst-hosts, namespaces dmsh-1..2, 172.29.50.0/24, ports 35xxx (the lane runs its files one by one).
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT } from '../../lib/errors.ts'
import { run as runCommand } from '../../lib/gateway.ts'
import { hostRows, removeSlotOnHosts } from '../../lib/multihost.ts'
import { multiHostOf } from '../../lib/multihost-platform.ts'
import { containersOf, groundTarget, loadPyshop, pyshopOn } from './hosts-app.ts'
import {
  assertLoadServedByAll,
  LIVE,
  PUBLISH_BASE,
  removeBalancer,
  startBalancer,
  startLoad,
  waitServed,
} from './hosts-balancer.ts'
import { createGround, startDockerd, stopDockerd, sweepGround, type Ground } from './hosts-helpers.ts'
import { script, type ToolkitTarget } from './toolkit-env.ts'

const [V1, V2, V3] = ['e2e-s1', 'e2e-s2', 'e2e-s3']
let g: Ground
let t: ToolkitTarget
const run = (name: string, args: string[]) => script(t, name, [...args, '--yes'], {}, 240_000)
const live = () => (fs.existsSync(path.join(LIVE, 'green')) ? 'green' : 'blue')
const stateFile = () => t.paths.state
const must = (program: string, args: string[]) => runCommand(program, args, { timeoutMs: 60_000 })
const mh = () => multiHostOf(t.config, t.paths, pyshopOn([1, 2]))

test.before(async () => {
  g = await createGround(2)
  await loadPyshop(g, [V1, V2])
  await startBalancer(pyshopOn([1, 2]))
  t = groundTarget(g).t
})

test.after(async () => {
  await removeBalancer()
  await sweepGround()
})

test('the first release through the scripts: --dry-run starts nothing; create-green-environment on both hosts, switch-to-green', async () => {
  const dry = await run('create-green-environment', ['--version', V1, '--dry-run'])
  assert.is(dry.code, 0, dry.stderr)
  assert.match(
    dry.stdout + dry.stderr,
    /on host-1, host-2 \(2 at once, over SSH\): docker compose -p pyshop-green up -d/,
  )
  for (const i of [0, 1])
    assert.is(await containersOf(g, i, 'pyshop-green'), 0, `--dry-run started nothing on host-${i + 1}`)
  const c = await run('create-green-environment', ['--version', V1, '--json'])
  assert.is(c.code, 0, c.stderr)
  const doc = JSON.parse(c.stdout)
  assert.equal([doc.slot, doc.live, doc.version], ['green', 'blue', V1])
  for (const i of [0, 1]) assert.is(await containersOf(g, i, 'pyshop-green'), 3, `host-${i + 1} runs green`)
  const s = await run('switch-to-green', ['--verify', '2s'])
  assert.is(s.code, 0, s.stderr)
  assert.is(live(), 'green')
  await waitServed('green', V1)
})

test('under keep-alive load: create on both hosts (--parallel 1), gradual switch, rollback - 0 failed, both hosts serve', async () => {
  const load = startLoad()
  try {
    const c = await run('create-green-environment', ['--version', V2, '--parallel', '1'])
    assert.is(c.code, 0, c.stderr)
    assert.match(c.stdout + c.stderr, /host-1: 3 containers of blue ready in \d+ ms/)
    assert.match(c.stdout + c.stderr, /host-2: 3 containers of blue ready in \d+ ms/)
    const rows = await hostRows(mh())
    assert.equal(
      rows.map((r) => [r.host, r.slots.blue.running, r.slots.blue.ready]),
      [
        ['host-1', 3, 3],
        ['host-2', 3, 3],
      ],
    )
    const s = await run('switch-to-green', ['--gradual', '50,100', '--step', '3s', '--verify', '2s'])
    assert.is(s.code, 0, s.stderr)
    assert.is(live(), 'blue')
    await waitServed('blue', V2)
    const r = await run('rollback-production', [])
    assert.is(r.code, 0, r.stderr)
    assert.is(live(), 'green')
    await waitServed('green', V1)
  } finally {
    await load.stop()
  }
  assertLoadServedByAll(load, g.hosts)
})

test("host-2's dockerd stopped before a create or a deploy: create-green-environment and deploy-production refused (exit 2) naming host-2, nothing changed", async () => {
  const before = fs.readFileSync(stateFile(), 'utf8')
  const blueOnHost1 = await containersOf(g, 0, 'pyshop-blue')
  await stopDockerd(g.hosts[1]!)
  try {
    const c = await run('create-green-environment', ['--version', V3, '--replace'])
    assert.is(c.code, EXIT.REFUSED, c.stderr)
    assert.match(c.stderr, /Can't read slot blue on 1 of 2 app hosts \(host-2\)/)
    assert.match(c.stderr, /host-2: .*its Docker daemon does not answer/)
    assert.match(c.stderr, /Nothing was changed on any host/)
    const d = await run('deploy-production', ['--version', V3])
    assert.is(d.code, EXIT.REFUSED, d.stderr)
    assert.match(d.stderr, /Can't read slot blue on 1 of 2 app hosts \(host-2\)/)
    assert.match(d.stderr, /host-2: .*its Docker daemon does not answer/)
    const core = await must('docker', [
      'ps',
      '-aq',
      '--filter',
      `label=com.docker.compose.project=${t.env.COMPOSE_PROJECT}`,
    ])
    assert.is(core.stdout.trim(), '', 'deploy-production started nothing here (no core, no backup)')
    assert.is(fs.readFileSync(stateFile(), 'utf8'), before, 'the state file is unchanged')
    assert.is(await containersOf(g, 0, 'pyshop-blue'), blueOnHost1, 'host-1 untouched')
    assert.is(live(), 'green')
    await waitServed('green', V1)
  } finally {
    await startDockerd(g.hosts[1]!)
  }
})

test("a host failing while the candidate starts (host-2's published port taken): aborted naming host-2, removed from host-1, nothing switched", async () => {
  await removeSlotOnHosts(mh(), 'blue') // the warm previous release: its ports are the candidate's
  const sock = `unix://${g.hosts[1]!.dockerSock}`
  const squat = [
    '-H',
    sock,
    'run',
    '-d',
    '--name',
    'dmst-hosts-squat',
    '-p',
    `${g.hosts[1]!.host.address}:${PUBLISH_BASE}:8000`,
  ]
  await must('docker', [...squat, `pyshop/app:${V1}`])
  try {
    const c = await run('create-green-environment', ['--version', V2])
    assert.is(c.code, EXIT.FAILED, c.stderr)
    assert.match(c.stderr, /Can't create blue e2e-s2 on 1 of 2 hosts \(host-2\)/)
    assert.match(c.stderr, /host-2: Can't start blue e2e-s2 on host host-2/)
    assert.match(c.stderr, /Nothing was switched: the live slot was not touched on any host/)
    assert.is(await containersOf(g, 0, 'pyshop-blue'), 0, 'the candidate was removed from host-1')
    assert.is(live(), 'green')
    await waitServed('green', V1)
  } finally {
    await must('docker', ['-H', sock, 'rm', '-f', 'dmst-hosts-squat'])
  }
})

type Check = { name: string; status: string; detail: string; values?: Record<string, number> }
const hostChecks = (doc: { checks: Check[] }) =>
  doc.checks.filter((c) => c.name.startsWith('host_host_')).map((c) => [c.name, c.status])

test("after the switch, host-2's dockerd stopped: health-check CRITICAL naming host-2, host-1 OK and serving; status one row per host", async () => {
  const st = await script(t, 'status', ['--json'])
  assert.is(st.code, 0, st.stderr)
  const rows = JSON.parse(st.stdout).hosts
  assert.equal(
    rows.hosts.map(
      (r: { host: string; reachable: boolean; drained: boolean; slots: Record<string, { ready: number }> }) => [
        r.host,
        r.reachable,
        r.drained,
        r.slots.green.ready,
      ],
    ),
    [
      ['host-1', true, false, 3],
      ['host-2', true, false, 3],
    ],
  )
  assert.equal([rows.live, rows.status], ['green', 'OK'])
  const listed = await script(t, 'hosts', ['--json']) // APP and HOSTS_* from the target, no flags
  assert.is(listed.code, 0, listed.stderr)
  assert.equal(
    JSON.parse(listed.stdout).hosts.map((r: { host: string; reachable: boolean }) => [r.host, r.reachable]),
    [
      ['host-1', true],
      ['host-2', true],
    ],
  )
  const ok = await script(t, 'health-check', ['--json'])
  assert.equal(hostChecks(JSON.parse(ok.stdout)), [
    ['host_host_1', 'OK'],
    ['host_host_2', 'OK'],
  ])
  await stopDockerd(g.hosts[1]!)
  try {
    const h = await script(t, 'health-check', ['--json'])
    assert.is(h.code, 2, h.stderr)
    const doc = JSON.parse(h.stdout)
    assert.is(doc.status, 'CRITICAL')
    assert.equal(hostChecks(doc), [
      ['host_host_1', 'OK'],
      ['host_host_2', 'CRITICAL'],
    ])
    const down = doc.checks.find((c: Check) => c.name === 'host_host_2')
    assert.match(down.detail, /^host-2 \(172\.29\.50\.12\): unreachable: .*its Docker daemon does not answer/)
    assert.equal([down.values.reachable, down.values.ready], [0, 0])
    const text = await script(t, 'status', [])
    assert.match(text.stdout, /host-2 +172\.29\.50\.12 +UNREACHABLE/)
    assert.match(text.stdout, /CRITICAL: host-2 \(172\.29\.50\.12\): unreachable/)
    // logs.ts: host-1's lines, then host-2 named (exit 1); with --json the same in one document
    const logs = await script(t, 'logs', ['--tail', '20'])
    assert.is(logs.code, 1, logs.stderr)
    assert.match(logs.stdout, /^web-1 green@host-1 \| /m)
    assert.not.match(logs.stdout, /@host-2/)
    assert.match(logs.stderr, /Can't read the logs: host-2: .*docker daemon/i)
    const lj = await script(t, 'logs', ['--tail', '20', '--json'])
    assert.is(lj.code, 1, lj.stderr)
    const ldoc = JSON.parse(lj.stdout) as { ok: boolean; exitCode: number; error: string; lines: string[] }
    assert.equal([ldoc.ok, ldoc.exitCode], [false, 1])
    assert.match(ldoc.error, /^Can't read the logs: host-2: /)
    assert.ok(
      ldoc.lines.some((l) => /^web-1 green@host-1 \| /.test(l)),
      `host-1's lines are kept: ${ldoc.lines.join('\n')}`,
    )
    await waitServed('green', V1)
  } finally {
    await startDockerd(g.hosts[1]!)
  }
})

test.run()
