// The blue-green state machine with a fake platform: every decision, none of the world.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  executeCreate, executeRollback, executeSwitch, parseGradual, planCreate, planRollback, planSwitch, retirePrevious, validateVersion, type Store,
} from '../../lib/bluegreen.ts'
import { InterruptedError, OperationError, RefusedError } from '../../lib/errors.ts'
import type { Platform, SlotStatus } from '../../lib/platform.ts'
import type { ProbeResult } from '../../lib/probe.ts'
import { emptyState, type AuditEntry, type DeployState, type Slot } from '../../lib/state.ts'
import { Printer } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'

type FakeSlot = { version: string | null; healthy: boolean; startFails?: boolean }

function fake(init: { live?: Slot; blue?: FakeSlot; green?: FakeSlot; images?: string[] } = {}) {
  const calls: string[] = []
  const world = {
    live: init.live ?? ('blue' as Slot),
    gradual: null as { to: Slot; percent: number } | null,
    slots: { blue: init.blue ?? { version: null, healthy: false }, green: init.green ?? { version: null, healthy: false } } as Record<Slot, FakeSlot>,
    images: new Set(init.images ?? ['v1', 'v2', 'v3']),
    /** a slot whose public answers fail (after it became live) */
    failingPublic: new Set<Slot>(),
  }
  const status = (slot: Slot): SlotStatus => {
    const s = world.slots[slot]
    const services = s.version ? ['frontend', 'api', 'docs', 'main'].map((service) => ({ service, name: `${slot}-${service}`, state: 'running', health: s.healthy ? 'healthy' : 'unhealthy', exitCode: 0, image: `dms/app:${s.version}` })) : []
    const problems = s.version ? (s.healthy ? [] : ['api: unhealthy', 'docs: unhealthy']) : []
    return { slot, services, running: !!s.version, healthy: !!s.version && s.healthy, version: s.version, problems }
  }
  const probe = (name: string, ok: boolean, slot: Slot): ProbeResult => ({ name, ok, latencyMs: 5, detail: ok ? 'ok' : 'status 500', status: ok ? 200 : 500, headers: { 'x-slot': slot } })
  const p: Platform = {
    dryRun: false,
    readRouting: () => ({ live: world.live, markers: [world.live], gradual: world.gradual }),
    setLive: (slot) => { calls.push(`setLive ${slot}`); world.live = slot; world.gradual = null },
    setGradual: (to, pct) => { calls.push(`setGradual ${to} ${pct}`); world.gradual = { to, percent: pct } },
    clearGradual: () => { calls.push('clearGradual'); world.gradual = null },
    slotStatus: async (slot) => status(slot),
    imageAvailable: async (v) => world.images.has(v),
    buildImage: async (v) => { calls.push(`build ${v}`); world.images.add(v) },
    startSlot: async (slot, version) => {
      calls.push(`start ${slot} ${version}`)
      if (world.slots[slot].startFails) throw new OperationError(`Can't start ${version} in ${slot}: not healthy within 1 s (api: unhealthy)`)
      world.slots[slot] = { version, healthy: true }
    },
    slotLogs: async () => 'api-1 | boom',
    removeSlot: async (slot) => { calls.push(`remove ${slot}`); world.slots[slot] = { version: null, healthy: false } },
    probeSlot: async (slot) => ['frontend', 'api', 'docs', 'main'].map((r) => probe(r, world.slots[slot].healthy, slot)),
    probePublic: async () => ['frontend', 'api', 'docs', 'main'].map((r) => probe(r, !world.failingPublic.has(world.live) && world.slots[world.live].healthy, world.live)),
  }
  return { p, world, calls }
}

function memStore(init?: (s: DeployState) => void) {
  const state = emptyState('production')
  init?.(state)
  const audit: AuditEntry[] = []
  const store: Store = {
    read: () => structuredClone(state),
    update: (fn) => { fn(state); return structuredClone(state) },
    audit: (e) => void audit.push(e),
  }
  return { store, state, audit }
}

const ui = new Printer({ out: memoryStream(), err: memoryStream() })
const th = { minSuccessRate: 0.99, maxP95Ms: 500 }
const switchOpts = { stepMs: 30, verifyMs: 30, thresholds: th, keepPreviousMs: 60_000, intervalMs: 5 }

async function refused(fn: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await fn()
    assert.unreachable('expected a refusal')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, pattern)
  }
}

