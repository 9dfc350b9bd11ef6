// The plans of the day-2 scripts (maintenance, logs, exec, down) compared as values, the audit
// log's retention on a temp directory, and the nginx snippet that gives the maintenance marker
// its meaning, included by the public server only.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../../lib/config.ts'
import { accessoriesComposeFile, slotComposeFile } from '../../../lib/generated-compose.ts'
import { parseFlags } from '../../../lib/cli.ts'
import { emptyState, type DeployState } from '../../../lib/model.ts'
import {
  DEFAULT_PAGE,
  applyMaintenance,
  evaluateMaintenance,
  loadPage,
  planMaintenance,
  readMaintenance,
} from '../../../lib/day2/maintenance.ts'
import { chooseSlot, formatLine, lineSplitter, planLogs } from '../../../lib/day2/logs.ts'
import { describeExec, planExec } from '../../../lib/day2/exec.ts'
import { planDown, recordDown } from '../../../lib/day2/down.ts'
import { auditRetention } from '../../../lib/day2/settings.ts'
import { expiredRotations, rotateAuditIfDue, rotatedName, rotationDue } from '../../../lib/audit-rotate.ts'
import { ToolkitError, EXIT } from '../../../lib/errors.ts'
import { ROOT, removeOnExit, tempEnvDir } from '../../helpers/run.ts'

// a runtime directory of its own: the core's generated accessories file is written there (and merged with -f)
const config = loadConfig({
  target: 'production',
  env: { DMS_ENV_DIR: tempEnvDir(), VAR_DIR: removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), 'dms-day2-var-'))) },
  generateSecrets: true,
})
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dms-day2-unit-'))
const mask = (s: string) => s.split('s3cr3t-value').join('****')

function state(blue: string | null, green: string | null): DeployState {
  const s = emptyState('production')
  const rel = (slot: 'blue' | 'green', version: string) => ({ version, slot, deployedAt: '', deployedBy: 'unit' })
  s.slots = { blue: blue ? rel('blue', blue) : null, green: green ? rel('green', green) : null }
  s.live = 'blue'
  return s
}

function refused(fn: () => unknown, re: RegExp): void {
  try {
    fn()
    assert.unreachable('should have thrown')
  } catch (e) {
    assert.instance(e, ToolkitError)
    assert.is((e as ToolkitError).exitCode, EXIT.REFUSED)
    assert.match((e as Error).message, re)
  }
}

// ---------------------------------------------------------------- maintenance

test('maintenance: the plan writes the marker when off, replaces it when on, removes it only when on', () => {
  const off = { on: false, since: null, bytes: 0 }
  const on = { on: true, since: '2026-12-02T00:00:00.000Z', bytes: 10 }
  const up = planMaintenance('production', '/v/live', true, off, 'built-in page')
  assert.is(up.file, '/v/live/.maintenance')
  assert.ok(up.change)
  assert.match(up.steps[0]!, /write the marker .*503 with Retry-After 300 s/)
  assert.match(planMaintenance('production', '/v/live', true, on, 'x.html').steps[0]!, /replace the page/)
  const down = planMaintenance('production', '/v/live', false, on, '')
  assert.ok(down.change)
  assert.match(down.steps[0]!, /remove the marker/)
  const nothing = planMaintenance('production', '/v/live', false, off, '')
  assert.is(nothing.change, false)
  assert.equal(nothing.steps, [])
})

test('maintenance: the page then the marker, written whole; off removes the marker only; health WARNING while on', () => {
  const live = tmp()
  const plan = planMaintenance('production', live, true, readMaintenance(live), 'built-in page')
  applyMaintenance(plan, DEFAULT_PAGE)
  const st = readMaintenance(live)
  assert.is(st.on, true)
  assert.is(st.bytes, Buffer.byteLength(DEFAULT_PAGE), "the page's size")
  assert.is(fs.readFileSync(path.join(live, '.maintenance.html'), 'utf8'), DEFAULT_PAGE)
  assert.equal(fs.readdirSync(live).sort(), ['.maintenance', '.maintenance.html'], 'no temp file left')
  const warn = evaluateMaintenance(st)
  assert.is(warn.status, 'WARNING')
  assert.match(warn.detail, /maintenance\.ts --off/)
  applyMaintenance(planMaintenance('production', live, false, st, ''), '')
  assert.is(readMaintenance(live).on, false)
  // a request that saw the marker just before it went still finds the page (nginx's try_files)
  assert.equal(fs.readdirSync(live), ['.maintenance.html'], 'the page outlives the marker')
  assert.is(evaluateMaintenance(readMaintenance(live)).status, 'OK')
  fs.rmSync(live, { recursive: true })
})

