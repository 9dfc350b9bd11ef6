// Retention of the audit log: when audit.log grows past its size or its first entry past its age,
// it is renamed whole to audit.log.<time> (made read-only; never edited, never rewritten) and a new
// log starts. Rotated files beyond the kept count or age are deleted whole. The writer calls
// rotateAuditIfDue before each append; the policy comes from the env file (configureAuditRetention).
import fs from 'node:fs'
import path from 'node:path'
import { DEFAULT_AUDIT_RETENTION, type AuditRetention } from './day2/settings.ts'

let policy: AuditRetention = DEFAULT_AUDIT_RETENTION

/** Set once per script from the loaded config (lib/script-env.ts). */
export function configureAuditRetention(p: AuditRetention): void {
  policy = p
}

const DAY_MS = 86_400_000
const ROTATED_RE = /^audit\.log\.(\d{8}T\d{6}Z)(-\d+)?$/

/** Why the log is due for rotation, or null. Pure: size, the first entry's time, now. */
export function rotationDue(
  o: { size: number; firstEntry: string | null; now: Date },
  p: AuditRetention = policy,
): string | null {
  if (o.size === 0) return null
  if (p.maxBytes > 0 && o.size >= p.maxBytes) return `it is ${o.size} bytes (AUDIT_MAX_BYTES ${p.maxBytes})`
  const first = o.firstEntry ? Date.parse(o.firstEntry) : Number.NaN
  if (p.maxAgeDays > 0 && Number.isFinite(first) && o.now.getTime() - first >= p.maxAgeDays * DAY_MS)
    return `its first entry is from ${o.firstEntry} (AUDIT_MAX_AGE_DAYS ${p.maxAgeDays})`
  return null
}

/** audit.log.20261202T233518Z: sorts by time. */
export function rotatedName(now: Date): string {
  return `audit.log.${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`
}

/** Which rotated files retention deletes: beyond keepFiles (newest kept) or older than keepDays. Pure. */
export function expiredRotations(names: string[], now: Date, p: AuditRetention = policy): string[] {
  const rotated = names.filter((n) => ROTATED_RE.test(n)).sort()
  const keepFrom = p.keepFiles > 0 ? Math.max(0, rotated.length - p.keepFiles) : 0
  return rotated.filter((n, i) => {
    if (i < keepFrom) return true
    const stamp = ROTATED_RE.exec(n)![1]!
    const t = Date.parse(stamp.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'))
    return p.keepDays > 0 && now.getTime() - t > p.keepDays * DAY_MS
  })
}

function firstEntryTime(file: string): string | null {
  const fd = fs.openSync(file, 'r')
  try {
    const buf = Buffer.alloc(512)
    const n = fs.readSync(fd, buf, 0, buf.length, 0)
    const m = /"time":"([^"]+)"/.exec(buf.subarray(0, n).toString('utf8'))
    return m ? m[1]! : null
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Rotates `file` when due; returns the rotated file's path or null. The log is renamed (one
 * atomic step: a writer that still holds the old file appends to it under its new name, nothing is
 * lost), then made read-only. Never throws: retention must not stop an operation from auditing.
 */
export function rotateAuditIfDue(file: string, now = new Date(), p: AuditRetention = policy): string | null {
  try {
    const st = fs.statSync(file)
    const why = rotationDue({ size: st.size, firstEntry: firstEntryTime(file), now }, p)
    if (!why) return null
    const dir = path.dirname(file)
    let target = path.join(dir, rotatedName(now))
    for (let i = 1; fs.existsSync(target); i++) target = path.join(dir, `${rotatedName(now)}-${i}`)
    // another process rotated it first: the file is a new one now, leave it
    if (fs.statSync(file).ino !== st.ino) return null
    fs.renameSync(file, target)
    fs.chmodSync(target, 0o440)
    for (const old of expiredRotations(fs.readdirSync(dir), now, p)) fs.rmSync(path.join(dir, old), { force: true })
    return target
  } catch {
    return null
  }
}
