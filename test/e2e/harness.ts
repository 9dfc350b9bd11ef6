// Shared harness for e2e suites that run the real stack in Docker.
// Each suite picks its own prefix, subnet and ports so suites never touch each
// other's containers; removeProjects(prefix) only removes projects named prefix-*.
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { $, type ProcessOutput } from 'zx'
import { loadManifest } from '../../lib/manifest/load.ts'
import { renderAccessoriesCompose, renderSlotCompose } from '../../lib/manifest/render-compose.ts'
import { prepareRuntime, type RuntimeReport, type RuntimeSettings } from '../../lib/runtime-dir.ts'

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const BASE_IMAGE = process.env.BASE_IMAGE || 'dms/base:bookworm'
export const CORE_IMAGES = ['nginx', 'postgres', 'redis'] as const
const sh = $({ quiet: true, nothrow: true })

export type Target = 'staging' | 'production'
export type Color = 'blue' | 'green'

export type TestStack = {
  target: Target
  prefix: string
  composeFile: string
  /** Compose project names: staging runs everything in `core`. */
  projects: { core: string; blue: string; green: string }
  settings: RuntimeSettings & { postgresPort: number; redisPort: number }
}

export type StackOptions = {
  prefix: string
  target?: Target
  netPrefix?: string
  /** Public HTTPS port; preview/http/status/postgres/redis default to the suite's scheme below. */
  ports?: Partial<{ https: number; preview: number; http: number; status: number; postgres: number; redis: number }>
  varDir?: string
}

/**
 * Settings for one test stack. Defaults (stack suite): net 172.29.31, HTTPS 18443, preview 18444,
 * HTTP 18080, status 18090, postgres 18432, redis 18379, a fresh temp VAR_DIR.
 */
export function testStack(o: StackOptions): TestStack {
  if (!/^dmst-[a-z0-9-]+$/.test(o.prefix)) throw new Error(`test prefix must look like dmst-<name>, got ${o.prefix}`)
  const target = o.target ?? 'production'
  const p = o.ports ?? {}
  const varDir = o.varDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `${o.prefix}-${target}-`))
  const projects =
    target === 'staging'
      ? { core: `${o.prefix}-staging`, blue: `${o.prefix}-staging`, green: `${o.prefix}-staging` }
      : { core: `${o.prefix}-prod`, blue: `${o.prefix}-prod-blue`, green: `${o.prefix}-prod-green` }
  return {
    target,
    prefix: o.prefix,
    composeFile: path.join(REPO, 'compose', `docker-compose.${target}.yml`),
    projects,
    settings: {
      varDir,
      networkName: `${o.prefix}-net`,
      netPrefix: o.netPrefix ?? '172.29.31',
      listenAddr: '127.0.0.1',
      httpsPort: p.https ?? 18443,
      previewPort: p.preview ?? 18444,
      httpPort: p.http ?? 18080,
      statusPort: p.status ?? 18090,
      postgresPort: p.postgres ?? 18432,
      redisPort: p.redis ?? 18379,
      statusAllow: ['127.0.0.0/8'],
      postgresPassword: crypto.randomBytes(18).toString('base64url'),
      redisPassword: crypto.randomBytes(18).toString('base64url'),
      // the app nginx serves (upstreams, zones, locations): the DMS example these suites run
      app: loadManifest(path.join(REPO, 'examples/dms'), { target }),
    },
  }
}

/** Environment for docker compose (never argv): the target's variables plus extras. */
export function composeEnv(stack: TestStack, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const s = stack.settings
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DOCKER_HOST: process.env.DOCKER_HOST,
    NETWORK_NAME: s.networkName,
    NET_PREFIX: s.netPrefix,
    VAR_DIR: s.varDir,
    LISTEN_ADDR: s.listenAddr,
    HTTPS_PORT: String(s.httpsPort),
    HTTP_PORT: String(s.httpPort),
    PREVIEW_PORT: String(s.previewPort),
    STATUS_PORT: String(s.statusPort),
    POSTGRES_PORT: String(s.postgresPort),
    REDIS_PORT: String(s.redisPort),
    BASE_IMAGE,
    // the generated slot file requires one (staging's down and config name none)
    VERSION: 'unset',
    ...extra,
  }
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}

