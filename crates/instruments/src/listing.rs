//! What this crate is given: one exchange's listing, as keying and the daily definitions need it.
//!
//! The model is this crate's own, not the Tardis wire format: the orchestrator (`downloader::definitions`) fills it
//! from the metadata `tardis-client` fetches. It holds only what keys and records are made of:
//! - the exchange's dataset symbols (with their data types), its grouped dataset files and its exchange-native
//!   symbols, each with its type and availability ([`ListedSymbol`]);
//! - with an API key, the full metadata of each instrument ([`Instrument`]), whose trading [`Terms`] are given
//!   once for now and once per earlier period ([`TermsChange`]), the values in force on a day being read from both.
//!
//! Symbols are matched across these lists by their dataset symbol, which the orchestrator supplies already
//! normalised as in download URLs (upper case, `:` and `/` written `-`).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::key::{InstrumentType, OptionType};

/// One exchange's listing: its symbols and, when an API key is available, its instruments' full metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listing {
    /// Tardis exchange id (`deribit`, `binance-futures`).
    pub exchange: String,
    /// The exchange's first moment with data (Tardis `datasets.exportedFrom`, else the exchange's
    /// `availableSince`): the start of availability of symbols that give none.
    pub available_since: Option<DateTime<Utc>>,
    /// The dataset symbols (`datasets.symbols`) that name one instrument each, in Tardis' order.
    pub dataset_symbols: Vec<ListedSymbol>,
    /// The grouped dataset files (`OPTIONS`, `PERPETUALS`, ...), which hold many instruments each.
    pub groups: Vec<ListedSymbol>,
    /// The exchange-native replay symbols (`availableSymbols`; lower case on Binance); they have no data types.
    pub native_symbols: Vec<ListedSymbol>,
    /// The full instrument metadata (`GET /v1/instruments/{exchange}`), when an API key is available.
    pub instruments: Option<Vec<Instrument>>,
}

/// A symbol of a [`Listing`]: a dataset symbol, a grouped dataset file or an exchange-native symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedSymbol {
    /// The symbol as Tardis lists it.
    pub id: String,
    /// The symbol normalised as in download URLs: the name under which the lists of a listing meet.
    pub dataset_symbol: String,
    /// Its Tardis type.
    pub symbol_type: ListedType,
    /// First moment with data, if Tardis says.
    pub available_since: Option<DateTime<Utc>>,
    /// First moment without data (exclusive), if delisted.
    pub available_to: Option<DateTime<Utc>>,
    /// Data types Tardis has for the symbol (`trades`, `book_snapshot_5`, ...); empty for native symbols.
    pub data_types: Vec<String>,
}

/// The Tardis type of a symbol: an instrument type keys are made for, or a type without a key grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListedType {
    /// A type with a key grammar; [`InstrumentType::as_str`] is its Tardis spelling.
    Instrument(InstrumentType),
    /// A type without a key grammar (`prediction`, or one this version does not know), spelt as Tardis spells it.
    Other(String),
}

impl ListedType {
    /// Returns the instrument type, or `None` for a type without a key grammar.
    pub fn instrument_type(&self) -> Option<InstrumentType> {
        match self {
            ListedType::Instrument(kind) => Some(*kind),
            ListedType::Other(_) => None,
        }
    }

    /// Returns the Tardis spelling (`spot`, `perpetual`, `prediction`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            ListedType::Instrument(kind) => kind.as_str(),
            ListedType::Other(other) => other,
        }
    }
}

impl From<InstrumentType> for ListedType {
    fn from(kind: InstrumentType) -> Self {
        ListedType::Instrument(kind)
    }
}

