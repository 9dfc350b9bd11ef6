// A Docker daemon restart (what a docker.io upgrade or a dockerd crash does) under continuous
// keep-alive load: with live-restore on, the containers keep running and serving, 0 failed
// requests. And health-check and preflight warn when the daemon runs without live-restore;
// bootstrap turns it back on with a SIGHUP, no restart.
// test-lane: alone (it restarts the Docker daemon that every other e2e suite needs)
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startLoad, summarize } from '../../bench/load.ts'
import { liveRestoreEnabled } from '../../lib/docker-daemon.ts'
import { buildImages, removeProjects, request } from './harness.ts'
import { assertExit0 } from './deploy-helpers.ts'
import { ensureDockerd, restartDockerd, restoreDaemonJson, setLiveRestore } from './daemon-helpers.ts'
import { migrate, script, toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-restart'
const t = toolkitTarget(PREFIX, '172.29.43', 28, { VERIFY_WINDOW: '2s', SWITCH_MAX_P95_MS: '20000' })
const publicUrl = `https://127.0.0.1:${t.config.ports.https}`
const ok = assertExit0

/** id and start time of every container of this suite: a restart that kept them running changes neither. */
async function containers(): Promise<string[]> {
  const ids = (await $({ quiet: true })`docker ps -q --filter ${`label=com.docker.compose.project`}`).stdout
    .split('\n')
    .filter(Boolean)
  if (!ids.length) return []
  const out = await $({
    quiet: true,
  })`docker inspect --format ${'{{index .Config.Labels "com.docker.compose.project"}} {{.Id}} {{.State.StartedAt}}'} ${ids}`
  return out.stdout
    .split('\n')
    .filter((l) => l.startsWith(`${PREFIX}-`))
    .sort()
}

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0'])
  await upCore(t)
  ok(await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes']), 'create 1.0.0')
  await migrate(t, 'green', '1.0.0')
  ok(await script(t, 'switch-to-green', ['--yes']), 'switch to green')
})

test.after(async () => {
  await ensureDockerd()
  await removeProjects(PREFIX)
})

test('health-check and preflight warn while the daemon runs without live-restore; bootstrap turns it on with a SIGHUP', async () => {
  const original = await setLiveRestore(false)
  try {
    const health = await script(t, 'health-check', ['--json'])
    const report = JSON.parse(health.stdout)
    const check = report.checks.find((c: { name: string }) => c.name === 'docker_live_restore')
    assert.is(check?.status, 'WARNING', health.stdout.slice(0, 2000))
    assert.match(check.detail, /without live-restore/)
    assert.match(check.detail, /bootstrap\.ts/)
    const dry = await script(t, 'deploy-production', ['--version', '1.0.1', '--dry-run'])
    assert.match(dry.stderr + dry.stdout, /Preflight warning: the Docker daemon runs without live-restore/)
    const pidBefore = (await $({ quiet: true })`cat /var/run/docker.pid`).stdout.trim()
    const boot = await script(t, 'bootstrap', ['--no-build', '--yes'])
    ok(boot, 'bootstrap')
    assert.match(boot.stdout + boot.stderr, /live-restore: .*applied SIGHUP/)
    assert.is(await liveRestoreEnabled(), true)
    // a reload, not a restart
    assert.is((await $({ quiet: true })`cat /var/run/docker.pid`).stdout.trim(), pidBefore)
    const after = JSON.parse((await script(t, 'health-check', ['--json'])).stdout)
    assert.is(after.checks.find((c: { name: string }) => c.name === 'docker_live_restore')?.status, 'OK')
  } finally {
    if ((await liveRestoreEnabled()) !== true) await restoreDaemonJson(original)
  }
})

test('dockerd restarted under keep-alive load: 0 failed requests, the containers kept running', async () => {
  assert.is(await liveRestoreEnabled(), true, 'live-restore must be on (bootstrap turns it on)')
  const before = await containers()
  assert.is(before.length, 7, `core (3) and green (4) run: ${before.join('\n')}`)
  const load = startLoad({ url: publicUrl, connections: 20, durationMs: 120_000 })
  const at = () => performance.now() - load.t0
  let restart: Awaited<ReturnType<typeof restartDockerd>> | undefined
  let window: [number, number] = [0, 0]
  try {
    while (load.records.length < 200) await new Promise((r) => setTimeout(r, 50))
    window = [at(), 0]
    restart = await restartDockerd()
    window[1] = at()
    // the load goes on after the daemon is back
    const until = load.records.length + 300
    while (load.records.length < until) await new Promise((r) => setTimeout(r, 50))
  } finally {
    load.stop()
  }
  const records = await load.done
  const all = summarize(records)
  const during = summarize(records, window)
  console.log(
    `restart: dockerd down ${restart!.stoppedMs} ms, answering again after ${restart!.downMs} ms; load: ${JSON.stringify({ ...all, firstFailures: undefined })}; during the restart: ${during.requests} requests, ${during.failed} failed`,
  )
  assert.is.not(restart!.newPid, restart!.oldPid, 'dockerd was restarted')
  assert.equal(restart!.newArgv, restart!.argv, 'dockerd runs with the same flags')
  assert.ok(during.requests > 50, `requests while dockerd restarted: ${during.requests}`)
  assert.is(all.failed, 0, `failed requests: ${JSON.stringify(all.firstFailures)}`)
  assert.equal(await containers(), before, 'the same containers, never restarted')
  assert.is(await liveRestoreEnabled(), true, 'dockerd came back with live-restore')
  const r = await request(`${publicUrl}/api/version`)
  assert.is(r.headers['x-slot'], 'green')
})

test.run()
