#!/usr/bin/env bash
# GCE startup script for one md VM (deployment mode 3). Idempotent: it runs on every boot.
# See docs/DEPLOYMENT.md for the whole procedure; in short:
#
#   cargo xtask image && gcloud storage cp target/image/md-cli gs://my-artifacts/md-cli/v1/md-cli
#   printf %s "TD.your-key" | gcloud secrets create tardis-api-key --data-file=-
#   gcloud compute instances create md-vm-0 --zone asia-northeast1-b --machine-type e2-standard-2 \
#     --service-account md-vm@PROJECT.iam.gserviceaccount.com --scopes cloud-platform \
#     --metadata-from-file startup-script=deploy/vm/startup.sh,md-env=deploy/vm/md.env,md-service=deploy/vm/md-download.service,md-timer=deploy/vm/md-download.timer,md-daily=deploy/vm/md-daily.sh \
#     --metadata md-binary=gs://my-artifacts/md-cli/v1/md-cli,md-secret=tardis-api-key
#
# Instance metadata it reads: md-env (the environment file, without the key), md-secret (the Secret Manager secret
# holding TARDIS_API_KEY; optional), md-binary (gs:// URL of the static md-cli), md-service, md-timer, md-daily.
# The VM's service account needs roles/secretmanager.secretAccessor on the secret and
# storage.objects.{create,get,list,delete} on the bucket; no key file is needed (md-cli uses the metadata server's
# credentials when GCP_CREDENTIALS_PATH is unset).
set -euo pipefail

metadata() {
  curl -fsS -H 'Metadata-Flavor: Google' "http://metadata.google.internal/computeMetadata/v1/instance/attributes/$1"
}

id md >/dev/null 2>&1 || useradd --system --home-dir /var/lib/md --shell /usr/sbin/nologin md
install -d -o md -g md -m 0750 /var/lib/md
install -d -m 0755 /etc/md

# The environment file, readable by md only: it holds the API key once the secret is appended.
umask 077
metadata md-env > /etc/md/md.env.new
if secret="$(metadata md-secret 2>/dev/null)" && [ -n "$secret" ]; then
  key="$(gcloud secrets versions access latest --secret="$secret")"
  sed -i '/^TARDIS_API_KEY=/d' /etc/md/md.env.new
  printf 'TARDIS_API_KEY=%s\n' "$key" >> /etc/md/md.env.new
fi
install -o root -g md -m 0640 /etc/md/md.env.new /etc/md/md.env
rm -f /etc/md/md.env.new
umask 022

# The static binary (target/image/md-cli from `cargo xtask image`, uploaded to GCS) and its daily wrapper.
gcloud storage cp "$(metadata md-binary)" /usr/local/bin/md-cli.new
install -m 0755 /usr/local/bin/md-cli.new /usr/local/bin/md-cli
rm -f /usr/local/bin/md-cli.new
metadata md-daily > /usr/local/bin/md-daily.new
install -m 0755 /usr/local/bin/md-daily.new /usr/local/bin/md-daily
rm -f /usr/local/bin/md-daily.new
# Fail the boot script early (exit 2, naming every problem) on a bad configuration.
runuser -u md -- /usr/local/bin/md-cli --env-file /etc/md/md.env config >/dev/null

# The systemd units, passed as instance metadata from deploy/vm/.
metadata md-service > /etc/systemd/system/md-download.service
metadata md-timer > /etc/systemd/system/md-download.timer
systemctl daemon-reload
systemctl enable --now md-download.timer
systemctl start --no-block md-download.service
