// Alert memory: notify only when a check changes state, never the same alert every run.
// The memory is what people were last told, kept in a small JSON file between runs
// (VAR_DIR/health-alerts.json); it also remembers container restart counts.
import fs from 'node:fs'
import { writeFileAtomic } from '../fsutil.ts'
import { isStatus } from './model.ts'
import type { CheckResult, CheckStatus } from './model.ts'
import type { RestartMemory } from './evaluate.ts'

export type AlertMemory = {
  schema: 1
  /** the status people were last told about, per check */
  checks: Record<string, { status: CheckStatus; since: string }>
  restarts: RestartMemory
  updatedAt: string
}

export type Change = {
  check: string
  from: CheckStatus
  to: CheckStatus
  /** problem: from OK to a problem; recovery: back to OK; change: between problem levels */
  kind: 'problem' | 'recovery' | 'change'
  detail: string
}

export function emptyMemory(): AlertMemory {
  return { schema: 1, checks: {}, restarts: {}, updatedAt: new Date(0).toISOString() }
}

/**
 * Compares this run with what was last told. A check never seen before counts as OK,
 * so a first run with everything well sends nothing. A check that vanished while in
 * trouble is reported as recovered ("no longer checked").
 */
export function planAlerts(
  told: AlertMemory['checks'],
  results: readonly CheckResult[],
  now: Date,
): { changes: Change[]; next: AlertMemory['checks'] } {
  const changes: Change[] = []
  const next: AlertMemory['checks'] = {}
  const seen = new Set<string>()
  for (const r of results) {
    seen.add(r.name)
    const before = told[r.name]
    const from: CheckStatus = before?.status ?? 'OK'
    if (from === r.status) {
      next[r.name] = before ?? { status: r.status, since: now.toISOString() }
      continue
    }
    next[r.name] = { status: r.status, since: now.toISOString() }
    changes.push({
      check: r.name,
      from,
      to: r.status,
      kind: r.status === 'OK' ? 'recovery' : from === 'OK' ? 'problem' : 'change',
      detail: r.detail,
    })
  }
  for (const [name, before] of Object.entries(told)) {
    if (seen.has(name) || before.status === 'OK') continue
    changes.push({ check: name, from: before.status, to: 'OK', kind: 'recovery', detail: 'no longer checked' })
  }
  return { changes, next }
}

/** The webhook body: Slack reads `text`; other receivers get the structured fields too. */
export function alertPayload(target: string, overall: CheckStatus, changes: readonly Change[], host: string) {
  const lines = changes.map((c) =>
    c.kind === 'recovery'
      ? `RECOVERED ${c.check}: ${c.from} -> OK (${c.detail})`
      : `${c.to} ${c.check}: ${c.from} -> ${c.to}: ${c.detail}`,
  )
  return {
    text: `[dms ${target}] health ${overall} on ${host}\n${lines.join('\n')}`,
    target,
    host,
    status: overall,
    changes,
  }
}

export function readMemory(file: string): AlertMemory {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return emptyMemory()
  }
  try {
    const m = JSON.parse(text) as Partial<AlertMemory>
    const checks: AlertMemory['checks'] = {}
    for (const [k, v] of Object.entries(m.checks ?? {})) {
      if (v && isStatus(v.status) && typeof v.since === 'string') checks[k] = { status: v.status, since: v.since }
    }
    const restarts: RestartMemory = {}
    for (const [k, v] of Object.entries(m.restarts ?? {})) {
      if (v && Number.isFinite(v.count) && typeof v.changedAt === 'string')
        restarts[k] = { count: v.count, changedAt: v.changedAt }
    }
    return { schema: 1, checks, restarts, updatedAt: String(m.updatedAt ?? emptyMemory().updatedAt) }
  } catch {
    // a damaged memory file costs at most one repeated alert: start afresh
    return emptyMemory()
  }
}

export function writeMemory(file: string, memory: AlertMemory): void {
  writeFileAtomic(file, `${JSON.stringify(memory, null, 2)}\n`, 0o640)
}
