// The blue-green state machine with a fake platform: every decision, none of the world.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { executeRollback, planRollback } from '../../lib/rollback.ts'
import {
  executeCreate,
  executeSwitch,
  parseGradual,
  planCreate,
  planSwitch,
  retirePrevious,
} from '../../lib/bluegreen.ts'
import { type DeployState, type Slot, validateVersion } from '../../lib/model.ts'
import { InterruptedError, OperationError, RefusedError, ToolkitError } from '../../lib/errors.ts'
import { Printer } from '../../lib/ui.ts'
import { memoryStream } from '../helpers/streams.ts'
import { fakePlatform as fake, storeWith as memStore } from '../helpers/fakes.ts'

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
  await refused(
    () => planCreate(p, drifted, { version: 'v2' }),
    /drift: the state file says green is live but nginx routes to blue/,
  )
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
  assert.not.ok(
    ok.calls.some((c) => c.includes('setLive')),
    'create never switches',
  )

  const bad = fake({
    live: 'blue',
    blue: { version: 'v1', healthy: true },
    green: { version: null, healthy: false, startFails: true },
  })
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
  f.p.startSlot = async (slot, v, t) => {
    await origStart(slot, v, t)
    ac.abort()
  }
  try {
    await executeCreate(f.p, m.store, ui, await planCreate(f.p, m.store, { version: 'v2' }), {
      timeoutMs: 2000,
      signal: ac.signal,
    })
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
  await refused(
    () => planSwitch(f.p, store, {}),
    /Can't switch to green: 2 of 4 services unhealthy \(api: unhealthy, docs: unhealthy\)\. Nothing was changed\./,
  )
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
  assert.equal(
    f.calls.filter((c) => c.startsWith('set')),
    ['setGradual green 10', 'setGradual green 50', 'setLive green'],
  )

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
  assert.equal(
    g.calls.filter((c) => c.startsWith('set')),
    ['setGradual green 10', 'setLive blue'],
  )
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
  assert.not.ok(
    f.calls.some((c) => c.startsWith('start')),
    'a warm rollback starts nothing',
  )

  const cold = fake({ live: 'green', green: { version: 'v2', healthy: true } })
  m.state.live = 'green'
  const plan = await planRollback(cold.p, m.store, { toVersion: 'v1' })
  assert.is(plan.warm, false)
  await executeRollback(cold.p, m.store, ui, plan, { ...switchOpts, verifyMs: 0, timeoutMs: 1000 })
  assert.ok(cold.calls.includes('start blue v1'))
  assert.is(cold.world.live, 'blue')

  const none = memStore((s) => (s.live = 'blue'))
  await refused(
    () => planRollback(fake({ live: 'blue', blue: { version: 'v1', healthy: true } }).p, none.store, {}),
    /no previous release is recorded/,
  )
  await refused(() => planRollback(cold.p, m.store, { toVersion: 'v7' }), /not a recorded release/)
})

