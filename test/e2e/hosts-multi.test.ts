// test-lane: hosts
// Several hosts, the slot lifecycle (#16): pyshop from its manifest on two app hosts (network namespaces with
// their own dockerd and sshd, reached only over SSH: hosts-helpers.ts) behind one balancer (the stack's nginx
// on this machine with the upstreams across hosts: hosts-balancer.ts). Under continuous keep-alive load:
// create on both hosts, gradual, switch by one marker write, rollback, drain a host and back - 0 failed
// requests; one host's dockerd stopped before create (refused, named), during create (aborted, candidate
// removed everywhere, nothing switched) and after the switch (CRITICAL naming it, the other host serving);
// its SSH dropped mid-create (aborted after bounded retries, the re-run creates on both); scripts/hosts.ts;
// create time on 1, 2 and 3 hosts (host-3 runs nothing else).
// Prefix dmst-hosts, namespaces dmsh-1..3, 172.29.50.0/24, ports 35xxx.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT, OperationError, RefusedError } from '../../lib/errors.ts'
import type { Manifest } from '../../lib/manifest/types.ts'
import { applyDrained } from '../../lib/multihost-drain.ts'
import { readDrained } from '../../lib/multihost-upstreams.ts'
import { hostsHealth, type HostRow } from '../../lib/multihost-health.ts'
import { createSlotOnHosts, hostRows, removeSlotOnHosts, type MultiHost } from '../../lib/multihost.ts'
import { setGradual, setLive } from '../../lib/nginx.ts'
import { closeConnection } from '../../lib/ssh.ts'
import { waitFor } from './harness.ts'
import {
  assertLoadServedByAll,
  balancerNginx,
  get,
  LIVE,
  PUBLISH_BASE,
  removeBalancer,
  startBalancer,
  startLoad,
  VAR_DIR,
  waitServed,
} from './hosts-balancer.ts'
import { containersOf, createDuringFault, loadPyshop, pyshopOn, runHostsScript } from './hosts-app.ts'
import {
  createGround,
  GROUND,
  startDockerd,
  startSshd,
  stopDockerd,
  stopSshd,
  sweepGround,
  type Ground,
} from './hosts-helpers.ts'

const [V1, V2] = ['e2e-m1', 'e2e-m2']
let g: Ground
let m: Manifest
let mh: MultiHost

/** the ground's hosts that run the app (host-3 is only in the create-time figures) */
const appHosts = () => g.hosts.slice(0, 2)
const hostsScript = (args: string[]) => runHostsScript(g, args)
const projectContainers = (i: number, project: string) => containersOf(g, i, project)
const createWhile = (fault: () => Promise<void>) => createDuringFault(mh, V2, fault)

test.before(async () => {
  g = await createGround(3) // host-3 only for the create-time figures; the app runs on host-1 and host-2
  m = pyshopOn([1, 2])
  mh = {
    manifest: m,
    ssh: g.ssh,
    project: 'pyshop',
    dir: path.join(GROUND, 'compose'),
    parallel: 2,
    publishBase: PUBLISH_BASE,
  }
  await loadPyshop(g, [V1, V2])
  await createSlotOnHosts(mh, 'blue', V1)
  await startBalancer(m)
  await waitServed('blue', V1)
})

test.after(async () => {
  await removeBalancer()
  await sweepGround()
})

test('create time on one, two and three hosts (figures for the bench), --parallel 3', async () => {
  const ms: number[] = []
  for (const n of [1, 2, 3]) {
    const on = { ...mh, manifest: pyshopOn([1, 2, 3].slice(0, n)), parallel: 3 }
    const t0 = performance.now()
    const created = await createSlotOnHosts(on, 'green', V2)
    ms.push(performance.now() - t0)
    await removeSlotOnHosts(on, 'green')
    assert.equal(
      created.map((c) => [c.host, c.containers]),
      g.hosts.slice(0, n).map((th) => [th.host.name, 3]),
    )
  }
  const [one, two, three] = ms.map(Math.round)
  console.log(
    `  create green (3 containers a host): 1 host ${one} ms, 2 hosts ${two} ms (x${(two! / one!).toFixed(2)}), 3 hosts ${three} ms (x${(three! / one!).toFixed(2)})`,
  )
  for (const i of [0, 1, 2]) assert.is(await projectContainers(i, 'pyshop-green'), 0, 'removed on every host')
})

