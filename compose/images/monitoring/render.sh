#!/bin/sh
# render.sh TEMPLATE OUTPUT
# Replaces ${NAME} and ${NAME:-default} (NAME in upper case) with values from the
# environment; any other "$" text (relabel $1, ${1}, Go templates) is left alone.
# Fails, naming file, line and variable, when a variable without default is unset.
# Writes OUTPUT atomically (temp file + rename). Shared by the prometheus and
# alertmanager images (one build context, two Dockerfiles).
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: render.sh TEMPLATE OUTPUT" >&2
  exit 2
fi
tmp="$2.tmp.$$"
if ! awk '
{
  line = $0
  out = ""
  while (match(line, /\$\{[A-Z_][A-Z0-9_]*(:-[^}]*)?\}/)) {
    token = substr(line, RSTART + 2, RLENGTH - 3)
    name = token
    def = ""
    hasdef = 0
    i = index(token, ":-")
    if (i > 0) {
      name = substr(token, 1, i - 1)
      def = substr(token, i + 2)
      hasdef = 1
    }
    if ((name in ENVIRON) && ENVIRON[name] != "") {
      val = ENVIRON[name]
    } else if (hasdef) {
      val = def
    } else {
      printf "render.sh: %s:%d: variable %s is not set\n", FILENAME, FNR, name > "/dev/stderr"
      failed = 1
      val = ""
    }
    out = out substr(line, 1, RSTART - 1) val
    line = substr(line, RSTART + RLENGTH)
  }
  print out line
}
END { exit failed ? 1 : 0 }' "$1" > "$tmp"; then
  rm -f "$tmp"
  exit 1
fi
mv "$tmp" "$2"
