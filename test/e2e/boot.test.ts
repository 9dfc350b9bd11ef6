// After every container stopped (a daemon restart that did not bring them back, a reboot): the
// scripts say what is true (deploy does not claim the release is live, rollback names what is in
// the idle slot), and one command, boot, brings back the core, the live slot and the warm previous
// slot exactly as recorded, confirmed through nginx.
import fs from 'node:fs'
import { $ } from 'zx'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readAudit } from '../../lib/audit.ts'
import { readState } from '../../lib/state.ts'
import { buildImages, removeProjects, request } from './harness.ts'
import { assertExit0 } from './deploy-helpers.ts'
import { liveMarker, migrate, script, toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-boot'
const t = toolkitTarget(PREFIX, '172.29.44', 29, {
  VERIFY_WINDOW: '2s',
  KEEP_PREVIOUS: '30m',
  SWITCH_MAX_P95_MS: '20000',
})
const publicUrl = `https://127.0.0.1:${t.config.ports.https}`
const previewUrl = `https://127.0.0.1:${t.config.ports.preview}`
const ok = assertExit0
const projects = [`${PREFIX}-prod`, `${PREFIX}-prod-blue`, `${PREFIX}-prod-green`]

/** name -> state of every container of this suite's projects. */
async function states(): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const p of projects) {
    const r = await $({
      quiet: true,
    })`docker ps -a --filter ${`label=com.docker.compose.project=${p}`} --format ${'{{.Names}} {{.State}}'}`
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const [name, state] = line.split(' ')
      out[name!] = state!
    }
  }
  return out
}

async function stopEverything(): Promise<void> {
  const ids = Object.keys(await states())
  await $({ quiet: true })`docker stop -t 5 ${ids}`
  const after = await states()
  assert.ok(
    Object.values(after).every((s) => s === 'exited'),
    `every container stopped: ${JSON.stringify(after)}`,
  )
}

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0', '2.0.0'])
  await upCore(t)
  // 1.0.0 goes live in green, then 2.0.0 in blue: green (1.0.0) stays warm as the previous slot
  ok(await script(t, 'create-green-environment', ['--version', '1.0.0', '--yes']), 'create 1.0.0')
  await migrate(t, 'green', '1.0.0')
  ok(await script(t, 'switch-to-green', ['--yes']), 'switch to green')
  ok(await script(t, 'create-green-environment', ['--version', '2.0.0', '--yes']), 'create 2.0.0')
  await migrate(t, 'blue', '2.0.0')
  ok(await script(t, 'switch-to-green', ['--yes']), 'switch to blue')
  const s = readState(t.paths.state, 'production')
  assert.is(s.live, 'blue')
  assert.equal(s.previous?.slot, 'green')
  assert.is(Object.keys(await states()).length, 11)
})

test.after(async () => {
  await removeProjects(PREFIX)
})

test('with every container stopped: deploy of the live release points to boot, rollback names the stopped release', async () => {
  await stopEverything()
  const deploy = await script(t, 'deploy-production', ['--version', '2.0.0', '--yes'])
  assert.is(deploy.code, 2, deploy.stderr)
  assert.not.match(deploy.stderr, /already live/, deploy.stderr)
  assert.match(
    deploy.stderr,
    /Can't deploy 2\.0\.0: it is the recorded live release of blue, but blue does not run it/,
    deploy.stderr,
  )
  assert.match(deploy.stderr, /npx zx scripts\/boot\.ts/, deploy.stderr)
  const rollback = await script(t, 'rollback-production', ['--dry-run'])
  ok(rollback, 'rollback --dry-run')
  assert.not.match(rollback.stdout, /unknown/, rollback.stdout)
  assert.match(rollback.stdout, /remove 1\.0\.0 \(stopped\) from green/, rollback.stdout)
  assert.ok(
    Object.values(await states()).every((s) => s === 'exited'),
    'nothing was started',
  )
})

