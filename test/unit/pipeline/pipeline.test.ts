// The deploy pipeline's state machine with fake ports: what runs in which order, what is left
// behind on each failure, and what hooks, notifications and metrics say.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emptyState, type AuditEntry, type DeployState } from '../../../lib/model.ts'
import type { Config } from '../../../lib/config.ts'
import { loadManifest } from '../../../lib/manifest/load.ts'
import { EXIT, InterruptedError, OperationError, ToolkitError } from '../../../lib/errors.ts'
import { executeDeploy, planDeploy, type DeployOptions } from '../../../lib/pipeline/deploy.ts'
import { emptyDeployMetrics, type DeployMetrics } from '../../../lib/deploy-metrics.ts'
import type { DeployPorts } from '../../../lib/pipeline/adapters.ts'
import { decideRecovery, recoverPending } from '../../../lib/pipeline/recover.ts'
import { splitCommand } from '../../../lib/pipeline/staging.ts'
import { Printer } from '../../../lib/ui.ts'
import { fakePlatform, memoryStore, type FakeWorld } from '../../helpers/fakes.ts'
import { ROOT } from '../../helpers/run.ts'
import type { SmokeReport } from '../../../lib/smoke.ts'

const DMS = loadManifest('examples/dms', { cwd: ROOT, target: 'production' })

const quiet = () =>
  new Printer({ quiet: true, out: { write: () => true } as never, err: { write: () => true } as never })

type Fakes = {
  hooks: string[]
  /** per hook run: the backup file and snapshot it was handed */
  hookBackups: string[]
  events: string[]
  metrics: DeployMetrics
  audit: AuditEntry[]
  state: DeployState
  world: FakeWorld
}

function setup(
  o: {
    removeFails?: boolean
    failHook?: string
    migrate?: () => Promise<string[]>
    smoke?: SmokeReport
    contract?: boolean
    failVerification?: boolean
    abortAt?: string
    controller?: AbortController
  } = {},
): { ports: DeployPorts; f: Fakes } {
  const state = emptyState('production')
  state.live = 'blue'
  state.slots.blue = { version: 'v1', slot: 'blue', deployedAt: '2026-01-01T00:00:00Z', deployedBy: 'me' }
  const { p: platform, world } = fakePlatform({ live: 'blue', blue: { version: 'v1', healthy: true } })
  world.failVerification = o.failVerification
  if (o.removeFails) world.removeFails = new Set(['blue', 'green'])
  const f: Fakes = { hooks: [], hookBackups: [], events: [], metrics: emptyDeployMetrics(), audit: [], state, world }
  const smokeOk: SmokeReport = {
    ok: true,
    checks: [],
    load: { total: 10, failures: 0, successRate: 1, p50: 1, p95: 2, p99: 3, ok: true, reasons: [] },
    reasons: [],
  }
  const ports: DeployPorts = {
    platform,
    store: memoryStore(state, {
      entries: f.audit,
      recordLive: (slot, rollback) => {
        f.metrics.live = slot
        if (rollback) f.metrics.rollbacks++
      },
    }),
    ui: quiet(),
    config: {
      target: 'production',
      app: DMS,
      varDir: '/var/x',
      backup: { keepCount: 7, keepDays: 14 },
      thresholds: { minSuccessRate: 0.99, maxP95Ms: 500 },
      keepPreviousMs: 60_000,
    } as unknown as Config,
    dryRun: false,
    preflight: async () => ({ lines: ['all good'], coreRunning: true }),
    ensureCore: async () => void world.calls.push('core'),
    listPending: async () => ({
      pending: [{ version: '002', name: 'x', file: '002_x.sql', contract: !!o.contract }],
      applied: ['001'],
      contract: !!o.contract,
    }),
    backup: async () => {
      world.calls.push('backup')
      return { file: '/b/dms.dump', bytes: 10, entries: 3, pruned: 0, snapshot: '3f2a9c1e' }
    },
    migrate: async () => {
      world.calls.push('migrate')
      if (o.abortAt === 'migrate') o.controller?.abort()
      return o.migrate ? o.migrate() : ['002_x.sql']
    },
    smoke: async () => {
      world.calls.push('smoke')
      if (o.abortAt === 'smoke') o.controller?.abort()
      return o.smoke ?? smokeOk
    },
    removeOneOffs: async () => 0,
    hook: async (name, h) => {
      f.hooks.push(`${name} ${h.version} ${h.slot} ${h.previousSlot} ${h.outcome}`)
      f.hookBackups.push(`${name} ${h.backup?.file ?? '-'} ${h.backup?.snapshot ?? '-'}`)
      const fail = o.failHook === name
      return { name, ran: true, ok: !fail, code: fail ? 1 : 0, output: '', ms: 1, detail: fail ? 'exit 1' : 'ok' }
    },
    notify: async (e) => void f.events.push(e.event),
    metrics: async (fn) => fn(f.metrics),
  }
  return { ports, f }
}

