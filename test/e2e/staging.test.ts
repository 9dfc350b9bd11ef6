// deploy-staging end to end: a failed pre-deployment check stops before anything changes; then a
// deploy of v1 and of v2 (single slot, with wait, migrations, health validation, smoke tests).
// test-lane: deploy (deploy, deploy-faults and staging share deploy-helpers.ts's dmst-deploy prefix, subnet and ports)
import fs from 'node:fs'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { readState } from '../../lib/state.ts'
import { removeProjects, request } from './harness.ts'
import { PREFIX, V1, V2, buildReleases, deployTarget, startScript, tail } from './deploy-helpers.ts'

const t = deployTarget({ COMPOSE_PROJECT: `${PREFIX}-staging`, VERIFY_WINDOW: '3s' })
const base = `https://127.0.0.1:${t.config.ports.https}`
const staging = (version: string, args: string[] = [], env: Record<string, string> = {}) =>
  startScript(t, 'deploy-staging', ['--version', version, '--yes', ...args], env).done
// an Alertmanager receiver credential configured for staging (ALERT_* pass through from the environment)
const SLACK = 'https://hooks.slack.example/services/T0/B0/staging-e2e'
const slackFile = () => fs.readFileSync(`${t.config.varDir}/secrets/alertmanager_slack_webhook_url`, 'utf8')
const containers = async () => {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`docker ps -aq --filter ${`label=com.docker.compose.project=${PREFIX}-staging`}`
  return r.stdout.split('\n').filter(Boolean).length
}

test.before(async () => {
  await removeProjects(PREFIX)
  await buildReleases()
})

test.after(async () => {
  await removeProjects(PREFIX)
  fs.rmSync(t.config.varDir, { recursive: true, force: true })
})

test('a failed check stops the staging deploy before anything changes (exit 2)', async () => {
  const r = await staging(V1, [], { STAGING_CHECKS: 'node --version; node -e "process.exit(4)"' })
  assert.is(r.code, 2, tail(r))
  assert.match(r.stderr, /the check "node -e process.exit\(4\)" failed \(exit 4\)\. Nothing was changed/)
  assert.is(await containers(), 0)
  assert.is(fs.existsSync(t.paths.state), false)
  const shell = await staging(V1, [], { STAGING_CHECKS: 'echo ok | cat' })
  assert.is(shell.code, 2, tail(shell))
  assert.match(shell.stderr, /"\|" is shell syntax, and checks run without a shell/)
})

test('staging deploys v1 then v2: checks, wait, migrations, health, smoke, record', async () => {
  const r1 = await staging(V1, [], {
    STAGING_CHECKS: 'node --version; node -e "process.exit(0)"',
    ALERT_SLACK_WEBHOOK_URL: SLACK,
  })
  assert.is(r1.code, 0, tail(r1))
  assert.is(slackFile(), SLACK, 'the staging deploy writes the configured Alertmanager receiver credential')
  assert.match(r1.stdout, /Check: node --version/)
  assert.match(r1.stdout, /migrations applied: 001_create_documents\.sql/)
  assert.is((await request(`${base}/api/version`)).headers['x-version'], V1)
  const r2 = await staging(V2, ['--skip-checks'], { ALERT_SLACK_WEBHOOK_URL: SLACK })
  assert.is(r2.code, 0, tail(r2))
  assert.is(slackFile(), SLACK, 'a second staging deploy keeps the credential (no empty file)')
  assert.match(r2.stdout, /migrations applied: 002_add_document_tags\.sql/)
  assert.is((await request(`${base}/api/version`)).headers['x-version'], V2)
  const s = readState(t.paths.state, 'staging')
  assert.is(s.live, 'blue')
  assert.is(s.slots.blue?.version, V2)
  assert.equal(
    s.history.filter((h) => h.action === 'deploy').map((h) => `${h.version} ${h.outcome}`),
    [`${V1} succeeded`, `${V2} succeeded`],
  )
  console.log(`  staging deploys: ${(r1.ms / 1000).toFixed(1)}s, ${(r2.ms / 1000).toFixed(1)}s`)
})

test.run()
