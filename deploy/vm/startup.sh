#!/usr/bin/env bash
# GCE startup script for one md VM (deployment mode 3). Idempotent: safe on every boot.
#
#   gcloud compute instances create md-shard-0 --machine-type e2-standard-2 --scopes cloud-platform \
#     --metadata-from-file startup-script=deploy/vm/startup.sh,md-env=/path/to/md.env,md-service=deploy/vm/md-download.service,md-timer=deploy/vm/md-download.timer \
#     --metadata md-binary=gs://my-artifacts/md-cli/0.1.0/md-cli
#
# The VM's service account needs storage.objects.{create,get,list,delete} on the bucket; no key file is needed
# (md-cli falls back to the metadata server's credentials when GCP_CREDENTIALS_PATH is unset).
set -euo pipefail

metadata() {
  curl -fsS -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"
}

id md >/dev/null 2>&1 || useradd --system --home /var/lib/md --shell /usr/sbin/nologin md
install -d -o md -g md -m 0750 /var/lib/md
install -d -m 0755 /etc/md

# The environment file (from instance metadata `md-env`), readable by md only: it holds the API key.
metadata md-env > /etc/md/md.env.new
install -o root -g md -m 0640 /etc/md/md.env.new /etc/md/md.env
rm -f /etc/md/md.env.new

# The static binary (from `cargo xtask image`'s build, uploaded to GCS).
binary="$(metadata md-binary)"
gcloud storage cp "$binary" /usr/local/bin/md-cli.new
install -m 0755 /usr/local/bin/md-cli.new /usr/local/bin/md-cli
rm -f /usr/local/bin/md-cli.new
/usr/local/bin/md-cli --env-file /etc/md/md.env config >/dev/null  # fail early (exit 2) on a bad configuration

# The systemd units, passed as instance metadata from deploy/vm/.
metadata md-service > /etc/systemd/system/md-download.service
metadata md-timer > /etc/systemd/system/md-download.timer
systemctl daemon-reload
systemctl enable --now md-download.timer
systemctl start --no-block md-download.service
