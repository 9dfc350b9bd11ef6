// The keys of a target's configuration: each key's kind, default and whether it is generated, the
// value checks of each kind (a named problem and its fix) and the duration parser.
import { DAY2_SCHEMA, STICKY_MODES } from './day2/settings.ts'
import { REGISTRY_KINDS, REGISTRY_SCHEMA, checkRegistryValue, type RegistryKind } from './config-registry.ts'
import { TLS_SCHEMA, checkTlsValue, type TlsKind } from './config-tls.ts'
import { HOSTS_SCHEMA } from './multihost-settings.ts'

export const TARGETS = ['staging', 'production'] as const
export type Target = (typeof TARGETS)[number]

export type Kind =
  | 'name'
  | 'ipPrefix'
  | 'ipv4'
  | 'port'
  | 'cidrs'
  | 'image'
  | 'appImage'
  | 'path'
  | 'ident'
  | 'secret'
  | 'url'
  | 'duration'
  | 'int'
  | 'ratio'
  | 'text'
  | 'sticky'
  | TlsKind
  | RegistryKind
export type KeySpec = { kind: Kind; default?: (t: Target) => string; generate?: boolean }

const PORTS = (p: Record<Target, number>) => (t: Target) => String(p[t])

export const SCHEMA: Record<string, KeySpec> = {
  COMPOSE_PROJECT: { kind: 'name', default: (t) => (t === 'production' ? 'dms-prod' : 'dms-staging') },
  NETWORK_NAME: { kind: 'name', default: (t) => (t === 'production' ? 'dms-prod-net' : 'dms-staging-net') },
  NET_PREFIX: { kind: 'ipPrefix', default: (t) => (t === 'production' ? '172.29.10' : '172.29.20') },
  LISTEN_ADDR: { kind: 'ipv4', default: () => '127.0.0.1' },
  HTTPS_PORT: { kind: 'port', default: PORTS({ production: 8443, staging: 9443 }) },
  HTTP_PORT: { kind: 'port', default: PORTS({ production: 8080, staging: 9080 }) },
  PREVIEW_PORT: { kind: 'port', default: PORTS({ production: 8444, staging: 9444 }) },
  STATUS_PORT: { kind: 'port', default: PORTS({ production: 8090, staging: 9090 }) },
  POSTGRES_PORT: { kind: 'port', default: PORTS({ production: 15432, staging: 25432 }) },
  REDIS_PORT: { kind: 'port', default: PORTS({ production: 16379, staging: 26379 }) },
  PROMETHEUS_PORT: { kind: 'port', default: PORTS({ production: 8091, staging: 9091 }) },
  ALERTMANAGER_PORT: { kind: 'port', default: PORTS({ production: 8093, staging: 9093 }) },
  STATUS_ALLOW: { kind: 'cidrs', default: () => '127.0.0.1/32' },
  BASE_IMAGE: { kind: 'image', default: () => 'dms/base:bookworm' },
  // '' = the image of the app's manifest (its first service's; config.app fills it in)
  APP_IMAGE: { kind: 'appImage', default: () => '' },
  // the app's manifest (a directory with app.yaml, or the file), relative to the repo root; --app overrides it
  APP: { kind: 'path', default: () => 'examples/dms' },
  VAR_DIR: { kind: 'path', default: (t) => `var/${t}` },
  POSTGRES_USER: { kind: 'ident', default: () => 'dms' },
  POSTGRES_DB: { kind: 'ident', default: () => 'dms' },
  POSTGRES_PASSWORD: { kind: 'secret', generate: true },
  REDIS_PASSWORD: { kind: 'secret', generate: true },
  WEBHOOK_URL: { kind: 'url', default: () => '' },
  SLACK_WEBHOOK_URL: { kind: 'url', default: () => '' },
  KEEP_PREVIOUS: { kind: 'duration', default: () => '30m' },
  VERIFY_WINDOW: { kind: 'duration', default: () => '30s' },
  DEPLOY_TIMEOUT: { kind: 'duration', default: () => '120s' },
  READY_STABLE: { kind: 'duration', default: () => '500ms' },
  COMMAND_TIMEOUT: { kind: 'duration', default: () => '60s' },
  SWITCH_MIN_SUCCESS_RATE: { kind: 'ratio', default: () => '0.99' },
  SWITCH_MAX_P95_MS: { kind: 'int', default: () => '500' },
  BACKUP_KEEP_COUNT: { kind: 'int', default: () => '7' },
  BACKUP_KEEP_DAYS: { kind: 'int', default: () => '14' },
  // off-host copies with restic (lib/backup/settings.ts reads and checks these)
  BACKUP_REPOSITORY: { kind: 'text', default: () => '' },
  RESTIC_PASSWORD: { kind: 'text', default: () => '' },
  RESTIC_PASSWORD_FILE: { kind: 'text', default: () => '' },
  BACKUP_KEEP_DAILY: { kind: 'int', default: () => '7' },
  BACKUP_KEEP_WEEKLY: { kind: 'int', default: () => '4' },
  BACKUP_KEEP_MONTHLY: { kind: 'int', default: () => '12' },
  DRILL_CHECK: { kind: 'text', default: () => '' },
  DRILL_IMAGE: { kind: 'image', default: () => 'dms/postgres:local' },
  DISK_MIN_FREE_MB: { kind: 'int', default: () => '1024' },
  STAGING_CHECKS: { kind: 'text', default: () => 'npm run typecheck' },
  ...TLS_SCHEMA,
  ...DAY2_SCHEMA,
  ...REGISTRY_SCHEMA,
  ...HOSTS_SCHEMA,
}