impl fmt::Display for ListedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One instrument's full metadata: what its key and its daily records are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    /// Tardis exchange id.
    pub exchange: String,
    /// Exchange-native id (lower case on Binance).
    pub id: String,
    /// The dataset symbol of download URLs (Tardis `datasetId`, else `id`), normalised.
    pub dataset_symbol: String,
    /// Its Tardis type.
    pub symbol_type: ListedType,
    /// Base currency, normalised by Tardis (`XBT` is `BTC`).
    pub base_currency: String,
    /// Quote currency: the currency of prices, which for inverse options is the premium currency.
    pub quote_currency: String,
    /// First moment with data.
    pub available_since: DateTime<Utc>,
    /// First moment without data (exclusive), if delisted or expired.
    pub available_to: Option<DateTime<Utc>>,
    /// Expiry (UTC) of futures and options.
    pub expiry: Option<DateTime<Utc>>,
    /// Strike of an option.
    pub strike: Option<f64>,
    /// Call or put.
    pub option_type: Option<OptionType>,
    /// The trading terms in force now.
    pub terms: Terms,
    /// Earlier trading terms, in any order; each holds what differed until its `until`.
    pub changes: Vec<TermsChange>,
}

impl Instrument {
    /// Returns an instrument listed since `available_since` and still listed, with nothing known beyond its
    /// identity: no expiry, strike, option type, trading terms or changes. `id` is also its dataset symbol, as on
    /// venues whose ids are already upper case; set [`Instrument::dataset_symbol`] where they differ.
    pub fn new(
        exchange: &str,
        id: &str,
        symbol_type: impl Into<ListedType>,
        base_currency: &str,
        quote_currency: &str,
        available_since: DateTime<Utc>,
    ) -> Instrument {
        Instrument {
            exchange: exchange.to_owned(),
            id: id.to_owned(),
            dataset_symbol: id.to_owned(),
            symbol_type: symbol_type.into(),
            base_currency: base_currency.to_owned(),
            quote_currency: quote_currency.to_owned(),
            available_since,
            available_to: None,
            expiry: None,
            strike: None,
            option_type: None,
            terms: Terms::default(),
            changes: Vec::new(),
        }
    }
}

/// Trading terms of an instrument: what may change during its life. `None` is "not known" in current terms and
/// "unchanged" in a [`TermsChange`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Terms {
    /// Contract type (`linear_perpetual`, `call_option`, ...), as Tardis spells it.
    pub contract_type: Option<String>,
    /// Underlying index.
    pub underlying_index: Option<String>,
    /// Settlement currency, where Tardis gives it.
    pub settlement_currency: Option<String>,
    /// Whether the contract is inverse (settled in base).
    pub inverse: Option<bool>,
    /// Whether the contract is quanto.
    pub quanto: Option<bool>,
    /// Contract size (Tardis `contractMultiplier`).
    pub contract_size: Option<f64>,
    /// Tick size (Tardis `priceIncrement`).
    pub tick_size: Option<f64>,
    /// Amount step (Tardis `amountIncrement`).
    pub amount_increment: Option<f64>,
    /// Minimum order amount (Tardis `minTradeAmount`).
    pub min_size: Option<f64>,
    /// Minimum order notional.
    pub min_notional: Option<f64>,
    /// Maker fee rate.
    pub maker_fee: Option<f64>,
    /// Taker fee rate.
    pub taker_fee: Option<f64>,
}

impl Terms {
    /// Takes every term `earlier` sets: applied from the latest change to the earliest, this gives the terms a
    /// moment opened with.
    pub(crate) fn take_from(&mut self, earlier: &Terms) {
        macro_rules! take {
            ($($term:ident),*) => {$(
                if earlier.$term.is_some() {
                    self.$term.clone_from(&earlier.$term);
                }
            )*};
        }
        take!(
            contract_type,
            underlying_index,
            settlement_currency,
            inverse,
            quanto,
            contract_size,
            tick_size,
            amount_increment,
            min_size,
            min_notional,
            maker_fee,
            taker_fee
        );
    }
}

/// Trading terms that applied **until** `until` (Tardis `changes[]`); the terms it leaves `None` did not differ.
#[derive(Debug, Clone, PartialEq)]
pub struct TermsChange {
    /// The moment these terms stopped applying.
    pub until: DateTime<Utc>,
    /// The terms that differed before `until`.
    pub terms: Terms,
}
