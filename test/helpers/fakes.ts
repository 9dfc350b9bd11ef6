// The one set of fakes that unit tests run operations against: a fake platform over a small world (slots,
// routing, images, failures to inject) that it changes the way Docker and nginx would, the in-memory store,
// and a quiet Printer.
import { OperationError } from '../../lib/errors.ts'
import { emptyState, type AuditEntry, type DeployState, type Slot } from '../../lib/model.ts'
import type { Platform, SlotStatus } from '../../lib/platform.ts'
import type { ProbeResult } from '../../lib/probe.ts'
import { memoryStore, type MemoryStore } from '../../lib/stores/memory-store.ts'
import { Printer } from '../../lib/ui.ts'

/** the DMS example's services, as the fake platform reports them */
const ROLES = ['frontend', 'api', 'docs', 'main'] as const

export { memoryStore, type MemoryStore }

/** A Printer that prints nothing. */
export const quiet = () =>
  new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })

/** A slot's containers: none (version null), running (healthy or not), or stopped (exited). */
export type FakeSlot = { version: string | null; healthy: boolean; startFails?: boolean; stopped?: boolean }

export type FakeWorld = {
  live: Slot
  gradual: { to: Slot; percent: number } | null
  slots: Record<Slot, FakeSlot>
  images: Set<string>
  /** every call that changes the world, in order: "start green v2", "setLive green", … */
  calls: string[]
  /** a slot whose public answers fail (after it became live) */
  failingPublic: Set<Slot>
  /** every public answer fails, whichever slot is live */
  failPublic?: boolean
  /** public answers fail from the second probe after traffic left the first live slot (a failed verification) */
  failVerification?: boolean
  /** public probes made since traffic left the first live slot */
  publicProbes: number
  /** called on each public probe with publicProbes (to send a signal at a chosen moment) */
  onPublicProbe?: (n: number) => void
  /** marker files beside the live one (e.g. a stray bucket marker) */
  extraMarkers: string[]
  /** removing this slot fails (docker refuses), leaving its containers */
  removeFails: Set<Slot>
}

export type FakeInit = {
  live?: Slot
  blue?: FakeSlot
  green?: FakeSlot
  images?: string[]
  dryRun?: boolean
  /** share a calls array with the test's other fakes (hooks, core) to see one order */
  calls?: string[]
}

const empty = (): FakeSlot => ({ version: null, healthy: false })

function slotStatus(slot: Slot, s: FakeSlot): SlotStatus {
  const v = s.version
  const up = !!v && !s.stopped
  const services = v
    ? ROLES.map((service) => ({
        service,
        name: `${slot}-${service}`,
        state: s.stopped ? 'exited' : 'running',
        health: s.stopped ? '' : s.healthy ? 'healthy' : 'unhealthy',
        exitCode: 0,
        image: `dms/app:${v}`,
        labels: { 'dms.version': v },
      }))
    : []
  const problems = !s.version
    ? []
    : s.stopped
      ? ROLES.map((r) => `${r}: exited`)
      : s.healthy
        ? []
        : ['api: unhealthy', 'docs: unhealthy']
  return { slot, services, running: up, healthy: up && s.healthy, version: up ? s.version : null, problems }
}

const probe = (name: string, ok: boolean, slot: Slot): ProbeResult => ({
  name,
  ok,
  latencyMs: 5,
  detail: ok ? 'ok' : 'status 500',
  status: ok ? 200 : 500,
  headers: { 'x-deploy-slot': slot },
})

/** A Platform over a FakeWorld; `calls` is world.calls. */
export function fakePlatform(init: FakeInit = {}): { p: Platform; world: FakeWorld; calls: string[] } {
  const firstLive = init.live ?? 'blue'
  const world: FakeWorld = {
    live: firstLive,
    gradual: null,
    slots: { blue: init.blue ?? empty(), green: init.green ?? empty() },
    images: new Set(init.images ?? ['v1', 'v2', 'v3']),
    calls: init.calls ?? [],
    failingPublic: new Set(),
    publicProbes: 0,
    extraMarkers: [],
    removeFails: new Set(),
  }
  const calls = world.calls
  const serving = (slot: Slot) => {
    const s = world.slots[slot]
    return !!s.version && !s.stopped && s.healthy
  }
  const p: Platform = {
    dryRun: !!init.dryRun,
    services: ['frontend', 'api', 'docs', 'main'],
    readRouting: () => ({
      live: world.live,
      markers: [
        world.live,
        ...world.extraMarkers,
        ...(world.gradual
          ? Array.from({ length: world.gradual.percent }, (_, i) => `to-${world.gradual!.to}-b${i + 1}`)
          : []),
      ].sort(),
      gradual: world.gradual,
    }),
    setLive: (slot) => {
      calls.push(`setLive ${slot}`)
      world.live = slot
      world.gradual = null
    },
    setGradual: (to, pct) => {
      calls.push(`setGradual ${to} ${pct}`)
      world.gradual = { to, percent: pct }
    },
    clearGradual: () => {
      calls.push('clearGradual')
      world.gradual = null
    },
    slotStatus: async (slot) => slotStatus(slot, world.slots[slot]),
    imageAvailable: async (v) => world.images.has(v),
    buildImage: async (v) => {
      calls.push(`build ${v}`)
      world.images.add(v)
    },
    startSlot: async (slot, version) => {
      calls.push(`start ${slot} ${version}`)
      if (world.slots[slot].startFails)
        throw new OperationError(`Can't start ${version} in ${slot}: not healthy within 1 s (api: unhealthy)`)
      world.slots[slot] = { version, healthy: true }
    },
    slotLogs: async () => 'api-1 | boom',
    removeSlot: async (slot) => {
      calls.push(`remove ${slot}`)
      if (world.removeFails.has(slot))
        throw new OperationError(
          `Can't remove slot ${slot}: docker compose down exited 1 (Error response from daemon: cannot stop container: permission denied)`,
        )
      world.slots[slot] = empty()
    },
    probeSlot: async (slot) => ROLES.map((r) => probe(r, serving(slot), slot)),
    probePublic: async () => {
      const n = world.live === firstLive ? 0 : ++world.publicProbes
      world.onPublicProbe?.(n)
      const ok =
        serving(world.live) &&
        !world.failPublic &&
        !world.failingPublic.has(world.live) &&
        !(world.failVerification && n > 1)
      return ROLES.map((r) => probe(r, ok, world.live))
    },
  }
  return { p, world, calls }
}

/** An in-memory store over a fresh production state that `init` prepares. */
export function storeWith(init?: (s: DeployState) => void): {
  store: MemoryStore
  state: DeployState
  audit: AuditEntry[]
} {
  const state = emptyState('production')
  init?.(state)
  const store = memoryStore(state)
  return { store, state, audit: store.entries }
}
