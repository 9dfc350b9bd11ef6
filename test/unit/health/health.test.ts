// Health results: worst status, Nagios exit codes, summaries, problem order, HEALTH_* thresholds.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { DEFAULT_THRESHOLDS, readThresholds } from '../../../lib/config-health.ts'
import { exitCodeFor, problems, summarize, worstStatus } from '../../../lib/health/model.ts'
import type { CheckResult } from '../../../lib/health/model.ts'
import { levelAbove, levelBelow } from '../../../lib/health/thresholds.ts'
import { alertPayload, emptyMemory, planAlerts, readMemory, writeMemory } from '../../../lib/health/alerts.ts'
import { renderCron, renderJson, renderPrometheus, renderTable } from '../../../lib/health/render.ts'
import { parseMetrics } from '../../../lib/metrics.ts'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const check = (name: string, status: CheckResult['status'], detail = 'fine', latencyMs = 10): CheckResult => ({
  name,
  status,
  detail,
  latencyMs,
})

test('worstStatus: CRITICAL > WARNING > UNKNOWN > OK; empty is UNKNOWN', () => {
  assert.is(worstStatus(['OK', 'OK']), 'OK')
  assert.is(worstStatus(['OK', 'UNKNOWN']), 'UNKNOWN')
  assert.is(worstStatus(['UNKNOWN', 'WARNING', 'OK']), 'WARNING')
  assert.is(worstStatus(['WARNING', 'CRITICAL', 'UNKNOWN']), 'CRITICAL')
  assert.is(worstStatus([]), 'UNKNOWN')
})

test('exit codes follow the Nagios plugin convention', () => {
  assert.is(exitCodeFor('OK'), 0)
  assert.is(exitCodeFor('WARNING'), 1)
  assert.is(exitCodeFor('CRITICAL'), 2)
  assert.is(exitCodeFor('UNKNOWN'), 3)
})

test('summarize counts statuses and takes the worst', () => {
  const r = summarize('production', [check('a', 'OK'), check('b', 'WARNING'), check('c', 'OK')], new Date(0), 123.4)
  assert.is(r.status, 'WARNING')
  assert.is(r.exitCode, 1)
  assert.equal(r.counts, { OK: 2, WARNING: 1, CRITICAL: 0, UNKNOWN: 0 })
  assert.is(r.durationMs, 123)
  assert.is(r.startedAt, '1970-01-01T00:00:00.000Z')
})

test('problems: worst first, stable within a status', () => {
  const list = [
    check('a', 'WARNING'),
    check('b', 'OK'),
    check('c', 'CRITICAL'),
    check('d', 'WARNING'),
    check('e', 'UNKNOWN'),
  ]
  assert.equal(
    problems(list).map((c) => c.name),
    ['c', 'a', 'd', 'e'],
  )
})

test('readThresholds: defaults, overrides and named problems', () => {
  assert.equal(readThresholds({}).thresholds, DEFAULT_THRESHOLDS)
  const { thresholds, problems: p } = readThresholds({
    HEALTH_DISK_WARN_PCT: '70',
    HEALTH_DISK_CRIT_PCT: '85',
    HEALTH_TLS_DAYS_WARN: '30',
    HEALTH_LOAD_WARN: '1.5',
    HEALTH_MEM_WARN_PCT: 'lots',
    HEALTH_REDIS_MEM_CRIT_PCT: '150',
    UNRELATED: 'x',
  })
  assert.is(thresholds.diskWarnPct, 70)
  assert.is(thresholds.diskCritPct, 85)
  assert.is(thresholds.tlsDaysWarn, 30)
  assert.is(thresholds.loadWarn, 1.5)
  assert.is(thresholds.memWarnPct, DEFAULT_THRESHOLDS.memWarnPct)
  assert.is(p.length, 2)
  assert.match(p[0]!, /HEALTH_MEM_WARN_PCT="lots" is not a non-negative number; using 85/)
  assert.match(p[1]!, /HEALTH_REDIS_MEM_CRIT_PCT=150 is above 100/)
})

