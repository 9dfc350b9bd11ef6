#!/bin/bash
# Entry point for dms/app: starts as root only to read the compose secret files
# into the environment, then drops to the unprivileged dms user.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
  pg_file="${POSTGRES_PASSWORD_FILE:-/run/secrets/postgres_password}"
  redis_file="${REDIS_PASSWORD_FILE:-/run/secrets/redis_password}"
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ -r "$pg_file" ]; then export POSTGRES_PASSWORD="$(< "$pg_file")"; fi
  if [ -z "${REDIS_PASSWORD:-}" ] && [ -r "$redis_file" ]; then export REDIS_PASSWORD="$(< "$redis_file")"; fi
  unset POSTGRES_PASSWORD_FILE REDIS_PASSWORD_FILE
  exec setpriv --reuid=dms --regid=dms --init-groups --no-new-privs "$@"
fi
exec "$@"
