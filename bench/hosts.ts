// npm run bench, the several-hosts rows (#16): create-green-environment through the script on 1, 2 and 3 app
// hosts (the e2e ground: network namespaces with their own dockerd and sshd, reached over SSH; pyshop, 3
// containers a host, images present, every host at once), each the median and spread of BENCH_RUNS runs, and
// the ratio to one host. Prints the table and writes docs/bench/hosts.json. Everything it creates it removes.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { removeSlotOnHosts } from '../lib/multihost.ts'
import { multiHostOf } from '../lib/multihost-platform.ts'
import { ensureLiveMarker } from '../lib/runtime-dir.ts'
import { groundTarget, loadPyshop, pyshopOn } from '../test/e2e/hosts-app.ts'
import { LIVE, VAR_DIR } from '../test/e2e/hosts-balancer.ts'
import { createGround, sweepGround } from '../test/e2e/hosts-helpers.ts'
import { script } from '../test/e2e/toolkit-env.ts'
import { ROOT } from '../test/helpers/run.ts'
import { figure, showFigure, type Figure } from './stats.ts'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const VERSION = 'bench-h1'
const say = (s: string) => process.stdout.write(`${s}\n`)

/** One timed create of green on the first `n` hosts, then green removed again (not timed). */
async function createOn(n: number, g: Awaited<ReturnType<typeof createGround>>): Promise<number> {
  const hosts = [1, 2, 3].slice(0, n)
  const { t } = groundTarget(g, hosts)
  const t0 = performance.now()
  const r = await script(t, 'create-green-environment', ['--version', VERSION, '--slot', 'green', '--yes', '--json'])
  const ms = Math.round(performance.now() - t0)
  if (r.code !== 0) throw new Error(`create on ${n} hosts failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`)
  await removeSlotOnHosts(multiHostOf(t.config, t.paths, pyshopOn(hosts)), 'green')
  return ms
}

try {
  const g = await createGround(3)
  await loadPyshop(g, [VERSION])
  ensureLiveMarker(LIVE)
  const figures: Record<number, Figure> = {}
  const runs: Record<number, number[]> = { 1: [], 2: [], 3: [] }
  // interleaved, so a burst of load from the other users of this machine hits every count alike
  for (let i = 0; i < RUNS; i++) for (const n of [1, 2, 3]) runs[n]!.push(await createOn(n, g))
  for (const n of [1, 2, 3]) figures[n] = figure(runs[n]!)
  const rows = [1, 2, 3].map(
    (n) =>
      `| create-green-environment on ${n} app host${n > 1 ? 's' : ''} | ${showFigure(figures[n]!)} | ${RUNS} | ×${(figures[n]!.median / figures[1]!.median).toFixed(2)} |`,
  )
  const table = [
    '| several hosts (pyshop, 3 containers a host) | median (min–max) | runs | to 1 host |',
    '| --- | --- | --- | --- |',
    ...rows,
  ]
  say(table.join('\n'))
  const loadAvg = (await $`cat /proc/loadavg`.quiet()).stdout.trim()
  fs.mkdirSync(path.join(ROOT, 'docs', 'bench'), { recursive: true })
  fs.writeFileSync(
    path.join(ROOT, 'docs', 'bench', 'hosts.json'),
    `${JSON.stringify({ at: new Date().toISOString(), loadAvg, runs: RUNS, figures }, null, 2)}\n`,
  )
} finally {
  await sweepGround()
  fs.rmSync(VAR_DIR, { recursive: true, force: true })
}
