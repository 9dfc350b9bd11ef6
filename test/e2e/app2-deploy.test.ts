// test-lane: app3
// The acceptance test of issue #14: the toolkit's SCRIPTS deploy the second example (examples/pyshop: Python's
// standard library, web x2 and api, no database, no release command, no special headers) from its manifest,
// with no change to lib/ for it. Under continuous keep-alive load through the public listener: deploy-production
// --app (a first release, then a second), create-green-environment --replace, switch-to-green, switch-to-green
// --gradual, rollback-production: 0 failed requests; each step's slot and release read from the headers nginx
// adds (X-Deploy-Slot, X-Deploy-Version); the core runs nginx alone (no postgres or redis container).
// Prefix dmst-app3, subnet 172.29.51, ports 36xxx.
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { readState } from '../../lib/state.ts'
import { BASE_IMAGE, buildOne, removeProjects, REPO, request, waitFor } from './harness.ts'
import { keepAliveLoad, type Load } from './keepalive-load.ts'
import { PYSHOP_VERSIONS } from './pyshop-stack.ts'
import { startScript } from './deploy-helpers.ts'
import { script, toolkitTarget } from './toolkit-env.ts'

const PREFIX = 'dmst-app3'
const [A1, A2] = PYSHOP_VERSIONS
/** a third release: the second's image under another tag (the app reports VERSION, which the toolkit sets) */
const A3 = 'e2e-a3'
const t = toolkitTarget(PREFIX, '172.29.51', 36, {
  APP: 'examples/pyshop',
  APP_IMAGE: 'pyshop/app',
  GRADUAL_STICKY: 'request',
  VERIFY_WINDOW: '3s',
  DEPLOY_TIMEOUT: '90s',
  KEEP_PREVIOUS: '30m',
  SMOKE_REQUESTS: '100',
  SMOKE_DURATION_MS: '8000',
  SMOKE_MAX_P95_MS: '5000',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
})
const https = (p: string) => `https://127.0.0.1:36443${p}`
const preview = (p: string) => `https://127.0.0.1:36444${p}`
const sh = $({ nothrow: true, quiet: true })

/** what answered, by the headers nginx adds and the app's own body */
async function served(url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { headers })
  const json = r.status === 200 && String(r.headers['content-type']).startsWith('application/json')
  const body = json ? (r.json() as { version?: string }) : {}
  return { status: r.status, slot: r.headers['x-deploy-slot'], release: r.headers['x-deploy-version'], body }
}

/** polls the public listener until 10 answers in a row come from `slot` with release `version` */
async function waitServed(slot: string, version: string): Promise<void> {
  await waitFor(`the public listener to serve ${slot} ${version}`, async () => {
    for (let i = 0; i < 10; i++) {
      const a = await served(https(i % 2 ? '/api/items' : '/'))
      if (a.status !== 200 || a.slot !== slot || a.release !== version || a.body.version !== version) return undefined
    }
    return true
  })
}

/** runs a script with --yes; it must exit 0 */
async function ok(name: string, args: string[]): Promise<string> {
  const r = await script(t, name, [...args, '--yes'])
  assert.is(r.code, 0, `${name} ${args.join(' ')}: ${r.stderr.slice(-2000)}`)
  return r.stderr
}

/** compose services of every container of this suite's projects, as "<project>/<service>" */
async function containers(): Promise<string[]> {
  const format = '{{.Label "com.docker.compose.project"}}/{{.Label "com.docker.compose.service"}}'
  const r = await sh`docker ps -a --filter label=com.docker.compose.project --format ${format}`
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith(`${PREFIX}-`))
    .sort()
}

let load: Load | undefined

