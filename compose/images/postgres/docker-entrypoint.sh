#!/bin/bash
# Entry point for dms/postgres. Runs as root only long enough to read secret
# files and fix ownership, then drops to the postgres user and execs postgres.
set -euo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HBA_CIDR:=0.0.0.0/0}"

# file_env VAR: VAR_FILE wins over VAR (like the official image).
file_env() {
  local var="$1" file_var="${1}_FILE"
  if [ -n "${!file_var:-}" ]; then
    if [ -n "${!var:-}" ]; then echo "error: both $var and $file_var are set" >&2; exit 1; fi
    export "$var"="$(< "${!file_var}")"
  fi
}

if [ "$(id -u)" = 0 ]; then
  file_env POSTGRES_PASSWORD
  unset POSTGRES_PASSWORD_FILE
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

file_env POSTGRES_PASSWORD

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "error: database is uninitialized and POSTGRES_PASSWORD(_FILE) is not set" >&2
    exit 1
  fi
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=scram-sha-256 \
         --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  rm -f "$pwfile"
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = 'scram-sha-256'"
    echo "unix_socket_directories = '/var/run/postgresql'"
  } >> "$PGDATA/postgresql.conf"
  {
    echo "host all all ${POSTGRES_HBA_CIDR} scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >> "$PGDATA/pg_hba.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    # Temporary server on the unix socket only, to create the database.
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    PGPASSWORD="$POSTGRES_PASSWORD" psql -v ON_ERROR_STOP=1 -h /var/run/postgresql \
      -U "$POSTGRES_USER" -d postgres -q -c "CREATE DATABASE \"$POSTGRES_DB\"" 
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "initialized database $POSTGRES_DB in $PGDATA"
fi
unset POSTGRES_PASSWORD

if [ "${1:-}" = postgres ]; then
  exec postgres -D "$PGDATA" "${@:2}"
fi
exec "$@"