const opts = (over: Partial<DeployOptions> = {}): DeployOptions => ({
  version: 'v2',
  build: false,
  gradual: [],
  stepMs: 100,
  verifyMs: 0,
  allowContract: false,
  timeoutMs: 5000,
  ...over,
})

async function failsWith(fn: () => Promise<unknown>): Promise<ToolkitError> {
  try {
    await fn()
  } catch (e) {
    assert.instance(e, ToolkitError)
    return e as ToolkitError
  }
  assert.unreachable('should have thrown')
  throw new Error('unreachable')
}

test('an app without a release command or backup recipe: the plan says no migrations, no backup; none run', async () => {
  const { ports, f } = setup()
  ports.config = {
    ...ports.config,
    app: loadManifest('examples/pyshop', { cwd: ROOT, target: 'production' }),
  } as Config
  let listed = 0
  ports.listPending = async () => {
    listed++
    return null
  }
  const plan = await planDeploy(ports, opts())
  assert.ok(plan.steps.includes('no migrations: the app has no release command'), plan.steps.join('\n'))
  assert.is(plan.migrationsNote, 'no migration step (the app has no release command)')
  const r = await executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal })
  assert.is(r.outcome, 'succeeded')
  assert.is(listed, 0)
  assert.equal(f.world.calls, ['core', 'start green v2', 'smoke', 'setLive green'], 'no backup, no migrate')
  assert.ok(plan.steps.includes('no backup: the app has no accessory with a backup recipe'), plan.steps.join('\n'))
  assert.equal(r.migrationsApplied, [])
  assert.is(r.backup, null)
})

test('a deploy runs backup, create, migrate, smoke, switch in order and records, hooks, notifies, counts', async () => {
  const { ports, f } = setup()
  const plan = await planDeploy(ports, opts())
  assert.is(plan.slot, 'green')
  assert.ok(
    plan.steps.some((s) => s.includes('002_x.sql')),
    plan.steps.join('\n'),
  )
  const signal = new AbortController().signal
  const r = await executeDeploy(ports, plan, { ...opts(), signal })
  assert.is(r.outcome, 'succeeded')
  assert.equal(f.world.calls, ['core', 'backup', 'start green v2', 'migrate', 'smoke', 'setLive green'])
  assert.is(f.state.live, 'green')
  assert.is(f.state.pending, null)
  assert.is(f.state.previous?.version, 'v1')
  assert.equal(f.hooks, [
    'pre-deploy v2 green blue pending',
    'smoke v2 green blue pending',
    'post-deploy v2 green blue succeeded',
  ])
  assert.equal(f.events, ['started', 'succeeded'])
  assert.is(f.metrics.total.succeeded, 1)
  assert.is(f.metrics.inProgress, false)
  assert.is(f.metrics.live, 'green')
})

test('hooks after the backup are handed its file and restic snapshot; pre-deploy runs before it, so none', async () => {
  const { ports, f } = setup()
  const plan = await planDeploy(ports, opts())
  await executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal })
  assert.equal(f.hookBackups, ['pre-deploy - -', 'smoke /b/dms.dump 3f2a9c1e', 'post-deploy /b/dms.dump 3f2a9c1e'])
})

test('a failing pre-deploy hook refuses (exit 2) before anything changes', async () => {
  const { ports, f } = setup({ failHook: 'pre-deploy' })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() => executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal }))
  assert.is(e.exitCode, EXIT.REFUSED)
  assert.match(e.message, /pre-deploy hook failed \(exit 1\)\. Nothing was changed/)
  assert.equal(f.world.calls, [])
  assert.equal(f.events, [])
  assert.is(f.metrics.total.failed, 0)
})

