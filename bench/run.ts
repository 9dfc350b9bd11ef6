// npm run bench: the #19 figures on the real stack, each the median and spread of five runs, under two
// keep-alive loads with their failed-request counts (a steady pace, then as fast as the stack answers):
// release switch-over, warm rollback as typed, health-check, deploy-production with a 5 s window, and
// script start-up; and the peer (bench/peer.ts), the docker-rollout method on one service under loads of
// the same shape. Prints the table and writes docs/bench/results.json, docs/bench/switch.svg (requests by
// slot), docs/bench/timeline.svg (the median switch-over under the steady load) and
// timeline-flat-out.svg, and regenerates the README's figures (the block between its bench markers).
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { startLoad, summarize, type LoadRecord, type LoadSummary } from './load.ts'
import { figure, showFigure, tableHead, tableRow, type Cell } from './stats.ts'
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
/** the steady load's pace over its 50 connections, requests per second */
const RATE = Number(process.env.BENCH_RATE ?? 100)
const LOADS = [
  { name: 'steady', rate: RATE as number | undefined, says: `a steady ${RATE} req/s` },
  { name: 'flat-out', rate: undefined, says: 'each connection sending as soon as it is answered' },
]
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

type SwitchRun = { create: TimelineEntry[]; createMs: number; switch: TimelineEntry[]; total: number }
type Pass = {
  /** figure name → its runs (ms) */
  runs: Record<string, number[]>
  /** figure name → the failed requests of its phase */
  failed: Record<string, number>
  timelines: SwitchRun[]
  records: LoadRecord[]
  events: ChartEvent[]
  all: LoadSummary
  peer: Awaited<ReturnType<typeof runPeer>>
}

/** Every figure, RUNS times, under one load (at `rate` req/s over 50 keep-alive connections, or flat out). */
async function measure(rate: number | undefined): Promise<Pass> {
  const load = startLoad({
    url: `https://127.0.0.1:${t.config.ports.https}`,
    connections: 50,
    rate,
    durationMs: 60 * 60_000,
    postRatio: 0.1,
  })
  const at = () => performance.now() - load.t0
  while (load.records.length < 200) await new Promise((r) => setTimeout(r, 50))
  const events: ChartEvent[] = []
  const phases: Record<string, [number, number]> = {}
  const runs: Record<string, number[]> = {}
  const phaseOf: Record<string, string> = {}
  const add = (ph: string, name: string, ms: number) => {
    phaseOf[name] = ph
    runs[name] = [...(runs[name] ?? []), ms]
  }
  const phase = async (name: string, fn: () => Promise<void>) => {
    const s = at()
    events.push({ at: s, label: name })
    await fn()
    phases[name] = [s, at()]
  }

  // 1. release switch-over: create --replace in the idle slot, then switch with a 1 s verification
  const timelines: SwitchRun[] = []
  await phase('switch-over', async () => {
    for (let i = 0; i < RUNS; i++) {
      const c = await timed('create-green-environment', ['--version', otherVersion(), '--replace', '--yes'])
      const s = await timed('switch-to-green', ['--yes', '--verify', '1s'])
      add('switch-over', 'switch-over', c.ms + s.ms)
      add('switch-over', 'create', c.ms)
      add('switch-over', 'switch', s.ms)
      timelines.push({ create: c.timeline, createMs: c.ms, switch: s.timeline, total: c.ms + s.ms })
    }
  })
  // 2. warm rollback as typed (npx and zx start-up included), and as cron runs it
  await phase('rollbacks', async () => {
    for (let i = 0; i < RUNS; i++) {
      add('rollbacks', 'rollback-npx', await typed(['npx', 'zx', 'scripts/rollback-production.ts', '--yes']))
      add(
        'rollbacks',
        'rollback-node',
        await typed(['node', '--import', 'tsx', 'scripts/rollback-production.ts', '--yes']),
      )
    }
  })
  // 3. health-check of the healthy stack
  await phase('health-checks', async () => {
    for (let i = 0; i < RUNS; i++) {
      add('health-checks', 'health-npx', await typed(['npx', 'zx', 'scripts/health-check.ts', '--json']))
      add('health-checks', 'health-node', await typed(['node', '--import', 'tsx', 'scripts/health-check.ts', '--json']))
    }
  })
  // 4. deploy-production with a 5 s verification window
  await phase('deploys', async () => {
    for (let i = 0; i < RUNS; i++)
      add('deploys', 'deploy', (await timed('deploy-production', ['--version', otherVersion(), '--yes'])).ms)
  })
  // 5. start-up alone: --help
  await phase('start-up', async () => {
    for (const s of HELP)
      for (let i = 0; i < RUNS; i++)
        add('start-up', `help-${s}`, await typed(['npx', 'zx', `scripts/${s}.ts`, '--help']))
  })
  load.stop()
  const records = await load.done
  const failed = Object.fromEntries(
    Object.entries(phaseOf).map(([name, ph]) => [name, summarize(records, phases[ph]).failed]),
  )
  // 6. the peer, after the toolkit's load has stopped, under its own load of the same shape
  say(`The peer: ${RUNS} rollouts the docker-rollout way under 50 keep-alive connections…`)
  const peer = await runPeer(RUNS, rate)
  runs.peer = peer.ms
  failed.peer = peer.failed
  return { runs, failed, timelines, records, events, all: summarize(records), peer }
}

