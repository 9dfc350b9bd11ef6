// The process gateway with real child processes: a deadline ends the whole process tree (even a
// program that ignores SIGTERM and has a grandchild), the operation's abort signal reaches the
// child, cleanup commands after an abort still run, a program that missed its deadline is not
// asked again, and stdin/stdout to files work. The process table is read after each case.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { InterruptedError } from '../../lib/errors.ts'
import {
  CommandTimeoutError,
  KILL_GRACE_MS,
  configureGateway,
  killAllChildren,
  resetHung,
  run,
  runningChildren,
} from '../../lib/gateway.ts'
import { hangingProgram, processesMatching, waitGone } from '../helpers/procs.ts'
import { runHook } from '../../lib/hooks.ts'
import { Printer } from '../../lib/ui.ts'

const tag = `dms-gw-${process.pid}`
// the tag is in the directory, so every process of the hung program carries it in its command line
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`))
const hang = hangingProgram(dir, 'hung-cli', tag)

test.after.each(() => {
  resetHung()
  configureGateway({ signal: new AbortController().signal })
})

test.after(() => {
  killAllChildren()
  fs.rmSync(dir, { recursive: true, force: true })
})

test('a deadline ends a program that ignores SIGTERM, and its grandchild, within deadline + grace', async () => {
  const started = Date.now()
  try {
    await run(hang, ['ps'], { timeoutMs: 800, action: 'list the containers' })
    assert.unreachable('the call must not return')
  } catch (e) {
    if (!(e instanceof CommandTimeoutError)) throw e
    assert.match(e.message, /^Can't list the containers: .*hung-cli did not answer within 0\.8 s$/)
  }
  const ms = Date.now() - started
  assert.ok(ms >= 800, `waited its deadline (${ms} ms)`)
  assert.ok(ms < 800 + KILL_GRACE_MS + 1500, `ended within deadline + grace (${ms} ms)`)
  await waitGone(tag, 2000)
  assert.equal(processesMatching(tag), [], 'no process of the hung program is left')
  assert.equal(runningChildren(), [])
})

test('after a missed deadline the program is not asked again in this run: later calls fail at once', async () => {
  await run(hang, ['ps'], { timeoutMs: 300 }).catch(() => undefined)
  const started = Date.now()
  try {
    await run(hang, ['info'], { action: 'ask the daemon' })
    assert.unreachable('must fail')
  } catch (e) {
    if (!(e instanceof CommandTimeoutError)) throw e
    assert.match(
      e.message,
      /Can't ask the daemon: .*hung-cli did not answer within 0\.3 s earlier in this run, so it was not asked again/,
    )
  }
  assert.ok(Date.now() - started < 200, 'failed without waiting')
  assert.equal(processesMatching(tag), [])
})

test("the operation's abort signal ends the running child; a cleanup command started after it still runs", async () => {
  const op = new AbortController()
  configureGateway({ signal: op.signal })
  const pending = run(hang, ['compose', 'up'], { timeoutMs: 60_000, action: 'start the slot' })
  await waitFor(() => processesMatching(tag).length > 0, 5000)
  const started = Date.now()
  op.abort(new InterruptedError("Can't continue deploy: interrupted by SIGTERM"))
  try {
    await pending
    assert.unreachable('an aborted call must not return')
  } catch (e) {
    assert.instance(e, InterruptedError)
    assert.match((e as Error).message, /interrupted by SIGTERM/)
  }
  assert.ok(Date.now() - started < KILL_GRACE_MS + 1500, 'ended soon after the abort')
  await waitGone(tag, 2000)
  assert.equal(processesMatching(tag), [], 'the child and its grandchild are gone')
  const cleanup = await run('echo', ['removed'], { action: 'remove the candidate' })
  assert.is(cleanup.stdout.trim(), 'removed', 'cleanup after the abort ran')
})

test("a caller's own signal (health-check's run deadline) ends the child too", async () => {
  const mine = new AbortController()
  const pending = run(hang, ['ps'], { signal: mine.signal, timeoutMs: 60_000 })
  await waitFor(() => processesMatching(tag).length > 0, 5000)
  mine.abort(new Error('health-check deadline'))
  try {
    await pending
    assert.unreachable('must fail')
  } catch (e) {
    assert.is((e as Error).message, 'health-check deadline')
  }
  await waitGone(tag, 4000)
  assert.equal(processesMatching(tag), [])
})

test('killAllChildren (a second Ctrl-C) kills every running child at once', async () => {
  const calls = [
    run(hang, ['a'], { timeoutMs: 60_000 }).catch((e) => e),
    run(hang, ['b'], { timeoutMs: 60_000 }).catch((e) => e),
  ]
  await waitFor(() => runningChildren().length === 2 && processesMatching(tag).length >= 2, 5000)
  killAllChildren()
  const results = await Promise.all(calls)
  for (const r of results) assert.is((r as { code: number | null }).code, null, 'killed by a signal, no exit code')
  await waitGone(tag, 2000)
  assert.equal(processesMatching(tag), [])
})

test('argv values are never split or expanded; stdin and stdout can be files; non-zero exit is a CommandError unless nothrow', async () => {
  const r = await run('printf', ['%s|', 'a b', '$HOME', "it's", '*'])
  assert.is(r.stdout, "a b|$HOME|it's|*|")
  const inFile = path.join(dir, 'in.txt')
  const outFile = path.join(dir, 'out.txt')
  fs.writeFileSync(inFile, 'from a file\n')
  const fdIn = fs.openSync(inFile, 'r')
  const fdOut = fs.openSync(outFile, 'w')
  try {
    await run('cat', [], { stdinFd: fdIn, stdoutFd: fdOut })
  } finally {
    fs.closeSync(fdIn)
    fs.closeSync(fdOut)
  }
  assert.is(fs.readFileSync(outFile, 'utf8'), 'from a file\n')
  const failed = await run('sh', ['-c', 'echo oops >&2; exit 3'], { nothrow: true })
  assert.equal([failed.ok, failed.code, failed.stderr.trim()], [false, 3, 'oops'])
  try {
    await run('sh', ['-c', 'exit 4'], { action: 'do the thing' })
    assert.unreachable('must throw')
  } catch (e) {
    assert.match((e as Error).message, /^Can't do the thing: `sh -c 'exit 4'` exited 4/)
  }
})

test('a hook past its deadline is killed with everything it started, and reported, not thrown', async () => {
  const hooks = path.join(dir, 'hooks')
  fs.mkdirSync(hooks)
  hangingProgram(hooks, 'pre-deploy', tag)
  const r = await runHook(
    'pre-deploy',
    { version: 'v', slot: 'green', previousSlot: 'blue', target: 'production', outcome: 'pending' },
    {
      dir: hooks,
      ui: new Printer({ quiet: true }),
      timeoutMs: 500,
    },
  )
  assert.equal([r.ran, r.ok, r.code], [true, false, null])
  assert.match(r.detail, /^killed \(timeout\) after \d+s$/)
  assert.equal(await waitGone(tag, 2000), [])
})

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

test.run()
