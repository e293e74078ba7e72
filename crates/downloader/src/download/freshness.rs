//! What Tardis has exported, per exchange: `datasets.exportedUntil` (data is exported up to, excluding, that moment)
//! and the incident reports, from `GET /v1/exchanges/{exchange}` (public, cached by the client).
//!
//! The plan uses it to tell a day that is not yet exported (not a failure, not missing: not planned for download)
//! from one that is, and to mark the days inside an incident; a run resolves `latest` from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use tardis_client::TardisClient;
use tardis_client::wire::IncidentReport;

use crate::error::Error;

/// One exchange's exports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Exports {
    /// Data is exported up to (excluding) this moment; `None` when Tardis does not say.
    pub exported_until: Option<DateTime<Utc>>,
    /// The incident reports.
    pub incidents: Vec<IncidentReport>,
}

impl Exports {
    /// Returns whether day `day` is exported whole (`exportedUntil` at or after the next midnight); a day is taken
    /// as exported when Tardis does not say.
    pub fn has_exported(&self, day: NaiveDate) -> bool {
        let next_midnight =
            day.succ_opt().and_then(|next| next.and_hms_opt(0, 0, 0)).map(|time| time.and_utc());
        match (self.exported_until, next_midnight) {
            (Some(until), Some(next)) => until >= next,
            _ => true,
        }
    }

    /// Returns the last day exported whole, when Tardis says.
    pub fn last_exported_day(&self) -> Option<NaiveDate> {
        let until = self.exported_until?;
        until.date_naive().checked_sub_days(Days::new(1))
    }

    /// Returns the first incident that touches day `day`.
    pub fn incident_on(&self, day: NaiveDate) -> Option<&IncidentReport> {
        self.incidents.iter().find(|incident| incident.touches(day))
    }
}

/// What Tardis has exported, for the exchanges of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Freshness {
    /// By Tardis exchange id.
    pub exchanges: BTreeMap<String, Exports>,
}

impl Freshness {
    /// Fetches the exports of `exchanges` (a few at a time).
    ///
    /// # Errors
    /// [`Error::Freshness`] naming the exchange whose details could not be fetched; [`Error::IpLocked`] when Tardis
    /// refused the key because it is in use from another IP address, past the max wait.
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn fetch(client: &TardisClient, exchanges: &[String]) -> Result<Freshness, Error> {
        let fetched: Vec<(String, Exports)> = futures::stream::iter(exchanges.iter().cloned())
            .map(|exchange| async move {
                let details = client.exchange_details(&exchange).await.map_err(|error| {
                    if error.is_ip_locked() {
                        Error::IpLocked { source: std::sync::Arc::new(error) }
                    } else {
                        Error::Freshness { exchange: exchange.clone(), source: Box::new(error) }
                    }
                })?;
                let exports = Exports {
                    exported_until: details.datasets.and_then(|datasets| datasets.exported_until),
                    incidents: details.incident_reports,
                };
                Ok::<_, Error>((exchange, exports))
            })
            .buffered(4)
            .try_collect()
            .await?;
        Ok(Freshness { exchanges: fetched.into_iter().collect() })
    }

    /// Returns an exchange's exports (nothing known when it was not fetched).
    pub fn of(&self, exchange: &str) -> Exports {
        self.exchanges.get(exchange).cloned().unwrap_or_default()
    }

    /// Returns the last day every exchange has exported whole, or `None` when one of them does not say.
    pub fn latest_common_day(&self) -> Option<NaiveDate> {
        self.exchanges
            .values()
            .map(Exports::last_exported_day)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    }

    /// Returns each exchange's `exportedUntil`, for manifests and reports.
    pub fn exported_until(&self) -> BTreeMap<String, DateTime<Utc>> {
        self.exchanges
            .iter()
            .filter_map(|(exchange, exports)| Some((exchange.clone(), exports.exported_until?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_day_is_exported_once_its_next_midnight_is() {
        let exports = Exports {
            exported_until: Some("2026-12-04T06:00:00Z".parse().unwrap()),
            incidents: vec![IncidentReport {
                from: "2026-12-02T23:30:00Z".parse().unwrap(),
                to: "2026-12-03T00:10:00Z".parse().unwrap(),
                status: "resolved".into(),
                details: "gap".into(),
            }],
        };
        assert!(exports.has_exported(day("2026-12-03")));
        assert!(!exports.has_exported(day("2026-12-04")));
        assert_eq!(exports.last_exported_day(), Some(day("2026-12-03")));
        assert!(exports.incident_on(day("2026-12-02")).is_some());
        assert!(exports.incident_on(day("2026-12-03")).is_some());
        assert!(exports.incident_on(day("2026-12-04")).is_none());
        let midnight =
            Exports { exported_until: Some("2026-12-04T00:00:00Z".parse().unwrap()), ..exports };
        assert!(midnight.has_exported(day("2026-12-03")));
        assert_eq!(midnight.last_exported_day(), Some(day("2026-12-03")));
        assert!(Exports::default().has_exported(day("2030-01-01")), "unknown: taken as exported");
    }

    #[test]
    fn latest_is_the_last_day_every_exchange_has() {
        let of = |until: &str| Exports {
            exported_until: Some(until.parse().unwrap()),
            incidents: vec![],
        };
        let freshness = Freshness {
            exchanges: BTreeMap::from([
                ("deribit".to_owned(), of("2026-12-04T06:00:00Z")),
                ("okex".to_owned(), of("2026-12-03T05:00:00Z")),
            ]),
        };
        assert_eq!(freshness.latest_common_day(), Some(day("2026-12-02")));
    }
}