test("rollback: a previous slot whose healthchecks still say 'starting' (booted a moment ago) is warm; unhealthy is not", async () => {
  const state = (s: DeployState) => {
    s.live = 'green'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'x' }
    s.slots.green = { version: 'v2', slot: 'green', deployedAt: 't', deployedBy: 'x' }
    s.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(Date.now() + 60_000).toISOString() }
    s.releases = [{ ...s.slots.blue }, { ...s.slots.green }]
  }
  const withHealth = (health: string) => {
    const f = fake({ live: 'green', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
    const real = f.p.slotStatus
    f.p.slotStatus = async (slot) => {
      const st = await real(slot)
      if (slot !== 'blue') return st
      const services = st.services.map((x) => ({ ...x, health }))
      return { ...st, services, healthy: false, problems: services.map((x) => `${x.service}: ${health}`) }
    }
    return f
  }
  assert.is((await planRollback(withHealth('starting').p, memStore(state).store, {})).warm, true)
  assert.is((await planRollback(withHealth('unhealthy').p, memStore(state).store, {})).warm, false)
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

// ---------------------------------------------------------------- issue #11: faults end in a known, safe state

const rel = (version: string, slot: Slot, verified?: boolean) => ({
  version,
  slot,
  deployedAt: 't',
  deployedBy: 'x',
  ...(verified === undefined ? {} : { verified }),
})

/** blue live with v1 (verified), green holds the candidate v2; v0 was the release before v1 */
function candidateWorld() {
  const f = fake({
    live: 'blue',
    blue: { version: 'v1', healthy: true },
    green: { version: 'v2', healthy: true },
    images: ['v0', 'v1', 'v2'],
  })
  const m = memStore((s) => {
    s.live = 'blue'
    s.slots.blue = rel('v1', 'blue', true)
    s.slots.green = rel('v2', 'green')
    s.previous = null
    s.releases = [rel('v0', 'green', true), rel('v1', 'blue', true)]
  })
  return { f, m }
}

/** aborts the controller on the n-th call of fn */
function abortOnCall<A extends unknown[], R>(
  fn: (...a: A) => Promise<R>,
  n: number,
  ac: AbortController,
): (...a: A) => Promise<R> {
  let calls = 0
  return async (...a: A) => {
    if (++calls === n) ac.abort()
    return fn(...a)
  }
}

async function interrupted(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn()
  } catch (e) {
    assert.instance(e, InterruptedError, `expected an interruption, got ${(e as Error).message}`)
    return e as Error
  }
  assert.unreachable('expected an interruption')
  throw new Error('unreachable')
}

test('#11.1 a signal during a gradual analysis sends every bucket back to the old slot, never forward; candidate kept', async () => {
  const { f, m } = candidateWorld()
  const plan = await planSwitch(f.p, m.store, { gradual: [10, 50, 100] })
  const ac = new AbortController()
  // the signal arrives during the analysis at 50% (the 10% analysis is over by then)
  let pct = 0
  const setGradual = f.p.setGradual
  f.p.setGradual = (to, p) => {
    pct = p
    setGradual(to, p)
  }
  const probeSlot = f.p.probeSlot
  f.p.probeSlot = async (...a) => {
    if (pct === 50) ac.abort()
    return probeSlot(...a)
  }
  const e = await interrupted(() =>
    executeSwitch(f.p, m.store, ui, plan, { ...switchOpts, stepMs: 200, signal: ac.signal }),
  )
  assert.match(e.message, /back on blue/)
  assert.equal(
    f.calls.filter((c) => c.startsWith('set')),
    ['setGradual green 10', 'setGradual green 50', 'setLive blue'],
  )
  assert.is(f.world.live, 'blue')
  assert.is(f.world.gradual, null)
  assert.not.ok(f.calls.includes('remove green'), 'the candidate stays for inspection')
  assert.is(m.state.live, 'blue')
  assert.is(m.state.pending, null)
  assert.is(m.state.history.at(-1)?.outcome, 'interrupted')
  assert.is(m.audit.at(-1)?.outcome, 'interrupted')
  assert.is(m.state.slots.green?.verified, false)
})

test('#11.1 a signal at the very start of a gradual step, before any analysis, also goes back', async () => {
  const { f, m } = candidateWorld()
  const plan = await planSwitch(f.p, m.store, { gradual: [10, 50, 100] })
  const ac = new AbortController()
  const setGradual = f.p.setGradual
  f.p.setGradual = (to, p) => {
    setGradual(to, p)
    if (p === 10) ac.abort()
  }
  await interrupted(() => executeSwitch(f.p, m.store, ui, plan, { ...switchOpts, signal: ac.signal }))
  assert.not.ok(f.calls.includes('setLive green'), 'never forward')
  assert.is(f.world.live, 'blue')
  assert.is(f.world.gradual, null)
})

test('#11.1 an immediate switch interrupted in its verification window switches back (healthy or failing)', async () => {
  for (const failing of [false, true]) {
    const { f, m } = candidateWorld()
    const plan = await planSwitch(f.p, m.store, {})
    const ac = new AbortController()
    // 1: the confirmation; 2 and 3: inside the verification window (failing from 2 on, if asked)
    const probePublic = abortOnCall(f.p.probePublic, 3, ac)
    let n = 0
    f.p.probePublic = async () => {
      if (++n === 2 && failing) f.world.failingPublic.add('green')
      return probePublic()
    }
    const run = () => executeSwitch(f.p, m.store, ui, plan, { ...switchOpts, verifyMs: 5000, signal: ac.signal })
    if (failing) {
      // a failing verification goes back with or without the signal
      try {
        await run()
        assert.unreachable('must switch back')
      } catch (e) {
        assert.match((e as Error).message, /back on blue/)
      }
    } else await interrupted(run)
    assert.equal(
      f.calls.filter((c) => c.startsWith('setLive')),
      ['setLive green', 'setLive blue'],
      `failing=${failing}`,
    )
    assert.is(m.state.live, 'blue')
    assert.is(m.state.previous, null, 'previous is what it was before the switch')
    assert.equal(
      m.state.releases.map((r) => r.version),
      ['v0', 'v1'],
      'the unverified release is not in the list',
    )
    assert.is(m.state.slots.green?.verified, false)
    assert.is(m.state.pending, null)
  }
})

test('#11.1 a failing verification switches back even when a signal arrived during it', async () => {
  const { f, m } = candidateWorld()
  const plan = await planSwitch(f.p, m.store, {})
  const ac = new AbortController()
  const probePublic = f.p.probePublic
  let n = 0
  f.p.probePublic = async () => {
    if (++n === 2) {
      f.world.failingPublic.add('green')
      ac.abort()
    }
    return probePublic()
  }
  try {
    await executeSwitch(f.p, m.store, ui, plan, { ...switchOpts, verifyMs: 5000, signal: ac.signal })
    assert.unreachable('must switch back')
  } catch (e) {
    assert.instance(e, ToolkitError)
  }
  assert.is(f.world.live, 'blue')
  assert.is(m.state.live, 'blue')
})

test('#11.2 a release that failed verification: previous and releases restored; rollback skips it; --to needs --allow-unverified', async () => {
  const { f, m } = candidateWorld()
  const plan = await planSwitch(f.p, m.store, {})
  f.p.probePublic = (() => {
    const probePublic = f.p.probePublic
    let n = 0
    return async () => {
      if (++n === 2) f.world.failingPublic.add('green')
      return probePublic()
    }
  })()
  try {
    await executeSwitch(f.p, m.store, ui, plan, switchOpts)
    assert.unreachable('verification must fail')
  } catch (e) {
    assert.instance(e, OperationError)
  }
  f.world.failingPublic.clear()
  assert.is(m.state.previous, null)
  assert.equal(
    m.state.releases.map((r) => [r.version, r.verified]),
    [
      ['v0', true],
      ['v1', true],
    ],
  )
  assert.is(m.state.slots.green?.verified, false)
  // without --to: the newest verified release other than the live one (v0), recreated in green
  const back = await planRollback(f.p, m.store, {})
  assert.is(back.version, 'v0')
  assert.is(back.warm, false)
  // --to the failed release: refused (exit 2) naming that it failed, unless explicitly allowed
  await refused(() => planRollback(f.p, m.store, { toVersion: 'v2' }), /v2 failed its verification/)
  const forced = await planRollback(f.p, m.store, { toVersion: 'v2', allowUnverified: true })
  assert.is(forced.version, 'v2')
  assert.ok(
    forced.steps.some((s) => /v2 FAILED its verification/.test(s)),
    forced.steps.join('\n'),
  )
})

test('#11.2 a switch that completes its verification records the release as verified, previous kept warm', async () => {
  const { f, m } = candidateWorld()
  await executeSwitch(f.p, m.store, ui, await planSwitch(f.p, m.store, {}), switchOpts)
  assert.equal(
    m.state.releases.map((r) => [r.version, r.verified]),
    [
      ['v0', true],
      ['v1', true],
      ['v2', true],
    ],
  )
  assert.is(m.state.slots.green?.verified, true)
  assert.is(m.state.previous?.version, 'v1')
})

test('#11.2 an interrupted shift to a verified release says nothing new about it: it stays a rollback target', async () => {
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true }, green: { version: 'v0', healthy: true } })
  const m = memStore((s) => {
    s.live = 'blue'
    s.slots.blue = rel('v1', 'blue', true)
    s.slots.green = rel('v0', 'green', true)
    s.releases = [rel('v0', 'green', true), rel('v1', 'blue', true)]
    s.history = [
      { time: 't1', action: 'switch', outcome: 'succeeded', version: 'v0', to: 'green' },
      { time: 't2', action: 'switch', outcome: 'succeeded', version: 'v1', to: 'blue' },
      // a switch back to v0 whose run was killed at a gradual step, aborted by the next run
      { time: 't3', action: 'recover', outcome: 'aborted', version: 'v0', to: 'blue' },
    ]
  })
  const plan = await planRollback(f.p, m.store, {})
  assert.is(plan.version, 'v0')
  assert.is(plan.warm, true)
})

