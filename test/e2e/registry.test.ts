// Images from a registry, end to end: Debian's docker-registry on 127.0.0.1:32500 with htpasswd
// auth, the example images pushed into it; deploys pull during planning and run repo@sha256:…; a
// wrong password, a missing tag and the registry stopped in the middle of a pull leave the live
// slot untouched with a clear message; a deploy and a cold rollback under keep-alive load fail no
// request, and the rollback runs the recorded digest after the tag was moved to another image.
// No credential on any command line, output, log or state file.
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { startLoad, summarize } from '../../bench/load.ts'
import { tempEnvDir, type RunResult } from '../helpers/run.ts'
import { V1, V2, V3, assertExit0, buildReleases, deploy, startScript, state, tail } from './deploy-helpers.ts'
import { removeProjects, request, waitFor } from './harness.ts'
import {
  containerImageId,
  containerImages,
  forgetLocal,
  imageId,
  manifestDigest,
  pushAs,
  removeRegistry,
  startRegistry,
  type TestRegistry,
} from './registry-helpers.ts'
import { sampleProcessList } from './security-helpers.ts'
import { toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-reg'
const REG = '127.0.0.1:32500'
const REPO = `${REG}/dms/app`
const PASSWORD = crypto.randomBytes(18).toString('base64url')
const t = toolkitTarget(PREFIX, '172.29.47', 32, {
  DMS_ENV_DIR: tempEnvDir({ '.env.production.local': `REGISTRY_PASSWORD=${PASSWORD}\n` }),
  REGISTRY: REG,
  REGISTRY_USER: 'ci',
  APP_IMAGE: REPO,
  PULL_TIMEOUT: '120s',
  VERIFY_WINDOW: '3s',
  DEPLOY_TIMEOUT: '180s',
  KEEP_PREVIOUS: '30m',
  SMOKE_REQUESTS: '100',
  SMOKE_DURATION_MS: '5000',
  SMOKE_MAX_P95_MS: '5000',
  // the smoke gate is not what this suite tests; at load 30-50 a cold candidate drops 2 of 60 smoke requests.
  // The public traffic under load is held to 0 failed requests below.
  SMOKE_MAX_ERROR_RATE: '0.1',
  SWITCH_MAX_P95_MS: '5000',
  DISK_MIN_FREE_MB: '100',
})
const base = `https://127.0.0.1:${t.config.ports.https}`
const outputs: RunResult[] = []
const sampler = sampleProcessList([PASSWORD], 25)
let reg: TestRegistry
const digests: Record<string, string> = {}

const run = async (r: Promise<RunResult>) => {
  const out = await r
  outputs.push(out)
  return out
}
const stateText = () => fs.readFileSync(t.paths.state, 'utf8')
const coreHealthy = async () => {
  const names = ['nginx', 'postgres', 'redis'].map((n) => `${PREFIX}-prod-${n}-1`)
  const r = await $({ quiet: true, nothrow: true })`docker inspect --format ${'{{.State.Health.Status}}'} ${names}`
  return r.stdout
    .trim()
    .split('\n')
    .every((h) => h === 'healthy') && r.exitCode === 0
    ? true
    : undefined
}
const liveVersion = async () => (await request(`${base}/api/version`)).headers['x-version']

test.before(async () => {
  await removeProjects(PREFIX)
  await buildReleases()
  // the core (nginx, postgres, redis) first: not what this suite tests, and slow to become healthy
  // when other suites load both cores (postgres' healthcheck can run out of retries once)
  await upCore(t).catch(async (e) => {
    console.log(`  core not healthy on the first try (${(e as Error).message.split('\n').pop()}); waiting for it`)
    // a container marked unhealthy turns healthy again at its next passing check
    await waitFor('the core containers to be healthy', coreHealthy, 240_000, 1000)
    return upCore(t)
  })
  reg = await startRegistry(32500, PASSWORD)
  digests.r1 = await pushAs(reg, `dms/app:${V1}`, 'dms/app:r1')
  digests.r2 = await pushAs(reg, `dms/app:${V2}`, 'dms/app:r2')
  // r3: a layer of its own (random bytes), gone from this host, so pulling it takes a while
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-big-`))
  fs.writeFileSync(path.join(ctx, 'big.bin'), crypto.randomBytes(160 * 1024 * 1024))
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM dms/app:${V2}\nCOPY big.bin /big.bin\n`)
  const built = await $({ quiet: true, nothrow: true })`docker build -q -t ${`${PREFIX}/big:r3`} ${ctx}`
  fs.rmSync(ctx, { recursive: true, force: true })
  assert.is(built.exitCode, 0, built.stderr)
  digests.r3 = await pushAs(reg, `${PREFIX}/big:r3`, 'dms/app:r3')
  await $({ quiet: true, nothrow: true })`docker image rm ${`${PREFIX}/big:r3`}`
  await forgetLocal(reg)
})

