// Secrets in the configuration: which keys hold them, which values are too weak, the values to
// mask in every output, and generating missing ones into the .local file exactly once.
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { parseEnvFile, renderEnvLine } from './envfile.ts'
import { faultPoint } from './fault.ts'
import { writeAll } from './fsutil.ts'
import { withKernelLockSync } from './lock.ts'
import { SCHEMA, type Target } from './config-schema.ts'

const WEAK =
  /^(change[-_]?me|changeit|secret|password|passw0rd|example|placeholder|todo|default|admin|test|x+|\*+|<.*>)$/i
const WEAK_PART = /change[-_]?me|placeholder|example|your[-_]/i

export function isWeakSecret(value: string): boolean {
  return value.length < 16 || WEAK.test(value) || WEAK_PART.test(value) || new Set(value).size < 6
}

/** Keys whose values are secrets: every secret-kind key, and anything named *PASSWORD*, *TOKEN*, *KEY*, *SECRET*, *WEBHOOK_URL. */
export function isSecretKey(key: string): boolean {
  return SCHEMA[key]?.kind === 'secret' || /PASSWORD|TOKEN|SECRET|_KEY$|WEBHOOK_URL/.test(key)
}

/** Values to mask: every secret-kind key, URLs with credentials, and anything named *PASSWORD*, *TOKEN*, *KEY*, *SECRET*. */
export function secretValues(raw: Record<string, string>): string[] {
  return Object.entries(raw)
    .filter(([k]) => isSecretKey(k))
    .map(([, v]) => v)
    .filter((v) => v.length >= 4)
}

/**
 * Generates the missing secrets into the .local file exactly once: under a kernel lock on the env
 * directory, it reads the file again and generates only what is still missing, so first runs at
 * the same time all end with the same values (the ones in the file).
 */
export function generateSecrets(file: string, keys: string[], target: Target): Record<string, string> {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  return withKernelLockSync(path.dirname(file), 30_000, () => {
    let text = ''
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
    const present = parseEnvFile(text, file).entries
    const values: Record<string, string> = {}
    const lines: string[] = []
    faultPoint('secrets.generate')
    for (const key of keys) {
      const have = present.get(key)?.value
      values[key] = have || randomBytes(24).toString('base64url')
      if (!have) lines.push(renderEnvLine(key, values[key]!))
    }
    if (lines.length) appendSecrets(file, lines, target, text)
    return values
  })
}

/** Appends to the .local file whose current content is `before`. */
function appendSecrets(file: string, lines: string[], target: Target, before: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600)
  try {
    const header = before
      ? ''
      : `# Secrets for ${target}, generated on first use. Keep this file 0600 and out of git.\n`
    const sep = before && !before.endsWith('\n') ? '\n' : ''
    writeAll(fd, Buffer.from(`${sep + header + lines.join('\n')}\n`))
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  fs.chmodSync(file, 0o600)
}