test('#11.3 rollback during a stuck gradual shift aborts it: every bucket back, no container recreated', async () => {
  const f = fake({
    live: 'blue',
    blue: { version: 'v1', healthy: true },
    green: { version: 'v2', healthy: true },
    images: ['v0', 'v1', 'v2'],
  })
  f.world.gradual = { to: 'green', percent: 50 }
  const m = memStore((s) => {
    s.live = 'blue'
    s.slots.blue = rel('v1', 'blue', true)
    s.slots.green = rel('v2', 'green')
    s.previous = { slot: 'green', version: 'v0', warmUntil: new Date(Date.now() + 60_000).toISOString() }
    s.releases = [rel('v0', 'green', true), rel('v1', 'blue', true)]
  })
  const plan = await planRollback(f.p, m.store, {})
  assert.is(plan.abortShift, true)
  assert.is(plan.to, 'blue')
  assert.ok(
    plan.steps.some((s) => /every bucket back to blue/.test(s)),
    plan.steps.join('\n'),
  )
  await executeRollback(f.p, m.store, ui, plan, { ...switchOpts, verifyMs: 0, timeoutMs: 1000 })
  assert.is(f.world.gradual, null)
  assert.is(f.world.live, 'blue')
  assert.not.ok(
    f.calls.some((c) => c.startsWith('start') || c.startsWith('remove')),
    f.calls.join(', '),
  )
  assert.is(m.state.history.at(-1)?.action, 'rollback')
  // the hint that names rollback for a stuck shift says what it does
  try {
    f.world.gradual = { to: 'green', percent: 50 }
    await planCreate(f.p, m.store, { version: 'v3' })
    assert.unreachable('refused during a shift')
  } catch (e) {
    assert.match((e as RefusedError).hint ?? '', /rollback-production sends every bucket back to blue/)
  }
})