test('a failed migration removes the candidate; the live slot keeps serving; the backup is named', async () => {
  const { ports, f } = setup({
    migrate: async () => {
      throw new OperationError("Can't migrate to v2: boom")
    },
  })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() => executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal }))
  assert.is(e.exitCode, EXIT.FAILED)
  assert.match(
    e.message,
    /boom\. The candidate was removed; blue keeps serving\. The database backup taken before is \/b\/dms\.dump/,
  )
  assert.ok(f.world.calls.includes('remove green'))
  assert.not.ok(f.world.calls.some((c) => c.startsWith('setLive')))
  assert.is(f.state.slots.green, null)
  assert.is(f.state.pending, null)
  assert.is(f.state.live, 'blue')
  assert.equal(
    f.hooks.map((h) => h.split(' ')[0]),
    ['pre-deploy', 'on-failure'],
  )
  assert.equal(f.events, ['started', 'failed'])
  assert.is(f.metrics.total.failed, 1)
})

test('failed smoke tests: never switched to', async () => {
  const bad: SmokeReport = {
    ok: false,
    checks: [],
    load: { total: 10, failures: 5, successRate: 0.5, p50: 1, p95: 2, p99: 3, ok: false, reasons: ['x'] },
    reasons: ['load: success rate 50%'],
  }
  const { ports, f } = setup({ smoke: bad })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() => executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal }))
  assert.match(e.message, /smoke tests failed \(load: success rate 50%\)/)
  assert.not.ok(f.world.calls.some((c) => c.startsWith('setLive')))
  assert.is(f.world.live, 'blue')
  assert.is(f.world.slots.green.version, null)
})

test('a signal during the migrations ends interrupted with the candidate removed', async () => {
  const controller = new AbortController()
  const { ports, f } = setup({ abortAt: 'migrate', controller })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() => executeDeploy(ports, plan, { ...opts(), signal: controller.signal }))
  assert.instance(e, InterruptedError)
  assert.match(e.message, /the candidate was removed and blue keeps serving/)
  assert.equal(f.world.calls.slice(-1), ['remove green'])
  assert.not.ok(f.world.calls.includes('smoke'))
  assert.is(f.state.pending, null)
  assert.equal(
    f.state.history.slice(-1).map((h) => h.outcome),
    ['interrupted'],
  )
})

test('a failed verification switches back: rolled back, on-rollback hook, counted', async () => {
  const { ports, f } = setup({ failVerification: true })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() =>
    executeDeploy(ports, plan, { ...opts({ verifyMs: 300 }), signal: new AbortController().signal }),
  )
  assert.match(e.message, /verification failed: .*Traffic is back on blue/)
  assert.is(f.world.live, 'blue')
  assert.equal(f.hooks.map((h) => h.split(' ')[0]).slice(-1), ['on-rollback'])
  assert.equal(f.events, ['started', 'rolled_back'])
  assert.is(f.metrics.total.rolled_back, 1)
  assert.is(f.metrics.rollbacks, 1)
})

test('contracting migrations are refused at the plan unless --allow-contract', async () => {
  const { ports } = setup({ contract: true })
  const e = await failsWith(() => planDeploy(ports, opts()))
  assert.is(e.exitCode, EXIT.REFUSED)
  assert.match(e.message, /contract the schema/)
  const allowed = await planDeploy(setup({ contract: true }).ports, opts({ allowContract: true }))
  assert.ok(allowed.steps.some((s) => s.includes('(contracting allowed)')))
})

test('deploying the live version again is refused', async () => {
  const { ports } = setup()
  const e = await failsWith(() => planDeploy(ports, opts({ version: 'v1' })))
  assert.match(e.message, /already live in blue/)
})

