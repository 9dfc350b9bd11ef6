// The compose files generated from the app's manifest under VAR_DIR/compose: one per production slot
// (app-<slot>.yml; staging: app-blue.yml in its one project) and the accessories (accessories.yml, merged over
// the static nginx file).
// Written atomically; a start always writes its file afresh, a reader writes it once when missing.
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from './config.ts'
import { writeFileAtomic } from './fsutil.ts'
import { appOf, pinnedRepository } from './manifest/app-model.ts'
import { renderAccessoriesCompose, renderSlotCompose } from './manifest/render-compose.ts'
import type { Slot } from './model.ts'

/** Where a production slot's generated compose file lives (under the runtime dir). */
export const slotComposeFile = (config: Config, slot: Slot): string =>
  path.join(config.varDir, 'compose', `app-${slot}.yml`)

/** Where the generated compose file of the app's accessories lives (under the runtime dir). */
export const accessoriesComposeFile = (config: Config): string => path.join(config.varDir, 'compose', 'accessories.yml')

/**
 * The generated compose file of a slot, as text: every service and replica of config.app at its address, the
 * release from compose's ${VERSION} (a pinned digest from ${APP_IMAGE_REF} for APP_IMAGE's repository), and the
 * APP_<NAME> settings of the env file (config.appEnv: LOG_LEVEL and the test knobs) given to every service.
 */
export function renderSlotFile(config: Config, slot: Slot): string {
  return renderSlotCompose(appOf(config), {
    slot,
    version: '',
    netPrefix: config.netPrefix,
    versionFromEnv: pinnedRepository(config),
    env: config.appEnv,
  })
}

/** The generated compose file of the accessories, as text (build contexts resolved from the manifest's folder). */
export function renderAccessoriesFile(config: Config): string {
  return renderAccessoriesCompose(appOf(config), config.netPrefix)
}

function write(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  writeFileAtomic(file, text)
  return file
}

/** Writes the slot's generated compose file (atomically); a slot start always writes it afresh. */
export const writeSlotCompose = (config: Config, slot: Slot): string =>
  write(slotComposeFile(config, slot), renderSlotFile(config, slot))

/** Writes the accessories' generated compose file (atomically); starting the core always writes it afresh. */
export const writeAccessoriesCompose = (config: Config): string =>
  write(accessoriesComposeFile(config), renderAccessoriesFile(config))

/** The file exists for the commands that read a slot (logs, exec, down, preflight): written once when missing. */
export function ensureSlotCompose(config: Config, slot: Slot): void {
  if (fs.existsSync(config.varDir) && !fs.existsSync(slotComposeFile(config, slot))) writeSlotCompose(config, slot)
}

/** Likewise for the accessories, read by every command on the core project (exec, logs, down, backups). */
export function ensureAccessoriesCompose(config: Config): void {
  if (fs.existsSync(config.varDir) && !fs.existsSync(accessoriesComposeFile(config))) writeAccessoriesCompose(config)
}

/**
 * The generated files merged over the target's static one: the accessories, and in staging its one slot. Only the
 * ones that exist: before the runtime directory does, nothing of the target was deployed.
 */
export function generatedFiles(config: Config): string[] {
  ensureAccessoriesCompose(config)
  const files = [accessoriesComposeFile(config)]
  if (config.target !== 'production') {
    ensureSlotCompose(config, 'blue')
    files.push(slotComposeFile(config, 'blue'))
  }
  return files.filter((f) => fs.existsSync(f))
}
