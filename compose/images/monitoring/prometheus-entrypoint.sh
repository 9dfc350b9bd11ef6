#!/bin/sh
# Renders the Prometheus config template (NET_PREFIX and friends) to /run/dms and
# starts Prometheus as the unprivileged "prometheus" user. Extra arguments (compose
# `command:`) are passed to Prometheus, e.g. --storage.tsdb.retention.time=30d.
set -eu
template="${PROMETHEUS_TEMPLATE:-/etc/dms/monitoring/prometheus.yml}"
mkdir -p /run/dms
/usr/local/bin/render.sh "$template" /run/dms/prometheus.yml
chown prometheus:prometheus /run/dms/prometheus.yml /prometheus
exec setpriv --reuid=prometheus --regid=prometheus --init-groups \
  /usr/bin/prometheus \
  --config.file=/run/dms/prometheus.yml \
  --web.console.templates=/usr/share/prometheus/web/consoles \
  --web.console.libraries=/usr/share/prometheus/web/console_libraries \
  "$@"
