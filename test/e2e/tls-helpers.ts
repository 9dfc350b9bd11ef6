// The TLS suite's test ground: Debian's pebble (Let's Encrypt's ACME test server) and
// pebble-challtestsrv (its mock DNS: every name resolves to 127.0.0.1, so pebble's validation
// reaches the stack's HTTP listener) started on 127.0.0.1 and stopped by pid; TLS handshakes
// that verify against pebble's root, which only these probes trust.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import path from 'node:path'
import tls from 'node:tls'
import { waitFor } from './harness.ts'
import { makePki } from '../helpers/certs.ts'

export type Pebble = {
  dir: string
  directory: string
  serverCa: string
  issuingRoot: () => Promise<string>
  dnsManagement: string
  procs: ChildProcess[]
  stop: () => Promise<void>
}

function start(cmd: string, args: string[], env: Record<string, string>, log: string): ChildProcess {
  const out = fs.openSync(log, 'a')
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, out] })
  fs.closeSync(out)
  return child
}

function get(
  url: string,
  ca: string,
  o: { method?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? https.request : http.request
    const req = send(url, { method: o.method ?? 'GET', ...(ca ? { ca } : {}), timeout: 5000 }, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(o.body)
  })
}

/** Starts challtestsrv (DNS on dnsPort) and pebble (ACME on acmePort, management on acmePort+1), validating HTTP-01 on httpPort. */
export async function startPebble(o: {
  dir: string
  acmePort: number
  dnsPort: number
  dnsMgmtPort: number
  httpPort: number
  tlsPort: number
}): Promise<Pebble> {
  const pki = await makePki(['127.0.0.1', 'localhost'], { dir: fs.mkdtempSync(path.join(o.dir, 'pki-')) })
  const chain = path.join(o.dir, 'pebble-chain.pem')
  const key = path.join(o.dir, 'pebble-key.pem')
  const serverCa = path.join(o.dir, 'pebble-server-ca.pem')
  fs.writeFileSync(chain, pki.leafPem + pki.intermediatePem)
  fs.writeFileSync(key, pki.leafKey, { mode: 0o600 })
  fs.writeFileSync(serverCa, pki.rootPem)
  const config = path.join(o.dir, 'pebble-config.json')
  fs.writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${o.acmePort}`,
        managementListenAddress: `127.0.0.1:${o.acmePort + 1}`,
        certificate: chain,
        privateKey: key,
        httpPort: o.httpPort,
        tlsPort: o.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        // 90 days like Let's Encrypt, where this pebble supports it (older ones ignore the key)
        certificateValidityPeriod: 7776000,
      },
    }),
  )
  const log = path.join(o.dir, 'pebble.log')
  const procs = [
    start(
      'pebble-challtestsrv',
      [
        '-dns01',
        `127.0.0.1:${o.dnsPort}`,
        '-http01',
        '',
        '-https01',
        '',
        '-tlsalpn01',
        '',
        '-management',
        `127.0.0.1:${o.dnsMgmtPort}`,
        '-defaultIPv4',
        '127.0.0.1',
        '-defaultIPv6',
        '',
      ],
      {},
      log,
    ),
    // VA_NOSLEEP: validate at once; AUTHZREUSE=0: every order is validated again (a renewal too);
    // NONCEREJECT=0: no random badNonce rejections
    start(
      'pebble',
      ['-config', config, '-dnsserver', `127.0.0.1:${o.dnsPort}`],
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0', PEBBLE_WFE_NONCEREJECT: '0' },
      log,
    ),
  ]
  const directory = `https://127.0.0.1:${o.acmePort}/dir`
  const stop = async () => {
    for (const p of procs) {
      if (p.exitCode !== null || p.signalCode !== null) continue
      const gone = new Promise((r) => p.once('exit', r))
      p.kill('SIGTERM')
      await gone
    }
  }
  try {
    await waitFor(
      'pebble to answer',
      async () => ((await get(directory, pki.rootPem)).status === 200 ? true : undefined),
      20_000,
    )
  } catch (e) {
    await stop()
    throw new Error(`${(e as Error).message}\n${fs.readFileSync(log, 'utf8').slice(-2000)}`)
  }
  return {
    dir: o.dir,
    directory,
    serverCa,
    procs,
    stop,
    dnsManagement: `http://127.0.0.1:${o.dnsMgmtPort}`,
    issuingRoot: async () => (await get(`https://127.0.0.1:${o.acmePort + 1}/roots/0`, pki.rootPem)).body,
  }
}

/** Mock DNS: `host` resolves to `addresses` (empty: back to the default, 127.0.0.1). */
export async function mockA(p: Pebble, host: string, addresses: string[]): Promise<void> {
  const r = addresses.length
    ? await get(`${p.dnsManagement}/add-a`, '', { method: 'POST', body: JSON.stringify({ host, addresses }) })
    : await get(`${p.dnsManagement}/clear-a`, '', { method: 'POST', body: JSON.stringify({ host }) })
  if (r.status !== 200) throw new Error(`challtestsrv answered ${r.status}: ${r.body}`)
}

export type Served = {
  authorized: boolean
  error: string
  names: string[]
  issuer: string
  fingerprint: string
  protocol: string
}

/** A handshake with SNI `servername`, verified against `ca` only (the test's trust, never the system's). */
export function handshakeVerified(port: number, servername: string, ca: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: false, timeout: 5000 }, () => {
      const c = s.getPeerCertificate()
      const names = (c.subjectaltname ?? '').split(', ').map((x) => x.replace(/^DNS:/, ''))
      resolve({
        authorized: s.authorized,
        error: String(s.authorizationError ?? ''),
        names,
        issuer: String(c.issuer?.CN ?? ''),
        fingerprint: c.fingerprint256,
        protocol: s.getProtocol() ?? '',
      })
      s.end()
    })
    s.on('timeout', () => s.destroy(new Error('handshake timeout')))
    s.on('error', reject)
  })
}

/** An HTTP/1.1 request over TLS with a chosen Host and SNI; resolves the status, or 'closed' when nginx answered 444. */
export function requestHost(
  port: number,
  host: string,
  p: string,
  scheme: 'http' | 'https',
): Promise<number | 'closed'> {
  return new Promise((resolve) => {
    const send = scheme === 'https' ? https.request : http.request
    const req = send(
      {
        host: '127.0.0.1',
        port,
        path: p,
        headers: { host },
        servername: host,
        rejectUnauthorized: false,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', () => resolve('closed'))
    req.end()
  })
}
