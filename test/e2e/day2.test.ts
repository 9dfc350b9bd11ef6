// Day-2 scripts on the real stack (core + the green slot in Docker, nginx in front): maintenance
// on and off under keep-alive load (every answer 200 or the 503 page, nothing else), with health
// endpoints, preview and status still working; logs and exec against the running release, secrets
// masked; the gradual-shift bucket cookie of the public listener; down keeping the volumes; the audit log
// rotated (small AUDIT_MAX_BYTES) along the way.
// test-lane: day2 (shares the dmst-day2 prefix, subnet 172.29.48 and ports 33xxx with day2-traffic.test.ts)
import fs from 'node:fs'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { buildImages, removeProjects, request, waitFor } from './harness.ts'
import { assertExit0, startScript, state } from './deploy-helpers.ts'
import { migrate, script, toolkitTarget, upCore } from './toolkit-env.ts'
import { ROOT, removeOnExit } from '../helpers/run.ts'
import { renderGradualSplit } from '../../lib/nginx-render.ts'

const PREFIX = 'dmst-day2'
const VERSION = '1.0.0'
const t = toolkitTarget(PREFIX, '172.29.48', 33, {
  VERIFY_WINDOW: '2s',
  SWITCH_MAX_P95_MS: '20000',
  AUDIT_MAX_BYTES: '3000',
})
const base = `https://127.0.0.1:${t.config.ports.https}`
const q = $({ quiet: true, nothrow: true })
const ok = assertExit0
const secret = t.config.secrets[0]!
const json = (r: { stdout: string }) => JSON.parse(r.stdout)

type Answer = { status: number; retryAfter?: string; body: string; error?: string }

/** Keep-alive GETs on `connections` connections until stopped, every answer kept. */
function keepAliveLoad(paths: string[], connections: number) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false })
  const answers: Answer[] = []
  let stopped = false
  const get = (p: string) =>
    new Promise<Answer>((resolve) => {
      const req = https.get(`${base}${p}`, { agent, timeout: 10_000 }, (res) => {
        let body = ''
        res.on('data', (c) => (body += c))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] as string | undefined }),
        )
        res.on('error', (e) => resolve({ status: 0, body: '', error: e.message }))
      })
      req.on('timeout', () => req.destroy(new Error('timeout')))
      req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }))
    })
  const worker = async (i: number) => {
    for (let n = i; !stopped; n++) answers.push(await get(paths[n % paths.length]!))
  }
  const done = Promise.all(Array.from({ length: connections }, (_, i) => worker(i))).then(() => agent.destroy())
  return { answers, stop: () => (stopped = true), done }
}

