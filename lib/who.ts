// Who is acting and how: the user and host, and the command line a script was started with
// (recorded in audit lines and in the deploy lock's holder).
import os from 'node:os'
import path from 'node:path'

export function whoami(): { user: string; host: string } {
  let user = process.env.SUDO_USER || process.env.USER || ''
  try {
    user ||= os.userInfo().username
  } catch {
    user ||= String(process.getuid?.() ?? 'unknown')
  }
  return { user, host: os.hostname() }
}

export function commandLine(argv = process.argv): string {
  const script = argv.find((a) => a.endsWith('.ts') && a.includes('scripts')) ?? argv[1] ?? ''
  const idx = argv.indexOf(script)
  return [path.basename(script), ...argv.slice(idx + 1)].join(' ')
}
