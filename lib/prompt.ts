// Interactive only where a person is. --yes confirms for automation; with no TTY and no --yes
// we refuse at once (prompts would hang, or exit 13 silently on a closed stdin).
import { RefusedError } from './errors.ts'
import type { Printer } from './ui.ts'

export type ConfirmOptions = {
  yes?: boolean
  ui: Printer
  stdin?: { isTTY?: boolean }
  /** what the person is asked; the plan itself is printed by the caller */
  question?: string
}

/** Asks to go ahead with a plan. true: go ahead; false: the person said no. */
export async function confirm(action: string, opts: ConfirmOptions): Promise<boolean> {
  if (opts.yes) return true
  const stdin = opts.stdin ?? process.stdin
  if (!stdin.isTTY) {
    throw new RefusedError(
      `Can't ${action}: confirmation is needed and there is no terminal to ask on. Nothing was changed.`,
      'Re-run with --yes to confirm without a prompt (for cron, CI and scripts), or run it from a terminal.',
    )
  }
  // loaded only when a person is really asked: --yes and cron never pay for it
  const { default: prompts } = await import('prompts')
  let cancelled = false
  const answer = await prompts(
    {
      type: 'confirm',
      name: 'go',
      message: opts.ui.mask(opts.question ?? `Go ahead and ${action}?`),
      initial: false,
    },
    {
      onCancel: () => {
        cancelled = true
      },
    },
  )
  return !cancelled && answer.go === true
}
