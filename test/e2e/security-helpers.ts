// Shared by the security and bad-input e2e suites: TLS handshakes with the real openssl
// s_client, a process-list sampler that looks for secret values on command lines, the
// append-only check of the audit log, and a snapshot of what a refused run must not change.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import * as assert from 'uvu/assert'
import { request } from './harness.ts'
import type { ToolkitTarget } from './toolkit-env.ts'

const sh = $({ quiet: true, nothrow: true })

// ---------------------------------------------------------------- TLS

export type Handshake = { ok: boolean; protocol: string; cipher: string; alert: boolean; out: string }

/**
 * One TLS handshake with `openssl s_client` (stdin closed, so it ends after the handshake).
 * OpenSSL 3 refuses TLS 1.0/1.1 and weak ciphers on the client side at its default security
 * level, so callers add `@SECLEVEL=0` to -cipher: then a refusal can only come from the server.
 * `alert` says the server answered with a TLS alert (it really refused, the client did offer).
 */
export function handshake(port: number, args: string[]): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    // stdin from /dev/null: s_client ends right after the handshake
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const m = /New, (\S+), Cipher is (\S+)/.exec(out)
      const ok = code === 0 && !!m && m[2] !== '(NONE)'
      resolve({
        ok,
        protocol: m?.[1] ?? '',
        cipher: ok ? m![2]! : '',
        alert: /alert|wrong version number/i.test(out),
        out,
      })
    })
  })
}

/** TLS 1.2 cipher names this openssl can offer (TLS 1.3 suites are configured apart). */
export async function tls12Ciphers(): Promise<string[]> {
  const r = await sh`openssl ciphers ${'ALL:COMPLEMENTOFALL:@SECLEVEL=0'}`
  return r.stdout
    .trim()
    .split(':')
    .filter((c) => c && !c.startsWith('TLS_'))
}

/** Runs fn over items with at most `n` at a time. */
export async function mapLimit<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i]!)
      }
    }),
  )
  return out
}

// ---------------------------------------------------------------- process list

export type SampleReport = { samples: number; psRuns: number; commands: Set<string>; leaks: string[] }

/**
 * Reads every process's command line (/proc/<pid>/cmdline, and `ps -eo args` every few rounds)
 * until stopped, and keeps those that contain one of the secret values.
 */
export function sampleProcessList(
  secrets: string[],
  everyMs = 20,
): { report: SampleReport; stop: () => Promise<SampleReport> } {
  const report: SampleReport = { samples: 0, psRuns: 0, commands: new Set(), leaks: [] }
  const look = (cmd: string) => {
    if (!cmd) return
    report.commands.add(cmd.slice(0, 300))
    for (const s of secrets) if (cmd.includes(s)) report.leaks.push(cmd.slice(0, 300))
  }
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      for (const pid of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(pid)) continue
        try {
          look(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim())
        } catch {
          // the process ended between readdir and read
        }
      }
      if (report.samples % 5 === 0) {
        const ps = await sh`ps -eo args`
        report.psRuns++
        for (const line of ps.stdout.split('\n')) look(line.trim())
      }
      report.samples++
      await new Promise((r) => setTimeout(r, everyMs))
    }
  })()
  return {
    report,
    stop: async () => {
      stopped = true
      await loop
      return report
    },
  }
}

// ---------------------------------------------------------------- audit log

export function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

/**
 * The audit log only grows: the earlier content is an exact prefix of the new one, and every
 * new line is a JSON entry with user and host. Returns the new entries.
 */
export function assertAppended(before: string, after: string, what: string): Array<Record<string, unknown>> {
  assert.ok(after.startsWith(before), `${what}: the audit log's earlier content changed`)
  const added = after.slice(before.length).split('\n').filter(Boolean)
  return added.map((line) => {
    let entry: Record<string, unknown>
    try {
      entry = JSON.parse(line) as Record<string, unknown>
    } catch {
      assert.unreachable(`${what}: an audit line is not JSON: ${line.slice(0, 200)}`)
      throw new Error('unreachable')
    }
    assert.ok(typeof entry.user === 'string' && entry.user !== '', `${what}: audit entry without user: ${line}`)
    assert.ok(typeof entry.host === 'string' && entry.host !== '', `${what}: audit entry without host: ${line}`)
    return entry
  })
}

// ---------------------------------------------------------------- "nothing changed"

export type WorldSnapshot = {
  containers: string
  files: Record<string, string | null>
  markers: string
  audit: string
}

/** Containers of the target's projects: id, state, start time and restarts (a restart or recreate shows). */
export async function containerSnapshot(t: ToolkitTarget): Promise<string> {
  const ids = await sh`docker ps -aq --filter ${`label=com.docker.compose.project`} --filter ${`name=^${t.prefix}-`}`
  const list = ids.stdout.split('\n').filter(Boolean)
  if (!list.length) return ''
  const r =
    await sh`docker inspect --format ${'{{.Name}} {{.Id}} {{.State.Status}} {{.State.StartedAt}} {{.RestartCount}}'} ${list}`
  return r.stdout.split('\n').filter(Boolean).sort().join('\n')
}

/** The files a refused run must leave alone, by content (null: absent). */
export function fileSnapshot(t: ToolkitTarget): Record<string, string | null> {
  const p = t.paths
  const files: Record<string, string | null> = {}
  const add = (f: string) =>
    (files[path.relative(p.varDir, f) || f] = fs.existsSync(f) ? fs.readFileSync(f, 'latin1') : null)
  for (const f of [p.state, `${p.state}.bak`, p.lock, path.join(t.env.DMS_ENV_DIR!, '.env.production.local')]) add(f)
  for (const dir of [p.nginx, p.live, p.metrics, p.secrets]) {
    // nginx/ holds directories of include sets and links to them: every file in it, by its path
    for (const name of fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as string[]).sort() : []) {
      if (fs.statSync(path.join(dir, name)).isFile()) add(path.join(dir, name))
    }
  }
  add(p.alerts)
  return files
}

/** Routing as nginx sees it: the live slot's X-Slot and X-Version through the public listener. */
export async function routingSnapshot(t: ToolkitTarget): Promise<string> {
  const r = await request(`https://127.0.0.1:${t.config.ports.https}/api/version`, { timeoutMs: 5000 })
  return `${r.status} ${String(r.headers['x-slot'])} ${String(r.headers['x-version'])}`
}

export async function worldSnapshot(t: ToolkitTarget): Promise<WorldSnapshot> {
  return {
    containers: await containerSnapshot(t),
    files: fileSnapshot(t),
    markers: await routingSnapshot(t),
    audit: readText(t.paths.audit),
  }
}

/**
 * Nothing changed since `before`: files byte for byte, containers, routing; the audit log
 * only gained refusal records. Pass deep=false to skip the docker and HTTP parts (fast).
 */
export async function assertUnchanged(
  t: ToolkitTarget,
  before: WorldSnapshot,
  what: string,
  deep = true,
): Promise<void> {
  const files = fileSnapshot(t)
  for (const name of new Set([...Object.keys(before.files), ...Object.keys(files)])) {
    assert.ok(before.files[name] === files[name], `${what}: ${name} changed`)
  }
  const added = assertAppended(before.audit, readText(t.paths.audit), what)
  for (const e of added)
    assert.is(e.outcome, 'refused', `${what}: a new audit entry that is not a refusal: ${JSON.stringify(e)}`)
  if (!deep) return
  assert.is(await containerSnapshot(t), before.containers, `${what}: containers changed`)
  assert.is(await routingSnapshot(t), before.markers, `${what}: routing changed`)
}
