// The host model (name, address, SSH user and port, role), its validation, the Docker environment
// that reaches a host (Docker's own SSH transport), and a runner that acts on several hosts in
// parallel with a limit and names every host that failed. Pure: no process is started here.
import path from 'node:path'
import { EXIT, OperationError, RefusedError, UsageError, errorMessage, shownValue } from './errors.ts'

export type HostRole = 'balancer' | 'app'
export const HOST_ROLES: readonly HostRole[] = ['balancer', 'app']

export type Host = {
  /** the toolkit's name for the machine, in messages and reports */
  name: string
  /** how to reach it: an IPv4 address or a DNS name; 'local' is this machine (no SSH) */
  address: string
  user: string
  port: number
  role: HostRole
}

/** The zero-configuration default: this machine, reached as today (no SSH, environment unchanged). */
export const LOCAL_HOST: Host = { name: 'local', address: 'local', user: '', port: 0, role: 'balancer' }

export const isLocal = (h: Host): boolean => h.address === 'local'

/** "root@10.0.0.5:22" (or "this machine"), for messages. */
export function hostLabel(h: Host): string {
  return isLocal(h) ? `${h.name} (this machine)` : `${h.name} (${h.user}@${h.address}:${h.port})`
}

/** a host's name (also in the manifest's shape: lib/manifest/shape.ts) */
export const HOST_NAME_RE = '^[a-z][a-z0-9-]{0,30}$'
/** an SSH user name */
export const HOST_USER_RE = '^[a-z_][a-z0-9_-]{0,31}$'
const NAME = new RegExp(HOST_NAME_RE)
const USER = new RegExp(HOST_USER_RE)
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const DNS =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** An address ssh and Docker take as a host and nothing else (no option, no user, no spaces). */
export function validAddress(text: string): boolean {
  const v4 = IPV4.exec(text)
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255)
  return DNS.test(text) && !/^\d+(\.\d+)*$/.test(text)
}

/**
 * Validates a list of hosts as written (a manifest's `hosts`, a test's list): every problem at
 * once, each naming the host and the fix. Defaults: user root, port 22, role app. Exactly one
 * balancer. Throws UsageError (exit 2) listing them.
 */
export function parseHosts(raw: unknown, where = 'hosts'): Host[] {
  const problems: string[] = []
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new UsageError(`Can't read ${where}: expected a list of hosts, got ${shownValue(JSON.stringify(raw) ?? '')}`)
  }
  const hosts: Host[] = []
  raw.forEach((item: unknown, i) => {
    const at = `${where}[${i}]`
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(`${at}: expected a mapping with name and address`)
      return
    }
    const o = item as Record<string, unknown>
    for (const key of Object.keys(o))
      if (!['name', 'address', 'user', 'port', 'role'].includes(key))
        problems.push(`${at}: unknown key ${shownValue(key)} (expected name, address, user, port, role)`)
    const name = typeof o.name === 'string' ? o.name : ''
    const label = name ? `${at} (${name})` : at
    if (!NAME.test(name))
      problems.push(`${label}: name ${shownValue(String(o.name ?? ''))} must be lower-case letters, digits and -`)
    const address = typeof o.address === 'string' ? o.address : ''
    if (!validAddress(address))
      problems.push(`${label}: address ${shownValue(String(o.address ?? ''))} is not an IPv4 address or a DNS name`)
    const user = o.user === undefined ? 'root' : o.user
    if (typeof user !== 'string' || !USER.test(user))
      problems.push(`${label}: user ${shownValue(String(user))} is not a Unix user name`)
    const port = o.port === undefined ? 22 : o.port
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
      problems.push(`${label}: port ${shownValue(String(port))} must be a whole number from 1 to 65535`)
    const role = o.role === undefined ? 'app' : o.role
    if (!HOST_ROLES.includes(role as HostRole))
      problems.push(`${label}: role ${shownValue(String(role))} must be one of ${HOST_ROLES.join(', ')}`)
    hosts.push({ name, address, user: String(user), port: Number(port), role: role as HostRole })
  })
  problems.push(...crossChecks(hosts, where))
  if (problems.length)
    throw new UsageError(
      `Can't use ${where}: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  ${problems.join('\n  ')}`,
      'Fix each entry named above; nothing was changed.',
    )
  return hosts
}

function crossChecks(hosts: Host[], where: string): string[] {
  return hostListProblems(hosts).map((p) => `${where}: ${p.message}`)
}

