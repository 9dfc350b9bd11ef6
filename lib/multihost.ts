// The slot lifecycle on several app hosts (#16): create a slot on every app host (at most --parallel at once,
// each host's candidate checked ready by probing its published addresses from the balancer; a failing host
// aborts the release, the candidate removed everywhere, the live slot untouched), remove a slot everywhere,
// and one status row per host. Every docker call goes through lib/ssh.ts (the gateway, DOCKER_HOST=ssh://).
import fs from 'node:fs'
import path from 'node:path'
import { parseDockerPs, type ServiceState } from './compose.ts'
import { OperationError, RefusedError } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import type { RunResult } from './gateway.ts'
import { allSucceeded, runOnHosts, type Host, type HostResult } from './hosts.ts'
import type { AppSlot } from './manifest/allocate.ts'
import {
  accessoryHosts,
  appHosts,
  hostInstances,
  renderHostAccessoriesCompose,
  renderHostSlotCompose,
  type HostInstance,
} from './manifest/render-hosts.ts'
import type { Manifest } from './manifest/types.ts'
import type { ReleaseVia } from './migrations.ts'
import type { HostRow, SlotCount } from './multihost-health.ts'
import { probeHttp } from './probe.ts'
import { waitUntilReady } from './readiness.ts'
import { runOnHost, type SshOptions } from './ssh.ts'
import { Timeline } from './timeline.ts'

export type MultiHost = {
  manifest: Manifest
  ssh: SshOptions
  /** compose projects are `<project>-<slot>` on every host */
  project: string
  /** where the per-host compose files are written (on the balancer) */
  dir: string
  /** hosts acted on at once (Kamal's boot limit) */
  parallel: number
  publishBase?: number
  /** deadline of one docker call (default 120 s) */
  callTimeoutMs?: number
  /** how long a host's candidate may take to be ready (default 90 s) */
  readyTimeoutMs?: number
  /** hosts out of rotation (status only) */
  drained?: readonly string[]
  timeline?: Timeline
  /** told when a host's candidate is ready, before the next host starts (progress for a printer) */
  onHostReady?: (created: HostCreated) => void | Promise<void>
}

export type HostCreated = { host: string; containers: number; ms: number }

const projectOf = (mh: MultiHost, slot: AppSlot) => `${mh.project}-${slot}`
const composeFile = (mh: MultiHost, slot: AppSlot, host: Host) =>
  path.join(mh.dir, `${projectOf(mh, slot)}.${host.name}.yml`)
/** Writes a file generated for a host (compose reads it here and sends the project to the host) under mh.dir. */
function writeHostFile(mh: MultiHost, name: string, text: string): string {
  fs.mkdirSync(mh.dir, { recursive: true })
  const file = path.join(mh.dir, name)
  writeFileAtomic(file, text)
  return file
}
const call = (mh: MultiHost, action: string) => ({ ssh: mh.ssh, timeoutMs: mh.callTimeoutMs ?? 120_000, action })

/** Every app host's Docker daemon answers over SSH, or a refusal naming each one that does not. */
export async function preflightHosts(mh: MultiHost, doing: string): Promise<void> {
  const results = await runOnHosts(appHosts(mh.manifest), mh.parallel, (host) =>
    runOnHost(host, 'docker', ['version', '-f', '{{.Server.Version}}'], call(mh, 'reach the Docker daemon')),
  )
  try {
    allSucceeded(results, 'reach the Docker daemon')
  } catch (e) {
    const err = e as OperationError
    throw new RefusedError(`Can't ${doing}: ${err.message}\nNothing was started on any host.`, err.hint, err)
  }
}

/** Starts the slot's containers on one host and waits until each answers its readiness path from here. */
async function createOnHost(mh: MultiHost, slot: AppSlot, version: string, host: Host): Promise<HostCreated> {
  const t0 = performance.now()
  const file = writeHostFile(
    mh,
    path.basename(composeFile(mh, slot, host)),
    renderHostSlotCompose(mh.manifest, host, { slot, version, publishBase: mh.publishBase }),
  )
  const up = ['compose', '-p', projectOf(mh, slot), '-f', file, 'up', '-d', '--remove-orphans']
  await runOnHost(host, 'docker', up, call(mh, `start ${slot} ${version}`))
  const mine = hostInstances(mh.manifest, slot, mh.publishBase).filter((x) => x.host.name === host.name)
  const deadline = Date.now() + (mh.readyTimeoutMs ?? 90_000)
  const ready = await waitUntilReady((signal) => probeInstances(mine, signal), mh.timeline ?? new Timeline(), {
    deadline,
  })
  if (!ready.ok) {
    const why = ready.last.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)
    throw new OperationError(`its ${slot} containers are not ready: ${why.join(', ')}`)
  }
  const created = { host: host.name, containers: mine.length, ms: performance.now() - t0 }
  await mh.onHostReady?.(created)
  return created
}

