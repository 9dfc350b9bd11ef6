// The e2e harness removes what a suite made, including volumes whose containers are already gone
// (a `compose down` without -v, as monitoring --down does, left dmst-bg-prod-monitoring_* behind).
import { $ } from 'zx'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fs from 'node:fs'
import { spawnSync } from 'node:child_process'
import { removeProjects } from '../e2e/harness.ts'
import { ROOT } from '../helpers/run.ts'

const PREFIX = 'dmst-restart-cleanup'
const q = $({ quiet: true, nothrow: true })
const volumes = async () =>
  (await q`docker volume ls -q --filter ${`name=${PREFIX}-`}`).stdout.split('\n').filter(Boolean).sort()

test.after(async () => {
  const left = await volumes()
  if (left.length) await q`docker volume rm -f ${left}`
})

test('removeProjects removes the volumes of a project that has no container any more', async () => {
  for (const [project, volume] of [
    [`${PREFIX}-prod-monitoring`, 'prometheus'],
    [`${PREFIX}-prod`, 'pgdata'],
    [`${PREFIX}-other`, 'data'],
  ]) {
    const r =
      await q`docker volume create --label ${`com.docker.compose.project=${project}`} --label com.docker.compose.volume=${volume} ${`${project}_${volume}`}`
    assert.is(r.exitCode, 0, r.stderr)
  }
  assert.equal(await volumes(), [
    `${PREFIX}-other_data`,
    `${PREFIX}-prod-monitoring_prometheus`,
    `${PREFIX}-prod_pgdata`,
  ])
  await removeProjects(PREFIX)
  assert.equal(await volumes(), [])
})

test('a one-off container removed with rm -f -v leaves no anonymous volume', async () => {
  // the probe integration tests run dms/postgres:local and dms/redis:local this way; both images declare a VOLUME
  const name = `${PREFIX}-oneoff`
  const run = await q`docker run -d --name ${name} -v /data dms/base:bookworm sleep 60`
  assert.is(run.exitCode, 0, run.stderr)
  const mounts = (await q`docker inspect --format ${'{{range .Mounts}}{{.Name}} {{end}}'} ${name}`).stdout
    .trim()
    .split(' ')
    .filter(Boolean)
  assert.is(mounts.length, 1)
  await q`docker rm -f -v ${name}`
  assert.is((await q`docker volume inspect ${mounts[0]!}`).exitCode, 1, 'the anonymous volume is gone')
})

test('temp env dirs and VAR_DIRs made for a suite are gone when its process exits', () => {
  const code = [
    "import { tempEnvDir } from './test/helpers/run.ts'",
    "import { toolkitTarget } from './test/e2e/toolkit-env.ts'",
    "const t = toolkitTarget('dmst-restart-cleanup', '172.29.43', 28)",
    'console.log(JSON.stringify([tempEnvDir(), t.env.DMS_ENV_DIR, t.config.varDir]))',
  ].join('\n')
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: ROOT,
    encoding: 'utf8',
  })
  assert.is(r.status, 0, r.stderr)
  const dirs: string[] = JSON.parse(r.stdout.trim().split('\n').pop()!)
  assert.is(dirs.length, 3)
  for (const d of dirs) assert.not.ok(fs.existsSync(d), `${d} is left`)
})

test.run()
