// The read-only checks before a deploy (production and staging): Docker and Compose reachable, the
// compose file valid, nginx serving with a valid configuration, enough free disk space.
import fs from 'node:fs'
import path from 'node:path'
import { configArgs, slotTarget, type Shell } from '../compose.ts'
import type { Config } from '../config.ts'
import type { Paths } from '../paths.ts'
import { LIVE_RESTORE_OFF } from '../docker-daemon.ts'
import { RefusedError } from '../errors.ts'
import { timeoutAsFailure } from '../gateway.ts'
import { testConfig } from '../nginx.ts'
import { probeHttp } from '../probe.ts'
import { coreRunning } from '../core-stack.ts'

/** Free space of the filesystem holding dir (or its nearest existing parent), in MiB. */
export async function freeMb(dir: string): Promise<number> {
  let d = path.resolve(dir)
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d)
  const s = await fs.promises.statfs(d)
  return Math.floor((s.bavail * s.bsize) / 1024 / 1024)
}

/**
 * Docker and Compose reachable, the compose file valid for a slot, nginx serving and its
 * configuration valid (when the core runs), enough disk space. Every problem at once.
 */
export async function preflightChecks(
  sh: Shell,
  config: Config,
  paths: Paths,
): Promise<{ lines: string[]; coreRunning: boolean; warnings: string[] }> {
  const problems: string[] = []
  const warnings: string[] = []
  const lines: string[] = []
  const slot = slotTarget(config, 'blue', 'preflight')
  const [docker, compose, valid, core] = await Promise.all([
    timeoutAsFailure(
      sh.docker(['info', '--format', '{{.ServerVersion}} {{.LiveRestoreEnabled}}'], {
        changes: false,
        nothrow: true,
        action: 'ask the Docker daemon its version',
      }),
    ),
    timeoutAsFailure(sh.docker(['compose', 'version', '--short'], { changes: false, nothrow: true })),
    fs.existsSync(path.join(paths.secrets, 'postgres_password'))
      ? timeoutAsFailure(sh.docker(configArgs(slot), { env: slot.env, changes: false, nothrow: true }))
      : null,
    coreRunning(sh, config).catch(() => ({ running: false, problems: ['unknown'] })),
  ])
  if (!docker.ok) {
    throw new RefusedError(
      `Can't deploy: Docker is not reachable (${(docker.stderr.trim().split('\n').pop() || `exit ${docker.code}`).slice(0, 200)}). Nothing was changed.`,
      'Start the Docker Engine (npx zx scripts/bootstrap.ts), or check DOCKER_HOST and your permissions.',
    )
  }
  const [serverVersion, liveRestore] = docker.stdout.trim().split(' ')
  lines.push(`Docker Engine ${serverVersion}`)
  if (liveRestore !== 'true') warnings.push(LIVE_RESTORE_OFF)
  if (!compose.ok)
    problems.push('Docker Compose v2 is not available (install the compose plugin: npx zx scripts/bootstrap.ts)')
  else lines.push(`Compose ${compose.stdout.trim()}`)
  if (valid && !valid.ok) problems.push(`the compose file does not validate: ${valid.stderr.trim().split('\n').pop()}`)
  const free = await freeMb(config.varDir)
  if (free < config.diskMinFreeMb)
    problems.push(
      `only ${free} MiB free for ${config.varDir}, DISK_MIN_FREE_MB is ${config.diskMinFreeMb} (free space, or lower it)`,
    )
  else lines.push(`disk: ${free} MiB free`)
  if (core.running) {
    const [health, test] = await Promise.all([
      probeHttp({ url: `http://127.0.0.1:${config.ports.status}/nginx-health`, timeoutMs: 3000, expectStatus: 200 }),
      testConfig(sh, config),
    ])
    if (!health.ok) problems.push(`nginx does not serve its health endpoint (${health.detail})`)
    if (!test.ok)
      problems.push(`the nginx configuration is invalid (nginx -t: ${test.output.split('\n').slice(-2).join(' ')})`)
    if (health.ok && test.ok) lines.push('nginx serves and its configuration is valid')
  } else {
    lines.push(`the core services are not running (${core.problems.join(', ')}): they are started first`)
  }
  if (problems.length)
    throw new RefusedError(
      `Can't deploy: ${problems.length} preflight problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}\nNothing was changed.`,
      'Fix them and run again.',
    )
  return { lines, coreRunning: core.running, warnings }
}
