//! Tardis metadata as it arrives on the wire: `GET /v1/exchanges`, `GET /v1/exchanges/{id}` and `GET /v1/instruments/{id}`.
//!
//! These are plain serde types: the client parses the metadata calls' answers into them, and callers map them onto
//! their own models (`downloader` onto the `instruments` listing). The dataset-symbol normalisation of download URLs
//! ([`normalize_dataset_symbol`]) lives here too. Parsing is tolerant on purpose:
//! - unknown fields are ignored, so a new Tardis field never breaks a run;
//! - numbers that may arrive as JSON numbers or as strings are accepted either way ([`Decimal`]);
//! - unknown enum values (a new symbol `type`, a new `contractType`) are kept as [`SymbolType::Other`] or a plain string.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A decimal number from Tardis metadata, accepted as a JSON number or a JSON string.
///
/// Its `Display` is the shortest text that reads back as the same value, so `0.625`, `1500` and `85000`
/// print exactly like that, with no float noise and no trailing `.0`.
#[derive(Clone, Copy, PartialEq, PartialOrd, Default, Serialize)]
#[serde(transparent)]
pub struct Decimal(pub f64);

impl Decimal {
    /// Returns the value as `f64`.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rust's float formatting is already the shortest round-trip representation and never uses an exponent.
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumberOrString {
            Number(f64),
            String(String),
        }
        match NumberOrString::deserialize(deserializer)? {
            NumberOrString::Number(value) => Ok(Decimal(value)),
            NumberOrString::String(text) => text.trim().parse::<f64>().map(Decimal).map_err(|_| {
                serde::de::Error::custom(format!("expected a decimal number, got {text:?}"))
            }),
        }
    }
}

/// The kind of a Tardis symbol (`type` in the metadata).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolType {
    /// A spot pair.
    Spot,
    /// A perpetual swap.
    Perpetual,
    /// A dated future.
    Future,
    /// An option.
    Option,
    /// A combination (spread) of other instruments.
    Combo,
    /// A prediction market contract.
    Prediction,
    /// A type this version does not know; the text is kept.
    #[serde(untagged)]
    Other(String),
}

impl SymbolType {
    /// Returns the Tardis spelling (`spot`, `perpetual`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            SymbolType::Spot => "spot",
            SymbolType::Perpetual => "perpetual",
            SymbolType::Future => "future",
            SymbolType::Option => "option",
            SymbolType::Combo => "combo",
            SymbolType::Prediction => "prediction",
            SymbolType::Other(other) => other,
        }
    }
}

impl SymbolType {
    /// Returns the instrument type, or `None` for types without a key grammar (`prediction`, unknown types).
    pub fn instrument_type(&self) -> Option<md_config::InstrumentType> {
        md_config::InstrumentType::from_tardis(self.as_str())
    }
}