test('#11.4 retire-previous never stops a slot that can still receive a request, even forced', async () => {
  const setup = () => {
    const f = fake({ live: 'green', blue: { version: 'v1', healthy: true }, green: { version: 'v2', healthy: true } })
    const m = memStore((s) => {
      s.live = 'green'
      s.slots.blue = rel('v1', 'blue', true)
      s.slots.green = rel('v2', 'green', true)
      s.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(Date.now() - 60_000).toISOString() }
    })
    return { f, m }
  }
  const cases: Array<[string, (x: ReturnType<typeof setup>) => void, RegExp]> = [
    ['gradual shift to it', (x) => (x.f.world.gradual = { to: 'blue', percent: 25 }), /gradual shift/],
    [
      'unfinished operation',
      (x) =>
        (x.m.state.pending = {
          operation: 'switch',
          version: 'v2',
          slot: 'green',
          step: 'verifying',
          startedAt: 't',
          pid: 1,
        }),
      /unfinished switch/,
    ],
    [
      'a bucket marker routes to it',
      (x) => x.f.world.extraMarkers.push('to-blue-b7'),
      /marker to-blue-b7 routes requests to blue/,
    ],
  ]
  for (const [what, arrange, why] of cases) {
    const x = setup()
    arrange(x)
    const r = await retirePrevious(x.f.p, x.m.store, ui, { force: true })
    assert.is(r.retired, null, what)
    assert.match(r.reason, why, what)
    assert.not.ok(x.f.calls.includes('remove blue'), what)
    assert.is(x.m.state.previous?.slot, 'blue', what)
  }
})

