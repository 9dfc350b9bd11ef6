// The status view: live slot, releases, warm previous slot, lock, audit, and drift being said.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { buildStatus, renderStatus } from '../../../lib/health/status-view.ts'
import { emptyState } from '../../../lib/model.ts'
import type { ContainerFact } from '../../../lib/health/evaluate.ts'

const now = new Date('2030-01-01T12:00:00Z')
const app = (slot: string, version: string, over: Partial<ContainerFact> = {}): ContainerFact => ({
  name: `x-${slot}-${Math.random()}`,
  project: `dms-prod-${slot}`,
  service: 'api',
  state: 'running',
  health: 'healthy',
  restartCount: 0,
  slot,
  version,
  image: `dms/app:${version}`,
  ...over,
})

test('status: live slot, releases, warm previous slot, lock and audit', () => {
  const state = emptyState('production')
  state.live = 'green'
  state.slots.blue = { version: '1.0.0', slot: 'blue', deployedAt: '2030-01-01T10:00:00Z', deployedBy: 'ann' }
  state.slots.green = { version: '1.1.0', slot: 'green', deployedAt: '2030-01-01T11:50:00Z', deployedBy: 'bob' }
  state.previous = { slot: 'blue', version: '1.0.0', warmUntil: '2030-01-01T12:20:30Z' }
  const v = buildStatus({
    target: 'production',
    state,
    markerLive: 'green',
    gradual: null,
    containers: [app('blue', '1.0.0'), app('green', '1.1.0'), app('green', '1.1.0', { health: 'unhealthy' })],
    lock: {
      held: true,
      pid: 7,
      host: 'h',
      user: 'bob',
      command: 'switch-to-green.ts',
      startedAt: '2030-01-01T11:59:00Z',
      alive: true,
    },
    audit: [{ time: '2030-01-01T11:58:00Z', user: 'bob', action: 'switch', outcome: 'succeeded', version: '1.1.0' }],
    now,
  })
  assert.is(v.previous?.warmForSeconds, 1230)
  assert.equal(
    v.slots.map((s) => [s.slot, s.live, s.running, s.containers]),
    [
      ['blue', false, ['1.0.0'], { running: 1, total: 1, unhealthy: 0 }],
      ['green', true, ['1.1.0'], { running: 2, total: 2, unhealthy: 1 }],
    ],
  )
  const text = renderStatus(v, now)
  assert.match(text, /^production: live slot green\n/)
  assert.match(
    text,
    /green LIVE {2}1\.1\.0 \(deployed 2030-01-01T11:50:00Z by bob\); 2\/2 containers running 1\.1\.0, 1 unhealthy/,
  )
  assert.match(text, /previous: blue \(1\.0\.0\) stays warm for 20m 30s/)
  assert.match(text, /lock: held by pid 7 on h \(bob\) "switch-to-green\.ts" for 1m 0s/)
  assert.match(text, /2030-01-01T11:58:00Z {2}bob {2}switch succeeded 1\.1\.0/)
})

test("status: a slot's containers are the manifest's services; a one-off release run is not counted", () => {
  const view = (services?: string[]) =>
    buildStatus({
      target: 'production',
      state: emptyState('production'),
      markerLive: 'blue',
      gradual: null,
      containers: [
        app('blue', '2.0.0', { service: 'web-1' }),
        app('blue', '2.0.0', { service: 'web-2' }),
        app('blue', '2.0.0', { service: 'release' }),
        app('blue', '2.0.0', { service: 'migrate' }),
      ],
      ...(services ? { services } : {}),
      lock: { held: false },
      audit: [],
      now,
    }).slots[0]!.containers
  assert.equal(view(['web-1', 'web-2', 'api']), { running: 2, total: 2, unhealthy: 0 })
  assert.equal(view(), { running: 2, total: 2, unhealthy: 0 })
  assert.equal(view(['web-1', 'web-2', 'release']).total, 3)
})

test('status: drift between the state and the marker is said; empty audit', () => {
  const state = emptyState('staging')
  state.live = 'blue'
  const v = buildStatus({
    target: 'staging',
    state,
    markerLive: 'green',
    gradual: { to: 'blue', percent: 10 },
    containers: [],
    lock: { held: false },
    audit: [],
    now,
  })
  const text = renderStatus(v, now)
  assert.match(text, /live slot green \(the state file says blue: drift\)/)
  assert.match(text, /traffic split: 10% to blue/)
  assert.match(text, /lock: free/)
  assert.match(text, /\(none\)/)
})

test.run()