test('maintenance: a page file is read; a missing or empty one is refused naming the fix', () => {
  const dir = tmp()
  fs.writeFileSync(path.join(dir, 'page.html'), '<h1>back soon</h1>')
  assert.equal(loadPage('page.html', dir), { page: '<h1>back soon</h1>', source: path.join(dir, 'page.html') })
  assert.is(loadPage(undefined, dir).page, DEFAULT_PAGE)
  refused(() => loadPage('nope.html', dir), /Can't use the maintenance page nope\.html: no such file/)
  fs.writeFileSync(path.join(dir, 'empty.html'), '  \n')
  refused(() => loadPage('empty.html', dir), /it is empty/)
  fs.rmSync(dir, { recursive: true })
})

test('maintenance: only the public server includes the snippet; it spares the health endpoints', () => {
  const conf = (f: string) => fs.readFileSync(path.join(ROOT, 'nginx', f), 'utf8')
  const include = 'include /etc/nginx/repo/snippets/maintenance.conf;'
  assert.ok(conf('conf.d/20-public.conf').includes(include))
  for (const f of ['conf.d/30-preview.conf', 'conf.d/40-http.conf', 'conf.d/50-status.conf'])
    assert.not.ok(conf(f).includes('maintenance'), `${f} must keep working in maintenance`)
  const snippet = conf('snippets/maintenance.conf')
  assert.match(snippet, /if \(-f \/etc\/nginx\/live\/\.maintenance\)/)
  assert.match(snippet, /Retry-After 300 always/)
  assert.match(snippet, /try_files \/\.maintenance\.html =503;/, 'the page is its own file, not the marker')
  const exempt = /\^\/\(\(api\|docs\|app\)\/\)\?\(ready\|health\|live\|version\|nginx-health\)\$/
  assert.match(snippet, exempt)
  const re = new RegExp(/"(\^[^"]+)"/.exec(snippet)![1]!)
  for (const p of ['/ready', '/api/ready', '/docs/health', '/app/version', '/nginx-health']) assert.ok(re.test(p), p)
  for (const p of ['/', '/api/documents', '/api/ready/x', '/readyz']) assert.not.ok(re.test(p), p)
})

// ---------------------------------------------------------------- logs

test('logs: the live slot by default, --slot or the slot of --release; bad choices refused', () => {
  const s = state('1.0.0', '1.1.0')
  assert.equal(chooseSlot({}, s, 'green'), { slot: 'green', version: '1.1.0' })
  assert.equal(chooseSlot({ slot: 'blue' }, s, 'green'), { slot: 'blue', version: '1.0.0' })
  assert.equal(chooseSlot({ release: '1.0.0' }, s, 'green'), { slot: 'blue', version: '1.0.0' })
  refused(() => chooseSlot({ release: '9.9.9' }, s, 'green'), /no slot holds it \(blue: 1\.0\.0, green: 1\.1\.0\)/)
  refused(() => chooseSlot({ slot: 'red' }, s, 'green'), /"red" is not a slot/)
  refused(() => chooseSlot({ slot: 'blue', release: '1.0.0' }, s, 'green'), /both given/)
})

