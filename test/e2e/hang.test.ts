// A Docker that stops answering, on a real stack (Docker, Compose, nginx, PostgreSQL, Redis): a
// `docker` first on PATH passes every call to the real one until told to hang (all calls, or
// only `compose … up`), then never answers and ignores SIGTERM. switch-to-green,
// rollback-production, deploy-production and health-check must end within COMMAND_TIMEOUT (plus
// the kill grace and start-up), say "docker did not answer within …", release the lock, leave the
// state and the routing as they were, and leave no process of the fake docker behind.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { KILL_GRACE_MS } from '../../lib/gateway.ts'
import { processesMatching, waitGone } from '../helpers/procs.ts'
import { buildImages, removeProjects, request } from './harness.ts'
import { startScript, state, tail } from './deploy-helpers.ts'
import { liveMarker, toolkitTarget } from './toolkit-env.ts'

const PREFIX = 'dmst-hang'
const V1 = 'e2e-h1'
const V2 = 'e2e-h2'
const V3 = 'e2e-h3'
/** The deadline the hung runs are given (COMMAND_TIMEOUT), and what start-up may add on a busy host. */
const HUNG_TIMEOUT_S = 4
const STARTUP_SLACK_MS = 6000

const hooks = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-hooks-`))
const t = toolkitTarget(PREFIX, '172.29.41', 26, {
  VERIFY_WINDOW: '2s',
  DEPLOY_TIMEOUT: '90s',
  COMMAND_TIMEOUT: '60s',
  SMOKE_REQUESTS: '50',
  SMOKE_DURATION_MS: '2000',
  SMOKE_MAX_P95_MS: '5000',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
  HOOKS_DIR: hooks,
})
const base = `https://127.0.0.1:${t.config.ports.https}`
const liveVersion = async () => (await request(`${base}/api/version`)).headers['x-version']

// the fake docker: its directory carries the tag, so every process of it shows in the process table
const tag = `${PREFIX}-fake-${process.pid}`
const fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`))
const realDocker = (process.env.PATH ?? '')
  .split(':')
  .map((d) => path.join(d, 'docker'))
  .find((f) => fs.existsSync(f))!
fs.writeFileSync(
  path.join(fakeDir, 'docker'),
  `#!/bin/bash
# ${tag}: the real docker until HANG_MATCH (a bash regex) matches the arguments; then it never answers
if [[ -n "$HANG_MATCH" && " $* " =~ $HANG_MATCH ]]; then
  trap '' TERM
  (exec -a ${tag}-grandchild sleep 100000) &
  while :; do sleep 1; done
fi
exec ${realDocker} "$@"
`,
  { mode: 0o755 },
)
const hung = (match: string) => ({
  PATH: `${fakeDir}:${process.env.PATH}`,
  HANG_MATCH: match,
  COMMAND_TIMEOUT: `${HUNG_TIMEOUT_S}s`,
})

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages([V1, V2, V3])
  for (const v of [V1, V2]) {
    const r = await startScript(t, 'deploy-production', ['--version', v, '--yes']).done
    if (r.code !== 0) throw new Error(`the baseline deploy of ${v} failed${tail(r)}`)
  }
})

test.after(async () => {
  for (const pid of processesMatching(tag)) process.kill(pid, 'SIGKILL')
  await removeProjects(PREFIX)
  for (const d of [t.config.varDir, fakeDir, hooks]) fs.rmSync(d, { recursive: true, force: true })
})

/** The world a hung run must leave as it found it. */
function snapshot() {
  return {
    state: fs.readFileSync(t.paths.state, 'utf8'),
    live: liveMarker(t),
    markers: fs.readdirSync(t.paths.live).sort(),
  }
}

const cases: Array<[string, string[], number]> = [
  ['switch-to-green', ['--yes'], 1],
  ['rollback-production', ['--yes'], 1],
  ['deploy-production', ['--version', V3, '--yes'], 2],
]

for (const [script, args, exitCode] of cases) {
  test(`${script} with a docker that never answers: ends within COMMAND_TIMEOUT, says so, changes nothing, leaves no child`, async () => {
    assert.is(await liveVersion(), V2, 'the baseline serves the last release')
    const before = snapshot()
    const r = await startScript(t, script, args, hung('.')).done
    console.log(`  ${script} with a hung docker: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`)
    assert.is(r.code, exitCode, tail(r))
    assert.match(r.stderr, new RegExp(`Can't [^\\n]*: docker did not answer within ${HUNG_TIMEOUT_S} s`), tail(r))
    assert.ok(r.ms < HUNG_TIMEOUT_S * 1000 + KILL_GRACE_MS + STARTUP_SLACK_MS, `ended in ${r.ms} ms`)
    assert.not.ok(fs.existsSync(t.paths.lock), 'the deploy lock was released')
    assert.equal(snapshot(), before, 'state, live marker and gradual markers are as they were')
    assert.is(await liveVersion(), V2, 'the live release still serves')
    assert.equal(await waitGone(tag, 3000), [], 'no process of the fake docker is left')
  })
}

