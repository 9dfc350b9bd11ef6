// The manifest's smoke checks as data, run through the HTTP probe (lib/probe.ts): each check is one request
// (method, path, headers, body) with its expected status, body text or JSON field; when a slot is named, the
// answer must carry nginx's X-Deploy-Slot for it, so no header is needed from the app. A path or body may name
// `{json:<field>}`: that top-level JSON field of the latest earlier answer carrying it (the id a create returned,
// so later checks read and delete what the smoke wrote).
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

const REFERENCE = /\{json:([A-Za-z0-9_]+)\}/g

/** Pure: a check with its `{json:<field>}` references filled from `seen`, or the fields no earlier answer had. */
export function fillReferences(c: SmokeCheck, seen: Record<string, string>): SmokeCheck | { missing: string[] } {
  const missing: string[] = []
  const fill = (text: string) =>
    text.replace(REFERENCE, (_, field: string) => {
      if (seen[field] === undefined) missing.push(field)
      return encodeURIComponent(seen[field] ?? '')
    })
  const filled = { ...c, path: fill(c.path), ...(c.body !== undefined ? { body: fill(c.body) } : {}) }
  return missing.length ? { missing } : filled
}

/** Pure: the top-level scalar fields of a JSON object answer, as text ({} for anything else). */
export function answerFields(body: string | undefined): Record<string, string> {
  try {
    const doc: unknown = JSON.parse(body ?? '')
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return {}
    const scalar = Object.entries(doc).filter(([, v]) => ['string', 'number', 'boolean'].includes(typeof v))
    return Object.fromEntries(scalar.map(([k, v]) => [k, String(v)]))
  } catch {
    return {}
  }
}

/** Runs every check in order (a check may depend on an earlier one's effect or answer); returns every result. */
export async function runChecks(checks: SmokeCheck[], t: CheckTarget): Promise<ProbeResult[]> {
  const out: ProbeResult[] = []
  const seen: Record<string, string> = {}
  for (const c of checks) {
    const filled = fillReferences(c, seen)
    if ('missing' in filled) {
      const detail = `no earlier answer carried the JSON field ${filled.missing.join(', ')}`
      out.push({ name: c.name, ok: false, latencyMs: 0, detail })
      continue
    }
    const r = judge(filled, t, await probeHttp(checkProbe(filled, t)))
    if (r.ok) Object.assign(seen, answerFields(r.body))
    out.push(r)
  }
  return out
}
