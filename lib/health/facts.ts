// Gathering facts from the world for the health-check: docker, the host, files in VAR_DIR.
// Each function answers with data or throws a plain Error saying what it could not read;
// the checks turn that into UNKNOWN.
import fs from 'node:fs'
import os from 'node:os'
import { X509Certificate } from 'node:crypto'
import { readLock } from '../lock.ts'
import { run } from '../gateway.ts'
import { pidAlive } from '../fsutil.ts'
import { daysUntil } from '../dates.ts'
import type { ContainerFact, DiskFact, LoadFact, LockFact, MemoryFact } from './evaluate.ts'

/** Every container (any state) of the given compose projects, with restart counts. */
export async function readContainers(projects: readonly string[], signal?: AbortSignal): Promise<ContainerFact[]> {
  const ps = await run('docker', ['ps', '-aq', '--no-trunc', '--filter', 'label=com.docker.compose.project'], {
    nothrow: true,
    changes: false,
    action: 'list the containers',
    ...(signal ? { signal } : {}),
  })
  if (!ps.ok) throw new Error(`docker ps failed: ${ps.stderr.trim().split('\n').pop() ?? `exit ${ps.code}`}`)
  const ids = ps.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean)
  if (ids.length === 0) return []
  const inspect = await run('docker', ['inspect', ...ids], {
    nothrow: true,
    changes: false,
    action: 'inspect the containers',
    ...(signal ? { signal } : {}),
  })
  // a container removed between ps and inspect makes inspect exit 1 but still print the rest
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
  let items: Array<Record<string, any>>
  try {
    items = JSON.parse(inspect.stdout || '[]')
  } catch {
    throw new Error(`docker inspect failed: ${inspect.stderr.trim().split('\n').pop() ?? 'no output'}`)
  }
  const wanted = new Set(projects)
  return items
    .filter((c) => wanted.has(c.Config?.Labels?.['com.docker.compose.project']))
    .map((c) => parseInspect(c))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** One `docker inspect` item to a ContainerFact. */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
export function parseInspect(c: Record<string, any>): ContainerFact {
  const labels: Record<string, string> = c.Config?.Labels ?? {}
  return {
    name: String(c.Name ?? '').replace(/^\//, ''),
    project: labels['com.docker.compose.project'] ?? '',
    service: labels['com.docker.compose.service'] ?? '',
    state: String(c.State?.Status ?? 'unknown'),
    health: String(c.State?.Health?.Status ?? 'none'),
    restartCount: Number(c.RestartCount ?? 0),
    ...(labels['dms.slot'] ? { slot: labels['dms.slot'] } : {}),
    ...(labels['dms.version'] ? { version: labels['dms.version'] } : {}),
    image: String(c.Config?.Image ?? ''),
  }
}

/** Filesystems holding these paths, each once. */
export async function readDisks(paths: readonly string[]): Promise<DiskFact[]> {
  const seen = new Set<number>()
  const out: DiskFact[] = []
  for (const p of paths) {
    let dev: number
    try {
      dev = fs.statSync(p).dev
    } catch {
      continue
    }
    if (seen.has(dev)) continue
    seen.add(dev)
    const s = await fs.promises.statfs(p)
    out.push({ path: p, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize })
  }
  return out
}

/** MemAvailable from /proc/meminfo (what can be used without swapping); os.freemem elsewhere. */
export function readMemory(): MemoryFact {
  try {
    const text = fs.readFileSync('/proc/meminfo', 'utf8')
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN) * 1024
    const total = kb('MemTotal')
    const avail = kb('MemAvailable')
    if (Number.isFinite(total) && Number.isFinite(avail)) return { totalBytes: total, availableBytes: avail }
  } catch {
    // not Linux
  }
  return { totalBytes: os.totalmem(), availableBytes: os.freemem() }
}

export function readLoad(): LoadFact {
  const [load1 = 0, load5 = 0] = os.loadavg()
  return { load1, load5, cpus: os.availableParallelism?.() ?? os.cpus().length }
}

export function readLockFact(file: string): LockFact {
  try {
    const h = readLock(file)
    if (!h) return { held: false }
    return { held: true, ...h, alive: h.host === os.hostname() ? pidAlive(h.pid) : undefined }
  } catch (e) {
    return { corrupt: (e as Error).message }
  }
}

/** Days left of the certificate file nginx serves (when the listener cannot be asked). */
export function readCertFile(file: string): { daysLeft: number; validTo: string; source: string } {
  const cert = new X509Certificate(fs.readFileSync(file))
  return { daysLeft: daysUntil(cert.validTo), validTo: cert.validTo, source: file }
}