const auditEntries = (): Array<Record<string, string>> =>
  fs
    .readdirSync(t.paths.varDir)
    .filter((f) => f.startsWith('audit.log'))
    .sort((a, b) => (a === 'audit.log' ? 1 : b === 'audit.log' ? -1 : a.localeCompare(b)))
    .flatMap((f) => fs.readFileSync(path.join(t.paths.varDir, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l))

test.before(async () => {
  try {
    await setUp()
  } catch (e) {
    // uvu 0.5 reports a throwing before hook only as "0 / N": show why
    console.error(e)
    throw e
  }
})

async function setUp(): Promise<void> {
  await removeProjects(PREFIX)
  await buildImages([VERSION])
  // on this shared host (load 50 on 2 cores) PostgreSQL's 3 s health probe can time out past its
  // start period; it turns healthy again on a later probe: wait for that, then `up --wait` again
  await upCore(t).catch(async () => {
    await waitFor(
      'PostgreSQL healthy again',
      async () => {
        const h = await q`docker inspect --format ${'{{.State.Health.Status}}'} ${`${PREFIX}-prod-postgres-1`}`
        return h.stdout.trim() === 'healthy' ? true : undefined
      },
      180_000,
      1000,
    )
    await upCore(t)
  })
  ok(await script(t, 'create-green-environment', ['--version', VERSION, '--yes']), 'create')
  await migrate(t, 'green', VERSION)
  ok(await script(t, 'switch-to-green', ['--yes']), 'switch to green')
}

test.after(async () => {
  await removeProjects(PREFIX)
})

test('maintenance on and off under keep-alive load: every answer 200 or the 503 page; probes, preview and status keep working', async () => {
  const pageFile = path.join(removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-page-`))), 'page.html')
  const page = `<h1>day2 maintenance ${Date.now()}</h1>\n`
  fs.writeFileSync(pageFile, page)
  // refused without a terminal and --yes; a dry run: nothing changes
  const noYes = await script(t, 'maintenance', ['--on', '--page', pageFile])
  assert.is(noYes.code, 2, noYes.stderr)
  const dry = await script(t, 'maintenance', ['--on', '--page', pageFile, '--dry-run', '--json'])
  ok(dry, 'dry run')
  assert.is(json(dry).dryRun, true)
  assert.is((await request(`${base}/`)).status, 200, 'a dry run and a refusal change nothing')

  const load = keepAliveLoad(['/', '/api/documents?limit=5', '/docs/'], 8)
  const count = (f: (a: Answer) => boolean) => load.answers.filter(f).length
  try {
    await waitFor(
      '200s before maintenance',
      async () => (count((a) => a.status === 200) >= 100 ? true : undefined),
      60_000,
      50,
    )
    ok(await script(t, 'maintenance', ['--on', '--page', pageFile, '--yes']), 'maintenance on')
    await waitFor(
      'the 503 page under load',
      async () => (count((a) => a.status === 503) >= 100 ? true : undefined),
      60_000,
      50,
    )
    // behind the page: health endpoints, preview (with its slot header) and status listener
    assert.is((await request(`${base}/nginx-health`)).status, 200)
    const ready = await request(`${base}/api/ready`)
    assert.is(ready.status, 200, ready.body)
    const preview = await request(`https://127.0.0.1:${t.config.ports.preview}/api/version`, {
      headers: { 'X-DMS-Slot': 'green' },
    })
    assert.is(preview.status, 200)
    assert.is(preview.headers['x-slot'], 'green')
    const live = await request(`http://127.0.0.1:${t.config.ports.status}/live-slot`)
    assert.equal(live.json(), { live: 'green' })
    const health = await script(t, 'health-check', ['--json'])
    const checks = json(health).checks as Array<{ name: string; status: string; detail: string }>
    assert.is(checks.find((c) => c.name === 'maintenance')?.status, 'WARNING', health.stdout.slice(0, 3000))
    // the role probes pass behind the page (a slow answer on this loaded host may be a WARNING, never a 503)
    const roleApi = checks.find((c) => c.name === 'role_api')!
    assert.is.not(roleApi.status, 'CRITICAL', roleApi.detail)
    assert.not.match(roleApi.detail, /503/)
    assert.is(json(await script(t, 'status', ['--json'])).maintenance.on, true)
    const shown = await script(t, 'maintenance', [])
    assert.match(shown.stdout + shown.stderr, /Maintenance is ON/)

    const before = count((a) => a.status === 200)
    ok(await script(t, 'maintenance', ['--off']), 'maintenance off')
    await waitFor(
      '200s after maintenance',
      async () => (count((a) => a.status === 200) >= before + 100 ? true : undefined),
      60_000,
      50,
    )
  } finally {
    load.stop()
    await load.done
  }
  const bad = load.answers.filter(
    (a) => !(a.status === 200 || (a.status === 503 && a.retryAfter === '300' && a.body === page)),
  )
  console.log(
    `maintenance under load: ${load.answers.length} answers, ${count((a) => a.status === 200)} 200, ${count((a) => a.status === 503)} 503 page, ${bad.length} other`,
  )
  assert.is(bad.length, 0, `answers other than 200 or the page: ${JSON.stringify(bad.slice(0, 5))}`)
  assert.is(load.answers.at(-1)?.status, 200, 'the last answer, after --off, is the app')
  assert.is(json(await script(t, 'status', ['--json'])).maintenance.on, false)
  const actions = auditEntries().map((e) => `${e.action}:${e.outcome}`)
  for (const a of ['maintenance-on:refused', 'maintenance-on:done', 'maintenance-off:done'])
    assert.ok(actions.includes(a), `${a} in ${actions.join(' ')}`)
})

