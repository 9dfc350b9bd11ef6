// Files under fault, on a real production core (nginx, PostgreSQL, Redis; prefix dmst-files,
// subnet 172.29.42, ports 27xxx): a database backup that fills its disk (a small tmpfs mounted on
// VAR_DIR/backups) removes its partial file and fails the deploy before anything changed; and
// nginx's generated includes are swapped only once `nginx -t` passed, so a SIGKILL between any
// two steps of a change leaves a live configuration that the real nginx accepts.
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { createShell } from '../../lib/compose.ts'
import { backupDatabase, psqlArgs } from '../../lib/db.ts'
import { OperationError } from '../../lib/errors.ts'
import { coreTarget } from '../../lib/compose.ts'
import { nginxSettings, testConfig } from '../../lib/nginx.ts'
import { pruneSets, stageSet, writeCheckTree } from '../../lib/nginx-files.ts'
import { renderNginxIncludes } from '../../lib/nginx-render.ts'
import { readState } from '../../lib/state.ts'
import { runTs } from '../helpers/run.ts'
import { buildImages, removeProjects, request, waitFor } from './harness.ts'
import { liveMarker, script, toolkitTarget, upCore } from './toolkit-env.ts'

const PREFIX = 'dmst-files'
const t = toolkitTarget(PREFIX, '172.29.42', 27, { STATUS_ALLOW: '127.0.0.1/32', DISK_MIN_FREE_MB: '10' })
const sh = $({ quiet: true, nothrow: true })
const TMPFS_KB = 256

test.before(async () => {
  await removeProjects(PREFIX)
  await buildImages(['1.0.0'])
  await upCore(t)
  // about 1.3 MB of barely compressible rows: the dump does not fit in the tmpfs
  const fill = await createShell(t.ui).docker(
    psqlArgs(
      t.config,
      'CREATE TABLE IF NOT EXISTS filler AS SELECT md5(random()::text) || md5(random()::text) AS v FROM generate_series(1, 20000)',
    ),
    { env: coreTarget(t.config).env, nothrow: true },
  )
  assert.ok(fill.ok, fill.stderr)
})

test.after(async () => {
  await sh`umount ${t.paths.backups}`
  await removeProjects(PREFIX)
  fs.rmSync(t.paths.varDir, { recursive: true, force: true })
  fs.rmSync(t.env.DMS_ENV_DIR!, { recursive: true, force: true })
})

async function withFullBackupDisk(fn: () => Promise<void>): Promise<void> {
  fs.mkdirSync(t.paths.backups, { recursive: true })
  const m = await sh`mount -t tmpfs -o ${`size=${TMPFS_KB}k,mode=0700`} tmpfs ${t.paths.backups}`
  assert.is(m.exitCode, 0, `mount tmpfs: ${m.stderr}`)
  try {
    await fn()
  } finally {
    const u = await sh`umount ${t.paths.backups}`
    assert.is(u.exitCode, 0, `umount: ${u.stderr}`)
  }
}

test('a backup that fills its disk: the partial file is removed and the error says the disk is full', () =>
  withFullBackupDisk(async () => {
    let err: unknown = null
    try {
      await backupDatabase(createShell(t.ui), t.config, t.paths.backups, t.ui, { version: '9.9.9' })
    } catch (e) {
      err = e
    }
    assert.instance(err, OperationError)
    const message = (err as Error).message
    assert.match(
      message,
      /^Can't back up the database: the disk holding .*backups is full \(\d+ KiB free\); .*The partial file was removed; nothing was changed\./,
      message,
    )
    assert.match((err as OperationError).hint, /Free space on that disk/)
    assert.equal(fs.readdirSync(t.paths.backups), [], 'no partial file is left')
  }))

