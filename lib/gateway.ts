// The one gateway that starts every external process (docker, compose, nginx through docker
// exec, pg_dump, openssl, hooks, checks): argv only, dry-run, a deadline per call, the
// operation's abort signal, one log format, and a recorded call list for unit tests.
//
// Each child runs in its own process group, so a deadline or an abort ends the whole tree
// (bash, the CLI and whatever it started): SIGTERM to the group, SIGKILL after a grace period.
// A program that missed its deadline is not asked again in this run (a hung docker daemon would
// make every later call wait its full deadline too): later calls fail at once, saying why.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { $, type ProcessPromise } from 'zx'
import { InterruptedError } from './errors.ts'
import type { Printer } from './ui.ts'

import {
  CommandError,
  CommandTimeoutError,
  KILL_GRACE_MS,
  quoteArgv,
  type CommandOptions,
  type RecordedCall,
  type RunResult,
} from './command.ts'

/** the words of one command live in command.ts; importers keep importing them from here */
export * from './command.ts'
/** the settings and the call recording live in gateway-settings.ts; importers keep importing them from here */
export {
  BUILD_TIMEOUT_MS,
  configureGateway,
  deadlineAfter,
  gatewayTimeoutMs,
  recordCalls,
  resetHung,
  stopRecording,
} from './gateway-settings.ts'
import { hung, settings } from './gateway-settings.ts'

/** The children running now (each the leader of its own process group). */
const running = new Set<ProcessPromise>()

/** Process groups of the children running now (a test checks none is left). */
export function runningChildren(): number[] {
  return [...running].map((p) => p.pid).filter((pid): pid is number => pid !== undefined)
}

/** SIGKILL to every running child's process group: a second Ctrl-C, and process exit. */
export function killAllChildren(): void {
  for (const p of running) if (p.pid !== undefined) killGroup(p.pid, 'SIGKILL')
  running.clear()
}
process.on('exit', killAllChildren)

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal)
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------- running one command

/** Starts `program args` through the gateway (no dry-run: the caller is read-only or decided). */
export async function run(
  program: string,
  args: string[],
  o: CommandOptions = {},
  printer = settings.printer,
): Promise<RunResult> {
  const timeoutMs = o.timeoutMs ?? settings.timeoutMs
  const shown = `${program} ${quoteArgv(args)}`.trim()
  const action = o.action ?? `run ${[program, ...args.slice(0, 2)].join(' ')}`
  if (settings.recording)
    return recorded(
      {
        program,
        args,
        ...(o.env ? { env: o.env } : {}),
        ...(o.cwd ? { cwd: o.cwd } : {}),
        timeoutMs,
        changes: o.changes ?? true,
        dryRun: false,
      },
      o,
      action,
      shown,
    )
  const hungKey = o.hungKey ?? program
  const earlier = hung.get(hungKey)
  if (earlier !== undefined) throw new CommandTimeoutError(action, program, earlier, true)
  if (o.signal?.aborted) throw abortReason(o.signal.reason, action)
  printer?.detail(
    `$ ${shown}${o.stdinFd !== undefined ? ' < (file)' : ''}${o.stdoutFd !== undefined ? ' > (file)' : ''}`,
  )
  const ac = new AbortController()
  let ended: 'timeout' | 'aborted' | null = null
  let p: ProcessPromise | undefined
  let escalate: NodeJS.Timeout | undefined
  const stop = (why: 'timeout' | 'aborted') => {
    if (ended) return
    ended = why
    ac.abort() // zx sends SIGTERM to the child's process group
    escalate = setTimeout(() => p?.pid !== undefined && killGroup(p.pid, 'SIGKILL'), o.killGraceMs ?? KILL_GRACE_MS)
  }
  // an operation already interrupted still runs its cleanup commands (each with its deadline)
  const opSignal = settings.signal && !settings.signal.aborted ? settings.signal : undefined
  const onAbort = () => stop('aborted')
  opSignal?.addEventListener('abort', onAbort, { once: true })
  o.signal?.addEventListener('abort', onAbort, { once: true })
  const deadline = setTimeout(() => stop('timeout'), timeoutMs)
  let out: { exitCode: number | null; stdout: string; stderr: string } | undefined
  try {
    p = start(program, args, o, ac.signal)
    if (o.onStdout) p.stdout?.on('data', (d: Buffer) => o.onStdout!(d.toString('utf8')))
    running.add(p)
    out = await p
  } catch (e) {
    if (!ended) throw e
  } finally {
    clearTimeout(deadline)
    clearTimeout(escalate)
    opSignal?.removeEventListener('abort', onAbort)
    o.signal?.removeEventListener('abort', onAbort)
    if (p) running.delete(p)
    // whatever in the group ignored SIGTERM or outlived the CLI (a daemonised grandchild)
    if (ended && p?.pid !== undefined) killGroup(p.pid, 'SIGKILL')
  }
  if (ended === 'timeout') {
    hung.set(hungKey, timeoutMs)
    throw new CommandTimeoutError(action, program, timeoutMs)
  }
  if (ended === 'aborted') {
    throw abortReason(o.signal?.aborted ? o.signal.reason : settings.signal?.reason, action)
  }
  return finish(out!, o, action, shown, printer)
}