/** pyshop on two app hosts behind lb: web on both, api and the accessory kv on app-2 */
function hostsConfig() {
  const dir = removeOnExit(tmp())
  const pyshop = fs.readFileSync(path.join(ROOT, 'examples/pyshop/app.yaml'), 'utf8').replace(/^ +build: \.\n/gm, '')
  const hosts = [
    'accessories:\n  kv: { image: pyshop/app:1, port: 7000 }',
    'hosts:',
    '  - { name: lb, address: 10.0.0.10, role: balancer }',
    '  - { name: app-1, address: 10.0.0.11, services: [web] }',
    '  - { name: app-2, address: 10.0.0.12, services: [web, api], accessories: [kv] }',
  ]
  fs.writeFileSync(path.join(dir, 'app.yaml'), `${pyshop}\n${hosts.join('\n')}\n`)
  return loadConfig({
    target: 'production',
    env: { DMS_ENV_DIR: tempEnvDir(), VAR_DIR: removeOnExit(tmp()), APP: path.join(dir, 'app.yaml') },
    generateSecrets: true,
  })
}

test('logs with hosts: a slot read on each app host that runs some of it (its instances), an accessory on its host', () => {
  const c = hostsConfig()
  const s = state('v2', 'v1')
  const all = planLogs(c, { tail: 5 }, s, 'blue')
  assert.equal(all.args, [], 'nothing read here')
  const on = (p: ReturnType<typeof planLogs>) => p.hosts?.map((h) => [h.host.name, h.label, h.args.join(' ')])
  assert.equal(on(all), [
    ['app-1', 'blue@app-1', 'compose -p pyshop-blue logs --no-color --timestamps --tail 5 web-1 web-2'],
    ['app-2', 'blue@app-2', 'compose -p pyshop-blue logs --no-color --timestamps --tail 5 web-1 web-2 api'],
  ])
  assert.equal(on(planLogs(c, { service: 'api', slot: 'green' }, s, 'blue')), [
    ['app-2', 'green@app-2', 'compose -p pyshop-green logs --no-color --timestamps api'],
  ])
  assert.equal(on(planLogs(c, { service: 'kv', follow: true }, s, 'blue')), [
    ['app-2', 'core@app-2', 'compose -p pyshop-accessories logs --no-color --timestamps --follow kv'],
  ])
  const ng = planLogs(c, { service: 'nginx' }, s, 'blue')
  assert.is(ng.hosts, undefined, "nginx is the balancer's: read here")
  assert.equal(ng.args.slice(-1), ['nginx'])
})

test('exec with hosts: --running on the first host that runs it or --host, over SSH; a one-off or a wrong host refused (exit 2)', () => {
  const c = hostsConfig()
  const s = state('v2', 'v1')
  const first = planExec(c, { command: ['sh', '-c', 'id'], running: 'web-2', tty: false }, s, 'blue')
  assert.is(first.host?.name, 'app-1')
  assert.equal(first.args, ['compose', '-p', 'pyshop-blue', 'exec', '-T', 'web-2', 'sh', '-c', 'id'])
  assert.match(describeExec(first), /^inside web-2 on app-1 of blue \(v2\): sh -c id$/)
  const named = planExec(c, { command: ['ls'], running: 'web-2', host: 'app-2', slot: 'green', tty: true }, s, 'blue')
  assert.equal([named.host?.name, named.args], ['app-2', ['compose', '-p', 'pyshop-green', 'exec', 'web-2', 'ls']])
  refused(
    () => planExec(c, { command: ['ls'], running: 'api', host: 'app-1', tty: false }, s, 'blue'),
    /in api on app-1: that host does not run it/,
  )
  refused(() => planExec(c, { command: ['ls'], tty: false }, s, 'blue'), /one-off container on the app hosts/)
  refused(
    () =>
      planExec(config, { command: ['ls'], running: 'api', host: 'app-1', tty: false }, state('1.0.0', null), 'blue'),
    /names no app hosts/,
  )
})

