// Typed errors. Library code throws these; only scripts (through lib/cli.ts) turn them into
// exit codes. Every message reads "Can't X: reason" and carries what to do next.

export const EXIT = {
  OK: 0,
  FAILED: 1, // the operation failed and was rolled back or aborted
  REFUSED: 2, // bad input, or refused with nothing changed
  LOCKED: 3, // another deploy holds the lock
  INTERRUPTED: 130, // SIGINT / SIGTERM
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

export class ToolkitError extends Error {
  exitCode: ExitCode
  hint: string
  constructor(message: string, opts: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.exitCode = opts.exitCode ?? EXIT.FAILED
    this.hint = opts.hint ?? ''
  }
}

/** Bad input: a flag, an env file, a value. Nothing was changed. Exit 2. */
export class UsageError extends ToolkitError {
  constructor(message: string, hint = '', cause?: unknown) {
    super(message, { exitCode: EXIT.REFUSED, hint, cause })
  }
}

/** A safety check refused to act. Nothing was changed. Exit 2. */
export class RefusedError extends ToolkitError {
  constructor(message: string, hint = '', cause?: unknown) {
    super(message, { exitCode: EXIT.REFUSED, hint, cause })
  }
}

/** Another process holds the deploy lock. Exit 3. */
export class LockHeldError extends ToolkitError {
  holder: unknown
  constructor(message: string, holder: unknown, hint = '') {
    super(message, { exitCode: EXIT.LOCKED, hint })
    this.holder = holder
  }
}

/** The operation failed; what it changed was rolled back or it stopped before changing. Exit 1. */
export class OperationError extends ToolkitError {
  constructor(message: string, hint = '', cause?: unknown) {
    super(message, { exitCode: EXIT.FAILED, hint, cause })
  }
}

/** The operation stopped because of SIGINT or SIGTERM. Exit 130. */
export class InterruptedError extends ToolkitError {
  constructor(message = "Can't continue: interrupted by a signal", hint = '') {
    super(message, { exitCode: EXIT.INTERRUPTED, hint })
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** A value for an error message: quoted and escaped (newlines, control characters), at most 40 characters. */
export function shownValue(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
}
