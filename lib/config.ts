// The typed configuration of a target: env/.env.<target>, then env/.env.<target>.local
// (git-ignored, 0600, where secrets live), then the process environment (known keys only).
// Every problem is reported at once, with the file and line it came from.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEnvFile, renderEnvLine, type EnvEntry } from './envfile.ts'
import { UsageError, shownValue } from './errors.ts'
import { faultPoint } from './fault.ts'
import { writeAll } from './fsutil.ts'
import { withKernelLockSync } from './lock.ts'
import { DAY2_SCHEMA } from './day2/settings.ts'
import {
  REGISTRY_KINDS,
  REGISTRY_SCHEMA,
  checkRegistryValue,
  registryProblems,
  registrySettings,
  type RegistryKind,
  type RegistrySettings,
} from './config-registry.ts'
import { TLS_SCHEMA, checkTlsValue, tlsProblems, tlsSettings, type TlsKind, type TlsSettings } from './config-tls.ts'

export const TARGETS = ['staging', 'production'] as const
export type Target = (typeof TARGETS)[number]
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export type Config = {
  target: Target
  root: string
  envDir: string
  localFile: string
  varDir: string
  composeFile: string
  composeProject: string
  networkName: string
  netPrefix: string
  listenAddr: string
  ports: { https: number; http: number; preview: number; status: number; postgres: number; redis: number }
  statusAllow: string[]
  baseImage: string
  appImage: string
  postgres: { user: string; db: string; password: string }
  redisPassword: string
  webhookUrl: string
  slackWebhookUrl: string
  keepPreviousMs: number
  verifyMs: number
  deployTimeoutMs: number
  /** the deadline of one external command (docker, compose, nginx -t, openssl); long ones add their own wait */
  commandTimeoutMs: number
  thresholds: { minSuccessRate: number; maxP95Ms: number }
  backup: { keepCount: number; keepDays: number }
  diskMinFreeMb: number
  stagingChecks: string[]
  /** domains, certificate mode, ACME and HSTS settings (see tlsSettings) */
  tls: TlsSettings
  /** the registry APP_IMAGE is pulled from, its login, pull deadline and retries (see registrySettings) */
  registry: RegistrySettings
  /** every value by key, for settings read elsewhere (HEALTH_* thresholds, hooks) */
  raw: Record<string, string>
  /** where each value came from: "env/.env.production:12", "environment", "default", "generated" */
  sources: Record<string, string>
  /** secret values, to be masked in every output */
  secrets: string[]
  warnings: string[]
}

export type Kind =
  | 'name'
  | 'ipPrefix'
  | 'ipv4'
  | 'port'
  | 'cidrs'
  | 'image'
  | 'path'
  | 'ident'
  | 'secret'
  | 'url'
  | 'duration'
  | 'int'
  | 'ratio'
  | 'text'
  | TlsKind
  | RegistryKind
export type KeySpec = { kind: Kind; default?: (t: Target) => string; generate?: boolean }

const PORTS = (p: Record<Target, number>) => (t: Target) => String(p[t])

