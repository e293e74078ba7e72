#!/bin/sh
# md-daily: what md-download.service runs (deployment mode 3), installed as /usr/local/bin/md-daily.
#
# With no dates in /etc/md/md.env it runs `md-cli pipeline` over a trailing window of days: from `today-N`
# (default N = 3, or the first argument) to `latest`, the last day Tardis has exported for every selected exchange.
# md-cli resolves both once, when it starts, from the clock and Tardis' exportedUntil: a day not exported yet is
# left for the next run instead of failing, a day that failed is picked up by the next run, and what is stored and
# verified is skipped. With INSTRUMENT_START_DATE or DOWNLOAD_START_DATE set (a backfill), md-cli uses those.
set -eu

days="${1:-3}"
case "$days" in
  '' | *[!0-9]*) echo "md-daily: the window must be a number of days, not '$days'" >&2; exit 2 ;;
esac

if [ -n "${INSTRUMENT_START_DATE:-}" ] || [ -n "${DOWNLOAD_START_DATE:-}" ]; then
  exec /usr/local/bin/md-cli pipeline
fi
exec /usr/local/bin/md-cli pipeline --from "today-$days" --to latest
