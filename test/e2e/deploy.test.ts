// deploy-production end to end with real Docker, nginx, PostgreSQL and Redis: a first deploy on a
// bare target, then v2 and v3 (a migration adding a column) under continuous load with zero
// failed requests and every document written during the deploys still there; a second deploy
// while one runs (exit 3); a failing pre-deploy hook; a release whose smoke test fails.
// test-lane: deploy (deploy, deploy-faults and staging share deploy-helpers.ts's dmst-deploy prefix, subnet and ports)
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startLoad, summarize, type LoadRecord } from '../../bench/load.ts'
import { listBackups } from '../../lib/db.ts'
import { removeProjects, request } from './harness.ts'
import {
  NET,
  PREFIX,
  V1,
  V2,
  V3,
  buildReleases,
  deploy,
  deployTarget,
  hookLog,
  hooksDir,
  sql,
  startScript,
  state,
  tail,
} from './deploy-helpers.ts'

const t = deployTarget()
const base = `https://127.0.0.1:${t.config.ports.https}`
const t0 = Date.now()
const since = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`

test.before(async () => {
  await removeProjects(PREFIX)
  await buildReleases()
  console.log(`  images ready at ${since()}`)
})

test.after(async () => {
  await removeProjects(PREFIX)
  fs.rmSync(t.config.varDir, { recursive: true, force: true })
})

const liveVersion = async () => (await request(`${base}/api/version`)).headers['x-version']

test('first deploy on a bare target: core started, backup, migrations, switch, record, hooks, metrics', async () => {
  const r = await deploy(t, V1).done
  assert.is(r.code, 0, tail(r))
  console.log(`  first deploy of ${V1}: ${(r.ms / 1000).toFixed(1)}s`)
  const s = state(t)
  assert.is(s.live, 'green', 'the first release goes to the idle slot (blue is the default marker)')
  assert.is(s.slots.green?.version, V1)
  assert.is(s.pending, null)
  assert.is(await liveVersion(), V1)
  const backups = listBackups(t.paths.backups)
  assert.is(backups.length, 1)
  assert.is(fs.statSync(backups[0]!.file).mode & 0o777, 0o600)
  assert.ok(backups[0]!.bytes > 0)
  assert.is(await sql(t, "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"), '001')
  // the smoke's document round trip, manifest data now (examples/dms/app.yaml: create, then read, delete and
  // gone by {json:id}): green's api counted one delete, and the smoke left no document behind
  const metrics = await request(`http://${NET}.22:8080/metrics`)
  assert.match(metrics.body, /^dms_documents_deleted_total(\{[^}]*\})? 1$/m)
  assert.is(await sql(t, "SELECT count(*) FROM documents WHERE title = 'smoke'"), '0')
  const log = hookLog(t.env.HOOKS_DIR!)
  assert.equal(log, [
    `pre-deploy ${V1} green blue production pending`,
    `post-deploy ${V1} green blue production succeeded`,
  ])
  const prom = fs.readFileSync(path.join(t.paths.metrics, 'deploy.prom'), 'utf8')
  assert.match(prom, /dms_deploy_total\{target="production",outcome="succeeded"\} 1\n/)
  assert.match(prom, /dms_deploy_in_progress\{target="production"\} 0\n/)
  assert.match(prom, /dms_live_slot\{target="production",slot="green"\} 1\n/)
  assert.match(prom, /dms_deploy_duration_seconds\{target="production"\} \d/)
  assert.ok(fs.readFileSync(t.paths.audit, 'utf8').includes('"action":"deploy","outcome":"succeeded"'))
})

test('the plan is shown with --dry-run and nothing changes', async () => {
  const before = fs.readFileSync(t.paths.state, 'utf8')
  const r = await deploy(t, V2, ['--dry-run']).done
  assert.is(r.code, 0, tail(r))
  assert.match(r.stdout, /002_add_document_tags\.sql/, 'the pending migration is listed')
  assert.match(r.stdout, /back up postgres with .*pg_dump .*--format=custom/, 'the backup step of the recipe')
  assert.match(r.stdout, /Dry run: nothing was changed/)
  assert.is(fs.readFileSync(t.paths.state, 'utf8'), before)
})