export const SCHEMA: Record<string, KeySpec> = {
  COMPOSE_PROJECT: { kind: 'name', default: (t) => (t === 'production' ? 'dms-prod' : 'dms-staging') },
  NETWORK_NAME: { kind: 'name', default: (t) => (t === 'production' ? 'dms-prod-net' : 'dms-staging-net') },
  NET_PREFIX: { kind: 'ipPrefix', default: (t) => (t === 'production' ? '172.29.10' : '172.29.20') },
  LISTEN_ADDR: { kind: 'ipv4', default: () => '127.0.0.1' },
  HTTPS_PORT: { kind: 'port', default: PORTS({ production: 8443, staging: 9443 }) },
  HTTP_PORT: { kind: 'port', default: PORTS({ production: 8080, staging: 9080 }) },
  PREVIEW_PORT: { kind: 'port', default: PORTS({ production: 8444, staging: 9444 }) },
  STATUS_PORT: { kind: 'port', default: PORTS({ production: 8090, staging: 9090 }) },
  POSTGRES_PORT: { kind: 'port', default: PORTS({ production: 15432, staging: 25432 }) },
  REDIS_PORT: { kind: 'port', default: PORTS({ production: 16379, staging: 26379 }) },
  PROMETHEUS_PORT: { kind: 'port', default: PORTS({ production: 8091, staging: 9091 }) },
  ALERTMANAGER_PORT: { kind: 'port', default: PORTS({ production: 8093, staging: 9093 }) },
  STATUS_ALLOW: { kind: 'cidrs', default: () => '127.0.0.1/32' },
  BASE_IMAGE: { kind: 'image', default: () => 'dms/base:bookworm' },
  APP_IMAGE: { kind: 'image', default: () => 'dms/app' },
  VAR_DIR: { kind: 'path', default: (t) => `var/${t}` },
  POSTGRES_USER: { kind: 'ident', default: () => 'dms' },
  POSTGRES_DB: { kind: 'ident', default: () => 'dms' },
  POSTGRES_PASSWORD: { kind: 'secret', generate: true },
  REDIS_PASSWORD: { kind: 'secret', generate: true },
  WEBHOOK_URL: { kind: 'url', default: () => '' },
  SLACK_WEBHOOK_URL: { kind: 'url', default: () => '' },
  KEEP_PREVIOUS: { kind: 'duration', default: () => '30m' },
  VERIFY_WINDOW: { kind: 'duration', default: () => '30s' },
  DEPLOY_TIMEOUT: { kind: 'duration', default: () => '120s' },
  COMMAND_TIMEOUT: { kind: 'duration', default: () => '60s' },
  SWITCH_MIN_SUCCESS_RATE: { kind: 'ratio', default: () => '0.99' },
  SWITCH_MAX_P95_MS: { kind: 'int', default: () => '500' },
  BACKUP_KEEP_COUNT: { kind: 'int', default: () => '7' },
  BACKUP_KEEP_DAYS: { kind: 'int', default: () => '14' },
  // off-host copies with restic (lib/backup/settings.ts reads and checks these)
  BACKUP_REPOSITORY: { kind: 'text', default: () => '' },
  RESTIC_PASSWORD: { kind: 'text', default: () => '' },
  RESTIC_PASSWORD_FILE: { kind: 'text', default: () => '' },
  BACKUP_KEEP_DAILY: { kind: 'int', default: () => '7' },
  BACKUP_KEEP_WEEKLY: { kind: 'int', default: () => '4' },
  BACKUP_KEEP_MONTHLY: { kind: 'int', default: () => '12' },
  DRILL_CHECK: { kind: 'text', default: () => '' },
  DRILL_IMAGE: { kind: 'image', default: () => 'dms/postgres:local' },
  DISK_MIN_FREE_MB: { kind: 'int', default: () => '1024' },
  STAGING_CHECKS: { kind: 'text', default: () => 'npm run typecheck' },
  ...TLS_SCHEMA,
  ...DAY2_SCHEMA,
  ...REGISTRY_SCHEMA,
}

/** Keys read from the environment besides SCHEMA's: thresholds and settings of other parts. */
const PASSTHROUGH = /^(HEALTH_|ALERT_|NOTIFY_|SMOKE_|DMS_|APP_)[A-Z0-9_]*$/

const WEAK =
  /^(change[-_]?me|changeit|secret|password|passw0rd|example|placeholder|todo|default|admin|test|x+|\*+|<.*>)$/i
const WEAK_PART = /change[-_]?me|placeholder|example|your[-_]/i

export function isWeakSecret(value: string): boolean {
  return value.length < 16 || WEAK.test(value) || WEAK_PART.test(value) || new Set(value).size < 6
}

