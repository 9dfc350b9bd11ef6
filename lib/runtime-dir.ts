// Prepares the runtime directory (VAR_DIR) and the docker network that the compose
// files expect (docs/architecture.md "Runtime directory"). Idempotent: running it
// again changes only what is missing or different.
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from './fsutil.ts'
import { activateSet, adoptFlatFiles, pruneSets, readIncludes, stageSet } from './nginx-files.ts'
import { run } from './gateway.ts'
import { checkNetPrefix, renderNginxIncludes, type NginxSettings } from './nginx-render.ts'

export type RuntimeSettings = NginxSettings & {
  varDir: string
  networkName: string
  postgresPassword: string
  redisPassword: string
  /** Alertmanager receiver credentials (ALERT_* in the env's .local file); empty: not configured */
  alertmanager?: { slackWebhookUrl?: string; pagerdutyRoutingKey?: string; smtpPassword?: string }
}

export type RuntimeReport = {
  /** Directories and files created or rewritten (paths relative to varDir), never their content. */
  changed: string[]
  /** Generated nginx includes whose content changed (nginx needs a reload when nginx runs). */
  nginxIncludesChanged: string[]
  certificateCreated: boolean
  networkCreated: boolean
}

export const RUNTIME_DIRS = ['live', 'nginx', 'certs', 'secrets', 'backups', 'metrics'] as const
const NETWORK_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/

