// Maintenance mode of a target: the marker live/.maintenance (on while it exists) and the page the public
// listener then answers with 503 and Retry-After, live/.maintenance.html (nginx/snippets/maintenance.conf).
// Written atomically like the slot markers: nginx sees them on the very next request, no reload, no closed
// connection. The page is written before the marker and stays after it is removed, so a request that saw the
// marker always finds the page (one file for both answered nginx's own 503 page when removed in between).
import fs from 'node:fs'
import path from 'node:path'
import { UsageError } from '../errors.ts'
import { writeFileAtomic } from '../fsutil.ts'
import type { CheckResult } from '../health/model.ts'

export const MAINTENANCE_MARKER = '.maintenance'
/** The page nginx answers with while the marker exists. */
export const MAINTENANCE_PAGE_FILE = '.maintenance.html'
/** The snippet the public server must include for the marker to mean anything. */
export const MAINTENANCE_SNIPPET = 'snippets/maintenance.conf'
/** Seconds in the Retry-After header (nginx/snippets/maintenance.conf). */
export const RETRY_AFTER_S = 300
const MAX_PAGE_BYTES = 256 * 1024

export const DEFAULT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Down for maintenance</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 4em auto">
<h1>Down for maintenance</h1>
<p>We are working on the service and will be back shortly. Please try again in a few minutes.</p>
</body></html>
`

export type MaintenanceState = { on: boolean; since: string | null; bytes: number }

export function maintenanceFile(liveDir: string): string {
  return path.join(liveDir, MAINTENANCE_MARKER)
}

/** Whether the marker is there (maintenance on), since when and how big its page is. */
export function readMaintenance(liveDir: string): MaintenanceState {
  try {
    const st = fs.statSync(maintenanceFile(liveDir))
    const page = fs.statSync(path.join(liveDir, MAINTENANCE_PAGE_FILE), { throwIfNoEntry: false })
    return { on: true, since: st.mtime.toISOString(), bytes: page?.size ?? 0 }
  } catch {
    return { on: false, since: null, bytes: 0 }
  }
}

/** The page to serve: the file named by --page or MAINTENANCE_PAGE, else the built-in one. */
export function loadPage(file: string | undefined, root: string): { page: string; source: string } {
  if (!file) return { page: DEFAULT_PAGE, source: 'built-in page' }
  const full = path.resolve(root, file)
  let text: string
  try {
    if (fs.statSync(full).size > MAX_PAGE_BYTES) throw new Error(`larger than ${MAX_PAGE_BYTES / 1024} KiB`)
    text = fs.readFileSync(full, 'utf8')
  } catch (e) {
    throw new UsageError(
      `Can't use the maintenance page ${file}: ${(e as Error).message.replace(/^[A-Z]+: /, '')}`,
      'Name a readable HTML file of at most 256 KiB (--page or MAINTENANCE_PAGE), or leave both empty for the built-in page. Nothing was changed.',
    )
  }
  if (!text.trim())
    throw new UsageError(`Can't use the maintenance page ${file}: it is empty`, 'Put the HTML to show in it.')
  return { page: text, source: full }
}

export type MaintenancePlan = { steps: string[]; want: boolean; change: boolean; file: string }

/** What switching to `want` does, given what is there now. Pure. */
export function planMaintenance(
  target: string,
  liveDir: string,
  want: boolean,
  now: MaintenanceState,
  source: string,
): MaintenancePlan {
  const file = maintenanceFile(liveDir)
  const steps: string[] = []
  if (want) {
    steps.push(
      now.on
        ? `replace the page of ${target}'s maintenance marker ${file} (${source}); it stays on`
        : `write the marker ${file} (${source}): the public listener answers 503 with Retry-After ${RETRY_AFTER_S} s`,
    )
    steps.push('health endpoints, the preview and the status listener keep working (no nginx reload)')
  } else if (now.on) steps.push(`remove the marker ${file}: the public listener serves the live slot again`)
  return { steps, want, change: want || now.on, file }
}

/** Turns maintenance on (the page written, then the marker) or off (the marker removed; the page stays). */
export function applyMaintenance(plan: MaintenancePlan, page: string): void {
  if (plan.want) {
    writeFileAtomic(path.join(path.dirname(plan.file), MAINTENANCE_PAGE_FILE), page, 0o644)
    writeFileAtomic(plan.file, `${new Date().toISOString()}\n`, 0o644)
  } else fs.rmSync(plan.file, { force: true })
}

/** The health-check's view: WARNING while the page is up (the public answers 503 on purpose). */
export function evaluateMaintenance(m: MaintenanceState): CheckResult {
  return m.on
    ? {
        name: 'maintenance',
        status: 'WARNING',
        latencyMs: 0,
        detail: `maintenance mode is on since ${m.since}: the public listener answers 503 with the page (turn it off: npx zx scripts/maintenance.ts --off)`,
        values: { on: 1 },
      }
    : { name: 'maintenance', status: 'OK', latencyMs: 0, detail: 'maintenance mode is off', values: { on: 0 } }
}

/** The status script's line. */
export function maintenanceLine(m: MaintenanceState): string {
  return m.on
    ? `Maintenance: ON since ${m.since} (the public listener answers 503 with the page)\n`
    : 'Maintenance: off\n'
}
