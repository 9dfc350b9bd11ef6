#!/usr/bin/env -S npx zx
import { runScript, type ScriptSpec } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { gatherStatus } from '../lib/health/gather-status.ts'
import { renderStatus } from '../lib/health/status-view.ts'
import { renderCertLine } from '../lib/certs-op.ts'
import { maintenanceLine } from '../lib/day2/maintenance.ts'
import { hostsStatus, renderHostsStatus } from '../lib/multihost-checks.ts'

const spec: ScriptSpec = {
  name: 'status',
  summary:
    'Show the live slot, the release in each slot, the warm previous slot, the lock holder and recent audit entries.',
  flags: {
    audit: { type: 'number', value: '<n>', default: 10, description: 'how many audit entries to show' },
  },
  examples: ['npx zx scripts/status.ts', 'npx zx scripts/status.ts --target staging --json'],
}

await runScript(spec, async (ctx) => {
  const { config, paths, ui } = loadEnv(ctx, { generateSecrets: false })
  const now = new Date()
  const auditEntries = Number(ctx.flags.audit ?? 10)
  const { view, certificate, maintenance } = await gatherStatus(config, paths, {
    auditEntries,
    now,
    warn: (m) => ui.warn(m),
  })
  // one row per app host when the manifest names hosts (#16)
  const hosts = await hostsStatus(config, paths)
  if (ctx.common.json) ui.result({ ...view, certificate, maintenance, ...(hosts ? { hosts } : {}) })
  else
    process.stdout.write(
      ui.mask(
        renderStatus(view, now) + renderCertLine(certificate) + maintenanceLine(maintenance) + renderHostsStatus(hosts),
      ),
    )
})