export function slotEnv(color: Color, version: string): Record<string, string> {
  return { SLOT: color, SLOT_NUM: color === 'blue' ? '1' : '2', VERSION: version }
}

/**
 * The compose files of a project, as the toolkit's targets have them: the static file; for the production core the
 * accessories' file generated from the example's manifest; for staging (one project) its blue slot's file as well,
 * the release from compose's ${VERSION}. Written into the stack's VAR_DIR.
 */
export function composeFiles(stack: TestStack, project: string): string[] {
  if (project !== stack.projects.core) return [stack.composeFile]
  const app = stack.settings.app!
  const write = (name: string, text: string) => {
    const file = path.join(stack.settings.varDir, 'compose', name)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
    return file
  }
  const files = [stack.composeFile, write('accessories.yml', renderAccessoriesCompose(app, stack.settings.netPrefix))]
  if (stack.target === 'production') return files
  const slot = renderSlotCompose(app, {
    slot: 'blue',
    version: '',
    netPrefix: stack.settings.netPrefix,
    versionFromEnv: {},
  })
  return [...files, write('app-blue.yml', slot)]
}

/** Runs `docker compose -f <file>… -p <project> <args>` with the env; never throws. */
export function compose(
  stack: TestStack,
  project: string,
  args: string[],
  extra: Record<string, string | undefined> = {},
): Promise<ProcessOutput> {
  const profiles =
    stack.target === 'production'
      ? ['--profile', 'core', '--profile', 'slot', '--profile', 'migrate']
      : ['--profile', 'release']
  const all = [
    'compose',
    ...composeFiles(stack, project).flatMap((f) => ['-f', f]),
    '-p',
    project,
    ...(args[0] === 'config' || args[0] === 'down' ? profiles : []),
    ...args,
  ]
  return $({ quiet: true, nothrow: true, env: composeEnv(stack, extra), cwd: REPO })`docker ${all}`
}

function expectOk(r: ProcessOutput, what: string): ProcessOutput {
  if (r.exitCode !== 0)
    throw new Error(
      `Can't ${what}: exit ${r.exitCode}\n${r.stderr.trim().slice(-3000)}\n${r.stdout.trim().slice(-2000)}`,
    )
  return r
}

/** Creates VAR_DIR content (secrets, cert, nginx includes, live marker) and the network. */
export function prepare(stack: TestStack): Promise<RuntimeReport> {
  return prepareRuntime(stack.settings)
}

/** Core services: nginx, postgres, redis (staging: the whole stack with VERSION). */
export async function upCore(stack: TestStack, version = '1.0.0', extra: Record<string, string> = {}): Promise<void> {
  const args = stack.target === 'production' ? ['--profile', 'core'] : []
  expectOk(
    await compose(stack, stack.projects.core, [...args, 'up', '-d', '--no-build', '--wait', '--wait-timeout', '120'], {
      ...slotEnv('blue', version),
      ...extra,
    }),
    `start ${stack.projects.core}`,
  )
}

/** Production: one slot project (frontend, api, docs, main) at a version, waited until healthy. */
export async function upSlot(
  stack: TestStack,
  color: Color,
  version: string,
  extra: Record<string, string> = {},
): Promise<void> {
  if (stack.target !== 'production')
    throw new Error('upSlot is for production stacks; staging runs its single slot in upCore')
  expectOk(
    await compose(
      stack,
      stack.projects[color],
      ['--profile', 'slot', 'up', '-d', '--no-build', '--wait', '--wait-timeout', '120'],
      { ...slotEnv(color, version), ...extra },
    ),
    `start slot ${color} (${version})`,
  )
}