test('under keep-alive load: create on both hosts, gradual, switch by one marker, rollback - 0 failed, both hosts serve', async () => {
  const load = startLoad()
  try {
    const created = await createSlotOnHosts(mh, 'green', V2)
    assert.equal(
      created.map((c) => c.host),
      ['host-1', 'host-2'],
    )
    const rows = await hostRows(mh)
    assert.equal(
      rows.map((r) => [r.host, r.slots.green.running, r.slots.green.ready]),
      [
        ['host-1', 3, 3],
        ['host-2', 3, 3],
      ],
    )
    setGradual(LIVE, 'green', 50)
    await waitFor('both slots to serve during the 50% shift', async () => {
      const seen = new Set<string>()
      for (let i = 0; i < 40; i++) seen.add((await get('/')).slot)
      return seen.has('blue') && seen.has('green') ? true : undefined
    })
    setLive(LIVE, 'green')
    await waitServed('green', V2)
    const byHost = { ...load.counts.byHost }
    await waitFor('green to be served from both hosts', async () =>
      appHosts().every((th) => (load.counts.byHost[th.host.address] ?? 0) > (byHost[th.host.address] ?? 0) + 20)
        ? true
        : undefined,
    )
    setLive(LIVE, 'blue')
    await waitServed('blue', V1)
  } finally {
    await load.stop()
  }
  assertLoadServedByAll(load, appHosts())
  await removeSlotOnHosts(mh, 'green')
})

test('drain host-1 and back under load: no request reaches it while drained, 0 failed', async () => {
  const state = path.join(VAR_DIR, 'hosts-drained.json')
  const h1 = g.hosts[0]!.host.address
  const load = startLoad()
  let during = { h1: 0, total: 0 }
  try {
    assert.equal(await applyDrained(m, balancerNginx, ['host-1'], state, { publishBase: PUBLISH_BASE }), {
      changed: true,
    })
    assert.equal(readDrained(state), ['host-1'])
    const before = { h1: load.counts.byHost[h1] ?? 0, total: load.counts.ok }
    await waitFor('300 answers while host-1 is drained', async () =>
      load.counts.ok - before.total >= 300 ? true : undefined,
    )
    during = { h1: (load.counts.byHost[h1] ?? 0) - before.h1, total: load.counts.ok - before.total }
    await applyDrained(m, balancerNginx, [], state, { publishBase: PUBLISH_BASE })
    const back = load.counts.byHost[h1] ?? 0
    await waitFor('host-1 to serve again', async () => ((load.counts.byHost[h1] ?? 0) > back + 20 ? true : undefined))
  } finally {
    await load.stop()
  }
  const c = load.counts
  console.log(
    `  drain: ${during.total} answers while drained, ${during.h1} from host-1; load ${c.ok} ok, ${c.failed} failed`,
  )
  assert.is(during.h1, 0, 'a drained host gets no request')
  assert.is(c.failed, 0, c.errors.slice(0, 5).join('; '))
  assert.equal(readDrained(state), [])
})

