// Not a test file: it defines no test, so it has no .run() (uvu pointed at it alone would report Total: 0, and
// run-all.sh only runs *.test.ts under test/{unit,integration,e2e}); it changes how the test files' hooks report.
// Preloaded by test/run-one.sh (node --import): uvu 0.5 runs a file's before/after hooks inside a
// `finally { return … }`, which swallows what a hook threw - the file then reports "0 / N" with no reason.
// This wraps the default suite's test.before and test.after so a hook that throws prints its error (with
// the hook's kind and the file) before uvu swallows it. Behaviour is otherwise unchanged: the error is
// rethrown, the tests of that file do not run and run-one.sh counts the file as failed.
import * as uvu from 'uvu'

type Hook = (ctx: unknown) => unknown
type Register = ((fn: Hook) => void) & { each: (fn: Hook) => void }

function printing(kind: string, fn: Hook): Hook {
  return async (ctx) => {
    try {
      await fn(ctx)
    } catch (e) {
      const file = process.argv.slice(2).join(' ')
      console.error(`!! test.${kind} hook threw (${file}):\n${e instanceof Error ? (e.stack ?? e.message) : String(e)}`)
      throw e
    }
  }
}

// the default suite every test file imports (`import { test } from 'uvu'`), patched before any of them loads
const suite = uvu.test
for (const kind of ['before', 'after'] as const) {
  const register = suite[kind] as Register
  const wrapped = ((fn: Hook) => register(printing(kind, fn))) as Register
  wrapped.each = (fn: Hook) => register.each(printing(`${kind}.each`, fn))
  ;(suite as unknown as Record<string, Register>)[kind] = wrapped
}
