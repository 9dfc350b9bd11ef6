// Preparing a host: Docker Engine, Compose v2, the base image, host tools for tests.
// Each need is a check plus a fix; bootstrap --check runs only the checks.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { retry } from 'zx'
import { OperationError } from './errors.ts'
import { run, startDaemon, type CommandOptions } from './gateway.ts'
import { DAEMON_JSON, liveRestoreEnabled } from './docker-daemon.ts'

export type Need = { name: string; ok: boolean; detail: string }

/** Package installs and downloads take minutes; checks answer in seconds. */
const INSTALL_TIMEOUT_MS = 20 * 60_000
const q = (program: string, args: string[], o: CommandOptions = {}) =>
  run(program, args, { nothrow: true, changes: false, ...o })
/** A step that must succeed (throws CommandError naming it otherwise). */
const must = (program: string, args: string[], o: CommandOptions = {}) =>
  run(program, args, { timeoutMs: INSTALL_TIMEOUT_MS, ...o })

async function has(cmd: string): Promise<boolean> {
  return (await q('command', ['-v', cmd])).ok
}

export async function dockerReachable(): Promise<boolean> {
  return (await q('docker', ['info', '--format', '{{.ServerVersion}}'])).ok
}

export async function composeVersion(): Promise<string | null> {
  const r = await q('docker', ['compose', 'version', '--short'])
  return r.ok ? r.stdout.trim() : null
}

/**
 * The host tools the test suites use: command -> Debian package. The one list: `npm test`
 * (through bootstrap --for-tests) installs whatever of it is missing, so a suite that needs a new
 * tool adds it here.
 */
export const TEST_TOOLS: Record<string, string> = {
  nginx: 'nginx',
  promtool: 'prometheus',
  amtool: 'prometheus-alertmanager',
  wrk: 'wrk',
  openssl: 'openssl',
  pg_dump: 'postgresql-client',
  'redis-cli': 'redis-tools',
  curl: 'curl',
  // TLS: a local ACME server and a TLS scanner
  pebble: 'pebble',
  lego: 'lego',
  testssl: 'testssl.sh',
  // off-host backups (the backup e2e)
  restic: 'restic',
  // flock, setsid, nsenter
  flock: 'util-linux',
  // several hosts: the test ground's sshd per host, and the client's key tools
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  // images from a registry: the CNCF distribution registry, and htpasswd -B for its bcrypt password file
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
}

export async function checkHost(o: { forTests: boolean; baseImage: string }): Promise<Need[]> {
  const needs: Need[] = []
  const dockerCli = await has('docker')
  needs.push({
    name: 'docker CLI',
    ok: dockerCli,
    detail: dockerCli ? 'installed' : 'missing (apt-get install docker.io)',
  })
  const dockerd = await has('dockerd')
  needs.push({
    name: 'Docker Engine (dockerd)',
    ok: dockerd,
    detail: dockerd ? 'installed' : 'missing (apt-get install docker.io)',
  })
  const up = dockerCli && (await dockerReachable())
  needs.push({ name: 'Docker Engine running', ok: up, detail: up ? 'reachable' : 'not reachable (start dockerd)' })
  const compose = dockerCli ? await composeVersion() : null
  const v2 = !!compose && /^v?2\./.test(compose)
  needs.push({ name: 'Compose v2', ok: v2, detail: compose ? `version ${compose}` : 'missing (docker compose plugin)' })
  const live = up && (await liveRestoreEnabled()) === true
  needs.push({
    name: 'live-restore',
    ok: live,
    detail: live
      ? 'on: containers keep running while dockerd restarts'
      : `off (set "live-restore": true in ${DAEMON_JSON})`,
  })
  const base = up && (await q('docker', ['image', 'inspect', o.baseImage])).ok
  needs.push({
    name: `base image ${o.baseImage}`,
    ok: base,
    detail: base ? 'present' : 'missing (made with mmdebstrap)',
  })
  if (o.forTests) {
    const tools = Object.entries(TEST_TOOLS)
    const found = await Promise.all(tools.map(([tool]) => has(tool)))
    for (const [i, [tool, pkg]] of tools.entries())
      needs.push({ name: tool, ok: found[i]!, detail: found[i] ? 'installed' : `missing (apt-get install ${pkg})` })
  }
  return needs
}

