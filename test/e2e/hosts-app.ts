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
export const pyshopOn = (hosts: number[]): Manifest => parseManifest(pyshopText(hosts), 'app.yaml', 'production')

/** scripts/hosts.ts on the ground: the balancer's VAR_DIR (its live/ markers), the ground's SSH directory and key. */
export function runHostsScript(g: Ground, args: string[]) {
  const app = path.join(GROUND, 'app.yaml')
  fs.writeFileSync(app, pyshopText([1, 2]))
  const t = toolkitTarget('dmst-hosts', SUBNET, 35, { VAR_DIR })
  const common = [
    '--app',
    app,
    '--ssh-dir',
    g.ssh.dir,
    '--ssh-key',
    g.clientKey,
    '--publish-base',
    String(PUBLISH_BASE),
  ]
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
