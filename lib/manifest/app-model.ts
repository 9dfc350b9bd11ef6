// The target's app model (config.app): the manifest named by APP or --app, validated, with the target's
// overrides applied. It is kept as JSON in VAR_DIR keyed by the sha256 of the target, the file and its
// text, so rollback, health-check and status read it back (well under a millisecond) and never load the
// YAML parser (150-250 ms to import here); any edit of the manifest changes the key and it is parsed again.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.ts'
import { writeFileAtomic } from '../fsutil.ts'
import { slotInstances } from './allocate.ts'
import { parseManifest, readManifest } from './load.ts'
import type { Manifest } from './types.ts'

/** A target's configuration with its app's model. */
export type AppConfig = Config & { app: Manifest }

export const APP_CACHE_FILE = 'app-model.json'

type CacheRecord = { key: string; manifest: Manifest }

/** The cache key of a manifest's text for a target (read from `file`). */
export function appModelKey(target: string, file: string, text: string): string {
  return crypto.createHash('sha256').update(`app-model/1\0${target}\0${file}\0`).update(text).digest('hex')
}

/**
 * config with its app: the cached model when its key matches, else the manifest parsed (ManifestError,
 * exit 2, on any problem) and, when `write` and VAR_DIR exists, cached for the next run.
 */
export function withApp(config: Config, o: { write?: boolean } = {}): AppConfig {
  const cacheFile = path.join(config.varDir, APP_CACHE_FILE)
  const { manifest, previous } = loadAppModel(config.appPath, config.target, cacheFile, o.write ?? true)
  const warnings = [...config.warnings]
  // an earlier --app, not recorded in the env file: switch, rollback and health would act on another app
  if (previous !== undefined && previous !== manifest.file && config.sources.APP !== '--app')
    warnings.push(
      `The app is ${manifest.file} (APP, ${config.sources.APP}), but the last script of this target used ${previous}. If that app is the one deployed, set APP to its directory in env/.env.${config.target}.`,
    )
  return { ...config, warnings, app: manifest, appImage: config.appImage || appImageOf(manifest) }
}

/** The app's image when APP_IMAGE does not name one: its first service's repository (the release version is the tag). */
export const appImageOf = (m: Manifest): string => m.services[0]!.image

/** config.app, loaded (through the cache) for a config built without it (loadConfig alone, as tests do). */
export function appOf(config: Config): Manifest {
  return (config as Partial<AppConfig>).app ?? withApp(config).app
}

/** The compose service names of a slot's containers (a service's name, or <name>-<n> for each replica). */
export function appServiceNames(m: Manifest): string[] {
  return slotInstances(m, 'blue').map((x) => x.name)
}

/** The model (cached or parsed); `previous`: the manifest file of a cache record that did not match. */
export function loadAppModel(
  app: string,
  target: string,
  cacheFile: string,
  write: boolean,
): { manifest: Manifest; previous?: string } {
  const { file, text } = readManifest(app)
  const key = appModelKey(target, file, text)
  const cached = readCache(cacheFile)
  if (cached?.key === key) return { manifest: cached.manifest }
  const manifest = parseManifest(text, file, target)
  if (write && fs.existsSync(path.dirname(cacheFile))) {
    try {
      writeFileAtomic(cacheFile, `${JSON.stringify({ key, manifest } satisfies CacheRecord)}\n`)
    } catch {
      // a cache that can't be written is only a slower next run
    }
  }
  return { manifest, previous: cached?.manifest.file }
}

function readCache(file: string): CacheRecord | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheRecord
    return typeof record?.key === 'string' && typeof record.manifest?.name === 'string' ? record : undefined
  } catch {
    return undefined
  }
}

/**
 * The manifest repository APP_IMAGE stands for: the same repository, or it in a registry (`<registry>/<image>`);
 * its services run APP_IMAGE's release (pinned by digest when known). An APP_IMAGE of another app is ignored.
 */
export function pinnedRepository(config: Config): { pinImage?: string; repository?: string } {
  const s = appOf(config).services.find((x) => config.appImage === x.image || config.appImage.endsWith(`/${x.image}`))
  return s ? { pinImage: s.image, repository: config.appImage } : {}
}

/**
 * The images --build makes: each service image that has a build directory (resolved from the manifest's folder),
 * tagged with the release; the repository APP_IMAGE pins (pinnedRepository) for the image it stands for.
 */
export function serviceBuilds(config: Config, version: string): { tag: string; dir: string }[] {
  const app = appOf(config)
  const pin = pinnedRepository(config)
  const builds = new Map<string, string>()
  for (const s of app.services) {
    if (!s.build) continue
    const repository = pin.pinImage === s.image ? (pin.repository ?? s.image) : s.image
    builds.set(`${repository}:${version}`, path.resolve(path.dirname(app.file), s.build))
  }
  return [...builds].map(([tag, dir]) => ({ tag, dir }))
}
