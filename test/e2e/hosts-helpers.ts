// The several-host test ground on this one machine: each "host" is a network namespace (dmsh-N)
// on a bridge (dmsh-br0, 172.29.50.0/24) with its own dockerd (data root, exec root, socket, bip
// 172.29.5N.1/24) and its own sshd on 172.29.50.1N. The toolkit reaches them only over SSH with
// our client key and pinned host keys. sweepGround() removes everything of ours (by our names,
// our directory and our pid files only); it runs before (leftovers) and after. That includes what the
// lane's files leave on this machine's daemon: the dmst-hosts compose projects (hosts-pipeline's core
// network holds 172.29.50.0/24, the bridge's subnet) and the balancer container.
import fs from 'node:fs'
import path from 'node:path'
import { run, startDaemon } from '../../lib/gateway.ts'
import type { Host } from '../../lib/hosts.ts'
import { pinHostKey, runOnHost, writeSshFiles, type SshOptions } from '../../lib/ssh.ts'
import { pidAlive } from '../../lib/fsutil.ts'
import { BASE_IMAGE, removeProjects, waitFor } from './harness.ts'

export const GROUND = '/tmp/dmst-hosts'
const CACHE = '/tmp/dmst-hosts-cache'
export const BRIDGE = 'dmsh-br0'
/** the balancer of hosts-deploy and hosts-multi (hosts-balancer.ts): nginx on this machine's daemon */
export const BALANCER_CONTAINER = 'dmst-hosts-nginx'
export const SUBNET = '172.29.50'
const MAX_HOSTS = 3
/** every host's sshd also listens here: a host reached on a port of its own */
export const ALT_SSH_PORT = 35022

export type TestHost = {
  i: number
  ns: string
  dir: string
  host: Host
  dockerSock: string
  hostKey: string
  sshdLog: string
}
export type Ground = { hosts: TestHost[]; ssh: SshOptions; clientKey: string; upMs: number }

const sh = (program: string, args: string[], timeoutMs = 30_000) =>
  run(program, args, { nothrow: true, timeoutMs, action: `${program} ${args.slice(0, 3).join(' ')}` })
