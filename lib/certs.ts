// Certificates as data: read a PEM chain, describe it (names, issuer, days left), and check a
// candidate before it is installed: the key matches, the chain is complete up to a trusted
// root, the names cover the domains, and it is valid now. Pure apart from reading files.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import fs from 'node:fs'
import tls from 'node:tls'

export type CertInfo = {
  subject: string
  issuer: string
  /** DNS names and IP addresses of the subjectAltName */
  names: string[]
  notBefore: string
  notAfter: string
  daysLeft: number
  selfSigned: boolean
  fingerprint256: string
  serialNumber: string
}

export type CertCheck = {
  domains: string[]
  /** check the chain up to a trusted root (public roots plus extra anchors); false for self-signed */
  requireTrust: boolean
  /** extra trust anchors, PEM (a private CA, or the ACME test CA) */
  extraRootsPem?: string
  now?: Date
}

const DAY = 86_400_000

export function parsePemChain(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((b) => new X509Certificate(b))
}

export function sanNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => /^(DNS|IP Address):/.test(s))
    .map((s) => s.replace(/^(DNS|IP Address):/, ''))
}

const oneLine = (dn: string) => dn.split('\n').filter(Boolean).join(', ')

export function certInfo(cert: X509Certificate, now = new Date()): CertInfo {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    names: sanNames(cert),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    daysLeft: Math.floor((new Date(cert.validTo).getTime() - now.getTime()) / DAY),
    selfSigned: cert.checkIssued(cert) && cert.verify(cert.publicKey),
    fingerprint256: cert.fingerprint256,
    serialNumber: cert.serialNumber,
  }
}

/** The leaf of a PEM file, described; throws when the file is missing or holds no certificate. */
export function readCertInfo(file: string, now = new Date()): CertInfo {
  const leaf = parsePemChain(fs.readFileSync(file, 'utf8'))[0]
  if (!leaf) throw new Error(`${file} holds no PEM certificate`)
  return certInfo(leaf, now)
}

function covers(cert: X509Certificate, domain: string): boolean {
  if (domain.startsWith('*.')) return sanNames(cert).includes(domain)
  return cert.checkHost(domain) !== undefined
}

function trustAnchors(extraPem = ''): X509Certificate[] {
  const out: X509Certificate[] = []
  for (const pem of [...tls.rootCertificates, extraPem]) {
    try {
      out.push(...parsePemChain(pem))
    } catch {
      // a root this Node cannot parse: skip it
    }
  }
  return out
}

const issuedBy = (c: X509Certificate, by: X509Certificate) => c.checkIssued(by) && c.verify(by.publicKey)

/** Problems with the chain: each certificate issued by the next, the last by a trusted root. */
function chainProblems(chain: X509Certificate[], anchors: X509Certificate[]): string[] {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!issuedBy(chain[i]!, chain[i + 1]!))
      return [
        `certificate ${i + 1} in the file (${oneLine(chain[i]!.subject)}) is not issued by certificate ${i + 2} (${oneLine(chain[i + 1]!.subject)}): put the leaf first, then each issuer in order`,
      ]
  }
  const top = chain[chain.length - 1]!
  if (anchors.some((a) => a.fingerprint256 === top.fingerprint256 || issuedBy(top, a))) return []
  return [
    `the chain is incomplete: the issuer of ${oneLine(top.subject)} (${oneLine(top.issuer)}) is neither in the file nor a trusted root: append the intermediate certificates (leaf first), or name a private CA in TLS_CA_FILE`,
  ]
}

/** Every problem of a certificate and key pair; none means it can be installed. */
export function checkCertificate(
  certPem: string,
  keyPem: string,
  o: CertCheck,
): { info: CertInfo | null; problems: string[] } {
  let chain: X509Certificate[]
  try {
    chain = parsePemChain(certPem)
  } catch (e) {
    return { info: null, problems: [`the certificate file is not valid PEM (${(e as Error).message})`] }
  }
  const leaf = chain[0]
  if (!leaf) return { info: null, problems: ['the certificate file holds no PEM certificate'] }
  const now = o.now ?? new Date()
  const info = certInfo(leaf, now)
  const problems: string[] = []
  let key: KeyObject | null = null
  try {
    key = createPrivateKey(keyPem)
  } catch (e) {
    problems.push(
      `the key file is not a readable private key (${(e as Error).message}); it must be an unencrypted PEM key`,
    )
  }
  if (key && !leaf.checkPrivateKey(key))
    problems.push(
      `the key does not match the certificate (${info.subject}): install the key that was made with this certificate's request`,
    )
  if (new Date(leaf.validFrom) > now) problems.push(`the certificate is not valid before ${info.notBefore}`)
  if (new Date(leaf.validTo) <= now) problems.push(`the certificate expired on ${info.notAfter}`)
  const missing = o.domains.filter((d) => !covers(leaf, d))
  if (missing.length)
    problems.push(
      `the certificate does not cover ${missing.join(', ')} (it names ${info.names.join(', ') || info.subject}): get one for every name in DOMAINS`,
    )
  if (o.requireTrust) problems.push(...chainProblems(chain, trustAnchors(o.extraRootsPem)))
  return { info, problems }
}