/**
 * The rules across a list of hosts (unique names, one machine once, exactly one balancer), each
 * with the index of the entry it is about (none: the list as a whole). Shared with the manifest.
 */
export function hostListProblems(hosts: Host[]): Array<{ index?: number; message: string }> {
  const problems: Array<{ index?: number; message: string }> = []
  const seen = new Map<string, number>()
  const seenAddr = new Map<string, string>()
  hosts.forEach((h, index) => {
    if (h.name && seen.has(h.name))
      problems.push({ index, message: `the name ${h.name} is used twice; names must be unique` })
    seen.set(h.name, 1)
    const key = `${h.address}:${h.port}`
    const other = seenAddr.get(key)
    if (h.address && other !== undefined && other !== h.name)
      problems.push({ index, message: `${other} and ${h.name} are both ${key}; one machine is one host` })
    seenAddr.set(key, h.name)
  })
  const balancers = hosts.filter((h) => h.role === 'balancer').length
  if (balancers !== 1)
    problems.push({
      message: `${balancers} hosts have role balancer; exactly one must (it runs nginx, state and lock)`,
    })
  return problems
}

/** `--parallel N`: how many hosts are acted on at once (Kamal's boot limit). */
export function parseParallel(text: string): number {
  const n = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(n) || n < 1 || n > 100)
    throw new UsageError(
      `Can't use --parallel ${shownValue(text)}: expected a whole number from 1 to 100`,
      'Pass how many hosts to act on at once, e.g. --parallel 2.',
    )
  return n
}

/**
 * The environment a gateway call needs to reach a host's Docker daemon. This machine: nothing
 * (the environment stays exactly as today). Another host: DOCKER_HOST=ssh://user@address:port, and
 * PATH starting with the toolkit's ssh wrapper directory, because Docker's CLI runs `ssh` from PATH.
 */
export function dockerEnv(host: Host, sshDir: string, pathEnv = process.env.PATH ?? ''): Record<string, string> {
  if (isLocal(host)) return {}
  return {
    DOCKER_HOST: `ssh://${host.user}@${host.address}:${host.port}`,
    PATH: [path.join(sshDir, 'bin'), pathEnv].filter(Boolean).join(':'),
  }
}

export type HostResult<T> =
  | { host: Host; ok: true; value: T; ms: number }
  | { host: Host; ok: false; error: Error; ms: number }

/** Runs fn on every host, at most `limit` at once; never rejects; results in the order of `hosts`. */
export async function runOnHosts<T, H extends Host = Host>(
  hosts: H[],
  limit: number,
  fn: (host: H) => Promise<T>,
): Promise<Array<HostResult<T>>> {
  const results: Array<HostResult<T>> = new Array(hosts.length)
  let next = 0
  const worker = async () => {
    for (let i = next++; i < hosts.length; i = next++) {
      const host = hosts[i]!
      const t0 = performance.now()
      try {
        const value = await fn(host)
        results[i] = { host, ok: true, value, ms: performance.now() - t0 }
      } catch (e) {
        const error = e instanceof Error ? e : new Error(errorMessage(e))
        results[i] = { host, ok: false, error, ms: performance.now() - t0 }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, hosts.length)) }, worker))
  return results
}

/**
 * The values when every host succeeded; otherwise an error naming each failed host and why: a
 * RefusedError (exit 2) when every failed host refused before anything ran on it (a changed host
 * key, our key refused, bad input), an OperationError (exit 1) otherwise.
 */
export function allSucceeded<T>(results: Array<HostResult<T>>, action: string): T[] {
  const failed = results.filter((r): r is Extract<HostResult<T>, { ok: false }> => !r.ok)
  if (!failed.length) return results.map((r) => (r as Extract<HostResult<T>, { ok: true }>).value)
  const names = failed.map((r) => r.host.name).join(', ')
  const lines = failed.map((r) => `${r.host.name}: ${r.error.message.split('\n')[0]}`)
  const message = `Can't ${action} on ${failed.length} of ${results.length} hosts (${names}):\n  ${lines.join('\n  ')}`
  const hint = failed.map((r) => (r.error as { hint?: string }).hint).find(Boolean) ?? 'Check the hosts named above.'
  const refused = failed.every((r) => (r.error as { exitCode?: number }).exitCode === EXIT.REFUSED)
  if (refused) throw new RefusedError(message, hint, failed[0]!.error)
  throw new OperationError(message, hint, failed[0]!.error)
}
