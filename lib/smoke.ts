// Smoke tests of a release before it takes traffic: the manifest's smoke checks (lib/manifest/smoke-checks.ts:
// requests with their expected status, body text or JSON field), each answered by the expected slot and release
// as nginx's X-Deploy-Slot / X-Deploy-Version say, and a short bounded load within error-rate and p95 thresholds.
// Production runs them through the preview listener (X-DMS-Slot names the candidate); staging through its public
// listener. Every service's readiness is reached at /__deploy/ready/<service> (lib/manifest/render-nginx.ts).
import type { Config } from './config.ts'
import type { SmokeSettings } from './config-settings.ts'
import { readinessPath } from './manifest/render-nginx.ts'
import { runChecks } from './manifest/smoke-checks.ts'
import type { SmokeCheck } from './manifest/types.ts'
import { probeHttp, type ProbeResult } from './probe.ts'
import { analyze, type Analysis } from './traffic.ts'

export type SmokeTarget = {
  /** e.g. https://127.0.0.1:8444 */
  baseUrl: string
  headers: Record<string, string>
  /** the slot the answers must come from (X-Deploy-Slot); with it, X-Deploy-Version must be `version` */
  slot?: string
  version?: string
  /** the manifest's smoke checks (config.app.smoke.checks) */
  checks?: SmokeCheck[]
  /** the app's services, whose readiness checkReadiness probes */
  services?: string[]
  /** the paths of the bounded load (the manifest's smoke.load.paths); default the default route "/" */
  loadPaths?: string[]
}

export type SmokeReport = { ok: boolean; checks: ProbeResult[]; load: Analysis; reasons: string[] }

export function smokeUrl(config: Config, port: number): string {
  return `https://${config.localAddr}:${port}`
}

const get = (t: SmokeTarget, p: string, name: string, extra: Partial<Parameters<typeof probeHttp>[0]> = {}) =>
  probeHttp({
    name,
    url: `${t.baseUrl}${p}`,
    insecure: true,
    timeoutMs: 5000,
    headers: t.headers,
    expectStatus: 200,
    ...extra,
  })

/** An answer of the named slot must carry its release too (nginx's X-Deploy-Version). */
function releaseOf(t: SmokeTarget, r: ProbeResult): ProbeResult {
  if (!r.ok || !t.slot || !t.version) return r
  const v = r.headers?.['x-deploy-version']
  return v === t.version
    ? r
    : { ...r, ok: false, detail: `X-Deploy-Version is ${v ?? '(none)'}, expected ${t.version}` }
}

/** Every service of the app answers its readiness path (through /__deploy/ready/<service>) from the slot named. */
export async function checkReadiness(t: SmokeTarget): Promise<ProbeResult[]> {
  return Promise.all(
    (t.services ?? []).map(async (service) => {
      const r = await get(t, readinessPath(service), `${service} ready`)
      const slot = r.headers?.['x-deploy-slot']
      if (r.ok && t.slot && slot !== t.slot)
        return { ...r, ok: false, detail: `answered by slot ${slot ?? '(none)'}, expected ${t.slot}` }
      return releaseOf(t, r)
    }),
  )
}

/** The manifest's smoke checks, in order, each from the slot and release named. */
export async function smokeChecks(t: SmokeTarget): Promise<ProbeResult[]> {
  const results = await runChecks(t.checks ?? [], t)
  return results.map((r) => releaseOf(t, r))
}

/**
 * A bounded load: at most `requests` GETs, at most `durationMs`, `concurrency` at a time. It stops
 * early once at least 3 requests failed and the failures so far exceed the allowed error rate.
 */
export async function shortLoad(t: SmokeTarget, s: SmokeSettings, signal?: AbortSignal): Promise<ProbeResult[]> {
  const results: ProbeResult[] = []
  const deadline = Date.now() + s.durationMs
  let issued = 0
  let failures = 0
  const paths = t.loadPaths?.length ? t.loadPaths : ['/']
  const worker = async () => {
    while (
      issued < s.requests &&
      Date.now() < deadline &&
      !signal?.aborted &&
      !(failures >= 3 && failures / results.length > s.maxErrorRate)
    ) {
      const p = paths[issued++ % paths.length]!
      const r = await get(t, p, `load ${p}`, {
        expectStatus: [200, 399],
        timeoutMs: Math.max(1000, Math.min(10_000, deadline - Date.now() + 1000)),
      })
      if (!r.ok) failures++
      results.push(r)
    }
  }
  await Promise.all(Array.from({ length: Math.min(s.concurrency, Math.max(1, s.requests)) }, worker))
  return results
}

export async function runSmoke(t: SmokeTarget, s: SmokeSettings, signal?: AbortSignal): Promise<SmokeReport> {
  const checks = await smokeChecks(t)
  const loadResults = await shortLoad(t, s, signal)
  const load = analyze(loadResults, { minSuccessRate: 1 - s.maxErrorRate, maxP95Ms: s.maxP95Ms })
  const reasons = [
    ...checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    ...load.reasons.map((r) => `load: ${r}`),
  ]
  return { ok: reasons.length === 0, checks, load, reasons }
}
