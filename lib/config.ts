// The typed configuration of a target: env/.env.<target>, then env/.env.<target>.local
// (git-ignored, 0600, where secrets live), then the process environment (known keys only).
// Every problem is reported at once, with the file and line it came from.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEnvFile, type EnvEntry } from './envfile.ts'
import { UsageError, shownValue } from './errors.ts'
import { registryProblems, registrySettings, type RegistrySettings } from './config-registry.ts'
import { tlsProblems, tlsSettings, type TlsSettings } from './config-tls.ts'
import { PASSTHROUGH, SCHEMA, TARGETS, checkValue, durationMs, type Target } from './config-schema.ts'
import { localAddress, partSettings, type PartSettings } from './config-settings.ts'
import { generateSecrets, isSecretKey, isWeakSecret, secretValues } from './config-secrets.ts'

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

export type Config = PartSettings & {
  target: Target
  root: string
  envDir: string
  localFile: string
  varDir: string
  composeFile: string
  /** the app's manifest, absolute (APP or --app; a directory means its app.yaml): lib/manifest/app-model.ts loads it */
  appPath: string
  composeProject: string
  networkName: string
  netPrefix: string
  listenAddr: string
  /** where this host reaches the listeners: listenAddr, or loopback when nginx listens on 0.0.0.0 */
  localAddr: string
  ports: {
    https: number
    http: number
    preview: number
    status: number
    postgres: number
    redis: number
    prometheus: number
    alertmanager: number
  }
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
  /** how long every service of a candidate must keep answering its readiness probe before it counts as ready */
  readyStableMs: number
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
  /** every value by key, to show where each came from (read the typed fields, never these: config-settings.ts) */
  raw: Record<string, string>
  /** where each value came from: "env/.env.production:12", "environment", "default", "generated" */
  sources: Record<string, string>
  /** secret values, to be masked in every output */
  secrets: string[]
  warnings: string[]
}

export type LoadOptions = {
  target: string
  env?: NodeJS.ProcessEnv
  root?: string
  /** write generated secrets into the .local file (false for --dry-run and read-only scripts) */
  generateSecrets?: boolean
  /** --app: the manifest (dir or file) relative to the working directory, over APP */
  app?: string
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

  readEnvFiles({ target, mainFile, localFile, rel }, merged, problems, warnings)
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && (k in SCHEMA || PASSTHROUGH.test(k)))
      merged.set(k, { value: v, file: 'environment', line: 0 })
  }
  // --app names a path from where the command runs; APP in a file or the environment one from the repo root
  if (opts.app !== undefined) merged.set('APP', { value: path.resolve(opts.app), file: '--app', line: 0 })

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

  return buildConfig({ target, root, envDir, localFile, raw, sources, warnings })
}

/** Reads the target's env file and its .local file into merged, naming every problem (with file and line). */
function readEnvFiles(
  f: { target: Target; mainFile: string; localFile: string; rel: (file: string) => string },
  merged: Map<string, EnvEntry>,
  problems: string[],
  warnings: string[],
): void {
  const { target, mainFile, localFile, rel } = f
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
}

/** The typed Config from checked raw values. */
function buildConfig(c: {
  target: Target
  root: string
  envDir: string
  localFile: string
  raw: Record<string, string>
  sources: Record<string, string>
  warnings: string[]
}): Config {
  const { target, root, envDir, localFile, raw, sources, warnings } = c
  const num = (k: string) => Number(raw[k])
  return {
    target,
    root,
    envDir,
    localFile,
    varDir: path.resolve(root, raw.VAR_DIR!),
    composeFile: path.join(root, 'compose', `docker-compose.${target}.yml`),
    appPath: path.resolve(root, raw.APP!),
    composeProject: raw.COMPOSE_PROJECT!,
    networkName: raw.NETWORK_NAME!,
    netPrefix: raw.NET_PREFIX!,
    listenAddr: raw.LISTEN_ADDR!,
    localAddr: localAddress(raw.LISTEN_ADDR!),
    ports: {
      https: num('HTTPS_PORT'),
      http: num('HTTP_PORT'),
      preview: num('PREVIEW_PORT'),
      status: num('STATUS_PORT'),
      postgres: num('POSTGRES_PORT'),
      redis: num('REDIS_PORT'),
      prometheus: num('PROMETHEUS_PORT'),
      alertmanager: num('ALERTMANAGER_PORT'),
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
    readyStableMs: durationMs(raw.READY_STABLE!),
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
    ...partSettings(raw),
    raw,
    sources,
    secrets: secretValues(raw),
    warnings,
  }
}
