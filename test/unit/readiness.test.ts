// Unit tests of readiness by the toolkit's own probes (lib/readiness.ts) and of the helpers around it:
// the switch gate that treats Docker's "starting" as no verdict, container starts, exited services.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { exitedServices } from '../../lib/create.ts'
import { parseStarts, type SlotStatus } from '../../lib/platform.ts'
import type { ProbeResult } from '../../lib/probe.ts'
import { backoffMs, waitUntilReady } from '../../lib/readiness.ts'
import { switchable } from '../../lib/switch.ts'
import { Timeline } from '../../lib/timeline.ts'

const res = (name: string, ok: boolean): ProbeResult => ({ name, ok, latencyMs: 1, detail: ok ? '200' : '502' })

/** A probe round from a script: round i answers script[i] (the last row repeats). */
function scripted(rows: Record<string, boolean>[]) {
  let i = 0
  const calls = { n: 0 }
  const round = async () => {
    calls.n++
    const row = rows[Math.min(i++, rows.length - 1)]!
    return Object.entries(row).map(([name, ok]) => res(name, ok))
  }
  return { round, calls }
}

test('backoff: 50, 100, 200 ms, then 250 ms between rounds', () => {
  assert.equal([1, 2, 3, 4, 5, 9].map(backoffMs), [50, 100, 200, 250, 250, 250])
})

test('ready once every service answered twice in a row; each service marked at its first healthy probe and readiness', async () => {
  const { round, calls } = scripted([
    { api: false, docs: true },
    { api: true, docs: true },
    { api: true, docs: true },
  ])
  const tl = new Timeline()
  const r = await waitUntilReady(round, tl, { deadline: Date.now() + 10_000 })
  assert.ok(r.ok)
  assert.is(r.rounds, 3)
  assert.is(calls.n, 3, 'stops probing as soon as it is ready')
  const marks = tl.entries().map((e) => `${e.service} ${e.name}`)
  assert.equal(marks, [
    'docs first healthy probe',
    'api first healthy probe',
    'docs ready through the preview listener',
    'api ready through the preview listener',
  ])
})

test('a failure resets the streak: ok, fail, ok, ok is ready only after the fourth round', async () => {
  const { round } = scripted([{ api: true }, { api: false }, { api: true }, { api: true }])
  const tl = new Timeline()
  const r = await waitUntilReady(round, tl, { deadline: Date.now() + 10_000 })
  assert.ok(r.ok)
  assert.is(r.rounds, 4)
  assert.is(
    tl.entries().filter((e) => e.name === 'first healthy probe').length,
    1,
    'the first healthy probe is one moment',
  )
})

test('stableMs: ready only once the streak has lasted that long (a service answering from its first probe is not ready at its second)', async () => {
  const { round, calls } = scripted([{ api: true }])
  const started = Date.now()
  const r = await waitUntilReady(round, new Timeline(), { deadline: Date.now() + 10_000, stableMs: 300 })
  const took = Date.now() - started
  assert.ok(r.ok)
  assert.ok(took >= 300, `ready after ${took} ms, before its streak lasted 300 ms`)
  assert.ok(calls.n > 2, `${calls.n} rounds: two successes in a row are not enough within 300 ms`)
  const quick = scripted([{ api: true }])
  const q = await waitUntilReady(quick.round, new Timeline(), { deadline: Date.now() + 10_000 })
  assert.is(q.rounds, 2, 'without stableMs two rounds are enough')
})

test('stableMs: a failure inside the window starts it again', async () => {
  const { round } = scripted([{ api: true }, { api: true }, { api: false }, { api: true }])
  const tl = new Timeline()
  const r = await waitUntilReady(round, tl, { deadline: Date.now() + 10_000, stableMs: 200 })
  assert.ok(r.ok)
  const ready = tl.entries().find((e) => e.name === 'ready through the preview listener')
  assert.ok(ready, 'marked ready')
  assert.ok(r.rounds >= 5, `${r.rounds} rounds: the streak after the failure must hold 200 ms again`)
})