const HELP = ['rollback-production', 'health-check', 'deploy-production']
/** the table's rows: what, the figure's name in a Pass, target (ms) */
const ROWS: [string, string, number][] = [
  ['release switch-over: create --replace + switch --verify 1s (4 services)', 'switch-over', 5000],
  ['  of which create-green-environment --replace', 'create', 5000],
  ['  of which switch-to-green --verify 1s', 'switch', 5000],
  ['warm rollback, `npx zx scripts/rollback-production.ts --yes`', 'rollback-npx', 1000],
  ['warm rollback, `node --import tsx scripts/rollback-production.ts --yes`', 'rollback-node', 1000],
  ['health-check, healthy, `npx zx scripts/health-check.ts --json`', 'health-npx', 1000],
  ['health-check, healthy, `node --import tsx … --json`', 'health-node', 1000],
  ['deploy-production, images present, 5 s verification window', 'deploy', 12_000],
  ...HELP.map((s) => [`start-up: \`npx zx scripts/${s}.ts --help\``, `help-${s}`, 1000] as [string, string, number]),
  [
    'peer: scale to 2, Docker healthy, remove the old (docker-rollout method), 1 pyshop service, nginx by Docker DNS',
    'peer',
    5000,
  ],
]

/** the median run of a pass's switch-overs */
const medianRun = (p: Pass) => [...p.timelines].sort((a, b) => a.total - b.total)[Math.floor(p.timelines.length / 2)]!

function timelineSvg(run: SwitchRun, load: string): string {
  const rows = [...timelineRows(run.create, 0, 'create: '), ...timelineRows(run.switch, run.createMs, 'switch: ')]
  const marks = run.create
    .filter((e) => e.service)
    .map((e) => ({ label: `${e.service}: ${e.name}`, start: e.start, end: e.end, ok: e.ok, service: e.service! }))
  return timelineChart(rows, {
    title: `Release switch-over under the ${load} load, median of ${RUNS} runs (${showFigure(figure([run.total]))}): create, then switch`,
    marks,
  })
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

  const passes: Pass[] = []
  for (const l of LOADS) {
    say(`Under the ${l.name} load (50 keep-alive connections, ${l.says})…`)
    passes.push(await measure(l.rate))
  }
  const table = [
    ...tableHead(LOADS.map((l) => l.name)),
    ...ROWS.map(([what, name, target]) =>
      tableRow(
        what,
        target,
        passes.map((p): Cell => ({ f: figure(p.runs[name]!), failed: p.failed[name]! })),
      ),
    ),
  ]

  fs.mkdirSync(out, { recursive: true })
  const machine = `${(await $`nproc`.quiet()).stdout.trim()} cores, ${(await $`uname -sr`.quiet()).stdout.trim()}`
  const loadAvg = (await $`cat /proc/loadavg`.quiet()).stdout.trim()
  const loads = LOADS.map((l, i) => {
    const a = passes[i]!.all
    return { name: l.name, requests: a.requests, failed: a.failed, rps: a.rps, p50: a.p50, p99: a.p99 }
  })
  const results = {
    machine,
    loadAvgAtEnd: loadAvg,
    date: new Date().toISOString(),
    runs: RUNS,
    loads: LOADS.map((l, i) => ({
      ...loads[i]!,
      connections: 50,
      pace: l.rate ?? 'flat out',
      figures: Object.fromEntries(ROWS.map(([what, name]) => [what.trim(), figure(passes[i]!.runs[name]!)])),
      failedByFigure: passes[i]!.failed,
      peer: passes[i]!.peer,
      medianSwitchOverTimeline: medianRun(passes[i]!),
    })),
  }
  fs.writeFileSync(path.join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  // requests by slot through every phase: the flat-out pass, where a failure would be likeliest
  const flat = passes.at(-1)!
  fs.writeFileSync(
    path.join(out, 'switch.svg'),
    switchChart(flat.records, flat.events, {
      title: 'Requests/s by slot, 50 keep-alive connections flat out, through every bench phase',
    }),
  )
  fs.writeFileSync(path.join(out, 'timeline.svg'), timelineSvg(medianRun(passes[0]!), LOADS[0]!.name))
  fs.writeFileSync(path.join(out, 'timeline-flat-out.svg'), timelineSvg(medianRun(flat), LOADS.at(-1)!.name))
  // the README's figures are this run's: the block between its bench markers is regenerated
  const readmeFile = path.join(ROOT, 'README.md')
  const block = benchBlock({ date: results.date, machine, loadAvg, runs: RUNS, table, loads })
  fs.writeFileSync(readmeFile, spliceReadme(fs.readFileSync(readmeFile, 'utf8'), block))
  say('')
  for (const l of table) say(l)
  say('')
  for (const l of loads)
    say(`${l.name} load: ${l.requests} requests, ${l.failed} failed, ${l.rps} req/s, p50 ${l.p50} ms, p99 ${l.p99} ms`)
  for (const [i, p] of passes.entries())
    say(
      `peer's ${LOADS[i]!.name} load: ${p.peer.requests} requests, ${p.peer.failed} failed (${p.peer.firstErrors.join('; ') || 'none'})`,
    )
  say(`machine: ${machine}; load average at the end: ${loadAvg}`)
  say(
    `wrote ${path.relative(ROOT, out)}/results.json, switch.svg, timeline.svg and timeline-flat-out.svg, and the README's figures`,
  )
  if (loads.some((l) => l.failed > 0)) process.exitCode = 1
} finally {
  await removeProjects(PREFIX)
}