test('readThresholds: a warning level past its critical level is refused', () => {
  const { thresholds, problems: p } = readThresholds({ HEALTH_DISK_WARN_PCT: '95', HEALTH_TLS_DAYS_WARN: '3' })
  assert.is(thresholds.diskWarnPct, 80)
  assert.is(thresholds.diskCritPct, 90)
  assert.is(thresholds.tlsDaysWarn, 21)
  assert.is(p.length, 2)
  assert.match(p[0]!, /HEALTH_DISK_WARN_PCT=95 must be at most HEALTH_DISK_CRIT_PCT=90/)
  assert.match(p[1]!, /HEALTH_TLS_DAYS_WARN=3 must be at least HEALTH_TLS_DAYS_CRIT=7/)
})

test('levels: above and below, boundaries included, NaN is UNKNOWN', () => {
  assert.is(levelAbove(79.9, 80, 90), 'OK')
  assert.is(levelAbove(80, 80, 90), 'WARNING')
  assert.is(levelAbove(90, 80, 90), 'CRITICAL')
  assert.is(levelBelow(22, 21, 7), 'OK')
  assert.is(levelBelow(21, 21, 7), 'WARNING')
  assert.is(levelBelow(7, 21, 7), 'CRITICAL')
  assert.is(levelBelow(-3, 21, 7), 'CRITICAL')
  assert.is(levelAbove(NaN, 1, 2), 'UNKNOWN')
})

const report = (checks: CheckResult[]) => summarize('production', checks, new Date('2030-01-01T00:00:00Z'), 850)

test('renderTable: aligned columns, summary line, detail cut to width', () => {
  const out = renderTable(
    report([
      check('public_https', 'OK', '200 in 12 ms', 12),
      check('redis', 'CRITICAL', 'Redis: connect ECONNREFUSED 127.0.0.1:16379 and more words', 3),
    ]),
    { width: 60 },
  )
  const lines = out.trimEnd().split('\n')
  assert.is(lines[0], 'STATUS    CHECK         LATENCY  DETAIL')
  assert.is(lines[1], 'OK        public_https    12 ms  200 in 12 ms')
  assert.ok(lines[2]!.startsWith('CRITICAL  redis            3 ms  Redis: connect'))
  assert.ok(lines[2]!.endsWith('…'))
  assert.ok(lines[2]!.length <= 60, `line is ${lines[2]!.length} wide`)
  assert.is(lines[4], 'production: CRITICAL (1 ok, 0 warning, 1 critical, 0 unknown) in 850 ms')
})

test('renderTable: paint colours status cells only', () => {
  const out = renderTable(report([check('a', 'WARNING')]), { paint: (s, t) => `<${s}>${t}</>` })
  assert.match(out, /<WARNING>WARNING<\/> {2}a/)
  assert.match(out, /production: <WARNING>WARNING<\/>/)
  assert.not.match(out, /<.*>STATUS/)
})

test('renderCron: silent when all OK, one line per problem otherwise', () => {
  assert.is(renderCron(report([check('a', 'OK'), check('b', 'OK')])), '')
  const out = renderCron(
    report([check('a', 'OK'), check('slow', 'WARNING', 'took\n2 s'), check('redis', 'CRITICAL', 'down')]),
  )
  assert.is(out, 'CRITICAL production redis: down\nWARNING production slow: took 2 s\n')
})

test('renderJson: one parseable document with every check', () => {
  const doc = JSON.parse(renderJson(report([check('a', 'OK'), check('b', 'UNKNOWN')])))
  assert.is(doc.status, 'UNKNOWN')
  assert.is(doc.exitCode, 3)
  assert.equal(
    doc.checks.map((c: CheckResult) => c.name),
    ['a', 'b'],
  )
})

