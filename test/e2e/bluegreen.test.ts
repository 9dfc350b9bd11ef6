// The blue-green engine against real Docker and nginx, under continuous keep-alive load:
// create, switch, rollback and a gradual switch with zero failed requests; a candidate that
// never gets healthy is never switched to; one that fails inside the verification window is
// switched away from on its own.
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { $ } from 'zx'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readState } from '../../lib/state.ts'
import { readLive } from '../../lib/nginx.ts'
import { loadConfig } from '../../lib/config.ts'
import { createShell } from '../../lib/compose.ts'
import { ensureCore } from '../../lib/core-stack.ts'
import { isFailure, startLoad, summarize, type LoadRecord, type LoadRun } from '../../bench/load.ts'
import { buildImages, removeProjects, request, waitFor } from './harness.ts'
import { assertExit0 } from './deploy-helpers.ts'
import { liveMarker, migrate, script, toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-bg'
const t = toolkitTarget(PREFIX, '172.29.32', 19, {
  VERIFY_WINDOW: '3s',
  KEEP_PREVIOUS: '30m',
  // the load below saturates the 0.5-CPU app containers on purpose: latency is not what is judged here
  SWITCH_MAX_P95_MS: '20000',
  // the load comes from one address without cookies: split per request so a step reaches both slots
  // (the sticky modes are proven in day2-traffic.test.ts)
  GRADUAL_STICKY: 'request',
})
const publicUrl = `https://127.0.0.1:${t.config.ports.https}`
const ok = assertExit0

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0', '2.0.0'])
  await upCore(t)
})

test.after(async () => {
  await removeProjects(PREFIX)
})

/** Checks the switch in the records: finished before `from` -> old slot; started after `to` -> new slot. */
function assertSwitched(
  records: LoadRecord[],
  before: string,
  after: string,
  fromMs: number,
  toMs: number,
  what: string,
): void {
  const early = records.filter((r) => r.end < fromMs)
  const late = records.filter((r) => r.start > toMs)
  assert.ok(early.length > 50, `${what}: load before the switch (${early.length} requests)`)
  assert.ok(late.length > 20, `${what}: load after the switch (${late.length} requests)`)
  const wrongEarly = early.filter((r) => r.slot !== before)
  const wrongLate = late.filter((r) => r.slot !== after)
  assert.is(
    wrongEarly.length,
    0,
    `${what}: ${wrongEarly.length} requests before the switch answered by ${wrongEarly[0]?.slot}`,
  )
  assert.is(
    wrongLate.length,
    0,
    `${what}: ${wrongLate.length} requests after the switch answered by ${wrongLate[0]?.slot}`,
  )
}

type Entry = { name: string; service?: string; start: number; end: number; ok: boolean }

/** A real create's timeline: its steps in order, one after the other, each with end >= start. */
function assertTimeline(entries: Entry[], where: string): void {
  const steps = entries.filter((e) => !e.service)
  assert.equal(
    steps.map((e) => e.name),
    ['take the lock', 'plan', 'Starting 1.0.0 in green', 'Probing green through the preview listener'],
    where,
  )
  for (const [i, e] of steps.entries()) {
    assert.ok(e.end >= e.start, `${where}: ${e.name} ends (${e.end}) at or after its start (${e.start})`)
    assert.ok(e.ok, `${where}: ${e.name} succeeded`)
    if (i > 0) assert.ok(e.start >= steps[i - 1]!.end, `${where}: ${e.name} starts after ${steps[i - 1]!.name} ends`)
  }
  // each service: its container started, then its first healthy probe, then ready through the preview
  // listener, all while the create ran (readiness by the toolkit's probes, not Docker's healthcheck)
  const probing = steps.at(-1)!
  for (const role of ['frontend', 'api', 'docs', 'main']) {
    const at = (name: string) => {
      const m = entries.filter((e) => e.service === role && e.name === name)
      assert.is(m.length, 1, `${where}: ${role}: one '${name}' (${JSON.stringify(m)})`)
      return m[0]!.start
    }
    const started = at('container started')
    const firstOk = at('first healthy probe')
    const ready = at('ready through the preview listener')
    assert.ok(started >= steps[1]!.end, `${where}: ${role} started (${started}) after planning (${steps[1]!.end})`)
    assert.ok(firstOk >= started, `${where}: ${role} first healthy probe (${firstOk}) after its start (${started})`)
    assert.ok(ready >= firstOk, `${where}: ${role} ready (${ready}) after its first healthy probe (${firstOk})`)
    assert.ok(ready <= probing.end, `${where}: ${role} ready (${ready}) before the probing step ended (${probing.end})`)
  }
}