export function isDebianLike(): boolean {
  try {
    return /^(ID|ID_LIKE)=.*(debian|ubuntu)/m.test(fs.readFileSync('/etc/os-release', 'utf8'))
  } catch {
    return false
  }
}

export function debianCodename(): string {
  try {
    return /^VERSION_CODENAME=(\S+)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''
  } catch {
    return ''
  }
}

let aptUpdated = false
export async function aptInstall(pkgs: string[]): Promise<void> {
  if (!pkgs.length) return
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  if (!aptUpdated) {
    await must('apt-get', ['update', '-qq'], { env })
    aptUpdated = true
  }
  await must('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env })
}

/** Compose v2: the distribution's plugin where it has one, else the static binary of Debian 13's docker-compose package. */
export async function installCompose(): Promise<void> {
  const env = { DEBIAN_FRONTEND: 'noninteractive' }
  const candidates = (await q('apt-cache', ['policy', 'docker-compose-plugin', 'docker-compose-v2'])).stdout
  if (/docker-compose-(plugin|v2):\s*\n\s*Installed:.*\n\s*Candidate: (?!\(none\))/.test(candidates)) {
    const install = (pkg: string) =>
      q('apt-get', ['install', '-y', '-qq', pkg], { env, changes: true, timeoutMs: INSTALL_TIMEOUT_MS })
    if ((await install('docker-compose-plugin')).ok || (await install('docker-compose-v2')).ok) return
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-'))
  fs.chmodSync(dir, 0o755)
  const list = path.join(dir, 'trixie.list')
  fs.writeFileSync(list, 'deb http://deb.debian.org/debian trixie main\n')
  const opts = ['-o', `Dir::Etc::sourcelist=${list}`, '-o', 'Dir::Etc::sourceparts=-', '-o', 'APT::Get::List-Cleanup=0']
  await must('apt-get', [...opts, 'update', '-qq'], { env })
  await must('apt-get', [...opts, 'download', 'docker-compose'], { env, cwd: dir })
  // back to the host's own lists, so later installs don't see trixie
  await must('apt-get', ['update', '-qq'], { env })
  const deb = fs.readdirSync(dir).find((f) => f.startsWith('docker-compose_') && f.endsWith('.deb'))
  if (!deb)
    throw new OperationError("Can't install Compose v2: Debian 13's docker-compose package could not be downloaded")
  await must('dpkg-deb', ['-x', path.join(dir, deb), path.join(dir, 'x')])
  fs.mkdirSync('/usr/local/lib/docker/cli-plugins', { recursive: true })
  fs.copyFileSync(
    path.join(dir, 'x/usr/libexec/docker/cli-plugins/docker-compose'),
    '/usr/local/lib/docker/cli-plugins/docker-compose',
  )
  fs.chmodSync('/usr/local/lib/docker/cli-plugins/docker-compose', 0o755)
  fs.rmSync(dir, { recursive: true, force: true })
}

/** Starts dockerd: systemd where it runs, else a background daemon without iptables. */
export async function startDocker(): Promise<string> {
  if (fs.existsSync('/run/systemd/system')) {
    await must('systemctl', ['start', 'docker'])
  } else {
    startDaemon('dockerd', ['--iptables=false', '--ip-masq=false'], '/var/log/dockerd.log')
  }
  await retry(60, '1s', async () => {
    if (!(await dockerReachable())) throw new Error('dockerd is not answering yet')
  })
  return fs.existsSync('/run/systemd/system')
    ? 'systemd'
    : 'background daemon (--iptables=false --ip-masq=false, log /var/log/dockerd.log)'
}

/** The base image: pulled where that works, else made from Debian packages with mmdebstrap. */
export async function ensureBaseImage(image: string): Promise<string> {
  if ((await q('docker', ['image', 'inspect', image])).ok) return 'present'
  if (!image.startsWith('dms/') && (await q('docker', ['pull', '-q', image], { changes: true, timeoutMs: 60_000 })).ok)
    return 'pulled'
  if (!(await has('mmdebstrap'))) await aptInstall(['mmdebstrap'])
  const suite = /bookworm|trixie|bullseye/.exec(image)?.[0] ?? 'bookworm'
  // a pipe between two programs: bash runs it, the values stay argv ($1, $2)
  await must('bash', [
    '-c',
    'set -euo pipefail; mmdebstrap --variant=apt "$1" - | docker import - "$2"',
    'bash',
    suite,
    image,
  ])
  return `made with mmdebstrap (${suite})`
}
