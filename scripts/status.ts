#!/usr/bin/env -S npx zx
// Where things stand: the live slot, the release in each slot, how long the previous slot
// stays warm, the lock holder, and the last ten audit entries.
import { readAudit } from '../lib/audit.ts'
import { runScript, type ScriptSpec } from '../lib/cli.ts'
import { loadEnv } from '../lib/script-env.ts'
import { slotProject } from '../lib/compose.ts'
import { readLive } from '../lib/nginx.ts'
import { readState } from '../lib/state.ts'
import { readContainers, readLockFact } from '../lib/health/facts.ts'
import { buildStatus, renderStatus } from '../lib/health/status.ts'
import type { ContainerFact } from '../lib/health/evaluate.ts'
import { certView, renderCertLine } from '../lib/certs-op.ts'

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
  const routing = readLive(paths.live)
  const markerLive = routing.markers.includes('green') ? 'green' : routing.markers.includes('blue') ? 'blue' : null
  let containers: ContainerFact[] = []
  try {
    containers = await readContainers([
      config.composeProject,
      slotProject(config, 'blue'),
      slotProject(config, 'green'),
    ])
  } catch (e) {
    ui.warn(`Can't list containers: ${(e as Error).message}`)
  }
  const now = new Date()
  const view = buildStatus({
    target: config.target,
    state: readState(paths.state, config.target),
    markerLive,
    gradual: routing.gradual,
    containers,
    lock: readLockFact(paths.lock),
    audit: readAudit(paths.audit, Math.max(0, Number(ctx.flags.audit ?? 10))),
    now,
  })
  const cert = certView(config, paths)
  if (ctx.common.json) ui.result({ ...view, certificate: cert })
  else process.stdout.write(ui.mask(renderStatus(view, now) + renderCertLine(cert)))
})
