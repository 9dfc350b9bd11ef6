// Flags, help and the one top-level error handler shared by every script.
//
// Exit codes (every script but health-check):
//   0   ok
//   1   the operation failed and was rolled back or aborted
//   2   bad input, or refused with nothing changed
//   3   another deploy holds the lock
//   130 interrupted (SIGINT / SIGTERM / SIGHUP, or the process that started it, such as npx, is gone)
// health-check uses the Nagios plugin codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
import { parseArgs } from 'node:util'
import { EXIT, InterruptedError, ToolkitError, UsageError, errorMessage, shownValue } from './errors.ts'
import { configureGateway, killAllChildren } from './gateway.ts'
import { Printer } from './ui.ts'

export { EXIT }

export type FlagType = 'boolean' | 'string' | 'number' | 'duration'
export type FlagSpec = {
  type: FlagType
  description: string
  short?: string
  default?: string | boolean | number
  /** for help text: the value's name, e.g. <tag> */
  value?: string
}

export type ScriptSpec = {
  name: string // e.g. create-green-environment
  summary: string
  /** what the script does, a few lines, printed by --help */
  description?: string
  flags: Record<string, FlagSpec>
  examples?: string[]
  /** overrides the standard exit code table in --help */
  exitCodes?: Array<[number, string]>
  /** health-check exits 3 (UNKNOWN) on unexpected errors, not 1 */
  unexpectedExitCode?: number
  /** health-check exits 3 (UNKNOWN) on bad input (a UsageError: flags, config), not 2 (CRITICAL) */
  usageExitCode?: number
  /** arguments after the flags (a command to run, as `-- <command>`): their name for help; none allowed when absent */
  positionals?: string
}

export const COMMON_FLAGS: Record<string, FlagSpec> = {
  help: { type: 'boolean', short: 'h', description: 'print this help and exit' },
  yes: { type: 'boolean', short: 'y', description: 'confirm without asking (needed without a terminal)' },
  'dry-run': { type: 'boolean', description: 'print the plan, the exact commands and files, and change nothing' },
  json: { type: 'boolean', description: 'print one JSON document on stdout and nothing else' },
  quiet: { type: 'boolean', short: 'q', description: 'print only problems' },
  verbose: { type: 'boolean', short: 'v', description: 'print commands as they run, and stacks on errors' },
  target: {
    type: 'string',
    value: '<name>',
    default: 'production',
    description: 'staging or production (env/.env.<target>)',
  },
}

export const STANDARD_EXIT_CODES: Array<[number, string]> = [
  [EXIT.OK, 'ok'],
  [EXIT.FAILED, 'the operation failed and was rolled back or aborted'],
  [EXIT.REFUSED, 'bad input, or refused with nothing changed'],
  [EXIT.LOCKED, 'another deploy holds the lock'],
  [EXIT.INTERRUPTED, 'interrupted (SIGINT/SIGTERM/SIGHUP, or its parent such as npx was killed)'],
]

export type FlagValues = Record<string, string | boolean | number | undefined>

