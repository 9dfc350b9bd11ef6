// The health checks that read facts of this host and the stack: bad threshold settings, containers
// (with restart counts), disk, memory, load, the TLS certificate, drift between the state file and
// the world, the daemon's live-restore and the deploy lock.
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { certView } from '../certs-op.ts'
import { LIVE_RESTORE_OFF, liveRestoreEnabled } from '../docker-daemon.ts'
import { readLive } from '../nginx.ts'
import { probeHttp } from '../probe.ts'
import { readState } from '../state.ts'
import type { Slot } from '../model.ts'
import {
  evaluateContainers,
  evaluateDisk,
  evaluateDrift,
  evaluateLoad,
  evaluateLock,
  evaluateMemory,
  evaluateTls,
} from './evaluate.ts'
import { readCertFile, readDisks, readLoad, readLockFact, readMemory } from './facts.ts'
import { markerSlot } from './gather-status.ts'
import { evaluateMaintenance, readMaintenance } from '../day2/maintenance.ts'
import type { CheckResult } from './model.ts'
import { elapsedSince, fact, type CheckDef, type Sources } from './sources.ts'

export function hostChecks(s: Sources): CheckDef[] {
  const { paths, thresholds: t } = s.input
  return [
    {
      name: 'containers',
      onTimeout: 'UNKNOWN',
      run: () =>
        fact('containers', async () => {
          const t1 = performance.now()
          const r = evaluateContainers(await s.containers(), s.input.restarts, s.now(), t, 0)
          s.memory.restarts = r.memory
          return { ...r.result, latencyMs: elapsedSince(t1) }
        }),
    },
    {
      name: 'host_disk',
      onTimeout: 'UNKNOWN',
      run: () => fact('host_disk', async () => evaluateDisk(await readDisks([paths.varDir, '/']), t)),
    },
    {
      name: 'host_memory',
      onTimeout: 'UNKNOWN',
      run: () => fact('host_memory', () => evaluateMemory(readMemory(), t)),
    },
    { name: 'host_load', onTimeout: 'UNKNOWN', run: () => fact('host_load', () => evaluateLoad(readLoad(), t)) },
    { name: 'tls_certificate', onTimeout: 'UNKNOWN', run: () => fact('tls_certificate', () => tlsCheck(s)) },
    { name: 'drift', onTimeout: 'UNKNOWN', run: () => fact('drift', () => driftCheck(s)) },
    {
      name: 'docker_live_restore',
      onTimeout: 'UNKNOWN',
      run: () => fact('docker_live_restore', () => liveRestoreCheck(s)),
    },
    {
      name: 'maintenance',
      onTimeout: 'UNKNOWN',
      run: async () => evaluateMaintenance(readMaintenance(paths.live)),
    },
    {
      name: 'deploy_lock',
      onTimeout: 'UNKNOWN',
      run: () => fact('deploy_lock', () => evaluateLock(readLockFact(paths.lock), s.now(), t)),
    },
  ]
}

/** The bad HEALTH_* settings, as a check of their own (only when there are some). */
export function thresholdCheck(problems: readonly string[]): CheckDef[] {
  if (!problems.length) return []
  const detail = `bad HEALTH_* settings in the env file: ${problems.join('; ')}`
  return [
    {
      name: 'thresholds',
      onTimeout: 'UNKNOWN',
      run: async () => ({ name: 'thresholds', status: 'UNKNOWN', latencyMs: 0, detail }),
    },
  ]
}

/** The pair nginx serves (the handshake gives days left), else the certificate file. */
async function tlsCheck(s: Sources): Promise<CheckResult> {
  const { config, paths, thresholds: t } = s.input
  const p = await s.publicNginx()
  // issuer, names and the renewal date of the pair nginx serves
  const v = certView(config, paths)
  const about = v.served ? { issuer: v.served.issuer, names: v.served.names, nextRenewal: v.nextRenewal } : {}
  if (p.tls) return evaluateTls({ ...p.tls, ...about, source: `served on port ${config.ports.https}` }, t, p.latencyMs)
  const file = path.join(paths.certs, 'tls.crt')
  try {
    return evaluateTls(readCertFile(file), t)
  } catch (e) {
    return evaluateTls(
      { error: `the listener did not answer (${p.detail}) and ${file} is unreadable (${(e as Error).message})` },
      t,
    )
  }
}

/** The state file against the world: markers, nginx's own view, the slot header, running versions. */
async function driftCheck(s: Sources): Promise<CheckResult> {
  const { config, paths } = s.input
  const t1 = performance.now()
  const state = readState(paths.state, config.target)
  const routing = readLive(paths.live)
  const splitMarkers = routing.markers.filter((m) => /^to-(blue|green)-b\d+$/.test(m))
  const [slots, nginxView, publicAnswer] = await Promise.all([
    s.appSlots(),
    probeHttp({
      url: `http://${s.host}:${config.ports.status}/live-slot`,
      expectStatus: 200,
      keepBody: true,
      timeoutMs: s.timeoutMs,
      signal: s.shared.signal,
    }),
    s.publicNginx(),
  ])
  // the slot nginx itself says it routed a public request to: no header is needed from the app
  const headerSlot = publicAnswer.headers?.['x-deploy-slot']
  let nginxLive: Slot | undefined
  try {
    const live = nginxView.ok ? JSON.parse(nginxView.body ?? 'null')?.live : undefined
    if (live === 'blue' || live === 'green') nginxLive = live
  } catch {
    nginxLive = undefined
  }
  const running = (x: Slot) => slots[x].filter((c) => c.state === 'running').map((c) => c.version ?? '?')
  const lock = readLockFact(paths.lock)
  return evaluateDrift(
    {
      stateLive: state.live,
      markerLive: markerSlot(routing),
      splitMarkers,
      headerSlot,
      ...(nginxLive ? { nginxLive } : {}),
      recorded: { blue: state.slots.blue?.version ?? null, green: state.slots.green?.version ?? null },
      running: { blue: running('blue'), green: running('green') },
      lockHeld: 'held' in lock && lock.held,
    },
    elapsedSince(t1),
  )
}

async function liveRestoreCheck(s: Sources): Promise<CheckResult> {
  const on = await liveRestoreEnabled(s.shared.signal)
  if (on === null) throw new Error('docker info did not answer')
  return on
    ? {
        name: 'docker_live_restore',
        status: 'OK',
        latencyMs: 0,
        detail: 'live-restore is on: containers keep serving while dockerd restarts',
      }
    : { name: 'docker_live_restore', status: 'WARNING', latencyMs: 0, detail: LIVE_RESTORE_OFF }
}