/** One probe per container of a host, named "<host> <container>", from the balancer to its published address. */
export function probeInstances(xs: HostInstance[], signal?: AbortSignal) {
  return Promise.all(
    xs.map((x) =>
      probeHttp({
        name: `${x.host.name} ${x.name}`,
        url: `http://${x.address}:${x.port}${x.service.readiness}`,
        timeoutMs: 2000,
        signal,
      }),
    ),
  )
}

/**
 * Creates `slot` with `version` on every app host. Refused (nothing started) when a host's daemon does not
 * answer; when a host fails to start or get ready, the candidate is removed from every host and the error
 * names the host: the live slot is never touched (it is another compose project).
 */
export async function createSlotOnHosts(mh: MultiHost, slot: AppSlot, version: string): Promise<HostCreated[]> {
  await preflightHosts(mh, `create ${slot} ${version} on ${appHosts(mh.manifest).length} hosts`)
  const results = await runOnHosts(appHosts(mh.manifest), mh.parallel, (host) => createOnHost(mh, slot, version, host))
  try {
    return allSucceeded(results, `create ${slot} ${version}`)
  } catch (e) {
    const removed = await runOnHosts(appHosts(mh.manifest), mh.parallel, (host) => removeOnHost(mh, slot, host))
    const left = removed.filter((r) => !r.ok).map((r) => r.host.name)
    const err = e as OperationError
    const after = left.length
      ? `The candidate was removed where the host answered; not on ${left.join(', ')} (remove it there once it is back: docker compose -p ${projectOf(mh, slot)} down).`
      : 'The candidate was removed from every host.'
    throw new OperationError(
      `${err.message}\n${after} Nothing was switched: the live slot was not touched on any host.`,
      err.hint,
      err,
    )
  }
}

async function removeOnHost(mh: MultiHost, slot: AppSlot, host: Host): Promise<void> {
  const down = ['compose', '-p', projectOf(mh, slot), 'down', '--remove-orphans', '--timeout', '10']
  await runOnHost(host, 'docker', down, call(mh, `remove ${slot}`))
}

/** Removes `slot` on every app host (after a rollback window, or a failed create); names any host that failed. */
export async function removeSlotOnHosts(mh: MultiHost, slot: AppSlot): Promise<void> {
  const results = await runOnHosts(appHosts(mh.manifest), mh.parallel, (host) => removeOnHost(mh, slot, host))
  allSucceeded(results, `remove ${slot}`)
}

/** One row per app host: its containers of each slot (running of expected) and how many answer ready. */
export async function hostRows(mh: MultiHost): Promise<HostRow[]> {
  const results = await runOnHosts(appHosts(mh.manifest), mh.parallel, async (host) => {
    const ps = await runOnHost(
      host,
      'docker',
      ['ps', '--filter', `label=com.docker.compose.project`, '--format', '{{.Label "com.docker.compose.project"}}'],
      call(mh, 'list containers'),
    )
    return ps.stdout.split('\n').filter(Boolean)
  })
  const counts = await Promise.all(
    results.map(async (r) => ({ blue: await slotCount(mh, r, 'blue'), green: await slotCount(mh, r, 'green') })),
  )
  return results.map((r: HostResult<string[]>, i) => ({
    host: r.host.name,
    address: r.host.address,
    reachable: r.ok,
    ...(r.ok ? {} : { error: r.error.message.split('\n')[0] }),
    drained: (mh.drained ?? []).includes(r.host.name),
    slots: counts[i]!,
    ms: r.ms,
  }))
}

async function slotCount(mh: MultiHost, r: HostResult<string[]>, slot: AppSlot): Promise<SlotCount> {
  const mine = hostInstances(mh.manifest, slot, mh.publishBase).filter((x) => x.host.name === r.host.name)
  if (!r.ok) return { running: 0, expected: mine.length, ready: 0 }
  const running = r.value.filter((p) => p === projectOf(mh, slot)).length
  const ready = running ? (await probeInstances(mine)).filter((p) => p.ok).length : 0
  return { running, expected: mine.length, ready }
}