test('#11.7 a failed cleanup of a candidate is a failure: slot kept occupied, what is left and how to clean it named', async () => {
  const f = fake({
    live: 'blue',
    blue: { version: 'v1', healthy: true },
    green: { version: null, healthy: false, startFails: true },
  })
  f.world.removeFails.add('green')
  // the failed start leaves containers behind
  const startSlot = f.p.startSlot
  f.p.startSlot = async (slot, v, t) => {
    f.world.slots[slot] = { version: v, healthy: false, startFails: true }
    return startSlot(slot, v, t)
  }
  const m = memStore((s) => (s.live = 'blue'))
  try {
    await executeCreate(f.p, m.store, ui, await planCreate(f.p, m.store, { version: 'v2' }), { timeoutMs: 2000 })
    assert.unreachable('must fail')
  } catch (e) {
    assert.instance(e, OperationError)
    assert.is((e as OperationError).exitCode, 1)
    assert.match(
      (e as Error).message,
      /could not remove the candidate from green: .*left: green-frontend, green-api, green-docs, green-main/,
    )
    assert.match((e as OperationError).hint ?? '', /docker rm -f green-frontend green-api green-docs green-main/)
    assert.not.match((e as Error).message, /The candidate was removed/)
  }
  assert.is(m.state.slots.green?.version, 'v2', 'the slot stays occupied')
  assert.equal(m.state.slots.green?.left, ['green-frontend', 'green-api', 'green-docs', 'green-main'])
  assert.is.not(m.audit.at(-1)?.outcome, 'removed')
  assert.is(m.audit.at(-1)?.outcome, 'cleanup_failed')
})

test('#11.12 a dry-run switch or rollback claims nothing it did not observe; it says what it would check', async () => {
  const out = memoryStream()
  const dryUi = new Printer({ out, err: out })
  const world = () => {
    const f = fake({
      live: 'blue',
      blue: { version: 'v1', healthy: true },
      green: { version: 'v2', healthy: true },
      dryRun: true,
    })
    // like the real platform, a dry run writes no marker
    f.p.setLive = (slot) => void f.calls.push(`setLive ${slot}`)
    f.p.setGradual = (to, pct) => void f.calls.push(`setGradual ${to} ${pct}`)
    const m = memStore((s) => {
      s.live = 'blue'
      s.slots.blue = rel('v1', 'blue', true)
      s.slots.green = rel('v2', 'green', true)
      s.previous = { slot: 'green', version: 'v2', warmUntil: new Date(Date.now() + 60_000).toISOString() }
      s.releases = [rel('v2', 'green', true), rel('v1', 'blue', true)]
    })
    return { f, m }
  }
  const r = world()
  await executeRollback(r.f.p, r.m.store, dryUi, await planRollback(r.f.p, r.m.store, {}), {
    ...switchOpts,
    verifyMs: 0,
    timeoutMs: 1000,
  })
  const w = world()
  await executeSwitch(w.f.p, w.m.store, dryUi, await planSwitch(w.f.p, w.m.store, { gradual: [50, 100] }), {
    ...switchOpts,
    verifyMs: 30_000,
  })
  const text = out.text()
  assert.not.match(text, /confirmed by X-Deploy-Slot/)
  assert.not.match(text, /✔ (Switching|Sending|Verifying|Analysing)/)
  assert.match(text, /would confirm through the public listener that responses carry X-Deploy-Slot: green/)
  assert.match(text, /would verify green for 30s/)
  assert.match(text, /would analyse green at 50%/)
})

