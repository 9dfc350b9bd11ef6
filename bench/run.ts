// npm run bench: the #19 figures on the real stack, each the median and spread of five runs, all under the
// same keep-alive load with its failed-request count: release switch-over, warm rollback as typed,
// health-check, deploy-production with a 5 s window, and script start-up; and the peer (bench/peer.ts), the
// docker-rollout method on one service under a load of the same shape. Prints the table and writes
// docs/bench/results.json, docs/bench/switch.svg (requests by slot) and docs/bench/timeline.svg, and
// regenerates the README's figures (the block between its bench markers, bench/readme.ts).
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { startLoad, summarize } from './load.ts'
import { figure, showFigure, TABLE_HEAD, tableRow, type Figure } from './stats.ts'
import { switchChart, type ChartEvent } from './svg.ts'
import { timelineChart, timelineRows } from './timeline-svg.ts'
import { benchBlock, spliceReadme } from './readme.ts'
import { runPeer } from './peer.ts'
import type { TimelineEntry } from '../lib/timeline.ts'
import { readState } from '../lib/state.ts'
import { buildImages, removeProjects } from '../test/e2e/harness.ts'
import { script, toolkitTarget } from '../test/e2e/toolkit-env.ts'
import { ROOT } from '../test/helpers/run.ts'

const PREFIX = 'dmst-bench'
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const t = toolkitTarget(PREFIX, '172.29.40', 25, {
  VERIFY_WINDOW: '5s',
  SWITCH_MAX_P95_MS: '20000',
  KEEP_PREVIOUS: '30m',
  // the bench's own load generator runs on this 2-core host: host load and latency under it are the
  // bench's doing, not the stack's, so they must not turn the "healthy" health-check into a WARNING
  HEALTH_LOAD_WARN: '100',
  HEALTH_LOAD_CRIT: '200',
  HEALTH_LATENCY_WARN_MS: '2500',
  HEALTH_LATENCY_CRIT_MS: '2900',
  // the load comes from one address without cookies: split per request so the chart shows each step
  GRADUAL_STICKY: 'request',
})
const out = path.join(ROOT, 'docs', 'bench')
const say = (s: string) => process.stdout.write(`${s}\n`)
const env = { ...process.env, ...t.env, NO_COLOR: '1' }

/** Runs a script with --json through node --import tsx; its wall time and its timeline. */
async function timed(name: string, args: string[]): Promise<{ ms: number; timeline: TimelineEntry[] }> {
  const s = performance.now()
  const r = await script(t, name, [...args, '--json'], {}, 300_000)
  const ms = Math.round(performance.now() - s)
  if (r.code !== 0) throw new Error(`${name} ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`)
  return { ms, timeline: (JSON.parse(r.stdout).timeline?.entries ?? []) as TimelineEntry[] }
}

/** Runs a command line exactly as a person types it, from the repository; its wall time. */
async function typed(argv: string[]): Promise<number> {
  const s = performance.now()
  const r = await $({ cwd: ROOT, env, nothrow: true, quiet: true })`${argv}`
  const ms = Math.round(performance.now() - s)
  if (r.exitCode !== 0)
    throw new Error(
      `${argv.join(' ')} failed (exit ${r.exitCode}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`,
    )
  return ms
}

/** the version that is not live: what the next create or deploy releases */
const otherVersion = () => {
  const s = readState(t.paths.state, 'production')
  return s.live && s.slots[s.live]?.version === '1.0.0' ? '2.0.0' : '1.0.0'
}

