// The retire decision (lib/pipeline/retire.ts): keep, stop when due, stop early only with --now, never
// while the slot can still receive a request; and when the frame asks first.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Store } from '../../lib/bluegreen.ts'
import type { LiveRouting } from '../../lib/nginx.ts'
import type { Platform } from '../../lib/platform.ts'
import type { Env } from '../../lib/script-env.ts'
import { decideRetire, retireOperation, runRetire } from '../../lib/pipeline/retire.ts'
import { emptyState, type AuditEntry, type DeployState } from '../../lib/model.ts'
import { Printer } from '../../lib/ui.ts'
import { fakePlatform, memoryStore } from '../helpers/fakes.ts'
import { memoryStream } from '../helpers/streams.ts'

const NOW = Date.parse('2026-12-02T12:00:00Z')
const routing = (over: Partial<LiveRouting> = {}): LiveRouting => ({
  live: 'green',
  markers: ['green'],
  gradual: null,
  ...over,
})
const withPrevious = (warmUntilMs: number): DeployState => {
  const s = emptyState('production')
  s.live = 'green'
  s.previous = { slot: 'blue', version: 'v1', warmUntil: new Date(warmUntilMs).toISOString() }
  return s
}

test('nothing to retire without a warm previous slot', () => {
  const p = decideRetire(emptyState('production'), routing(), NOW, true)
  assert.is(p.previous, null)
  assert.is(p.skip, 'no previous slot is kept warm')
})

test('a warm slot stays until its warm time is over; --now stops it early; due stops it', () => {
  const warm = decideRetire(withPrevious(NOW + 60_000), routing(), NOW, false)
  assert.match(warm.skip ?? '', /stays warm until 2026-12-02T12:01:00\.000Z/)
  assert.is(warm.warmUntil, '2026-12-02T12:01:00.000Z')
  const early = decideRetire(withPrevious(NOW + 60_000), routing(), NOW, true)
  assert.is(early.skip, null)
  assert.is(early.due, false)
  assert.equal(early.steps, ['drain and stop blue (v1), now, before its warm time is over'])
  const due = decideRetire(withPrevious(NOW - 1), routing(), NOW, false)
  assert.is(due.skip, null)
  assert.is(due.due, true)
  assert.equal(due.steps, ['drain and stop blue (v1), its warm time is over'])
})

test('never while the slot can receive a request, even with --now', () => {
  const shift = decideRetire(withPrevious(NOW - 1), routing({ gradual: { to: 'blue', percent: 25 } }), NOW, true)
  assert.match(shift.skip ?? '', /a gradual shift is in progress \(25% of new requests go to blue\)/)
  const live = decideRetire(withPrevious(NOW - 1), routing({ live: 'blue', markers: ['blue'] }), NOW, true)
  assert.is(live.skip, 'blue is live')
})

test('the frame asks only before stopping a slot early', () => {
  const ui = new Printer({ out: memoryStream(), err: memoryStream() })
  const op = retireOperation({} as Platform, {} as Store, ui, { force: true })
  assert.is(op.ask(decideRetire(withPrevious(NOW + 60_000), routing(), NOW, true)), true)
  assert.is(op.ask(decideRetire(withPrevious(NOW - 1), routing(), NOW, false)), false)
  assert.is(op.ask(decideRetire(emptyState('production'), routing(), NOW, true)), false)
})

test('from cron, nothing to stop answers at once: no lock, no frame, no audit entry', async () => {
  const out = memoryStream()
  const ui = new Printer({ out, err: memoryStream() })
  const audit: AuditEntry[] = []
  const state = withPrevious(Date.now() + 60_000)
  const store = memoryStore(state, { entries: audit })
  const { p } = fakePlatform({
    live: 'green',
    blue: { version: 'v1', healthy: true },
    green: { version: 'v2', healthy: true },
  })
  // a ScriptContext is only needed by the frame (lock, confirm): none here, so any access would throw
  const ctx = new Proxy({}, { get: () => assert.unreachable('the frame was entered') }) as never
  assert.is(await runRetire(ctx, { ui } as Env, p, store, false), 0)
  assert.equal(audit, [])
  assert.equal(state.previous?.slot, 'blue')
})

test.run()
