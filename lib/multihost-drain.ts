// Draining an app host out of rotation and back (#16), without a deploy: the upstreams are rendered again
// with that host's servers `down`, written on the balancer, checked by nginx -t (the previous file put back if
// refused) and nginx reloaded drained (live/.drain makes HTTP/1.1 answers say "Connection: close" around the
// reload, so no keep-alive request lands on a connection the reload closes). The drained list is kept in a
// file on the balancer.
import fs from 'node:fs'
import path from 'node:path'
import { OperationError, UsageError } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import { drainProblems, renderHostUpstreams } from './manifest/render-hosts.ts'
import type { Manifest } from './manifest/types.ts'

/** The balancer's nginx as the drain needs it. */
export type BalancerNginx = {
  /** the upstreams file nginx includes */
  upstreamsFile: string
  /** nginx's marker directory (live/) */
  liveDir: string
  /** nginx -t; throws with nginx's words when the configuration is refused */
  test: () => Promise<void>
  reload: () => Promise<void>
}

export type DrainOptions = { publishBase?: number; drainMs?: number; keepalive?: number }

/** The drained list after `drain`/`undrain` of one host, or a refusal (exit 2) saying why. */
export function nextDrained(
  m: Manifest,
  current: readonly string[],
  action: 'drain' | 'undrain',
  host: string,
): string[] {
  const apps = (m.hosts ?? []).filter((h) => h.role === 'app').map((h) => h.name)
  if (!apps.includes(host))
    throw new UsageError(
      `Can't ${action} ${host}: it is not an app host of ${m.name}${apps.length ? '' : ' (the manifest names no hosts)'}`,
      `Name one of: ${apps.join(', ') || 'add hosts: to the manifest first'}.`,
    )
  const next = action === 'drain' ? [...new Set([...current, host])] : current.filter((h) => h !== host)
  const problems = drainProblems(m, next)
  if (problems.length)
    throw new UsageError(
      `Can't ${action} ${host}: ${problems.join('; ')}. Nothing was changed.`,
      'Undrain another host first.',
    )
  return next
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Runs `reload` with live/.drain in place for `drainMs` (default 1.5 s) before and after it: HTTP/1.1 answers
 * say "Connection: close" meanwhile, so no keep-alive request lands on a connection the reload closes.
 */
export async function withDrainMarker<T>(liveDir: string, drainMs = 1500, reload: () => Promise<T>): Promise<T> {
  const marker = path.join(liveDir, '.drain')
  writeFileAtomic(marker, `${new Date().toISOString()}\n`)
  try {
    await pause(drainMs)
    const r = await reload()
    await pause(drainMs)
    return r
  } finally {
    fs.rmSync(marker, { force: true })
  }
}

/** Puts the upstreams for `drained` in place and reloads nginx drained; the old file is restored if nginx refuses it. */
export async function applyDrained(
  m: Manifest,
  nginx: BalancerNginx,
  drained: readonly string[],
  stateFile: string,
  o: DrainOptions = {},
): Promise<{ changed: boolean }> {
  const text = renderHostUpstreams(m, { publishBase: o.publishBase, drained, keepalive: o.keepalive })
  const before = fs.existsSync(nginx.upstreamsFile) ? fs.readFileSync(nginx.upstreamsFile, 'utf8') : undefined
  if (before === text) {
    writeFileAtomic(stateFile, `${JSON.stringify(drained)}\n`)
    return { changed: false }
  }
  writeFileAtomic(nginx.upstreamsFile, text)
  try {
    await nginx.test()
  } catch (e) {
    if (before === undefined) fs.rmSync(nginx.upstreamsFile, { force: true })
    else writeFileAtomic(nginx.upstreamsFile, before)
    throw new OperationError(
      `Can't change the drained hosts: nginx refused the new upstreams (${(e as Error).message.split('\n')[0]}). The previous file is back; nothing was reloaded.`,
      'Run nginx -t on the balancer to see the whole message.',
      e,
    )
  }
  await withDrainMarker(nginx.liveDir, o.drainMs, () => nginx.reload())
  writeFileAtomic(stateFile, `${JSON.stringify(drained)}\n`)
  return { changed: true }
}
