// The audit log: one JSON line per action, appended with O_APPEND and fsynced (the scripts never
// rewrite it), and read back for status.
import { rotateAuditIfDue } from './audit-rotate.ts'
import fs from 'node:fs'
import path from 'node:path'
import type { AuditEntry } from './model.ts'
import { commandLine, whoami } from './who.ts'

/** Appends one JSON line (O_APPEND: the scripts never rewrite the log). mask hides secret values. */
export function appendAudit(file: string, entry: AuditEntry, mask: (s: string) => string = (s) => s): void {
  const { user, host } = whoami()
  const line = {
    time: new Date().toISOString(),
    user,
    host,
    command: entry.command ?? commandLine(),
    ...entry,
  }
  fs.mkdirSync(path.dirname(file), { recursive: true })
  rotateAuditIfDue(file)
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o640)
  try {
    fs.writeSync(fd, `${mask(JSON.stringify(line))}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export function readAudit(file: string, last = 10): Array<Record<string, unknown>> {
  // slice(-0) would be the whole log: asking for none gets none
  if (last <= 0) return []
  let text = ''
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return []
  }
  return text
    .split('\n')
    .filter(Boolean)
    .slice(-last)
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>
      } catch {
        return { unreadable: l.slice(0, 200) }
      }
    })
}
