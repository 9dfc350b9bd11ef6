// Pure: what watches an app, from its manifest: the Prometheus scrape job of every container that has a
// metrics path (one job "app"; the path per target through __metrics_path__), the blackbox probes of every
// container's readiness path, and the health-check probe list (name, url) of a slot.
import { yamlLib } from './yaml-lib.ts'
import { SLOTS, slotInstances, type AppSlot } from './allocate.ts'
import type { Manifest } from './types.ts'

/** instance label: "<service>-<slot>", plus "-<replica>" when the service has several */
const instanceLabel = (service: string, slot: string, replica: number, replicas: number) =>
  replicas === 1 ? `${service}-${slot}` : `${service}-${slot}-${replica}`

export type TargetGroup = { targets: string[]; labels: Record<string, string> }

/** static_configs of the "app" job: every container with a metrics path, in both slots */
export function scrapeGroups(m: Manifest, netPrefix: string): TargetGroup[] {
  return SLOTS.flatMap((slot) =>
    slotInstances(m, slot)
      .filter((x) => x.service.metrics)
      .map((x) => ({
        targets: [`${netPrefix}.${x.octet}:${x.service.port}`],
        labels: {
          __metrics_path__: x.service.metrics!,
          slot,
          role: x.service.name,
          instance: instanceLabel(x.service.name, slot, x.replica, x.service.replicas),
        },
      })),
  )
}

/** blackbox http probes of every container's readiness path (module http_2xx) */
export function readinessProbeUrls(m: Manifest, netPrefix: string): string[] {
  return SLOTS.flatMap((slot) =>
    slotInstances(m, slot).map((x) => `http://${netPrefix}.${x.octet}:${x.service.port}${x.service.readiness}`),
  )
}

/** the Prometheus scrape_configs for the app, as YAML (appended to the stack's own jobs) */
export function renderScrapeConfigs(m: Manifest, netPrefix: string, blackboxAddr: string): string {
  const jobs = [
    { job_name: 'app', honor_labels: true, static_configs: scrapeGroups(m, netPrefix) },
    {
      job_name: 'blackbox-readiness',
      metrics_path: '/probe',
      params: { module: ['http_2xx'] },
      static_configs: [{ targets: readinessProbeUrls(m, netPrefix) }],
      relabel_configs: [
        { source_labels: ['__address__'], target_label: '__param_target' },
        { source_labels: ['__param_target'], target_label: 'instance' },
        { target_label: '__address__', replacement: blackboxAddr },
      ],
    },
  ]
  return `# Generated from ${m.file} for ${m.name}. Do not edit.\n${yamlLib().stringify({ scrape_configs: jobs }, { lineWidth: 0, aliasDuplicateObjects: false })}`
}

export type HealthProbe = { name: string; url: string; service: string; slot: AppSlot }

/** what health-check probes in a slot: every container's readiness path, by address */
export function healthProbes(m: Manifest, netPrefix: string, slot: AppSlot): HealthProbe[] {
  return slotInstances(m, slot).map((x) => ({
    name: instanceLabel(x.service.name, slot, x.replica, x.service.replicas),
    url: `http://${netPrefix}.${x.octet}:${x.service.port}${x.service.readiness}`,
    service: x.service.name,
    slot,
  }))
}
