// The logs of a target's services: which compose project and services to read (pure plan), the
// argv of `docker compose logs`, and each line re-prefixed with its service and slot, filtered by
// --grep and masked, as it arrives (so --follow streams).
import type { Config } from '../config.ts'
import { composeArgs, coreTarget, slotTarget, type ComposeTarget } from '../compose.ts'
import { coreServices } from '../core-stack.ts'
import { appOf, appServiceNames } from '../manifest/app-model.ts'
import { UsageError } from '../errors.ts'
import type { DeployState, Slot } from '../model.ts'
import { appHosts, hostInstances } from '../manifest/render-hosts.ts'
import type { Manifest, ManifestHost } from '../manifest/types.ts'

export type LogsRequest = {
  service?: string
  slot?: string
  release?: string
  since?: string
  follow?: boolean
  grep?: string
  tail?: number
}

export type LogsPlan = {
  /** "blue", "green", or "core" for the accessories */
  source: Slot | 'core'
  version: string | null
  services: string[]
  args: string[]
  env: Record<string, string>
  follow: boolean
  grep: RegExp | null
  /**
   * An app whose manifest names hosts: the reads on the app hosts over SSH, one `docker compose -p <project>
   * logs` each, its lines labelled "<source>@<host>"; `args` is then empty unless the source is on this
   * machine (a balancer accessory).
   */
  hosts?: HostLogs[]
}

export type HostLogs = { host: ManifestHost; label: string; args: string[] }

const SINCE_RE = /^(\d+(s|m|h)|\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d)?(Z|[+-]\d\d:\d\d)?)?)$/

/** Which slot: --slot, else the slot holding --release, else the live one. Pure. */
export function chooseSlot(req: LogsRequest, state: DeployState, live: Slot): { slot: Slot; version: string | null } {
  if (req.slot !== undefined && req.release !== undefined)
    throw new UsageError("Can't choose the logs: --slot and --release were both given", 'Give one of them.')
  if (req.slot !== undefined) {
    if (req.slot !== 'blue' && req.slot !== 'green')
      throw new UsageError(`Can't read --slot: "${req.slot}" is not a slot`, 'Write --slot blue or --slot green.')
    return { slot: req.slot, version: state.slots[req.slot]?.version ?? null }
  }
  if (req.release !== undefined) {
    const slot = (['blue', 'green'] as const).find((s) => state.slots[s]?.version === req.release)
    if (!slot) {
      const held = (['blue', 'green'] as const).map((s) => `${s}: ${state.slots[s]?.version ?? 'empty'}`).join(', ')
      throw new UsageError(
        `Can't show the logs of release ${req.release}: no slot holds it (${held})`,
        'Name a release that runs in a slot, or use --slot.',
      )
    }
    return { slot, version: req.release }
  }
  return { slot: live, version: state.slots[live]?.version ?? null }
}

/** The plan: project, services and the exact argv. Pure. */
export function planLogs(config: Config, req: LogsRequest, state: DeployState, live: Slot): LogsPlan {
  if (req.since !== undefined && !SINCE_RE.test(req.since))
    throw new UsageError(
      `Can't read --since: "${req.since}" is not a time`,
      'Write a duration like 10m or 2h, or a date like 2026-12-02T10:00:00Z.',
    )
  let grep: RegExp | null = null
  if (req.grep !== undefined) {
    try {
      grep = new RegExp(req.grep, 'i')
    } catch (e) {
      throw new UsageError(`Can't read --grep: ${(e as Error).message}`, 'Give a regular expression or plain text.')
    }
  }
  const service = req.service
  const m = appOf(config)
  const app = appServiceNames(m)
  // the core here, and the accessories the manifest puts on app hosts
  const core = [...coreServices(config), ...(m.hosts ?? []).flatMap((h) => h.accessories)]
  const accessory = service !== undefined && core.includes(service)
  if (service !== undefined && !accessory && !app.includes(service))
    throw new UsageError(
      `Can't show the logs of "${service}": there is no such service`,
      `Name one of ${[...app, ...core].join(', ')}, or leave --service out for every app service.`,
    )
  let source: LogsPlan['source'] = 'core'
  let version: string | null = null
  let t: ComposeTarget
  if (accessory) t = coreTarget(config)
  else {
    const chosen = chooseSlot(req, state, live)
    source = chosen.slot
    version = chosen.version
    t = slotTarget(config, chosen.slot, chosen.version ?? 'unknown')
  }
  const services = service ? [service] : app
  const options = [
    '--no-color',
    '--timestamps',
    ...(req.since ? ['--since', req.since] : []),
    ...(req.tail !== undefined ? ['--tail', String(req.tail)] : []),
    ...(req.follow ? ['--follow'] : []),
  ]
  const plan = { source, version, services, env: t.env, follow: !!req.follow, grep }
  const onHosts = m.hosts ? hostLogs(m, source, services, options) : []
  if (onHosts.length) return { ...plan, args: [], hosts: onHosts }
  return { ...plan, args: composeArgs(t, 'logs', ...options, ...services) }
}

/**
 * Where the logs are on the app hosts: a slot's services on each host that runs some (its compose services are
 * the instances, web-1, web-2…), an accessory on the host the manifest puts it on. Empty: read them here.
 */
function hostLogs(m: Manifest, source: LogsPlan['source'], services: string[], options: string[]): HostLogs[] {
  const logs = (host: ManifestHost, project: string, names: string[]): HostLogs => ({
    host,
    label: `${source}@${host.name}`,
    args: ['compose', '-p', project, 'logs', ...options, ...names],
  })
  if (source === 'core') {
    const on = appHosts(m).find((h) => h.accessories.includes(services[0]!))
    return on ? [logs(on, `${m.name}-accessories`, services)] : []
  }
  const mine = hostInstances(m, source).filter((x) => services.includes(x.name))
  return appHosts(m).flatMap((h) => {
    const names = mine.filter((x) => x.host.name === h.name).map((x) => x.name)
    return names.length ? [logs(h, `${m.name}-${source}`, names)] : []
  })
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape character is what it removes
const ANSI_RE = /\x1b\[[0-9;?]*[A-Za-z]/g
const COMPOSE_LINE = /^([A-Za-z0-9][A-Za-z0-9_.-]*?)(?:-(\d+))?\s+\|\s?(.*)$/

/** One line of `compose logs` as "<service> <slot> | <text>" (replica number kept), or null when --grep drops it. */
export function formatLine(
  line: string,
  source: string,
  grep: RegExp | null,
  mask: (s: string) => string,
): string | null {
  // compose writes terminal control sequences (erase line: ESC[2K) even with --no-color into a pipe
  const m = COMPOSE_LINE.exec(line.replace(ANSI_RE, ''))
  const service = m ? (m[2] && m[2] !== '1' ? `${m[1]}-${m[2]}` : m[1]!) : '?'
  const text = m ? m[3]! : line.replace(ANSI_RE, '')
  if (grep && !grep.test(text)) return null
  return mask(`${service} ${source} | ${text}`)
}

/** Splits a stream of chunks into whole lines (the last, unfinished one waits for the next chunk). */
export function lineSplitter(onLine: (line: string) => void): { push: (chunk: string) => void; end: () => void } {
  let rest = ''
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop() ?? ''
      for (const p of parts) if (p.trim()) onLine(p)
    },
    end() {
      if (rest.trim()) onLine(rest)
      rest = ''
    },
  }
}
