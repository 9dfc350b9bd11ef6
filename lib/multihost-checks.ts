// The app hosts in health-check and status (#16): when the target's manifest names app hosts, one check per
// host (reachable over SSH, its live containers running and ready, drained or not: lib/multihost-health.ts)
// from one sweep of the hosts, shared by the checks; and the same rows for scripts/status.ts.
import type { Config } from './config.ts'
import type { CheckDef } from './health/sources.ts'
import { appOf } from './manifest/app-model.ts'
import { appHosts } from './manifest/render-hosts.ts'
import { hostCheck, hostLine, hostsHealth, type HostRow } from './multihost-health.ts'
import { hostRows } from './multihost.ts'
import { connectHosts } from './multihost-platform.ts'
import { readLive } from './nginx.ts'
import type { Paths } from './paths.ts'
import type { CheckStatus } from './health/model.ts'

/** Every app host's row (one SSH sweep), or undefined when the manifest names no hosts. */
export async function readHostRows(config: Config, paths: Paths): Promise<HostRow[] | undefined> {
  const m = appOf(config)
  if (!m.hosts) return undefined
  return hostRows(connectHosts(config, paths, m))
}

/** health-check's checks of the app hosts: host_<name> each, CRITICAL naming a host whose live containers fail. */
export function appHostCheckDefs(input: { config: Config; paths: Paths }): CheckDef[] {
  const m = appOf(input.config)
  if (!m.hosts) return []
  let rows: Promise<HostRow[] | undefined> | undefined
  const sweep = () => {
    rows ??= readHostRows(input.config, input.paths)
    return rows
  }
  return appHosts(m).map((h) => ({
    name: `host_${h.name.replace(/-/g, '_')}`,
    onTimeout: 'CRITICAL',
    run: async () => {
      const row = (await sweep())?.find((r) => r.host === h.name)
      return row ? hostCheck(row, readLive(input.paths.live).live) : null
    },
  }))
}

export type HostsStatus = { live: 'blue' | 'green'; status: CheckStatus; summary: string; hosts: HostRow[] }

/** status's view of the app hosts (undefined without hosts), and its lines for people. */
export async function hostsStatus(config: Config, paths: Paths): Promise<HostsStatus | undefined> {
  const rows = await readHostRows(config, paths)
  if (!rows) return undefined
  const live = readLive(paths.live).live
  const h = hostsHealth(rows, live)
  return { live, status: h.status, summary: h.summary, hosts: rows }
}

export function renderHostsStatus(s: HostsStatus | undefined): string {
  if (!s) return ''
  return `\nApp hosts (${s.hosts.length}):\n${s.hosts.map((r) => `  ${hostLine(r, s.live)}\n`).join('')}  ${s.summary}\n`
}
