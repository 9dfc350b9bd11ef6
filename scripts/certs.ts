#!/usr/bin/env -S npx zx
// Certificates of a target: show what is served, issue one (ACME HTTP-01 or the provided
// files), renew it when due (from cron). Changes run under the deploy lock and are audited.
import { fileStore } from '../lib/stores/file-store.ts'
import { runScript, scriptArgs, type ScriptSpec } from '../lib/cli.ts'
import { loadEnv, LOCK_FLAGS } from '../lib/script-env.ts'
import { createShell } from '../lib/compose.ts'
import { CERT_COMMANDS, certView, executeCertificate, planCertificate, type CertCommand } from '../lib/certs-op.ts'
import { UsageError } from '../lib/errors.ts'
import { runOperation } from '../lib/operation.ts'

const spec: ScriptSpec = {
  name: 'certs',
  summary: 'Show, issue or renew the TLS certificate of a target: npx zx scripts/certs.ts [show|issue|renew] [flags]',
  description: [
    'show   the served certificate: names, issuer, days left, next renewal (the default)',
    'issue  get a certificate now: TLS_MODE=acme asks the ACME server (HTTP-01 on the HTTP listener),',
    '       TLS_MODE=provided installs TLS_CERT_FILE and TLS_KEY_FILE',
    'renew  the same, only when due (ACME_RENEW_DAYS left, or the provided files changed); for cron',
    'Every change: checked (key, chain, names, dates), nginx -t, a drained reload, the previous pair restored on failure.',
  ].join('\n'),
  flags: { ...LOCK_FLAGS, force: { type: 'boolean', description: 'renew even when not due' } },
  examples: [
    'npx zx scripts/certs.ts show --json',
    'npx zx scripts/certs.ts issue --yes',
    'npx zx scripts/certs.ts renew --yes --quiet   # from cron',
    'npx zx scripts/certs.ts renew --force --dry-run',
  ],
}

const all = scriptArgs()
const command = all[0] && !all[0].startsWith('-') ? all[0] : 'show'
const rest = all[0] === command ? all.slice(1) : all

await runScript(
  spec,
  async (ctx) => {
    if (!(CERT_COMMANDS as readonly string[]).includes(command))
      throw new UsageError(
        `Can't run certs: unknown command ${JSON.stringify(command)}`,
        'Use show, issue or renew; see: npx zx scripts/certs.ts --help',
      )
    const env = loadEnv(ctx, { generateSecrets: false })
    const { config, ui } = env
    if ((command as CertCommand) === 'show') {
      const view = certView(config, env.paths)
      if (ctx.common.json) ui.result(view)
      else {
        const s = view.served
        ui.info(`${config.target}: TLS_MODE=${view.mode}, domains ${view.domains.join(', ') || '(any host name)'}`)
        ui.info(
          s
            ? `served: ${s.names.join(', ') || s.subject}; issuer ${s.issuer}; ${s.daysLeft} days left (until ${s.notAfter})${view.nextRenewal ? `; renewal due ${view.nextRenewal}` : ''}`
            : 'served: no certificate yet',
        )
        if (view.previous) ui.info(`previous: ${view.previous.issuer}, until ${view.previous.notAfter}`)
      }
      return 0
    }
    const sh = createShell(ui, { dryRun: ctx.common.dryRun })
    const force = ctx.flags.force === true
    return runOperation(ctx, env, {
      action: `certificate-${command}`,
      describe: `${command} the ${config.target} certificate`,
      plan: async () => planCertificate(config, env, command as 'issue' | 'renew', force),
      execute: (plan) => executeCertificate(sh, config, env, fileStore(env), plan, ctx.signal),
      report: (plan, r) => {
        if (!r) ui.success(plan.due ? 'Dry run done.' : `Certificate not due: ${plan.steps[0]}.`)
        else
          ui.success(
            `Installed: ${r.info.names.join(', ')}; issuer ${r.info.issuer}; ${r.info.daysLeft} days left (until ${r.info.notAfter}).`,
          )
      },
      json: (plan, r) => ({
        action: `certificate-${command}`,
        due: plan.due,
        reason: plan.reason,
        certificate: r?.info ?? null,
        previous: r?.previous ?? null,
        reloaded: r?.reloaded ?? false,
      }),
    })
  },
  rest,
)
