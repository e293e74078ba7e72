//! The metadata fixtures (copied from `shared/tardis/fixtures`), compiled in so the stand-in runs from anywhere.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../fixtures/tardis/exchange_", $name, ".json")),
            include_str!(concat!("../../fixtures/tardis/instruments_", $name, ".json")),
        )
    };
}

/// `(exchange, exchange details JSON, instruments JSON)` for every exchange with fixtures: the metadata the
/// stand-in serves, for tests that need it without a server.
pub const EXCHANGES: &[(&str, &str, &str)] = &[
    fixture!("binance"),
    fixture!("binance-delivery"),
    fixture!("binance-futures"),
    fixture!("bitmex"),
    fixture!("bybit"),
    fixture!("bybit-options"),
    fixture!("bybit-spot"),
    fixture!("deribit"),
    fixture!("okex"),
    fixture!("okex-futures"),
    fixture!("okex-options"),
    fixture!("okex-swap"),
];

/// `GET /v1/exchanges`.
pub(crate) const EXCHANGE_LIST: &str = include_str!("../../fixtures/tardis/exchanges.json");

/// The parsed fixtures.
#[derive(Debug)]
pub(crate) struct Fixtures {
    exchanges: Vec<Exchange>,
}

#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) id: &'static str,
    pub(crate) details: &'static str,
    pub(crate) instruments: Value,
    pub(crate) exported_until: Option<DateTime<Utc>>,
    pub(crate) symbols: Vec<DatasetSymbol>,
}

#[derive(Debug)]
pub(crate) struct DatasetSymbol {
    pub(crate) id: String,
    pub(crate) symbol_type: String,
    pub(crate) available_since: Option<DateTime<Utc>>,
    pub(crate) available_to: Option<DateTime<Utc>>,
    pub(crate) data_types: Vec<String>,
}

fn date_field(value: &Value, field: &str) -> Option<DateTime<Utc>> {
    value.get(field)?.as_str()?.parse().ok()
}

