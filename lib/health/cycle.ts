// One health-check run with its side effects: probe everything, remember restart counts,
// notify on state changes (--alert), write Prometheus textfile metrics (--prometheus).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Env } from '../script-env.ts'
import { UsageError } from '../errors.ts'
import { gauge, textfileName, writeTextfile, type MetricFamily } from '../metrics.ts'
import { readState } from '../state.ts'
import { alertPayload, planAlerts, readMemory, writeMemory, type Change } from './alerts.ts'
import { deliverWebhook, type Delivery } from '../webhook.ts'
import type { HealthReport } from './model.ts'
import { healthMetrics } from './render.ts'
import { runHealthCheck } from './run.ts'

export type CycleOptions = {
  deadlineMs: number
  alert: boolean
  /** textfile path for node_exporter (must end in .prom) */
  prometheusFile?: string
}

export type CycleResult = {
  report: HealthReport
  alert?: { changes: Change[]; deliveries: Delivery[]; remembered: boolean }
  /** problems with the side effects (a failed webhook, an unwritable file): printed as warnings */
  warnings: string[]
}

/**
 * Checks --prometheus before anything runs: a `.prom` file name in a directory that exists
 * (node_exporter's textfile directory), so a typo can neither create directories nor
 * replace a file that is not a textfile.
 */
export function checkPrometheusFile(value: unknown): string | undefined {
  if (value === undefined) return undefined
  const file = String(value)
  const shown = JSON.stringify(file.length > 60 ? `${file.slice(0, 57)}…` : file)
  const dir = path.dirname(file)
  let why = ''
  if (!file.endsWith('.prom')) why = 'it must name a .prom file'
  else {
    try {
      textfileName(path.basename(file))
      if (!fs.statSync(dir).isDirectory()) why = `${dir} is not a directory`
    } catch (e) {
      why =
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? `the directory ${JSON.stringify(dir.slice(0, 60))} does not exist`
          : 'its file name may hold only letters, digits, . _ and -'
    }
  }
  if (why)
    throw new UsageError(
      `Can't use --prometheus ${shown}: ${why}`,
      "Name a file in node_exporter's textfile directory, e.g. --prometheus var/production/metrics/health-check.prom",
    )
  return file
}

export async function healthCycle(env: Env, opts: CycleOptions): Promise<CycleResult> {
  const { config, paths } = env
  const { thresholds, problems } = config.health
  const memory = readMemory(paths.alerts)
  const { report, restarts } = await runHealthCheck({
    config,
    paths,
    thresholds,
    thresholdProblems: problems,
    restarts: memory.restarts,
    deadlineMs: opts.deadlineMs,
  })
  const warnings: string[] = []
  memory.restarts = restarts
  let alert: CycleResult['alert']
  if (opts.alert) {
    const { changes, next } = planAlerts(memory.checks, report.checks, new Date())
    let deliveries: Delivery[] = []
    if (changes.length && !config.webhookUrl && !config.slackWebhookUrl) {
      warnings.push(
        `--alert: ${changes.length} state change(s) but no WEBHOOK_URL or SLACK_WEBHOOK_URL is configured in ${config.localFile}`,
      )
    } else if (changes.length) {
      // every body is masked before it leaves; Slack gets only its text
      const payload = JSON.parse(
        env.ui.mask(JSON.stringify(alertPayload(config.target, report.status, changes, os.hostname()))),
      )
      const timeoutMs = Math.min(config.notifyTimeoutMs, opts.deadlineMs)
      const sends = [
        config.webhookUrl ? deliverWebhook([config.webhookUrl], payload, timeoutMs) : [],
        config.slackWebhookUrl ? deliverWebhook([config.slackWebhookUrl], { text: payload.text }, timeoutMs) : [],
      ]
      deliveries = (await Promise.all(sends)).flat()
      for (const d of deliveries)
        if (!d.ok) warnings.push(`Can't deliver the alert to ${d.url}: ${d.detail}; it is retried on the next run`)
    }
    const remembered = changes.length === 0 || (deliveries.length > 0 && deliveries.every((d) => d.ok))
    if (remembered) memory.checks = next
    alert = { changes, deliveries, remembered }
  }
  memory.updatedAt = new Date().toISOString()
  try {
    writeMemory(paths.alerts, memory)
  } catch (e) {
    warnings.push(`Can't remember this run in ${paths.alerts}: ${(e as Error).message}`)
  }
  if (opts.prometheusFile) {
    try {
      const families = [...healthMetrics(report, Date.now()), ...blueGreenMetrics(env, report)]
      await writeTextfile(path.dirname(opts.prometheusFile), path.basename(opts.prometheusFile), families)
    } catch (e) {
      warnings.push((e as Error).message)
    }
  }
  return { report, ...(alert ? { alert } : {}), warnings }
}

/**
 * The blue-green gauges the alert rules read: dms_bluegreen_drift (the drift check is not OK)
 * and dms_previous_slot_warm (a previous slot is recorded, its warm time has not run out, and the
 * containers check found nothing wrong with it).
 */
export function blueGreenMetrics(env: Env, report: HealthReport, now = Date.now()): MetricFamily[] {
  const target = env.config.target
  const drift = report.checks.find((c) => c.name === 'drift')
  let warm = 0
  try {
    const prev = readState(env.paths.state, target).previous
    const containers = report.checks.find((c) => c.name === 'containers')
    const slotTrouble = containers && containers.status !== 'OK' && prev && containers.detail.includes(prev.slot)
    warm = prev && Date.parse(prev.warmUntil) > now && !slotTrouble ? 1 : 0
  } catch {
    warm = 0
  }
  return [
    ...(drift
      ? [
          gauge('dms_bluegreen_drift', '1 when the state file disagrees with nginx or the containers.', [
            { labels: { target }, value: drift.status === 'OK' ? 0 : 1 },
          ]),
        ]
      : []),
    gauge('dms_previous_slot_warm', '1 while the previous slot is kept warm for an instant rollback.', [
      { labels: { target }, value: warm },
    ]),
  ]
}