function checkValue(kind: Kind, value: string): string | undefined {
  const ipOctet = (s: string) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s)
  switch (kind) {
    case 'name':
      return /^[a-z0-9][a-z0-9_-]{0,47}$/.test(value) ? undefined : 'use lowercase letters, digits, - and _, at most 48'
    case 'ipPrefix':
      return value.split('.').length === 3 && value.split('.').every(ipOctet)
        ? undefined
        : 'write the first three octets of an IPv4 /24, like 172.29.10'
    case 'ipv4':
      return value.split('.').length === 4 && value.split('.').every(ipOctet)
        ? undefined
        : 'write an IPv4 address, like 127.0.0.1'
    case 'port': {
      const n = Number(value)
      return /^\d+$/.test(value) && n >= 1 && n <= 65535 ? undefined : 'write a port number from 1 to 65535'
    }
    case 'cidrs':
      return value.split(',').every((c) => {
        const [ip, bits, extra] = c.trim().split('/')
        return (
          extra === undefined &&
          ip !== undefined &&
          ip.split('.').length === 4 &&
          ip.split('.').every(ipOctet) &&
          (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= 32))
        )
      })
        ? undefined
        : 'write comma-separated IPv4 CIDRs, like 127.0.0.1/32,10.0.0.0/8'
    case 'image':
      return /^[a-z0-9][a-z0-9._/:-]{0,199}$/.test(value) && !value.includes('..')
        ? undefined
        : 'write an image reference like dms/app or registry.example.com/dms/app'
    case 'path':
      return value !== '' && !/[\0\r\n]/.test(value) && value.length <= 1024 ? undefined : 'write a directory path'
    case 'ident':
      return /^[a-z_][a-z0-9_]{0,62}$/.test(value)
        ? undefined
        : 'use lowercase letters, digits and _, starting with a letter'
    case 'secret':
      return value.length <= 512 && !/[\0\r\n\s'"\\$`]/.test(value)
        ? undefined
        : 'a secret must be at most 512 characters without spaces, quotes, backslashes, $ or backticks'
    case 'url':
      return value === '' || (/^https?:\/\/[^\s'"`]+$/.test(value) && value.length <= 2048)
        ? undefined
        : 'write an http(s) URL, or leave it empty'
    case 'duration':
      return /^\d+(\.\d+)?(ms|s|m|h)?$/.test(value) ? undefined : 'write a duration like 30s, 20m or 1h'
    case 'int':
      return /^\d{1,9}$/.test(value) ? undefined : 'write a whole number'
    case 'ratio':
      return /^(0(\.\d+)?|1(\.0+)?)$/.test(value) ? undefined : 'write a number from 0 to 1, like 0.99'
    case 'text':
      return value.length <= 4096 && !/[\0\r\n]/.test(value) ? undefined : 'at most 4096 characters on one line'
    default:
      return REGISTRY_KINDS.includes(kind) ? checkRegistryValue(kind, value) : checkTlsValue(kind, value)
  }
}

function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v)!
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n * 1000)
}

export type LoadOptions = {
  target: string
  env?: NodeJS.ProcessEnv
  root?: string
  /** write generated secrets into the .local file (false for --dry-run and read-only scripts) */
  generateSecrets?: boolean
}

export function validateTarget(target: string): Target {
  if (!(TARGETS as readonly string[]).includes(target)) {
    throw new UsageError(
      `Can't load the configuration: unknown target ${shownValue(target)}`,
      `Use --target staging or --target production.`,
    )
  }
  return target as Target
}

