// The certificate settings of a target: its domains, how its certificate is obtained
// (self-signed, provided files, ACME HTTP-01), the ACME account, renewal and HSTS.
// Read by lib/config.ts like every other key (config-schema.ts holds the other keys): bad values are reported with file and line.
import path from 'node:path'

export const TLS_MODES = ['self-signed', 'provided', 'acme'] as const
export type TlsMode = (typeof TLS_MODES)[number]
export type TlsKind = 'domains' | 'tlsMode' | 'optPath' | 'email' | 'bool'

export type TlsSettings = {
  mode: TlsMode
  /** server_name list; empty: any host (local use, self-signed) */
  domains: string[]
  /** provided mode: certificate chain (PEM, leaf first) and its key */
  certFile: string
  keyFile: string
  /** extra trust anchors (PEM) for checking a chain, besides the public roots; '' for none */
  caFile: string
  acme: {
    server: string
    email: string
    /** CA bundle that signs the ACME server's own HTTPS certificate (a private or test CA) */
    serverCaFile: string
    /** renew when at most this many days are left */
    renewDays: number
  }
  hsts: { maxAge: number; includeSubdomains: boolean; preload: boolean }
}

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory'

/** The TLS keys of the config schema (config-schema.ts spreads them into SCHEMA). */
export const TLS_SCHEMA: Record<string, { kind: TlsKind | 'url' | 'int'; default?: (target: string) => string }> = {
  DOMAINS: { kind: 'domains', default: () => '' },
  TLS_MODE: { kind: 'tlsMode', default: () => 'self-signed' },
  TLS_CERT_FILE: { kind: 'optPath', default: () => '' },
  TLS_KEY_FILE: { kind: 'optPath', default: () => '' },
  TLS_CA_FILE: { kind: 'optPath', default: () => '' },
  ACME_SERVER: { kind: 'url', default: () => LETS_ENCRYPT },
  ACME_EMAIL: { kind: 'email', default: () => '' },
  ACME_CA_FILE: { kind: 'optPath', default: () => '' },
  ACME_RENEW_DAYS: { kind: 'int', default: () => '30' },
  HSTS_MAX_AGE: { kind: 'int', default: () => '63072000' },
  HSTS_INCLUDE_SUBDOMAINS: { kind: 'bool', default: () => 'true' },
  HSTS_PRELOAD: { kind: 'bool', default: () => 'false' },
}

/** A host name: dot-separated labels of letters, digits and inner hyphens; a leading "*." allowed. */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
const DOMAIN_RE = new RegExp(`^(\\*\\.)?(${LABEL}\\.)+${LABEL}$`)

export function parseDomains(value: string): string[] {
  return value
    .split(',')
    .map((d) => d.trim().toLowerCase())
    .filter(Boolean)
}

export function checkTlsValue(kind: string, value: string): string | undefined {
  switch (kind) {
    case 'domains': {
      const bad = parseDomains(value).filter((d) => d.length > 253 || !DOMAIN_RE.test(d))
      return bad.length
        ? `${bad.map((d) => JSON.stringify(d)).join(', ')} ${bad.length > 1 ? 'are not host names' : 'is not a host name'}; write comma-separated names like example.com,www.example.com`
        : undefined
    }
    case 'tlsMode':
      return (TLS_MODES as readonly string[]).includes(value) ? undefined : `write one of ${TLS_MODES.join(', ')}`
    case 'optPath':
      return !/[\0\r\n]/.test(value) && value.length <= 1024 ? undefined : 'write a file path, or leave it empty'
    case 'email':
      return value === '' || /^[^\s@"'`\\]+@[a-z0-9.-]+\.[a-z]{2,}$/i.test(value)
        ? undefined
        : 'write an e-mail address like ops@example.com, or leave it empty'
    case 'bool':
      return /^(true|false|yes|no|1|0|on|off)$/i.test(value) ? undefined : 'write true or false'
    default:
      return `unknown kind ${kind}`
  }
}

const isTrue = (v: string | undefined) => /^(true|yes|1|on)$/i.test(v ?? '')

/** Problems between keys (each key alone is valid): what a mode needs, what HSTS preload needs. */
export function tlsProblems(raw: Record<string, string>, sources: Record<string, string>): string[] {
  const where = (k: string) => sources[k] ?? 'default'
  const mode = raw.TLS_MODE as TlsMode
  const domains = parseDomains(raw.DOMAINS ?? '')
  const out: string[] = []
  if (mode !== 'self-signed' && !domains.length)
    out.push(`${where('TLS_MODE')}: TLS_MODE=${mode} needs the names to serve: set DOMAINS=example.com,www.example.com`)
  if (mode === 'provided') {
    for (const k of ['TLS_CERT_FILE', 'TLS_KEY_FILE'])
      if (!raw[k]) out.push(`${where('TLS_MODE')}: TLS_MODE=provided needs ${k} (the PEM file to install)`)
  }
  if (mode === 'acme') {
    const wild = domains.filter((d) => d.startsWith('*.'))
    if (wild.length)
      out.push(
        `${where('DOMAINS')}: ${wild.join(', ')}: a wildcard needs the DNS-01 challenge; TLS_MODE=acme answers HTTP-01 only (list the names, or use TLS_MODE=provided)`,
      )
    if (!raw.ACME_EMAIL)
      out.push(`${where('ACME_EMAIL')}: TLS_MODE=acme needs ACME_EMAIL (the account's contact address)`)
    if (!/^https:\/\//.test(raw.ACME_SERVER ?? ''))
      out.push(`${where('ACME_SERVER')}: ACME_SERVER must be an https:// directory URL`)
  }
  if (isTrue(raw.HSTS_PRELOAD) && (!isTrue(raw.HSTS_INCLUDE_SUBDOMAINS) || Number(raw.HSTS_MAX_AGE) < 31536000))
    out.push(
      `${where('HSTS_PRELOAD')}: HSTS_PRELOAD=true needs HSTS_INCLUDE_SUBDOMAINS=true and HSTS_MAX_AGE of at least 31536000 (one year), as the preload list requires`,
    )
  return out
}

export function tlsSettings(raw: Record<string, string>, root: string): TlsSettings {
  const file = (k: string) => (raw[k] ? path.resolve(root, raw[k]!) : '')
  return {
    mode: raw.TLS_MODE as TlsMode,
    domains: parseDomains(raw.DOMAINS ?? ''),
    certFile: file('TLS_CERT_FILE'),
    keyFile: file('TLS_KEY_FILE'),
    caFile: file('TLS_CA_FILE'),
    acme: {
      server: raw.ACME_SERVER!,
      email: raw.ACME_EMAIL!,
      serverCaFile: file('ACME_CA_FILE'),
      renewDays: Number(raw.ACME_RENEW_DAYS),
    },
    hsts: {
      maxAge: Number(raw.HSTS_MAX_AGE),
      includeSubdomains: isTrue(raw.HSTS_INCLUDE_SUBDOMAINS),
      preload: isTrue(raw.HSTS_PRELOAD),
    },
  }
}