test('boot --dry-run shows the plan and starts nothing', async () => {
  const stateBefore = fs.readFileSync(t.paths.state, 'utf8')
  const dry = await script(t, 'boot', ['--dry-run', '--json'])
  ok(dry, 'boot --dry-run')
  const doc = JSON.parse(dry.stdout)
  assert.is(doc.dryRun, true)
  assert.is(doc.core, 'start')
  assert.equal(
    doc.slots.map(
      (s: { slot: string; version: string; role: string; action: string }) =>
        `${s.slot} ${s.version} ${s.role} ${s.action}`,
    ),
    ['blue 2.0.0 live start', 'green 1.0.0 previous start'],
  )
  assert.ok(
    Object.values(await states()).every((s) => s === 'exited'),
    'nothing was started',
  )
  assert.is(fs.readFileSync(t.paths.state, 'utf8'), stateBefore)
})

test('boot brings back the core, the live and the warm previous slot as recorded, confirmed through nginx', async () => {
  const boot = await script(t, 'boot', ['--yes', '--json'], {}, 300_000)
  ok(boot, 'boot')
  const doc = JSON.parse(boot.stdout)
  assert.is(doc.live, 'blue')
  assert.equal(doc.result.started, ['blue', 'green'])
  console.log(`boot: ${doc.result.durationMs} ms, X-Slot confirmed in ${doc.result.confirmMs} ms`)
  const now = await states()
  assert.is(Object.keys(now).length, 11)
  assert.ok(
    Object.values(now).every((s) => s === 'running'),
    JSON.stringify(now),
  )
  // confirmed independently: nginx's public listener answers from blue with 2.0.0, the preview from green with 1.0.0
  for (const p of ['/', '/api/version', '/docs/', '/app/']) {
    const r = await request(`${publicUrl}${p}`)
    assert.is(r.status, 200, `${p}: ${r.status}`)
    assert.is(r.headers['x-slot'], 'blue', p)
  }
  assert.is((await request(`${publicUrl}/api/version`)).headers['x-version'], '2.0.0')
  const warm = await request(`${previewUrl}/api/version`, { headers: { 'X-DMS-Slot': 'green' } })
  assert.is(warm.headers['x-slot'], 'green')
  assert.is(warm.headers['x-version'], '1.0.0')
  assert.is(liveMarker(t), 'blue')
  const audit = readAudit(t.paths.audit, 5).filter((e) => e.action === 'boot')
  assert.equal(
    audit.map((e) => e.outcome),
    ['succeeded'],
  )
  // the instant rollback works again: the warm slot is really warm
  const rollback = await script(t, 'rollback-production', ['--dry-run'])
  assert.match(rollback.stdout, /still warm/)
})

test('boot again: everything runs, nothing is started, the routing is confirmed', async () => {
  const boot = await script(t, 'boot', ['--yes', '--json'])
  ok(boot, 'boot again')
  const doc = JSON.parse(boot.stdout)
  assert.is(doc.core, 'running')
  assert.equal(doc.result.started, [])
  assert.equal(
    doc.slots.map((s: { action: string }) => s.action),
    ['running', 'running'],
  )
})

test('bad input and no terminal: exit 2, saying what to do, nothing changed', async () => {
  const boots = () => readAudit(t.paths.audit, 1000).filter((e) => e.action === 'boot')
  const auditBefore = boots().length
  const cases: Array<[string[], RegExp]> = [
    [['--timeout', 'soon', '--yes'], /Can't read --timeout: "soon" is not a duration/],
    [['--slot', 'green', '--yes'], /Can't read the command line/],
    [['--target', 'staging', '--yes'], /Can't boot staging: boot brings back a blue-green production stack/],
    [[], /--yes/],
  ]
  for (const [args, message] of cases) {
    const r = await script(t, 'boot', args)
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message, `${args.join(' ')}: ${r.stderr}`)
  }
  // only the refusal without a terminal is audited (the plan was made), nothing was started
  const auditAfter = boots()
  assert.is(auditAfter.length, auditBefore + 1)
  assert.is(auditAfter.at(-1)!.outcome, 'refused')
})

test('nothing recorded: boot refuses, exit 2, saying what to do', async () => {
  // a fresh VAR_DIR and env dir (removed when the process exits)
  const empty = toolkitTarget(PREFIX, '172.29.44', 29)
  const r = await script(empty, 'boot', ['--yes'])
  assert.is(r.code, 2, r.stderr)
  assert.match(r.stderr, /Can't boot: the state records no live release/)
  assert.match(r.stderr, /deploy-production\.ts --version/)
})

test.run()