test('recovery: a candidate nginx does not route to is removed; one it routes to is verified again', async () => {
  const s = emptyState('production')
  s.live = 'blue'
  s.pending = { operation: 'deploy', version: 'v2', slot: 'green', step: 'smoke', startedAt: 'x', pid: 1 }
  assert.is(decideRecovery(s, { live: 'blue', markers: ['blue'], gradual: null }).action, 'remove-candidate')
  // #11.1: a slot nginx already routes to is verified again, never adopted unverified
  assert.is(decideRecovery(s, { live: 'green', markers: ['green'], gradual: null }).action, 'reverify')
  s.pending = null
  assert.is(decideRecovery(s, { live: 'blue', markers: ['blue'], gradual: null }).action, 'none')

  const { ports, f } = setup()
  f.state.pending = { operation: 'switch', version: 'v2', slot: 'green', step: 'switching', startedAt: 'x', pid: 1 }
  f.world.live = 'green'
  f.world.slots.green = { version: 'v2', healthy: true }
  const lines = await recoverPending(ports.platform, ports.store, ports.ui, {
    dryRun: false,
    verify: {
      verifyMs: 50,
      thresholds: { minSuccessRate: 0.99, maxP95Ms: 500 },
      keepPreviousMs: 60_000,
      intervalMs: 5,
    },
  })
  assert.match(lines[0]!, /verified again: green \(v2\) passed \d+ probes and stays live/)
  assert.is(f.state.live, 'green')
  assert.is(f.state.previous?.version, 'v1')
  assert.is(f.state.pending, null)
})

test('staging checks are split into argv without a shell', () => {
  assert.equal(splitCommand('npm run typecheck'), ['npm', 'run', 'typecheck'])
  assert.equal(splitCommand(`node -e "process.exit(0)" 'a b' ''`), ['node', '-e', 'process.exit(0)', 'a b', ''])
  for (const bad of ['a | b', 'a > f', 'echo $HOME', 'a && b', 'rm *', '"open']) {
    try {
      splitCommand(bad)
      assert.unreachable(bad)
    } catch (e) {
      assert.is((e as ToolkitError).exitCode, EXIT.REFUSED, bad)
    }
  }
})

// ---------------------------------------------------------------- issue #11

const verifyOpts = {
  verifyMs: 200,
  thresholds: { minSuccessRate: 0.99, maxP95Ms: 500 },
  keepPreviousMs: 60_000,
  intervalMs: 5,
}

/** a run killed (SIGKILL) inside its verification window of v2 in green: nginx routes to green */
function killedInVerification() {
  const { ports, f } = setup()
  f.state.pending = {
    operation: 'switch',
    version: 'v2',
    slot: 'green',
    from: 'blue',
    step: 'verifying',
    startedAt: '2026-12-02T10:00:00Z',
    pid: 999999,
  }
  f.state.live = 'green'
  f.state.slots.green = { version: 'v2', slot: 'green', deployedAt: 'x', deployedBy: 'me', verified: false }
  f.state.releases = [{ ...f.state.slots.blue!, verified: true }]
  f.world.live = 'green'
  f.world.slots.green = { version: 'v2', healthy: true }
  return { ports, f }
}

test('#11.1 a run killed in the verification window: the next run verifies again and keeps it only if that passes', async () => {
  const { ports, f } = killedInVerification()
  const lines = await recoverPending(ports.platform, ports.store, ports.ui, { dryRun: false, verify: verifyOpts })
  assert.match(lines.join('\n'), /verified again/)
  assert.ok(f.world.publicProbes > 1, 'it probed again')
  assert.is(f.state.live, 'green')
  assert.is(f.state.previous?.version, 'v1')
  assert.equal(
    f.state.releases.map((r) => [r.version, r.verified]),
    [
      ['v1', true],
      ['v2', true],
    ],
  )
  assert.is(f.state.pending, null)
  assert.is(f.state.history.at(-1)?.outcome, 'verified')

  const bad = killedInVerification()
  bad.f.world.failPublic = true
  const lines2 = await recoverPending(bad.ports.platform, bad.ports.store, bad.ports.ui, {
    dryRun: false,
    verify: verifyOpts,
  })
  assert.match(lines2.join('\n'), /switched back to blue/)
  assert.is(bad.f.world.live, 'blue')
  assert.is(bad.f.state.live, 'blue')
  assert.is(bad.f.state.previous, null)
  assert.equal(
    bad.f.state.releases.map((r) => r.version),
    ['v1'],
  )
  assert.is(bad.f.state.slots.green?.verified, false)
  assert.is(bad.f.world.slots.green.version, 'v2', 'the failed release stays for inspection')
  assert.is(bad.f.state.history.at(-1)?.outcome, 'rolled_back')
})

