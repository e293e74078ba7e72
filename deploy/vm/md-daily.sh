#!/bin/sh
# md-daily: what md-download.service runs (deployment mode 3), installed as /usr/local/bin/md-daily.
#
# With no dates in /etc/md/md.env it runs `md-cli pipeline` over a trailing window of complete UTC days
# (default 3, or the first argument): yesterday's files (ready around 06:00 UTC) plus the days before, so a day
# that failed or was not yet exported is picked up by the next run; what is stored and verified is skipped.
# With INSTRUMENT_START_DATE or DOWNLOAD_START_DATE set (a backfill), md-cli uses those instead.
set -eu

days="${1:-3}"
case "$days" in
  '' | *[!0-9]*) echo "md-daily: the window must be a number of days, not '$days'" >&2; exit 2 ;;
esac

if [ -n "${INSTRUMENT_START_DATE:-}" ] || [ -n "${DOWNLOAD_START_DATE:-}" ]; then
  exec /usr/local/bin/md-cli pipeline
fi
from="$(date -u -d "$days days ago" +%F)"
to="$(date -u -d yesterday +%F)"
exec /usr/local/bin/md-cli pipeline --from "$from" --to "$to"