test('renderPrometheus: status, latency and last run per the contract', () => {
  const text = renderPrometheus(
    report([check('role_api', 'OK', 'ok', 25), check('redis', 'CRITICAL', 'down', 1500)]),
    1_900_000_000_500,
  )
  const samples = parseMetrics(text)
  const get = (name: string, check?: string) => samples.find((s) => s.name === name && s.labels.check === check)?.value
  assert.is(get('dms_health_check_status', 'role_api'), 0)
  assert.is(get('dms_health_check_status', 'redis'), 2)
  assert.is(get('dms_health_check_latency_seconds', 'role_api'), 0.025)
  assert.is(get('dms_health_check_latency_seconds', 'redis'), 1.5)
  assert.is(get('dms_health_check_last_run_timestamp_seconds'), 1_900_000_000)
  assert.match(text, /# TYPE dms_health_check_status gauge/)
})

const T0 = new Date('2030-01-01T00:00:00Z')
const T1 = new Date('2030-01-01T00:05:00Z')

test('planAlerts: a first run with everything OK sends nothing', () => {
  const { changes, next } = planAlerts({}, [check('a', 'OK'), check('b', 'OK')], T0)
  assert.equal(changes, [])
  assert.equal(Object.keys(next), ['a', 'b'])
})

test('planAlerts: once on change, not again while it stays, once on recovery', () => {
  const run1 = planAlerts({}, [check('redis', 'CRITICAL', 'down')], T0)
  assert.equal(run1.changes, [{ check: 'redis', from: 'OK', to: 'CRITICAL', kind: 'problem', detail: 'down' }])
  const run2 = planAlerts(run1.next, [check('redis', 'CRITICAL', 'still down')], T1)
  assert.equal(run2.changes, [])
  assert.is(run2.next.redis!.since, T0.toISOString(), 'since stays at the first change')
  const run3 = planAlerts(run2.next, [check('redis', 'WARNING', 'slow')], T1)
  assert.equal(
    run3.changes.map((c) => c.kind),
    ['change'],
  )
  const run4 = planAlerts(run3.next, [check('redis', 'OK', 'PONG')], T1)
  assert.equal(run4.changes, [{ check: 'redis', from: 'WARNING', to: 'OK', kind: 'recovery', detail: 'PONG' }])
  assert.equal(planAlerts(run4.next, [check('redis', 'OK')], T1).changes, [])
})

test('planAlerts: a vanished check in trouble is reported recovered; a vanished OK one is forgotten', () => {
  const { changes, next } = planAlerts(
    {
      slot_green_api: { status: 'CRITICAL', since: T0.toISOString() },
      slot_blue_api: { status: 'OK', since: T0.toISOString() },
    },
    [check('role_api', 'OK')],
    T1,
  )
  assert.equal(changes, [
    { check: 'slot_green_api', from: 'CRITICAL', to: 'OK', kind: 'recovery', detail: 'no longer checked' },
  ])
  assert.equal(Object.keys(next), ['role_api'])
})

test('alertPayload: Slack text plus structured fields', () => {
  const p = alertPayload(
    'production',
    'CRITICAL',
    [
      { check: 'redis', from: 'OK', to: 'CRITICAL', kind: 'problem', detail: 'down' },
      { check: 'role_api', from: 'WARNING', to: 'OK', kind: 'recovery', detail: '200' },
    ],
    'host1',
  )
  assert.is(
    p.text,
    '[dms production] health CRITICAL on host1\nCRITICAL redis: OK -> CRITICAL: down\nRECOVERED role_api: WARNING -> OK (200)',
  )
  assert.is(p.changes.length, 2)
})

test('alert memory: round trip, missing and damaged files start afresh', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-health-mem-'))
  const file = path.join(dir, 'health-alerts.json')
  assert.equal(readMemory(file), emptyMemory())
  const mem = {
    schema: 1 as const,
    checks: { redis: { status: 'CRITICAL' as const, since: T0.toISOString() } },
    restarts: { c1: { count: 2, changedAt: T0.toISOString() } },
    updatedAt: T1.toISOString(),
  }
  writeMemory(file, mem)
  assert.equal(readMemory(file), mem)
  fs.writeFileSync(file, '{ not json')
  assert.equal(readMemory(file), emptyMemory())
  fs.writeFileSync(
    file,
    JSON.stringify({ checks: { a: { status: 'BAD', since: 'x' }, b: { status: 'OK', since: 'y' } } }),
  )
  assert.equal(Object.keys(readMemory(file).checks), ['b'])
  fs.rmSync(dir, { recursive: true })
})

test.run()
