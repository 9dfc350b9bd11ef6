#!/usr/bin/env -S npx zx
// Starts, shows or stops Prometheus, Alertmanager and the exporters beside a target's stack.
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { buildArgs, createShell, downArgs, monitoringTarget, ps, upArgs } from '../lib/compose.ts'
import { UsageError } from '../lib/errors.ts'
import { BUILD_TIMEOUT_MS, deadlineAfter } from '../lib/gateway.ts'
import { coreRunning } from '../lib/core-stack.ts'

await runScript(
  {
    name: 'monitoring',
    summary:
      'Start (--up), show (default) or stop (--down) Prometheus, Alertmanager and the exporters beside the stack.',
    flags: {
      up: { type: 'boolean', description: 'build the monitoring images if needed and start them (the stack must run)' },
      down: { type: 'boolean', description: 'stop and remove them (their data volume is kept)' },
    },
    examples: [
      'npx zx scripts/monitoring.ts --up',
      'npx zx scripts/monitoring.ts',
      'npx zx scripts/monitoring.ts --down',
    ],
  },
  async (ctx) => {
    if (ctx.flags.up && ctx.flags.down) throw new UsageError("Can't do both --up and --down", 'Pick one.')
    const { config, ui } = loadEnv(ctx, { generateSecrets: false })
    const sh = createShell(ui, { dryRun: ctx.common.dryRun })
    const t = monitoringTarget(config)
    if (ctx.flags.up) {
      const core = await coreRunning(sh, config)
      if (!core.running && !sh.dryRun)
        throw new UsageError(
          `Can't start monitoring: the ${config.target} stack is not running (${core.problems.join(', ')})`,
          'Deploy first: npx zx scripts/deploy-production.ts --version <tag>',
        )
      await ui.step('Building the monitoring images (skipped when up to date)', () =>
        sh.docker(buildArgs(t), { env: t.env, action: 'build the monitoring images', timeoutMs: BUILD_TIMEOUT_MS }),
      )
      await ui.step(`Starting ${t.project}`, () =>
        sh.docker(upArgs(t, { waitTimeoutS: 120 }), {
          env: t.env,
          action: 'start monitoring',
          timeoutMs: deadlineAfter(120_000),
        }),
      )
    } else if (ctx.flags.down) {
      await ui.step(`Stopping ${t.project}`, () =>
        sh.docker(downArgs(t), { env: t.env, action: 'stop monitoring', timeoutMs: deadlineAfter(30_000) }),
      )
      ui.result({ ok: true, project: t.project, running: false })
      return EXIT.OK
    }
    const services = await ps(sh, t)
    ui.table(
      ['service', 'state', 'health'],
      services.map((s) => [s.service, s.state, s.health || '-']),
    )
    ui.info(
      `Prometheus: http://127.0.0.1:${config.ports.prometheus}  Alertmanager: http://127.0.0.1:${config.ports.alertmanager}`,
    )
    ui.result({ ok: true, project: t.project, services })
    return services.length && services.every((s) => s.state === 'running') ? EXIT.OK : EXIT.FAILED
  },
)