export type CommonFlags = {
  help: boolean
  yes: boolean
  dryRun: boolean
  json: boolean
  quiet: boolean
  verbose: boolean
  target: string
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/

/** "30s", "20m", "1h", "500ms", "45" (seconds) -> milliseconds. */
export function parseDuration(text: string, flag = 'duration'): number {
  const m = DURATION.exec(text.trim())
  if (!m)
    throw new UsageError(
      `Can't read --${flag}: ${shownValue(text)} is not a duration`,
      'Write it like 30s, 20m, 1h or 500ms.',
    )
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000
  if (!Number.isFinite(ms) || ms > 7 * 24 * 3_600_000)
    throw new UsageError(`Can't read --${flag}: ${shownValue(text)} is out of range`, 'Use a duration up to 7 days.')
  return Math.round(ms)
}

export function parseFlags(
  spec: ScriptSpec,
  argv: string[],
): { flags: FlagValues; common: CommonFlags; positionals: string[] } {
  const all = { ...COMMON_FLAGS, ...spec.flags }
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {}
  for (const [name, f] of Object.entries(all)) {
    options[name] = { type: f.type === 'boolean' ? 'boolean' : 'string', ...(f.short ? { short: f.short } : {}) }
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] }
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: !!spec.positionals }) as typeof parsed
  } catch (e) {
    throw new UsageError(
      `Can't read the command line: ${errorMessage(e).replace(/\. To specify.*$/s, '')}`,
      `See: npx zx scripts/${spec.name}.ts --help`,
    )
  }
  const flags: FlagValues = {}
  for (const [name, f] of Object.entries(all)) {
    const raw = parsed.values[name]
    const value = raw === undefined ? f.default : raw
    if (value === undefined) continue
    if (f.type === 'number') {
      const n = Number(value)
      if (typeof value !== 'number' && (String(value).trim() === '' || !Number.isFinite(n)))
        throw new UsageError(
          `Can't read --${name}: ${shownValue(String(value))} is not a number`,
          `See: npx zx scripts/${spec.name}.ts --help`,
        )
      flags[name] = n
    } else if (f.type === 'duration') {
      flags[name] = typeof value === 'number' ? value : parseDuration(String(value), name)
    } else {
      flags[name] = value
    }
  }
  const common: CommonFlags = {
    help: flags.help === true,
    yes: flags.yes === true,
    dryRun: flags['dry-run'] === true,
    json: flags.json === true,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
    target: String(flags.target ?? 'production'),
  }
  return { flags, common, positionals: parsed.positionals ?? [] }
}

