// boot's plan with fake ports: what it starts, what it keeps, and each refusal (nothing changed).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emptyState, type AuditEntry, type DeployState, type Slot } from '../../../lib/model.ts'
import { RefusedError, ToolkitError } from '../../../lib/errors.ts'
import { executeBoot, planBoot, type BootPorts } from '../../../lib/pipeline/boot.ts'
import { Printer } from '../../../lib/ui.ts'
import { loadConfig } from '../../../lib/config.ts'
import { tempEnvDir } from '../../helpers/run.ts'
import { fakePlatform, memoryStore, type FakeSlot } from '../../helpers/fakes.ts'

const CONFIG = loadConfig({ target: 'production', env: { DMS_ENV_DIR: tempEnvDir() }, generateSecrets: true })

const VERIFY = {
  verifyMs: 50,
  thresholds: { minSuccessRate: 0.99, maxP95Ms: 500 },
  keepPreviousMs: 60_000,
  intervalMs: 5,
}

type World = {
  marker: Slot
  running: Partial<Record<Slot, string>>
  stopped: Partial<Record<Slot, string>>
  images: string[]
  core: boolean
  calls: string[]
}

function ports(w: World, state: DeployState, audit: AuditEntry[] = []): BootPorts {
  const slot = (x: Slot): FakeSlot =>
    w.running[x]
      ? { version: w.running[x], healthy: true }
      : w.stopped[x]
        ? { version: w.stopped[x], healthy: false, stopped: true }
        : { version: null, healthy: false }
  const { p: platform } = fakePlatform({
    live: w.marker,
    blue: slot('blue'),
    green: slot('green'),
    images: w.images,
    calls: w.calls,
  })
  const store = memoryStore(state, { entries: audit })
  return {
    platform,
    store,
    config: CONFIG,
    dryRun: false,
    ui: new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never }),
    preflight: async () => ({ lines: ['ok'], coreRunning: w.core, warnings: [] }),
    ensureCore: async () => {
      w.calls.push('core')
      w.core = true
    },
    removeOneOffs: async () => 0,
  }
}

function recorded(): DeployState {
  const s = emptyState('production')
  s.live = 'blue'
  s.slots.blue = { version: 'v2', slot: 'blue', deployedAt: '2026-01-01T00:00:00Z', deployedBy: 'me' }
  s.slots.green = { version: 'v1', slot: 'green', deployedAt: '2026-01-01T00:00:00Z', deployedBy: 'me' }
  s.previous = { slot: 'green', version: 'v1', warmUntil: '2099-01-01T00:00:00Z' }
  return s
}

const stoppedWorld = (): World => ({
  marker: 'blue',
  running: {},
  stopped: { blue: 'v2', green: 'v1' },
  images: ['v1', 'v2'],
  core: false,
  calls: [],
})

async function refusal(p: BootPorts): Promise<RefusedError> {
  try {
    await planBoot(p, VERIFY)
  } catch (e) {
    assert.instance(e, RefusedError)
    return e as RefusedError
  }
  return assert.unreachable('planBoot did not refuse') as never
}

test('everything stopped: core, live and previous are started at their recorded releases, then confirmed', async () => {
  const w = stoppedWorld()
  const audit: AuditEntry[] = []
  const p = ports(w, recorded(), audit)
  const plan = await planBoot(p, VERIFY)
  assert.is(plan.core, 'start')
  assert.equal(
    plan.slots.map((s) => `${s.slot} ${s.version} ${s.role} ${s.action}`),
    ['blue v2 live start', 'green v1 previous start'],
  )
  const r = await executeBoot(p, plan, { timeoutMs: 5000 })
  assert.equal(w.calls, ['core', 'start blue v2', 'start green v1'])
  assert.equal(r.started, ['blue', 'green'])
  assert.equal(
    audit.map((e) => `${e.action} ${e.outcome} ${e.slot}`),
    ['boot succeeded blue'],
  )
})

test('what runs is kept: nothing is started', async () => {
  const w: World = { ...stoppedWorld(), running: { blue: 'v2', green: 'v1' }, stopped: {}, core: true }
  const p = ports(w, recorded())
  const plan = await planBoot(p, VERIFY)
  await executeBoot(p, plan, { timeoutMs: 5000 })
  assert.equal(
    plan.slots.map((s) => s.action),
    ['running', 'running'],
  )
  assert.equal(w.calls, [])
})

test('refusals: nothing recorded, drift, a gone image, a slot running another release', async () => {
  const nothing = await refusal(ports(stoppedWorld(), emptyState('production')))
  assert.match(nothing.message, /records no live release/)
  assert.match(nothing.hint, /deploy-production/)
  const drift = await refusal(ports({ ...stoppedWorld(), marker: 'green' }, recorded()))
  assert.match(drift.message, /drift/)
  const gone = await refusal(ports({ ...stoppedWorld(), images: ['v2'] }, recorded()))
  assert.match(gone.message, /the image of v1 \(recorded in green\) is not on this host/)
  const other = await refusal(ports({ ...stoppedWorld(), running: { green: 'v9' } }, recorded()))
  assert.match(other.message, /green runs v9 but the state records v1/)
})

test('a slot that never gets ready fails the boot, audited, saying what to do', async () => {
  const w = stoppedWorld()
  const audit: AuditEntry[] = []
  const p = ports(w, recorded(), audit)
  const plan = await planBoot(p, VERIFY)
  p.platform.startSlot = async () => undefined // started, but never answers
  try {
    await executeBoot(p, plan, { timeoutMs: 600 })
    assert.unreachable('boot passed')
  } catch (e) {
    assert.instance(e, ToolkitError)
    assert.match((e as Error).message, /Can't boot blue \(v2\): not ready through the preview listener/)
    assert.match((e as ToolkitError).hint, /run boot again/)
  }
  assert.equal(
    audit.map((e) => `${e.action} ${e.outcome}`),
    ['boot failed'],
  )
})

test.run()
