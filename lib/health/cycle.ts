// One health-check run with its side effects: probe everything, remember restart counts,
// notify on state changes (--alert), write Prometheus textfile metrics (--prometheus).
import os from 'node:os'
import path from 'node:path'
import type { Env } from '../context.ts'
import { writeTextfile } from '../metrics.ts'
import { alertPayload, deliverAlert, planAlerts, readMemory, writeMemory } from './alerts.ts'
import type { Change, Delivery } from './alerts.ts'
import type { HealthReport } from './model.ts'
import { healthMetrics } from './render.ts'
import { runHealthCheck } from './run.ts'
import { readThresholds } from './thresholds.ts'

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

export async function healthCycle(env: Env, opts: CycleOptions): Promise<CycleResult> {
  const { config, paths } = env
  const { thresholds, problems } = readThresholds(config.raw)
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
      warnings.push(`--alert: ${changes.length} state change(s) but no WEBHOOK_URL or SLACK_WEBHOOK_URL is configured in ${config.localFile}`)
    } else if (changes.length) {
      // every body is masked before it leaves; Slack gets only its text
      const payload = JSON.parse(env.ui.mask(JSON.stringify(alertPayload(config.target, report.status, changes, os.hostname()))))
      const timeoutMs = Math.min(Number(config.raw.NOTIFY_TIMEOUT_MS ?? 5000) || 5000, opts.deadlineMs)
      const sends = [
        config.webhookUrl ? deliverAlert([config.webhookUrl], payload, timeoutMs) : [],
        config.slackWebhookUrl ? deliverAlert([config.slackWebhookUrl], { text: payload.text }, timeoutMs) : [],
      ]
      deliveries = (await Promise.all(sends)).flat()
      for (const d of deliveries) if (!d.ok) warnings.push(`Can't deliver the alert to ${d.url}: ${d.detail}; it is retried on the next run`)
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
      await writeTextfile(path.dirname(opts.prometheusFile), path.basename(opts.prometheusFile), healthMetrics(report, Date.now()))
    } catch (e) {
      warnings.push((e as Error).message)
    }
  }
  return { report, ...(alert ? { alert } : {}), warnings }
}