test('first release: create 1.0.0 in the idle slot and switch to it', async () => {
  const create = await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes', '--json'])
  ok(create, 'create 1.0.0')
  assert.match(create.stderr, /1\.0\.0 runs in green/)
  assertTimeline(JSON.parse(create.stdout).timeline.entries, 'the JSON output')
  const audit = fs
    .readFileSync(t.paths.audit, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  const created = audit.findLast((e) => e.action === 'create' && e.outcome === 'succeeded')
  assertTimeline(created.timeline, 'the audit entry')
  await migrate(t, 'green', '1.0.0')
  const sw = await script(t, 'switch-to-green', ['--yes', '--json'])
  ok(sw, 'switch to green')
  const doc = JSON.parse(sw.stdout)
  assert.is(doc.to, 'green')
  assert.is(liveMarker(t), 'green')
  const r = await request(`${publicUrl}/api/version`)
  assert.is(r.headers['x-slot'], 'green')
  // what nginx itself says it routed to: the slot and its release (no app header needed)
  assert.equal([r.headers['x-deploy-slot'], r.headers['x-deploy-version']], ['green', '1.0.0'])
  assert.is(readState(t.paths.state, 'production').live, 'green')
})

test('under load: create, switch, rollback and a gradual switch with zero failed requests', async () => {
  const load: LoadRun = startLoad({ url: publicUrl, connections: 50, durationMs: 150_000, postRatio: 0.1 })
  const at = () => performance.now() - load.t0
  // lets the load run on its own for a while, so each step has requests before and after it
  const settle = async (ms = 2000) => {
    const until = at() + ms
    while (at() < until) await new Promise((r) => setTimeout(r, 50))
  }
  try {
    // the load reaches a steady state first
    while (load.records.length < 200) await new Promise((r) => setTimeout(r, 50))

    // --dry-run shows the exact commands and files and changes nothing
    const stateBefore = fs.readFileSync(t.paths.state, 'utf8')
    const auditBefore = fs.readFileSync(t.paths.audit, 'utf8')
    const dry = await script(t, 'create-green-environment', ['--version', '2.0.0', '--dry-run'])
    ok(dry, 'create --dry-run')
    assert.match(
      dry.stdout,
      /\[dry-run\] docker compose -f \S+\/compose\/app-blue\.yml -p dmst-bg-prod-blue up --detach/,
    )
    assert.not.match(dry.stdout, / up --detach[^\n]* --wait/, "compose does not wait on Docker's healthchecks")
    assert.match(dry.stdout, /Dry run: nothing was changed\./)
    const dsw = await script(t, 'switch-to-green', ['--dry-run', '--slot', 'green'])
    assert.is(dsw.code, 2, 'green is already live: refused even in a dry run')
    assert.is(fs.readFileSync(t.paths.state, 'utf8'), stateBefore)
    assert.is(fs.readFileSync(t.paths.audit, 'utf8'), auditBefore)
    assert.is(liveMarker(t), 'green')
    const psBlue = await $({ quiet: true })`docker ps -q --filter label=com.docker.compose.project=${PREFIX}-prod-blue`
    assert.is(psBlue.stdout.trim(), '', 'the dry run started nothing')

    const create = await script(t, 'create-green-environment', ['--version', '2.0.0', '--yes'])
    ok(create, 'create 2.0.0 under load')
    assert.match(create.stdout, /2\.0\.0 runs in blue/)
    assert.is(liveMarker(t), 'green', 'create never touches the live slot')

    const dsw2 = await script(t, 'switch-to-green', ['--dry-run'])
    ok(dsw2, 'switch --dry-run')
    assert.match(dsw2.stdout, /\[dry-run\] write \S+\/live\/blue \(atomic\) and remove the other marker/)
    assert.is(liveMarker(t), 'green', 'a dry-run switch moves no traffic')

    const s1 = at()
    const sw = await script(t, 'switch-to-green', ['--yes', '--verify', '3s'])
    const e1 = at()
    ok(sw, 'switch to blue under load')
    assert.is(liveMarker(t), 'blue')

    await settle()
    const s2 = at()
    const rb = await script(t, 'rollback-production', ['--yes', '--json'])
    const e2 = at()
    ok(rb, 'rollback under load')
    const rbDoc = JSON.parse(rb.stdout)
    assert.is(rbDoc.warm, true, 'the previous slot was warm: rollback is a switch')
    assert.is(rbDoc.to, 'green')
    assert.is(liveMarker(t), 'green')

    await settle()
    const s3 = at()
    const gr = await script(t, 'switch-to-green', ['--yes', '--gradual', '20,50,100', '--step', '3s', '--verify', '2s'])
    const e3 = at()
    ok(gr, 'gradual switch under load')
    assert.match(gr.stdout, /Sending 20% of new requests to blue/)
    assert.is(liveMarker(t), 'blue')
    assert.is(readLive(t.paths.live).gradual, null, 'no gradual markers are left')
    await settle()
    load.stop()
    const records = await load.done
    const sum = summarize(records)
    const failures = records.filter(isFailure)
    assert.is(failures.length, 0, `failed requests: ${JSON.stringify(failures.slice(0, 5))}`)
    assert.is(sum.server5xx, 0)
    assert.ok(sum.requests > 2000, `enough load: ${sum.requests} requests`)
    const posts = records.filter((r) => r.method === 'POST')
    assert.ok(
      posts.length > 100 && posts.every((r) => r.status === 201),
      `document POSTs all created (${posts.length})`,
    )
    assertSwitched(
      records.filter((r) => r.start < s2),
      'green',
      'blue',
      s1,
      e1,
      'switch',
    )
    assertSwitched(
      records.filter((r) => r.start > e1 && r.start < s3),
      'blue',
      'green',
      s2,
      e2,
      'rollback',
    )
    const during = records.filter((r) => r.start > s3 + 3000 && r.end < e3 - 6000)
    const mixed = summarize(during).bySlot
    assert.ok(
      (mixed.blue ?? 0) > 0 && (mixed.green ?? 0) > 0,
      `gradual: both slots served during the steps: ${JSON.stringify(mixed)}`,
    )
    assertSwitched(
      records.filter((r) => r.start > e2),
      'green',
      'blue',
      s3,
      e3,
      'gradual',
    )
    console.log(
      `   load: ${sum.requests} requests, ${sum.failed} failed, ${sum.rps} req/s, p50 ${sum.p50} ms, p99 ${sum.p99} ms, by slot ${JSON.stringify(sum.bySlot)}`,
    )
  } finally {
    load.stop()
    await load.done
  }
})

test('a candidate that never becomes healthy is never switched to (live untouched, exit 1)', async () => {
  const before = readState(t.paths.state, 'production')
  const r = await script(
    t,
    'create-green-environment',
    ['--version', '2.0.0', '--yes', '--replace', '--timeout', '25s'],
    { APP_FAIL_HEALTH: '1' },
  )
  assert.is(r.code, 1, r.stderr)
  assert.match(
    r.stderr,
    /Can't start 2\.0\.0 in green: not healthy (within \d+ s|through the preview listener)/,
    r.stderr,
  )
  assert.match(r.stderr, /candidate was removed; blue is still live/)
  assert.is(liveMarker(t), 'blue')
  const after = readState(t.paths.state, 'production')
  assert.is(after.live, before.live)
  assert.is(after.slots.green, null, 'the failed candidate is not recorded')
  assert.is(after.pending, null)
  const live = await request(`${publicUrl}/api/version`)
  assert.is(live.status, 200)
  assert.is(live.headers['x-slot'], 'blue')
  const sw = await script(t, 'switch-to-green', ['--yes'])
  assert.is(sw.code, 2, 'switching to an empty slot is refused')
  assert.match(sw.stderr, /Can't switch to green: it runs no release\. Nothing was changed\./)
})

test('a candidate that starts failing inside the verification window is switched away from', async () => {
  const create = await script(t, 'create-green-environment', ['--version', '2.0.0', '--yes'], {
    APP_FAIL_AFTER_MS: '20000',
  })
  ok(create, 'create a candidate that fails after 20 s')
  const sw = await script(t, 'switch-to-green', ['--yes', '--verify', '60s'])
  assert.is(sw.code, 1, sw.stderr)
  assert.match(sw.stderr, /Switched back to blue: verification failed/)
  assert.is(liveMarker(t), 'blue')
  const s = readState(t.paths.state, 'production')
  assert.is(s.live, 'blue')
  assert.is(s.history.at(-1)?.outcome, 'rolled_back')
  const r = await request(`${publicUrl}/api/version`)
  assert.is(r.headers['x-slot'], 'blue')
  assert.is(r.status, 200)
})

test('drift is refused until resolved; record-live records what runs; retire-previous drains an expired warm slot', async () => {
  const stateFile = t.paths.state
  const s = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
  s.live = 'green' // nginx routes to blue: drift
  fs.writeFileSync(stateFile, JSON.stringify(s))
  const refusedCreate = await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes', '--replace'])
  assert.is(refusedCreate.code, 2, refusedCreate.stderr)
  assert.match(refusedCreate.stderr, /drift: the state file says green is live but nginx routes to blue/)
  const rec = await script(t, 'record-live', ['--yes'])
  ok(rec, 'record-live')
  const after = readState(stateFile, 'production')
  assert.is(after.live, 'blue')
  assert.is(after.slots.green?.version, '2.0.0', 'the release the green containers carry is recorded')
  assert.is(after.live, 'blue')
  // a healthy release in green, kept warm, whose warm time has run out
  ok(await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes', '--replace']), 'create 1.0.0 in green')
  const warm = readState(stateFile, 'production')
  warm.previous = { slot: 'green', version: '1.0.0', warmUntil: new Date(Date.now() - 1000).toISOString() }
  fs.writeFileSync(stateFile, JSON.stringify(warm))
  // a request in flight on green while cron's retire-previous drains and stops it
  const preview = `https://127.0.0.1:${t.config.ports.preview}`
  const inFlight = request(`${preview}/docs/version?delay_ms=4000`, {
    headers: { 'X-DMS-Slot': 'green' },
    timeoutMs: 30_000,
  })
  // (it is on its way to green before the retire script has even started its runtime)
  const retire = await script(t, 'retire-previous', ['--yes'])
  ok(retire, 'retire-previous')
  const drained = await inFlight
  assert.is(drained.status, 200, 'the request in flight finished on the retiring slot')
  assert.is(drained.headers['x-slot'], 'green')
  assert.match(retire.stdout, /Stopped green/)
  const ps = await $({ quiet: true })`docker ps -q --filter label=com.docker.compose.project=${PREFIX}-prod-green`
  assert.is(ps.stdout.trim(), '', 'green has no containers left')
  const final = readState(stateFile, 'production')
  assert.is(final.previous, null)
  assert.is(final.slots.green, null)
  assert.is((await request(`${publicUrl}/api/version`)).headers['x-slot'], 'blue')
  const audit = fs
    .readFileSync(t.paths.audit, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.ok(
    audit.some((e) => e.action === 'create' && e.outcome === 'refused'),
    'the refused attempt is audited',
  )
  assert.ok(audit.some((e) => e.action === 'adopt-live' && e.outcome === 'succeeded'))
  assert.ok(audit.some((e) => e.action === 'retire' && e.outcome === 'succeeded'))
})

test('a changed nginx setting is validated by the real nginx -t and reloaded; traffic keeps flowing', async () => {
  const status = (from: string) =>
    request(`http://127.0.0.1:${t.config.ports.status}/stub_status`, { localAddress: from })
  assert.is((await status('127.0.0.2')).status, 200, 'STATUS_ALLOW 127.0.0.0/8 lets 127.0.0.2 in')
  const narrowed = loadConfig({ target: 'production', env: { ...process.env, ...t.env, STATUS_ALLOW: '127.0.0.1/32' } })
  const r = await ensureCore(createShell(t.ui), narrowed, t.paths, t.ui)
  assert.ok(r.changed.includes('status-allow.conf'), `changed: ${r.changed.join(', ')}`)
  // a reload hands over to new workers gracefully: poll until they answer
  await waitFor(
    'the reloaded allow-list to refuse 127.0.0.2',
    async () => ((await status('127.0.0.2')).status === 403 ? true : undefined),
    15_000,
    100,
  )
  assert.is((await status('127.0.0.1')).status, 200)
  assert.is((await request(`${publicUrl}/api/version`)).status, 200)
  const again = await ensureCore(createShell(t.ui), narrowed, t.paths, t.ui)
  assert.equal(again.changed, [], 'nothing changed: no reload')
  await ensureCore(createShell(t.ui), t.config, t.paths, t.ui)
  await waitFor(
    'the restored allow-list to let 127.0.0.2 in',
    async () => ((await status('127.0.0.2')).status === 200 ? true : undefined),
    15_000,
    100,
  )
})

test('monitoring starts beside the stack, scrapes it, and stops', async () => {
  const up = await script(t, 'monitoring', ['--up', '--yes'], {}, 400_000)
  ok(up, 'monitoring --up')
  const prom = `http://127.0.0.1:${t.env.PROMETHEUS_PORT}`
  const targets = await waitFor(
    'every scrape target up',
    async () => {
      const r = await request(`${prom}/api/v1/targets?state=active`)
      const active = r.json().data.activeTargets as Array<{
        health: string
        labels: Record<string, string>
        scrapePool: string
      }>
      // slots that run nothing are expected to be down; everything else must be up
      const needed = active.filter((x) => !(x.labels.slot === 'green'))
      return needed.length > 5 && needed.every((x) => x.health === 'up') ? active : undefined
    },
    90_000,
    1000,
  )
  assert.ok(
    targets.some((x) => x.labels.slot === 'blue' && x.labels.role === 'api' && x.health === 'up'),
    'the live api is scraped',
  )
  const am = await request(`http://127.0.0.1:${t.env.ALERTMANAGER_PORT}/-/ready`)
  assert.is(am.status, 200)
  const down = await script(t, 'monitoring', ['--down', '--yes'])
  ok(down, 'monitoring --down')
  const ps = await $({ quiet: true })`docker ps -q --filter label=com.docker.compose.project=${PREFIX}-prod-monitoring`
  assert.is(ps.stdout.trim(), '')
})

test.run()