test('validateVersion and parseGradual refuse bad input', () => {
  assert.is(validateVersion('v1.2_rc-3'), 'v1.2_rc-3')
  for (const bad of ['', 'a b', '../x', 'v1;rm', 'x'.repeat(129), 'é', '$(id)', '-', undefined]) {
    try {
      validateVersion(bad as string)
      if (bad !== '-') assert.unreachable(String(bad))
    } catch (e) {
      assert.instance(e, RefusedError)
    }
  }
  assert.equal(parseGradual('10,25,50,100'), [10, 25, 50, 100])
  for (const bad of ['10,5,100', '10,50', '0,100', '10,,100', 'ten,100', '101']) {
    try {
      parseGradual(bad)
      assert.unreachable(bad)
    } catch (e) {
      assert.instance(e, RefusedError)
    }
  }
})

test('planCreate: the idle slot; refuses the live slot, an occupied idle slot, a missing image, drift', async () => {
  const { p } = fake({ live: 'blue', blue: { version: 'v1', healthy: true } })
  const { store } = memStore((s) => (s.live = 'blue'))
  const plan = await planCreate(p, store, { version: 'v2' })
  assert.is(plan.slot, 'green')
  assert.is(plan.replaces, null)
  await refused(() => planCreate(p, store, { version: 'v2', slot: 'blue' }), /blue is the live slot/)
  await refused(() => planCreate(p, store, { version: 'v9' }), /image is not on this host/)
  assert.is((await planCreate(p, store, { version: 'v9', build: true })).build, true)
  const drifted = memStore((s) => (s.live = 'green')).store
  await refused(() => planCreate(p, drifted, { version: 'v2' }), /drift: the state file says green is live but nginx routes to blue/)
  const busy = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v0', healthy: true } })
  await refused(() => planCreate(busy.p, store, { version: 'v2' }), /green already runs release v0/)
  assert.is((await planCreate(busy.p, store, { version: 'v2', replace: true })).replaces, 'v0')
})

test('executeCreate records the release; a failure removes the candidate and records nothing', async () => {
  const ok = fake({ live: 'blue', blue: { version: 'v1', healthy: true } })
  const m = memStore((s) => (s.live = 'blue'))
  const plan = await planCreate(ok.p, m.store, { version: 'v2' })
  const release = await executeCreate(ok.p, m.store, ui, plan, { timeoutMs: 2000 })
  assert.is(release.slot, 'green')
  assert.is(m.state.slots.green?.version, 'v2')
  assert.is(m.state.pending, null)
  assert.is(m.audit.at(-1)?.outcome, 'succeeded')
  assert.not.ok(ok.calls.some((c) => c.includes('setLive')), 'create never switches')

  const bad = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: null, healthy: false, startFails: true } })
  const m2 = memStore((s) => (s.live = 'blue'))
  try {
    await executeCreate(bad.p, m2.store, ui, await planCreate(bad.p, m2.store, { version: 'v2' }), { timeoutMs: 2000 })
    assert.unreachable('a failing start')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match((e as Error).message, /The candidate was removed; blue is still live/)
  }
  assert.ok(bad.calls.includes('remove green'))
  assert.is(m2.state.slots.green, null)
  assert.is(m2.state.pending, null)
  assert.is(m2.audit.at(-1)?.outcome, 'failed')
  assert.is(bad.world.live, 'blue')
})

test('executeCreate stops at a signal and removes the candidate', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true } })
  const m = memStore((s) => (s.live = 'blue'))
  const ac = new AbortController()
  const origStart = f.p.startSlot
  f.p.startSlot = async (slot, v, t) => { await origStart(slot, v, t); ac.abort() }
  try {
    await executeCreate(f.p, m.store, ui, await planCreate(f.p, m.store, { version: 'v2' }), { timeoutMs: 2000, signal: ac.signal })
    assert.unreachable('interrupted')
  } catch (e) {
    assert.instance(e, InterruptedError)
  }
  assert.ok(f.calls.includes('remove green'))
  assert.is(m.state.slots.green, null)
  assert.is(m.audit.at(-1)?.outcome, 'interrupted')
})

test('planSwitch refuses an unhealthy or empty target, naming the services', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: false } })
  const { store } = memStore((s) => (s.live = 'blue'))
  await refused(() => planSwitch(f.p, store, {}), /Can't switch to green: 2 of 4 services unhealthy \(api: unhealthy, docs: unhealthy\)\. Nothing was changed\./)
  const empty = fake({ live: 'blue', blue: { version: 'v1', healthy: true } })
  await refused(() => planSwitch(empty.p, store, {}), /it runs no release/)
  await refused(() => planSwitch(empty.p, store, { to: 'blue' }), /already live/)
})

test('executeSwitch: live marker, previous kept warm, release recorded', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const m = memStore((s) => {
    s.live = 'blue'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'x' }
    s.slots.green = { version: 'v2', slot: 'green', deployedAt: 't', deployedBy: 'x' }
  })
  const r = await executeSwitch(f.p, m.store, ui, await planSwitch(f.p, m.store, {}), switchOpts)
  assert.is(r.to, 'green')
  assert.is(f.world.live, 'green')
  assert.is(m.state.live, 'green')
  assert.is(m.state.previous?.slot, 'blue')
  assert.is(m.state.previous?.version, 'v1')
  assert.ok(Date.parse(m.state.previous!.warmUntil) > Date.now())
  assert.is(m.state.releases.at(-1)?.version, 'v2')
  assert.ok(r.verification?.ok)
})

