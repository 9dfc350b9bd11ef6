#!/bin/bash
# Entry point for dms/redis: writes /etc/redis/generated/redis.conf (0600, owned
# by redis) with the password from REDIS_PASSWORD_FILE, then runs as redis.
set -euo pipefail
: "${REDIS_PASSWORD_FILE:=/run/secrets/redis_password}"
: "${REDIS_MAXMEMORY:=128mb}"
: "${REDIS_MAXMEMORY_POLICY:=allkeys-lru}"
conf=/etc/redis/generated/redis.conf

if [ "$(id -u)" = 0 ]; then
  if [ ! -r "$REDIS_PASSWORD_FILE" ]; then
    echo "error: redis password file $REDIS_PASSWORD_FILE is missing" >&2; exit 1
  fi
  pw="$(< "$REDIS_PASSWORD_FILE")"
  case "$pw" in *[[:space:]\"\\]*|'') echo "error: redis password must be non-empty, without spaces, quotes or backslashes" >&2; exit 1;; esac
  umask 077
  cat > "$conf" <<CONF
bind 0.0.0.0
port 6379
protected-mode yes
dir /data
appendonly yes
save 60 1000
maxmemory ${REDIS_MAXMEMORY}
maxmemory-policy ${REDIS_MAXMEMORY_POLICY}
loglevel ${REDIS_LOGLEVEL:-notice}
logfile ""
requirepass "${pw}"
CONF
  unset pw
  chown redis:redis "$conf" /data
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server "$conf"
fi
exec redis-server "$conf"
