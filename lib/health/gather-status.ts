// The facts behind scripts/status.ts, gathered once: nginx's marker (the live slot, derived here
// and nowhere else), the state file, the containers of the core and both slots, the lock, the
// audit tail and the certificate; buildStatus (status.ts) turns them into the view.
import { certView, type CertView } from '../certs-op.ts'
import { readMaintenance, type MaintenanceState } from '../day2/maintenance.ts'
import { slotProject } from '../compose.ts'
import type { Config } from '../config.ts'
import { appOf, appServiceNames } from '../manifest/app-model.ts'
import type { Paths } from '../paths.ts'
import { readLive, type LiveRouting } from '../nginx.ts'
import { readState } from '../state.ts'
import { readAudit } from '../audit.ts'
import type { Slot } from '../model.ts'
import type { ContainerFact } from './evaluate.ts'
import { readContainers, readLockFact } from './facts.ts'
import { buildStatus, type StatusView } from './status-view.ts'

/** The slot nginx's marker names (green wins, as in nginx), or null when no marker exists. */
export function markerSlot(routing: Pick<LiveRouting, 'markers'>): Slot | null {
  if (routing.markers.includes('green')) return 'green'
  if (routing.markers.includes('blue')) return 'blue'
  return null
}

export type GatheredStatus = { view: StatusView; certificate: CertView; maintenance: MaintenanceState }

/** Reads every fact once; a container listing that fails is a warning (the rest is still shown). */
export async function gatherStatus(
  config: Config,
  paths: Paths,
  o: { auditEntries: number; now: Date; warn: (message: string) => void },
): Promise<GatheredStatus> {
  const routing = readLive(paths.live)
  let containers: ContainerFact[] = []
  try {
    containers = await readContainers([
      config.composeProject,
      slotProject(config, 'blue'),
      slotProject(config, 'green'),
    ])
  } catch (e) {
    o.warn(`Can't list containers: ${(e as Error).message}`)
  }
  const view = buildStatus({
    target: config.target,
    state: readState(paths.state, config.target),
    markerLive: markerSlot(routing),
    gradual: routing.gradual,
    containers,
    services: appServiceNames(appOf(config)),
    lock: readLockFact(paths.lock),
    audit: readAudit(paths.audit, Math.max(0, o.auditEntries)),
    now: o.now,
  })
  return { view, certificate: certView(config, paths), maintenance: readMaintenance(paths.live) }
}