test('#11.12 a dry-run create says what it would start and probe; no step is claimed done', async () => {
  const out = memoryStream()
  const dryUi = new Printer({ out, err: out })
  const f = fake({
    live: 'blue',
    blue: { version: 'v1', healthy: true },
    green: { version: 'v0', healthy: true },
    dryRun: true,
  })
  f.p.startSlot = async (slot, v) => void f.calls.push(`start ${slot} ${v}`)
  f.p.removeSlot = async (slot) => void f.calls.push(`remove ${slot}`)
  const m = memStore((s) => (s.live = 'blue'))
  await executeCreate(f.p, m.store, dryUi, await planCreate(f.p, m.store, { version: 'v2', replace: true }), {
    timeoutMs: 2000,
  })
  const text = out.text()
  assert.not.match(text, /✔/)
  assert.match(text, /would remove v0 from green/)
  assert.match(text, /would start v2 in green \(every service at once; no wait on Docker's healthcheck\)/)
  assert.match(text, /would probe every service of green at its readiness path through the preview listener/)
})

test('#11.8 planning a change refuses while an unfinished operation is recorded, naming it', async () => {
  const { f, m } = candidateWorld()
  m.state.pending = {
    operation: 'switch',
    version: 'v2',
    slot: 'green',
    step: 'verifying',
    startedAt: '2026-12-02T10:00:00Z',
    pid: 4242,
  }
  await refused(
    () => planSwitch(f.p, m.store, {}),
    /unfinished switch of v2 into green stopped at "verifying" \(pid 4242/,
  )
  await refused(() => planRollback(f.p, m.store, {}), /unfinished switch of v2/)
  await refused(() => planCreate(f.p, m.store, { version: 'v3', replace: true }), /unfinished switch of v2/)
})

test('#15 registry images: create pulls during planning and runs the digest it records; a cold rollback runs the recorded digest', async () => {
  const D1 = `reg:5000/dms/app@sha256:${'1'.repeat(64)}`
  const D2 = `reg:5000/dms/app@sha256:${'2'.repeat(64)}`
  const f = fake({ live: 'blue', blue: { version: 'v1', healthy: true } })
  const asked: string[] = []
  const started: string[] = []
  f.p.resolveImage = async (version, o) => {
    asked.push(`${version} ${o.pinned ?? '-'}`)
    const ref = o.pinned || (version === 'v2' ? D2 : D1)
    return { tag: `reg:5000/dms/app:${version}`, ref, digest: ref.split('@')[1]!, source: 'pulled' }
  }
  const start = f.p.startSlot
  f.p.startSlot = async (slot, v, t, image) => {
    started.push(`${slot} ${v} ${image}`)
    return start(slot, v, t, image)
  }
  const m = memStore((s) => {
    s.live = 'blue'
    s.slots.blue = { version: 'v1', slot: 'blue', deployedAt: 't', deployedBy: 'x', images: { api: D1 } }
    s.releases = [{ ...s.slots.blue }]
  })
  const plan = await planCreate(f.p, m.store, { version: 'v2' })
  assert.is(plan.image?.ref, D2)
  assert.ok(
    plan.steps.some((x) => x.startsWith('image: pulled reg:5000/dms/app:v2 (sha256:222222222222')),
    plan.steps.join('\n'),
  )
  const release = await executeCreate(f.p, m.store, ui, plan, { timeoutMs: 1000 })
  assert.equal(started, [`green v2 ${D2}`])
  assert.equal(release.images, { frontend: D2, api: D2, docs: D2, main: D2 })
  assert.equal(m.state.slots.green?.images?.api, D2)

  // v1 went cold (its slot was emptied); the rollback asks for exactly the digest v1 recorded
  m.state.live = 'green'
  m.state.slots.blue = null
  m.state.slots.green!.verified = true
  f.world.live = 'green'
  f.world.slots.blue = { version: null, healthy: false }
  const back = await planRollback(f.p, m.store, { toVersion: 'v1' })
  assert.is(back.warm, false)
  assert.is(asked.at(-1), `v1 ${D1}`)
  await executeRollback(f.p, m.store, ui, back, { ...switchOpts, verifyMs: 0, timeoutMs: 1000 })
  assert.is(started.at(-1), `blue v1 ${D1}`)

  // an image that is neither local nor in a registry: refused before anything changed
  f.p.resolveImage = async () => null
  await refused(() => planCreate(f.p, m.store, { version: 'v3', replace: true }), /its image is not on this host/)
})

test.run()
