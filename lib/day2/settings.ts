// Settings of the day-2 operations (maintenance page, audit log retention): their env keys with
// defaults (spread into config.ts's SCHEMA) and the typed values read from a loaded config.

/** spread into config-schema.ts's SCHEMA (typed structurally here: config-schema imports this file) */
export const DAY2_SCHEMA: Record<string, { kind: 'text' | 'int' | 'sticky'; default?: (target: string) => string }> = {
  /** an HTML file served as the maintenance page; empty: the built-in page */
  MAINTENANCE_PAGE: { kind: 'text', default: () => '' },
  /** rotate the audit log once it is this big (bytes) */
  AUDIT_MAX_BYTES: { kind: 'int', default: () => String(10 * 1024 * 1024) },
  /** rotate the audit log once its first entry is this many days old */
  AUDIT_MAX_AGE_DAYS: { kind: 'int', default: () => '30' },
  /** rotated audit logs kept (the oldest beyond this count are deleted) */
  AUDIT_KEEP_FILES: { kind: 'int', default: () => '12' },
  /** rotated audit logs older than this many days are deleted */
  AUDIT_KEEP_DAYS: { kind: 'int', default: () => '365' },
  /** how a gradual shift splits clients: cookie (dms_bucket, else the address), address, or request */
  GRADUAL_STICKY: { kind: 'sticky', default: () => 'cookie' },
}

/**
 * How a gradual shift picks the bucket (1..100) of a request: `cookie` keeps the bucket a client was
 * first given (by its address) in the dms_bucket cookie, so it stays on one slot through a step even
 * when its address changes; `address` keys the bucket on the client address alone; `request` on each
 * request (one client sees both slots).
 */
export const STICKY_MODES = ['cookie', 'address', 'request'] as const
export type StickyMode = (typeof STICKY_MODES)[number]

/** GRADUAL_STICKY, checked by the config's schema (kind sticky) */
export function stickyMode(raw: Record<string, string>): StickyMode {
  const v = raw.GRADUAL_STICKY ?? 'cookie'
  return (STICKY_MODES as readonly string[]).includes(v) ? (v as StickyMode) : 'cookie'
}

export type AuditRetention = { maxBytes: number; maxAgeDays: number; keepFiles: number; keepDays: number }

export const DEFAULT_AUDIT_RETENTION: AuditRetention = {
  maxBytes: 10 * 1024 * 1024,
  maxAgeDays: 30,
  keepFiles: 12,
  keepDays: 365,
}

/** The retention policy from a config's raw values (defaults for what is missing). */
export function auditRetention(raw: Record<string, string>): AuditRetention {
  const n = (key: string, fallback: number) => {
    const v = raw[key]
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : fallback
  }
  const d = DEFAULT_AUDIT_RETENTION
  return {
    maxBytes: n('AUDIT_MAX_BYTES', d.maxBytes),
    maxAgeDays: n('AUDIT_MAX_AGE_DAYS', d.maxAgeDays),
    keepFiles: n('AUDIT_KEEP_FILES', d.keepFiles),
    keepDays: n('AUDIT_KEEP_DAYS', d.keepDays),
  }
}