export function renderHelp(spec: ScriptSpec): string {
  const all = { ...spec.flags, ...COMMON_FLAGS }
  const rows = Object.entries(all).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'duration' ? '<duration>' : '<value>')}`}`
    const def = f.default !== undefined && f.type !== 'boolean' ? ` (default: ${f.default})` : ''
    return [left, f.description + def]
  })
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2
  const codes = spec.exitCodes ?? STANDARD_EXIT_CODES
  return [
    `Usage: npx zx scripts/${spec.name}.ts [flags]${spec.positionals ? ` -- ${spec.positionals}` : ''}`,
    '',
    spec.summary,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'Flags:',
    ...rows.map(([l, r]) => `  ${l!.padEnd(width)}${r}`),
    '',
    'Exit codes:',
    ...codes.map(([c, d]) => `  ${String(c).padEnd(4)}${d}`),
    ...(spec.examples?.length ? ['', 'Examples:', ...spec.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n')
}

export type ScriptContext = {
  flags: FlagValues
  common: CommonFlags
  ui: Printer
  /** aborted on SIGINT, SIGTERM, SIGHUP or when the parent (npx) dies; operations check it between steps */
  signal: AbortSignal
  argv: string[]
  /** the arguments after the flags (only for a spec with positionals) */
  positionals: string[]
}

/**
 * The entry point of every script: parse flags, build the printer, run main, map errors to
 * exit codes. main returns the exit code (or nothing for 0).
 */
export async function runScript(
  spec: ScriptSpec,
  // biome-ignore lint/suspicious/noConfusingVoidType: a main that returns nothing means "exit 0 unless it set process.exitCode"
  main: (ctx: ScriptContext) => Promise<number | undefined | void>,
  argv: string[] = scriptArgs(),
): Promise<number> {
  const wantsJson = argv.includes('--json')
  let ui = new Printer({ json: wantsJson, verbose: argv.includes('--verbose') || argv.includes('-v') })
  const controller = new AbortController()
  configureGateway({ signal: controller.signal, printer: ui })
  let signalled: string | undefined
  const onSignal = (sig: NodeJS.Signals | 'parent-gone') => {
    const what = sig === 'parent-gone' ? 'the end of the process that started this one (npx or a shell)' : sig
    if (signalled) {
      // a second signal: the person means it. No child outlives us (each runs in its own process group).
      killAllChildren()
      ui.error(`Received ${what} again: exiting now. Run: npx zx scripts/status.ts to see where things stand.`)
      process.exit(EXIT.INTERRUPTED)
    }
    signalled = sig
    ui.warn(`Received ${what}: stopping at the next safe point and leaving things consistent…`)
    controller.abort(
      new InterruptedError(
        `Can't continue ${spec.name}: interrupted by ${sig === 'parent-gone' ? 'the end of its parent process' : sig}`,
      ),
    )
  }
  // a signal to the whole process group (systemd, kill -TERM -<pgid>) also ends npx: that is not a second signal
  const stopWatching = watchParent(() => signalled || onSignal('parent-gone'))
  for (const s of HANDLED_SIGNALS) process.on(s, onSignal)
  let code: number
  try {
    const { flags, common, positionals } = parseFlags(spec, argv)
    ui = new Printer({ json: common.json, quiet: common.quiet, verbose: common.verbose })
    configureGateway({ printer: ui })
    if (common.help) {
      process.stdout.write(renderHelp(spec))
      code = EXIT.OK
    } else {
      const result = await main({ flags, common, ui, signal: controller.signal, argv, positionals })
      code = typeof result === 'number' ? result : EXIT.OK
      if (signalled && code === EXIT.OK) code = EXIT.INTERRUPTED
    }
  } catch (err) {
    code = reportError(ui, err, spec)
    if (signalled && code !== EXIT.REFUSED) code = EXIT.INTERRUPTED
  } finally {
    for (const s of HANDLED_SIGNALS) process.off(s, onSignal)
    stopWatching()
  }
  process.exitCode = code
  return code
}

/** Signals that stop an operation at its next safe point (SIGHUP: the SSH session or terminal went away). */
export const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/** How often a script checks that the process that started it (npx) is still there. */
export const PARENT_POLL_MS = 200

/**
 * `npx zx script.ts` runs the script two processes below npx (npm exec -> sh -c zx -> node), and
 * npx does not pass SIGTERM on: killed, it exits and leaves the script running. The script notices
 * instead: when its parent dies, the kernel gives it a new parent (init or a subreaper), so a
 * changed process.ppid means whoever started it is gone, and that counts as a SIGTERM. A script
 * started by init itself (ppid 1) has nothing to watch. Costs one timer, no process start.
 */
export function watchParent(onGone: () => void, o: { pollMs?: number; ppid?: () => number } = {}): () => void {
  const read = o.ppid ?? (() => process.ppid)
  const first = read()
  if (first <= 1) return () => {}
  const timer = setInterval(() => {
    if (read() === first) return
    clearInterval(timer)
    onGone()
  }, o.pollMs ?? PARENT_POLL_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** The arguments after the script's path, whether run by `npx zx`, tsx or node --import tsx. */
export function scriptArgs(argv = process.argv): string[] {
  const i = argv.findIndex((a, idx) => idx > 0 && /\.m?ts$/.test(a))
  return argv.slice(i >= 0 ? i + 1 : 2)
}

/** Prints "Can't X: reason" plus what to do (stack only with --verbose) and returns the exit code. */
export function reportError(ui: Printer, err: unknown, spec?: ScriptSpec): number {
  const known = err instanceof ToolkitError
  const code =
    err instanceof UsageError && spec?.usageExitCode !== undefined
      ? spec.usageExitCode
      : known
        ? err.exitCode
        : (spec?.unexpectedExitCode ?? EXIT.FAILED)
  let message = errorMessage(err)
  if (!/^Can't /.test(message)) message = `Can't ${spec ? `run ${spec.name}` : 'continue'}: ${message}`
  const hint = known ? err.hint : 'This looks like a bug or an unexpected state. Re-run with --verbose for details.'
  if (ui.json && !ui.hasResult) {
    ui.result({ ok: false, exitCode: code, error: message, hint: hint || undefined })
  }
  ui.error(message)
  if (hint) ui.warn(hint)
  if (ui.verbose && err instanceof Error && err.stack) ui.warn(err.stack)
  return code
}