test('scripts/hosts.ts: one row per host over SSH (--json); a bad drain refused (exit 2); --dry-run changes nothing', async () => {
  const list = await hostsScript(['--json'])
  assert.is(list.code, 0, list.stderr)
  const doc = JSON.parse(list.stdout)
  assert.equal([doc.live, doc.status], ['blue', 'OK'])
  assert.equal(
    doc.hosts.map((r: HostRow) => [r.host, r.reachable, r.slots.blue.running, r.slots.blue.ready, r.drained]),
    [
      ['host-1', true, 3, 3, false],
      ['host-2', true, 3, 3, false],
    ],
  )
  const state = path.join(VAR_DIR, 'hosts-drained.json')
  const before = fs.readFileSync(state, 'utf8')
  const bad = await hostsScript(['--drain', 'balancer', '--yes'])
  assert.is(bad.code, EXIT.REFUSED, bad.stderr)
  assert.match(bad.stderr, /Can't drain balancer: it is not an app host of pyshop/)
  const base = await hostsScript(['--drain', 'host-2', '--publish-base', '21000', '--yes'])
  assert.is(base.code, EXIT.REFUSED, base.stderr)
  assert.match(base.stderr, /Can't drain or undrain with --publish-base/)
  const dry = await hostsScript(['--drain', 'host-2', '--dry-run'])
  assert.is(dry.code, 0, dry.stderr)
  assert.match(dry.stdout + dry.stderr, /render the stack's upstreams with host-2 down/)
  assert.is(fs.readFileSync(state, 'utf8'), before, 'nothing recorded')
  assert.not.ok(fs.existsSync(path.join(LIVE, '.drain')))
})

test("host-2's dockerd stopped before create: refused naming it, nothing started on host-1", async () => {
  await stopDockerd(g.hosts[1]!)
  try {
    await createSlotOnHosts(mh, 'green', V2)
    assert.unreachable('a create with a host down was started')
  } catch (e) {
    assert.instance(e, RefusedError)
    const msg = (e as Error).message
    assert.match(msg, /Can't create green e2e-m2 on 2 hosts: Can't reach the Docker daemon on 1 of 2 hosts \(host-2\)/)
    assert.match(
      msg,
      /host-2: Can't reach the Docker daemon on host host-2 \(root@172\.29\.50\.12:22\): its Docker daemon does not answer/,
    )
    assert.match(msg, /Nothing was started on any host/)
  } finally {
    await startDockerd(g.hosts[1]!)
  }
  assert.is(await projectContainers(0, 'pyshop-green'), 0)
  await waitServed('blue', V1)
})

test("host-2's dockerd stopped during create: aborted naming it, the candidate removed from host-1, nothing switched", async () => {
  const err = await createWhile(() => stopDockerd(g.hosts[1]!))
  try {
    assert.instance(err, OperationError)
    const msg = err!.message
    assert.match(msg, /Can't create green e2e-m2 on 1 of 2 hosts \(host-2\)/)
    assert.match(msg, /host-2: Can't start green e2e-m2 on host host-2 .*: its Docker daemon does not answer/, msg)
    assert.match(msg, /Nothing was switched: the live slot was not touched on any host/)
    assert.is(await projectContainers(0, 'pyshop-green'), 0, 'the candidate was removed from host-1')
    assert.ok(fs.existsSync(path.join(LIVE, 'blue')) && !fs.existsSync(path.join(LIVE, 'green')), 'blue is still live')
    await waitServed('blue', V1)
  } finally {
    await startDockerd(g.hosts[1]!)
  }
  // the candidate left on host-2 (its daemon was down) is removed once it is back
  await removeSlotOnHosts(mh, 'green')
  await waitFor('host-2 to serve blue again', async () => {
    const rows = await hostRows(mh)
    return rows.every((r) => r.slots.blue.ready === 3) ? true : undefined
  })
})

test('SSH to host-2 dropped mid-create: aborted naming it (after bounded retries); the re-run once it is back creates on both', async () => {
  const th = g.hosts[1]!
  const err = await createWhile(async () => {
    await stopSshd(th)
    await closeConnection(th.host, g.ssh)
  })
  try {
    assert.instance(err, OperationError)
    assert.match(err!.message, /Can't create green e2e-m2 on 1 of 2 hosts \(host-2\)/, err!.message)
    assert.match(err!.message, /SSH could not connect after 3 tries/, err!.message)
    assert.match(err!.message, /not on host-2/, err!.message)
    assert.is(await projectContainers(0, 'pyshop-green'), 0, 'the candidate was removed from host-1')
  } finally {
    await startSshd(th)
  }
  const again = await createSlotOnHosts(mh, 'green', V2)
  assert.equal(
    again.map((c) => [c.host, c.containers]),
    [
      ['host-1', 3],
      ['host-2', 3],
    ],
  )
  await removeSlotOnHosts(mh, 'green')
  await waitServed('blue', V1)
})

test("after the switch, host-2's dockerd stopped: CRITICAL naming host-2, host-1 keeps serving", async () => {
  await createSlotOnHosts(mh, 'green', V2)
  setLive(LIVE, 'green')
  await waitServed('green', V2)
  const healthy = hostsHealth(await hostRows(mh), 'green')
  assert.is(healthy.status, 'OK', healthy.summary)
  const load = startLoad()
  await stopDockerd(g.hosts[1]!)
  try {
    const h = hostsHealth(await hostRows(mh), 'green')
    assert.is(h.status, 'CRITICAL')
    assert.equal(
      h.checks.map((c) => [c.name, c.status]),
      [
        ['host_host_1', 'OK'],
        ['host_host_2', 'CRITICAL'],
      ],
    )
    assert.match(h.summary, /^CRITICAL: host-2 \(172\.29\.50\.12\): unreachable: .*its Docker daemon does not answer/)
    const listed = await hostsScript([])
    assert.is(listed.code, EXIT.FAILED, listed.stderr)
    assert.match(listed.stdout + listed.stderr, /CRITICAL: host-2 \(172\.29\.50\.12\): unreachable/)
    const ok = load.counts.ok
    await waitFor('200 more answers with host-2 down', async () => (load.counts.ok >= ok + 200 ? true : undefined))
    await waitServed('green', V2)
  } finally {
    await load.stop()
    await startDockerd(g.hosts[1]!)
  }
  console.log(
    `  host-2 down after the switch: load ${load.counts.ok} ok, ${load.counts.failed} failed (${load.counts.errors.slice(0, 3).join('; ')})`,
  )
  await waitFor('host-2 ready again', async () =>
    hostsHealth(await hostRows(mh), 'green').status === 'OK' ? true : undefined,
  )
  setLive(LIVE, 'blue')
  await waitServed('blue', V1)
  await removeSlotOnHosts(mh, 'green')
})

test.run()
