// The app of the several-host e2e: pyshop's manifest with hosts on the test ground, its images loaded onto
// each host over SSH, scripts/hosts.ts run against the ground, the containers of a project on a host asked
// through its own socket, and a create with a fault brought on while it runs.
import fs from 'node:fs'
import path from 'node:path'
import { run } from '../../lib/gateway.ts'
import { parseManifest } from '../../lib/manifest/load.ts'
import type { Manifest } from '../../lib/manifest/types.ts'
import { createSlotOnHosts, type HostCreated, type MultiHost } from '../../lib/multihost.ts'
import { runOnHost } from '../../lib/ssh.ts'
import { BASE_IMAGE, buildOne, REPO } from './harness.ts'
import { PUBLISH_BASE, VAR_DIR } from './hosts-balancer.ts'
import { GROUND, SUBNET, type Ground } from './hosts-helpers.ts'
import { script, toolkitTarget } from './toolkit-env.ts'

export function pyshopText(hosts: number[]): string {
  const text = fs.readFileSync(path.join(REPO, 'examples/pyshop/app.yaml'), 'utf8')
  const lines = [`  - { name: balancer, address: ${SUBNET}.1, role: balancer }`]
  for (const i of hosts) lines.push(`  - { name: host-${i}, address: ${SUBNET}.1${i} }`)
  return `${text}\nhosts:\n${lines.join('\n')}\n`
}
/**
 * pyshop on `hosts` with the accessory kv (pyshop's own server on port 7000, from `image`) on host-`on`, web's
 * env naming it by ${KV_HOST}:${KV_PORT}, and a release command (pending, applied) run by api's image.
 */
export function pyshopWithKv(hosts: number[], on: number, image: string): string {
  const base = pyshopText(hosts)
  const placed = base.replace(`address: ${SUBNET}.1${on} }`, `address: ${SUBNET}.1${on}, accessories: [kv] }`)
  const withEnv = placed.replace(
    "env: { PORT: '8000', READY_PATH: /healthz }",
    "env: { PORT: '8000', READY_PATH: /healthz, KV: '${KV_HOST}:${KV_PORT}' }",
  )
  if (placed === base || withEnv === placed) throw new Error("pyshop's manifest changed: host or web env not found")
  const kv = `accessories:\n  kv:\n    image: ${image}\n    port: 7000\n    env: { PORT: '7000', READY_PATH: /ready, SERVICE: kv }\n`
  // a release command (in api's image and env, so on host-1): lists one pending step, applies kv-<version>
  const release = [
    'release:',
    '  service: api',
    `  command: [python3, -c, "import json, os; print(json.dumps({'ok': True, 'applied': ['kv-' + os.environ['VERSION']]}))"]`,
    '  pending: [python3, -c, "print(\'kv-001\')"]',
    '',
  ].join('\n')
  return `${withEnv}${kv}${release}`
}
export const pyshopOn = (hosts: number[]): Manifest => parseManifest(pyshopText(hosts), 'app.yaml', 'production')

/**
 * A production target on the ground for the toolkit's scripts: the balancer's VAR_DIR (its live/ markers),
 * the ground's SSH directory and key and the publish base in the environment, the app on `hosts` (default 1 and 2).
 */
export function groundTarget(g: Ground, hosts = [1, 2]) {
  const app = path.join(GROUND, 'app.yaml')
  fs.writeFileSync(app, pyshopText(hosts))
  const t = toolkitTarget('dmst-hosts', SUBNET, 35, {
    VAR_DIR,
    APP: app,
    HOSTS_SSH_DIR: g.ssh.dir,
    HOSTS_SSH_KEY: g.clientKey,
    HOSTS_PUBLISH_BASE: String(PUBLISH_BASE),
    // the ground's hosts share this machine's 2 cores with the other suites: what is judged here is 0 failed
    // requests, not latency (a p95 above the 500 ms default sent a verified switch back in a CI rehearsal)
    SWITCH_MAX_P95_MS: '5000',
  })
  return { t, app }
}

/** scripts/hosts.ts on the ground (its flags name the SSH directory and key). */
export function runHostsScript(g: Ground, args: string[]) {
  const { t, app } = groundTarget(g)
  // the publish base comes from the target's HOSTS_PUBLISH_BASE (--publish-base is refused with a drain)
  const common = ['--app', app, '--ssh-dir', g.ssh.dir, '--ssh-key', g.clientKey]
  return script(t, 'hosts', [...common, ...args], {}, 120_000)
}

/** The containers of a compose project on a host, asked through its own socket (not the toolkit's path). */
export async function containersOf(g: Ground, i: number, project: string): Promise<number> {
  const sock = `unix://${g.hosts[i]!.dockerSock}`
  const r = await run('docker', ['-H', sock, 'ps', '-q', '--filter', `label=com.docker.compose.project=${project}`])
  return r.stdout.split('\n').filter(Boolean).length
}

/**
 * Creates green with `fault` brought on once host-1's candidate is ready, before host-2 starts (with
 * --parallel 1 the hosts go one after another). Returns the error the create ended with (none: it succeeded).
 */
export async function createDuringFault(
  mh: MultiHost,
  version: string,
  fault: () => Promise<void>,
): Promise<Error | undefined> {
  const onHostReady = async (c: HostCreated) => {
    if (c.host === 'host-1') await fault()
  }
  try {
    await createSlotOnHosts({ ...mh, parallel: 1, onHostReady }, 'green', version)
    return undefined
  } catch (e) {
    return e as Error
  }
}

/** Builds pyshop's images here and loads them onto every host of the ground over SSH. */
export async function loadPyshop(g: Ground, versions: string[]): Promise<void> {
  for (const v of versions) await buildOne(`pyshop/app:${v}`, path.join(REPO, 'examples/pyshop'), { BASE_IMAGE })
  const tar = path.join(GROUND, 'pyshop.tar')
  await run('docker', ['save', '-o', tar, ...versions.map((v) => `pyshop/app:${v}`)], { timeoutMs: 300_000 })
  await Promise.all(
    g.hosts.map((th) =>
      runOnHost(th.host, 'docker', ['load', '-q', '-i', tar], {
        ssh: g.ssh,
        timeoutMs: 300_000,
        action: 'load pyshop',
      }),
    ),
  )
}