impl Fixtures {
    pub(crate) fn load() -> Self {
        let exchanges = EXCHANGES
            .iter()
            .map(|(id, details, instruments)| {
                let parsed: Value = serde_json::from_str(details).expect("fixture JSON");
                let datasets = &parsed["datasets"];
                let symbols = datasets["symbols"]
                    .as_array()
                    .map(|symbols| {
                        symbols
                            .iter()
                            .map(|symbol| DatasetSymbol {
                                id: symbol["id"].as_str().unwrap_or_default().to_owned(),
                                symbol_type: symbol["type"].as_str().unwrap_or_default().to_owned(),
                                available_since: date_field(symbol, "availableSince"),
                                available_to: date_field(symbol, "availableTo"),
                                data_types: symbol["dataTypes"]
                                    .as_array()
                                    .map(|types| {
                                        types
                                            .iter()
                                            .filter_map(|t| t.as_str().map(str::to_owned))
                                            .collect()
                                    })
                                    .unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Exchange {
                    id,
                    details,
                    instruments: serde_json::from_str(instruments).expect("fixture JSON"),
                    exported_until: date_field(datasets, "exportedUntil"),
                    symbols,
                }
            })
            .collect();
        Fixtures { exchanges }
    }

    pub(crate) fn exchange(&self, id: &str) -> Option<&Exchange> {
        self.exchanges.iter().find(|exchange| exchange.id == id)
    }
}

impl Exchange {
    pub(crate) fn symbol(&self, id: &str) -> Option<&DatasetSymbol> {
        self.symbols.iter().find(|symbol| symbol.id == id)
    }

    /// The real symbols a grouped file's rows carry.
    pub(crate) fn row_symbols(&self, grouped: &str, date: NaiveDate) -> Vec<String> {
        let symbol_type = match grouped {
            "OPTIONS" => return super::generate::option_symbols(self.id, date),
            "PERPETUALS" => "perpetual",
            "FUTURES" => "future",
            "SPOT" => "spot",
            "COMBOS" => "combo",
            _ => return Vec::new(),
        };
        let real: Vec<String> = self
            .symbols
            .iter()
            .filter(|symbol| symbol.symbol_type == symbol_type && symbol.id != grouped)
            .map(|symbol| symbol.id.clone())
            .collect();
        if real.is_empty() { vec![format!("{}-{grouped}", self.id.to_uppercase())] } else { real }
    }
}

impl DatasetSymbol {
    /// Whether the symbol has `data_type` on `date`.
    pub(crate) fn available(
        &self,
        data_type: &str,
        date: NaiveDate,
        exported_until: Option<DateTime<Utc>>,
    ) -> bool {
        let start = date.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let end = start + chrono::Duration::days(1);
        self.data_types.iter().any(|t| t == data_type)
            && self.available_since.is_none_or(|since| since < end)
            && self.available_to.is_none_or(|to| to > start)
            && exported_until.is_none_or(|until| until >= end)
    }
}

/// Applies an instruments `filter` as TARDIS.md assumes the server does: membership, case-insensitive values,
/// `availableTo >= filter.availableSince` and `availableSince <= filter.availableTo`, unknown keys ignored.
pub(crate) fn filter_instruments(instruments: &Value, filter: Option<&Value>) -> Value {
    let Some(list) = instruments.as_array() else { return Value::Array(Vec::new()) };
    let Some(filter) = filter.and_then(Value::as_object) else { return instruments.clone() };
    let kept = list
        .iter()
        .filter(|instrument| {
            for key in ["baseCurrency", "quoteCurrency", "type", "contractType", "underlyingType"] {
                let Some(wanted) = filter.get(key) else { continue };
                let wanted: Vec<&str> = match wanted {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                    _ => continue,
                };
                let value = instrument.get(key).and_then(Value::as_str).unwrap_or_default();
                if !wanted.iter().any(|w| w.eq_ignore_ascii_case(value)) {
                    return false;
                }
            }
            if let Some(active) = filter.get("active").and_then(Value::as_bool)
                && instrument.get("active").and_then(Value::as_bool) != Some(active)
            {
                return false;
            }
            if let Some(since) =
                filter.get("availableSince").and_then(|v| v.as_str()?.parse::<DateTime<Utc>>().ok())
                && date_field(instrument, "availableTo").is_some_and(|to| to < since)
            {
                return false;
            }
            if let Some(to) =
                filter.get("availableTo").and_then(|v| v.as_str()?.parse::<DateTime<Utc>>().ok())
                && date_field(instrument, "availableSince").is_some_and(|since| since > to)
            {
                return false;
            }
            true
        })
        .cloned()
        .collect();
    Value::Array(kept)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The copy in `fixtures/tardis` must equal `shared/tardis/fixtures` (beside the repository) when that exists.
    #[test]
    fn fixture_copy_matches_shared_fixtures() {
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tardis");
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tardis/fixtures");
        if !shared.is_dir() {
            // Outside the project's checkout layout there is nothing to compare with; the copy is authoritative.
            return;
        }
        let list = |root: &Path| -> Vec<String> {
            let mut names = Vec::new();
            for sub in ["", "csv"] {
                for entry in std::fs::read_dir(root.join(sub)).expect("readable fixtures") {
                    let entry = entry.expect("entry");
                    if entry.file_type().expect("type").is_file() {
                        names.push(format!("{sub}/{}", entry.file_name().to_string_lossy()));
                    }
                }
            }
            names.sort();
            names
        };
        let names = list(&shared);
        assert_eq!(
            list(&ours),
            names,
            "the fixture copy lists other files than shared/tardis/fixtures"
        );
        for name in &names {
            let a = std::fs::read(ours.join(name.trim_start_matches('/'))).expect("read copy");
            let b = std::fs::read(shared.join(name.trim_start_matches('/'))).expect("read shared");
            assert!(a == b, "fixtures/tardis{name} differs from shared/tardis/fixtures{name}");
        }
    }

    #[test]
    fn every_fixture_parses_and_grouped_symbols_have_real_rows() {
        let fixtures = Fixtures::load();
        let deribit = fixtures.exchange("deribit").expect("deribit");
        let date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
        assert!(deribit.row_symbols("PERPETUALS", date).contains(&"BTC-PERPETUAL".to_owned()));
        let perpetual = deribit.symbol("BTC-PERPETUAL").unwrap();
        assert!(perpetual.available("trades", date, deribit.exported_until));
        assert!(!perpetual.available("options_chain", date, deribit.exported_until));
        let before = NaiveDate::from_ymd_opt(2019, 3, 29).unwrap();
        assert!(!perpetual.available("trades", before, deribit.exported_until));
        for (id, _, _) in EXCHANGES {
            assert!(
                fixtures.exchange(id).is_some_and(|exchange| !exchange.symbols.is_empty()),
                "{id}"
            );
        }
    }
}
