// Installing a certificate: check it, keep the one in use as certs/previous/, write the new pair
// atomically, validate with `nginx -t` (restore the previous pair if it fails), and reload
// nginx behind a drain so no keep-alive request fails.
import fs from 'node:fs'
import path from 'node:path'
import tls from 'node:tls'
import type { Paths } from './paths.ts'
import type { Config } from './config.ts'
import { coreTarget, execArgs, type Shell } from './compose.ts'
import { checkCertificate, readCertInfo, type CertInfo } from './certs.ts'
import { OperationError, RefusedError } from './errors.ts'
import { writeFileAtomic } from './fsutil.ts'
import { testConfig } from './nginx.ts'

export type CertPair = { cert: string; key: string }
export type InstallResult = { info: CertInfo; previous: CertInfo | null; reloaded: boolean }

/** Where the served pair lives (VAR_DIR/certs, mounted at /etc/nginx/certs) and the previous one. */
export function certFiles(paths: Paths) {
  return {
    cert: path.join(paths.certs, 'tls.crt'),
    key: path.join(paths.certs, 'tls.key'),
    previousCert: path.join(paths.certs, 'previous', 'tls.crt'),
    previousKey: path.join(paths.certs, 'previous', 'tls.key'),
    webroot: path.join(paths.certs, 'acme-challenge'),
  }
}

export function servedCertInfo(paths: Paths): CertInfo | null {
  try {
    return readCertInfo(certFiles(paths).cert)
  } catch {
    return null
  }
}

/** Refuses (exit 2, nothing changed) a pair that does not fit the target's domains and trust. */
export function assertInstallable(config: Config, pair: CertPair, what: string): CertInfo {
  const extra = config.tls.caFile ? fs.readFileSync(config.tls.caFile, 'utf8') : ''
  const r = checkCertificate(pair.cert, pair.key, {
    domains: config.tls.domains,
    requireTrust: config.tls.mode !== 'self-signed',
    extraRootsPem: extra,
  })
  if (r.problems.length || !r.info) {
    throw new RefusedError(
      `Can't install ${what}: ${r.problems.join('; ')}. Nothing was changed; the certificate in use is still served.`,
      'Fix the files named in TLS_CERT_FILE and TLS_KEY_FILE (or the ACME settings) and run again.',
    )
  }
  return r.info
}

function readOr(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** Installs a checked pair; on a failed `nginx -t` or reload the previous pair is put back. */
export async function installCertificate(
  sh: Shell,
  config: Config,
  paths: Paths,
  pair: CertPair,
  o: { what: string; nginxRunning: boolean; drainMs?: number },
): Promise<InstallResult> {
  const info = assertInstallable(config, pair, o.what)
  const f = certFiles(paths)
  const previous = servedCertInfo(paths)
  if (sh.dryRun) return { info, previous, reloaded: false }
  const old = { cert: readOr(f.cert), key: readOr(f.key) }
  if (old.cert !== null && old.key !== null) {
    writeFileAtomic(f.previousKey, old.key, 0o600)
    writeFileAtomic(f.previousCert, old.cert, 0o644)
  }
  const restore = () => {
    if (old.cert === null || old.key === null) return
    writeFileAtomic(f.key, old.key, 0o600)
    writeFileAtomic(f.cert, old.cert, 0o644)
  }
  // key first: nginx reads both only on a reload, which comes after both are in place
  writeFileAtomic(f.key, pair.key, 0o600)
  writeFileAtomic(f.cert, pair.cert, 0o644)
  if (!o.nginxRunning) return { info, previous, reloaded: false }
  const test = await testConfig(sh, config)
  if (!test.ok) {
    restore()
    throw new OperationError(
      `Can't install ${o.what}: nginx -t rejected it (${test.output.split('\n').slice(-2).join(' ')}). The previous certificate was restored; nginx was not reloaded.`,
      'Check the certificate and key files; run: npx zx scripts/certs.ts show',
    )
  }
  try {
    await drainAndReload(sh, config, paths, { drainMs: o.drainMs, expectFingerprint: info.fingerprint256 })
  } catch (e) {
    restore()
    throw e
  }
  return { info, previous, reloaded: true }
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * `nginx -s reload` without failing keep-alive requests. A reload makes the old workers close
 * their idle keep-alive connections at once; a client that is just sending its next request
 * on one gets no answer. So first the drain marker (live/.drain) makes every HTTP/1.1 response
 * say "Connection: close" for `drainMs`, which is longer than a request takes; then the reload;
 * the marker stays until the new workers serve (the new certificate is seen on a handshake)
 * and the old ones have had another `drainMs` to finish.
 */
export async function drainAndReload(
  sh: Shell,
  config: Config,
  paths: Paths,
  o: { drainMs?: number; expectFingerprint?: string } = {},
): Promise<void> {
  const drainMs = o.drainMs ?? 1500
  const marker = path.join(paths.live, '.drain')
  const t = coreTarget(config)
  writeFileAtomic(marker, `${new Date().toISOString()}\n`)
  try {
    await pause(drainMs)
    await sh.docker(execArgs(t, 'nginx', ['nginx', '-s', 'reload']), { env: t.env, action: 'reload nginx' })
    if (o.expectFingerprint) await waitServed(config, o.expectFingerprint, 15_000)
    await pause(drainMs)
  } finally {
    fs.rmSync(marker, { force: true })
  }
}

/** The certificate a new handshake on the public listener gets. */
export function servedFingerprint(config: Config, timeoutMs = 5000): Promise<string> {
  const host = config.localAddr
  const servername = config.tls.domains[0]
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host,
        port: config.ports.https,
        rejectUnauthorized: false,
        ...(servername ? { servername } : {}),
        timeout: timeoutMs,
      },
      () => {
        const fp = socket.getPeerCertificate().fingerprint256
        socket.end()
        resolve(fp)
      },
    )
    socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake within ${timeoutMs} ms`)))
    socket.on('error', reject)
  })
}

async function waitServed(config: Config, fingerprint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    try {
      last = await servedFingerprint(config)
      if (last === fingerprint) return
    } catch (e) {
      last = (e as Error).message
    }
    await pause(100)
  }
  throw new OperationError(
    `Can't confirm the new certificate: after the reload nginx still serves ${last || 'nothing'} on port ${config.ports.https}.`,
    'Look at the nginx logs: docker compose logs nginx',
  )
}
