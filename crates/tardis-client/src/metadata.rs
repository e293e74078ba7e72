//! The metadata API: the instrument filter, and the in-process cache of metadata responses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::InstrumentInfo;

/// The `filter` of `GET /v1/instruments/{exchange}`.
///
/// Empty lists and `None` mean "any". Values are matched case-insensitively; a list means "any of". The server's
/// matching is undocumented, so the client applies the filter again to what comes back ([`InstrumentFilter::matches`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentFilter {
    /// Base currencies (`BTC`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base_currency: Vec<String>,
    /// Quote currencies.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub quote_currency: Vec<String>,
    /// Instrument types (`spot`, `perpetual`, `future`, `option`, `combo`).
    #[serde(rename = "type", skip_serializing_if = "Vec::is_empty")]
    pub symbol_type: Vec<String>,
    /// Contract types (`linear_perpetual`, `call_option`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contract_type: Vec<String>,
    /// Underlying types (`native`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub underlying_type: Vec<String>,
    /// Only active (or only inactive) instruments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Keep instruments still available at or after this moment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_since: Option<DateTime<Utc>>,
    /// Keep instruments already available at or before this moment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_to: Option<DateTime<Utc>>,
}

impl InstrumentFilter {
    /// Returns whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == InstrumentFilter::default()
    }

    /// Returns the filter as the JSON text of the `filter` query parameter.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the filter always serializes")
    }

    /// Returns whether `instrument` passes the filter.
    pub fn matches(&self, instrument: &InstrumentInfo) -> bool {
        fn any_of(wanted: &[String], value: Option<&str>) -> bool {
            wanted.is_empty()
                || value.is_some_and(|value| wanted.iter().any(|w| w.eq_ignore_ascii_case(value)))
        }
        any_of(&self.base_currency, Some(&instrument.base_currency))
            && any_of(&self.quote_currency, Some(&instrument.quote_currency))
            && any_of(&self.symbol_type, Some(instrument.symbol_type.as_str()))
            && any_of(&self.contract_type, instrument.terms.contract_type.as_deref())
            && any_of(&self.underlying_type, instrument.terms.underlying_type.as_deref())
            && self.active.is_none_or(|active| instrument.active == active)
            && self
                .available_since
                .is_none_or(|since| instrument.available_to.is_none_or(|to| to >= since))
            && self.available_to.is_none_or(|to| instrument.available_since <= to)
    }
}

/// Metadata response bodies kept for a while, keyed by URL.
#[derive(Debug)]
pub(crate) struct MetadataCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Bytes)>>,
}

impl MetadataCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        MetadataCache { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, url: &str) -> Option<Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(url) {
            Some((stored, body)) if stored.elapsed() < self.ttl => Some(body.clone()),
            Some(_) => {
                entries.remove(url);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, url: &str, body: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.insert(url.to_owned(), (Instant::now(), body));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instrument(json: &str) -> InstrumentInfo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn filter_serializes_only_what_is_set_and_matches_case_insensitively() {
        let filter = InstrumentFilter {
            base_currency: vec!["btc".into()],
            symbol_type: vec!["perpetual".into(), "future".into()],
            active: Some(true),
            ..InstrumentFilter::default()
        };
        assert_eq!(
            filter.to_json(),
            r#"{"baseCurrency":["btc"],"type":["perpetual","future"],"active":true}"#
        );
        let perp = instrument(
            r#"{"id":"BTC-PERPETUAL","exchange":"deribit","baseCurrency":"BTC","quoteCurrency":"USD",
                "type":"perpetual","active":true,"availableSince":"2019-03-30T00:00:00.000Z"}"#,
        );
        assert!(filter.matches(&perp));
        assert!(!InstrumentFilter { active: Some(false), ..filter.clone() }.matches(&perp));
        assert!(!InstrumentFilter { quote_currency: vec!["usdt".into()], ..filter }.matches(&perp));
        assert!(InstrumentFilter::default().is_empty());
    }
}
