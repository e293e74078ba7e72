//! What a run needs from Tardis, learnt before it costs anything (`md-cli doctor` reports it): the API key's
//! standing and what it covers ([`TardisClient::key_standing`], [`coverage_gaps`]), whether a proxy refused a
//! probe ([`Probe::proxy_refused`]), and the machine's clock against Tardis's ([`ClockSkew`]).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use md_config::DateRange;

use crate::wire::ApiKeyAccess;
use crate::{Error, Probe, TardisClient};

/// Clocks further apart than this make Tardis's day boundaries and the quota's day differ from the machine's.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// What Tardis says of the configured API key.
#[derive(Debug)]
pub enum KeyStanding {
    /// No key is configured: only the first day of each month can be downloaded.
    NoKey,
    /// The key is in use from another IP address (HTTP 403, code 274).
    InUseElsewhere(Error),
    /// Tardis refuses the key (HTTP 401 or 403).
    Refused(Error),
    /// Tardis could not be asked what the key covers.
    Unknown(Error),
    /// The key is accepted, with what it covers.
    Accepted(Vec<ApiKeyAccess>),
}

impl TardisClient {
    /// Asks Tardis what the configured key covers (`GET /v1/api-key-info`) and classifies the answer.
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn key_standing(&self) -> KeyStanding {
        if !self.has_api_key() {
            return KeyStanding::NoKey;
        }
        match self.api_key_info().await {
            Ok(access) => KeyStanding::Accepted(access),
            Err(error) if error.is_ip_locked() => KeyStanding::InUseElsewhere(error),
            Err(error) if matches!(error.status(), Some(401 | 403)) => KeyStanding::Refused(error),
            Err(error) => KeyStanding::Unknown(error),
        }
    }
}

/// An exchange a run needs that the key's access does not cover (in whole or for some of the days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageGap {
    /// The key gives no access to the exchange.
    NotCovered {
        /// The exchange.
        exchange: String,
    },
    /// The key covers the exchange for part of the days only.
    Partly {
        /// The exchange.
        exchange: String,
        /// The first day covered (`None`: from the start).
        from: Option<NaiveDate>,
        /// The last day covered (`None`: up to now).
        to: Option<NaiveDate>,
        /// The days the run needs.
        days: DateRange,
    },
}

impl fmt::Display for CoverageGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoverageGap::NotCovered { exchange } => write!(f, "{exchange} is not covered"),
            CoverageGap::Partly { exchange, from, to, days } => {
                let from = from.map_or_else(|| "the start".to_owned(), |day| day.to_string());
                let to = to.map_or_else(|| "now".to_owned(), |day| day.to_string());
                write!(f, "{exchange} is covered from {from} to {to}, not all of {days}")
            }
        }
    }
}

/// The exchanges of `exchanges` that `access` does not cover, or covers for part of `days` only (days unknown:
/// only whether each exchange is covered at all).
pub fn coverage_gaps<'a>(
    access: &[ApiKeyAccess],
    exchanges: impl IntoIterator<Item = &'a String>,
    days: Option<DateRange>,
) -> Vec<CoverageGap> {
    let midnight = |day: NaiveDate| day.and_hms_opt(0, 0, 0).map(|time| time.and_utc());
    exchanges
        .into_iter()
        .filter_map(|exchange| {
            let Some(entry) = access.iter().find(|entry| &entry.exchange == exchange) else {
                return Some(CoverageGap::NotCovered { exchange: exchange.clone() });
            };
            let days = days?;
            let start = midnight(days.start);
            let end = days.end.succ_opt().and_then(midnight);
            let before = matches!((entry.from, start), (Some(from), Some(start)) if start < from);
            let after = matches!((entry.to, end), (Some(to), Some(end)) if end > to);
            (before || after).then(|| CoverageGap::Partly {
                exchange: exchange.clone(),
                from: entry.from.map(|from| from.date_naive()),
                to: entry.to.map(|to| to.date_naive()),
                days,
            })
        })
        .collect()
}

impl Probe {
    /// Whether a proxy answered instead of Tardis, refusing its credentials (HTTP 407).
    pub fn proxy_refused(&self) -> bool {
        self.status == 407
    }
}

/// The machine's clock against a server's `Date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSkew {
    /// The URL whose answer carried the time.
    pub url: String,
    /// The machine's clock minus the server's, in whole seconds.
    pub seconds: i64,
}

impl ClockSkew {
    /// The largest skew among `probes` that carried a `Date`, against `now`; `None` when none did. A `Date` is set
    /// during the round trip, so it is compared with the round trip's middle.
    pub fn worst(probes: &[Probe], now: DateTime<Utc>) -> Option<ClockSkew> {
        probes
            .iter()
            .filter_map(|probe| {
                let server = probe.server_time?;
                let middle =
                    now - chrono::Duration::from_std(probe.round_trip / 2).unwrap_or_default();
                Some(ClockSkew { url: probe.url.clone(), seconds: (middle - server).num_seconds() })
            })
            .max_by_key(|skew| skew.seconds.abs())
    }

    /// Whether the clocks are more than [`MAX_CLOCK_SKEW`] apart.
    pub fn is_too_large(&self) -> bool {
        self.seconds.unsigned_abs() > MAX_CLOCK_SKEW.as_secs()
    }
}
