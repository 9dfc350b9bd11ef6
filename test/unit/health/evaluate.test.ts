// Health evaluation of each check kind from facts: http, postgres, redis, tls, disk and the others.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  bytes,
  evaluateContainers,
  evaluateDisk,
  evaluateDrift,
  evaluateHttp,
  evaluateLoad,
  evaluateLock,
  evaluateMemory,
  evaluatePostgres,
  evaluateRedis,
  evaluateTls,
} from '../../../lib/health/evaluate.ts'
import { DEFAULT_THRESHOLDS as T } from '../../../lib/config-health.ts'
import type { ContainerFact, DriftFacts } from '../../../lib/health/evaluate.ts'

const GiB = 1024 ** 3

test('bytes: human units', () => {
  assert.is(bytes(512), '512 B')
  assert.is(bytes(1536), '1.5 KiB')
  assert.is(bytes(64 * 1024 * 1024), '64 MiB')
})

test('http: failure is CRITICAL with the probe detail; slow is WARNING then CRITICAL', () => {
  assert.is(
    evaluateHttp('role_api', { name: 'x', ok: false, latencyMs: 3000, detail: 'timed out after 3000 ms' }, T).status,
    'CRITICAL',
  )
  const ok = evaluateHttp('role_api', { name: 'x', ok: true, latencyMs: 12, detail: '200', status: 200 }, T)
  assert.is(ok.status, 'OK')
  assert.is(ok.detail, '200 in 12 ms')
  const slow = evaluateHttp('role_api', { name: 'x', ok: true, latencyMs: 1500, detail: '200' }, T)
  assert.is(slow.status, 'WARNING')
  assert.match(slow.detail, /slow: 1500 ms/)
  assert.is(evaluateHttp('r', { name: 'x', ok: true, latencyMs: 6000, detail: '200' }, T).status, 'CRITICAL')
})

test('postgres: connections against max_connections', () => {
  const p = (used: number, max: number) => ({
    name: 'pg',
    ok: true,
    latencyMs: 5,
    detail: '',
    connections: { used, max },
  })
  assert.is(evaluatePostgres(p(10, 100), T).status, 'OK')
  assert.is(evaluatePostgres(p(80, 100), T).status, 'WARNING')
  const crit = evaluatePostgres(p(96, 100), T)
  assert.is(crit.status, 'CRITICAL')
  assert.match(crit.detail, /96 of 100 connections \(96%\), critical at 95%/)
  const down = evaluatePostgres({ name: 'pg', ok: false, latencyMs: 2, detail: 'connect ECONNREFUSED' }, T)
  assert.is(down.status, 'CRITICAL')
  assert.is(down.detail, 'PostgreSQL: connect ECONNREFUSED')
})

test('redis: memory against maxmemory; no maxmemory is a warning; down names Redis', () => {
  const r = (used: number, max: number) => ({ name: 'r', ok: true, latencyMs: 1, detail: '', memory: { used, max } })
  assert.is(evaluateRedis(r(10, 100), T).status, 'OK')
  assert.is(evaluateRedis(r(85, 100), T).status, 'WARNING')
  assert.is(evaluateRedis(r(99, 100), T).status, 'CRITICAL')
  assert.match(evaluateRedis(r(10, 0), T).detail, /no maxmemory/)
  const down = evaluateRedis({ name: 'r', ok: false, latencyMs: 1, detail: 'connect ECONNREFUSED 127.0.0.1:16379' }, T)
  assert.is(down.status, 'CRITICAL')
  assert.match(down.detail, /^Redis: /)
})

test('tls: days left against warn/crit; expired; unreadable is UNKNOWN', () => {
  const f = (daysLeft: number) => ({ daysLeft, validTo: 'x', source: 'public listener' })
  assert.is(evaluateTls(f(90), T).status, 'OK')
  assert.is(evaluateTls(f(20), T).status, 'WARNING')
  assert.is(evaluateTls(f(7), T).status, 'CRITICAL')
  assert.match(evaluateTls(f(-2), T).detail, /expired 2 days ago/)
  assert.is(evaluateTls({ error: 'ENOENT' }, T).status, 'UNKNOWN')
})

