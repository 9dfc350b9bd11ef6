// One printer for every script: colour and spinners only on a TTY, NO_COLOR honoured,
// --json prints exactly one JSON document on stdout, --quiet prints only problems, and
// every known secret value is masked on every path out (human, JSON, errors, logs).
import { Chalk, type ChalkInstance } from 'chalk'
import { Timeline } from './timeline.ts'

export type PrinterOptions = {
  json?: boolean
  quiet?: boolean
  verbose?: boolean
  /** defaults: stdout/stderr of this process */
  out?: NodeJS.WritableStream & { isTTY?: boolean }
  err?: NodeJS.WritableStream & { isTTY?: boolean }
  env?: NodeJS.ProcessEnv
  secrets?: string[]
}

const MASK = '****'

export class SecretMask {
  private values: string[] = []
  add(values: Array<string | undefined>): void {
    for (const v of values) {
      if (!v || v.length < 4) continue
      const forms = [v, JSON.stringify(v).slice(1, -1), encodeURIComponent(v)]
      for (const f of forms) if (!this.values.includes(f)) this.values.push(f)
    }
    // longest first, so a secret that contains another is masked whole
    this.values.sort((a, b) => b.length - a.length)
  }
  apply(text: string): string {
    let out = text
    for (const v of this.values) out = out.split(v).join(MASK)
    return out
  }
  get size(): number {
    return this.values.length
  }
}

export class Printer {
  readonly json: boolean
  readonly quiet: boolean
  readonly verbose: boolean
  readonly tty: boolean
  readonly c: ChalkInstance
  readonly secrets = new SecretMask()
  /** every step this printer shows is recorded here (the operation's timeline) */
  readonly timeline = new Timeline()
  private out: NodeJS.WritableStream & { isTTY?: boolean }
  private err: NodeJS.WritableStream & { isTTY?: boolean }
  private resultWritten = false

  constructor(opts: PrinterOptions = {}) {
    const env = opts.env ?? process.env
    this.out = opts.out ?? process.stdout
    this.err = opts.err ?? process.stderr
    this.json = !!opts.json
    this.quiet = !!opts.quiet
    this.verbose = !!opts.verbose
    this.tty = !!this.out.isTTY && !this.json
    const color = this.tty && !('NO_COLOR' in env) && env.TERM !== 'dumb'
    this.c = new Chalk({ level: color ? 1 : 0 })
    this.secrets.add(opts.secrets ?? [])
  }

  mask(text: string): string {
    return this.secrets.apply(text)
  }

  private write(stream: NodeJS.WritableStream, text: string): void {
    stream.write(`${this.mask(text)}\n`)
  }

  /** Progress and information: hidden by --quiet; on stderr under --json. */
  info(msg: string): void {
    if (this.quiet) return
    this.write(this.json ? this.err : this.out, msg)
  }
  success(msg: string): void {
    this.info(`${this.c.green('✔')} ${msg}`)
  }
  detail(msg: string): void {
    if (this.verbose) this.info(this.c.dim(msg))
  }
  warn(msg: string): void {
    this.write(this.err, `${this.c.yellow('!')} ${msg}`)
  }
  error(msg: string): void {
    this.write(this.err, `${this.c.red('✖')} ${msg}`)
  }

  /** Runs fn under a spinner on a TTY, or with a start and an end line otherwise. */
  step<T>(title: string, fn: () => Promise<T>): Promise<T> {
    return this.timeline.span(title, () => this.showStep(title, fn))
  }

  private async showStep<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now()
    const took = () => this.c.dim(`(${((Date.now() - started) / 1000).toFixed(1)}s)`)
    if (this.tty && !this.quiet) {
      // loaded only when a spinner is really shown: it is the slowest import of the printer
      const { default: ora } = await import('ora')
      const spinner = ora({ text: this.mask(title), stream: this.out, isEnabled: true }).start()
      try {
        const value = await fn()
        spinner.succeed(`${this.mask(title)} ${took()}`)
        return value
      } catch (e) {
        spinner.fail(`${this.mask(title)} ${took()}`)
        throw e
      }
    }
    this.info(`${this.c.dim('…')} ${title}`)
    try {
      const value = await fn()
      this.success(`${title} ${took()}`)
      return value
    } catch (e) {
      if (!this.json) this.write(this.err, `${this.c.red('✖')} ${title} ${took()}`)
      throw e
    }
  }

  table(header: string[], rows: string[][]): void {
    const all = [header, ...rows]
    const widths = header.map((_, i) => Math.max(...all.map((r) => stripAnsi(r[i] ?? '').length)))
    const line = (r: string[]) =>
      r
        .map((cell, i) => cell + ' '.repeat(Math.max(0, widths[i]! - stripAnsi(cell).length)))
        .join('  ')
        .trimEnd()
    this.info(this.c.bold(line(header)))
    for (const r of rows) this.info(line(r))
  }

  /** The single JSON document of --json mode (masked). Ignored in human mode. */
  result(doc: unknown): void {
    if (!this.json) return
    if (this.resultWritten) throw new Error('Printer.result called twice: --json prints exactly one document')
    this.resultWritten = true
    this.out.write(`${this.mask(JSON.stringify(doc, null, 2))}\n`)
  }

  get hasResult(): boolean {
    return this.resultWritten
  }
}

export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ANSI escape (ESC [) on purpose
  return s.replace(/\x1b\[[0-9;]*m/g, '')
}
