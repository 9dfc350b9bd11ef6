// The checks every blue-green operation shares: version and slot validators, drift, the words of a
// dry run and of failed probes.
import { VERSION_RE } from './model.ts'
import { RefusedError, shownValue } from './errors.ts'
import type { ProbeResult } from './probe.ts'
import { otherSlot, type DeployState, type Slot } from './model.ts'
import type { Printer } from './ui.ts'

export function validateVersion(version: unknown, flag = '--version'): string {
  if (typeof version !== 'string' || version === '')
    throw new RefusedError(`Can't continue: ${flag} is required`, `Give the release's image tag, e.g. ${flag} v1.4.2`)
  if (!VERSION_RE.test(version)) {
    throw new RefusedError(
      `Can't use ${flag} ${shownValue(version)}: a version is an image tag: 1 to 128 letters, digits, '.', '_' or '-', not starting with '.' or '-'`,
      `Use the image tag, e.g. ${flag} v1.4.2. Nothing was changed.`,
    )
  }
  return version
}

export function validateSlot(slot: unknown): Slot | undefined {
  if (slot === undefined) return undefined
  if (slot !== 'blue' && slot !== 'green')
    throw new RefusedError(
      `Can't use --slot ${shownValue(String(slot))}: a slot is blue or green`,
      'Nothing was changed.',
    )
  return slot
}

/** What to do about a gradual shift nobody is running any more. */
export function stuckShiftHint(to: Slot): string {
  return `Finish it with switch-to-green --slot ${to}, or abort it: rollback-production sends every bucket back to ${otherSlot(to)} (no container is recreated).`
}

/** The world and the record must agree before anything is changed. */
export function checkDrift(state: DeployState, live: Slot): void {
  if (state.live !== null && state.live !== live)
    throw new RefusedError(
      `Can't act: drift: the state file says ${state.live} is live but nginx routes to ${live}. Nothing was changed.`,
      `Find out why (npx zx scripts/health-check.ts). If nginx is right, record it: npx zx scripts/record-live.ts. If the state is right, switch: npx zx scripts/switch-to-green.ts --slot ${state.live}`,
    )
}

/** The failed probes of a round, as one line. */
export function describeProbes(results: ProbeResult[]): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => `${r.name}: ${r.detail}`)
    .join('; ')
}

/** A dry run says what it would do and check; it claims nothing it did not observe. */
export function rehearse(ui: Printer, text: string): void {
  ui.info(`${ui.c.cyan('[dry-run]')} ${text}`)
}