test('logs: app services of the live slot prefixed with service and slot, an accessory, --grep, --release, secrets masked, --follow streams', async () => {
  // nginx logs each request line: one that carries the secret in its query reaches the log
  const mark = `day2-probe-${Date.now()}`
  const hit = (p: string) => request(`${base}/${p}`).then((r) => r.status)
  await hit(`${mark}?pw=${encodeURIComponent(secret)}`)
  const lines = await waitFor(
    'the request in the nginx log',
    async () => {
      const r = await script(t, 'logs', ['--service', 'nginx', '--grep', mark, '--json'])
      ok(r, 'logs')
      assert.not.ok(r.stdout.includes(secret), 'the secret never printed')
      const l = json(r).lines as string[]
      return l.length ? l : undefined
    },
    30_000,
    500,
  )
  assert.is(lines.length, 1, lines.join('\n'))
  assert.ok(new RegExp(`^nginx core \\| \\S+ .*GET /${mark}\\?pw=\\*\\*\\*\\* `).test(lines[0]!), lines[0])
  const all = json(await script(t, 'logs', ['--release', VERSION, '--since', '1h', '--json']))
  const services = new Set((all.lines as string[]).map((l) => l.split(' | ')[0]))
  assert.equal([...services].sort(), ['api green', 'docs green', 'frontend green', 'main green'])
  const bad = await script(t, 'logs', ['--release', 'no-such-release'])
  assert.is(bad.code, 2)
  assert.match(bad.stderr, /no slot holds it/)

  const follow = startScript(t, 'logs', ['--service', 'nginx', '--grep', `${mark}-follow`, '--follow'])
  try {
    await waitFor(
      'the followed line',
      async () => {
        await hit(`${mark}-follow`)
        return follow.output().includes('nginx core |') ? true : undefined
      },
      60_000,
      1000,
    )
  } finally {
    process.kill(follow.pid, 'SIGINT')
  }
  const ended = await follow.done
  assert.is(ended.code, 130, ended.stderr)
  assert.match(ended.stdout, new RegExp(`^nginx core \\| \\S+ .*GET /${mark}-follow`, 'm'))
})

test('exec: a one-off container of the live release (removed after), inside a running one, output masked, audited', async () => {
  const one = await script(t, 'exec', ['--json', '--', 'sh', '-c', 'echo "$VERSION $ROLE"; printenv POSTGRES_PASSWORD'])
  ok(one, 'exec one-off')
  const doc = json(one)
  assert.is(doc.mode, 'one-off')
  assert.is(doc.slot, 'green')
  assert.is(doc.stdout.trim(), `${VERSION} api\n****`)
  assert.not.ok(one.stdout.includes(secret))
  const left =
    await q`docker ps -aq --filter ${`label=com.docker.compose.project=${PREFIX}-prod-green`} --filter label=com.docker.compose.oneoff=True`
  assert.is(left.stdout.trim(), '', 'the one-off container is removed')
  const inside = await script(t, 'exec', ['--running', 'docs', '--', 'sh', '-c', 'echo $ROLE $SLOT; exit 3'])
  assert.is(inside.code, 1, 'the command exited 3')
  assert.match(inside.stdout, /^docs green$/m)
  assert.match(inside.stderr, /exited 3/)
  // on a terminal it is interactive (a TTY inside the container): util-linux's script(1) gives it one
  const cmd = `${process.execPath} --import tsx scripts/exec.ts -- sh -c 'test -t 0 && test -t 1 && echo tty-$((20+22))'`
  const onTty = await q({ cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...t.env } })`script -qec ${cmd} /dev/null`
  assert.match(onTty.stdout, /tty-42/, onTty.stdout + onTty.stderr)
  const none = await script(t, 'exec', [])
  assert.is(none.code, 2)
  const execs = auditEntries().filter((e) => e.action === 'exec')
  assert.equal(
    execs.map((e) => e.outcome),
    ['started', 'done', 'started', 'failed', 'started', 'done'],
  )
  assert.match(execs[3]!.detail!, /inside docs of green \(1\.0\.0\): sh -c .*: exit 3/)
  assert.ok(
    execs.every((e) => e.user && e.time && e.command),
    'who, when and what',
  )
})