export function loadConfig(opts: LoadOptions): Config {
  const target = validateTarget(opts.target)
  const env = opts.env ?? process.env
  const root = opts.root ?? REPO_ROOT
  const envDir = path.resolve(root, env.DMS_ENV_DIR || 'env')
  const mainFile = path.join(envDir, `.env.${target}`)
  const localFile = `${mainFile}.local`
  const problems: string[] = []
  const warnings: string[] = []
  const merged = new Map<string, EnvEntry>()
  const rel = (f: string) => path.relative(process.cwd(), f) || f

  for (const [file, required] of [
    [mainFile, true],
    [localFile, false],
  ] as const) {
    let text: string
    try {
      if (file === localFile && fs.existsSync(file)) {
        const mode = fs.statSync(file).mode & 0o777
        if (mode & 0o077) {
          const msg = `${rel(file)} holds secrets and is mode ${mode.toString(8)}; it must be 0600 (run: chmod 600 ${rel(file)})`
          if (target === 'production') problems.push(msg)
          else warnings.push(msg)
        }
      }
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && !required) continue
      problems.push(
        `${rel(file)}: can't read it (${code ?? 'error'})${code === 'ENOENT' ? `; create it from the example in the README` : ''}`,
      )
      continue
    }
    const parsed = parseEnvFile(text, rel(file))
    for (const p of parsed.problems) problems.push(`${p.file}:${p.line}: ${p.message}`)
    for (const [k, v] of parsed.entries) merged.set(k, v)
    const secretKeys = [...parsed.entries].filter(([k, e]) => e.value !== '' && isSecretKey(k)).map(([k]) => k)
    const mode = fs.statSync(file).mode & 0o777
    if (file === mainFile && secretKeys.length && mode & 0o077) {
      // a secret in the committed file, readable by others: the same rule as for .local
      const msg = `${rel(file)} holds secrets (${secretKeys.join(', ')}) and is mode ${mode.toString(8)}; secrets belong in ${rel(localFile)} (git-ignored, 0600)`
      if (target === 'production') problems.push(msg)
      else warnings.push(msg)
    }
  }
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k in SCHEMA || PASSTHROUGH.test(k)))
      merged.set(k, { value: v, file: 'environment', line: 0 })
  }

  const raw: Record<string, string> = {}
  const sources: Record<string, string> = {}
  const toGenerate: string[] = []
  for (const [k, e] of merged) {
    raw[k] = e.value
    sources[k] = e.line ? `${e.file}:${e.line}` : e.file
  }
  for (const [key, spec] of Object.entries(SCHEMA)) {
    const where = sources[key] ?? 'default'
    if (raw[key] === undefined || (raw[key] === '' && spec.kind === 'secret')) {
      if (spec.generate) {
        toGenerate.push(key)
        continue
      }
      raw[key] = spec.default?.(target) ?? ''
      sources[key] = 'default'
    }
    const value = raw[key]!
    const bad = checkValue(spec.kind, value)
    if (bad) {
      const shown =
        spec.kind === 'secret' ? '(secret)' : JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}…` : value)
      problems.push(`${where}: ${key}=${shown} is not valid: ${bad}`)
    } else if (spec.kind === 'secret' && isWeakSecret(value)) {
      const msg = `${where}: ${key} is a placeholder or weak secret (at least 16 varied characters are needed); delete the line and a strong one is generated into ${rel(localFile)}`
      if (target === 'production') problems.push(msg)
      else warnings.push(msg)
    }
  }
  if (!problems.length) problems.push(...tlsProblems(raw, sources), ...registryProblems(raw, sources))
  for (const key of ['PREVIEW_PORT', 'HTTP_PORT', 'STATUS_PORT'] as const) {
    if (!problems.length && raw[key] === raw.HTTPS_PORT)
      problems.push(`${sources[key]}: ${key} must differ from HTTPS_PORT (${raw.HTTPS_PORT})`)
  }
  if (problems.length) {
    throw new UsageError(
      `Can't load the ${target} configuration: ${problems.length} problem${problems.length > 1 ? 's' : ''}:\n  - ${problems.join('\n  - ')}`,
      `Fix the values named above; nothing was changed.`,
    )
  }

  if (toGenerate.length) {
    if (!opts.generateSecrets) {
      for (const key of toGenerate) {
        raw[key] = ''
        sources[key] = 'missing (generated on first real run)'
      }
    } else {
      const values = generateSecrets(localFile, toGenerate, target)
      for (const key of toGenerate) {
        raw[key] = values[key]!
        sources[key] = `${rel(localFile)} (generated)`
      }
    }
  }

  const num = (k: string) => Number(raw[k])
  return {
    target,
    root,
    envDir,
    localFile,
    varDir: path.resolve(root, raw.VAR_DIR!),
    composeFile: path.join(root, 'compose', `docker-compose.${target}.yml`),
    composeProject: raw.COMPOSE_PROJECT!,
    networkName: raw.NETWORK_NAME!,
    netPrefix: raw.NET_PREFIX!,
    listenAddr: raw.LISTEN_ADDR!,
    ports: {
      https: num('HTTPS_PORT'),
      http: num('HTTP_PORT'),
      preview: num('PREVIEW_PORT'),
      status: num('STATUS_PORT'),
      postgres: num('POSTGRES_PORT'),
      redis: num('REDIS_PORT'),
    },
    statusAllow: raw.STATUS_ALLOW!.split(',').map((s) => s.trim()),
    baseImage: raw.BASE_IMAGE!,
    appImage: raw.APP_IMAGE!,
    postgres: { user: raw.POSTGRES_USER!, db: raw.POSTGRES_DB!, password: raw.POSTGRES_PASSWORD! },
    redisPassword: raw.REDIS_PASSWORD!,
    webhookUrl: raw.WEBHOOK_URL!,
    slackWebhookUrl: raw.SLACK_WEBHOOK_URL!,
    keepPreviousMs: durationMs(raw.KEEP_PREVIOUS!),
    verifyMs: durationMs(raw.VERIFY_WINDOW!),
    deployTimeoutMs: durationMs(raw.DEPLOY_TIMEOUT!),
    commandTimeoutMs: durationMs(raw.COMMAND_TIMEOUT!),
    thresholds: { minSuccessRate: num('SWITCH_MIN_SUCCESS_RATE'), maxP95Ms: num('SWITCH_MAX_P95_MS') },
    backup: { keepCount: num('BACKUP_KEEP_COUNT'), keepDays: num('BACKUP_KEEP_DAYS') },
    diskMinFreeMb: num('DISK_MIN_FREE_MB'),
    stagingChecks: raw
      .STAGING_CHECKS!.split(';')
      .map((s) => s.trim())
      .filter(Boolean),
    tls: tlsSettings(raw, root),
    registry: registrySettings(raw, path.resolve(root, raw.VAR_DIR!), durationMs),
    raw,
    sources,
    secrets: secretValues(raw),
    warnings,
  }
}