impl fmt::Display for SymbolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /v1/exchanges/{exchange}`: the free exchange details; also one entry of `GET /v1/exchanges`, which has the
/// same fields but the symbols, incidents and datasets (those stay empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeDetails {
    /// Tardis exchange id (`deribit`, `binance-futures`, ...).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Whether the exchange is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Whether CSV datasets exist for the exchange (given by `GET /v1/exchanges`).
    #[serde(default)]
    pub supports_datasets: Option<bool>,
    /// First day with data.
    pub available_since: Option<DateTime<Utc>>,
    /// Last day with data, for delisted exchanges.
    #[serde(default)]
    pub available_to: Option<DateTime<Utc>>,
    /// Exchange-native replay symbols (lower case on Binance); they have no data types.
    #[serde(default)]
    pub available_symbols: Vec<DatasetSymbol>,
    /// Periods Tardis reports as affected by an incident (missing or degraded data).
    #[serde(default)]
    pub incident_reports: Vec<IncidentReport>,
    /// What the CSV datasets hold.
    pub datasets: Option<Datasets>,
}

/// One entry of [`ExchangeDetails::incident_reports`]: a period Tardis reports as affected by an incident. The
/// downloader's plan marks each unit of a day it touches with it ([`IncidentReport::touches`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentReport {
    /// Start of the affected period.
    pub from: DateTime<Utc>,
    /// End of the affected period.
    pub to: DateTime<Utc>,
    /// `resolved`, `wontfix` or `unresolved` (kept as Tardis spells it).
    #[serde(default)]
    pub status: String,
    /// What happened.
    #[serde(default)]
    pub details: String,
}

impl IncidentReport {
    /// Returns whether the incident touches the UTC day `day`.
    pub fn touches(&self, day: NaiveDate) -> bool {
        let start = day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        let end = start + chrono::Duration::days(1);
        self.from < end && self.to > start
    }
}

/// One entry of `GET /v1/api-key-info`: what the key gives access to on one exchange.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyAccess {
    /// Tardis exchange id.
    pub exchange: String,
    /// Kind of access (`full`, `individual`, ...), as Tardis spells it.
    #[serde(default)]
    pub access_type: String,
    /// First moment covered.
    pub from: Option<DateTime<Utc>>,
    /// End of what is covered.
    pub to: Option<DateTime<Utc>>,
    /// The symbols covered; empty means all.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// The plan (`pro`, `business`, ...).
    #[serde(default)]
    pub data_plan: String,
}

/// The `datasets` section of [`ExchangeDetails`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasets {
    /// Available formats (always `csv` today).
    #[serde(default)]
    pub formats: Vec<String>,
    /// First exported moment.
    pub exported_from: Option<DateTime<Utc>>,
    /// Data is exported up to (excluding) this moment; day D is downloadable once `exported_until >= D + 1 day`.
    pub exported_until: Option<DateTime<Utc>>,
    /// Dataset symbols: upper-case dataset ids plus grouped ids (`OPTIONS`, `PERPETUALS`, ...).
    #[serde(default)]
    pub symbols: Vec<DatasetSymbol>,
}

/// One dataset symbol: what can be downloaded from `datasets.tardis.dev` for it; also one exchange-native symbol of
/// [`ExchangeDetails::available_symbols`] (the same fields without data types).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetSymbol {
    /// Dataset id (the symbol of download URLs), or a grouped id such as `OPTIONS`; for an exchange-native symbol,
    /// its exchange-native id.
    pub id: String,
    /// Symbol type.
    #[serde(rename = "type")]
    pub symbol_type: SymbolType,
    /// First moment with data.
    pub available_since: Option<DateTime<Utc>>,
    /// First moment without data (exclusive), if delisted.
    #[serde(default)]
    pub available_to: Option<DateTime<Utc>>,
    /// Data types Tardis has for this symbol (`trades`, `book_snapshot_5`, ...).
    #[serde(default)]
    pub data_types: Vec<String>,
}

impl DatasetSymbol {
    /// Returns whether this is a grouped pseudo-symbol (`OPTIONS`, `FUTURES`, `PERPETUALS`, `SPOT`, ...).
    pub fn is_grouped(&self) -> bool {
        GROUPED_SYMBOLS.contains(&self.id.as_str())
    }
}

/// The grouped dataset ids Tardis publishes beside real symbols; each row of such a file carries its real symbol.
pub const GROUPED_SYMBOLS: &[&str] = &["OPTIONS", "FUTURES", "PERPETUALS", "SPOT", "COMBOS"];

/// One instrument of `GET /v1/instruments/{exchange}` (needs an API key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentInfo {
    /// Exchange-native id (lower case on Binance).
    pub id: String,
    /// Dataset id used in download URLs, when it differs from `id`.
    #[serde(default)]
    pub dataset_id: Option<String>,
    /// Tardis exchange id.
    pub exchange: String,
    /// Base currency, normalised by Tardis (`XBT` is `BTC`).
    pub base_currency: String,
    /// Quote currency; for inverse options this is the premium currency.
    pub quote_currency: String,
    /// Instrument type.
    #[serde(rename = "type")]
    pub symbol_type: SymbolType,
    /// Whether the instrument is currently listed.
    #[serde(default)]
    pub active: bool,
    /// First moment with data.
    pub available_since: DateTime<Utc>,
    /// First moment without data (exclusive), if delisted or expired.
    #[serde(default)]
    pub available_to: Option<DateTime<Utc>>,
    /// Listing time at the exchange.
    #[serde(default)]
    pub listing: Option<DateTime<Utc>>,
    /// Expiry (UTC) of futures and options.
    #[serde(default)]
    pub expiry: Option<DateTime<Utc>>,
    /// Expiration cycle (`daily`, `weekly`, `quarter`, ...).
    #[serde(default)]
    pub expiration_type: Option<String>,
    /// The trading terms in force now (the fields `changes[]` entries also carry).
    #[serde(flatten)]
    pub terms: InstrumentTerms,
    /// Strike of an option.
    #[serde(default)]
    pub strike_price: Option<Decimal>,
    /// `call` or `put`.
    #[serde(default)]
    pub option_type: Option<String>,
    /// Margin mode, where the venue has several.
    #[serde(default)]
    pub margin_mode: Option<String>,
    /// History of changed values; each entry holds the values that applied until its `until`.
    #[serde(default)]
    pub changes: Vec<InstrumentChange>,
}

/// The trading terms of an instrument, as [`InstrumentInfo`] gives the current ones and each of its `changes[]`
/// entries the old ones (the same JSON fields in both). Every term is optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstrumentTerms {
    /// Contract type (`linear_perpetual`, `inverse_future`, `call_option`, ...), kept as Tardis spells it.
    pub contract_type: Option<String>,
    /// Underlying index.
    pub underlying_index: Option<String>,
    /// Underlying type (`native`, `equity`, ...).
    pub underlying_type: Option<String>,
    /// Tick size.
    pub price_increment: Option<Decimal>,
    /// Amount step.
    pub amount_increment: Option<Decimal>,
    /// Minimum order amount.
    pub min_trade_amount: Option<Decimal>,
    /// Minimum order notional.
    pub min_notional: Option<Decimal>,
    /// Maker fee rate.
    pub maker_fee: Option<Decimal>,
    /// Taker fee rate.
    pub taker_fee: Option<Decimal>,
    /// Whether the contract is inverse (settled in base).
    pub inverse: Option<bool>,
    /// Whether the contract is quanto.
    pub quanto: Option<bool>,
    /// Contract size.
    pub contract_multiplier: Option<Decimal>,
    /// Settlement currency, where it differs from the quote.
    pub settlement_currency: Option<String>,
}

/// One entry of [`InstrumentInfo::changes`]: the old values that applied **until** `until`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstrumentChange {
    /// The moment these values stopped applying.
    pub until: DateTime<Utc>,
    /// The old trading terms (`None`: unchanged).
    #[serde(flatten)]
    pub terms: InstrumentTerms,
    /// Old expiry.
    #[serde(default)]
    pub expiry: Option<DateTime<Utc>>,
    /// Old quote currency.
    #[serde(default)]
    pub quote_currency: Option<String>,
    /// Old type.
    #[serde(default, rename = "type")]
    pub symbol_type: Option<SymbolType>,
}

impl InstrumentInfo {
    /// Returns the dataset id used in download URLs: `datasetId` when present, else `id`, normalised as Tardis does
    /// (upper case, `:` and `/` replaced by `-`).
    pub fn dataset_symbol(&self) -> String {
        normalize_dataset_symbol(self.dataset_id.as_deref().unwrap_or(&self.id))
    }
}

/// Normalises a symbol the way the official clients do before putting it in a download URL:
/// upper case, with `:` and `/` replaced by `-` (percent-encoding happens later, in the URL).
pub fn normalize_dataset_symbol(symbol: &str) -> String {
    symbol
        .chars()
        .map(|c| if c == ':' || c == '/' { '-' } else { c.to_ascii_uppercase() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_accepts_numbers_and_strings_and_prints_without_noise() {
        for (json, shown) in [
            ("0.625", "0.625"),
            ("\"1500\"", "1500"),
            ("85000", "85000"),
            ("0.1", "0.1"),
            ("\"2.5e-4\"", "0.00025"),
        ] {
            let value: Decimal = serde_json::from_str(json).unwrap();
            assert_eq!(value.to_string(), shown, "{json}");
        }
        assert!(serde_json::from_str::<Decimal>("\"abc\"").is_err());
    }

    #[test]
    fn unknown_symbol_types_and_fields_do_not_break_parsing() {
        let symbol: DatasetSymbol = serde_json::from_str(
            r#"{"id":"X","type":"turbo","availableSince":"2024-01-01T00:00:00.000Z","dataTypes":["trades"],"brandNew":1}"#,
        )
        .unwrap();
        assert_eq!(symbol.symbol_type, SymbolType::Other("turbo".into()));
        assert_eq!(symbol.symbol_type.as_str(), "turbo");
    }

    #[test]
    fn dataset_symbol_normalisation() {
        for (raw, normalized) in [
            ("btcusdt", "BTCUSDT"),
            ("BTC/USD:BTC", "BTC-USD-BTC"),
            ("BTC-PERPETUAL", "BTC-PERPETUAL"),
        ] {
            assert_eq!(normalize_dataset_symbol(raw), normalized);
        }
    }
}