test('disk: the worst filesystem decides', () => {
  const r = evaluateDisk(
    [
      { path: '/', totalBytes: 100 * GiB, freeBytes: 50 * GiB },
      { path: '/var/lib/docker', totalBytes: 100 * GiB, freeBytes: 5 * GiB },
    ],
    T,
  )
  assert.is(r.status, 'CRITICAL')
  assert.is(r.values?.usedPct, 95)
  assert.match(r.detail, /\/ 50% used \(50 GiB free\), \/var\/lib\/docker 95% used/)
  assert.is(evaluateDisk([], T).status, 'UNKNOWN')
})

test('memory and load', () => {
  assert.is(evaluateMemory({ totalBytes: 8 * GiB, availableBytes: 4 * GiB }, T).status, 'OK')
  assert.is(evaluateMemory({ totalBytes: 8 * GiB, availableBytes: 1 * GiB }, T).status, 'WARNING')
  assert.is(evaluateMemory({ totalBytes: 8 * GiB, availableBytes: 0.2 * GiB }, T).status, 'CRITICAL')
  assert.is(evaluateLoad({ load1: 9, load5: 1, cpus: 2 }, T).status, 'OK', 'the 5-minute average decides')
  assert.is(evaluateLoad({ load1: 1, load5: 5, cpus: 2 }, T).status, 'WARNING')
  const crit = evaluateLoad({ load1: 1, load5: 9, cpus: 2 }, T)
  assert.is(crit.status, 'CRITICAL')
  assert.match(crit.detail, /4\.50 per CPU/)
})

const ctr = (name: string, over: Partial<ContainerFact> = {}): ContainerFact => ({
  name,
  project: 'dms-prod',
  service: name,
  state: 'running',
  health: 'healthy',
  restartCount: 0,
  image: 'dms/x:local',
  ...over,
})

test('containers: all healthy; stopped and unhealthy are CRITICAL; starting is WARNING', () => {
  const now = new Date('2030-01-01T00:00:00Z')
  const ok = evaluateContainers([ctr('nginx'), ctr('redis')], {}, now, T)
  assert.is(ok.result.status, 'OK')
  assert.is(ok.result.detail, '2 of 2 running, all healthy')
  const bad = evaluateContainers(
    [ctr('nginx'), ctr('redis', { state: 'exited' }), ctr('api', { health: 'unhealthy' })],
    {},
    now,
    T,
  )
  assert.is(bad.result.status, 'CRITICAL')
  assert.match(bad.result.detail, /1 of 3 running|2 of 3 running/)
  assert.match(bad.result.detail, /redis is exited/)
  assert.match(bad.result.detail, /api is unhealthy/)
  assert.is(evaluateContainers([ctr('api', { health: 'starting' })], {}, now, T).result.status, 'WARNING')
  assert.is(evaluateContainers([], {}, now, T).result.status, 'CRITICAL')
})

test('containers: restarts since the last run warn, and keep warning within the window', () => {
  const t0 = new Date('2030-01-01T00:00:00Z')
  const first = evaluateContainers([ctr('api', { restartCount: 2 })], {}, t0, T)
  assert.is(first.result.status, 'OK', 'a first sighting sets the baseline')
  const t1 = new Date('2030-01-01T00:05:00Z')
  const second = evaluateContainers([ctr('api', { restartCount: 3 })], first.memory, t1, T)
  assert.is(second.result.status, 'WARNING')
  assert.match(second.result.detail, /api restarted 1 time\(s\) since the last check/)
  const t2 = new Date('2030-01-01T00:06:00Z')
  const third = evaluateContainers([ctr('api', { restartCount: 3 })], second.memory, t2, T)
  assert.is(third.result.status, 'WARNING', 'an interactive run in between does not swallow it')
  const t3 = new Date('2030-01-01T00:30:00Z')
  assert.is(evaluateContainers([ctr('api', { restartCount: 3 })], third.memory, t3, T).result.status, 'OK')
})