/** Keys whose values are secrets: every secret-kind key, and anything named *PASSWORD*, *TOKEN*, *KEY*, *SECRET*, *WEBHOOK_URL. */
export function isSecretKey(key: string): boolean {
  return SCHEMA[key]?.kind === 'secret' || /PASSWORD|TOKEN|SECRET|_KEY$|WEBHOOK_URL/.test(key)
}

/** Values to mask: every secret-kind key, URLs with credentials, and anything named *PASSWORD*, *TOKEN*, *KEY*, *SECRET*. */
export function secretValues(raw: Record<string, string>): string[] {
  return Object.entries(raw)
    .filter(([k]) => isSecretKey(k))
    .map(([, v]) => v)
    .filter((v) => v.length >= 4)
}

/**
 * Generates the missing secrets into the .local file exactly once: under a kernel lock on the env
 * directory, it reads the file again and generates only what is still missing, so first runs at
 * the same time all end with the same values (the ones in the file).
 */
function generateSecrets(file: string, keys: string[], target: Target): Record<string, string> {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  return withKernelLockSync(path.dirname(file), 30_000, () => {
    let text = ''
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    const present = parseEnvFile(text, file).entries
    const values: Record<string, string> = {}
    const lines: string[] = []
    faultPoint('secrets.generate')
    for (const key of keys) {
      const have = present.get(key)?.value
      values[key] = have || randomBytes(24).toString('base64url')
      if (!have) lines.push(renderEnvLine(key, values[key]!))
    }
    if (lines.length) appendSecrets(file, lines, target, text)
    return values
  })
}

/** Appends to the .local file whose current content is `before`. */
function appendSecrets(file: string, lines: string[], target: Target, before: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600)
  try {
    const header = before
      ? ''
      : `# Secrets for ${target}, generated on first use. Keep this file 0600 and out of git.\n`
    const sep = before && !before.endsWith('\n') ? '\n' : ''
    writeAll(fd, Buffer.from(`${sep + header + lines.join('\n')}\n`))
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.chmodSync(file, 0o600)
}
