// npm run bench: the blue-green cycle under load on the real stack, measured.
// Prints figures and writes docs/bench/results.json and docs/bench/switch.svg.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { startLoad, summarize } from './load.ts'
import { switchChart, type ChartEvent } from './svg.ts'
import { buildImages, removeProjects } from '../test/e2e/harness.ts'
import { script, toolkitTarget } from '../test/e2e/toolkit-env.ts'
import { ROOT } from '../test/helpers/run.ts'

const PREFIX = 'dmst-bench'
const t = toolkitTarget(PREFIX, '172.29.40', 25, {
  VERIFY_WINDOW: '5s',
  SWITCH_MAX_P95_MS: '20000',
  KEEP_PREVIOUS: '30m',
})
const out = path.join(ROOT, 'docs', 'bench')
const say = (s: string) => process.stdout.write(`${s}\n`)

async function timed(name: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  const s = performance.now()
  const r = await script(t, name, args, env, 300_000)
  const ms = Math.round(performance.now() - s)
  if (r.code !== 0) throw new Error(`${name} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`)
  return ms
}

try {
  say('Preparing: images and a clean target…')
  await removeProjects(PREFIX)
  await buildImages(['1.0.0', '2.0.0'])

  const firstDeployMs = await timed('deploy-production', ['--version', '1.0.0', '--yes'])
  say(`first deploy-production (core + slot + migrations): ${(firstDeployMs / 1000).toFixed(1)} s`)
  const deployMs = await timed('deploy-production', ['--version', '2.0.0', '--yes'])
  say(`deploy-production 2.0.0, images present, blue-green with 5 s verification: ${(deployMs / 1000).toFixed(1)} s`)

  // the cycle under load: rollback to the warm 1.0.0, switch to 2.0.0 again, then a gradual switch
  const load = startLoad({
    url: `https://127.0.0.1:${t.config.ports.https}`,
    connections: 50,
    durationMs: 120_000,
    postRatio: 0.1,
  })
  const wallT0 = Date.now() - (performance.now() - load.t0)
  const at = () => performance.now() - load.t0
  const wait = async (ms: number) => {
    const u = at() + ms
    while (at() < u) await new Promise((r) => setTimeout(r, 50))
  }
  const markerAt = () => {
    const live = fs.existsSync(path.join(t.paths.live, 'green')) ? 'green' : 'blue'
    return { live, at: fs.statSync(path.join(t.paths.live, live)).mtimeMs - wallT0 }
  }
  const events: ChartEvent[] = []
  await wait(5000)
  let s = at()
  const rollbackMs = await timed('rollback-production', ['--yes'])
  const rb = markerAt()
  events.push({ at: s, label: `rollback (${(rollbackMs / 1000).toFixed(1)} s)` })
  await wait(5000)
  s = at()
  const switchMs = await timed('switch-to-green', ['--yes', '--verify', '3s'])
  const sw = markerAt()
  events.push({ at: s, label: `switch (${(switchMs / 1000).toFixed(1)} s incl. 3 s verification)` })
  await wait(5000)
  s = at()
  // the second rollback exactly as a person types it: npx zx (npx's and zx's start-up included)
  const rollback2Start = performance.now()
  const npx = await $({
    cwd: ROOT,
    env: { ...process.env, ...t.env, NO_COLOR: '1' },
    nothrow: true,
    quiet: true,
  })`npx zx scripts/rollback-production.ts --yes`
  const rollback2Ms = Math.round(performance.now() - rollback2Start)
  if (npx.exitCode !== 0)
    throw new Error(`npx zx scripts/rollback-production.ts failed (exit ${npx.exitCode}):\n${npx.stderr.slice(-2000)}`)
  events.push({ at: s, label: 'rollback' })
  await wait(3000)
  s = at()
  const gradualMs = await timed('switch-to-green', [
    '--yes',
    '--gradual',
    '10,25,50,100',
    '--step',
    '3s',
    '--verify',
    '2s',
  ])
  events.push({ at: s, label: 'gradual 10,25,50,100' })
  await wait(4000)
  load.stop()
  const records = await load.done
  // and once more as typed, on a machine no longer saturated by the load generator
  const idleStart = performance.now()
  const idle = await $({
    cwd: ROOT,
    env: { ...process.env, ...t.env, NO_COLOR: '1' },
    nothrow: true,
    quiet: true,
  })`npx zx scripts/rollback-production.ts --yes`
  const rollbackIdleNpxMs = Math.round(performance.now() - idleStart)
  if (idle.exitCode !== 0)
    throw new Error(
      `npx zx scripts/rollback-production.ts failed (exit ${idle.exitCode}):\n${idle.stderr.slice(-2000)}`,
    )

  // decision (marker written) -> the last request that still started on the old slot
  const lastOld = (m: { live: string; at: number }) =>
    Math.max(
      0,
      ...records
        .filter((r) => r.start >= m.at - 2000 && r.start <= m.at + 3000 && r.slot && r.slot !== m.live)
        .map((r) => r.start - m.at),
    )
  const all = summarize(records)
  const during = summarize(records, [sw.at - 1000, sw.at + 1000])
  const results = {
    machine: `${(await $`nproc`.quiet()).stdout.trim()} cores, ${(await $`uname -sr`.quiet()).stdout.trim()}`,
    date: new Date().toISOString(),
    load: {
      connections: 50,
      requests: all.requests,
      failed: all.failed,
      server5xx: all.server5xx,
      rps: all.rps,
      p50Ms: all.p50,
      p99Ms: all.p99,
      bySlot: all.bySlot,
    },
    duringSwitch: {
      window: '±1 s around the marker write',
      requests: during.requests,
      failed: during.failed,
      p50Ms: during.p50,
      p99Ms: during.p99,
    },
    switchDecisionToAllNewMs: { switch: Math.round(lastOld(sw)), rollback: Math.round(lastOld(rb)) },
    wallTimeMs: {
      firstDeploy: firstDeployMs,
      deploy: deployMs,
      rollbackWarm: rollbackMs,
      rollbackWarmNpxZx: rollback2Ms,
      rollbackWarmNpxZxNoLoad: rollbackIdleNpxMs,
      switchWith3sVerify: switchMs,
      gradual: gradualMs,
    },
  }

  // health-check of the running stack: wall time and peak memory, median of three
  const hc: Array<{ s: number; mb: number }> = []
  for (let i = 0; i < 3; i++) {
    const r = await $({
      env: { ...process.env, ...t.env, NO_COLOR: '1' },
      cwd: ROOT,
      nothrow: true,
      quiet: true,
    })`/usr/bin/time -f ${'%e %M'} node --import tsx scripts/health-check.ts --json`
    const [sec, kb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number)
    hc.push({ s: sec!, mb: Math.round(kb! / 1024) })
  }
  hc.sort((a, b) => a.s - b.s)
  const health = { wallS: hc[1]!.s, peakMb: hc[1]!.mb }

  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, 'results.json'), `${JSON.stringify({ ...results, healthCheck: health }, null, 2)}\n`)
  fs.writeFileSync(
    path.join(out, 'switch.svg'),
    switchChart(records, events, {
      title: 'Requests/s by slot, 50 keep-alive connections: rollback, switch, rollback, gradual',
    }),
  )
  say('')
  say(
    `load: ${all.requests} requests, ${all.failed} failed (${all.server5xx} 5xx), ${all.rps} req/s, p50 ${all.p50} ms, p99 ${all.p99} ms`,
  )
  say(
    `during the switch (±1 s): ${during.requests} requests, ${during.failed} failed, p50 ${during.p50} ms, p99 ${during.p99} ms`,
  )
  say(
    `decision -> every new request on the new slot: switch ${results.switchDecisionToAllNewMs.switch} ms, rollback ${results.switchDecisionToAllNewMs.rollback} ms`,
  )
  say(
    `wall time: rollback to the warm slot ${(rollbackMs / 1000).toFixed(2)} s (node --import tsx) and ${(rollback2Ms / 1000).toFixed(2)} s (npx zx) under the load, ${(rollbackIdleNpxMs / 1000).toFixed(2)} s (npx zx) without it, whole script; switch ${(switchMs / 1000).toFixed(1)} s (3 s verification), gradual ${(gradualMs / 1000).toFixed(1)} s`,
  )
  say(
    `deploy-production with images present: ${(deployMs / 1000).toFixed(1)} s; first deploy on a bare target: ${(firstDeployMs / 1000).toFixed(1)} s`,
  )
  say(`health-check (healthy, --json): ${health.wallS} s wall, ${health.peakMb} MB peak RSS (median of 3)`)
  say(`wrote ${path.relative(ROOT, out)}/results.json and switch.svg`)
} finally {
  await removeProjects(PREFIX)
}
