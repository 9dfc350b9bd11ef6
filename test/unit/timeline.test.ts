// Unit tests of the timeline recorder (lib/timeline.ts) and of the printer recording its steps into it.
import { Writable } from 'node:stream'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Timeline, formatTimeline } from '../../lib/timeline.ts'
import { Printer } from '../../lib/ui.ts'

/** A clock the test moves by hand: perf starts at 1000 ms, wall at 2026-12-02T00:00:00Z. */
function fakeClock() {
  const c = { perf: 1000, wall: Date.parse('2026-12-02T00:00:00.000Z') }
  return {
    c,
    advance: (ms: number) => {
      c.perf += ms
      c.wall += ms
    },
    now: { perf: () => c.perf, wall: () => c.wall },
  }
}

test('a span records its start and end in ms since the timeline began', async () => {
  const k = fakeClock()
  const tl = new Timeline(k.now)
  k.advance(100)
  const end = tl.begin('start the slot')
  k.advance(250)
  end()
  assert.equal(tl.entries(), [{ name: 'start the slot', start: 100, end: 350, ok: true }])
  assert.is(tl.startedAt, '2026-12-02T00:00:00.000Z')
})

test('span(): ok when the work resolves, ok=false (and the error passed on) when it throws', async () => {
  const k = fakeClock()
  const tl = new Timeline(k.now)
  const v = await tl.span('good', async () => {
    k.advance(10)
    return 42
  })
  assert.is(v, 42)
  try {
    await tl.span('bad', async () => {
      k.advance(5)
      throw new Error('boom')
    })
    assert.unreachable('the error is passed on')
  } catch (e) {
    assert.is((e as Error).message, 'boom')
  }
  assert.equal(
    tl.entries().map((e) => [e.name, e.start, e.end, e.ok]),
    [
      ['good', 0, 10, true],
      ['bad', 10, 15, false],
    ],
  )
})

test('entries are ordered by start even when an outer span ends after its inner ones', () => {
  const k = fakeClock()
  const tl = new Timeline(k.now)
  const outer = tl.begin('create')
  k.advance(5)
  const inner = tl.begin('probe')
  k.advance(20)
  inner()
  tl.mark('ready', 'api')
  outer()
  const names = tl.entries().map((e) => e.name)
  assert.equal(names, ['create', 'probe', 'ready'])
  for (const e of tl.entries()) assert.ok(e.end >= e.start, `${e.name}: end >= start`)
})

test('a span ends once; a milestone is a moment with its service', () => {
  const k = fakeClock()
  const tl = new Timeline(k.now)
  const end = tl.begin('x')
  k.advance(7)
  end(false)
  k.advance(7)
  end(true)
  tl.mark('first healthy probe', 'docs')
  assert.equal(tl.entries(), [
    { name: 'x', start: 0, end: 7, ok: false },
    { name: 'first healthy probe', service: 'docs', start: 14, end: 14, ok: true },
  ])
})

test('fromWall places a wall-clock time (a container StartedAt) on the timeline', () => {
  const k = fakeClock()
  const tl = new Timeline(k.now)
  k.advance(1000)
  tl.mark('container started', 'api', tl.fromWall(Date.parse('2026-12-02T00:00:00.640Z')))
  assert.is(tl.entries()[0]!.start, 640)
})

test('formatTimeline: a span shows start, end and length; a moment its time; a failure says so', () => {
  const lines = formatTimeline([
    { name: 'Starting 2.0.0 in green', start: 120, end: 1620, ok: true },
    { name: 'ready', service: 'api', start: 900, end: 900, ok: true },
    { name: 'Probing green', start: 1620, end: 1700, ok: false },
  ])
  assert.match(lines[0]!, /0\.12s → 1\.62s \(1\.50s\)\s+Starting 2\.0\.0 in green$/)
  assert.match(lines[1]!, /0\.90s\s+api: ready$/)
  assert.match(lines[2]!, /Probing green \(failed\)$/)
})

test('Printer.step records each step in the printer timeline, failed ones too', async () => {
  const sink = new Writable({ write: (_c, _e, cb) => cb() })
  const ui = new Printer({ out: sink, err: sink, env: {} })
  await ui.step('one', async () => 1)
  try {
    await ui.step('two', async () => {
      throw new Error('no')
    })
    assert.unreachable('step passes the error on')
  } catch (e) {
    assert.is((e as Error).message, 'no')
  }
  assert.equal(
    ui.timeline.entries().map((e) => [e.name, e.ok]),
    [
      ['one', true],
      ['two', false],
    ],
  )
})

test.run()