test('v2 then v3 under continuous load: zero failed requests, every document written is kept; a second deploy is refused (exit 3)', async () => {
  const docsBefore = Number(await sql(t, "SELECT count(*) FROM documents WHERE title LIKE 'load %'"))
  const load = startLoad({ url: base, connections: 6, durationMs: 10 * 60_000, postRatio: 0.2 })
  let records: LoadRecord[] = []
  try {
    const first = deploy(t, V2)
    await first.waitOutput(/Starting e2e-d2 in blue/)
    const second = await deploy(t, V3).done
    assert.is(second.code, 3, tail(second))
    assert.match(second.stderr, new RegExp(`another deploy holds it: pid ${first.pid}`))
    const r2 = await first.done
    assert.is(r2.code, 0, tail(r2))
    assert.is(state(t).live, 'blue')
    assert.is(await liveVersion(), V2)
    assert.is(state(t).previous?.version, V1, 'the old slot stays warm')
    const r3 = await deploy(t, V3).done
    assert.is(r3.code, 0, tail(r3))
    assert.match(
      r3.stdout,
      /remove green \(now e2e-d1; drained first\)/,
      'the warm previous slot is replaced, as the plan says',
    )
    console.log(`  deploys of ${V2} and ${V3}: ${(r2.ms / 1000).toFixed(1)}s, ${(r3.ms / 1000).toFixed(1)}s`)
  } finally {
    load.stop()
    records = await load.done
  }
  const sum = summarize(records)
  console.log(`  load: ${sum.requests} requests, ${sum.failed} failed, by slot ${JSON.stringify(sum.bySlot)}`)
  assert.ok(sum.requests > 200, `enough load: ${sum.requests}`)
  assert.is(sum.failed, 0, `failed requests: ${JSON.stringify(sum.firstFailures)}`)
  assert.ok((sum.bySlot.green ?? 0) > 0 && (sum.bySlot.blue ?? 0) > 0, 'the load saw both slots')
  const written = records.filter((r) => r.method === 'POST' && r.status === 201).length
  assert.ok(written > 10, `documents written during the deploys: ${written}`)
  const docsAfter = Number(await sql(t, "SELECT count(*) FROM documents WHERE title LIKE 'load %'"))
  assert.is(docsAfter - docsBefore, written, 'every document written during the deploys is there')
  assert.is(await sql(t, "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"), '001,002,003')
  assert.is(
    await sql(
      t,
      "SELECT count(*) FROM information_schema.columns WHERE table_name = 'documents' AND column_name = 'summary'",
    ),
    '1',
  )
  assert.is(state(t).live, 'green')
  assert.is(await liveVersion(), V3)
  assert.is(listBackups(t.paths.backups).length, 3)
})

test('a failing pre-deploy hook stops the deploy with nothing changed (exit 2)', async () => {
  const hooks = hooksDir({ 'pre-deploy': 'echo "change freeze" >&2; exit 1' })
  const before = fs.readFileSync(t.paths.state, 'utf8')
  const backups = listBackups(t.paths.backups).length
  const r = await deploy(t, V2, [], { HOOKS_DIR: hooks }).done
  assert.is(r.code, 2, tail(r))
  assert.match(r.stderr, /pre-deploy hook failed \(exit 1\)\. Nothing was changed/)
  assert.match(r.stdout, /change freeze/)
  assert.is(fs.readFileSync(t.paths.state, 'utf8'), before)
  assert.is(listBackups(t.paths.backups).length, backups)
  assert.equal(hookLog(hooks), [`pre-deploy ${V2} blue green production pending`])
})

test('a release whose smoke test fails is never switched to; live traffic is untouched', async () => {
  const hooks = hooksDir()
  const load = startLoad({ url: base, connections: 4, durationMs: 5 * 60_000 })
  let r: Awaited<ReturnType<typeof deploy>['done']>
  try {
    // the candidate answers 500 to everything 30 s after it starts: healthy when created, failing
    // during the smoke load (which may run up to 90 s and stops once over its error budget)
    r = await deploy(t, V2, [], {
      HOOKS_DIR: hooks,
      APP_FAIL_AFTER_MS: '30000',
      SMOKE_REQUESTS: '100000',
      SMOKE_DURATION_MS: '90000',
    }).done
  } finally {
    load.stop()
  }
  const sum = summarize(await load.done)
  assert.is(r.code, 1, tail(r))
  assert.match(r.stderr, /smoke tests failed \(/)
  assert.match(r.stderr, /The candidate was removed; green keeps serving/)
  assert.is(sum.failed, 0, JSON.stringify(sum.firstFailures))
  assert.equal(Object.keys(sum.bySlot), ['green'], 'never switched to')
  const s = state(t)
  assert.is(s.live, 'green')
  assert.is(s.slots.blue, null)
  assert.is(s.pending, null)
  assert.is(await liveVersion(), V3)
  assert.equal(
    hookLog(hooks).map((l) => l.split(' ')[0]),
    ['pre-deploy', 'on-failure'],
  )
  const prom = fs.readFileSync(path.join(t.paths.metrics, 'deploy.prom'), 'utf8')
  assert.match(prom, /dms_deploy_total\{target="production",outcome="failed"\} 1\n/)
})

test('rollback-production --restore-db asks, rolls back, and restores the backup taken before the live release', async () => {
  const after = await request(`${base}/api/documents`, { method: 'POST', body: { title: 'written after the backup' } })
  assert.is(after.status, 201)
  const noTty = await startScript(t, 'rollback-production', ['--restore-db']).done
  assert.is(noTty.code, 2, tail(noTty))
  assert.match(noTty.stderr, /no terminal to ask on\. Nothing was changed/)
  const r = await startScript(t, 'rollback-production', ['--restore-db', '--yes']).done
  assert.is(r.code, 0, tail(r))
  assert.match(
    r.stdout,
    new RegExp(
      `restore the database from dms-\\d{8}T\\d{6}Z-before-${V3}\\.dump, taken .*: every write since then is lost`,
    ),
  )
  assert.match(r.stderr, /Every write since then will be lost/)
  assert.is(await liveVersion(), V2)
  assert.is(await sql(t, "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"), '001,002')
  assert.is(await sql(t, "SELECT count(*) FROM documents WHERE title = 'written after the backup'"), '0')
  assert.ok(fs.readFileSync(t.paths.audit, 'utf8').includes('"action":"restore-db","outcome":"succeeded"'))
})

test.run()