test.after(async () => {
  await sampler.stop()
  await removeProjects(PREFIX)
  if (reg) await removeRegistry(reg)
  fs.rmSync(t.config.varDir, { recursive: true, force: true })
})

test('first deploy from the registry: pulled during planning, runs and records repo@sha256', async () => {
  const r = await run(deploy(t, 'r1').done)
  assertExit0(r, 'deploy r1')
  assert.match(r.stdout, new RegExp(`Pulling ${REPO}:r1`))
  const s = state(t)
  const pinned = `${REPO}@${digests.r1}`
  assert.equal(s.slots.green?.images, { frontend: pinned, api: pinned, docs: pinned, main: pinned })
  assert.is(await liveVersion(), 'r1')
  const refs = await containerImages(`${PREFIX}-prod-green`, '{{.Config.Image}}')
  assert.is(refs.length, 4)
  assert.equal([...new Set(refs)], [pinned], 'every container was created from the digest')
  const status = await run(startScript(t, 'status', []).done)
  assert.match(status.stdout, new RegExp(`green LIVE +r1 ${digests.r1!.slice(0, 19)} `))
})

test('--dry-run of a deploy shows the image and digest it would run, and changes nothing', async () => {
  const before = stateText()
  const r = await run(deploy(t, 'r2', ['--dry-run']).done)
  assertExit0(r, 'deploy r2 --dry-run')
  assert.match(
    r.stdout,
    new RegExp(`image: pulled ${REPO}:r2 \\(${digests.r2!.slice(0, 19)}, runs ${REPO}@${digests.r2}\\)`),
  )
  assert.match(r.stdout, /Dry run: nothing was changed/)
  assert.is(stateText(), before)
})

const refusedUntouched = async (r: RunResult, code: number, re: RegExp, before: string) => {
  assert.is(r.code, code, tail(r))
  assert.match(r.stderr, re)
  assert.is(stateText(), before, 'the state file is unchanged')
  assert.is(await liveVersion(), 'r1', 'the live slot still serves r1')
  const green = await containerImageId(`${PREFIX}-prod-green`, 'api')
  assert.is(green, await imageId(`dms/app:${V1}`))
}

test('a wrong password: exit 2 naming the registry, nothing changed', async () => {
  const before = stateText()
  const r = await run(deploy(t, 'r3', [], { REGISTRY_PASSWORD: 'wrong-password-4f1c9a' }).done)
  await refusedUntouched(
    r,
    2,
    /Can't log in to registry 127\.0\.0\.1:32500 as ci: the registry refused the credentials/,
    before,
  )
  assert.match(r.stderr, /REGISTRY_PASSWORD in its \.local file/)
})

test('a tag the registry does not have: exit 2 before anything changed', async () => {
  const before = stateText()
  const r = await run(deploy(t, 'r404').done)
  await refusedUntouched(
    r,
    2,
    /Can't use 127\.0\.0\.1:32500\/dms\/app:r404: registry 127\.0\.0\.1:32500 has no such image/,
    before,
  )
})

