// The stack's nginx as the balancer of several hosts (#16): a drain or undrain records the drained list in
// <VAR_DIR>/hosts-drained.json and brings the stack's generated includes up to date (lib/nginx.ts applyIncludes:
// the upstreams across hosts with the drained hosts `down`, nginx -t on the new set, one swap, reload), with
// live/.drain around the reload so keep-alive clients are told to reconnect (multihost-drain.ts withDrainMarker).
import fs from 'node:fs'
import type { Shell } from './compose.ts'
import type { Config } from './config.ts'
import { writeFileAtomic } from './fsutil.ts'
import { withDrainMarker } from './multihost-drain.ts'
import { applyIncludes } from './nginx.ts'
import type { Paths } from './paths.ts'
import { drainedPath } from './multihost-upstreams.ts'

export const drainedFile = (paths: Paths): string => drainedPath(paths.varDir)

/**
 * Puts `drained` in force on the stack's nginx: the list recorded, the includes re-rendered from it, checked
 * and swapped in, nginx reloaded drained. When nginx refuses the new set the recorded list is put back.
 */
export async function drainOnStack(
  sh: Shell,
  config: Config,
  paths: Paths,
  drained: readonly string[],
  o: { drainMs?: number } = {},
): Promise<{ changed: boolean }> {
  const file = drainedFile(paths)
  const before = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined
  const text = `${JSON.stringify(drained)}\n`
  if (before === text) return { changed: false }
  writeFileAtomic(file, text)
  try {
    const changed = await withDrainMarker(paths.live, o.drainMs, () =>
      applyIncludes(sh, config, paths.nginx, { nginxRunning: true }),
    )
    return { changed: changed.length > 0 }
  } catch (e) {
    if (before === undefined) fs.rmSync(file, { force: true })
    else writeFileAtomic(file, before)
    throw e
  }
}
