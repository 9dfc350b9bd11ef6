// Smoke tests of a release before it takes traffic: every role answers with the right slot and
// version, a document survives a create/read/delete round trip, and a short bounded load stays
// within error-rate and p95 thresholds. Production runs them through the preview listener
// (X-DMS-Slot names the candidate); staging through its public listener.
import { ROLES, ROLE_PREFIX } from './model.ts'
import type { Config } from './config.ts'
import type { SmokeSettings } from './config-settings.ts'
import { probeHttp, type ProbeResult } from './probe.ts'
import { analyze, type Analysis } from './traffic.ts'

export type SmokeTarget = {
  /** e.g. https://127.0.0.1:8444 */
  baseUrl: string
  headers: Record<string, string>
  slot?: string
  version?: string
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

/** Every role's /version answers 200 with the expected X-Slot and X-Version. */
export async function checkRoles(t: SmokeTarget): Promise<ProbeResult[]> {
  return Promise.all(
    ROLES.map(async (role) => {
      const r = await get(t, `${ROLE_PREFIX[role]}/version`, `role ${role}`)
      const h = r.headers ?? {}
      if (!r.ok) return r
      if (h['x-role'] !== role) return { ...r, ok: false, detail: `X-Role is ${h['x-role']}, expected ${role}` }
      if (t.slot && h['x-slot'] !== t.slot)
        return { ...r, ok: false, detail: `X-Slot is ${h['x-slot']}, expected ${t.slot}` }
      if (t.version && h['x-version'] !== t.version)
        return { ...r, ok: false, detail: `X-Version is ${h['x-version']}, expected ${t.version}` }
      return r
    }),
  )
}

/** POST a document, read it back, delete it, and see it gone. */
export async function documentRoundTrip(t: SmokeTarget): Promise<ProbeResult[]> {
  const title = `smoke ${t.version ?? ''} ${Date.now()}`
  const json = { ...t.headers, 'content-type': 'application/json' }
  const created = await get(t, '/api/documents', 'document create', {
    method: 'POST',
    body: JSON.stringify({ title, body: 'smoke test' }),
    headers: json,
    expectStatus: 201,
    keepBody: true,
  })
  if (!created.ok) return [created]
  let id: unknown
  try {
    id = (JSON.parse(created.body ?? '{}') as { id?: unknown }).id
  } catch {
    id = undefined
  }
  if (typeof id !== 'number' && typeof id !== 'string')
    return [{ ...created, ok: false, detail: 'the create answer carries no id' }]
  const read = await get(t, `/api/documents/${id}`, 'document read', {
    keepBody: true,
    bodyPattern: new RegExp(title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')),
  })
  const deleted = await get(t, `/api/documents/${id}`, 'document delete', { method: 'DELETE' })
  const gone = await get(t, `/api/documents/${id}`, 'document gone', { expectStatus: 404 })
  return [created, read, deleted, gone]
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
  const checks = [...(await checkRoles(t)), ...(await documentRoundTrip(t))]
  const loadResults = await shortLoad(t, s, signal)
  const load = analyze(loadResults, { minSuccessRate: 1 - s.maxErrorRate, maxP95Ms: s.maxP95Ms })
  const reasons = [
    ...checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    ...load.reasons.map((r) => `load: ${r}`),
  ]
  return { ok: reasons.length === 0, checks, load, reasons }
}
