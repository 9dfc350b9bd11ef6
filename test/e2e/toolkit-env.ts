// A production target for e2e suites that drive the real scripts: its own compose project
// names, subnet, ports, env dir and VAR_DIR, passed to the scripts through the environment.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runtimePaths, type Paths } from '../../lib/paths.ts'
import type { Slot } from '../../lib/model.ts'
import { loadConfig, type Config } from '../../lib/config.ts'
import { composeArgs, createShell, oneOffTarget } from '../../lib/compose.ts'
import { ensureCore } from '../../lib/core-stack.ts'
import { Printer } from '../../lib/ui.ts'
import { removeOnExit, runTs, tempEnvDir, type RunResult } from '../helpers/run.ts'

export type ToolkitTarget = { prefix: string; env: Record<string, string>; config: Config; paths: Paths; ui: Printer }

/** prefix like dmst-bg; portBase 19 gives 19443 (https), 19444 (preview), 19080, 19090, 19432, 19379. */
export function toolkitTarget(
  prefix: string,
  netPrefix: string,
  portBase: number,
  extra: Record<string, string> = {},
): ToolkitTarget {
  const varDir = removeOnExit(fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-var-`)))
  const env: Record<string, string> = {
    DMS_ENV_DIR: tempEnvDir(),
    VAR_DIR: varDir,
    COMPOSE_PROJECT: `${prefix}-prod`,
    NETWORK_NAME: `${prefix}-net`,
    NET_PREFIX: netPrefix,
    HTTPS_PORT: `${portBase}443`,
    PREVIEW_PORT: `${portBase}444`,
    HTTP_PORT: `${portBase}080`,
    STATUS_PORT: `${portBase}090`,
    POSTGRES_PORT: `${portBase}432`,
    REDIS_PORT: `${portBase}379`,
    PROMETHEUS_PORT: `${portBase}091`,
    ALERTMANAGER_PORT: `${portBase}093`,
    STATUS_ALLOW: '127.0.0.0/8',
    ...extra,
  }
  const ui = new Printer({ quiet: true })
  const config = loadConfig({ target: 'production', env: { ...process.env, ...env }, generateSecrets: true })
  ui.secrets.add(config.secrets)
  return { prefix, env, config, paths: runtimePaths(config.varDir), ui }
}

/** Starts nginx, postgres and redis for the target (the runtime dir, network and certificate too). */
export async function upCore(t: ToolkitTarget): Promise<void> {
  await ensureCore(createShell(t.ui), t.config, t.paths, t.ui)
}

/** Applies the migrations of a release with the one-off migrate service. */
export async function migrate(t: ToolkitTarget, slot: Slot, version: string): Promise<void> {
  const { target, service } = oneOffTarget(t.config, slot, version)
  await createShell(t.ui).docker(composeArgs(target, 'run', '--rm', '--no-deps', '-T', service), {
    env: target.env,
    action: 'run migrations',
  })
}

/** Runs a toolkit script against the target. */
export function script(
  t: ToolkitTarget,
  name: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 240_000,
): Promise<RunResult> {
  return runTs(`scripts/${name}.ts`, args, { env: { ...t.env, ...env }, timeoutMs })
}

export function liveMarker(t: ToolkitTarget): string {
  return fs.existsSync(path.join(t.paths.live, 'green')) ? 'green' : 'blue'
}
