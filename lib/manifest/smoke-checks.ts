// The manifest's smoke checks as data, run through the HTTP probe (lib/probe.ts): each check is one request
// (method, path, headers, body) with its expected status, body text or JSON field; when a slot is named, the
// answer must carry nginx's X-Deploy-Slot for it, so no header is needed from the app.
import { probeHttp, type HttpProbeOptions, type ProbeResult } from '../probe.ts'
import type { SmokeCheck } from './types.ts'

export type CheckTarget = { baseUrl: string; headers: Record<string, string>; slot?: string; timeoutMs?: number }

/** Pure: the probe options of one check. */
export function checkProbe(c: SmokeCheck, t: CheckTarget): HttpProbeOptions {
  return {
    name: c.name,
    url: `${t.baseUrl}${c.path}`,
    method: c.method,
    headers: { ...t.headers, ...c.headers },
    ...(c.body !== undefined ? { body: c.body } : {}),
    expectStatus: c.status,
    insecure: true,
    timeoutMs: t.timeoutMs ?? 5000,
    keepBody: true,
  }
}

/** Pure: the answer judged against what the check expects beyond its status. */
export function judge(c: SmokeCheck, t: CheckTarget, r: ProbeResult): ProbeResult {
  if (!r.ok) return r
  const fail = (detail: string): ProbeResult => ({ ...r, ok: false, detail })
  const slot = r.headers?.['x-deploy-slot']
  if (t.slot && slot !== t.slot) return fail(`answered by slot ${slot ?? '(none)'}, expected ${t.slot}`)
  const body = r.body ?? ''
  if (c.bodyContains !== undefined && !body.includes(c.bodyContains))
    return fail(`the answer does not contain ${JSON.stringify(c.bodyContains)}`)
  if (c.jsonField !== undefined) {
    let doc: unknown
    try {
      doc = JSON.parse(body)
    } catch {
      return fail('the answer is not JSON')
    }
    if (doc === null || typeof doc !== 'object' || !(c.jsonField in doc))
      return fail(`the answer has no JSON field ${JSON.stringify(c.jsonField)}`)
  }
  return r
}

/** Runs every check in order (a check may depend on an earlier one's effect); returns every result. */
export async function runChecks(checks: SmokeCheck[], t: CheckTarget): Promise<ProbeResult[]> {
  const out: ProbeResult[] = []
  for (const c of checks) out.push(judge(c, t, await probeHttp(checkProbe(c, t))))
  return out
}
