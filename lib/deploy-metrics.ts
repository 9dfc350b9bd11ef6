// The deploy pipeline's textfile for node_exporter: VAR_DIR/metrics/deploy.prom. Counters are
// read back from the file, so they survive between runs (a lost file restarts them at 0, which
// Prometheus handles as a counter reset).
import fs from 'node:fs'
import path from 'node:path'
import type { Slot } from './model.ts'
import { counter, gauge, parseMetrics, writeTextfile, type MetricFamily } from './metrics.ts'

export const DEPLOY_OUTCOMES = ['succeeded', 'failed', 'rolled_back'] as const
export type DeployOutcome = (typeof DEPLOY_OUTCOMES)[number]

export type DeployMetrics = {
  total: Record<DeployOutcome, number>
  lastSuccessS: number | null
  durationS: number | null
  inProgress: boolean
  startedS: number | null
  live: Slot | null
  rollbacks: number
}

export const DEPLOY_TEXTFILE = 'deploy'

export function emptyDeployMetrics(): DeployMetrics {
  return {
    total: { succeeded: 0, failed: 0, rolled_back: 0 },
    lastSuccessS: null,
    durationS: null,
    inProgress: false,
    startedS: null,
    live: null,
    rollbacks: 0,
  }
}

/** Reads our own textfile back (only the series of this target). */
export function parseDeployMetrics(text: string, target: string): DeployMetrics {
  const m = emptyDeployMetrics()
  let samples: ReturnType<typeof parseMetrics> = []
  try {
    samples = parseMetrics(text)
  } catch {
    return m
  }
  for (const s of samples) {
    if (s.labels.target !== target) continue
    if (s.name === 'dms_deploy_total' && (DEPLOY_OUTCOMES as readonly string[]).includes(s.labels.outcome ?? ''))
      m.total[s.labels.outcome as DeployOutcome] = s.value
    else if (s.name === 'dms_deploy_last_success_timestamp_seconds') m.lastSuccessS = s.value
    else if (s.name === 'dms_deploy_duration_seconds') m.durationS = s.value
    else if (s.name === 'dms_deploy_in_progress') m.inProgress = s.value === 1
    else if (s.name === 'dms_deploy_started_timestamp_seconds') m.startedS = s.value
    else if (s.name === 'dms_live_slot' && s.value === 1 && (s.labels.slot === 'blue' || s.labels.slot === 'green'))
      m.live = s.labels.slot
    else if (s.name === 'dms_rollbacks_total') m.rollbacks = s.value
  }
  return m
}

export function deployFamilies(target: string, m: DeployMetrics): MetricFamily[] {
  const t = { target }
  const families: MetricFamily[] = [
    counter(
      'dms_deploy_total',
      'Deploys by outcome.',
      DEPLOY_OUTCOMES.map((outcome) => ({ labels: { target, outcome }, value: m.total[outcome] })),
    ),
    gauge('dms_deploy_in_progress', '1 while a deploy runs.', [{ labels: t, value: m.inProgress ? 1 : 0 }]),
    counter('dms_rollbacks_total', 'Automatic switch-backs and rollbacks.', [{ labels: t, value: m.rollbacks }]),
  ]
  if (m.lastSuccessS !== null)
    families.push(
      gauge('dms_deploy_last_success_timestamp_seconds', 'When the last deploy succeeded.', [
        { labels: t, value: m.lastSuccessS },
      ]),
    )
  if (m.durationS !== null)
    families.push(
      gauge('dms_deploy_duration_seconds', 'Wall time of the last finished deploy.', [
        { labels: t, value: m.durationS },
      ]),
    )
  if (m.startedS !== null)
    families.push(
      gauge('dms_deploy_started_timestamp_seconds', 'When the last deploy started.', [
        { labels: t, value: m.startedS },
      ]),
    )
  if (m.live)
    families.push(
      gauge(
        'dms_live_slot',
        '1 for the live slot.',
        (['blue', 'green'] as const).map((slot) => ({ labels: { target, slot }, value: m.live === slot ? 1 : 0 })),
      ),
    )
  return families
}

/** Read, change, write the deploy textfile. Never throws: metrics must not fail a deploy. */
export async function updateDeployMetrics(
  dir: string,
  target: string,
  fn: (m: DeployMetrics) => void,
): Promise<string | null> {
  let text = ''
  try {
    text = fs.readFileSync(path.join(dir, `${DEPLOY_TEXTFILE}.prom`), 'utf8')
  } catch {
    text = ''
  }
  const m = parseDeployMetrics(text, target)
  fn(m)
  try {
    await writeTextfile(dir, DEPLOY_TEXTFILE, deployFamilies(target, m))
    return null
  } catch (e) {
    return (e as Error).message
  }
}
