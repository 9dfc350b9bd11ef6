// Output formats of a health report: a compact table for people, one JSON document,
// cron lines (nothing when all is well), and Prometheus textfile metrics. Pure.
import { gauge, renderMetrics } from '../metrics.ts'
import type { MetricFamily } from '../metrics.ts'
import { STATUS_CODE, problems } from './model.ts'
import type { CheckStatus, HealthReport } from './model.ts'

export type Paint = (status: CheckStatus, text: string) => string
const plain: Paint = (_s, text) => text

const oneLine = (s: string) => s.replace(/\s*\r?\n\s*/g, ' ').trim()

function cut(s: string, width: number): string {
  return width > 1 && s.length > width ? `${s.slice(0, width - 1)}…` : s
}

function formatLatency(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`
}

/**
 * A compact table: status, check, latency, detail (cut to the terminal width), then a
 * summary line. paint colours the status cell.
 */
export function renderTable(report: HealthReport, opts: { paint?: Paint; width?: number } = {}): string {
  const paint = opts.paint ?? plain
  const rows = report.checks.map((c) => [c.status, c.name, formatLatency(c.latencyMs), oneLine(c.detail)] as const)
  const head = ['STATUS', 'CHECK', 'LATENCY', 'DETAIL'] as const
  const w = [0, 1, 2].map((i) => Math.max(head[i]!.length, ...rows.map((r) => r[i]!.length)))
  const detailWidth = opts.width ? Math.max(20, opts.width - w[0]! - w[1]! - w[2]! - 6) : 0
  const line = (r: readonly string[], status?: CheckStatus) => {
    const s = r[0]!.padEnd(w[0]!)
    return [status ? paint(status, s) : s, r[1]!.padEnd(w[1]!), r[2]!.padStart(w[2]!), cut(r[3]!, detailWidth)]
      .join('  ')
      .trimEnd()
  }
  const c = report.counts
  const summary =
    `${report.target}: ${paint(report.status, report.status)} ` +
    `(${c.OK} ok, ${c.WARNING} warning, ${c.CRITICAL} critical, ${c.UNKNOWN} unknown) in ${formatLatency(report.durationMs)}`
  return `${[line(head), ...rows.map((r) => line(r, r[0])), '', summary].join('\n')}\n`
}

/** --json: the whole report as one document. */
export function renderJson(report: HealthReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}

/** --cron: nothing when all is OK, else one line per problem, worst first. */
export function renderCron(report: HealthReport): string {
  const bad = problems(report.checks)
  if (bad.length === 0) return ''
  return `${bad.map((c) => `${c.status} ${report.target} ${c.name}: ${oneLine(c.detail)}`).join('\n')}\n`
}

/** node_exporter textfile metrics of one run. */
export function healthMetrics(report: HealthReport, finishedAtMs: number): MetricFamily[] {
  return [
    gauge(
      'dms_health_check_status',
      'Health-check status per check: 0 ok, 1 warning, 2 critical, 3 unknown.',
      report.checks.map((c) => ({ labels: { check: c.name }, value: STATUS_CODE[c.status] })),
    ),
    gauge(
      'dms_health_check_latency_seconds',
      'Time each health check took, in seconds.',
      report.checks.map((c) => ({ labels: { check: c.name }, value: Math.round(c.latencyMs) / 1000 })),
    ),
    gauge('dms_health_check_last_run_timestamp_seconds', 'When the health-check last ran (Unix time).', [
      { value: Math.floor(finishedAtMs / 1000) },
    ]),
  ]
}

export function renderPrometheus(report: HealthReport, finishedAtMs: number): string {
  return renderMetrics(healthMetrics(report, finishedAtMs))
}