test('sticky shifts on the DMS stack: the public listener gives a client its bucket in the dms_bucket cookie (GRADUAL_STICKY default), once; preview never', async () => {
  assert.is(
    fs.readFileSync(path.join(t.paths.nginx, 'gradual-split.conf'), 'utf8'),
    renderGradualSplit(t.config.gradualSticky),
    'the generated split follows the config',
  )
  assert.is(t.config.gradualSticky, 'cookie')
  const first = await request(`${base}/api/version`)
  assert.is(first.status, 200)
  const cookie = String(first.headers['set-cookie'])
  assert.match(cookie, /^dms_bucket=b(100|[1-9][0-9]?); Path=\/; Max-Age=86400; HttpOnly; Secure; SameSite=Lax$/)
  const bucket = cookie.split(';')[0]!
  const again = await request(`${base}/api/version`, { headers: { Cookie: bucket } })
  assert.is(again.status, 200)
  assert.is(again.headers['set-cookie'], undefined, 'no new cookie while the bucket comes along')
  const same = await request(`${base}/api/version`)
  assert.is(String(same.headers['set-cookie']).split(';')[0], bucket, 'the same address gets the same bucket')
  const preview = await request(`https://127.0.0.1:${t.config.ports.preview}/api/version`, {
    headers: { 'X-DMS-Slot': 'green' },
  })
  assert.is(preview.status, 200)
  assert.is(preview.headers['set-cookie'], undefined, 'the preview listener sets no bucket')
})

test('down: refused without --yes, dry run changes nothing; then slots and accessories stop, volumes kept; audit rotated whole', async () => {
  const running = async () =>
    (
      await q`docker ps --filter ${`label=com.docker.compose.project`} --format ${'{{.Label "com.docker.compose.project"}}'}`
    ).stdout
      .split('\n')
      .filter((p) => p.startsWith(`${PREFIX}-`)).length
  const n = await running()
  const ps = await q`docker ps -a --filter ${`name=${PREFIX}-`} --format ${'{{.Names}} {{.Status}}'}`
  assert.is(n, 7, `core (3) and green (4) run:\n${ps.stdout}`)
  assert.is((await script(t, 'down', [])).code, 2)
  ok(await script(t, 'down', ['--dry-run']), 'down --dry-run')
  assert.is(await running(), 7)
  const r = await script(t, 'down', ['--yes', '--json'])
  ok(r, 'down')
  assert.equal(json(r).stopped, [`${PREFIX}-prod-blue`, `${PREFIX}-prod-green`, `${PREFIX}-prod`])
  assert.is(await running(), 0)
  const vols = await q`docker volume ls -q --filter ${`label=com.docker.compose.project=${PREFIX}-prod`}`
  assert.ok(vols.stdout.includes('pgdata'), `the database volume is kept: ${vols.stdout}`)
  assert.equal(state(t).slots, { blue: null, green: null })
  const entries = auditEntries()
  assert.ok(entries.some((e) => e.action === 'down' && e.outcome === 'done'))
  assert.ok(entries.some((e) => e.action === 'down' && e.outcome === 'refused'))
  // AUDIT_MAX_BYTES 3000: the log was rotated on the way; rotated files are read-only and whole JSON lines
  const rotated = fs.readdirSync(t.paths.varDir).filter((f) => /^audit\.log\.\d{8}T\d{6}Z/.test(f))
  assert.ok(rotated.length >= 1, `rotated logs: ${rotated.join(', ')}`)
  for (const f of rotated) assert.is(fs.statSync(path.join(t.paths.varDir, f)).mode & 0o777, 0o440)
  assert.not.ok(JSON.stringify(entries).includes(secret), 'no secret in the audit log')
})

test.run()
