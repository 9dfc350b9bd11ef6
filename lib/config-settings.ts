// Settings of other parts, read once with the config from their pass-through keys (NOTIFY_*, SMOKE_*,
// ALERT_*, APP_*, HEALTH_*) into typed values, so nothing outside the config parses raw values.
import { readThresholds, type Thresholds } from './config-health.ts'
import { auditRetention, stickyMode, type AuditRetention, type StickyMode } from './day2/settings.ts'
import { hostsSettings, type HostsSettings } from './multihost-settings.ts'

export type SmokeSettings = {
  requests: number
  durationMs: number
  concurrency: number
  maxErrorRate: number
  maxP95Ms: number
}

/** Alertmanager's receiver credentials (written into files under VAR_DIR/secrets, never argv). */
export type AlertmanagerSecrets = { slackWebhookUrl: string; pagerdutyRoutingKey: string; smtpPassword: string }

export type PartSettings = {
  /** NOTIFY_TIMEOUT_MS (5000): the deadline of one webhook delivery */
  notifyTimeoutMs: number
  smoke: SmokeSettings
  alertmanager: AlertmanagerSecrets
  /** APP_<knob> values passed to the app services as <knob> (test knobs, log level) */
  appEnv: Record<string, string>
  /** HEALTH_* levels; a bad value is named in problems and replaced by its default */
  health: { thresholds: Thresholds; problems: string[] }
  /** AUDIT_MAX_BYTES, AUDIT_MAX_AGE_DAYS, AUDIT_KEEP_FILES, AUDIT_KEEP_DAYS: when the audit log is rotated */
  auditRetention: AuditRetention
  /** GRADUAL_STICKY (cookie): how a gradual shift keeps a client on one slot (lib/day2/settings.ts) */
  gradualSticky: StickyMode
  /** MAINTENANCE_PAGE: an HTML file served as the maintenance page ('' = the built-in page) */
  maintenancePage: string
  /** BACKUP_REPOSITORY, RESTIC_PASSWORD(_FILE), BACKUP_KEEP_DAILY/WEEKLY/MONTHLY, DRILL_CHECK, DRILL_IMAGE (lib/backup/settings.ts) */
  /** HOSTS_SSH_DIR, HOSTS_SSH_KEY, HOSTS_PUBLISH_BASE: an app on several hosts (lib/multihost-settings.ts) */
  multiHost: HostsSettings
  offHostBackup: {
    repository: string
    password: string
    /** as written (relative to the repository root) */
    passwordFile: string
    keep: { daily: number; weekly: number; monthly: number }
    drillCheck: string
    drillImage: string
  }
}

/** App settings that pass through from the config as APP_<name> (test knobs, log level). */
export const APP_KNOBS = [
  'LOG_LEVEL',
  'START_DELAY_MS',
  'FAIL_HEALTH',
  'FAIL_AFTER_MS',
  'SLOW_MS',
  'DEMO_USER',
] as const

const num = (raw: Record<string, string>, key: string, def: number) => {
  const n = Number(raw[key])
  return raw[key] !== undefined && raw[key] !== '' && Number.isFinite(n) && n >= 0 ? n : def
}

export function partSettings(raw: Record<string, string>): PartSettings {
  const appEnv: Record<string, string> = {}
  for (const k of APP_KNOBS) if (raw[`APP_${k}`] !== undefined) appEnv[k] = raw[`APP_${k}`]!
  return {
    notifyTimeoutMs: Number(raw.NOTIFY_TIMEOUT_MS ?? 5000) || 5000,
    // SMOKE_REQUESTS (300), SMOKE_DURATION_MS (15000), SMOKE_CONCURRENCY (4), SMOKE_MAX_ERROR_RATE (0.01), SMOKE_MAX_P95_MS (1500)
    smoke: {
      requests: num(raw, 'SMOKE_REQUESTS', 300),
      durationMs: num(raw, 'SMOKE_DURATION_MS', 15_000),
      concurrency: Math.max(1, num(raw, 'SMOKE_CONCURRENCY', 4)),
      maxErrorRate: num(raw, 'SMOKE_MAX_ERROR_RATE', 0.01),
      maxP95Ms: num(raw, 'SMOKE_MAX_P95_MS', 1500),
    },
    alertmanager: {
      slackWebhookUrl: raw.ALERT_SLACK_WEBHOOK_URL ?? '',
      pagerdutyRoutingKey: raw.ALERT_PAGERDUTY_ROUTING_KEY ?? '',
      smtpPassword: raw.ALERT_SMTP_PASSWORD ?? '',
    },
    appEnv,
    health: readThresholds(raw),
    auditRetention: auditRetention(raw),
    gradualSticky: stickyMode(raw),
    maintenancePage: raw.MAINTENANCE_PAGE ?? '',
    multiHost: hostsSettings(raw),
    offHostBackup: {
      repository: raw.BACKUP_REPOSITORY ?? '',
      password: raw.RESTIC_PASSWORD ?? '',
      passwordFile: raw.RESTIC_PASSWORD_FILE ?? '',
      keep: {
        daily: Number(raw.BACKUP_KEEP_DAILY ?? 7),
        weekly: Number(raw.BACKUP_KEEP_WEEKLY ?? 4),
        monthly: Number(raw.BACKUP_KEEP_MONTHLY ?? 12),
      },
      drillCheck: raw.DRILL_CHECK ?? '',
      drillImage: raw.DRILL_IMAGE ?? 'dms/postgres:local',
    },
  }
}

/** The address to reach a listener on from this host: a wildcard listen address is reached on loopback. */
export function localAddress(listenAddr: string): string {
  return listenAddr === '0.0.0.0' ? '127.0.0.1' : listenAddr
}
