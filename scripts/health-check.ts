#!/usr/bin/env -S npx zx
// Probe everything, for people (a table), for cron (silence unless something is wrong)
// and for Prometheus (textfile metrics). Exit codes follow the Nagios plugin convention.
import { runScript, type ScriptSpec } from '../lib/cli.ts'
import { loadEnv, type Env } from '../lib/script-env.ts'
import { ToolkitError } from '../lib/errors.ts'
import { checkPrometheusFile, healthCycle } from '../lib/health/cycle.ts'
import type { CheckStatus } from '../lib/health/model.ts'
import { renderCron, renderTable } from '../lib/health/render.ts'

const spec: ScriptSpec = {
  name: 'health-check',
  summary: 'Probe nginx, every role and slot, PostgreSQL, Redis, containers, the host, TLS, drift and the deploy lock.',
  description:
    'All probes run in parallel under one deadline. Thresholds come from HEALTH_* keys in the env file.\n' +
    'Alerts (--alert) go to WEBHOOK_URL / SLACK_WEBHOOK_URL only when a check changes state.',
  flags: {
    timeout: { type: 'duration', default: '10s', description: 'the whole run ends by this deadline' },
    cron: { type: 'boolean', description: 'print nothing when all is OK, else one line per problem' },
    prometheus: {
      type: 'string',
      value: '<file.prom>',
      description: 'write node_exporter textfile metrics there (atomically)',
    },
    alert: { type: 'boolean', description: 'notify the webhooks when a check changes state (remembered between runs)' },
    watch: {
      type: 'duration',
      value: '<interval>',
      description: 're-run every interval until Ctrl-C (a person watching a deploy)',
    },
  },
  exitCodes: [
    [0, 'OK'],
    [1, 'WARNING'],
    [2, 'CRITICAL'],
    [3, 'UNKNOWN (the check itself could not run)'],
  ],
  unexpectedExitCode: 3,
  usageExitCode: 3,
  examples: [
    'npx zx scripts/health-check.ts',
    'npx zx scripts/health-check.ts --target production --cron --alert --prometheus var/production/metrics/health-check.prom',
    'npx zx scripts/health-check.ts --watch 5s',
  ],
}

await runScript(spec, async (ctx) => {
  const prometheusFile = checkPrometheusFile(ctx.flags.prometheus)
  let env: Env
  try {
    env = loadEnv(ctx, { generateSecrets: false })
  } catch (e) {
    // a check that cannot run is UNKNOWN (3) for monitoring, not CRITICAL
    if (e instanceof ToolkitError) throw new ToolkitError(e.message, { exitCode: 3, hint: e.hint })
    throw e
  }
  const { ui } = env
  const paint = (s: CheckStatus, text: string) =>
    s === 'OK'
      ? ui.c.green(text)
      : s === 'WARNING'
        ? ui.c.yellow(text)
        : s === 'CRITICAL'
          ? ui.c.red(text)
          : ui.c.magenta(text)
  const opts = {
    deadlineMs: Number(ctx.flags.timeout),
    alert: ctx.flags.alert === true,
    ...(prometheusFile ? { prometheusFile } : {}),
  }
  const watchMs = typeof ctx.flags.watch === 'number' ? ctx.flags.watch : 0
  for (;;) {
    const { report, alert, warnings } = await healthCycle(env, opts)
    for (const w of warnings) ui.warn(w)
    if (ctx.common.json) {
      ui.result({ ...report, ...(alert ? { alert } : {}) })
    } else if (ctx.flags.cron === true) {
      process.stdout.write(ui.mask(renderCron(report)))
    } else {
      if (watchMs && ui.tty) process.stdout.write('\x1b[2J\x1b[H')
      if (watchMs)
        process.stdout.write(`${new Date().toLocaleTimeString()}  every ${watchMs / 1000}s, Ctrl-C to stop\n`)
      process.stdout.write(
        ui.mask(renderTable(report, { paint, ...(ui.tty ? { width: process.stdout.columns } : {}) })),
      )
      if (alert?.changes.length)
        ui.info(`alerts: ${alert.changes.length} change(s), ${alert.remembered ? 'sent' : 'not sent'}`)
    }
    if (!watchMs || ctx.common.json || ctx.signal.aborted) return report.exitCode
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, watchMs)
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })
    if (ctx.signal.aborted) return report.exitCode
  }
})
