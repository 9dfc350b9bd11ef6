// The SSL Labs rating guide's A+ conditions, checked on testssl.sh's flat JSON findings
// (Debian 12's testssl.sh 3.0.8 has no overall rating): only TLS 1.2 and 1.3, only forward-secret
// AEAD ciphers, no vulnerability, HSTS of at least six months, a chain that verifies, a
// certificate in date. Returns one line per condition that fails; none means A+.
// Not graded here: revocation information and the validity period, which come from the CA
// (pebble's test certificates carry no CRL or OCSP URL; Let's Encrypt's carry a CRL URL).
export type Finding = { id: string; severity: string; finding: string }

const SIX_MONTHS = 15_552_000
const VULNERABILITIES = [
  'heartbleed',
  'CCS',
  'ticketbleed',
  'ROBOT',
  'secure_renego',
  'secure_client_renego',
  'CRIME_TLS',
  'POODLE_SSL',
  'fallback_SCSV',
  'SWEET32',
  'FREAK',
  'DROWN',
  'LOGJAM',
  'BEAST',
  'LUCKY13',
  'RC4',
]
const WEAK_CIPHER_LISTS = [
  'cipherlist_NULL',
  'cipherlist_aNULL',
  'cipherlist_EXPORT',
  'cipherlist_LOW',
  'cipherlist_3DES_IDEA',
  'cipherlist_AVERAGE',
]

export function aPlusProblems(findings: Finding[]): string[] {
  const byId = new Map(findings.map((f) => [f.id, f]))
  const problems: string[] = []
  const need = (id: string, ok: (f: Finding) => boolean, what: string) => {
    const f = byId.get(id)
    if (!f) problems.push(`${id}: no finding (was the check run?)`)
    else if (!ok(f)) problems.push(`${id}: ${what}; testssl says ${JSON.stringify(f.finding)} (${f.severity})`)
  }
  const notOffered = (f: Finding) => /^not offered/.test(f.finding)
  for (const p of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) need(p, notOffered, 'must not be offered')
  for (const p of ['TLS1_2', 'TLS1_3']) need(p, (f) => /^offered/.test(f.finding), 'must be offered')
  for (const id of WEAK_CIPHER_LISTS) need(id, notOffered, 'weak or non-AEAD ciphers must not be offered')
  need('cipherlist_STRONG', (f) => /^offered/.test(f.finding), 'AEAD ciphers must be offered')
  const ciphers = findings.filter((f) => /^cipher-tls1_[23]_x/.test(f.id))
  if (!ciphers.length) problems.push('cipher-tls1_*: no cipher listed (run testssl with -E)')
  for (const c of ciphers) {
    const forwardSecret = /TLS_AES|TLS_CHACHA20|\bECDH|\bDH\b/.test(c.finding)
    const aead = /GCM|CHACHA20|CCM/.test(c.finding)
    if (!forwardSecret || !aead) problems.push(`${c.id}: not a forward-secret AEAD cipher: ${c.finding}`)
  }
  // "PFS" in testssl 3.0, "FS" from 3.1 on
  need(
    byId.has('PFS') ? 'PFS' : 'FS',
    (f) => /^offered/.test(f.finding) && f.severity === 'OK',
    'forward secrecy must be offered',
  )
  for (const id of VULNERABILITIES)
    need(id, (f) => f.severity === 'OK' || f.severity === 'INFO', 'must not be vulnerable')
  need(
    'HSTS_time',
    (f) => Number(/(\d+) seconds/.exec(f.finding)?.[1] ?? 0) >= SIX_MONTHS,
    'HSTS must last at least six months (15552000 s)',
  )
  need(
    'cert_chain_of_trust',
    (f) => f.severity === 'OK' && /^passed/.test(f.finding),
    'the chain must verify against the trusted roots',
  )
  need('cert_expirationStatus', (f) => f.severity === 'OK', 'the certificate must be in date')
  return problems
}
