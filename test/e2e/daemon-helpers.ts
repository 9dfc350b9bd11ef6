// Restarting the Docker daemon from a test the way an upgrade or a crash does: stop dockerd by its
// pid, start it again with exactly the flags and environment it ran with, and wait for it by
// polling. Under systemd: systemctl restart docker. Never leaves the daemon down.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { dockerReachable, startDocker } from '../../lib/host.ts'
import { DAEMON_JSON, DOCKER_PID_FILE, liveRestoreEnabled } from '../../lib/docker-daemon.ts'
import { pidAlive } from '../../lib/fsutil.ts'
import { $ } from 'zx'
import { waitFor } from './harness.ts'

export type Restart = {
  argv: string[]
  newArgv: string[]
  oldPid: number
  newPid: number
  stoppedMs: number
  downMs: number
}

const readNul = (file: string) => fs.readFileSync(file, 'utf8').split('\0').filter(Boolean)

/** Stops dockerd (SIGTERM to its pid) and starts it again the same way; resolves when it answers. */
export async function restartDockerd(): Promise<Restart> {
  const oldPid = Number(fs.readFileSync(DOCKER_PID_FILE, 'utf8').trim())
  const argv = readNul(`/proc/${oldPid}/cmdline`)
  const env = Object.fromEntries(
    readNul(`/proc/${oldPid}/environ`).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  )
  const t0 = Date.now()
  if (fs.existsSync('/run/systemd/system')) {
    await $({ quiet: true })`systemctl restart docker`
  } else {
    try {
      process.kill(oldPid, 'SIGTERM')
      await waitFor('the old dockerd to exit', async () => (pidAlive(oldPid) ? undefined : true), 60_000, 50)
    } finally {
      // start it again whatever happened above: never leave the daemon down
      const log = fs.openSync('/var/log/dockerd.log', 'a')
      spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log], env }).unref()
      fs.closeSync(log)
    }
  }
  const stoppedMs = Date.now() - t0
  await waitFor('dockerd to answer again', async () => ((await dockerReachable()) ? true : undefined), 90_000, 100)
  const newPid = Number(fs.readFileSync(DOCKER_PID_FILE, 'utf8').trim())
  return { argv, newArgv: readNul(`/proc/${newPid}/cmdline`), oldPid, newPid, stoppedMs, downMs: Date.now() - t0 }
}

/** For an after hook: the daemon answers (started with the usual flags if it does not). */
export async function ensureDockerd(): Promise<void> {
  if (await dockerReachable()) return
  await startDocker()
}

/** Sets live-restore in daemon.json to a value and reloads dockerd (SIGHUP); returns the file's text before. */
export async function setLiveRestore(on: boolean): Promise<string | null> {
  const before = fs.existsSync(DAEMON_JSON) ? fs.readFileSync(DAEMON_JSON, 'utf8') : null
  const doc = before ? JSON.parse(before) : {}
  fs.writeFileSync(DAEMON_JSON, `${JSON.stringify({ ...doc, 'live-restore': on }, null, 2)}\n`)
  process.kill(Number(fs.readFileSync(DOCKER_PID_FILE, 'utf8').trim()), 'SIGHUP')
  await waitFor(
    `dockerd to report live-restore ${on}`,
    async () => ((await liveRestoreEnabled()) === on ? true : undefined),
    15_000,
    100,
  )
  return before
}

/** Puts daemon.json back as it was and reloads dockerd. */
export async function restoreDaemonJson(text: string | null): Promise<void> {
  if (text === null) fs.rmSync(DAEMON_JSON, { force: true })
  else fs.writeFileSync(DAEMON_JSON, text)
  const pid = Number(fs.readFileSync(DOCKER_PID_FILE, 'utf8').trim())
  if (pidAlive(pid)) process.kill(pid, 'SIGHUP')
}
