// The gateway's process-wide settings (deadline, abort signal, printer), the programs that missed
// a deadline in this run, and the call recording that unit tests use instead of starting processes.
import { setMaxListeners } from 'node:events'
import { DEFAULT_TIMEOUT_MS, type RecordedCall, type RunResult } from './command.ts'
import type { Printer } from './ui.ts'

// ---------------------------------------------------------------- process-wide settings

export type Responder = (call: RecordedCall) => Partial<RunResult> | 'hang' | undefined

export const settings: {
  timeoutMs: number
  signal?: AbortSignal
  printer?: Printer
  recording: RecordedCall[] | null
  responder?: Responder
} = {
  timeoutMs: DEFAULT_TIMEOUT_MS,
  recording: null,
}
/** Programs that missed a deadline in this run, with that deadline. */
export const hung = new Map<string, number>()

/** Set once per process: by runScript (the abort signal, the printer) and loadEnv (COMMAND_TIMEOUT). */
export function configureGateway(o: { timeoutMs?: number; signal?: AbortSignal; printer?: Printer }): void {
  if (o.timeoutMs !== undefined) settings.timeoutMs = o.timeoutMs
  if (o.signal !== undefined) {
    settings.signal = o.signal
    // every running command listens on it (checks run in parallel); each removes its listener when it ends
    setMaxListeners(0, o.signal)
  }
  if (o.printer !== undefined) settings.printer = o.printer
}

export function gatewayTimeoutMs(): number {
  return settings.timeoutMs
}

/** The deadline of a command that itself waits up to `waitMs` (compose up --wait, down --timeout): that plus COMMAND_TIMEOUT. */
export function deadlineAfter(waitMs: number): number {
  return waitMs + settings.timeoutMs
}

/** Image builds: they download and compile, so their deadline is long (30 min). */
export const BUILD_TIMEOUT_MS = 30 * 60_000

/** Unit tests: record every call instead of starting it; the responder answers (default: ok, empty). */
export function recordCalls(responder?: Responder): RecordedCall[] {
  settings.recording = []
  settings.responder = responder
  hung.clear()
  return settings.recording
}

export function stopRecording(): void {
  settings.recording = null
  settings.responder = undefined
  hung.clear()
}

/** Forget programs that missed a deadline (tests that run several operations in one process). */
export function resetHung(): void {
  hung.clear()
}
