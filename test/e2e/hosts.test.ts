// test-lane: hosts
// Several hosts, groundwork: the SSH layer (lib/ssh.ts) and the host runner (lib/hosts.ts) against
// a real test ground of two hosts (network namespaces, each with its own dockerd and sshd, see
// hosts-helpers.ts). Docker reaches them only through Docker's SSH transport with our config.
// Prefix dmst-hosts, namespaces dmsh-1..2, 172.29.50.0/24, ports 35xxx.
import fs from 'node:fs'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EXIT, OperationError, RefusedError } from '../../lib/errors.ts'
import { run } from '../../lib/gateway.ts'
import { allSucceeded, runOnHosts, type Host } from '../../lib/hosts.ts'
import { closeConnection, pinHostKey, runOnHost, sshPaths, writeSshFiles, type SshOptions } from '../../lib/ssh.ts'
import { BASE_IMAGE, REPO, request, waitFor } from './harness.ts'
import {
  ALT_SSH_PORT,
  GROUND,
  SUBNET,
  createGround,
  startDockerd,
  startSshd,
  stopDockerd,
  stopSshd,
  sshdCounts,
  sweepGround,
  type Ground,
} from './hosts-helpers.ts'

let g: Ground
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'hosts-docker.ts')
/** The fixture script (the real script frame: flags, printer, exit codes) on the ground's hosts. */
async function hostsScript(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = path.join(GROUND, 'hosts.json')
  const lb = { name: 'balancer', address: `${SUBNET}.1`, role: 'balancer' }
  fs.writeFileSync(file, JSON.stringify([lb, ...g.hosts.map((th) => th.host)]))
  const args = ['--import', 'tsx', FIXTURE, '--hosts', file, '--ssh-dir', g.ssh.dir]
  return run(process.execPath, args, { cwd: REPO, nothrow: true, timeoutMs: 120_000, env: { NO_COLOR: '1' } })
}
const docker = (i: number, args: string[], ssh: SshOptions = g.ssh) =>
  runOnHost(g.hosts[i]!.host, 'docker', args, { ssh, timeoutMs: 60_000, action: `docker ${args[0]}` })

test.before(async () => {
  g = await createGround(2)
  console.log(`  test ground: ${g.hosts.length} hosts up in ${(g.upMs / 1000).toFixed(1)} s`)
})

test.after(async () => {
  await sweepGround()
})

test('docker ps and docker run of the base image reach each host through SSH, and only that host', async () => {
  const before = g.hosts.map(sshdCounts)
  const results = await runOnHosts(
    g.hosts.map((th) => th.host),
    2,
    async (host) => {
      const i = g.hosts.findIndex((th) => th.host === host)
      const ps = await docker(i, ['ps', '-a', '--format', '{{.Names}}'])
      const ran = await docker(i, ['run', '--rm', BASE_IMAGE, 'sh', '-c', 'echo ran-on-$0', host.name])
      // the data root tells the daemons apart (their engine ID comes from the shared /etc/docker/key.json)
      const root = (await docker(i, ['info', '-f', '{{.DockerRootDir}}'])).stdout.trim()
      return { ps: ps.stdout, ran: ran.stdout.trim(), root }
    },
  )
  const values = allSucceeded(results, 'run the base image')
  const direct = await Promise.all(
    g.hosts.map(
      async (th) => (await run('docker', ['-H', `unix://${th.dockerSock}`, 'info', '-f', '{{.DockerRootDir}}'])).stdout,
    ),
  )
  const main = (await run('docker', ['info', '-f', '{{.DockerRootDir}}'])).stdout.trim()
  values.forEach((v, i) => {
    assert.is(v.ran, `ran-on-${g.hosts[i]!.host.name}`)
    assert.is(v.root, path.join(g.hosts[i]!.dir, 'data'), `host-${i + 1}: the daemon reached over SSH is its own`)
    assert.is(v.root, direct[i]!.trim())
    assert.is.not(v.root, main)
    assert.ok(sshdCounts(g.hosts[i]!).sessions > before[i]!.sessions, `host-${i + 1}: calls went through its sshd`)
  })
  assert.is.not(values[0]!.root, values[1]!.root)
})