test('the registry stopped in the middle of a pull: retried, then a clear failure; nothing changed', async () => {
  const before = stateText()
  const logFile = path.join(reg.dir, 'registry.log')
  const logStart = fs.statSync(logFile).size
  const running = deploy(t, 'r3', [], { PULL_ATTEMPTS: '2' })
  // the pull has begun fetching layers once the registry answered a blob request of this run
  await waitFor(
    'the registry to serve a blob of r3',
    async () => (fs.readFileSync(logFile, 'utf8').slice(logStart).includes('/v2/dms/app/blobs/') ? true : undefined),
    120_000,
    20,
  )
  await reg.stop()
  let r: RunResult
  try {
    r = await run(running.done)
  } finally {
    await reg.start()
  }
  await refusedUntouched(
    r,
    1,
    /Can't pull 127\.0\.0\.1:32500\/dms\/app:r3 from registry 127\.0\.0\.1:32500: .* \(after 2 tries\)\. Nothing was changed/,
    before,
  )
  assert.match(r.stderr, /try 2 of 2/, 'a network failure was retried')
})

test('deploy and a cold rollback under load: 0 failed requests; the rollback runs the recorded digest after the tag moved', async () => {
  const load = startLoad({ url: base, connections: 6, durationMs: 10 * 60_000 })
  let sum: ReturnType<typeof summarize>
  try {
    // r2 is on this host since the dry run: the plan uses it without a pull
    const d = await run(deploy(t, 'r2').done)
    assertExit0(d, 'deploy r2')
    assert.match(
      d.stdout,
      new RegExp(`image: use ${REPO}:r2 \\(${digests.r2!.slice(0, 19)}.*already on this host: no pull`),
    )
    assert.is(await liveVersion(), 'r2')
    // move the tag r1 to r2's image, in the registry and on this host; forget r1's digest locally
    await pushAs(reg, `dms/app:${V2}`, 'dms/app:r1')
    await forgetLocal(reg)
    const moved = await $({
      quiet: true,
      nothrow: true,
      env: { ...process.env, DOCKER_CONFIG: reg.dockerConfig },
    })`docker pull ${`${REPO}:r1`}`
    assert.is(moved.exitCode, 0, moved.stderr)
    assert.is(await imageId(`${REPO}:r1`), await imageId(`dms/app:${V2}`), 'the tag r1 now names r2')
    assertExit0(await run(startScript(t, 'retire-previous', ['--now', '--yes']).done), 'retire-previous')
    const rb = await run(startScript(t, 'rollback-production', ['--yes']).done)
    assertExit0(rb, 'rollback')
    assert.match(rb.stdout, new RegExp(`Pulling ${REPO}@${digests.r1}`))
  } finally {
    load.stop()
    sum = summarize(await load.done)
  }
  console.log(`  load: ${sum.requests} requests, ${sum.failed} failed, by slot ${JSON.stringify(sum.bySlot)}`)
  assert.ok(sum.requests > 100, `enough load: ${sum.requests}`)
  assert.is(sum.failed, 0, JSON.stringify(sum.firstFailures))
  assert.is(await liveVersion(), 'r1')
  const live = state(t).live!
  assert.is(
    await containerImageId(`${PREFIX}-prod-${live}`, 'api'),
    await imageId(`dms/app:${V1}`),
    'r1 runs its recorded image, not the moved tag',
  )
})

