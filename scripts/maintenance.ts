#!/usr/bin/env -S npx zx
// Maintenance mode of a target: --on puts up the page (503 with Retry-After on the public listener),
// --off takes it down; without either, shows whether it is on. A marker file, no nginx reload.
import { runScript, EXIT } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { OperationError, RefusedError, UsageError } from '../lib/errors.ts'
import { confirm } from '../lib/prompt.ts'
import { appendAudit } from '../lib/audit.ts'
import { applyMaintenance, loadPage, planMaintenance, readMaintenance } from '../lib/day2/maintenance.ts'

await runScript(
  {
    name: 'maintenance',
    summary: 'Put up (--on) or take down (--off) the maintenance page of a target; without either, show it.',
    description:
      'While on, the public listener answers 503 with Retry-After and the page; health endpoints, the preview\n' +
      'and the status listener keep working, so a deploy can run behind it. No nginx reload.',
    flags: {
      on: { type: 'boolean', description: 'turn maintenance on (asks first)' },
      off: { type: 'boolean', description: 'turn maintenance off' },
      page: {
        type: 'string',
        value: '<file>',
        description: 'the HTML page to serve (default: MAINTENANCE_PAGE, else a built-in page)',
      },
    },
    examples: [
      'npx zx scripts/maintenance.ts --on --page ops/maintenance.html --yes',
      'npx zx scripts/maintenance.ts --off',
      'npx zx scripts/maintenance.ts --json',
    ],
    exitCodes: [
      [EXIT.OK, 'ok (shown, or switched)'],
      [EXIT.FAILED, 'the marker could not be written or removed'],
      [EXIT.REFUSED, 'bad input (--on with --off, an unreadable page), or not confirmed; nothing changed'],
    ],
  },
  async (ctx) => {
    if (ctx.flags.on === true && ctx.flags.off === true)
      throw new UsageError("Can't switch maintenance: --on and --off were both given", 'Give one of them.')
    const env = loadEnv(ctx, { generateSecrets: false })
    const { ui, paths, config } = env
    const now = readMaintenance(paths.live)
    if (ctx.flags.on !== true && ctx.flags.off !== true) {
      ui.info(
        now.on
          ? `Maintenance is ON for ${config.target} since ${now.since}.`
          : `Maintenance is off for ${config.target}.`,
      )
      ui.result({ ok: true, target: config.target, maintenance: now })
      return EXIT.OK
    }
    const want = ctx.flags.on === true
    const pageFile = typeof ctx.flags.page === 'string' ? ctx.flags.page : config.maintenancePage || undefined
    const { page, source } = want ? loadPage(pageFile, process.cwd()) : { page: '', source: '' }
    const plan = planMaintenance(config.target, paths.live, want, now, source)
    if (!plan.change) {
      ui.info(`Maintenance is already off for ${config.target}. Nothing was changed.`)
      ui.result({ ok: true, target: config.target, changed: false, maintenance: now })
      return EXIT.OK
    }
    ui.info(ui.c.bold(`Plan (${config.target}):`))
    for (const [i, s] of plan.steps.entries()) ui.info(`  ${i + 1}. ${s}`)
    if (ctx.common.dryRun) {
      ui.info(ui.c.cyan('Dry run: nothing was changed.'))
      ui.result({ ok: true, dryRun: true, target: config.target, steps: plan.steps })
      return EXIT.OK
    }
    const audit = (outcome: string, detail?: string) =>
      appendAudit(
        paths.audit,
        { action: want ? 'maintenance-on' : 'maintenance-off', outcome, target: config.target, detail },
        (s) => ui.mask(s),
      )
    if (want) {
      let yes: boolean
      try {
        yes = await confirm(`put ${config.target} into maintenance`, { yes: ctx.common.yes, ui })
      } catch (e) {
        audit('refused', (e as Error).message)
        throw e
      }
      if (!yes) {
        audit('declined')
        throw new RefusedError(`Can't put ${config.target} into maintenance: not confirmed. Nothing was changed.`)
      }
    }
    try {
      applyMaintenance(plan, page)
    } catch (e) {
      audit('failed', (e as Error).message)
      throw new OperationError(
        `Can't ${want ? 'write' : 'remove'} the maintenance marker ${plan.file}: ${(e as Error).message}`,
        'Check the permissions and free space of the live directory.',
      )
    }
    audit('done', want ? `page: ${source}` : undefined)
    const after = readMaintenance(paths.live)
    if (want) ui.success(`Maintenance is ON for ${config.target}: the public listener answers 503 with the page.`)
    else ui.success(`Maintenance is off for ${config.target}: the public listener serves the live slot.`)
    ui.result({ ok: true, target: config.target, changed: true, maintenance: after })
    return EXIT.OK
  },
)
