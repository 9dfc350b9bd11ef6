// The registry settings of a target: where the app image is pulled from, who logs in (the
// password is a secret in env/.env.<target>.local), the pull deadline and retries, and how many
// releases keep their images on the host. Read by lib/config.ts like every other key.
import path from 'node:path'
import { parseImageRef } from './images/ref.ts'

export type RegistryKind = 'registryHost' | 'registryUser' | 'registryPassword'
export const REGISTRY_KINDS: readonly string[] = ['registryHost', 'registryUser', 'registryPassword']

export type RegistrySettings = {
  /** host[:port] of the registry APP_IMAGE lives in; '' when images are built or loaded on the host */
  server: string
  username: string
  password: string
  /** the deadline of all pulls of one operation */
  pullTimeoutMs: number
  /** tries of one pull on network errors (1: no retry) */
  pullAttempts: number
  /** the newest recorded releases whose images stay on the host (besides both slots') */
  keepImages: number
  /** DOCKER_CONFIG of this target: its own credentials store, never root's ~/.docker */
  dockerConfig: string
}

/** spread into config-schema.ts's SCHEMA (typed structurally here: config-schema imports this file) */
export const REGISTRY_SCHEMA: Record<
  string,
  { kind: RegistryKind | 'duration' | 'int'; default?: (target: string) => string }
> = {
  REGISTRY: { kind: 'registryHost', default: () => '' },
  REGISTRY_USER: { kind: 'registryUser', default: () => '' },
  REGISTRY_PASSWORD: { kind: 'registryPassword', default: () => '' },
  PULL_TIMEOUT: { kind: 'duration', default: () => '10m' },
  PULL_ATTEMPTS: { kind: 'int', default: () => '3' },
  KEEP_IMAGES: { kind: 'int', default: () => '5' },
}

export function checkRegistryValue(kind: string, value: string): string | undefined {
  switch (kind) {
    case 'registryHost':
      return value === '' || /^[a-z0-9]([a-z0-9.-]{0,252})(:\d{1,5})?$/i.test(value)
        ? undefined
        : 'write a registry host like registry.example.com or 127.0.0.1:5000, or leave it empty'
    case 'registryUser':
      return /^[A-Za-z0-9._@+-]{0,128}$/.test(value) ? undefined : 'write a user name (letters, digits, . _ @ + -)'
    case 'registryPassword':
      return value.length <= 512 && !/[\0\r\n]/.test(value)
        ? undefined
        : 'a password must be one line of at most 512 characters'
    default:
      return `unknown kind ${kind}`
  }
}

/** Problems between keys: the image must live in the registry named, a user needs a password. */
export function registryProblems(raw: Record<string, string>, sources: Record<string, string>): string[] {
  const where = (k: string) => sources[k] ?? 'default'
  const out: string[] = []
  const server = raw.REGISTRY ?? ''
  if (!server) {
    if (raw.REGISTRY_USER)
      out.push(`${where('REGISTRY_USER')}: REGISTRY_USER is set but REGISTRY is empty; name the registry host`)
    return out
  }
  const imageRegistry = parseImageRef(raw.APP_IMAGE ?? '').registry
  if (imageRegistry !== server)
    out.push(
      `${where('APP_IMAGE')}: APP_IMAGE=${raw.APP_IMAGE} is not in REGISTRY ${server}; write APP_IMAGE=${server}/<repository>`,
    )
  if (raw.REGISTRY_USER && !raw.REGISTRY_PASSWORD)
    out.push(`${where('REGISTRY_USER')}: REGISTRY_USER needs REGISTRY_PASSWORD in the .local file (0600, git-ignored)`)
  if (Number(raw.PULL_ATTEMPTS) < 1) out.push(`${where('PULL_ATTEMPTS')}: PULL_ATTEMPTS must be at least 1`)
  return out
}

export function registrySettings(
  raw: Record<string, string>,
  varDir: string,
  ms: (v: string) => number,
): RegistrySettings {
  return {
    server: raw.REGISTRY ?? '',
    username: raw.REGISTRY_USER ?? '',
    password: raw.REGISTRY_PASSWORD ?? '',
    pullTimeoutMs: ms(raw.PULL_TIMEOUT ?? '10m'),
    pullAttempts: Number(raw.PULL_ATTEMPTS ?? 3),
    keepImages: Number(raw.KEEP_IMAGES ?? 5),
    dockerConfig: path.join(varDir, 'docker-config'),
  }
}
