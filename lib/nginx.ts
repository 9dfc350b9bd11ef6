// nginx at run time: slot markers (the switch), reading the live routing back, and config
// changes that are validated with `nginx -t` before they go live (nginx-files.ts: the layout).
// The pure rendering lives in nginx-render.ts.
import fs from 'node:fs'
import path from 'node:path'
import { otherSlot, SLOTS, validateVersion, type Slot } from './model.ts'
import type { Config } from './config.ts'
import { coreTarget, execArgs, type Shell } from './compose.ts'
import { OperationError } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import { faultPoint } from './fault.ts'
import {
  RELOAD_PENDING,
  activateSet,
  adoptFlatFiles,
  pruneSets,
  readIncludes,
  stageSet,
  writeCheckTree,
} from './nginx-files.ts'
import { renderNginxIncludes, type NginxSettings } from './nginx-render.ts'
import { appOf } from './manifest/app-model.ts'
import { hostsUpstreams } from './multihost-upstreams.ts'

const BUCKETS = 100

export type LiveRouting = {
  /** the slot that takes public traffic outside any gradual buckets */
  live: Slot
  /** marker files present (for drift reports) */
  markers: string[]
  /** gradual shift in progress: the slot receiving the buckets and its share */
  gradual: { to: Slot; percent: number } | null
}

/** Reads the routing exactly as nginx evaluates it: green marker wins, else blue. */
export function readLive(liveDir: string): LiveRouting {
  let markers: string[] = []
  try {
    markers = fs
      .readdirSync(liveDir)
      .filter((f) => !f.startsWith('.'))
      .sort()
  } catch {
    markers = []
  }
  const live: Slot = markers.includes('green') ? 'green' : 'blue'
  const to = otherSlot(live)
  const buckets = markers.filter((m) => m.startsWith(`to-${to}-b`)).length
  return { live, markers, gradual: buckets ? { to, percent: buckets } : null }
}

export function hasLiveMarker(liveDir: string): boolean {
  return fs.existsSync(path.join(liveDir, 'blue')) || fs.existsSync(path.join(liveDir, 'green'))
}

/** Makes `slot` live for every new request: write its marker atomically, then remove the other. */
export function setLive(liveDir: string, slot: Slot): void {
  writeFileAtomic(path.join(liveDir, slot), `${slot} ${new Date().toISOString()}\n`)
  fs.rmSync(path.join(liveDir, otherSlot(slot)), { force: true })
  clearGradual(liveDir)
}

/** Sends `percent` of the buckets to `to` (the others follow the live marker). */
export function setGradual(liveDir: string, to: Slot, percent: number): void {
  const n = Math.max(0, Math.min(BUCKETS, Math.round(percent)))
  const from = otherSlot(to)
  for (let b = 1; b <= BUCKETS; b++) {
    const want = path.join(liveDir, `to-${to}-b${b}`)
    if (b <= n) {
      if (!fs.existsSync(want)) writeFileAtomic(want, '')
    } else fs.rmSync(want, { force: true })
    fs.rmSync(path.join(liveDir, `to-${from}-b${b}`), { force: true })
  }
}

/**
 * Names the release of `slot` for nginx's cache keys (cached manifest routes): the link live/.release-<slot>
 * to .releases/<version>, swapped in one rename; release directories no link uses are removed. Dot names:
 * readLive and the drift checks never see them.
 */
export function setReleaseMarker(liveDir: string, slot: Slot, version: string): void {
  const releases = path.join(liveDir, '.releases')
  fs.mkdirSync(path.join(releases, validateVersion(version)), { recursive: true, mode: 0o755 })
  const link = path.join(liveDir, `.release-${slot}`)
  const tmp = `${link}.${process.pid}.tmp`
  fs.rmSync(tmp, { force: true })
  fs.symlinkSync(path.join('.releases', version), tmp)
  fs.renameSync(tmp, link)
  const used = new Set(SLOTS.map((s) => readLinkOr(path.join(liveDir, `.release-${s}`))).map((t) => path.basename(t)))
  for (const v of fs.readdirSync(releases)) if (!used.has(v)) fs.rmSync(path.join(releases, v), { recursive: true })
}

const readLinkOr = (file: string): string => {
  try {
    return fs.readlinkSync(file)
  } catch {
    return ''
  }
}

export function clearGradual(liveDir: string): void {
  let names: string[] = []
  try {
    names = fs.readdirSync(liveDir)
  } catch {
    return
  }
  for (const n of names) if (/^to-(blue|green)-b\d+$/.test(n)) fs.rmSync(path.join(liveDir, n), { force: true })
}

export function nginxSettings(config: Config): NginxSettings {
  return {
    netPrefix: config.netPrefix,
    listenAddr: config.listenAddr,
    httpsPort: config.ports.https,
    httpPort: config.ports.http,
    previewPort: config.ports.preview,
    statusPort: config.ports.status,
    statusAllow: config.statusAllow,
    domains: config.tls.domains,
    hsts: config.tls.hsts,
    sticky: config.gradualSticky,
    app: appOf(config),
    ...hostsUpstreams(config),
  }
}

/** `nginx -t` inside the running nginx container (of its live config, or of `conf` as nginx sees it). */
export async function testConfig(sh: Shell, config: Config, conf?: string): Promise<{ ok: boolean; output: string }> {
  const t = coreTarget(config)
  const r = await sh.docker(execArgs(t, 'nginx', ['nginx', '-t', '-q', ...(conf ? ['-c', conf] : [])]), {
    env: t.env,
    nothrow: true,
    changes: false,
  })
  return { ok: r.ok, output: (r.stderr + r.stdout).trim() }
}

/**
 * Brings the generated includes up to date (nginx-files.ts has the layout). A change is written as
 * a new complete set; when nginx runs, `nginx -t` checks a config that includes that set, and only
 * then is it swapped in (one rename) and nginx reloaded. A rejected set never goes live. A reload
 * cut short by a kill is done by the next call. Returns the names that changed.
 */
export async function applyIncludes(
  sh: Shell,
  config: Config,
  dir: string,
  o: { nginxRunning: boolean },
): Promise<string[]> {
  const files = renderNginxIncludes(nginxSettings(config))
  const names = Object.keys(files)
  const now = readIncludes(dir, names)
  const changed = names.filter((n) => now[n] !== files[n])
  const pending = path.join(dir, RELOAD_PENDING)
  if ((!changed.length && !(o.nginxRunning && fs.existsSync(pending))) || sh.dryRun) return changed
  if (changed.length) {
    adoptFlatFiles(dir, names)
    const id = stageSet(dir, files)
    if (o.nginxRunning) {
      const test = await testConfig(sh, config, writeCheckTree(dir, path.join(config.root, 'nginx'), id))
      faultPoint('nginx.checked')
      if (!test.ok) {
        pruneSets(dir)
        throw new OperationError(
          `Can't change the nginx configuration: nginx -t rejected it (${test.output.split('\n').slice(-2).join(' ')}). The live configuration was not touched; nginx was not reloaded.`,
          'Check the values in the env file (ports, addresses, allow-list).',
        )
      }
      writeFileAtomic(pending, `${id}\n`)
    }
    activateSet(dir, id, names)
  }
  if (o.nginxRunning) {
    const t = coreTarget(config)
    await sh.docker(execArgs(t, 'nginx', ['nginx', '-s', 'reload']), { env: t.env, action: 'reload nginx' })
    faultPoint('nginx.reloaded')
    fs.rmSync(pending, { force: true })
  }
  pruneSets(dir)
  return changed
}