/**
 * Runs migrate.js in a one-off container of the slot's project (dynamic address): production's static `migrate`
 * service, staging's generated `release` service; returns stdout.
 */
export async function migrate(stack: TestStack, color: Color, version: string, args: string[] = []): Promise<string> {
  const project = stack.projects[color]
  const service = stack.target === 'production' ? 'migrate' : 'release'
  const cmd = args.length || service === 'release' ? ['node', '/app/src/migrate.js', ...args] : []
  const r = expectOk(
    await compose(
      stack,
      project,
      ['--profile', service, 'run', '--rm', '--no-deps', '-T', service, ...cmd],
      slotEnv(color, version),
    ),
    `migrate ${project}`,
  )
  return r.stdout
}

/** Removes every compose project named <prefix>-* (containers, volumes) and the <prefix>-net network. */
export async function removeProjects(prefix: string, stacks: TestStack[] = []): Promise<void> {
  if (!/^dmst-[a-z0-9-]+$/.test(prefix)) throw new Error(`refusing to remove projects for prefix ${prefix}`)
  const known = new Set([
    `${prefix}-staging`,
    `${prefix}-prod`,
    `${prefix}-prod-blue`,
    `${prefix}-prod-green`,
    `${prefix}-prod-monitoring`,
  ])
  // projects with containers, and projects whose containers are gone but whose volumes are left
  // (a `compose down` without -v, e.g. monitoring --down, leaves them: dmst-bg-prod-monitoring_*)
  const format = '{{.Label "com.docker.compose.project"}}'
  const [withContainers, withVolumes] = await Promise.all([
    sh`docker ps -a --filter label=com.docker.compose.project --format ${format}`,
    sh`docker volume ls --filter label=com.docker.compose.project --format ${format}`,
  ])
  for (const name of `${withContainers.stdout}\n${withVolumes.stdout}`.split('\n'))
    if (name.startsWith(`${prefix}-`)) known.add(name)
  for (const project of known) {
    const stack = stacks.find((s) => Object.values(s.projects).includes(project))
    if (stack) await compose(stack, project, ['down', '-v', '--remove-orphans', '-t', '5'])
    else await sh`docker compose -p ${project} down -v --remove-orphans -t 5`
    const vols = await sh`docker volume ls -q --filter label=com.docker.compose.project=${project}`
    const names = vols.stdout.split('\n').filter(Boolean)
    if (names.length) await sh`docker volume rm -f ${names}`
  }
  await sh`docker network rm ${`${prefix}-net`}`
}

function hashDir(dir: string, extra: string): string {
  const h = crypto.createHash('sha256').update(extra)
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else h.update(path.relative(dir, p)).update('\0').update(fs.readFileSync(p)).update('\0')
    }
  }
  walk(dir)
  return h.digest('hex').slice(0, 16)
}