test('build and push: push-images pushes the release image with its tag and prints the digest; without a registry: exit 2', async () => {
  // the image as CI (or docker build) left it on this host; building the app from scratch takes minutes here
  const tagged = await $({ quiet: true, nothrow: true })`docker tag ${`dms/app:${V3}`} ${`${REPO}:pushed`}`
  assert.is(tagged.exitCode, 0, tagged.stderr)
  const r = await run(startScript(t, 'push-images', ['--version', 'pushed', '--no-build', '--yes']).done)
  assertExit0(r, 'push-images')
  const digest =
    /Pushed 127\.0\.0\.1:32500\/dms\/app:pushed \(sha256:[a-f0-9]{12}\); deploys pin (sha256:[a-f0-9]{64})/.exec(
      r.stdout,
    )?.[1]
  assert.ok(digest, tail(r))
  assert.is(await manifestDigest(reg, 'dms/app', 'pushed'), digest, 'the registry serves the pushed tag at that digest')
  const none = await run(
    startScript(t, 'push-images', ['--version', 'pushed', '--yes'], {
      REGISTRY: '',
      REGISTRY_USER: '',
      APP_IMAGE: 'dms/app',
    }).done,
  )
  assert.is(none.code, 2, tail(none))
  assert.match(none.stderr, /Can't push images: no registry is configured for this target\. Nothing was changed/)
})

test('retention: prune-images removes app images no kept release needs, never a recorded digest', async () => {
  // an image of its own (a label over e2e-d3): the deploy lane runs e2e-d3 at the same time, and prune-images rightly
  // keeps an image a container runs (a CI rehearsal's dry run kept a plain re-tag of e2e-d3 for that reason)
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}-old-`))
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), `FROM dms/app:${V3}\nLABEL dms.test=prune-old\n`)
  const built = await $({ quiet: true, nothrow: true })`docker build -q -t ${`${PREFIX}/old:1`} ${ctx}`
  fs.rmSync(ctx, { recursive: true, force: true })
  assert.is(built.exitCode, 0, built.stderr)
  await pushAs(reg, `${PREFIX}/old:1`, 'dms/app:old')
  await $({ quiet: true, nothrow: true })`docker image rm ${`${PREFIX}/old:1`}`
  const before = stateText()
  const dry = await run(startScript(t, 'prune-images', ['--dry-run']).done)
  assertExit0(dry, 'prune-images --dry-run')
  assert.match(dry.stdout, new RegExp(`remove ${REPO}:old`))
  assert.ok(await imageId(`${REPO}:old`), 'a dry run removes nothing')
  const r = await run(startScript(t, 'prune-images', ['--yes']).done)
  assertExit0(r, 'prune-images')
  assert.is(await imageId(`${REPO}:old`), '', 'the unrecorded image reference is gone')
  for (const v of ['r1', 'r2']) assert.ok(await imageId(`${REPO}@${digests[v]}`), `${v}'s recorded digest stays`)
  assert.is(stateText(), before)
})

test('no credential on any command line, output, log or state file; the login stays in the target DOCKER_CONFIG', async () => {
  const report = await sampler.stop()
  assert.ok(report.samples > 50, `the process list was sampled (${report.samples})`)
  assert.ok(
    [...report.commands].some((c) => c.includes('docker login')),
    'a docker login was seen while sampling',
  )
  assert.equal(report.leaks, [])
  for (const o of outputs) assert.not.ok((o.stdout + o.stderr).includes(PASSWORD), 'the password is in an output')
  assert.not.ok(fs.readFileSync(t.paths.audit, 'utf8').includes(PASSWORD), 'the audit log')
  assert.not.ok(stateText().includes(PASSWORD), 'the state file')
  const own = JSON.parse(fs.readFileSync(path.join(t.config.registry.dockerConfig, 'config.json'), 'utf8'))
  assert.ok(own.auths?.[REG], 'the login is in the target DOCKER_CONFIG')
  const home = path.join(os.homedir(), '.docker', 'config.json')
  const rootConfig = fs.existsSync(home) ? fs.readFileSync(home, 'utf8') : ''
  assert.not.ok(rootConfig.includes(REG), "the login never reached the user's ~/.docker")
})

test.run()
