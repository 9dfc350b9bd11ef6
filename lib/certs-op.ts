// The certificate operations behind scripts/certs.ts: show what is served, issue (ACME or the
// provided files) and renew when due. Each change goes through installCertificate (checks,
// nginx -t, drained reload, previous pair restored on failure) and is written to the audit log.
import fs from 'node:fs'
import type { Paths } from './paths.ts'
import type { Store } from './model.ts'
import type { Config } from './config.ts'
import type { Env } from './script-env.ts'
import { coreTarget, ps, quoteArgv, type Shell } from './compose.ts'
import { acmeCommand, legoArgs, obtainCertificate, type AcmeCommand } from './acme.ts'
import { certFiles, installCertificate, servedCertInfo, type CertPair, type InstallResult } from './certs-apply.ts'
import { readCertInfo, type CertInfo } from './certs.ts'
import { RefusedError, UsageError, errorMessage } from './errors.ts'
import { applyIncludes } from './nginx.ts'

export const CERT_COMMANDS = ['show', 'issue', 'renew'] as const
export type CertCommand = (typeof CERT_COMMANDS)[number]

export type CertView = {
  target: string
  mode: string
  domains: string[]
  served: CertInfo | null
  previous: CertInfo | null
  /** acme: when renewal is due (notAfter - ACME_RENEW_DAYS); null otherwise */
  nextRenewal: string | null
}

export function certView(config: Config, paths: Paths): CertView {
  const served = servedCertInfo(paths)
  let previous: CertInfo | null = null
  try {
    previous = readCertInfo(certFiles(paths).previousCert)
  } catch {
    previous = null
  }
  const due =
    served && config.tls.mode === 'acme'
      ? new Date(new Date(served.notAfter).getTime() - config.tls.acme.renewDays * 86_400_000).toISOString()
      : null
  return {
    target: config.target,
    mode: config.tls.mode,
    domains: config.tls.domains,
    served,
    previous,
    nextRenewal: due,
  }
}

/** One line for status: names, issuer, days left, next renewal. */
export function renderCertLine(v: CertView): string {
  const s = v.served
  if (!s) return `Certificate: none yet (TLS_MODE=${v.mode})\n`
  return (
    `Certificate: ${s.names.join(', ') || s.subject}; issuer ${s.issuer}; ${s.daysLeft} days left (until ${s.notAfter.slice(0, 10)})` +
    `${v.nextRenewal ? `; renewal due ${v.nextRenewal.slice(0, 10)}` : ''}; TLS_MODE=${v.mode}\n`
  )
}

export type CertPlan = {
  steps: string[]
  command: CertCommand
  source: 'acme' | 'provided'
  acme: AcmeCommand | null
  due: boolean
  reason: string
}

export function planCertificate(config: Config, env: Env, command: 'issue' | 'renew', force: boolean): CertPlan {
  const { mode, domains, acme } = config.tls
  if (mode === 'self-signed')
    throw new UsageError(
      `Can't ${command} a certificate: TLS_MODE=self-signed uses the generated certificate for local use`,
      'Set TLS_MODE=acme (with DOMAINS and ACME_EMAIL) or TLS_MODE=provided (with TLS_CERT_FILE and TLS_KEY_FILE) in the env file.',
    )
  const served = servedCertInfo(env.paths)
  const coversAll = !!served && domains.every((d) => served.names.includes(d))
  const due =
    command === 'issue' ||
    force ||
    !served ||
    !coversAll ||
    served.daysLeft <= (mode === 'acme' ? acme.renewDays : 0) ||
    (mode === 'provided' && fileFingerprint(config.tls.certFile) !== served.fingerprint256)
  const reason =
    command === 'issue'
      ? 'asked to issue'
      : force
        ? 'forced'
        : !served
          ? 'no certificate is served'
          : !coversAll
            ? `the served certificate does not cover ${domains.join(', ')}`
            : mode === 'provided'
              ? 'the provided files changed'
              : `${served.daysLeft} days left (renewal at ${acme.renewDays})`
  if (!due)
    return {
      steps: [
        `nothing to do: ${served!.daysLeft} days left, renewal when ${mode === 'acme' ? acme.renewDays : 0} are left`,
      ],
      command,
      source: mode,
      acme: null,
      due: false,
      reason: 'not due',
    }
  const acmeCmd = mode === 'acme' ? acmeCommand(env.paths, domains) : null
  const steps =
    mode === 'acme'
      ? [
          `answer the HTTP-01 challenge for ${domains.join(', ')} on the HTTP listener (port ${config.ports.http}) from ${certFiles(env.paths).webroot}`,
          `${config.tls.acme.serverCaFile ? `LEGO_CA_CERTIFICATES=${config.tls.acme.serverCaFile} ` : ''}lego ${quoteArgv(legoArgs(config, env.paths, acmeCmd!))}`,
        ]
      : [`read ${config.tls.certFile} and ${config.tls.keyFile}`]
  steps.push(
    'check: key matches, chain complete, names cover DOMAINS, not expired',
    'keep the served pair in certs/previous/, write the new pair',
    'nginx -t (restore the previous pair if it fails), then a drained reload',
  )
  return { steps, command, source: mode, acme: acmeCmd, due: true, reason }
}

function fileFingerprint(file: string): string {
  try {
    return readCertInfo(file).fingerprint256
  } catch {
    return ''
  }
}

function readProvided(config: Config): CertPair {
  const read = (key: string, file: string) => {
    try {
      return fs.readFileSync(file, 'utf8')
    } catch (e) {
      throw new RefusedError(
        `Can't install the provided certificate: ${key}=${file} can't be read (${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}). Nothing was changed.`,
        `Point ${key} at a readable PEM file.`,
      )
    }
  }
  return { cert: read('TLS_CERT_FILE', config.tls.certFile), key: read('TLS_KEY_FILE', config.tls.keyFile) }
}

async function nginxRunning(sh: Shell, config: Config): Promise<boolean> {
  return (await ps(sh, coreTarget(config))).some((s) => s.service === 'nginx' && s.state === 'running')
}

export async function executeCertificate(
  sh: Shell,
  config: Config,
  env: Env,
  store: Store,
  plan: CertPlan,
  signal?: AbortSignal,
): Promise<InstallResult | null> {
  if (!plan.due) return null
  const action = plan.command === 'issue' ? 'certificate-issue' : 'certificate-renew'
  const started = Date.now()
  try {
    const running = await nginxRunning(sh, config)
    let pair: CertPair
    if (plan.source === 'acme') {
      // the HTTP listener must know the names before the CA asks for the challenge
      await applyIncludes(sh, config, env.paths.nginx, { nginxRunning: running })
      if (sh.dryRun) return null
      pair = await obtainCertificate(config, env.paths, plan.acme!, { signal })
    } else pair = readProvided(config)
    const r = await installCertificate(sh, config, env.paths, pair, {
      what: plan.source === 'acme' ? `the certificate from ${config.tls.acme.server}` : 'the provided certificate',
      nginxRunning: running,
    })
    store.audit({
      action,
      outcome: plan.command === 'issue' ? 'issued' : 'renewed',
      durationMs: Date.now() - started,
      detail: `${plan.source}: ${r.info.names.join(', ')}; issuer ${r.info.issuer}; until ${r.info.notAfter}; ${plan.reason}${r.previous ? `; previous until ${r.previous.notAfter}` : ''}`,
    })
    return r
  } catch (e) {
    store.audit({
      action,
      outcome: e instanceof RefusedError ? 'refused' : 'failed',
      durationMs: Date.now() - started,
      detail: errorMessage(e),
    })
    throw e
  }
}