test("a container published on a host's private address answers the balancer side over HTTP", async () => {
  const server =
    'use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die $!;' +
    ' while (my $c = $s->accept) { my $r = <$c>; print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n$ENV{WHO}\\n"; close $c }'
  try {
    await runOnHosts(
      g.hosts.map((th) => th.host),
      2,
      async (host) => {
        const i = g.hosts.findIndex((th) => th.host === host)
        const publish = `${host.address}:${35080 + i}:8080`
        const name = ['--name', 'dmst-hosts-web', '-e', `WHO=${host.name}`, '-p', publish]
        await docker(i, ['run', '-d', ...name, BASE_IMAGE, 'perl', '-e', server])
      },
    ).then((r) => allSucceeded(r, 'start the web container'))
    for (const [i, th] of g.hosts.entries()) {
      const url = `http://${th.host.address}:${35080 + i}/`
      const res = await waitFor(url, async () => {
        const r = await request(url, { timeoutMs: 2000 })
        return r.status === 200 ? r : undefined
      })
      assert.is(res.body.trim(), th.host.name)
    }
  } finally {
    for (const i of g.hosts.keys()) await docker(i, ['rm', '-f', 'dmst-hosts-web']).catch(() => undefined)
  }
})

test('connection reuse: 20 docker calls to one host open one SSH connection; without reuse, one each', async () => {
  const th = g.hosts[1]!
  const calls = 20
  const measure = async (ssh: SshOptions) => {
    await closeConnection(th.host, ssh)
    const before = sshdCounts(th)
    const t0 = performance.now()
    for (let k = 0; k < calls; k++) await docker(1, ['version', '-f', '{{.Server.Version}}'], ssh)
    const after = sshdCounts(th)
    return {
      connections: after.connections - before.connections,
      sessions: after.sessions - before.sessions,
      ms: performance.now() - t0,
    }
  }
  const on = await measure(g.ssh)
  const offSsh: SshOptions = { ...g.ssh, dir: path.join(GROUND, 'ssh-noreuse'), reuse: false }
  writeSshFiles([th.host], offSsh)
  pinHostKey(offSsh, th.host, fs.readFileSync(`${th.hostKey}.pub`, 'utf8'))
  const off = await measure(offSsh)
  console.log(
    `  ${calls} docker calls: reuse on ${on.connections} connection(s), ${on.sessions} sessions, ${Math.round(on.ms)} ms;` +
      ` reuse off ${off.connections} connections, ${off.sessions} sessions, ${Math.round(off.ms)} ms`,
  )
  assert.is(on.connections, 1, 'with ControlMaster every call shares one connection')
  assert.ok(on.sessions >= calls, `each call is a session on it (${on.sessions})`)
  assert.ok(off.connections >= calls, `without reuse every call logs in again (${off.connections})`)
})

test('a host reached on an SSH port of its own: refused until its key is pinned as [address]:port, then reached', async () => {
  const th = g.hosts[1]!
  const onPort: Host = { ...th.host, name: 'host-2-alt', port: ALT_SSH_PORT }
  const ssh: SshOptions = { ...g.ssh, dir: path.join(GROUND, 'ssh-port') }
  writeSshFiles([onPort], ssh)
  try {
    await runOnHost(onPort, 'docker', ['ps'], { ssh, action: 'list containers' })
    assert.unreachable('a host with no pinned key on that port was reached')
  } catch (e) {
    assert.instance(e, RefusedError)
    assert.match((e as Error).message, /host-2-alt \(root@172\.29\.50\.12:35022\): no host key is pinned/)
  }
  pinHostKey(ssh, onPort, fs.readFileSync(`${th.hostKey}.pub`, 'utf8'))
  assert.match(fs.readFileSync(sshPaths(ssh.dir).knownHosts, 'utf8'), /^\[172\.29\.50\.12\]:35022 ssh-ed25519 /m)
  const root = await runOnHost(onPort, 'docker', ['info', '-f', '{{.DockerRootDir}}'], { ssh })
  assert.is(root.stdout.trim(), path.join(th.dir, 'data'))
  await closeConnection(onPort, ssh)
})

