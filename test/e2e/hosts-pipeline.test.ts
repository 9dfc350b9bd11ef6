// test-lane: hosts
// deploy-production end to end on two hosts (#16): no test balancer here: the toolkit's own core on this machine
// (nginx from the static file, its upstreams listing both hosts' containers) is started by the first deploy; the
// candidate starts on both hosts over SSH, the manifest's smoke checks pass through the preview listener, the
// switch is the marker write here. A second release under continuous keep-alive load: 0 failed requests. Then
// a drain by hosts.ts on that nginx: host-1's containers stopped while drained cost no request.
// Prefix dmst-hosts, namespaces dmsh-1..2, 172.29.50.0/24, ports 35xxx (the lane runs its files one by one).
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { readState } from '../../lib/state.ts'
import { removeProjects, waitFor } from './harness.ts'
import { containersOf, groundTarget, loadPyshop, pyshopWithKv, runHostsScript } from './hosts-app.ts'
import { startLoad, VAR_DIR, waitServed } from './hosts-balancer.ts'
import { createGround, SUBNET, sweepGround, type Ground } from './hosts-helpers.ts'
import type { Load } from './keepalive-load.ts'
import { script, type ToolkitTarget } from './toolkit-env.ts'

const [V1, V2] = ['e2e-s1', 'e2e-s2']
let g: Ground
let t: ToolkitTarget
let app: string
let load: Load | undefined
const run = (name: string, args: string[]) => script(t, name, [...args, '--yes'], {}, 300_000)

test.before(async () => {
  await removeProjects('dmst-hosts')
  g = await createGround(2)
  await loadPyshop(g, [V1, V2])
  ;({ t, app } = groundTarget(g))
})

test.after(async () => {
  await load?.stop()
  await removeProjects('dmst-hosts')
  await sweepGround()
  fs.rmSync(VAR_DIR, { recursive: true, force: true })
})

test('deploy-production on two hosts: the core here, the candidate on both hosts, smoke, switch; again under load, 0 failed', async () => {
  const first = await run('deploy-production', ['--version', V1])
  assert.is(first.code, 0, first.stderr.slice(-3000))
  assert.match(first.stdout + first.stderr, /Starting the core services \(nginx\)/)
  await waitServed('green', V1)
  const core = await $({
    quiet: true,
  })`docker ps --filter ${'label=com.docker.compose.project=dmst-hosts-prod'} --format ${'{{.Label "com.docker.compose.service"}}'}`
  assert.is(core.stdout.trim(), 'nginx', "the balancer runs the toolkit's nginx; no app container here")
  for (const i of [0, 1]) assert.is(await containersOf(g, i, 'pyshop-green'), 3, `host-${i + 1} runs green`)

  load = startLoad()
  const l = load
  await waitFor('the load to get going', async () => (l.counts.ok > 100 ? true : undefined))
  const second = await run('deploy-production', ['--version', V2])
  assert.is(second.code, 0, second.stderr.slice(-3000))
  await waitServed('blue', V2)
  await l.stop()
  load = undefined
  const c = l.counts
  console.log(
    `  deploy-production on two hosts under load: ${c.ok} ok, ${c.failed} failed, by slot ${JSON.stringify(c.bySlot)}`,
  )
  assert.is(c.failed, 0, c.errors.slice(0, 5).join('; '))
  assert.ok((c.bySlot.green ?? 0) > 0 && (c.bySlot.blue ?? 0) > 0, JSON.stringify(c.bySlot))
  for (const i of [0, 1]) assert.is(await containersOf(g, i, 'pyshop-blue'), 3, `host-${i + 1} runs blue`)
  const state = readState(t.paths.state, 'production')
  assert.equal([state.live, state.slots.blue?.version, state.slots.green?.version], ['blue', V2, V1])
})