test('logs: the exact compose command for app services and for an accessory', () => {
  const s = state('1.0.0', null)
  const p = planLogs(config, { since: '10m', follow: true, tail: 50 }, s, 'blue')
  assert.equal(p.args, [
    'compose',
    '-f',
    slotComposeFile(config, 'blue'),
    '-p',
    'dms-prod-blue',
    'logs',
    '--no-color',
    '--timestamps',
    '--since',
    '10m',
    '--tail',
    '50',
    '--follow',
    'frontend',
    'api',
    'docs',
    'main',
  ])
  assert.is(p.source, 'blue')
  assert.is(p.env.VERSION, '1.0.0')
  const ng = planLogs(config, { service: 'nginx' }, s, 'blue')
  assert.is(ng.source, 'core')
  assert.equal(ng.args.slice(3, 9), ['-f', accessoriesComposeFile(config), '-p', 'dms-prod', '--profile', 'core'])
  assert.equal(ng.args.slice(-1), ['nginx'])
  refused(() => planLogs(config, { service: 'worker' }, s, 'blue'), /no such service/)
  refused(() => planLogs(config, { since: 'yesterday' }, s, 'blue'), /--since: "yesterday" is not a time/)
  refused(() => planLogs(config, { grep: '(' }, s, 'blue'), /Can't read --grep/)
})

test('logs: each line prefixed with service and slot, filtered by --grep, secrets masked', () => {
  const grep = /error/i
  assert.is(
    formatLine('api-1  | 2026-12-02T10:00:00Z started', 'blue', null, mask),
    'api blue | 2026-12-02T10:00:00Z started',
  )
  assert.is(formatLine('api-2  | x', 'green', null, mask), 'api-2 green | x')
  assert.is(
    formatLine('\x1b[2Knginx-1  | GET /', 'core', null, mask),
    'nginx core | GET /',
    'control sequences dropped',
  )
  assert.is(formatLine('api-1  | all fine', 'blue', grep, mask), null)
  assert.is(formatLine('docs-1  | ERROR pw=s3cr3t-value', 'blue', grep, mask), 'docs blue | ERROR pw=****')
  const lines: string[] = []
  const split = lineSplitter((l) => lines.push(l))
  split.push('api-1 | one\napi-1 | t')
  split.push('wo\n\napi-1 | thr')
  split.end()
  assert.equal(lines, ['api-1 | one', 'api-1 | two', 'api-1 | thr'])
})

// ---------------------------------------------------------------- exec

test('exec: a one-off container of the live release by default, or inside a running service', () => {
  const s = state('1.0.0', '1.1.0')
  const p = planExec(config, { command: ['node', '-e', 'console.log(1)'], tty: false }, s, 'green')
  assert.is(p.mode, 'one-off')
  assert.is(p.version, '1.1.0')
  assert.equal(p.args.slice(3), [
    '-p',
    'dms-prod-green',
    '--profile',
    'release',
    'run',
    '--rm',
    '--no-deps',
    '-T',
    'release',
    'node',
    '-e',
    'console.log(1)',
  ])
  assert.is(p.env.VERSION, '1.1.0')
  const r = planExec(config, { command: ['sh'], running: 'api', slot: 'blue', tty: true }, s, 'green')
  assert.equal(r.args.slice(3), ['-p', 'dms-prod-blue', 'exec', 'api', 'sh'])
  assert.is(describeExec(r), 'inside api of blue (1.0.0): sh')
  refused(() => planExec(config, { command: [], tty: false }, s, 'blue'), /none was given/)
  refused(() => planExec(config, { command: ['x'], running: 'worker', tty: false }, s, 'blue'), /no such app service/)
  refused(() => planExec(config, { command: ['x'], tty: false }, state(null, null), 'blue'), /no release is recorded/)
})

test('exec: the command after -- reaches the script; other scripts still refuse stray arguments', () => {
  const spec = { name: 'exec', summary: '', flags: {}, positionals: '<command>' }
  const { positionals } = parseFlags(spec, ['--json', '--', 'psql', '-c', 'select 1'])
  assert.equal(positionals, ['psql', '-c', 'select 1'])
  try {
    parseFlags({ name: 'status', summary: '', flags: {} }, ['stray'])
    assert.unreachable('a stray argument is bad input')
  } catch (e) {
    assert.is((e as ToolkitError).exitCode, EXIT.REFUSED)
  }
})

// ---------------------------------------------------------------- down

test('down: slots first, then the accessories; volumes only with --volumes; state records empty slots', () => {
  const s = state('1.0.0', '1.1.0')
  const keep = planDown(config, s, { volumes: false })
  assert.equal(
    keep.commands.map((c) => c.project),
    ['dms-prod-blue', 'dms-prod-green', 'dms-prod'],
  )
  assert.ok(keep.commands.every((c) => c.args.includes('down') && !c.args.includes('--volumes')))
  assert.match(keep.steps.at(-1)!, /volumes .* backups and VAR_DIR are kept/)
  const wipe = planDown(config, s, { volumes: true })
  assert.ok(wipe.commands.every((c) => c.args.includes('--volumes')))
  assert.match(wipe.steps.at(-1)!, /DELETED; backups .* are kept/)
  const staging = loadConfig({ target: 'staging', env: { DMS_ENV_DIR: tempEnvDir() }, generateSecrets: true })
  assert.equal(
    planDown(staging, emptyState('staging'), { volumes: false }).commands.map((c) => c.project),
    [staging.composeProject],
  )
  s.previous = { slot: 'blue', version: '1.0.0', warmUntil: '' }
  recordDown(s, false)
  assert.equal(s.slots, { blue: null, green: null })
  assert.is(s.previous, null)
  assert.is(s.history.at(-1)?.action, 'down')
})

// ---------------------------------------------------------------- audit retention

const policy = { maxBytes: 1000, maxAgeDays: 30, keepFiles: 2, keepDays: 365 }

test('audit retention: due by size or by the first entry age; settings from the env keys with defaults', () => {
  const now = new Date('2026-12-02T00:00:00Z')
  assert.is(rotationDue({ size: 0, firstEntry: null, now }, policy), null)
  assert.is(rotationDue({ size: 999, firstEntry: '2026-11-20T00:00:00Z', now }, policy), null)
  assert.match(rotationDue({ size: 1000, firstEntry: null, now }, policy)!, /1000 bytes/)
  assert.match(rotationDue({ size: 10, firstEntry: '2026-11-01T00:00:00Z', now }, policy)!, /AUDIT_MAX_AGE_DAYS 30/)
  assert.equal(auditRetention({}), { maxBytes: 10485760, maxAgeDays: 30, keepFiles: 12, keepDays: 365 })
  assert.equal(auditRetention({ AUDIT_MAX_BYTES: '5', AUDIT_KEEP_FILES: '3' }).maxBytes, 5)
  assert.is(rotatedName(new Date('2026-12-02T23:35:18.123Z')), 'audit.log.20261202T233518Z')
  const names = [
    'audit.log',
    'audit.log.20240101T000000Z',
    'audit.log.20261101T000000Z',
    'audit.log.20261201T000000Z',
    'x',
  ]
  assert.equal(expiredRotations(names, now, policy), ['audit.log.20240101T000000Z'])
  assert.equal(expiredRotations(names, now, { ...policy, keepFiles: 1 }), [
    'audit.log.20240101T000000Z',
    'audit.log.20261101T000000Z',
  ])
})

test('audit retention: the full log is renamed whole (read-only, never edited), a new log starts', () => {
  const dir = tmp()
  const file = path.join(dir, 'audit.log')
  const line = `${JSON.stringify({ time: '2026-12-01T00:00:00.000Z', action: 'switch', outcome: 'done' })}\n`
  fs.writeFileSync(file, line.repeat(20))
  const before = fs.readFileSync(file, 'utf8')
  const now = new Date('2026-12-02T00:00:00Z')
  const rotated = rotateAuditIfDue(file, now, policy)
  assert.is(rotated, path.join(dir, 'audit.log.20261202T000000Z'))
  assert.is(fs.readFileSync(rotated!, 'utf8'), before, 'the rotated file is the old log, byte for byte')
  assert.is(fs.statSync(rotated!).mode & 0o777, 0o440)
  assert.not.ok(fs.existsSync(file))
  fs.writeFileSync(file, line)
  assert.is(rotateAuditIfDue(file, now, policy), null, 'a small, young log stays')
  fs.rmSync(dir, { recursive: true })
})

test.run()
