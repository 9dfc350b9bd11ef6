// An in-memory writable stream (optionally a TTY) that tests hand to a Printer and read back.
import { Writable } from 'node:stream'

export type MemoryStream = Writable & { isTTY?: boolean; text(): string }

/** A writable that keeps what was written; isTTY can be set to act as a terminal. */
export function memoryStream(isTTY = false): MemoryStream {
  const chunks: string[] = []
  const s = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      cb()
    },
  }) as MemoryStream
  s.isTTY = isTTY
  s.text = () => chunks.join('')
  return s
}
