// Images from a registry: log in (password on stdin, into the target's own DOCKER_CONFIG), pull
// with bounded retries and one deadline, read the digest that pins an image, push a built one.
// Every call goes through the gateway; a failure names the registry and what to do.
import fs from 'node:fs'
import type { RegistrySettings } from '../config-registry.ts'
import { OperationError, RefusedError } from '../errors.ts'
import { CommandTimeoutError, type Gateway } from '../gateway.ts'
import type { Printer } from '../ui.ts'
import { parseImageRef, pickRepoDigest, pinnedRef, shortDigest } from './ref.ts'
import { classifyRegistryError, shouldRetry, type RetryPolicy } from './retry.ts'

type Docker = Pick<Gateway, 'docker'>

/** What a slot will run: the tag it was asked for and the reference that pins it (repo@sha256:… when known). */
export type ImageChoice = {
  tag: string
  ref: string
  digest: string
  /** local: already on the host (no pull); pulled: fetched from the registry now; build: built by this run */
  source: 'local' | 'pulled' | 'build'
}

export function describeChoice(c: ImageChoice): string {
  if (c.source === 'build') return `build ${c.tag}`
  const pin = c.digest ? ` (${shortDigest(c.digest)}, runs ${c.ref})` : ' (no registry digest: runs the tag)'
  return c.source === 'local' ? `use ${c.tag}${pin}, already on this host: no pull` : `pulled ${c.tag}${pin}`
}

const loggedIn = new Set<string>()

/** The target's DOCKER_CONFIG, so credentials never land in the invoking user's ~/.docker. */
export function dockerEnv(s: RegistrySettings): Record<string, string> {
  fs.mkdirSync(s.dockerConfig, { recursive: true, mode: 0o700 })
  return { DOCKER_CONFIG: s.dockerConfig }
}

/** `docker login --password-stdin`: the password only on stdin. Wrong credentials: RefusedError (exit 2). */
export async function loginRegistry(gw: Docker, s: RegistrySettings): Promise<void> {
  if (!s.server || !s.username || loggedIn.has(s.server)) return
  const r = await gw.docker(['login', '--username', s.username, '--password-stdin', s.server], {
    env: dockerEnv(s),
    input: s.password,
    nothrow: true,
    changes: false,
    action: `log in to registry ${s.server}`,
  })
  if (!r.ok) {
    const why = lastLine(r.stderr, s.password)
    if (classifyRegistryError(r.stderr) === 'auth')
      throw new RefusedError(
        `Can't log in to registry ${s.server} as ${s.username}: the registry refused the credentials (${why}). Nothing was changed.`,
        'Check REGISTRY_USER in the env file and REGISTRY_PASSWORD in its .local file.',
      )
    throw new OperationError(
      `Can't log in to registry ${s.server}: ${why}. Nothing was changed.`,
      `Check that the registry answers (curl http://${s.server}/v2/) and that REGISTRY is right.`,
    )
  }
  loggedIn.add(s.server)
}

