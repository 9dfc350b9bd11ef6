#!/bin/sh
# Renders the Alertmanager config template to /run/dms and starts Alertmanager as the
# unprivileged "prometheus" user. Receiver credentials arrive as compose secrets
# (root-only bind mounts); they are copied to /run/dms/secrets readable by that user
# and referenced from the config only by *_file fields, so no secret is ever written
# into a config file, an argument or the log. A missing secret file becomes an
# obviously unusable placeholder so Alertmanager still starts (and logs the failures).
set -eu
template="${ALERTMANAGER_TEMPLATE:-/etc/dms/monitoring/alertmanager.yml}"
mkdir -p /run/dms/secrets
chmod 0750 /run/dms/secrets
for name in slack_webhook_url pagerduty_routing_key smtp_password; do
  src="/run/secrets/alertmanager_${name}"
  dst="/run/dms/secrets/${name}"
  if [ -s "$src" ]; then
    tr -d '\r\n' < "$src" > "$dst"
  else
    echo "alertmanager: secret alertmanager_${name} is missing or empty; that receiver cannot deliver" >&2
    case "$name" in
      slack_webhook_url) printf 'http://127.0.0.1:9/not-configured' > "$dst" ;;
      *) printf 'not-configured' > "$dst" ;;
    esac
  fi
  chmod 0640 "$dst"
done
chown -R root:prometheus /run/dms/secrets
/usr/local/bin/render.sh "$template" /run/dms/alertmanager.yml
chown prometheus:prometheus /run/dms/alertmanager.yml /alertmanager
exec setpriv --reuid=prometheus --regid=prometheus --init-groups \
  /usr/bin/prometheus-alertmanager \
  --config.file=/run/dms/alertmanager.yml \
  --storage.path=/alertmanager \
  "$@"