test('a service that never answers: not ready at the deadline, its failure in last, never marked ready', async () => {
  const { round } = scripted([{ api: true, main: false }])
  const tl = new Timeline()
  const r = await waitUntilReady(round, tl, { deadline: Date.now() + 400 })
  assert.not.ok(r.ok)
  assert.ok(r.rounds >= 2, `probed more than once (${r.rounds})`)
  assert.equal(
    r.last.filter((x) => !x.ok).map((x) => x.name),
    ['main'],
  )
  assert.equal(
    tl
      .entries()
      .filter((e) => e.name.startsWith('ready'))
      .map((e) => e.service),
    ['api'],
  )
})

test('at least one round even when the deadline has passed already', async () => {
  const { round, calls } = scripted([{ api: false }])
  const r = await waitUntilReady(round, new Timeline(), { deadline: Date.now() - 1 })
  assert.not.ok(r.ok)
  assert.is(calls.n, 1)
})

test('a fatal problem (an exited container) ends the wait at once, naming it', async () => {
  const { round, calls } = scripted([{ api: false }])
  const r = await waitUntilReady(round, new Timeline(), {
    deadline: Date.now() + 60_000,
    checkEveryMs: 0,
    fatalProblems: async () => ['api: exited (exit 1)'],
  })
  assert.not.ok(r.ok)
  assert.equal(r.fatal, ['api: exited (exit 1)'])
  assert.is(calls.n, 1)
})

test('an aborted signal ends the wait', async () => {
  const { round } = scripted([{ api: false }])
  const ac = new AbortController()
  ac.abort()
  const r = await waitUntilReady(round, new Timeline(), { deadline: Date.now() + 60_000, signal: ac.signal })
  assert.not.ok(r.ok)
  assert.is(r.rounds, 1)
})

const svc = (service: string, state: string, health: string, exitCode = 0) => ({
  service,
  name: `x-${service}`,
  state,
  health,
  exitCode,
  image: 'app:v2',
})
const status = (services: ReturnType<typeof svc>[], healthy: boolean, problems: string[]): SlotStatus => ({
  slot: 'green',
  running: services.every((s) => s.state === 'running'),
  healthy,
  version: 'v2',
  services,
  problems,
})

test('switchable: "health: starting" is no verdict (the probes decide); unhealthy and exited still block', () => {
  const starting = ['api', 'docs', 'main', 'frontend'].map((r) => svc(r, 'running', 'starting'))
  const s = switchable(
    status(
      starting,
      false,
      starting.map((x) => `${x.service}: starting`),
    ),
  )
  assert.ok(s.healthy)
  assert.equal(s.problems, [])
  const mixed = [svc('api', 'running', 'starting'), svc('docs', 'running', 'unhealthy')].concat(
    ['main', 'frontend'].map((r) => svc(r, 'running', 'healthy')),
  )
  const m = switchable(status(mixed, false, ['api: starting', 'docs: unhealthy']))
  assert.not.ok(m.healthy)
  assert.equal(m.problems, ['docs: unhealthy'])
  const unchanged = status([svc('api', 'running', 'unhealthy')], false, ['api: unhealthy'])
  assert.is(switchable(unchanged), unchanged, 'no service starting: the status as it was')
})

test('exitedServices names stopped containers with their exit code', () => {
  const s = status(
    [svc('api', 'exited', '', 3), svc('docs', 'running', 'starting'), svc('main', 'dead', '')],
    false,
    [],
  )
  assert.equal(exitedServices(s), ['api: exited (exit 3)', 'main: dead'])
})

test('parseStarts reads "<service> <StartedAt>" lines and skips containers that never started', () => {
  const out = 'api 2026-12-02T23:40:01.123456789Z\ndocs 0001-01-01T00:00:00Z\n\nmain 2026-12-02T23:40:01.5Z\n'
  assert.equal(parseStarts(out), [
    { service: 'api', startedAt: '2026-12-02T23:40:01.123456789Z' },
    { service: 'main', startedAt: '2026-12-02T23:40:01.5Z' },
  ])
})

test.run()