test('executeSwitch switches back on its own when verification fails', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const m = memStore((s) => (s.live = 'blue'))
  // answers from green confirm the switch, then start failing inside the window
  const probePublic = f.p.probePublic
  let calls = 0
  f.p.probePublic = async () => {
    if (++calls === 2) f.world.failingPublic.add('green')
    return probePublic()
  }
  try {
    await executeSwitch(f.p, m.store, ui, await planSwitch(f.p, m.store, {}), switchOpts)
    assert.unreachable('verification must fail')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.match((e as Error).message, /verification failed: success rate .* Traffic is back on blue/)
  }
  assert.is(f.world.live, 'blue')
  assert.is(m.state.live, 'blue')
  assert.is(m.state.history.at(-1)?.outcome, 'rolled_back')
  assert.is(m.audit.at(-1)?.outcome, 'rolled_back')
})

test('gradual: steps in order, then all; a failed step goes back to the previous slot', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const m = memStore((s) => (s.live = 'blue'))
  await executeSwitch(f.p, m.store, ui, await planSwitch(f.p, m.store, { gradual: [10, 50, 100] }), switchOpts)
  assert.equal(f.calls.filter((c) => c.startsWith('set')), ['setGradual green 10', 'setGradual green 50', 'setLive green'])

  const g = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const m2 = memStore((s) => (s.live = 'blue'))
  const plan = await planSwitch(g.p, m2.store, { gradual: [10, 50, 100] })
  g.world.slots.green.healthy = false // the candidate fails during the first analysis
  try {
    await executeSwitch(g.p, m2.store, ui, plan, switchOpts)
    assert.unreachable('the analysis must fail')
  } catch (e) {
    assert.match((e as Error).message, /analysis at 10% failed/)
  }
  assert.equal(g.calls.filter((c) => c.startsWith('set')), ['setGradual green 10', 'setLive blue'])
  assert.is(g.world.gradual, null)
})

test('rollback: a warm previous slot is a switch; a cold one is recreated; nothing recorded is refused', async () => {
  const f = fake({ live: 'green', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const m = memStore((s) => {
    s.live = 'green'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'x' }
    s.slots.green = { version: 'v2', slot: 'green', deployedAt: 't', deployedBy: 'x' }
    s.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(Date.now() + 60_000).toISOString() }
    s.releases = [{ ...s.slots.blue }, { ...s.slots.green }]
  })
  const warm = await planRollback(f.p, m.store, {})
  assert.is(warm.warm, true)
  assert.is(warm.to, 'blue')
  await executeRollback(f.p, m.store, ui, warm, { ...switchOpts, verifyMs: 0, timeoutMs: 1000 })
  assert.is(f.world.live, 'blue')
  assert.not.ok(f.calls.some((c) => c.startsWith('start')), 'a warm rollback starts nothing')

  const cold = fake({ live: 'green', green: { version: 'v2', healthy: true } })
  m.state.live = 'green'
  const plan = await planRollback(cold.p, m.store, { toVersion: 'v1' })
  assert.is(plan.warm, false)
  await executeRollback(cold.p, m.store, ui, plan, { ...switchOpts, verifyMs: 0, timeoutMs: 1000 })
  assert.ok(cold.calls.includes('start blue v1'))
  assert.is(cold.world.live, 'blue')

  const none = memStore((s) => (s.live = 'blue'))
  await refused(() => planRollback(fake({ live: 'blue', blue: { version: 'v1', healthy: true } }).p, none.store, {}), /no previous release is recorded/)
  await refused(() => planRollback(cold.p, m.store, { toVersion: 'v7' }), /not a recorded release/)
})

test('retirePrevious waits for the warm time, then drains and stops the old slot', async () => {
  const f = fake({ live: 'green', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
  const warmUntil = Date.now() + 60_000
  const m = memStore((s) => {
    s.live = 'green'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'x' }
    s.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(warmUntil).toISOString() }
  })
  assert.is((await retirePrevious(f.p, m.store, ui, { now: warmUntil - 1000 })).retired, null)
  assert.not.ok(f.calls.includes('remove blue'))
  const r = await retirePrevious(f.p, m.store, ui, { now: warmUntil + 1 })
  assert.is(r.retired, 'blue')
  assert.ok(f.calls.includes('remove blue'))
  assert.is(m.state.previous, null)
  assert.is(m.state.slots.blue, null)
})

test.run()