const must = async (program: string, args: string[], timeoutMs = 30_000) => {
  const r = await run(program, args, { timeoutMs })
  return r.stdout
}
const readPid = (file: string) => (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8').trim()) : 0)

function testHost(i: number): TestHost {
  const dir = path.join(GROUND, `h${i}`)
  return {
    i,
    ns: `dmsh-${i}`,
    dir,
    // this machine is the balancer (the bridge side); every namespace is an app host
    host: { name: `host-${i}`, address: `${SUBNET}.1${i}`, user: 'root', port: 22, role: 'app' },
    dockerSock: path.join(dir, 'docker.sock'),
    hostKey: path.join(dir, 'host_key'),
    sshdLog: path.join(dir, 'sshd.log'),
  }
}

/** Kills a pid we started (from our pid file), waiting for it to exit; SIGKILL after the grace period. */
async function stopPid(pid: number, what: string, graceMs = 20_000): Promise<void> {
  if (!pid || !pidAlive(pid)) return
  process.kill(pid, 'SIGTERM')
  try {
    await waitFor(what, async () => (pidAlive(pid) ? undefined : true), graceMs, 50)
  } catch {
    if (pidAlive(pid)) process.kill(pid, 'SIGKILL')
  }
}

/** Removes every trace of the ground: processes in our namespaces, our ssh masters, mounts, links, files. */
export async function sweepGround(): Promise<{ stoppedMs: number; ms: number }> {
  const stopHost = async (th: TestHost) => {
    await stopPid(readPid(path.join(th.dir, 'sshd.pid')), `sshd of ${th.ns} to exit`)
    await stopPid(readPid(path.join(th.dir, 'docker.pid')), `dockerd of ${th.ns} to exit`, 40_000)
    const pids = await sh('ip', ['netns', 'pids', th.ns])
    await Promise.all(
      pids.stdout
        .split('\n')
        .filter(Boolean)
        .map((pid) => stopPid(Number(pid), `pid ${pid} to exit`, 5000)),
    )
  }
  const t0 = performance.now()
  await removeProjects('dmst-hosts')
  await sh('docker', ['rm', '-f', BALANCER_CONTAINER])
  await Promise.all(Array.from({ length: MAX_HOSTS }, (_, k) => stopHost(testHost(k + 1))))
  const stoppedMs = performance.now() - t0
  // our shared SSH connections: their process title names our control directory
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = ''
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (cmd.startsWith(`ssh: ${GROUND}/`)) await stopPid(Number(pid), `ssh master ${pid} to exit`, 5000)
  }
  const mounts = fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${GROUND}/`))
  for (const m of mounts.reverse()) await sh('umount', ['-l', m])
  for (let i = 1; i <= MAX_HOSTS; i++) {
    await sh('ip', ['netns', 'delete', `dmsh-${i}`])
    await sh('ip', ['link', 'delete', `dmsh-v${i}`])
  }
  await sh('ip', ['link', 'delete', BRIDGE])
  fs.rmSync(GROUND, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
  return { stoppedMs, ms: performance.now() - t0 }
}

/** The network: bridge on this machine (the balancer side), one namespace and veth per host. */
async function createNetwork(hosts: TestHost[]): Promise<void> {
  await must('ip', ['link', 'add', BRIDGE, 'type', 'bridge'])
  await must('ip', ['addr', 'add', `${SUBNET}.1/24`, 'dev', BRIDGE])
  await must('ip', ['link', 'set', BRIDGE, 'up'])
  for (const th of hosts) {
    await must('ip', ['netns', 'add', th.ns])
    await must('ip', ['link', 'add', `dmsh-v${th.i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', th.ns])
    await must('ip', ['link', 'set', `dmsh-v${th.i}`, 'master', BRIDGE, 'up'])
    await must('ip', ['-n', th.ns, 'addr', 'add', `${th.host.address}/24`, 'dev', 'eth0'])
    await must('ip', ['-n', th.ns, 'link', 'set', 'eth0', 'up'])
    await must('ip', ['-n', th.ns, 'link', 'set', 'lo', 'up'])
  }
  // a container reaching another host's address (an accessory there) leaves with its own address: real hosts
  // masquerade it (Docker's iptables rules), this ground's dockerds run without iptables, so each host routes
  // the other hosts' container subnets (their --bip) through those hosts instead
  for (const th of hosts)
    for (const other of hosts.filter((o) => o !== th))
      for (const subnet of [bipSubnet(other), poolOf(other)])
        await must('ip', ['-n', th.ns, 'route', 'add', subnet, 'via', other.host.address])
}

/** The subnet of a host's default bridge (its dockerd's --bip). */
const bipSubnet = (th: TestHost) => `172.29.5${th.i}.0/24`
/** Where a host's dockerd takes its compose networks from: a range of its own, routable from the others. */
const poolOf = (th: TestHost) => `10.23${th.i}.0.0/16`

/** Starts the host's dockerd in its namespace and waits until it answers on its socket. */
export async function startDockerd(th: TestHost): Promise<void> {
  startDaemon(
    'nsenter',
    [
      `--net=/var/run/netns/${th.ns}`,
      'dockerd',
      `--data-root=${path.join(th.dir, 'data')}`,
      `--exec-root=${path.join(th.dir, 'x')}`,
      `--pidfile=${path.join(th.dir, 'docker.pid')}`,
      `--host=unix://${th.dockerSock}`,
      `--bip=${bipSubnet(th).replace('.0/24', '.1/24')}`,
      `--default-address-pool=base=${poolOf(th)},size=24`,
      '--iptables=false',
      '--ip-masq=false',
    ],
    path.join(th.dir, 'dockerd.log'),
  )
  await waitFor(
    `dockerd of ${th.ns}`,
    async () =>
      (await sh('docker', ['-H', `unix://${th.dockerSock}`, 'info', '-f', '{{.ID}}'])).ok ? true : undefined,
    60_000,
    100,
  )
}

