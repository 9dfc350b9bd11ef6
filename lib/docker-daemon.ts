// The Docker daemon's live-restore setting: with it, containers keep running (and keep serving)
// while dockerd stops and starts again, as on a docker.io upgrade or a daemon crash.
// bootstrap turns it on (merging /etc/docker/daemon.json, applied with SIGHUP); preflight and
// health-check warn when the daemon runs without it.
import fs from 'node:fs'
import path from 'node:path'
import { OperationError, RefusedError, errorMessage } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import { run } from './gateway.ts'

export const DAEMON_JSON = '/etc/docker/daemon.json'
export const DOCKER_PID_FILE = '/var/run/docker.pid'

/** The daemon.json text with "live-restore": true, every other key kept. Refuses text that is not a JSON object. */
export function withLiveRestore(text: string | null, file = DAEMON_JSON): { text: string; changed: boolean } {
  if (text === null || text.trim() === '') return { text: '{\n  "live-restore": true\n}\n', changed: true }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    throw new RefusedError(
      `Can't turn on live-restore: ${file} is not valid JSON (${errorMessage(e)}). Nothing was changed.`,
      `Fix ${file} by hand (dockerd would not start with it either), then run this again.`,
    )
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new RefusedError(
      `Can't turn on live-restore: ${file} is not a JSON object. Nothing was changed.`,
      `Make it an object like {"live-restore": true}, then run this again.`,
    )
  const settings = doc as Record<string, unknown>
  if (settings['live-restore'] === true) return { text, changed: false }
  return { text: `${JSON.stringify({ ...settings, 'live-restore': true }, null, 2)}\n`, changed: true }
}

/** What the running daemon says: true or false, or null when it can't be asked. */
export async function liveRestoreEnabled(signal?: AbortSignal): Promise<boolean | null> {
  const r = await run('docker', ['info', '--format', '{{.LiveRestoreEnabled}}'], {
    nothrow: true,
    changes: false,
    timeoutMs: 20_000,
    ...(signal ? { signal } : {}),
  })
  if (!r.ok) return null
  return r.stdout.trim() === 'true'
}

/** The warning preflight and health-check give when the daemon runs without live-restore. */
export const LIVE_RESTORE_OFF =
  'the Docker daemon runs without live-restore: a dockerd restart (a docker.io upgrade, a crash) stops every container and the site is down until they are back. Turn it on: npx zx scripts/bootstrap.ts'

export type LiveRestoreOutcome = {
  changed: boolean
  applied: 'already on' | 'SIGHUP' | 'systemctl reload' | 'at the next start of dockerd'
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new OperationError(`Can't read ${file}: ${errorMessage(e)}`, 'Run this as root.')
  }
}

/** Sends SIGHUP to dockerd (its pid from the pid file), or reloads it through systemd. */
async function reloadDaemon(pidFile: string): Promise<LiveRestoreOutcome['applied']> {
  if (
    fs.existsSync('/run/systemd/system') &&
    (await run('systemctl', ['is-active', '--quiet', 'docker'], { nothrow: true, changes: false })).ok
  ) {
    const r = await run('systemctl', ['reload', 'docker'], { nothrow: true })
    if (!r.ok)
      throw new OperationError(
        `Can't reload dockerd: systemctl reload docker failed (${r.stderr.trim()})`,
        'See: journalctl -u docker',
      )
    return 'systemctl reload'
  }
  const pid = Number(readText(pidFile)?.trim())
  if (!Number.isInteger(pid) || pid <= 1)
    throw new OperationError(
      `Can't reload dockerd: ${pidFile} holds no pid`,
      'Restart dockerd by hand so it reads the new setting.',
    )
  process.kill(pid, 'SIGHUP')
  return 'SIGHUP'
}

/**
 * Makes sure live-restore is on: merges it into daemon.json (never dropping other keys) and, when
 * dockerd runs without it, reloads dockerd and waits until the daemon reports it.
 */
export async function enableLiveRestore(
  o: { file?: string; pidFile?: string; timeoutMs?: number } = {},
): Promise<LiveRestoreOutcome> {
  const file = o.file ?? DAEMON_JSON
  const merged = withLiveRestore(readText(file), file)
  if (merged.changed) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    writeFileAtomic(file, merged.text, 0o644)
  }
  const now = await liveRestoreEnabled()
  if (now === null) return { changed: merged.changed, applied: 'at the next start of dockerd' }
  if (now) return { changed: merged.changed, applied: 'already on' }
  const applied = await reloadDaemon(o.pidFile ?? DOCKER_PID_FILE)
  const deadline = Date.now() + (o.timeoutMs ?? 15_000)
  while (!(await liveRestoreEnabled())) {
    if (Date.now() > deadline)
      throw new OperationError(
        `Can't turn on live-restore: dockerd still reports it off after the reload`,
        'See the daemon log (/var/log/dockerd.log or journalctl -u docker): swarm mode, for one, does not allow it.',
      )
    await new Promise((r) => setTimeout(r, 200))
  }
  return { changed: merged.changed, applied }
}
