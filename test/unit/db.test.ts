// The pure parts of lib/db.ts: backup names and times, the retention policy, argv without secrets.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../../lib/config.ts'
import {
  backupName,
  backupTime,
  lastJsonLine,
  listBackups,
  recipeDumpArgs,
  selectExpired,
  type BackupFile,
} from '../../lib/db.ts'
import { chooseBackup } from '../../lib/db-restore.ts'
import { tempEnvDir } from '../helpers/run.ts'

const SECRET = 'Zq8vN3kP1xR7tW5yB2mC'
const config = loadConfig({
  target: 'staging',
  env: { DMS_ENV_DIR: tempEnvDir(), POSTGRES_PASSWORD: SECRET, REDIS_PASSWORD: 'Rr8vN3kP1xR7tW5yB2mD' },
  generateSecrets: false,
})

test('a backup name carries its time and the release it precedes', () => {
  const now = new Date('2026-03-04T05:06:07.890Z')
  const name = backupName('dms', 'v1.2', now)
  assert.is(name, 'dms-20260304T050607Z-before-v1.2.dump')
  assert.is(backupTime(name, new Date(0)).toISOString(), '2026-03-04T05:06:07.000Z')
  assert.is(backupTime('other.dump', new Date(5)).getTime(), 5, 'other names: the mtime')
})

const day = 86_400_000
const now = new Date('2026-03-20T00:00:00Z')
const files = (ages: number[]): BackupFile[] =>
  ages.map((d, i) => ({ file: `/b/${i}`, name: `${i}`, time: new Date(now.getTime() - d * day), bytes: 1 }))

test('retention keeps the newest N, drops those older than D days, and always keeps the newest', () => {
  const names = (b: BackupFile[]) => b.map((x) => x.name)
  assert.equal(names(selectExpired(files([0, 1, 2, 3, 4]), { keepCount: 3, keepDays: 30 }, now)), ['3', '4'])
  assert.equal(names(selectExpired(files([0, 10, 20]), { keepCount: 7, keepDays: 14 }, now)), ['2'])
  assert.equal(
    names(selectExpired(files([40, 50]), { keepCount: 7, keepDays: 14 }, now)),
    ['1'],
    'the newest stays even when old',
  )
  assert.equal(names(selectExpired(files([0, 1]), { keepCount: 0, keepDays: 0 }, now)), ['1'])
})

test('listBackups ignores partial files and sorts newest first; chooseBackup prefers the one before the release', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-backups-'))
  try {
    for (const n of [
      'dms-20260101T000000Z-before-v2.dump',
      'dms-20260102T000000Z-before-v3.dump',
      'dms-20260103T000000Z-before-v4.dump.partial',
    ])
      fs.writeFileSync(path.join(dir, n), 'x')
    assert.equal(
      listBackups(dir).map((b) => b.name),
      ['dms-20260102T000000Z-before-v3.dump', 'dms-20260101T000000Z-before-v2.dump'],
    )
    assert.is(chooseBackup(dir, 'v2')?.name, 'dms-20260101T000000Z-before-v2.dump')
    assert.is(chooseBackup(dir, 'v9')?.name, 'dms-20260102T000000Z-before-v3.dump')
    assert.is(chooseBackup(path.join(dir, 'none'), 'v2'), null)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('pg_dump runs inside the postgres container and the password never reaches argv', () => {
  const args = recipeDumpArgs(config)
  assert.ok(args.join(' ').includes('exec -T postgres sh -c'))
  assert.match(args.at(-1)!, /pg_dump .*--format=custom/)
  assert.not.ok(args.join(' ').includes(SECRET))
})

test('the last JSON line of migrate.js output is its result', () => {
  assert.equal(lastJsonLine('applied 002\n{"ok":true,"applied":["002"]}\n'), { ok: true, applied: ['002'] })
  assert.is(lastJsonLine('no json here'), null)
})

test.run()
