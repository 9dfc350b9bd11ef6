// Network probes: the adapter that asks the world "are you alive?" over HTTP(S) and TCP.
// A probe never throws for an expected failure (refused, timed out, wrong status):
// it returns a ProbeResult with ok=false and a detail that says what happened.
import type { ProbeResult } from './model.ts'
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { TLSSocket } from 'node:tls'
import { performance } from 'node:perf_hooks'
import { daysUntil } from './dates.ts'

export type { ProbeResult } from './model.ts'

/** A named probe for runProbes; run receives a signal that aborts at the deadline. */
export type Probe = { name: string; run: (signal: AbortSignal) => Promise<ProbeResult> }

export type StatusExpectation = number | readonly [number, number]

export type HttpProbeOptions = {
  name?: string
  url: string
  expectStatus?: StatusExpectation
  bodyPattern?: RegExp
  header?: readonly [string, string | RegExp]
  timeoutMs: number
  /** skip TLS certificate verification (self-signed certificates) */
  insecure?: boolean
  headers?: Record<string, string>
  method?: string
  body?: string
  signal?: AbortSignal
  /** TLS server name (SNI) when the URL host is an address */
  servername?: string
  /** return the body in the result */
  keepBody?: boolean
}

const MAX_BODY = 256 * 1024

/** Milliseconds since start (performance clock), to a tenth. */
export const elapsed = (start: number) => Math.round((performance.now() - start) * 10) / 10

export function statusMatches(status: number, expect: StatusExpectation): boolean {
  return typeof expect === 'number' ? status === expect : status >= expect[0] && status <= expect[1]
}

function describeExpect(expect: StatusExpectation): string {
  return typeof expect === 'number' ? String(expect) : `${expect[0]}-${expect[1]}`
}

/** The message of an error, with its code (ECONNREFUSED, …) when the message lacks it. */
export function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  if (e?.code && e.message && !e.message.includes(e.code)) return `${e.code}: ${e.message}`
  return e?.message ?? String(err)
}

function flattenHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v
  }
  return out
}

/**
 * A short excerpt of a JSON or plain-text body (": …", at most 160 characters on one line), so a
 * wrong status says why when the server told (a readiness path's reason); empty for HTML and others.
 */
export function bodyExcerpt(headers: Record<string, string>, body: string): string {
  if (!/json|text\/plain/i.test(headers['content-type'] ?? '')) return ''
  const line = body.replace(/\s+/g, ' ').trim()
  if (!line) return ''
  return `: ${line.length > 160 ? `${line.slice(0, 159)}…` : line}`
}

/** The verdict on a whole response: its status, the optional body pattern and header. */
function checkResponse(
  opts: HttpProbeOptions,
  expect: StatusExpectation,
  status: number,
  resHeaders: Record<string, string>,
  body: string,
): Omit<ProbeResult, 'name' | 'latencyMs'> {
  const problems: string[] = []
  if (!statusMatches(status, expect))
    problems.push(`status ${status}, expected ${describeExpect(expect)}${bodyExcerpt(resHeaders, body)}`)
  if (opts.bodyPattern && !opts.bodyPattern.test(body)) {
    problems.push(`body does not match ${opts.bodyPattern}`)
  }
  if (opts.header) {
    const [hn, want] = opts.header
    const got = resHeaders[hn.toLowerCase()]
    const good = got !== undefined && (typeof want === 'string' ? got === want : want.test(got))
    if (!good) problems.push(`header ${hn}: ${got === undefined ? 'missing' : JSON.stringify(got)}, expected ${want}`)
  }
  return {
    ok: problems.length === 0,
    status,
    headers: resHeaders,
    detail: problems.length ? problems.join('; ') : `${status}`,
    ...(opts.keepBody ? { body } : {}),
  }
}

/** The server certificate of a TLS connection (its expiry and subject); undefined when it has no expiry. */
function peerCertificate(socket: TLSSocket): ProbeResult['tls'] | undefined {
  const cert = socket.getPeerCertificate()
  if (!cert?.valid_to) return undefined
  return {
    validTo: cert.valid_to,
    daysLeft: daysUntil(cert.valid_to),
    subject: [cert.subject?.CN ?? ''].flat().join(', '),
  }
}

/**
 * One HTTP(S) request with its own timeout; checks status, an optional body pattern
 * and an optional header. Reads at most 256 KiB of the body.
 */
export function probeHttp(opts: HttpProbeOptions): Promise<ProbeResult> {
  const name = opts.name ?? `${opts.method ?? 'GET'} ${opts.url}`
  const expect = opts.expectStatus ?? ([200, 299] as const)
  const start = performance.now()
  return new Promise<ProbeResult>((resolve) => {
    let settled = false
    let req: http.ClientRequest | undefined
    let tls: ProbeResult['tls']
    const finish = (r: Omit<ProbeResult, 'name' | 'latencyMs'>) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      req?.destroy()
      resolve({ name, latencyMs: elapsed(start), ...r, ...(tls ? { tls } : {}) })
    }
    const onAbort = () => finish({ ok: false, detail: 'aborted (overall deadline reached)' })
    // one more turn of the event loop before the verdict: after a stall of this process the
    // answer that arrived meanwhile is read first, not counted as a timeout
    const timer = setTimeout(
      () => setImmediate(() => finish({ ok: false, detail: `timed out after ${opts.timeoutMs} ms` })),
      opts.timeoutMs,
    )
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })

    let url: URL
    try {
      url = new URL(opts.url)
    } catch {
      return finish({ ok: false, detail: `invalid URL ${opts.url}` })
    }
    const isHttps = url.protocol === 'https:'
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.body !== undefined) headers['content-length'] ??= String(Buffer.byteLength(opts.body))
    const reqOpts: https.RequestOptions = {
      method: opts.method ?? 'GET',
      headers,
      agent: false, // no pooling: a probe must not keep the process alive
    }
    if (isHttps) {
      reqOpts.rejectUnauthorized = !opts.insecure
      if (opts.servername) reqOpts.servername = opts.servername
    }
    try {
      req = (isHttps ? https : http).request(url, reqOpts, (res) => {
        const status = res.statusCode ?? 0
        const resHeaders = flattenHeaders(res.headers)
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          if (size < MAX_BODY) chunks.push(c)
          size += c.length
        })
        res.on('error', (err) => finish({ ok: false, status, headers: resHeaders, detail: errorText(err) }))
        res.on('end', () =>
          finish(checkResponse(opts, expect, status, resHeaders, Buffer.concat(chunks).toString('utf8'))),
        )
      })
    } catch (err) {
      return finish({ ok: false, detail: errorText(err) })
    }
    if (isHttps)
      req.on('socket', (socket) => {
        socket.once('secureConnect', () => {
          tls = peerCertificate(socket as TLSSocket) ?? tls
        })
      })
    req.on('error', (err) => finish({ ok: false, detail: errorText(err) }))
    req.end(opts.body)
  })
}

/** Open a TCP connection and close it again. */
export function probeTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const name = `tcp ${host}:${port}`
  const start = performance.now()
  return new Promise<ProbeResult>((resolve) => {
    const socket = net.connect({ host, port })
    let settled = false
    const finish = (ok: boolean, detail: string) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      resolve({ name, ok, latencyMs: elapsed(start), detail })
    }
    const onAbort = () => finish(false, 'aborted (overall deadline reached)')
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs} ms`), timeoutMs)
    socket.once('connect', () => finish(true, 'connected'))
    socket.once('error', (err) => finish(false, errorText(err)))
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
  })
}
