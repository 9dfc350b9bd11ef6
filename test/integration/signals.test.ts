// Signals reach the operation however a script was started, and no child outlives it: SIGTERM to
// the `npx` process (which does not pass it on), SIGHUP (a dropped SSH session), and a second
// Ctrl-C while an interrupted operation's cleanup hangs. A docker that never answers is first on
// PATH, so every script sits in a docker call when the signal comes.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ROOT, tempEnvDir } from '../helpers/run.ts'
import { alive, hangingProgram, processesMatching, waitGone } from '../helpers/procs.ts'
import { KILL_GRACE_MS } from '../../lib/gateway.ts'
import { PARENT_POLL_MS } from '../../lib/cli.ts'

const tag = `dmst-hang-sig-${process.pid}`
const fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), `${tag}-`))
hangingProgram(fakeDir, 'docker', tag)
const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmst-hang-var-'))
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${fakeDir}:${process.env.PATH}`,
  NO_COLOR: '1',
  FORCE_COLOR: '',
  DMS_ENV_DIR: tempEnvDir(),
  VAR_DIR: varDir,
  COMPOSE_PROJECT: 'dmst-hang-prod',
  NETWORK_NAME: 'dmst-hang-net',
  NET_PREFIX: '172.29.41',
  HTTPS_PORT: '26443',
  PREVIEW_PORT: '26444',
  HTTP_PORT: '26080',
  STATUS_PORT: '26090',
  POSTGRES_PORT: '26432',
  REDIS_PORT: '26379',
  PROMETHEUS_PORT: '26091',
  ALERTMANAGER_PORT: '26093',
  // long: the script must stop because of the signal, not because docker's deadline passed
  COMMAND_TIMEOUT: '120s',
}

type Started = { child: ChildProcess; output: () => string; closed: Promise<number | null> }

function start(cmd: string, args: string[], o: { detached?: boolean } = {}): Started {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: !!o.detached })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, output: () => out, closed }
}

/** The node process running `script` below `ancestor` (npx -> sh -> node). */
function scriptPid(ancestor: number, script: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8')
      if (!cmd.startsWith(process.execPath) && !cmd.startsWith('node')) continue
      if (!cmd.includes(script) || Number(d) === ancestor) continue
      let p = Number(d)
      for (let i = 0; i < 5 && p > 1; i++) {
        p = Number(/^\d+ \(.*\) \S (\d+)/.exec(fs.readFileSync(`/proc/${p}/stat`, 'utf8'))![1])
        if (p === ancestor) return Number(d)
      }
    } catch {
      // gone
    }
  }
  return undefined
}

async function until<T>(what: string, get: () => T | undefined | false, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = get()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

test.after(() => {
  for (const pid of processesMatching(tag)) process.kill(pid, 'SIGKILL')
  fs.rmSync(fakeDir, { recursive: true, force: true })
  fs.rmSync(varDir, { recursive: true, force: true })
})

test('SIGTERM to the npx process stops the script as a direct SIGTERM does, and its docker child is gone', async () => {
  const npx = start('npx', ['zx', 'scripts/switch-to-green.ts', '--yes'])
  const pid = await until('the script under npx', () => scriptPid(npx.child.pid!, 'scripts/switch-to-green.ts'))
  await until('the hung docker call', () => processesMatching(tag).length > 0)
  const killedAt = Date.now()
  process.kill(npx.child.pid!, 'SIGTERM')
  await npx.closed // npx exits at once; the script's output pipe stays open until the script is gone
  await until('the script to exit', () => !alive(pid), 10_000)
  const ms = Date.now() - killedAt
  assert.ok(ms < PARENT_POLL_MS + KILL_GRACE_MS + 2000, `the script stopped ${ms} ms after npx was killed`)
  assert.match(
    npx.output(),
    /Received the end of the process that started this one \(npx or a shell\): stopping at the next safe point/,
  )
  assert.match(npx.output(), /interrupted by the end of its parent process/)
  assert.equal(await waitGone(tag, 2000), [], 'no docker process is left')
  assert.not.ok(fs.existsSync(path.join(varDir, 'deploy.lock')), 'the lock was released')
})

test('SIGTERM to the whole process group of `npx zx` (systemd stop) stops once, safely: npx ending too is not a second signal', async () => {
  const npx = start('npx', ['zx', 'scripts/switch-to-green.ts', '--yes'], { detached: true })
  const pid = await until('the script under npx', () => scriptPid(npx.child.pid!, 'scripts/switch-to-green.ts'))
  await until('the hung docker call', () => processesMatching(tag).length > 0)
  process.kill(-npx.child.pid!, 'SIGTERM') // what systemd's KillMode=control-group does: every process at once
  await until('the script to exit', () => !alive(pid), 10_000)
  await npx.closed
  assert.match(npx.output(), /Received SIGTERM: stopping at the next safe point/)
  assert.not.match(npx.output(), /again: exiting now/, 'no forced exit: the stop ran to its end')
  assert.match(npx.output(), /interrupted by SIGTERM/)
  assert.equal(await waitGone(tag, 2000), [])
  assert.not.ok(fs.existsSync(path.join(varDir, 'deploy.lock')))
})

test('SIGHUP (a dropped SSH session) stops a script like SIGTERM: exit 130, no child left', async () => {
  const s = start(process.execPath, ['--import', 'tsx', 'scripts/switch-to-green.ts', '--yes'])
  await until('the hung docker call', () => processesMatching(tag).length > 0)
  s.child.kill('SIGHUP')
  const code = await s.closed
  assert.is(code, 130, s.output())
  assert.match(s.output(), /Received SIGHUP: stopping at the next safe point/)
  assert.equal(await waitGone(tag, 2000), [])
  assert.not.ok(fs.existsSync(path.join(varDir, 'deploy.lock')))
})

test('a second Ctrl-C while the cleanup hangs exits at once and leaves no child running', async () => {
  const s = start(process.execPath, ['--import', 'tsx', 'test/fixtures/cleanup-script.ts'])
  const first = await until('the first docker call', () => processesMatching(tag)[0])
  s.child.kill('SIGINT')
  await until(
    'the cleanup docker call',
    () =>
      /first call ended/.test(s.output()) && processesMatching(tag).some((p) => p !== first) && processesMatching(tag),
  )
  const again = Date.now()
  s.child.kill('SIGINT')
  const code = await s.closed
  assert.ok(Date.now() - again < 1500, 'exited at once')
  assert.is(code, 130, s.output())
  assert.match(s.output(), /Received SIGINT again: exiting now/)
  assert.equal(await waitGone(tag, 1000), [], 'the cleanup call was killed with the script')
})

test.run()
