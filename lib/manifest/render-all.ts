// Every file the toolkit generates from a manifest, by name: the compose files of both slots and of the
// accessories, the nginx includes, the Prometheus scrape jobs, and the health-check probe list. Pure.
import { SLOTS } from './allocate.ts'
import { renderAccessoriesCompose, renderSlotCompose } from './render-compose.ts'
import { renderAppNginx } from './render-nginx.ts'
import { healthProbes, renderScrapeConfigs } from './render-monitoring.ts'
import type { Manifest } from './types.ts'

export type RenderSettings = { netPrefix: string; version: string; blackboxAddr?: string; keepalive?: number }

export function renderAll(m: Manifest, o: RenderSettings): Record<string, string> {
  const files: Record<string, string> = {}
  for (const slot of SLOTS)
    files[`compose/slot-${slot}.yml`] = renderSlotCompose(m, { slot, version: o.version, netPrefix: o.netPrefix })
  files['compose/accessories.yml'] = renderAccessoriesCompose(m, o.netPrefix)
  for (const [name, text] of Object.entries(renderAppNginx(m, o.netPrefix, o.keepalive))) files[`nginx/${name}`] = text
  files['monitoring/app-scrape.yml'] = renderScrapeConfigs(m, o.netPrefix, o.blackboxAddr ?? `${o.netPrefix}.1:9115`)
  const probes = SLOTS.flatMap((slot) => healthProbes(m, o.netPrefix, slot))
  files['health/probes.json'] = `${JSON.stringify(probes, null, 2)}\n`
  return files
}