/** `program args` on every app host (the --parallel limit); never rejects: a result per host. */
export function hostsCall(
  mh: MultiHost,
  program: string,
  args: string[],
  action: string,
  o: { nothrow?: boolean } = {},
): Promise<Array<HostResult<RunResult>>> {
  return runOnHosts(appHosts(mh.manifest), mh.parallel, (host) =>
    runOnHost(host, program, args, { ...call(mh, action), changes: false, ...o }),
  )
}

/** The containers of a slot's project on every app host (as `docker ps` sees them), or why a host did not answer. */
export function hostSlotContainers(mh: MultiHost, slot: AppSlot): Promise<Array<HostResult<ServiceState[]>>> {
  const project = projectOf(mh, slot)
  const ps = ['ps', '--all', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`]
  return runOnHosts(appHosts(mh.manifest), mh.parallel, async (host) => {
    const r = await runOnHost(host, 'docker', [...ps, '--format', '{{json .}}'], {
      ...call(mh, `list the containers of ${project}`),
      changes: false,
    })
    return parseDockerPs(r.stdout)
  })
}

export type HostAccessories = { host: string; accessories: string[]; ms: number }

/** the compose project of an app host's accessories (beside `<project>-<slot>`) */
export const accessoriesProject = (mh: MultiHost): string => `${mh.project}-accessories`

/**
 * Starts (or leaves as they are) the accessories each app host runs, from the file generated here, and waits until
 * they run (`up --wait`); a host that fails is named. Idempotent: compose changes only what differs.
 */
export async function startAccessoriesOnHosts(mh: MultiHost, waitS = 120): Promise<HostAccessories[]> {
  const hosts = accessoryHosts(mh.manifest)
  const results = await runOnHosts(hosts, mh.parallel, async (host) => {
    const t0 = performance.now()
    const file = writeHostFile(
      mh,
      `${accessoriesProject(mh)}.${host.name}.yml`,
      renderHostAccessoriesCompose(mh.manifest, host),
    )
    const up = ['compose', '-p', accessoriesProject(mh), '-f', file, 'up', '-d', '--remove-orphans', '--wait']
    await runOnHost(host, 'docker', [...up, '--wait-timeout', String(waitS)], call(mh, 'start the accessories'))
    return { host: host.name, accessories: host.accessories, ms: performance.now() - t0 }
  })
  return allSucceeded(results, 'start the accessories')
}

/** Removes the accessories on every app host that runs some (their volumes are kept unless `volumes`). */
export async function removeAccessoriesOnHosts(mh: MultiHost, volumes = false): Promise<void> {
  const down = ['compose', '-p', accessoriesProject(mh), 'down', '--remove-orphans', '--timeout', '10']
  const results = await runOnHosts(accessoryHosts(mh.manifest), mh.parallel, (host) =>
    runOnHost(host, 'docker', [...down, ...(volumes ? ['--volumes'] : [])], call(mh, 'remove the accessories')),
  )
  allSucceeded(results, 'remove the accessories')
}

/**
 * The release command of a release on several hosts: the one-off service `release` is in the slot file of the
 * first app host that runs its service (render-hosts), so it runs there, over SSH, in that host's slot project,
 * from a file of its own rendered for `version` (the plan lists pending migrations before the slot is created).
 * Undefined for an app without a release command.
 */
export function releaseVia(mh: MultiHost, slot: AppSlot, version: string): ReleaseVia | undefined {
  const release = mh.manifest.release
  if (!release) return undefined
  const host = appHosts(mh.manifest).find((h) => h.services.includes(release.service))!
  const file = writeHostFile(
    mh,
    `${projectOf(mh, slot)}.${host.name}.release.yml`,
    renderHostSlotCompose(mh.manifest, host, { slot, version, publishBase: mh.publishBase }),
  )
  return {
    target: { file, project: projectOf(mh, slot), profiles: ['release'], env: {}, service: 'release' },
    docker: (args, o = {}) =>
      runOnHost(host, 'docker', args, { ...call(mh, `run the release command on ${host.name}`), ...o, ssh: mh.ssh }),
  }
}
