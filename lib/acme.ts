// ACME HTTP-01 through Debian's `lego` (a maintained client; no protocol code here). lego keeps
// the account and the certificates in VAR_DIR/acme (0700) and writes each challenge into the
// webroot that nginx serves on the HTTP listener at /.well-known/acme-challenge/.
import fs from 'node:fs'
import path from 'node:path'
import type { Paths } from './paths.ts'
import type { Config } from './config.ts'
import type { CertPair } from './certs-apply.ts'
import { certFiles } from './certs-apply.ts'
import { parsePemChain, sanNames } from './certs.ts'
import { OperationError } from './errors.ts'
import { run } from './gateway.ts'

export type AcmeCommand = 'run' | 'renew'

export function acmeDir(paths: Paths): string {
  return path.join(paths.varDir, 'acme')
}

/** lego's argv (global options, then the command and its options). */
export function legoArgs(config: Config, paths: Paths, command: AcmeCommand): string[] {
  const { acme, domains } = config.tls
  const global = [
    '--server',
    acme.server,
    '--email',
    acme.email,
    '--accept-tos',
    '--path',
    acmeDir(paths),
    '--key-type',
    'ec256',
    '--http',
    '--http.webroot',
    certFiles(paths).webroot,
    ...domains.flatMap((d) => ['--domains', d]),
  ]
  // renew: the caller decided it is due, so lego must not skip it or sleep at random first
  return command === 'run' ? [...global, 'run'] : [...global, 'renew', '--days', '36500', '--no-random-sleep']
}

/** The certificate lego holds for these domains (leaf plus issuer), or null. */
export function legoCertificate(paths: Paths, domains: string[]): (CertPair & { names: string[] }) | null {
  const base = path.join(acmeDir(paths), 'certificates', domains[0]!.replace(/^\*/, '_'))
  try {
    const cert = fs.readFileSync(`${base}.crt`, 'utf8')
    const leaf = parsePemChain(cert)[0]
    return leaf ? { cert, key: fs.readFileSync(`${base}.key`, 'utf8'), names: sanNames(leaf) } : null
  } catch {
    return null
  }
}

/** What the next lego run is: a first issuance (or new names), or a renewal of the same names. */
export function acmeCommand(paths: Paths, domains: string[]): AcmeCommand {
  const have = legoCertificate(paths, domains)
  return have && [...have.names].sort().join(',') === [...domains].sort().join(',') ? 'renew' : 'run'
}

/** Runs lego; returns the new pair. Throws OperationError with lego's own reason on failure. */
export async function obtainCertificate(
  config: Config,
  paths: Paths,
  command: AcmeCommand,
  o: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<CertPair> {
  const dir = acmeDir(paths)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  fs.chmodSync(dir, 0o700)
  fs.mkdirSync(path.join(certFiles(paths).webroot, '.well-known', 'acme-challenge'), { recursive: true, mode: 0o755 })
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root' }
  if (config.tls.acme.serverCaFile) env.LEGO_CA_CERTIFICATES = config.tls.acme.serverCaFile
  const before = legoCertificate(paths, config.tls.domains)?.cert
  const r = await run('lego', legoArgs(config, paths, command), {
    env,
    clearEnv: true,
    nothrow: true,
    timeoutMs: o.timeoutMs ?? 300_000,
    action: 'obtain a certificate with lego',
    ...(o.signal ? { signal: o.signal } : {}),
  })
  const got = legoCertificate(paths, config.tls.domains)
  if (!r.ok || !got || got.cert === before) {
    const why =
      (r.stderr + r.stdout)
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .slice(-3)
        .join(' | ') || `lego exited ${r.code}`
    throw new OperationError(
      `Can't obtain a certificate for ${config.tls.domains.join(', ')} from ${config.tls.acme.server}: ${why}. The certificate in use was not changed.`,
      `Check that each name resolves to this host, that port 80 reaches HTTP_PORT (${config.ports.http}) here, and that http://<name>/.well-known/acme-challenge/ is not blocked.`,
    )
  }
  fs.chmodSync(`${path.join(dir, 'certificates', config.tls.domains[0]!)}.key`, 0o600)
  return { cert: got.cert, key: got.key }
}
