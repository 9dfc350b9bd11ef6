// Disk full, on a real small tmpfs (mounted here; the tests run as root): a failed atomic write
// throws, leaves the old file as it was and no temp file behind.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { $ } from 'zx'
import { emptyState } from '../../lib/model.ts'
import { writeFileAtomic } from '../../lib/fsutil.ts'
import { readState, writeState } from '../../lib/state.ts'

const SIZE = 64 * 1024
const sh = $({ quiet: true, nothrow: true })

async function withTmpfs(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dms-full-'))
  const m = await sh`mount -t tmpfs -o ${`size=${SIZE}`} tmpfs ${dir}`
  assert.is(m.exitCode, 0, `mount tmpfs: ${m.stderr}`)
  try {
    await fn(dir)
  } finally {
    await sh`umount ${dir}`
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function failure(fn: () => void): NodeJS.ErrnoException | null {
  try {
    fn()
    return null
  } catch (e) {
    return e as NodeJS.ErrnoException
  }
}

test('writeFileAtomic on a full disk: ENOSPC, the old file unchanged, no temp file left', () =>
  withTmpfs((dir) => {
    const file = path.join(dir, 'markers.txt')
    writeFileAtomic(file, 'old\n')
    const err = failure(() => writeFileAtomic(file, 'x'.repeat(SIZE * 2)))
    assert.is(err?.code, 'ENOSPC', 'the write reports the full disk (a short write is not success)')
    assert.equal(fs.readdirSync(dir), ['markers.txt'])
    assert.is(fs.readFileSync(file, 'utf8'), 'old\n')
  }))

test('writeState on a full disk: it throws, state.json and its .bak stay good, no temp file left', () =>
  withTmpfs((dir) => {
    const file = path.join(dir, 'state.json')
    const s = emptyState('production')
    s.live = 'blue'
    writeState(file, s)
    fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(SIZE - 3 * 4096)) // leave a few pages
    s.history = Array.from({ length: 150 }, (_, i) => ({
      time: new Date().toISOString(),
      action: 'switch',
      outcome: 'done',
      detail: 'y'.repeat(100) + i,
    }))
    assert.is(failure(() => writeState(file, s))?.code, 'ENOSPC', 'the write reports the full disk')
    assert.equal(
      fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    )
    assert.is(readState(file, 'production').live, 'blue')
  }))

test.run()
