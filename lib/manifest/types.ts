// The typed model of an application manifest, after validation and defaults (see docs/manifest.schema.json
// and the README's manifest reference for every key).
import type { Host } from '../hosts.ts'

export type Resources = { cpus: number; memory: string }

export type Service = {
  name: string
  /** repository without a tag: the release version is the tag */
  image: string
  /** a directory with a Dockerfile that builds `image` (--build), as written (relative to the manifest) */
  build?: string
  command?: string[]
  port: number
  readiness: string
  metrics?: string
  env: Record<string, string>
  secrets: string[]
  resources: Resources
  /** e.g. "30s" */
  stopGrace: string
  replicas: number
}

export type RateLimit = { rate: string; burst: number; zone?: string }

/** a service path that answers rate-limited requests (nginx passes the zone as X-DMS-RateLimit-Zone) */
export type RateLimitPage = { service: string; path: string }

export type Route = {
  path: string
  host?: string
  service: string
  rateLimit?: RateLimit
  allow?: string[]
  /** nginx caches the route's answers this long (e.g. "10m"), keyed per slot and release */
  cache?: string
}

export type Accessory = {
  name: string
  image: string
  /** a directory with a Dockerfile that builds `image`, as written (relative to the manifest) */
  build?: string
  command?: string[]
  port: number
  /** the host port on 127.0.0.1 it is published on: a number, or the name of the target's setting holding it */
  publish?: string
  env: Record<string, string>
  secrets: string[]
  volumes: string[]
  resources: Resources
  stopGrace: string
  /** how to dump (stdout), restore (stdin) and verify (stdin) it, in its container; check: the restore drill's */
  backup?: { command: string[]; restore: string[]; verify?: string[]; check?: string }
}

/**
 * Migrations: `command` in a one-off container of the release; `pending` lists what it would apply (one per line,
 * or a JSON document with a `pending` list); a pending entry holding `contractMarker` contracts the schema, refused unless
 * allowed, when `allowContract` is appended to the command.
 */
export type ReleaseCommand = {
  service: string
  command: string[]
  pending?: string[]
  contractMarker?: string
  allowContract?: string[]
}

export type SmokeCheck = {
  name: string
  method: string
  path: string
  headers: Record<string, string>
  body?: string
  status: number
  bodyContains?: string
  jsonField?: string
}

export type SmokeLoad = {
  paths: string[]
  requests: number
  concurrency: number
  maxErrorRate: number
  maxP95Ms: number
}

/** A host of the manifest (#16): the balancer, or an app host with the slot services it runs; accessories by name. */
export type ManifestHost = Host & { services: string[]; accessories: string[] }

export type Manifest = {
  name: string
  /** where it was read from (for messages) */
  file: string
  /** the target whose overrides were applied, if any */
  target?: string
  secrets: string[]
  /** in the file's order */
  services: Service[]
  routes: Route[]
  rateLimitPage?: RateLimitPage
  accessories: Accessory[]
  release?: ReleaseCommand
  smoke: { checks: SmokeCheck[]; load?: SmokeLoad }
  /** absent: everything on this machine, as with one host */
  hosts?: ManifestHost[]
}

export const TARGETS = ['staging', 'production'] as const
export type ManifestTarget = (typeof TARGETS)[number]
