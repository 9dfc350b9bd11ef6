// deploy-production under faults, with real Docker: refusals with nothing changed (Docker
// unreachable, a missing image, an invalid nginx configuration), then SIGTERM and SIGKILL at
// representative steps (create, migrate, smoke, verification), each followed by a run that finds
// what the last one left, says so and recovers; live traffic is never interrupted.
// test-lane: deploy (deploy, deploy-faults and staging share deploy-helpers.ts's dmst-deploy prefix, subnet and ports)
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startLoad, summarize } from '../../bench/load.ts'
import { createShell } from '../../lib/compose.ts'
import { createPlatform } from '../../lib/platform.ts'
import { removeProjects, request } from './harness.ts'
import { PREFIX, V1, V2, V3, buildReleases, deploy, deployTarget, state, tail, type Running } from './deploy-helpers.ts'

const t = deployTarget()
const base = `https://127.0.0.1:${t.config.ports.https}`
const platform = createPlatform(t.config, t.paths, t.ui, { shell: createShell(t.ui) })
const liveVersion = async () => (await request(`${base}/api/version`)).headers['x-version']

test.before(async () => {
  await removeProjects(PREFIX)
  await buildReleases()
  const r = await deploy(t, V1).done
  if (r.code !== 0) throw new Error(`the baseline deploy failed${tail(r)}`)
})

test.after(async () => {
  await removeProjects(PREFIX)
  fs.rmSync(t.config.varDir, { recursive: true, force: true })
})

