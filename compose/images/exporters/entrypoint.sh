#!/bin/sh
# entrypoint.sh node|nginx|blackbox|postgres|redis [exporter flags...]
# Starts one exporter as the unprivileged "prometheus" user. Passwords are read here
# (as root) from compose secrets into the exporter's environment: never on a command
# line, never in the log.
set -eu
if [ "$#" -lt 1 ]; then
  echo "usage: entrypoint.sh node|nginx|blackbox|postgres|redis [flags...]" >&2
  exit 2
fi
which="$1"
shift

secret() {
  # secret NAME: prints the secret without a trailing newline, or fails clearly.
  file="${SECRETS_DIR:-/run/secrets}/$1"
  if [ ! -r "$file" ] || [ ! -s "$file" ]; then
    echo "exporter $which: secret $1 is missing or empty ($file)" >&2
    exit 1
  fi
  tr -d '\r\n' < "$file"
}

drop() {
  exec setpriv --reuid=prometheus --regid=prometheus --init-groups "$@"
}

case "$which" in
  node)
    drop /usr/bin/prometheus-node-exporter "$@"
    ;;
  nginx)
    : "${NGINX_STATUS_ADDR:=127.0.0.1}"
    : "${NGINX_STATUS_PATH:=/stub_status}"
    if [ -z "${SCRAPE_URI:-}" ]; then
      SCRAPE_URI="http://${NGINX_STATUS_ADDR}:${STATUS_PORT:?STATUS_PORT is not set}${NGINX_STATUS_PATH}"
    fi
    export SCRAPE_URI
    drop /usr/bin/prometheus-nginx-exporter "$@"
    ;;
  blackbox)
    drop /usr/bin/prometheus-blackbox-exporter "$@"
    ;;
  postgres)
    DATA_SOURCE_PASS="$(secret postgres_password)"
    export DATA_SOURCE_PASS
    : "${DATA_SOURCE_URI:?DATA_SOURCE_URI is not set (host:port/db?sslmode=disable)}"
    : "${DATA_SOURCE_USER:=dms}"
    export DATA_SOURCE_URI DATA_SOURCE_USER
    drop /usr/bin/prometheus-postgres-exporter "$@"
    ;;
  redis)
    REDIS_PASSWORD="$(secret redis_password)"
    export REDIS_PASSWORD
    : "${REDIS_ADDR:?REDIS_ADDR is not set (redis://host:6379)}"
    export REDIS_ADDR
    drop /usr/bin/prometheus-redis-exporter "$@"
    ;;
  *)
    echo "entrypoint.sh: unknown exporter $which (node|nginx|blackbox|postgres|redis)" >&2
    exit 2
    ;;
esac