test('a changed host key is refused (exit 2) naming the host and the fix; the pinned key is kept', async () => {
  const th = g.hosts[0]!
  const known = sshPaths(g.ssh.dir).knownHosts
  const pinned = fs.readFileSync(known, 'utf8')
  const otherKey = path.join(th.dir, 'other_host_key')
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rebuilt', '-f', otherKey])
  await closeConnection(th.host, g.ssh)
  await stopSshd(th)
  await startSshd(th, otherKey)
  const sessions = sshdCounts(th).sessions
  try {
    await docker(0, ['ps'])
    assert.unreachable('a changed host key was accepted')
  } catch (e) {
    assert.instance(e, RefusedError)
    const err = e as RefusedError
    assert.is(err.exitCode, EXIT.REFUSED)
    assert.match(err.message, /host-1 \(root@172\.29\.50\.11:22\)/)
    assert.match(err.message, /SSH host key is not the one pinned/)
    assert.match(err.hint, new RegExp(`ssh-keygen -f ${known} -R 172\\.29\\.50\\.11`))
    const script = await hostsScript()
    assert.is(script.code, EXIT.REFUSED, script.stderr)
    assert.match(script.stderr, /host-1 \(root@172\.29\.50\.11:22\): its SSH host key is not the one pinned/)
    assert.match(script.stderr, /ssh-keygen -f /)
  } finally {
    await stopSshd(th)
    await startSshd(th)
  }
  assert.is(fs.readFileSync(known, 'utf8'), pinned, 'known_hosts unchanged: never auto-accepted')
  assert.is(sshdCounts(th).sessions, sessions, 'no session was started with the unknown key')
  assert.ok((await docker(0, ['ps'])).ok, 'the real key works again')
})

test("a host whose sshd is down: bounded retries, then an error naming the host; the other host's calls succeed", async () => {
  const th = g.hosts[1]!
  await closeConnection(th.host, g.ssh)
  await stopSshd(th)
  try {
    const results = await runOnHosts(
      g.hosts.map((h) => h.host),
      2,
      (host) =>
        runOnHost(host, 'docker', ['ps'], { ssh: g.ssh, tries: 3, retryDelayMs: 200, action: 'list containers' }),
    )
    assert.ok(results[0]!.ok, 'host-1 answered')
    assert.not.ok(results[1]!.ok)
    try {
      allSucceeded(results, 'list containers')
      assert.unreachable('a failed host was not reported')
    } catch (e) {
      assert.instance(e, OperationError)
      const msg = (e as Error).message
      assert.match(msg, /on 1 of 2 hosts \(host-2\)/)
      assert.match(
        msg,
        /SSH could not connect after 3 tries \(ssh: connect to host 172\.29\.50\.12 port 22: Connection refused\)/,
      )
    }
  } finally {
    await startSshd(th)
  }
})

test("a host whose dockerd is stopped gives a clear error naming the host; the other host's calls succeed", async () => {
  const th = g.hosts[1]!
  await stopDockerd(th)
  try {
    const results = await runOnHosts(
      g.hosts.map((h) => h.host),
      2,
      (host) => runOnHost(host, 'docker', ['ps'], { ssh: g.ssh, action: 'list containers' }),
    )
    assert.ok(results[0]!.ok, 'host-1 answered')
    assert.not.ok(results[1]!.ok)
    const err = (results[1] as { error?: OperationError }).error
    assert.instance(err, OperationError)
    assert.match(
      err!.message,
      /Can't list containers on host host-2 \(root@172\.29\.50\.12:22\): its Docker daemon does not answer/,
    )
    assert.match(err!.hint, /Check Docker on host-2/)
    const script = await hostsScript()
    assert.is(script.code, EXIT.FAILED, script.stderr)
    assert.match(script.stdout + script.stderr, /host-1: ok/)
    assert.match(script.stderr, /Can't list containers on 1 of 2 hosts \(host-2\)/)
  } finally {
    await startDockerd(th)
  }
  assert.ok((await docker(1, ['ps'])).ok, 'host-2 answers again once its daemon is back')
})

test('removing the ground leaves no namespace, link, process, mount or file of ours', async () => {
  for (const th of g.hosts) await closeConnection(th.host, g.ssh)
  const swept = await sweepGround()
  console.log(
    `  test ground removed in ${(swept.ms / 1000).toFixed(1)} s (daemons stopped in ${(swept.stoppedMs / 1000).toFixed(1)} s)`,
  )
  const netns = (await run('ip', ['netns', 'list'])).stdout
  assert.not.match(netns, /dmsh-/)
  const links = (await run('ip', ['-o', 'link', 'show'])).stdout
  assert.not.match(links, /dmsh-/)
  assert.not.ok(fs.existsSync(GROUND))
  assert.not.match(fs.readFileSync('/proc/mounts', 'utf8'), new RegExp(GROUND))
  const ours = fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(GROUND)
      } catch {
        return false
      }
    })
  assert.equal(ours, [], 'no process of the ground is left')
})

test.run()
