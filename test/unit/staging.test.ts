// The staging pipeline's state machine with fake StagingPorts (lib/pipeline/staging.ts): the order of
// its steps, a failed check that changes nothing, and what a failure records, runs and notifies.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Config } from '../../lib/config.ts'
import { loadManifest } from '../../lib/manifest/load.ts'
import { OperationError, RefusedError } from '../../lib/errors.ts'
import { emptyDeployMetrics } from '../../lib/deploy-metrics.ts'
import type { StagingPorts } from '../../lib/pipeline/adapters.ts'
import { createStaging, type StagingOptions } from '../../lib/pipeline/staging.ts'
import type { SmokeReport } from '../../lib/smoke.ts'
import { emptyState, type AuditEntry } from '../../lib/model.ts'
import { fakePlatform, memoryStore, quiet } from '../helpers/fakes.ts'
import { ROOT } from '../helpers/run.ts'

function setup(o: { failCheck?: string; smokeFails?: boolean; healthFails?: boolean; images?: boolean } = {}) {
  const state = emptyState('staging')
  const audit: AuditEntry[] = []
  const metrics = emptyDeployMetrics()
  const { p: platform, world } = fakePlatform({ live: 'blue', blue: { version: 'v1', healthy: true } })
  const hooks: string[] = []
  const events: string[] = []
  const smoke = (): SmokeReport => ({
    ok: !o.smokeFails,
    checks: [{ name: 'api', ok: !o.smokeFails, latencyMs: 1, detail: o.smokeFails ? 'status 500' : 'ok' }],
    load: { total: 10, failures: 0, successRate: 1, p50: 1, p95: 2, p99: 3, ok: true, reasons: [] },
    reasons: o.smokeFails ? ['api: status 500'] : [],
  })
  if (o.images === false) platform.imageAvailable = async () => false
  const ports: StagingPorts = {
    platform,
    store: memoryStore(state, {
      entries: audit,
      recordLive: (slot, rollback) => {
        metrics.live = slot
        if (rollback) metrics.rollbacks++
      },
    }),
    ui: quiet(),
    config: {
      target: 'staging',
      app: loadManifest('examples/dms', { cwd: ROOT, target: 'staging' }),
      varDir: '/var/s',
      composeProject: 'dms-staging',
      stagingChecks: [],
    } as unknown as Config,
    dryRun: false,
    preflight: async () => ({ lines: ['all good'], coreRunning: true }),
    listPending: async () => ({ pending: [], applied: ['001'], contract: false }),
    migrate: async (slot, v) => {
      world.calls.push(`migrate ${slot} ${v}`)
      return ['002_x.sql']
    },
    hook: async (name) => {
      hooks.push(name)
      return { name, ran: true, ok: true, code: 0, output: '', ms: 1, detail: 'ok' }
    },
    notify: async (e) => void events.push(e.event),
    metrics: async (fn) => fn(metrics),
    runCheck: async (argv) => {
      world.calls.push(`check ${argv.join(' ')}`)
      const bad = argv.join(' ') === o.failCheck
      return { ok: !bad, code: bad ? 4 : 0, output: bad ? 'it broke' : '' }
    },
    prepare: async (v) => void world.calls.push(`prepare ${v}`),
    up: async (v) => {
      world.calls.push(`up ${v}`)
      world.slots.blue = { version: v, healthy: true }
    },
    validateHealth: async (v) => {
      world.calls.push(`health ${v}`)
      return o.healthFails ? { ok: false, detail: 'api: status 503' } : { ok: true, detail: 'ok' }
    },
    smoke: async (v) => {
      world.calls.push(`smoke ${v}`)
      return smoke()
    },
  }
  return { ports, state, audit, metrics, world, hooks, events }
}

const opts = (over: Partial<StagingOptions> = {}): StagingOptions => ({
  version: 'v2',
  build: false,
  skipChecks: false,
  timeoutMs: 1000,
  signal: new AbortController().signal,
  ...over,
})

async function rejects(
  fn: () => Promise<unknown>,
  type: abstract new (...a: never[]) => Error,
  re: RegExp,
): Promise<void> {
  try {
    await fn()
  } catch (e) {
    assert.instance(e, type)
    assert.match((e as Error).message, re)
    return
  }
  assert.unreachable('expected it to fail')
}

test('a staging deploy runs checks, prepare, up, migrate, health, smoke in order and records blue', async () => {
  const x = setup()
  x.ports.config.stagingChecks = ['npm run typecheck']
  const staging = createStaging(x.ports)
  const plan = await staging.plan(opts())
  assert.equal(plan.checks, [['npm', 'run', 'typecheck']])
  assert.is(plan.running, 'v1')
  const r = await staging.execute(plan, opts())
  assert.equal(x.world.calls, [
    'check npm run typecheck',
    'prepare v2',
    'up v2',
    'migrate blue v2',
    'health v2',
    'smoke v2',
  ])
  assert.equal(r.migrationsApplied, ['002_x.sql'])
  assert.is(x.state.live, 'blue')
  assert.is(x.state.slots.blue?.version, 'v2')
  assert.equal(x.hooks, ['pre-deploy', 'smoke', 'post-deploy'])
  assert.equal(x.events, ['started', 'succeeded'])
  assert.is(x.metrics.total.succeeded, 1)
  assert.equal(
    x.audit.map((a) => `${a.action} ${a.outcome}`),
    ['deploy succeeded'],
  )
})

test('a failed check stops before anything changes: no deploy, nothing recorded, no notification', async () => {
  const x = setup({ failCheck: 'false' })
  x.ports.config.stagingChecks = ['true', 'false', 'never-run']
  const staging = createStaging(x.ports)
  const plan = await staging.plan(opts())
  await rejects(
    () => staging.execute(plan, opts()),
    RefusedError,
    /the check "false" failed \(exit 4\)\. Nothing was changed\.\nit broke/,
  )
  assert.equal(x.world.calls, ['check true', 'check false'])
  assert.equal(x.state.history, [])
  assert.equal(x.audit, [])
  assert.equal(x.events, [])
})

test('a failed smoke test records the failure, runs on-failure, notifies, counts it, leaves it for inspection', async () => {
  const x = setup({ smokeFails: true })
  const staging = createStaging(x.ports)
  await rejects(
    async () => staging.execute(await staging.plan(opts({ skipChecks: true })), opts({ skipChecks: true })),
    OperationError,
    /the smoke tests failed \(api: status 500\)\. v2 is running on staging for inspection/,
  )
  assert.equal(
    x.state.history.map((h) => `${h.action} ${h.outcome} ${h.version}`),
    ['deploy failed v2'],
  )
  assert.is(x.state.slots.blue, null, 'a failed deploy is not recorded as the release')
  assert.equal(x.hooks, ['pre-deploy', 'smoke', 'on-failure'])
  assert.equal(x.events, ['started', 'failed'])
  assert.is(x.metrics.total.failed, 1)
})

test('health validation failing stops before the smoke tests', async () => {
  const x = setup({ healthFails: true })
  const staging = createStaging(x.ports)
  await rejects(
    async () => staging.execute(await staging.plan(opts({ skipChecks: true })), opts({ skipChecks: true })),
    OperationError,
    /Can't validate v2 on staging: api: status 503/,
  )
  assert.not.ok(x.world.calls.includes('smoke v2'))
})

test('a missing image without --build is refused at planning time', async () => {
  const x = setup({ images: false })
  await rejects(() => createStaging(x.ports).plan(opts()), RefusedError, /is not on this host\. Nothing was changed/)
  assert.equal(x.world.calls, [])
})

test.run()