/** docker pull, retried on network errors with backoff, all tries within deadlineAt. */
export async function pullImage(
  gw: Docker,
  ui: Printer,
  s: RegistrySettings,
  image: string,
  deadlineAt: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<{ newLayers: number; presentLayers: number }> {
  const policy: RetryPolicy = { attempts: s.pullAttempts, baseMs: 1000, maxMs: 8000 }
  for (let attempt = 1; ; attempt++) {
    const left = deadlineAt - Date.now()
    let r: { ok: boolean; stdout: string; stderr: string }
    try {
      r = await gw.docker(['pull', image], {
        env: dockerEnv(s),
        nothrow: true,
        changes: false,
        timeoutMs: Math.max(1000, left),
        action: `pull ${image}`,
      })
    } catch (e) {
      if (e instanceof CommandTimeoutError)
        throw new OperationError(
          `Can't pull ${image} from registry ${s.server}: not done within the pull deadline (${Math.round(s.pullTimeoutMs / 1000)} s). Nothing was changed.`,
          'Check the registry and the network; the deadline is PULL_TIMEOUT in the env file.',
        )
      throw e
    }
    if (r.ok) return countLayers(r.stdout)
    const kind = classifyRegistryError(r.stderr)
    const why = lastLine(r.stderr, s.password)
    if (kind === 'missing')
      throw new RefusedError(
        `Can't use ${image}: registry ${s.server} has no such image (${why}). Nothing was changed.`,
        'Check the version (the image tag), or push it first: npx zx scripts/push-images.ts --version <tag>',
      )
    if (kind === 'auth')
      throw new RefusedError(
        `Can't pull ${image}: registry ${s.server} refused access (${why}). Nothing was changed.`,
        'Set REGISTRY_USER in the env file and REGISTRY_PASSWORD in its .local file.',
      )
    const wait = shouldRetry(kind, attempt, policy, deadlineAt - Date.now())
    if (wait === null)
      throw new OperationError(
        `Can't pull ${image} from registry ${s.server}: ${why}${attempt > 1 ? ` (after ${attempt} tries)` : ''}. Nothing was changed.`,
        `Check that the registry answers (curl http://${s.server}/v2/), then run this again.`,
      )
    ui.warn(`Pull of ${image} failed (${why}); try ${attempt + 1} of ${policy.attempts} in ${wait / 1000} s`)
    await sleep(wait)
  }
}

/** Layers a pull fetched and found, from docker pull's per-layer lines. */
export function countLayers(stdout: string): { newLayers: number; presentLayers: number } {
  const lines = stdout.split('\n')
  return {
    newLayers: lines.filter((l) => /: Pull complete$/.test(l.trim())).length,
    presentLayers: lines.filter((l) => /: Already exists$/.test(l.trim())).length,
  }
}

function lastLine(stderr: string, secret: string): string {
  const line = stderr.trim().split('\n').filter(Boolean).pop() ?? 'no answer'
  return (secret ? line.split(secret).join('***') : line).replace(/^Error response from daemon: /, '').slice(0, 300)
}

/** Whether the image is on the host, and the digest that pins it for `repo` ('' when never pushed or pulled). */
export async function inspectLocal(gw: Docker, image: string): Promise<{ present: boolean; digest: string }> {
  const r = await gw.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', image], {
    nothrow: true,
    changes: false,
    action: `inspect ${image}`,
  })
  if (!r.ok) return { present: false, digest: '' }
  const { repo, digest } = parseImageRef(image)
  if (digest) return { present: true, digest }
  const list = JSON.parse(r.stdout.trim() || '[]') as string[] | null
  return { present: true, digest: pickRepoDigest(list ?? [], repo) }
}

/**
 * The image a release runs: `pinned` (a recorded repo@sha256:…) or repo:version; a local copy is used
 * without a pull; otherwise it is pulled when a registry is configured. null: not on the host and no registry.
 */
export async function resolveImage(
  gw: Docker,
  ui: Printer,
  o: { appImage: string; registry: RegistrySettings; version: string; pinned?: string; build?: boolean },
): Promise<ImageChoice | null> {
  const tag = `${o.appImage}:${o.version}`
  if (o.build) return { tag, ref: tag, digest: '', source: 'build' }
  const want = o.pinned || tag
  const choice = (source: ImageChoice['source'], digest: string): ImageChoice => ({
    tag,
    digest,
    source,
    ref: digest ? pinnedRef(parseImageRef(want).repo, digest) : tag,
  })
  const local = await inspectLocal(gw, want)
  if (local.present) return choice('local', local.digest)
  if (!o.registry.server) return null
  await loginRegistry(gw, o.registry)
  const pulled = await ui.step(`Pulling ${want}`, () =>
    pullImage(gw, ui, o.registry, want, Date.now() + o.registry.pullTimeoutMs),
  )
  const after = await inspectLocal(gw, want)
  if (!after.present)
    throw new OperationError(
      `Can't use ${want}: the pull ended but the image is not on this host. Nothing was changed.`,
    )
  ui.info(
    `  ${want}: ${pulled.newLayers} new layers, ${pulled.presentLayers} already present, ${shortDigest(after.digest)}`,
  )
  return choice('pulled', after.digest)
}

/** docker push of a built image (build-and-push); returns its registry digest. */
export async function pushImage(gw: Docker, s: RegistrySettings, image: string): Promise<string> {
  await loginRegistry(gw, s)
  const r = await gw.docker(['push', image], { env: dockerEnv(s), nothrow: true, action: `push ${image}` })
  if (!r.ok)
    throw new OperationError(
      `Can't push ${image} to registry ${s.server}: ${lastLine(r.stderr, s.password)}`,
      `Check that the registry answers (curl http://${s.server}/v2/) and the credentials.`,
    )
  return /digest: (sha256:[a-f0-9]{64})/.exec(r.stdout)?.[1] ?? ''
}