function checkSecret(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`Can't prepare runtime: ${name} is empty`)
  if (/[\s"'\\]/.test(value))
    throw new Error(`Can't prepare runtime: ${name} must not contain whitespace, quotes or backslashes`)
  return value
}

/** Writes a file atomically when its content differs; returns whether it wrote. */
function writeIfChanged(file: string, content: string, mode: number): boolean {
  try {
    if (fs.readFileSync(file, 'utf8') === content) {
      if ((fs.statSync(file).mode & 0o777) !== mode) fs.chmodSync(file, mode)
      return false
    }
  } catch {
    // missing: write it
  }
  writeFileAtomic(file, content, mode)
  return true
}

export async function ensureCertificate(certDir: string): Promise<boolean> {
  const crt = path.join(certDir, 'tls.crt')
  const key = path.join(certDir, 'tls.key')
  if (fs.existsSync(crt)) return false
  const tmpCrt = `${crt}.${process.pid}.tmp`
  const tmpKey = `${key}.${process.pid}.tmp`
  const args = [
    'req',
    '-x509',
    '-nodes',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-keyout',
    tmpKey,
    '-out',
    tmpCrt,
    '-days',
    '825',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]
  const old = process.umask(0o077)
  try {
    const r = await run('openssl', args, { nothrow: true, action: 'create a self-signed certificate' })
    if (!r.ok) throw new Error(`Can't create a self-signed certificate: openssl exited ${r.code}: ${r.stderr.trim()}`)
  } finally {
    process.umask(old)
  }
  fs.chmodSync(tmpKey, 0o600)
  fs.chmodSync(tmpCrt, 0o644)
  fs.renameSync(tmpKey, key)
  fs.renameSync(tmpCrt, crt)
  return true
}

/** Creates the external docker network when missing; refuses one with another subnet. */
export async function ensureNetwork(name: string, netPrefix: string): Promise<boolean> {
  if (!NETWORK_NAME_RE.test(name)) throw new Error(`Can't create network: invalid name ${JSON.stringify(name)}`)
  const subnet = `${checkNetPrefix(netPrefix)}.0/24`
  const inspect = (format: string) =>
    run('docker', ['network', 'inspect', '--format', format, name], {
      nothrow: true,
      changes: false,
      action: `inspect the network ${name}`,
    })
  const found = await inspect('{{range .IPAM.Config}}{{.Subnet}} {{end}}')
  if (found.ok) {
    const subnets = found.stdout.trim().split(/\s+/).filter(Boolean)
    const gateways = (await inspect('{{range .IPAM.Config}}{{.Gateway}} {{end}}')).stdout.trim().split(/\s+/)
    if (subnets.includes(subnet) && !gateways.includes(`${netPrefix}.1`)) {
      throw new Error(
        `Docker network ${name} has gateway ${gateways.join(', ')}, expected ${netPrefix}.1. ` +
          `Remove it when nothing uses it (docker network rm ${name}); the toolkit recreates it.`,
      )
    }
    if (!subnets.includes(subnet)) {
      throw new Error(
        `Docker network ${name} exists with subnet ${subnets.join(', ') || 'none'}, expected ${subnet}. ` +
          `Remove it (docker network rm ${name}) or fix NET_PREFIX.`,
      )
    }
    return false
  }
  // Dynamic addresses (one-off containers such as migrations) come from .128/25 only, so they
  // never take a static address (.3, .4, .11-.24, .50-.59) from a container that starts later.
  const ipRange = `${netPrefix}.128/25`
  // The gateway (the host) is .1, as the contract says: without --gateway docker would put it at
  // the start of the ip-range (.128), where host-networked exporters and nginx are not listening.
  const gateway = `${netPrefix}.1`
  const created = await run(
    'docker',
    [
      'network',
      'create',
      '--driver',
      'bridge',
      '--subnet',
      subnet,
      '--ip-range',
      ipRange,
      '--gateway',
      gateway,
      '--label',
      'dms.managed=true',
      name,
    ],
    {
      nothrow: true,
      action: `create the docker network ${name}`,
    },
  )
  if (!created.ok) {
    throw new Error(`Can't create docker network ${name} (${subnet}): ${created.stderr.trim()}`)
  }
  return true
}

/** The live marker: live/blue when no live/blue or live/green exists yet. */
export function ensureLiveMarker(liveDir: string): boolean {
  if (fs.existsSync(path.join(liveDir, 'blue')) || fs.existsSync(path.join(liveDir, 'green'))) return false
  writeFileAtomic(path.join(liveDir, 'blue'), 'blue\n', 0o644)
  return true
}

/**
 * Writes the generated nginx includes into `dir` as a new complete set swapped in at once (see
 * nginx-files.ts); returns the names that changed. Used while nginx is not running: it checks
 * them itself when it starts. A running nginx gets its changes through applyIncludes (nginx -t first).
 */
export function writeNginxIncludes(dir: string, s: NginxSettings): string[] {
  const files = renderNginxIncludes(s)
  const names = Object.keys(files)
  fs.mkdirSync(dir, { recursive: true })
  const now = readIncludes(dir, names)
  const changed = names.filter((n) => now[n] !== files[n])
  if (changed.length) {
    adoptFlatFiles(dir, names)
    activateSet(dir, stageSet(dir, files), names)
  }
  pruneSets(dir)
  return changed
}

export async function prepareRuntime(s: RuntimeSettings): Promise<RuntimeReport> {
  if (typeof s.varDir !== 'string' || !s.varDir) throw new Error("Can't prepare runtime: varDir is empty")
  const postgres = checkSecret('postgresPassword', s.postgresPassword)
  const redis = checkSecret('redisPassword', s.redisPassword)
  const varDir = path.resolve(s.varDir)
  const changed: string[] = []
  const rel = (p: string) => path.relative(varDir, p) || '.'

  for (const d of RUNTIME_DIRS) {
    const dir = path.join(varDir, d)
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir, { recursive: true })
      changed.push(rel(dir))
    }
  }
  fs.chmodSync(path.join(varDir, 'secrets'), 0o700)

  // Alertmanager's receivers read their credentials from files; an empty file leaves that
  // receiver unconfigured (compose needs the file to exist either way).
  const am = s.alertmanager ?? {}
  const secretFiles: Array<[string, string]> = [
    ['postgres_password', postgres],
    ['redis_password', redis],
    ['alertmanager_slack_webhook_url', am.slackWebhookUrl ?? ''],
    ['alertmanager_pagerduty_routing_key', am.pagerdutyRoutingKey ?? ''],
    ['alertmanager_smtp_password', am.smtpPassword ?? ''],
  ]
  for (const [name, value] of secretFiles) {
    const file = path.join(varDir, 'secrets', name)
    if (writeIfChanged(file, value, 0o600)) changed.push(rel(file))
  }

  const certificateCreated = await ensureCertificate(path.join(varDir, 'certs'))
  if (certificateCreated) changed.push('certs/tls.crt', 'certs/tls.key')

  const nginxIncludesChanged = writeNginxIncludes(path.join(varDir, 'nginx'), s)
  changed.push(...nginxIncludesChanged.map((n) => `nginx/${n}`))

  if (ensureLiveMarker(path.join(varDir, 'live'))) changed.push('live/blue')

  const networkCreated = await ensureNetwork(s.networkName, s.netPrefix)
  return { changed, nginxIncludesChanged, certificateCreated, networkCreated }
}