test("a drain on the toolkit's own nginx under load: host-1's containers stopped while drained cost no request", async () => {
  const l = startLoad()
  load = l
  await waitFor('the load to get going', async () => (l.counts.ok > 100 ? true : undefined))
  const drain = await runHostsScript(g, ['--drain', 'host-1', '--yes'])
  assert.is(drain.code, 0, drain.stderr.slice(-2000))
  const upstreams = fs.readFileSync(path.join(t.paths.varDir, 'nginx', 'upstreams.conf'), 'utf8')
  assert.match(upstreams, new RegExp(`server ${SUBNET}\\.11:\\d+ [^;]*down;`), "host-1's servers are down")
  assert.not.match(upstreams, new RegExp(`server ${SUBNET}\\.12:\\d+ [^;]*down;`))
  // host-1's blue containers stop: nothing is sent there, so nothing fails
  const host1 = ['-H', `unix://${g.hosts[0]!.dockerSock}`]
  const ids = (
    await $({ quiet: true })`docker ${host1} ps -q --filter ${'label=com.docker.compose.project=pyshop-blue'}`
  ).stdout
    .split('\n')
    .filter(Boolean)
  assert.is(ids.length, 3)
  await $({ quiet: true })`docker ${host1} stop -t 2 ${ids}`
  const before = l.counts.ok
  await waitFor('300 answers with host-1 stopped', async () => (l.counts.ok > before + 300 ? true : undefined))
  await $({ quiet: true })`docker ${host1} start ${ids}`
  await waitFor("host-1's containers to answer ready again", async () => {
    const r = await runHostsScript(g, ['--json'])
    const row = JSON.parse(r.stdout).hosts.find((h: { host: string }) => h.host === 'host-1')
    return row?.slots.blue.ready === 3 ? true : undefined
  })
  const undrain = await runHostsScript(g, ['--undrain', 'host-1', '--yes'])
  assert.is(undrain.code, 0, undrain.stderr.slice(-2000))
  assert.not.match(fs.readFileSync(path.join(t.paths.varDir, 'nginx', 'upstreams.conf'), 'utf8'), / down;/)
  await l.stop()
  load = undefined
  console.log(`  drained host-1 (stopped while drained): ${l.counts.ok} ok, ${l.counts.failed} failed`)
  assert.is(l.counts.failed, 0, l.counts.errors.slice(0, 5).join('; '))
})

test('a release whose image is on no app host: create refused (exit 2) naming both hosts and how to load it, nothing changed', async () => {
  const before = fs.readFileSync(t.paths.state, 'utf8')
  const green = [await containersOf(g, 0, 'pyshop-green'), await containersOf(g, 1, 'pyshop-green')]
  const c = await run('create-green-environment', ['--version', 'e2e-absent', '--replace'])
  assert.is(c.code, 2, c.stderr)
  assert.match(
    c.stderr,
    /Can't use release e2e-absent: pyshop\/app:e2e-absent is not on host-1, host-2 \(the toolkit does not pull on app hosts\)/,
  )
  assert.match(c.stderr, new RegExp(`docker save pyshop/app:e2e-absent \\| ssh root@${SUBNET}\\.11 docker load`))
  assert.is(fs.readFileSync(t.paths.state, 'utf8'), before, 'the state is unchanged')
  assert.equal(
    [await containersOf(g, 0, 'pyshop-green'), await containersOf(g, 1, 'pyshop-green')],
    green,
    'green untouched',
  )
})