/** Stops the host's dockerd (the fault "a host's Docker daemon is down"). */
export async function stopDockerd(th: TestHost): Promise<void> {
  await stopPid(readPid(path.join(th.dir, 'docker.pid')), `dockerd of ${th.ns} to exit`, 40_000)
}

/** Starts the host's sshd with a host key (default its own) and waits until it listens. */
export async function startSshd(th: TestHost, hostKey = th.hostKey): Promise<void> {
  const config = path.join(th.dir, 'sshd_config')
  fs.writeFileSync(
    config,
    [
      `ListenAddress ${th.host.address}`,
      'Port 22',
      `Port ${ALT_SSH_PORT}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(th.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(th.dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'MaxSessions 64',
      `SetEnv DOCKER_HOST=unix://${th.dockerSock}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  )
  fs.rmSync(path.join(th.dir, 'sshd.pid'), { force: true })
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }) // sshd's privilege separation directory
  await must('nsenter', [`--net=/var/run/netns/${th.ns}`, '/usr/sbin/sshd', '-f', config, '-E', th.sshdLog])
  await waitFor(`sshd of ${th.ns}`, async () => (readPid(path.join(th.dir, 'sshd.pid')) ? true : undefined), 10_000, 50)
}

export async function stopSshd(th: TestHost): Promise<void> {
  await stopPid(readPid(path.join(th.dir, 'sshd.pid')), `sshd of ${th.ns} to exit`)
}

/** TCP connections sshd accepted from us so far (one per SSH login), and sessions started. */
export function sshdCounts(th: TestHost): { connections: number; sessions: number } {
  const log = fs.existsSync(th.sshdLog) ? fs.readFileSync(th.sshdLog, 'utf8') : ''
  return {
    connections: (log.match(/^Connection from /gm) ?? []).length,
    sessions: (log.match(/^Starting session: /gm) ?? []).length,
  }
}

/** The base image as a tar, saved once from this machine's daemon (cached by image id). */
async function baseImageTar(): Promise<string> {
  const id = (await must('docker', ['image', 'inspect', '-f', '{{.Id}}', BASE_IMAGE])).trim().replace('sha256:', '')
  const tar = path.join(CACHE, `base-${id.slice(0, 16)}.tar`)
  if (!fs.existsSync(tar)) {
    fs.mkdirSync(CACHE, { recursive: true })
    await must('docker', ['save', '-o', `${tar}.tmp`, BASE_IMAGE], 300_000)
    fs.renameSync(`${tar}.tmp`, tar)
  }
  return tar
}

/**
 * Builds the ground: `count` hosts, each with dockerd and sshd, our client key in its authorized
 * keys, its host key pinned in our known_hosts, and the base image loaded over SSH.
 */
export async function createGround(count: number): Promise<Ground> {
  const t0 = performance.now()
  await sweepGround()
  const hosts = Array.from({ length: count }, (_, k) => testHost(k + 1))
  const ssh: SshOptions = { dir: path.join(GROUND, 'ssh'), identityFile: path.join(GROUND, 'client', 'id_ed25519') }
  fs.mkdirSync(path.dirname(ssh.identityFile!), { recursive: true, mode: 0o700 })
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dmst-hosts client', '-f', ssh.identityFile!])
  await createNetwork(hosts)
  writeSshFiles(
    hosts.map((th) => th.host),
    ssh,
  )
  const tar = await baseImageTar()
  await Promise.all(
    hosts.map(async (th) => {
      fs.mkdirSync(th.dir, { recursive: true })
      await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', th.host.name, '-f', th.hostKey])
      fs.copyFileSync(`${ssh.identityFile}.pub`, path.join(th.dir, 'authorized_keys'))
      pinHostKey(ssh, th.host, fs.readFileSync(`${th.hostKey}.pub`, 'utf8'))
      await startDockerd(th)
      await startSshd(th)
      await runOnHost(th.host, 'docker', ['load', '-q', '-i', tar], {
        ssh,
        timeoutMs: 300_000,
        action: 'load the base image',
      })
    }),
  )
  return { hosts, ssh, clientKey: ssh.identityFile!, upMs: performance.now() - t0 }
}