const drift = (over: Partial<DriftFacts> = {}): DriftFacts => ({
  stateLive: 'blue',
  markerLive: 'blue',
  splitMarkers: [],
  headerSlot: 'blue',
  recorded: { blue: 'v1', green: null },
  running: { blue: ['v1', 'v1'], green: [] },
  lockHeld: false,
  ...over,
})

test('drift: none when state, marker, header and containers agree', () => {
  const r = evaluateDrift(drift())
  assert.is(r.status, 'OK')
  assert.is(r.detail, 'no drift: live blue (X-Deploy-Slot blue), blue v1')
})

test('drift: state vs marker, header vs marker', () => {
  const a = evaluateDrift(drift({ stateLive: 'green' }))
  assert.is(a.status, 'CRITICAL')
  assert.match(a.detail, /the state file says green is live, nginx's marker says blue/)
  const b = evaluateDrift(drift({ headerSlot: 'green' }))
  assert.is(b.status, 'CRITICAL')
  assert.match(b.detail, /X-Deploy-Slot green, the marker says blue/)
  assert.is(evaluateDrift(drift({ markerLive: null })).status, 'WARNING')
  const c = evaluateDrift(drift({ nginxLive: 'green' }))
  assert.is(c.status, 'CRITICAL')
  assert.match(c.detail, /nginx sees green as live, but live\/ holds the blue marker/)
})

test('drift: recorded versions against running containers', () => {
  const live = evaluateDrift(drift({ running: { blue: ['v2'], green: [] } }))
  assert.is(live.status, 'CRITICAL')
  assert.match(live.detail, /the state records v1 in blue, the containers run v2/)
  const idle = evaluateDrift(drift({ recorded: { blue: 'v1', green: 'v2' } }))
  assert.is(idle.status, 'WARNING')
  assert.match(idle.detail, /records v2 in green, but no green container runs/)
  const extra = evaluateDrift(drift({ running: { blue: ['v1'], green: ['v3'] } }))
  assert.is(extra.status, 'WARNING')
  assert.match(extra.detail, /green runs v3, but the state records no release there/)
})

test('drift: a traffic split is fine during a deploy, a warning otherwise', () => {
  assert.is(evaluateDrift(drift({ splitMarkers: ['to-green-b1'], headerSlot: 'green', lockHeld: true })).status, 'OK')
  const left = evaluateDrift(drift({ splitMarkers: ['to-green-b1'], headerSlot: 'green' }))
  assert.is(left.status, 'WARNING')
  assert.match(left.detail, /no deploy holds the lock/)
})

test('lock: free, held, held too long, stale, unreadable', () => {
  const now = new Date('2030-01-01T01:00:00Z')
  const h = { held: true as const, pid: 42, host: 'h', user: 'u', command: 'deploy-production.ts', alive: true }
  assert.is(evaluateLock({ held: false }, now, T).status, 'OK')
  assert.is(evaluateLock({ ...h, startedAt: '2030-01-01T00:59:00Z' }, now, T).status, 'OK')
  const long = evaluateLock({ ...h, startedAt: '2030-01-01T00:00:00Z' }, now, T)
  assert.is(long.status, 'WARNING')
  assert.match(long.detail, /held for 3600 s \(longer than 1800 s\)/)
  assert.match(evaluateLock({ ...h, alive: false, startedAt: '2030-01-01T00:59:00Z' }, now, T).detail, /stale/)
  assert.is(evaluateLock({ corrupt: 'bad json' }, now, T).status, 'WARNING')
})

test.run()
