// The words of one external command, shared by the gateway and its callers: its options, its
// result, the errors it throws (exited non-zero, missed its deadline), and how argv is shown.
import { EXIT, OperationError, ToolkitError } from './errors.ts'

/** Default deadline of one external command (COMMAND_TIMEOUT); long commands pass their own. */
export const DEFAULT_TIMEOUT_MS = 60_000
/** Between SIGTERM to a child's process group and SIGKILL. */
export const KILL_GRACE_MS = 2_000

export type CommandOptions = {
  /** added to this process's environment (or, with clearEnv, the whole environment) */
  env?: Record<string, string>
  clearEnv?: boolean
  cwd?: string
  /** text on stdin */
  input?: string
  /** a file descriptor to read stdin from / write stdout to (the caller opens and closes it) */
  stdinFd?: number
  stdoutFd?: number
  /** stdout and stderr go to this process's terminal (not captured) */
  inherit?: boolean
  /** each chunk of stdout as it arrives (a stream followed live, such as `compose logs --follow`) */
  onStdout?: (text: string) => void
  /** this call's own abort signal (besides the operation's): a caller's deadline, such as health-check's */
  signal?: AbortSignal
  /** this call's deadline; default: the configured COMMAND_TIMEOUT */
  timeoutMs?: number
  /** between SIGTERM and SIGKILL when the deadline passes or the operation is interrupted (default KILL_GRACE_MS);
   *  longer for a child that stops safely on SIGTERM itself, such as one of our own scripts */
  killGraceMs?: number
  /** a non-zero exit is an answer, not an error (a missed deadline or an abort still throws) */
  nothrow?: boolean
  /** false: read-only, runs under --dry-run too; true (default): printed and not run under --dry-run */
  changes?: boolean
  /** for messages: what this call does, e.g. "list the containers of dms-prod-blue" */
  action?: string
  /** which "did not answer earlier" memory this call shares (default: the program); calls to
   *  another host's Docker daemon use their own, so one hung host does not fail the others */
  hungKey?: string
}

export type RunResult = { ok: boolean; code: number | null; stdout: string; stderr: string }

/** One process start as the gateway saw it (unit tests assert on the list). */
export type RecordedCall = {
  program: string
  args: string[]
  env?: Record<string, string>
  cwd?: string
  timeoutMs: number
  changes: boolean
  dryRun: boolean
}

export class CommandError extends ToolkitError {
  command: string
  code: number | null
  stderrTail: string
  constructor(action: string, command: string, code: number | null, stderr: string) {
    const tail = stderr.trim().split('\n').slice(-8).join('\n')
    super(`Can't ${action}: \`${command}\` exited ${code}${tail ? `:\n${tail}` : ''}`, {
      exitCode: EXIT.FAILED,
      hint: 'See the command output above; re-run with --verbose to see every command.',
    })
    this.command = command
    this.code = code
    this.stderrTail = tail
  }
}

/** A command that missed its deadline: the program did not answer in time; its process group was killed. */
export class CommandTimeoutError extends OperationError {
  program: string
  timeoutMs: number
  constructor(action: string, program: string, timeoutMs: number, earlier = false) {
    super(
      earlier
        ? `Can't ${action}: ${program} did not answer within ${seconds(timeoutMs)} earlier in this run, so it was not asked again`
        : `Can't ${action}: ${program} did not answer within ${seconds(timeoutMs)}`,
      program === 'docker'
        ? 'Check the Docker daemon (systemctl status docker; docker info). The deadline is COMMAND_TIMEOUT in the env file.'
        : `Check ${program}. The deadline is COMMAND_TIMEOUT in the env file.`,
    )
    this.program = program
    this.timeoutMs = timeoutMs
  }
}

/** For checks where "did not answer" is an answer (preflight): a missed deadline becomes a failed result carrying its message. */
export function timeoutAsFailure(p: Promise<RunResult>): Promise<RunResult> {
  return p.catch((e: unknown) => {
    if (e instanceof CommandTimeoutError) return { ok: false, code: null, stdout: '', stderr: e.message }
    throw e
  })
}

export function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

export function quoteArgv(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ')
}
