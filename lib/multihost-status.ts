// Pure: a slot's status across app hosts (#16) as the one SlotStatus the operations read (lib/platform.ts):
// running and healthy only when every host runs every container the manifest puts there, problems named
// "<host> <container>: <state>", the release the containers carry (one tag everywhere, or the tags seen).
import type { ServiceState } from './compose.ts'
import type { AppSlot } from './manifest/allocate.ts'
import type { SlotStatus } from './platform.ts'
import { carriedVersion, summarizeServices } from './platform.ts'

/** What one app host runs of a slot: the containers expected there (by service name) and those found. */
export type HostSlotContainers = { host: string; expected: string[]; services: ServiceState[] }

/** One SlotStatus for a slot across hosts; every service carries "<host> " before its name. */
export function slotStatusAcrossHosts(slot: AppSlot, hosts: HostSlotContainers[]): SlotStatus {
  const services: ServiceState[] = []
  const expected: string[] = []
  const problems: string[] = []
  let running = true
  for (const h of hosts) {
    const mine = h.services.filter((s) => h.expected.includes(s.service))
    const sum = summarizeServices(mine, h.expected)
    running &&= sum.running
    problems.push(...sum.problems.map((p) => `${h.host} ${p}`))
    services.push(...mine.map((s) => ({ ...s, service: `${h.host} ${s.service}` })))
    expected.push(...h.expected.map((e) => `${h.host} ${e}`))
  }
  return {
    slot,
    running,
    healthy: problems.length === 0,
    version: carriedVersion(services),
    services,
    problems,
    expected,
  }
}
