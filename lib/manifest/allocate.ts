// Static addresses on the stack's /24 for every container of a manifest: accessories at .3-.9, slot containers
// (services x replicas, in the manifest's order) at .<slot><n> while a slot holds at most 9 (so the DMS
// example keeps .11-.14 and .21-.24), else blue .64-.95 and green .96-.127. .50-.59 stay the monitoring's,
// .128/25 the network's dynamic range (one-off containers). Pure.
import type { Manifest, Service } from './types.ts'

export const SLOTS = ['blue', 'green'] as const
export type AppSlot = (typeof SLOTS)[number]

/** at most this many containers per slot (services x replicas) */
export const MAX_PER_SLOT = 32
/** at most this many accessories */
export const MAX_ACCESSORIES = 7

/** One container of a slot: service, replica (1-based), compose service name and host-part of its address. */
export type Instance = { service: Service; replica: number; name: string; octet: number }

/** compose service name of a replica: the service's name alone for one replica, "<name>-<n>" for several */
export const instanceName = (s: Service, replica: number): string =>
  s.replicas === 1 ? s.name : `${s.name}-${replica}`

export function slotInstances(m: Manifest, slot: AppSlot): Instance[] {
  const all = m.services.flatMap((service) =>
    Array.from({ length: service.replicas }, (_, i) => ({ service, replica: i + 1 })),
  )
  if (all.length > MAX_PER_SLOT)
    throw new RangeError(`${all.length} containers per slot; at most ${MAX_PER_SLOT} have addresses`)
  const slotNum = slot === 'blue' ? 1 : 2
  const base = all.length <= 9 ? slotNum * 10 + 1 : slot === 'blue' ? 64 : 96
  return all.map((x, i) => ({ ...x, name: instanceName(x.service, x.replica), octet: base + i }))
}

/** The host part of each accessory's address, by name. */
export function accessoryOctets(m: Manifest): Record<string, number> {
  if (m.accessories.length > MAX_ACCESSORIES)
    throw new RangeError(`${m.accessories.length} accessories; at most ${MAX_ACCESSORIES} have addresses`)
  return Object.fromEntries(m.accessories.map((a, i) => [a.name, 3 + i]))
}

/** Variables the toolkit gives every container, usable in manifest env values as ${NAME}. */
export function toolkitVariables(m: Manifest, netPrefix: string): Record<string, string> {
  const octets = accessoryOctets(m)
  const out: Record<string, string> = { NETWORK_CIDR: `${netPrefix}.0/24` }
  for (const a of m.accessories) {
    out[`${a.name.toUpperCase()}_HOST`] = `${netPrefix}.${octets[a.name]}`
    out[`${a.name.toUpperCase()}_PORT`] = String(a.port)
  }
  return out
}

/**
 * Names usable as ${NAME} in env values: the slot's own (not in an accessory's), the app network's range, and
 * each accessory's host and port.
 */
export function referenceNames(accessories: string[], inAccessory = false): string[] {
  return [
    ...(inAccessory ? [] : ['SLOT', 'VERSION', 'SERVICE', 'REPLICA']),
    'NETWORK_CIDR',
    ...accessories.flatMap((a) => [`${a.toUpperCase()}_HOST`, `${a.toUpperCase()}_PORT`]),
  ]
}