test('deploy-production with a full backup disk: exit 1 at the backup, before any slot, route or state changed', () =>
  withFullBackupDisk(async () => {
    const liveBefore = liveMarker(t)
    const r = await script(t, 'deploy-production', ['--version', '1.0.0', '--yes'])
    assert.is(r.code, 1, r.stdout + r.stderr)
    assert.match(r.stderr, /Can't back up the database: the disk holding .* is full/, r.stderr)
    assert.equal(fs.readdirSync(t.paths.backups), [], 'no partial file is left')
    const slots =
      await sh`docker ps -aq --filter ${`label=com.docker.compose.project=${PREFIX}-prod-blue`} --filter ${`label=com.docker.compose.project=${PREFIX}-prod-green`}`
    assert.is(slots.stdout.trim(), '', 'no slot container was created')
    assert.is(liveMarker(t), liveBefore, 'the route is unchanged')
    const state = readState(t.paths.state, 'production')
    assert.equal(state.slots, { blue: null, green: null })
    assert.is(state.live, null)
    assert.is(state.pending, null)
  }))

// ---------------------------------------------------------------- nginx includes

// in this order the last kill (after the swap, before the reload) leaves nginx running the other set
const KILL_POINTS = [
  'nginx.staging',
  'nginx.staged',
  'nginx.checked',
  'nginx.link-made',
  'nginx.reloaded',
  'nginx.swapped',
]
const ALLOW = { local: '127.0.0.1/32', other: '10.9.0.0/16' } as const
const rendered = (allow: string) => renderNginxIncludes({ ...nginxSettings(t.config), statusAllow: [allow] })

/** Which allow-list the live set holds; fails when the live set is neither complete set. */
function liveAllow(): keyof typeof ALLOW {
  for (const k of Object.keys(ALLOW) as Array<keyof typeof ALLOW>) {
    const want = rendered(ALLOW[k])
    if (Object.entries(want).every(([name, text]) => fs.readFileSync(path.join(t.paths.nginx, name), 'utf8') === text))
      return k
  }
  throw new Error('the live nginx includes are a mix of two sets (or neither)')
}

async function liveNginxTest(): Promise<{ ok: boolean; output: string }> {
  return testConfig(createShell(t.ui), t.config)
}

test('a change killed (SIGKILL) at every step: the live includes are always one complete set that the real nginx -t accepts', async () => {
  const moved: boolean[] = []
  for (const point of KILL_POINTS) {
    const before = liveAllow()
    const want = before === 'local' ? 'other' : 'local'
    const r = await runTs('test/fixtures/nginx-apply.ts', [], {
      env: { ...t.env, STATUS_ALLOW: ALLOW[want], DMS_FAULT: `${point}=kill` },
    })
    assert.is(r.signal, 'SIGKILL', `${point}: the run was killed there (exit ${r.code}: ${r.stderr})`)
    moved.push(liveAllow() !== before)
    const check = await liveNginxTest()
    assert.ok(check.ok, `${point}: nginx -t of the live config: ${check.output}`)
    assert.is(
      (await request(`http://127.0.0.1:${t.config.ports.status}/nginx-health`)).status,
      200,
      `${point}: nginx serves`,
    )
  }
  assert.equal(
    moved,
    [false, false, false, false, true, true],
    'killed before the swap: the old set stays live; after it: the new one',
  )
  const live = liveAllow()
  assert.is(live, 'local')
  // a reload takes effect when nginx's master has started new workers: poll for it with a deadline
  const liveSlotIs = (status: number, what: string) =>
    waitFor(
      what,
      async () =>
        (await request(`http://127.0.0.1:${t.config.ports.status}/live-slot`)).status === status ? true : undefined,
      15_000,
      100,
    )
  await liveSlotIs(403, 'nginx to run the other allow-list (the last run was killed after the swap, before its reload)')
  // the next run, with nothing to change, does the reload that was cut short and clears the leftovers
  const fin = await runTs('test/fixtures/nginx-apply.ts', [], { env: { ...t.env, STATUS_ALLOW: ALLOW[live] } })
  assert.is(fin.code, 0, fin.stderr)
  assert.is(fin.stdout.trim(), '[]', 'nothing changed on disk')
  await liveSlotIs(200, 'nginx to be reloaded into the live set by the next run')
  assert.equal(fs.readdirSync(path.join(t.paths.nginx, 'sets')), [
    path.basename(fs.readlinkSync(path.join(t.paths.nginx, 'current'))),
  ])
  assert.equal(fs.readdirSync(path.join(t.paths.nginx, 'checks')), [])
  assert.equal(
    fs.readdirSync(t.paths.nginx).filter((n) => n.startsWith('.')),
    [],
    'no half-made link, no pending reload',
  )
})

test('nginx -t -c on a check tree tests the staged set: a broken set is rejected by the real nginx, the live one untouched', async () => {
  const files = rendered(ALLOW[liveAllow()])
  const sh = createShell(t.ui)
  const repo = path.join(t.config.root, 'nginx')
  const good = stageSet(t.paths.nginx, files)
  const bad = stageSet(t.paths.nginx, {
    ...files,
    'upstreams.conf': `${files['upstreams.conf']}\nthis is not nginx;\n`,
  })
  try {
    assert.ok((await testConfig(sh, t.config, writeCheckTree(t.paths.nginx, repo, good))).ok, 'the good set passes')
    const r = await testConfig(sh, t.config, writeCheckTree(t.paths.nginx, repo, bad))
    assert.not.ok(r.ok, 'the broken set is rejected')
    assert.match(r.output, new RegExp(`unknown directive "this" in /etc/nginx/dms/sets/${bad}/upstreams.conf`))
  } finally {
    pruneSets(t.paths.nginx)
  }
  assert.ok((await liveNginxTest()).ok)
})

test.run()