test('Docker unreachable, a missing image, an invalid nginx configuration: exit 2 with nothing changed', async () => {
  const before = fs.readFileSync(t.paths.state, 'utf8')
  const noDocker = await deploy(t, V2, [], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' }).done
  assert.is(noDocker.code, 2, tail(noDocker))
  assert.match(noDocker.stderr, /Can't deploy: Docker is not reachable .*Nothing was changed/)
  const missing = await deploy(t, 'e2e-no-such-release').done
  assert.is(missing.code, 2, tail(missing))
  assert.match(missing.stderr, /its image is not on this host\. Nothing was changed/)
  const upstreams = path.join(t.paths.nginx, 'upstreams.conf')
  const good = fs.readFileSync(upstreams, 'utf8')
  try {
    fs.writeFileSync(upstreams, `${good}\nthis is not nginx;\n`)
    const bad = await deploy(t, V2).done
    assert.is(bad.code, 2, tail(bad))
    assert.match(bad.stderr, /the nginx configuration is invalid/)
  } finally {
    fs.writeFileSync(upstreams, good)
  }
  assert.is(fs.readFileSync(t.paths.state, 'utf8'), before)
  assert.is((await platform.slotStatus('blue')).services.length, 0, 'no candidate was started')
  assert.is(fs.existsSync(t.paths.lock), false, 'the lock was released')
})

async function killAt(run: Running, title: RegExp, signal: NodeJS.Signals) {
  await run.waitOutput(title, 180_000)
  process.kill(run.pid, signal)
  return run.done
}

async function assertClean(live: string, version: string) {
  const s = state(t)
  assert.is(s.pending, null, 'nothing pending')
  assert.is(s.live, live)
  assert.is(fs.existsSync(t.paths.lock), false, 'the lock was released')
  assert.is(platform.readRouting().live, live)
  assert.is(await liveVersion(), version)
}

test('SIGTERM and SIGKILL at each step, each followed by a run that recovers; live traffic is never interrupted', async () => {
  const load = startLoad({ url: base, connections: 4, durationMs: 15 * 60_000, postRatio: 0.1 })
  try {
    // A: SIGTERM while the candidate starts: it is removed, green keeps serving
    const a = await killAt(deploy(t, V2), /Starting e2e-d2 in blue/, 'SIGTERM')
    assert.is(a.code, 130, tail(a))
    assert.match(a.stderr, /interrupted; the candidate was removed and green keeps serving/)
    await assertClean('green', V1)
    assert.is((await platform.slotStatus('blue')).services.length, 0, 'the candidate is gone')

    // B: SIGKILL during the migrations: a stale lock and a pending deploy are left behind
    const b = await killAt(deploy(t, V2), /Running the migrations of e2e-d2/, 'SIGKILL')
    assert.is(b.signal, 'SIGKILL')
    assert.ok(fs.existsSync(t.paths.lock), 'a stale lock is left')
    assert.is(state(t).pending?.step, 'migrate')

    // C: the next run takes over the lock, removes the half-made candidate; SIGTERM it during the smoke tests
    const c = await killAt(deploy(t, V2), /Smoke-testing blue/, 'SIGTERM')
    assert.is(c.code, 130, tail(c))
    assert.match(c.stderr, /Took over a stale deploy lock: pid \d+/)
    assert.match(
      c.stderr,
      /Found what an earlier run left: an unfinished deploy of e2e-d2 into blue stopped at "migrate"/,
    )
    assert.match(c.stderr, /Recovered: removed the candidate from blue; green keeps serving/)
    await assertClean('green', V1)
    assert.is((await platform.slotStatus('blue')).services.length, 0)

    // D: SIGKILL during the verification window, after the switch: blue is live
    const d = await killAt(deploy(t, V2, [], { VERIFY_WINDOW: '30s' }), /Verifying blue for/, 'SIGKILL')
    assert.is(d.signal, 'SIGKILL')
    assert.is(platform.readRouting().live, 'blue')
    assert.is(state(t).pending?.operation, 'switch')

    // E: re-running the same deploy verifies blue again (nginx routes to it, unverified), which
    // finishes the job: exit 0, nothing recreated (#11: never adopted unverified)
    const e = await deploy(t, V2).done
    assert.is(e.code, 0, tail(e))
    assert.match(
      e.stderr,
      /Found what an earlier run left: an unfinished switch of e2e-d2 into blue stopped at "verifying"/,
    )
    assert.match(e.stderr, /Recovered: verified again: blue \(e2e-d2\) passed \d+ probes and stays live/)
    assert.match(e.stdout + e.stderr, /Deployed e2e-d2 to blue: the run that was killed is finished \(verified again\)/)
    await assertClean('blue', V2)
    assert.is(state(t).slots.blue?.verified, true)

    // F: then v3 goes to green and ends clean
    const f = await deploy(t, V3).done
    assert.is(f.code, 0, tail(f))
    await assertClean('green', V3)
    const s = state(t)
    assert.equal(
      s.history.filter((h) => h.action === 'recover').map((h) => h.outcome),
      ['removed', 'verified'],
    )
    assert.is(s.previous?.version, V2)

    // G: SIGTERM at the 50% step of a gradual deploy: every request back on green, the candidate
    // kept for inspection, outcome interrupted, exit 130 (#11: never forward on its own)
    const g = await killAt(
      deploy(t, V2, ['--gradual', '50,100', '--step', '30s']),
      /Analysing blue at 50% for 30s/,
      'SIGTERM',
    )
    assert.is(g.code, 130, tail(g))
    assert.match(
      g.stderr,
      /Can't finish deploying e2e-d2: interrupted; traffic is back on green; blue \(e2e-d2\) is still running for inspection/,
    )
    await assertClean('green', V3)
    assert.equal(platform.readRouting().markers, ['green'], 'every bucket marker is gone')
    const sg = state(t)
    assert.equal([sg.history.at(-1)?.action, sg.history.at(-1)?.outcome], ['deploy', 'interrupted'])
    assert.is(sg.slots.blue?.verified, false)
    assert.ok((await platform.slotStatus('blue')).running, 'the candidate keeps running')
  } finally {
    load.stop()
  }
  const sum = summarize(await load.done)
  console.log(
    `  load during the faults: ${sum.requests} requests, ${sum.failed} failed, by slot ${JSON.stringify(sum.bySlot)}`,
  )
  assert.ok(sum.requests > 100)
  assert.is(sum.failed, 0, JSON.stringify(sum.firstFailures))
})

test.run()
