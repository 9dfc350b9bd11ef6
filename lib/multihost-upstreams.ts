// What the stack's nginx needs to list an app's hosts in its upstreams (#16): the published port base and
// the drained hosts (recorded on the balancer by scripts/hosts.ts, read here); nothing when the manifest names
// no hosts.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import { appOf } from './manifest/app-model.ts'
import { UsageError, shownValue } from './errors.ts'
import { PUBLISH_BASE, type HostUpstreams } from './manifest/render-hosts.ts'

/** The drained hosts recorded on the balancer (none when the file is missing). */
export function readDrained(file: string): string[] {
  if (!fs.existsSync(file)) return []
  const v = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown
  return Array.isArray(v) ? v.map(String) : []
}

/** The drained hosts' file on the balancer. */
export const drainedPath = (varDir: string): string => path.join(varDir, 'hosts-drained.json')

/** { hosts: { publishBase, drained } } for nginxSettings, or {} (the one-host upstreams). */
export function hostsUpstreams(config: Config): { hosts?: HostUpstreams } {
  if (!appOf(config).hosts) return {}
  return { hosts: { publishBase: publishBaseOf(config), drained: readDrained(drainedPath(config.varDir)) } }
}

/** HOSTS_PUBLISH_BASE (default PUBLISH_BASE): the first port the app hosts publish; exit 2 when not a port. */
export function publishBaseOf(config: Config): number {
  const base = config.multiHost?.publishBase ?? ''
  if (base === '') return PUBLISH_BASE
  const n = /^\d{1,5}$/.test(base) ? Number(base) : Number.NaN
  if (!(n >= 1024 && n <= 65535 - 64))
    throw new UsageError(
      `Can't use HOSTS_PUBLISH_BASE=${shownValue(base)}: expected a port from 1024 to 65471 (each slot takes 32 ports from it)`,
      `Fix HOSTS_PUBLISH_BASE in env/.env.${config.target}, or remove it for the default ${PUBLISH_BASE}.`,
    )
  return n
}
