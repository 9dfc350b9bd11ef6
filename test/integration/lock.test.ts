// The deploy lock as whole processes: at most one holder at any moment, also while several
// processes take over a stale lock at once with pauses injected between check and act
// (DMS_FAULT), and a holder killed with SIGKILL frees the lock at once.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { acquireLock, readLock, type LockHolder } from '../../lib/lock.ts'
import { pidAlive } from '../../lib/fsutil.ts'
import { runTs } from '../helpers/run.ts'

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dms-lock-'))
const RACERS = 4
const ROUNDS = 12
/** a pid above the kernel's largest (2^22): never alive */
const DEAD_PID = 2 ** 22 + 12345

/** Walks the O_APPEND log in order: an "enter" while another holder has not left is an overlap. */
export function overlaps(log: string): string[] {
  const found: string[] = []
  let holder: string | null = null
  for (const line of log.split('\n').filter(Boolean)) {
    const [what, pid] = line.split(' ') as [string, string]
    if (what === 'enter') {
      if (holder !== null) found.push(`${pid} entered while ${holder} held the lock`)
      holder = pid
    } else if (holder === pid) holder = null
  }
  return found
}

test("overlaps(): finds an enter inside another holder's interval (the checker can fail)", () => {
  assert.equal(overlaps('enter 1\nexit 1\nenter 2\nexit 2\n'), [])
  assert.equal(overlaps('enter 1\nenter 2\nexit 1\nexit 2\n'), ['2 entered while 1 held the lock'])
})

test(`${RACERS} processes take over a stale lock at once, ${ROUNDS} rounds, pauses injected: never two holders`, async () => {
  const problems: string[] = []
  let staleTakeovers = 0
  for (let round = 0; round < ROUNDS; round++) {
    const dir = tmp()
    const file = path.join(dir, 'deploy.lock')
    const log = path.join(dir, 'holders.log')
    fs.writeFileSync(
      file,
      `${JSON.stringify({ pid: DEAD_PID, host: os.hostname(), user: 'x', command: 'deploy (killed)', startedAt: new Date().toISOString() })}\n`,
    )
    const start = String(Date.now() + 1500)
    const env = {
      DMS_FAULT:
        'lock.stale-checked=pause:120,lock.moved-aside=pause:120,lock.acquired=pause:120,lock.releasing=pause:60',
    }
    const results = await Promise.all(
      Array.from({ length: RACERS }, () => runTs('test/fixtures/lock-holder.ts', [file, log, start, '80'], { env })),
    )
    for (const r of results) assert.is(r.code, 0, `round ${round}: ${r.stderr}`)
    const text = fs.readFileSync(log, 'utf8')
    assert.is(
      text.split('\n').filter((l) => l.startsWith('enter')).length,
      RACERS,
      `round ${round}: every racer held the lock once`,
    )
    problems.push(...overlaps(text).map((p) => `round ${round}: ${p}`))
    staleTakeovers += results.filter((r) => r.stdout.includes('stale')).length
    fs.rmSync(dir, { recursive: true, force: true })
  }
  assert.equal(problems, [], 'two processes held the lock at the same time')
  assert.is(staleTakeovers, ROUNDS, 'exactly one racer per round took over the stale lock')
})

async function until<T>(what: string, fn: () => T | null | undefined, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('a holder killed with SIGKILL frees the lock at once, though a child it started lives on', async () => {
  const dir = tmp()
  const file = path.join(dir, 'deploy.lock')
  const log = path.join(dir, 'holders.log')
  let holderPid = 0
  const run = runTs('test/fixtures/lock-holder.ts', [file, log, '0', '60000', 'child'], {
    onSpawn: (p) => (holderPid = p),
  })
  const childPid = Number(
    await until(
      'the holder to enter',
      () => /child (\d+)\nenter/.exec(fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '')?.[1],
    ),
  )
  try {
    assert.is(readLock(file)!.pid, holderPid, 'deploy.lock names the holder')
    process.kill(holderPid, 'SIGKILL')
    assert.is((await run).signal, 'SIGKILL')
    assert.ok(pidAlive(childPid), 'the child of the killed holder still runs')
    let stale: LockHolder | null = null
    const lock = await acquireLock(file, { waitMs: 0, onStale: (h) => (stale = h) })
    assert.is(stale!.pid, holderPid, 'the dead holder is reported as a stale lock taken over')
    assert.is(readLock(file)!.pid, process.pid)
    lock.release()
    assert.is(readLock(file), null, 'release removes the holder record')
  } finally {
    process.kill(childPid, 'SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