test.before(async () => {
  await removeProjects(PREFIX)
  for (const v of [A1, A2]) await buildOne(`pyshop/app:${v}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
  const tag = await sh`docker tag ${`pyshop/app:${A2}`} ${`pyshop/app:${A3}`}`
  assert.is(tag.exitCode, 0, tag.stderr)
  await buildOne('dms/nginx:local', path.join(REPO, 'compose/images/nginx'), { BASE_IMAGE })
})

test.after(async () => {
  await load?.stop()
  await removeProjects(PREFIX)
  await sh`docker image rm ${`pyshop/app:${A3}`}`
})

test('pyshop through the scripts: deploy twice, create --replace, switch, gradual, rollback under load, 0 failed', async () => {
  // a first release of an app without a database: the plan says so, the core is nginx alone
  const dry = await script(t, 'deploy-production', ['--app', 'examples/pyshop', '--version', A1, '--dry-run'])
  assert.is(dry.code, 0, dry.stderr)
  for (const step of ['no backup: the app has no accessory with a backup recipe', 'no migrations: the app has'])
    assert.ok(dry.stdout.includes(step) || dry.stderr.includes(step), `${step}\n${dry.stdout}${dry.stderr}`)
  await ok('deploy-production', ['--app', 'examples/pyshop', '--version', A1])
  await waitServed('green', A1)
  assert.equal(
    (await containers()).filter((c) => !c.includes('-prod-green/')),
    [`${PREFIX}-prod/nginx`],
    'the core runs nginx alone',
  )

  load = keepAliveLoad(https, 6)
  await waitFor('the load to get going', async () => (load!.counts.ok > 100 ? true : undefined))

  // a second release: the idle slot, switched to after the manifest's smoke checks
  await ok('deploy-production', ['--app', 'examples/pyshop', '--version', A2])
  await waitServed('blue', A2)
  assert.is(readState(t.paths.state, 'production').slots.green?.version, A1, 'the previous release stays warm')

  // a third into the warm slot (--replace), reached through the preview listener before any switch
  await ok('create-green-environment', ['--version', A3, '--replace'])
  const candidate = await served(preview('/api/items'), { 'X-DMS-Slot': 'green' })
  assert.equal([candidate.status, candidate.slot, candidate.release, candidate.body.version], [200, 'green', A3, A3])
  const ready = await served(preview('/__deploy/ready/web'), { 'X-DMS-Slot': 'green' })
  assert.equal([ready.status, ready.slot, ready.release], [200, 'green', A3], "web's readiness path through nginx")
  await waitServed('blue', A2)

  await ok('switch-to-green', [])
  await waitServed('green', A3)

  // a gradual shift back to blue (A2, warm): both slots serve the load while it runs
  const before = { ...load.counts.bySlot }
  const gradual = startScript(t, 'switch-to-green', ['--gradual', '25,50,100', '--step', '3s', '--yes'])
  let ended = false
  void gradual.done.then(() => (ended = true))
  await waitFor('both slots to serve during the gradual shift', async () => {
    const now = load!.counts.bySlot
    if (ended) throw new Error(`switch-to-green --gradual ended first: ${gradual.output().slice(-2000)}`)
    return (now.blue ?? 0) > (before.blue ?? 0) && (now.green ?? 0) > (before.green ?? 0) ? true : undefined
  })
  const g = await gradual.done
  assert.is(g.code, 0, g.stderr.slice(-2000))
  await waitServed('blue', A2)

  // rollback: back to the previous release, still warm in green
  await ok('rollback-production', [])
  await waitServed('green', A3)
  const state = readState(t.paths.state, 'production')
  assert.equal([state.live, state.slots.green?.version, state.slots.blue?.version], ['green', A3, A2])

  await load.stop()
  const c = load.counts
  console.log(`  load: ${c.ok} ok, ${c.failed} failed, by slot ${JSON.stringify(c.bySlot)}`)
  assert.is(c.failed, 0, c.errors.slice(0, 5).join('; '))
  assert.ok(c.ok > 0 && (c.bySlot.blue ?? 0) > 0 && (c.bySlot.green ?? 0) > 0, JSON.stringify(c))
  load = undefined

  // every container of the suite: nginx and the two slots' services; no postgres, no redis
  const all = await containers()
  assert.equal(all, [
    `${PREFIX}-prod-blue/api`,
    `${PREFIX}-prod-blue/web-1`,
    `${PREFIX}-prod-blue/web-2`,
    `${PREFIX}-prod-green/api`,
    `${PREFIX}-prod-green/web-1`,
    `${PREFIX}-prod-green/web-2`,
    `${PREFIX}-prod/nginx`,
  ])
})

test.run()