function abortReason(reason: unknown, action: string): Error {
  return reason instanceof Error ? reason : new InterruptedError(`Can't ${action}: interrupted`)
}

function start(program: string, args: string[], o: CommandOptions, signal: AbortSignal): ProcessPromise {
  const env = o.clearEnv ? { ...o.env } : { ...process.env, ...o.env }
  const stdio: Array<'pipe' | 'inherit' | 'ignore' | number> = [
    o.stdinFd ?? (o.input !== undefined ? 'pipe' : 'ignore'),
    o.stdoutFd ?? (o.inherit ? 'inherit' : 'pipe'),
    o.inherit ? 'inherit' : 'pipe',
  ]
  return $({
    env,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.input !== undefined ? { input: o.input } : {}),
    stdio,
    quiet: true,
    verbose: false,
    nothrow: true,
    detached: true,
    signal,
  })`${program} ${args}`
}

function finish(
  out: { exitCode: number | null; stdout: string; stderr: string },
  o: CommandOptions,
  action: string,
  shown: string,
  printer?: Printer,
): RunResult {
  const result = { ok: out.exitCode === 0, code: out.exitCode, stdout: out.stdout ?? '', stderr: out.stderr ?? '' }
  if (!result.ok && !o.nothrow)
    throw new CommandError(action, shown, out.exitCode, printer ? printer.mask(result.stderr) : result.stderr)
  return result
}

function recorded(call: RecordedCall, o: CommandOptions, action: string, shown: string): Promise<RunResult> {
  settings.recording!.push(call)
  const hungKey = o.hungKey ?? call.program
  const earlier = hung.get(hungKey)
  if (earlier !== undefined) return Promise.reject(new CommandTimeoutError(action, call.program, earlier, true))
  const answer = settings.responder?.(call)
  if (answer === 'hang') {
    hung.set(hungKey, call.timeoutMs)
    return Promise.reject(new CommandTimeoutError(action, call.program, call.timeoutMs))
  }
  const r = {
    ok: (answer?.code ?? 0) === 0,
    code: answer?.code ?? 0,
    stdout: answer?.stdout ?? '',
    stderr: answer?.stderr ?? '',
  }
  try {
    return Promise.resolve(finish({ exitCode: r.code, stdout: r.stdout, stderr: r.stderr }, o, action, shown))
  } catch (e) {
    return Promise.reject(e)
  }
}

/**
 * A short synchronous command that must hold one of our descriptors (flock on the lock file):
 * the descriptor is the child's fd 3. Argv only, a deadline, not recorded (it only takes a lock).
 */
export function runSync(
  program: string,
  args: string[],
  o: { timeoutMs: number; fd3: number },
): { code: number | null; stderr: string } {
  const r = spawnSync(program, args, {
    stdio: ['ignore', 'ignore', 'pipe', o.fd3],
    timeout: o.timeoutMs,
    killSignal: 'SIGKILL',
    encoding: 'utf8',
  })
  return { code: r.status, stderr: r.error ? r.error.message : (r.stderr ?? '') }
}

/** Starts a long-lived daemon in its own session, output to a log file, not waited for (bootstrap's dockerd). */
export function startDaemon(program: string, args: string[], logFile: string): void {
  if (settings.recording) {
    settings.recording.push({ program, args, timeoutMs: 0, changes: true, dryRun: false })
    return
  }
  const log = fs.openSync(logFile, 'a')
  const child = spawn(program, args, { detached: true, stdio: ['ignore', log, log] })
  child.unref()
  fs.closeSync(log)
}

// ---------------------------------------------------------------- a gateway bound to a printer

export type Gateway = {
  dryRun: boolean
  run(program: string, args: string[], o?: CommandOptions): Promise<RunResult>
  docker(args: string[], o?: CommandOptions): Promise<RunResult>
}

/**
 * A gateway for one operation. With dryRun, commands that change something (changes: true, the
 * default) are printed and not run; read-only ones (changes: false) still run so the plan is real.
 */
export function createGateway(ui?: Printer, o: { dryRun?: boolean } = {}): Gateway {
  const dryRun = !!o.dryRun
  const printer = ui ?? settings.printer
  const gw: Gateway = {
    dryRun,
    async run(program, args, opts = {}) {
      if (dryRun && (opts.changes ?? true)) {
        const shown = `${program} ${quoteArgv(args)}`
        if (settings.recording)
          settings.recording.push({
            program,
            args,
            timeoutMs: opts.timeoutMs ?? settings.timeoutMs,
            changes: true,
            dryRun: true,
          })
        printer?.info(`${printer.c.cyan('[dry-run]')} ${shown}`)
        return { ok: true, code: 0, stdout: '', stderr: '' }
      }
      return run(program, args, opts, printer)
    },
    docker: (args, opts) => gw.run('docker', args, opts),
  }
  return gw
}
