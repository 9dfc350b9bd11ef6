// Fakes shared by the pipeline unit tests (deploy and staging): a platform over a small World that
// records calls, an in-memory Store, and a quiet Printer.
import type { Store } from '../../lib/bluegreen.ts'
import { OperationError } from '../../lib/errors.ts'
import type { LiveRouting } from '../../lib/nginx.ts'
import type { DeployMetrics } from '../../lib/deploy-metrics.ts'
import type { Platform, SlotStatus } from '../../lib/platform.ts'
import type { ProbeResult } from '../../lib/probe.ts'
import type { AuditEntry, DeployState, Slot } from '../../lib/model.ts'
import { Printer } from '../../lib/ui.ts'

export const quiet = () =>
  new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })

export type World = {
  live: Slot
  running: Partial<Record<Slot, string>>
  calls: string[]
  failVerification?: boolean
  publicProbes: number
  /** every public answer fails (a broken release that became live) */
  failPublic?: boolean
  /** removing a slot fails, its containers stay */
  removeFails?: boolean
  /** called on every public probe (to send a signal at a chosen moment) */
  onPublicProbe?: (n: number) => void
}

export function fakePlatform(w: World): Platform {
  const ok = (name: string, slot: string): ProbeResult => ({
    name,
    ok: true,
    latencyMs: 5,
    detail: 'ok',
    status: 200,
    headers: { 'x-slot': slot },
  })
  const status = (slot: Slot): SlotStatus => {
    const v = w.running[slot]
    return {
      slot,
      running: !!v,
      healthy: !!v,
      version: v ?? null,
      services: v
        ? [{ service: 'api', name: 'api', state: 'running', health: 'healthy', exitCode: 0, image: `dms/app:${v}` }]
        : [],
      problems: [],
    }
  }
  return {
    dryRun: false,
    readRouting: (): LiveRouting => ({ live: w.live, markers: [w.live], gradual: null }),
    setLive: (slot) => {
      w.calls.push(`setLive ${slot}`)
      w.live = slot
    },
    setGradual: (to, pct) => void w.calls.push(`gradual ${to} ${pct}`),
    clearGradual: () => undefined,
    slotStatus: async (slot) => status(slot),
    imageAvailable: async () => true,
    buildImage: async (v) => void w.calls.push(`build ${v}`),
    startSlot: async (slot, v) => {
      w.calls.push(`start ${slot} ${v}`)
      w.running[slot] = v
    },
    slotLogs: async () => '',
    removeSlot: async (slot) => {
      w.calls.push(`remove ${slot}`)
      if (w.removeFails) throw new OperationError(`Can't remove slot ${slot}: docker compose down exited 1`)
      delete w.running[slot]
    },
    probeSlot: async (slot) => [ok('api', slot)],
    probePublic: async () => {
      // with failVerification: the confirmation after the switch passes, the verification window fails
      const publicAfterSwitch = w.live === 'green' ? ++w.publicProbes : 0
      w.onPublicProbe?.(publicAfterSwitch)
      if (w.failPublic) return [{ ...ok('api', w.live), ok: false, detail: 'status 500' }]
      return w.failVerification && publicAfterSwitch > 1
        ? [{ ...ok('api', w.live), ok: false, detail: 'status 500' }]
        : [ok('api', w.live)]
    },
  }
}

export function memoryStore(s: DeployState, audit: AuditEntry[], metrics: DeployMetrics): Store {
  return {
    read: () => structuredClone(s),
    update: (fn) => {
      fn(s)
      return structuredClone(s)
    },
    audit: (e) => void audit.push(e),
    recordLive: async (slot, rollback) => {
      metrics.live = slot
      if (rollback) metrics.rollbacks++
    },
  }
}