try {
  say(`Preparing: images, a clean target, two deploys (not timed)… (${RUNS} runs per figure)`)
  await removeProjects(PREFIX)
  await buildImages(['1.0.0', '2.0.0'])
  // on a saturated machine a core service's first start can outlast its healthcheck's start period:
  // the core keeps starting, and a later attempt finds it healthy
  for (let attempt = 1; ; attempt++) {
    const ok = await timed('deploy-production', ['--version', '1.0.0', '--yes']).then(
      () => true,
      (e: Error) => {
        if (attempt >= 3) throw e
        say(`first deploy failed (attempt ${attempt}), trying again: ${e.message.split('\n').at(-3)}`)
        return false
      },
    )
    if (ok) break
  }
  await timed('deploy-production', ['--version', '2.0.0', '--yes'])

  const load = startLoad({
    url: `https://127.0.0.1:${t.config.ports.https}`,
    connections: 50,
    durationMs: 60 * 60_000,
    postRatio: 0.1,
  })
  const at = () => performance.now() - load.t0
  while (load.records.length < 200) await new Promise((r) => setTimeout(r, 50))
  const events: ChartEvent[] = []
  const phases: Record<string, [number, number]> = {}
  const phase = async (name: string, fn: () => Promise<void>) => {
    const s = at()
    events.push({ at: s, label: name })
    await fn()
    phases[name] = [s, at()]
  }

  // 1. release switch-over: create --replace in the idle slot, then switch with a 1 s verification
  const switchOver: number[] = []
  const createMs: number[] = []
  const switchMs: number[] = []
  const timelines: { create: TimelineEntry[]; createMs: number; switch: TimelineEntry[]; total: number }[] = []
  await phase('switch-over', async () => {
    for (let i = 0; i < RUNS; i++) {
      const c = await timed('create-green-environment', ['--version', otherVersion(), '--replace', '--yes'])
      const s = await timed('switch-to-green', ['--yes', '--verify', '1s'])
      createMs.push(c.ms)
      switchMs.push(s.ms)
      switchOver.push(c.ms + s.ms)
      timelines.push({ create: c.timeline, createMs: c.ms, switch: s.timeline, total: c.ms + s.ms })
    }
  })
  // 2. warm rollback as typed (npx and zx start-up included), and as cron runs it
  const rollbackNpx: number[] = []
  const rollbackNode: number[] = []
  await phase('rollbacks', async () => {
    for (let i = 0; i < RUNS; i++) {
      rollbackNpx.push(await typed(['npx', 'zx', 'scripts/rollback-production.ts', '--yes']))
      rollbackNode.push(await typed(['node', '--import', 'tsx', 'scripts/rollback-production.ts', '--yes']))
    }
  })
  // 3. health-check of the healthy stack
  const healthNpx: number[] = []
  const healthNode: number[] = []
  await phase('health-checks', async () => {
    for (let i = 0; i < RUNS; i++) {
      healthNpx.push(await typed(['npx', 'zx', 'scripts/health-check.ts', '--json']))
      healthNode.push(await typed(['node', '--import', 'tsx', 'scripts/health-check.ts', '--json']))
    }
  })
  // 4. deploy-production with a 5 s verification window
  const deploys: number[] = []
  await phase('deploys', async () => {
    for (let i = 0; i < RUNS; i++)
      deploys.push((await timed('deploy-production', ['--version', otherVersion(), '--yes'])).ms)
  })
  // 5. start-up alone: --help
  const help: Record<string, number[]> = {}
  await phase('start-up', async () => {
    for (const s of ['rollback-production', 'health-check', 'deploy-production']) {
      help[s] = []
      for (let i = 0; i < RUNS; i++) help[s]!.push(await typed(['npx', 'zx', `scripts/${s}.ts`, '--help']))
    }
  })
  load.stop()
  const records = await load.done
  const failedIn = (name: string) => summarize(records, phases[name]).failed
  const all = summarize(records)
  // 6. the peer, after the toolkit's load has stopped, under its own load of the same shape
  say(`The peer: ${RUNS} rollouts the docker-rollout way under 50 keep-alive connections…`)
  const peer = await runPeer(RUNS)

  /** what, figure, target (ms), and the phase whose failed requests it shows (or the count itself) */
  const rows: [string, Figure, number, string | number][] = [
    [
      'release switch-over: create --replace + switch --verify 1s (4 services)',
      figure(switchOver),
      5000,
      'switch-over',
    ],
    ['  of which create-green-environment --replace', figure(createMs), 5000, 'switch-over'],
    ['  of which switch-to-green --verify 1s', figure(switchMs), 5000, 'switch-over'],
    ['warm rollback, `npx zx scripts/rollback-production.ts --yes`', figure(rollbackNpx), 1000, 'rollbacks'],
    [
      'warm rollback, `node --import tsx scripts/rollback-production.ts --yes`',
      figure(rollbackNode),
      1000,
      'rollbacks',
    ],
    ['health-check, healthy, `npx zx scripts/health-check.ts --json`', figure(healthNpx), 1000, 'health-checks'],
    ['health-check, healthy, `node --import tsx … --json`', figure(healthNode), 1000, 'health-checks'],
    ['deploy-production, images present, 5 s verification window', figure(deploys), 12_000, 'deploys'],
    ...Object.entries(help).map(
      ([s, r]) =>
        [`start-up: \`npx zx scripts/${s}.ts --help\``, figure(r), 1000, 'start-up'] as [
          string,
          Figure,
          number,
          string,
        ],
    ),
    [
      'peer: scale to 2, Docker healthy, remove the old (docker-rollout method), 1 pyshop service, nginx by Docker DNS',
      figure(peer.ms),
      5000,
      peer.failed,
    ],
  ]
  const table = [
    ...TABLE_HEAD,
    ...rows.map(([what, f, target, ph]) => tableRow(what, f, target, typeof ph === 'number' ? ph : failedIn(ph))),
  ]

  // the timeline chart: the median switch-over run, create then switch on one axis
  const sorted = [...timelines].sort((a, b) => a.total - b.total)
  const median = sorted[Math.floor(sorted.length / 2)]!
  const chartRows = [
    ...timelineRows(median.create, 0, 'create: '),
    ...timelineRows(median.switch, median.createMs, 'switch: '),
  ]
  const marks = median.create
    .filter((e) => e.service)
    .map((e) => ({ label: `${e.service}: ${e.name}`, start: e.start, end: e.end, ok: e.ok, service: e.service! }))

  fs.mkdirSync(out, { recursive: true })
  const machine = `${(await $`nproc`.quiet()).stdout.trim()} cores, ${(await $`uname -sr`.quiet()).stdout.trim()}`
  const loadAvg = (await $`cat /proc/loadavg`.quiet()).stdout.trim()
  const results = {
    machine,
    loadAvgAtEnd: loadAvg,
    date: new Date().toISOString(),
    runs: RUNS,
    load: { connections: 50, requests: all.requests, failed: all.failed, rps: all.rps, p50Ms: all.p50, p99Ms: all.p99 },
    failedByPhase: Object.fromEntries(Object.keys(phases).map((p) => [p, failedIn(p)])),
    peer,
    figures: Object.fromEntries(rows.map(([what, f]) => [what.trim(), f])),
    medianSwitchOverTimeline: { create: median.create, createMs: median.createMs, switch: median.switch },
  }
  fs.writeFileSync(path.join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  fs.writeFileSync(
    path.join(out, 'switch.svg'),
    switchChart(records, events, { title: 'Requests/s by slot, 50 keep-alive connections, through every bench phase' }),
  )
  fs.writeFileSync(
    path.join(out, 'timeline.svg'),
    timelineChart(chartRows, {
      title: `Release switch-over, median of ${RUNS} runs (${showFigure(figure([median.total]))}): create, then switch`,
      marks,
    }),
  )
  // the README's figures are this run's: the block between its bench markers is regenerated
  const readmeFile = path.join(ROOT, 'README.md')
  const block = benchBlock({
    date: results.date,
    machine,
    loadAvg,
    runs: RUNS,
    table,
    load: { requests: all.requests, failed: all.failed, rps: all.rps, p50: all.p50, p99: all.p99 },
  })
  fs.writeFileSync(readmeFile, spliceReadme(fs.readFileSync(readmeFile, 'utf8'), block))
  say('')
  for (const l of table) say(l)
  say('')
  say(`load: ${all.requests} requests, ${all.failed} failed, ${all.rps} req/s, p50 ${all.p50} ms, p99 ${all.p99} ms`)
  say(`peer's load: ${peer.requests} requests, ${peer.failed} failed (${peer.firstErrors.join('; ') || 'none'})`)
  say(`machine: ${machine}; load average at the end: ${loadAvg}`)
  say(`wrote ${path.relative(ROOT, out)}/results.json, switch.svg and timeline.svg, and the README's figures`)
  if (all.failed > 0) process.exitCode = 1
} finally {
  await removeProjects(PREFIX)
}