/** Builds an image unless it carries the hash of its source (context, build args, Dockerfile) as a label. */
export async function buildOne(
  image: string,
  context: string,
  buildArgs: Record<string, string>,
  dockerfile?: string,
): Promise<'built' | 'cached'> {
  const hash = hashDir(context, JSON.stringify({ buildArgs, dockerfile }))
  const have = await sh`docker image inspect --format ${'{{index .Config.Labels "dms.source-hash"}}'} ${image}`
  if (have.exitCode === 0 && have.stdout.trim() === hash) return 'cached'
  const args = Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`])
  const file = dockerfile ? ['-f', path.join(context, dockerfile)] : []
  expectOk(
    await sh`docker build -q --network host ${args} ${file} --label dms.source-hash=${hash} -t ${image} ${context}`,
    `build ${image}`,
  )
  return 'built'
}

/**
 * Builds dms/{nginx,postgres,redis}:local and dms/app:<version> for each version (optionally with
 * MIGRATIONS_UNTIL baked in). Skips images whose dms.source-hash label matches the source.
 */
export async function buildImages(
  apps: Array<string | { version: string; migrationsUntil?: string }> = ['1.0.0'],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const name of CORE_IMAGES) {
    out[`dms/${name}:local`] = await buildOne(`dms/${name}:local`, path.join(REPO, 'compose', 'images', name), {
      BASE_IMAGE,
    })
  }
  for (const a of apps) {
    const { version, migrationsUntil } = typeof a === 'string' ? { version: a, migrationsUntil: '' } : a
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(version)) throw new Error(`invalid image tag ${version}`)
    out[`dms/app:${version}`] = await buildOne(`dms/app:${version}`, path.join(REPO, 'compose', 'images', 'app'), {
      BASE_IMAGE,
      MIGRATIONS_UNTIL: migrationsUntil ?? '',
    })
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON from docker inspect / a test response, checked field by field
export type HttpResult = { status: number; headers: http.IncomingHttpHeaders; body: string; json: () => any }

/** One HTTP(S) request; TLS certificates are not verified (self-signed test certs). */
export function request(
  url: string,
  o: {
    method?: string
    body?: unknown
    headers?: Record<string, string>
    timeoutMs?: number
    localAddress?: string
  } = {},
): Promise<HttpResult> {
  const u = new URL(url)
  const payload = o.body === undefined ? undefined : typeof o.body === 'string' ? o.body : JSON.stringify(o.body)
  const headers: Record<string, string> = { ...(payload ? { 'content-type': 'application/json' } : {}), ...o.headers }
  const mod = u.protocol === 'https:' ? https : http
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: o.method ?? 'GET',
        headers,
        rejectUnauthorized: false,
        agent: false,
        timeout: o.timeoutMs ?? 10000,
        localAddress: o.localAddress,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) })
        })
        res.on('error', reject)
      },
    )
    req.on('timeout', () => req.destroy(new Error(`timeout after ${o.timeoutMs ?? 10000} ms: ${url}`)))
    req.on('error', reject)
    if (payload) req.write(payload)
    req.end()
  })
}

/** Polls until `check` returns a value (not undefined) or throws the last reason at the deadline. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last = 'no attempt'
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined) return v
      last = 'condition not met'
    } catch (err) {
      last = (err as Error).message
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}: ${last}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** Waits until the URL answers with the status (default 200) and optional predicate. */
export function waitHttp(
  url: string,
  o: { status?: number; timeoutMs?: number; headers?: Record<string, string>; until?: (r: HttpResult) => boolean } = {},
): Promise<HttpResult> {
  return waitFor(
    `${url} to answer ${o.status ?? 200}`,
    async () => {
      const r = await request(url, { headers: o.headers, timeoutMs: 5000 })
      if (r.status !== (o.status ?? 200)) throw new Error(`status ${r.status}: ${r.body.slice(0, 200)}`)
      return !o.until || o.until(r) ? r : undefined
    },
    o.timeoutMs ?? 60000,
  )
}

export const publicUrl = (s: TestStack, p = '/') => `https://127.0.0.1:${s.settings.httpsPort}${p}`
export const previewUrl = (s: TestStack, p = '/') => `https://127.0.0.1:${s.settings.previewPort}${p}`
export const statusUrl = (s: TestStack, p = '/') => `http://127.0.0.1:${s.settings.statusPort}${p}`

/** Runs a command in a service container of a project (compose exec -T). */
export function exec(stack: TestStack, project: string, service: string, cmd: string[]): Promise<ProcessOutput> {
  const profiles =
    stack.target === 'production'
      ? ['--profile', service === 'nginx' || service === 'postgres' || service === 'redis' ? 'core' : 'slot']
      : []
  return compose(stack, project, [...profiles, 'exec', '-T', service, ...cmd])
}

export function cleanupVarDir(stack: TestStack): void {
  if (stack.settings.varDir.startsWith(os.tmpdir() + path.sep))
    fs.rmSync(stack.settings.varDir, { recursive: true, force: true })
}