/** Keys read from the environment besides SCHEMA's: thresholds and settings of other parts. */
export const PASSTHROUGH = /^(HEALTH_|ALERT_|NOTIFY_|SMOKE_|DMS_|APP_)[A-Z0-9_]*$/

export function checkValue(kind: Kind, value: string): string | undefined {
  const ipOctet = (s: string) => /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(s)
  switch (kind) {
    case 'name':
      return /^[a-z0-9][a-z0-9_-]{0,47}$/.test(value) ? undefined : 'use lowercase letters, digits, - and _, at most 48'
    case 'ipPrefix':
      return value.split('.').length === 3 && value.split('.').every(ipOctet)
        ? undefined
        : 'write the first three octets of an IPv4 /24, like 172.29.10'
    case 'ipv4':
      return value.split('.').length === 4 && value.split('.').every(ipOctet)
        ? undefined
        : 'write an IPv4 address, like 127.0.0.1'
    case 'port': {
      const n = Number(value)
      return /^\d+$/.test(value) && n >= 1 && n <= 65535 ? undefined : 'write a port number from 1 to 65535'
    }
    case 'cidrs':
      return value.split(',').every((c) => {
        const [ip, bits, extra] = c.trim().split('/')
        return (
          extra === undefined &&
          ip !== undefined &&
          ip.split('.').length === 4 &&
          ip.split('.').every(ipOctet) &&
          (bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= 32))
        )
      })
        ? undefined
        : 'write comma-separated IPv4 CIDRs, like 127.0.0.1/32,10.0.0.0/8'
    case 'appImage':
      return value === '' ? undefined : checkValue('image', value)
    case 'image':
      return /^[a-z0-9][a-z0-9._/:-]{0,199}$/.test(value) && !value.includes('..')
        ? undefined
        : 'write an image reference like team/web or registry.example.com/team/web'
    case 'path':
      return value !== '' && !/[\0\r\n]/.test(value) && value.length <= 1024 ? undefined : 'write a directory path'
    case 'ident':
      return /^[a-z_][a-z0-9_]{0,62}$/.test(value)
        ? undefined
        : 'use lowercase letters, digits and _, starting with a letter'
    case 'secret':
      return value.length <= 512 && !/[\0\r\n\s'"\\$`]/.test(value)
        ? undefined
        : 'a secret must be at most 512 characters without spaces, quotes, backslashes, $ or backticks'
    case 'url':
      return value === '' || (/^https?:\/\/[^\s'"`]+$/.test(value) && value.length <= 2048)
        ? undefined
        : 'write an http(s) URL, or leave it empty'
    case 'duration':
      return /^\d+(\.\d+)?(ms|s|m|h)?$/.test(value) ? undefined : 'write a duration like 30s, 20m or 1h'
    case 'int':
      return /^\d{1,9}$/.test(value) ? undefined : 'write a whole number'
    case 'ratio':
      return /^(0(\.\d+)?|1(\.0+)?)$/.test(value) ? undefined : 'write a number from 0 to 1, like 0.99'
    case 'text':
      return value.length <= 4096 && !/[\0\r\n]/.test(value) ? undefined : 'at most 4096 characters on one line'
    case 'sticky':
      return (STICKY_MODES as readonly string[]).includes(value) ? undefined : `write one of ${STICKY_MODES.join(', ')}`
    default:
      return REGISTRY_KINDS.includes(kind) ? checkRegistryValue(kind, value) : checkTlsValue(kind, value)
  }
}

export function durationMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v)!
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : m[2] === 'h' ? n * 3_600_000 : n * 1000)
}