test('an accessory on host-2 and a release command: deploy-production starts kv there and migrates on host-1 over SSH; web on host-1 reaches kv, health-check asks it', async () => {
  fs.writeFileSync(app, pyshopWithKv([1, 2], 2, `pyshop/app:${V1}`))
  const d = await run('deploy-production', ['--version', V1])
  assert.is(d.code, 0, d.stderr.slice(-3000))
  assert.match(d.stdout + d.stderr, /Starting the accessories on the app hosts \(host-2: kv\)/)
  // the release command ran on host-1 (the first host with api), over SSH: listed at plan time, then applied
  assert.match(d.stdout + d.stderr, /kv-001/)
  assert.match(d.stdout + d.stderr, new RegExp(`migrations applied: kv-${V1}`))
  assert.equal(
    [await containersOf(g, 0, 'pyshop-accessories'), await containersOf(g, 1, 'pyshop-accessories')],
    [0, 1],
    'kv runs on host-2 only',
  )
  const here = await $({
    quiet: true,
  })`docker ps --filter ${'label=com.docker.compose.project=dmst-hosts-prod'} --format ${'{{.Label "com.docker.compose.service"}}'}`
  assert.is(here.stdout.trim(), 'nginx', 'no accessory on the balancer')
  // the live slot's web on host-1 reaches kv at host-2's address, named by its env
  const host1 = ['-H', `unix://${g.hosts[0]!.dockerSock}`]
  const web = (
    await $({
      quiet: true,
    })`docker ${host1} ps -q --filter ${'label=com.docker.compose.project=pyshop-green'} --filter ${'label=com.docker.compose.service=web-1'}`
  ).stdout.trim()
  const env = await $({ quiet: true })`docker ${host1} inspect --format ${'{{json .Config.Env}}'} ${web}`
  assert.ok((JSON.parse(env.stdout) as string[]).includes(`KV=${SUBNET}.12:7000`), env.stdout)
  const asked = await $({
    quiet: true,
    nothrow: true,
  })`docker ${host1} exec ${web} python3 -c ${`import urllib.request;print(urllib.request.urlopen('http://${SUBNET}.12:7000/ready').status)`}`
  assert.is(asked.stdout.trim(), '200', asked.stderr)
  const health = await script(t, 'health-check', ['--json'])
  const kv = () => JSON.parse(health.stdout).checks.find((c: { name: string }) => c.name === 'accessory_kv')
  assert.is(kv()?.status, 'OK', health.stdout)
  // logs.ts reads the live slot on each app host and kv on host-2, over SSH, each line naming its host
  const logs = await script(t, 'logs', ['--json'])
  assert.is(logs.code, 0, logs.stderr)
  const doc = JSON.parse(logs.stdout) as { hosts: string[]; lines: string[] }
  assert.equal(doc.hosts, ['host-1', 'host-2'])
  for (const [line, host] of [
    ['web-1', 'host-1'],
    ['web-2', 'host-2'],
    ['api', 'host-1'],
  ])
    assert.ok(
      doc.lines.some((l) =>
        new RegExp(`^${line} green@${host} \\| \\S+ pyshop \\w+ ${V1} \\(green\\) listening`).test(l),
      ),
      `${line} on ${host}: ${doc.lines.join('\n')}`,
    )
  const kvLogs = await script(t, 'logs', ['--service', 'kv', '--json'])
  assert.is(kvLogs.code, 0, kvLogs.stderr)
  assert.equal(JSON.parse(kvLogs.stdout).hosts, ['host-2'])
  assert.match(JSON.parse(kvLogs.stdout).lines.join('\n'), /^kv core@host-2 \| \S+ pyshop kv /m)
  // exec.ts runs inside a running container of the host named, over SSH, and audits it
  const host2 = ['-H', `unix://${g.hosts[1]!.dockerSock}`]
  const probe = "import os, socket; print(os.environ['SLOT'], socket.gethostname())"
  const ex = await script(t, 'exec', ['--running', 'web-1', '--host', 'host-2', '--', 'python3', '-c', probe])
  assert.is(ex.code, 0, ex.stderr)
  const web2 = await $({
    quiet: true,
  })`docker ${host2} ps -q --filter ${'label=com.docker.compose.project=pyshop-green'} --filter ${'label=com.docker.compose.service=web-1'}`
  // stdout: the plan line, then the command's own output
  assert.is(
    ex.stdout.trim().split('\n').pop(),
    `green ${web2.stdout.trim()}`,
    "host-2's web-1 of the live slot answered",
  )
  assert.match(fs.readFileSync(t.paths.audit, 'utf8'), /inside web-1 on host-2 of green/)
  const oneOff = await script(t, 'exec', ['--', 'true'])
  assert.is(oneOff.code, 2, 'a one-off container on the app hosts is refused')
  assert.match(oneOff.stderr, /--running <service> \[--host <name>\]/)
  // kv stopped on host-2: health-check names it CRITICAL; the next deploy starts it again
  await $({ quiet: true })`docker ${host2} stop -t 2 pyshop-accessories-kv-1`
  const down = await script(t, 'health-check', ['--json'])
  const kvDown = JSON.parse(down.stdout).checks.find((c: { name: string }) => c.name === 'accessory_kv')
  assert.is(down.code, 2, down.stdout)
  assert.is(kvDown?.status, 'CRITICAL', down.stdout)
  const again = await run('deploy-production', ['--version', V2])
  assert.is(again.code, 0, again.stderr.slice(-3000))
  assert.is(await containersOf(g, 1, 'pyshop-accessories'), 1, 'the deploy started kv again on host-2')
})

test('down: both slots on every app host and the accessory on host-2 removed over SSH, then the core here', async () => {
  const plan = await script(t, 'down', ['--dry-run'])
  assert.is(plan.code, 0, plan.stderr)
  assert.match(plan.stdout + plan.stderr, /on host-1, host-2 over SSH: stop and remove both slots/)
  assert.match(plan.stdout + plan.stderr, /on host-2 \(kv\) over SSH: stop and remove the accessories/)
  assert.is(await containersOf(g, 1, 'pyshop-accessories'), 1, '--dry-run removed nothing')
  const d = await run('down', [])
  assert.is(d.code, 0, d.stderr.slice(-3000))
  for (const i of [0, 1])
    for (const project of ['pyshop-blue', 'pyshop-green', 'pyshop-accessories'])
      assert.is(await containersOf(g, i, project), 0, `${project} on host-${i + 1}`)
  const here = await $({ quiet: true })`docker ps -q --filter ${'label=com.docker.compose.project=dmst-hosts-prod'}`
  assert.is(here.stdout.trim(), '', 'the core here is down')
})

test.run()