test('#11.1 re-running the same deploy after a crash in verification finishes the job and succeeds', async () => {
  const { ports, f } = killedInVerification()
  const plan = await planDeploy(ports, opts({ verifyMs: 200 }))
  assert.ok(
    plan.steps.some((s) => /verified again/.test(s)),
    plan.steps.join('\n'),
  )
  const r = await executeDeploy(ports, plan, { ...opts({ verifyMs: 200 }), signal: new AbortController().signal })
  assert.is(r.outcome, 'succeeded')
  assert.not.ok(
    f.world.calls.some((c) => c.startsWith('start') || c.startsWith('remove')),
    f.world.calls.join(', '),
  )
  assert.is(f.state.live, 'green')
  assert.is(f.state.slots.green?.verified, true)
})

test('#11.1 a signal in the verification window of a deploy: traffic back on the old slot, candidate kept, interrupted', async () => {
  const controller = new AbortController()
  const { ports, f } = setup()
  f.world.onPublicProbe = (n) => {
    if (n === 3) controller.abort()
  }
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() =>
    executeDeploy(ports, plan, { ...opts({ verifyMs: 5000 }), signal: controller.signal }),
  )
  assert.instance(e, InterruptedError)
  assert.match(e.message, /traffic is back on blue; green \(v2\) is still running for inspection/)
  assert.equal(
    f.world.calls.filter((c) => c.startsWith('setLive')),
    ['setLive green', 'setLive blue'],
  )
  assert.not.ok(f.world.calls.includes('remove green'))
  assert.is(f.state.live, 'blue')
  assert.is(f.state.previous, null)
  assert.is(f.state.pending, null)
  assert.is(f.state.history.at(-1)?.outcome, 'interrupted')
  assert.equal(f.events, ['started', 'interrupted'])
})

test('#11.7 a deploy whose candidate cannot be removed fails with what is left; the slot stays occupied; not "removed"', async () => {
  const { ports, f } = setup({
    removeFails: true,
    migrate: async () => {
      throw new OperationError("Can't migrate to v2: boom")
    },
  })
  const plan = await planDeploy(ports, opts())
  const e = await failsWith(() => executeDeploy(ports, plan, { ...opts(), signal: new AbortController().signal }))
  assert.is(e.exitCode, EXIT.FAILED)
  assert.match(e.message, /could not remove the candidate from green/)
  assert.not.match(e.message, /The candidate was removed/)
  assert.match(e.hint, /docker rm -f green-frontend green-api green-docs green-main/)
  assert.is(f.state.slots.green?.version, 'v2')
  assert.equal(f.state.slots.green?.left, ['green-frontend', 'green-api', 'green-docs', 'green-main'])

  // a killed run's candidate that can't be removed: the recovery fails, the record stays
  const k = setup({ removeFails: true })
  k.f.state.pending = { operation: 'deploy', version: 'v2', slot: 'green', step: 'smoke', startedAt: 'x', pid: 999999 }
  k.f.world.slots.green = { version: 'v2', healthy: true }
  const e2 = await failsWith(() =>
    recoverPending(k.ports.platform, k.ports.store, k.ports.ui, { dryRun: false, verify: verifyOpts }),
  )
  assert.is(e2.exitCode, EXIT.FAILED)
  assert.match(e2.message, /could not remove the candidate from green/)
  assert.not.ok(k.f.state.history.some((h) => h.outcome === 'removed'))
  assert.not.ok(k.f.audit.some((a) => a.outcome === 'removed'))
  assert.is(k.f.state.slots.green?.version, 'v2')
})

test('a gradual deploy plan names how clients are split (GRADUAL_STICKY)', async () => {
  const { ports } = setup()
  ports.config = { ...ports.config, gradualSticky: 'cookie' }
  const plan = await planDeploy(ports, opts({ gradual: [50] }))
  const line = plan.steps.find((s) => s.startsWith('switch gradually'))
  assert.match(
    line ?? plan.steps.join('\n'),
    /50% → 100%, 0s each; clients split sticky per client: the dms_bucket cookie, else the client address\)/,
  )
})

test.run()