test('health-check with a docker that never answers: ends within its deadline, the container checks UNKNOWN naming docker', async () => {
  const r = await startScript(t, 'health-check', ['--timeout', '10s', '--json'], hung('.')).done
  console.log(`  health-check with a hung docker: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`)
  const report = JSON.parse(r.stdout) as {
    exitCode: number
    checks: Array<{ name: string; status: string; detail: string }>
  }
  const check = (name: string) => report.checks.find((c) => c.name === name)!
  for (const name of ['containers', 'drift', 'slot_blue', 'slot_green']) {
    assert.is(check(name).status, 'UNKNOWN', name)
    assert.match(check(name).detail, /Can't list the containers: docker did not answer within 4 s/, name)
  }
  assert.match(check('public_https').detail, /^200 in/, 'what does not need docker is still checked')
  // the overall status also reflects this shared host's load and latency: UNKNOWN, or worse
  assert.is(r.code, report.exitCode)
  assert.not.equal(r.code, 0)
  assert.ok(r.ms < 10_000 + STARTUP_SLACK_MS, `ended in ${r.ms} ms`)
  assert.equal(await waitGone(tag, 3000), [])
})

test('deploy-production whose compose up hangs mid-deploy: fails within DEPLOY_TIMEOUT + COMMAND_TIMEOUT, live untouched, lock released', async () => {
  const before = snapshot()
  const deployTimeoutS = 10
  const r = await startScript(
    t,
    'deploy-production',
    ['--version', V3, '--yes', '--timeout', `${deployTimeoutS}s`],
    hung(' up '),
  ).done
  console.log(`  deploy-production with a hung compose up: exit ${r.code} after ${(r.ms / 1000).toFixed(1)} s`)
  assert.is(r.code, 1, tail(r))
  // the wait is what is left of --timeout when compose up starts, plus COMMAND_TIMEOUT
  const said = new RegExp(`Can't start ${V3} in green: docker did not answer within ([\\d.]+) s`).exec(r.stderr)
  assert.ok(said, `names the hung docker${tail(r)}`)
  const deadlineS = Number(said![1])
  assert.ok(deadlineS > HUNG_TIMEOUT_S && deadlineS <= deployTimeoutS + HUNG_TIMEOUT_S, `deadline ${deadlineS} s`)
  assert.ok(
    r.ms < (deployTimeoutS + HUNG_TIMEOUT_S) * 1000 + KILL_GRACE_MS + 30_000,
    `ended in ${r.ms} ms (the steps before the hang included)`,
  )
  assert.match(
    r.stderr,
    /Can't remove slot green: docker did not answer .* earlier in this run, so it was not asked again/,
    'the cleanup did not wait a second deadline',
  )
  assert.not.ok(fs.existsSync(t.paths.lock), 'the deploy lock was released')
  const after = state(t)
  assert.is(after.live, JSON.parse(before.state).live, 'the live slot in the state is unchanged')
  assert.equal(liveMarker(t), before.live)
  assert.is(await liveVersion(), V2, 'the live release still serves')
  assert.equal(await waitGone(tag, 3000), [], 'no process of the fake docker is left')
})

test.run()
