//! Daily instrument definitions: for one exchange and one UTC day, the instruments available that day, keyed, with
//! the values in force that day.
//!
//! - **Day.** Day D is the UTC interval `[D 00:00, D+1 00:00)`. An instrument is available on D when its
//!   availability `[availableSince, availableTo)` (no `availableTo`: still listed) is non-empty and overlaps D:
//!   `availableSince < D+1 00:00` and `availableTo > D 00:00`. A future whose `availableTo` is D 08:00 (it expired
//!   that morning) is available on D; one whose `availableTo` is D 00:00 is not.
//! - **Values in force.** Each `changes[]` entry holds the old values that applied until its `until`. For day D,
//!   each field takes the value of the earliest change (by `until`) with `until > D 00:00` that sets the field, or
//!   the current (top-level) value when none does: the values the day opened with. A change at D 07:00 therefore
//!   shows on D+1, not on D. `expiry`, `type` and `quoteCurrency` changes are not applied: the key, and the expiry
//!   and currencies it spells, come from current metadata ([`crate::keying`]).
//! - **Sources.** With an API key: `GET /v1/instruments/{exchange}` ([`InstrumentInfo`]) gives every field, and the
//!   exchange details give `data_types`; dataset symbols without metadata fall back to the symbol parsers. Without
//!   one: the exchange details alone; base and quote come from [`crate::symbols`], and the trading parameters
//!   (tick size, fees, ...) are absent. Either way a symbol that cannot be keyed is returned in
//!   [`DayDefinitions::unparsed`], by name, never dropped and never given a guessed key.
//! - **Grouped files** (`OPTIONS`, `PERPETUALS`, `FUTURES`, `SPOT`, `COMBOS`) are not instruments: they are listed
//!   in [`DayDefinitions::groups`] under their [`GroupKey`].
//! - **Order.** Records are sorted by key text, groups by key text, unparsed symbols by dataset symbol.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::key::{GroupKey, InstrumentKey, InstrumentType, OptionType, Strike, yymmdd};
use crate::keying::{DaySpan, Listed, assign_variants, key_for_instrument, key_of_parsed};
use crate::symbols::{ParsedSymbol, parse_symbol};
use crate::tardis::{
    AvailableSymbol, DatasetSymbol, ExchangeDetails, InstrumentChange, InstrumentInfo, SymbolType,
    normalize_dataset_symbol,
};

/// Where a record's fields came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSource {
    /// Instrument metadata (`GET /v1/instruments`, needs an API key).
    Metadata,
    /// The exchange details and the venue's symbol parser (no API key).
    SymbolParser,
}

impl RecordSource {
    /// Returns `metadata` or `symbol_parser`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordSource::Metadata => "metadata",
            RecordSource::SymbolParser => "symbol_parser",
        }
    }
}

/// One instrument on one day: one row of `instruments.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstrumentRecord {
    /// The canonical key (`DERIBIT:OPTION:BTC-USD-261127-100000-CALL`).
    pub instrument_key: InstrumentKey,
    /// The key's venue (`DERIBIT`).
    pub venue: String,
    /// The key's type.
    pub instrument_type: InstrumentType,
    /// The key's SYMBOL (`BTC-USD-261127-100000-CALL`).
    pub canonical_symbol: String,
    /// Base asset.
    pub base_asset: String,
    /// Quote asset as in the key (for options: the strike currency).
    pub quote_asset: String,
    /// Currency of prices in the data files: Tardis `quoteCurrency` (`BTC` for Deribit BTC options).
    pub price_asset: Option<String>,
    /// Settlement currency: Tardis `settlementCurrency`, else the base for inverse and the price currency for
    /// linear contracts; `None` for spot and where unknown.
    pub settle_asset: Option<String>,
    /// Whether the contract is inverse; `None` for spot and where unknown.
    pub inverse: Option<bool>,
    /// Whether the contract is quanto.
    pub quanto: Option<bool>,
    /// Tardis `contractType` (`linear_perpetual`, `call_option`, ...).
    pub contract_type: Option<String>,
    /// Expiry date as `YYMMDD`.
    pub expiry: Option<String>,
    /// Expiry instant (UTC).
    pub expiry_time: Option<DateTime<Utc>>,
    /// Option strike.
    pub strike: Option<Strike>,
    /// Call or put.
    pub option_type: Option<OptionType>,
    /// Legs of a combo, as in the key.
    pub legs: Option<String>,
    /// Tardis `underlyingIndex`.
    pub underlying: Option<String>,
    /// Contract size (Tardis `contractMultiplier`).
    pub contract_size: Option<f64>,
    /// Tick size (Tardis `priceIncrement`).
    pub tick_size: Option<f64>,
    /// Amount step (Tardis `amountIncrement`).
    pub amount_increment: Option<f64>,
    /// Minimum order amount (Tardis `minTradeAmount`).
    pub min_size: Option<f64>,
    /// Minimum order notional (Tardis `minNotional`).
    pub min_notional: Option<f64>,
    /// Maker fee rate.
    pub maker_fee: Option<f64>,
    /// Taker fee rate.
    pub taker_fee: Option<f64>,
    /// Tardis exchange id (`deribit`).
    pub tardis_exchange: String,
    /// Dataset symbol: the symbol of download URLs (`BTCUSDT`).
    pub tardis_symbol: String,
    /// Tardis symbol type.
    pub tardis_symbol_type: SymbolType,
    /// Exchange-native id (`btcusdt` on Binance).
    pub exchange_raw_symbol: String,
    /// First moment with data.
    pub available_since: DateTime<Utc>,
    /// First moment without data (exclusive); `None` while listed.
    pub available_to: Option<DateTime<Utc>>,
    /// Data types Tardis has for the dataset symbol (`datasets.symbols[].dataTypes`); empty when it has none.
    pub data_types: Vec<String>,
    /// Where the fields came from.
    pub source: RecordSource,
}

/// A grouped dataset file (`OPTIONS`, ...) available on a day.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Its object name (`DERIBIT:OPTION:ALL`).
    pub object_key: GroupKey,
    /// Tardis exchange id.
    pub tardis_exchange: String,
    /// The grouped dataset symbol (`OPTIONS`).
    pub tardis_symbol: String,
    /// First moment with data.
    pub available_since: DateTime<Utc>,
    /// First moment without data (exclusive).
    pub available_to: Option<DateTime<Utc>>,
    /// Data types Tardis has for the group.
    pub data_types: Vec<String>,
}

/// A symbol that got no key, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    /// Tardis exchange id.
    pub tardis_exchange: String,
    /// The symbol (dataset id, or instrument id when it has none).
    pub tardis_symbol: String,
    /// Tardis symbol type.
    pub symbol_type: SymbolType,
    /// First moment with data, if known.
    pub available_since: Option<DateTime<Utc>>,
    /// First moment without data, if any.
    pub available_to: Option<DateTime<Utc>>,
    /// Why it got no key.
    pub error: Error,
}

/// The definitions of one exchange on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DayDefinitions {
    /// Tardis exchange id.
    pub exchange: String,
    /// The UTC day.
    pub day: NaiveDate,
    /// The instruments available on the day, sorted by key; keys are unique.
    pub records: Vec<InstrumentRecord>,
    /// The grouped files available on the day.
    pub groups: Vec<GroupRecord>,
    /// The symbols available on the day that got no key.
    pub unparsed: Vec<Unparsed>,
}

/// Returns whether `[since, to)` is non-empty and overlaps the UTC day `day` (see the module docs).
pub fn is_available_on(since: DateTime<Utc>, to: Option<DateTime<Utc>>, day: NaiveDate) -> bool {
    DaySpan::of(since, to)
        .is_some_and(|span| span.first <= day && span.last.is_none_or(|last| day <= last))
}

/// Returns the definitions of `details.id` on `day`; `instruments` is the metadata when an API key is available.
///
/// # Errors
/// [`Error::ExchangeMismatch`] when an instrument belongs to another exchange.
pub fn definitions_for_day(
    details: &ExchangeDetails,
    instruments: Option<&[InstrumentInfo]>,
    day: NaiveDate,
) -> Result<DayDefinitions> {
    Ok(Catalog::new(details, instruments)?.day(day))
}

/// Returns the definitions of every day from `first` to `last`, both inclusive.
///
/// # Errors
/// As [`definitions_for_day`].
pub fn definitions_for_range(
    details: &ExchangeDetails,
    instruments: Option<&[InstrumentInfo]>,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<DayDefinitions>> {
    Ok(Catalog::new(details, instruments)?.days(first, last).collect())
}

/// One exchange's instruments, keyed once over the whole listing; [`Catalog::day`] then cuts out any day.
#[derive(Debug, Clone)]
pub struct Catalog {
    exchange: String,
    entries: Vec<Entry>,
    groups: Vec<GroupRecord>,
    unparsed: Vec<Unparsed>,
}

#[derive(Debug, Clone)]
struct Entry {
    key_text: String,
    span: DaySpan,
    /// The record with current values.
    record: InstrumentRecord,
    /// `changes[]` sorted by `until`.
    changes: Vec<InstrumentChange>,
    /// Current `settlementCurrency`, before derivation.
    settlement_currency: Option<String>,
}

/// An instrument before its final key.
struct Candidate {
    record: InstrumentRecord,
    changes: Vec<InstrumentChange>,
    settlement_currency: Option<String>,
}

impl Catalog {
    /// Keys every instrument of the exchange.
    ///
    /// # Errors
    /// [`Error::ExchangeMismatch`] when an instrument belongs to another exchange.
    pub fn new(
        details: &ExchangeDetails,
        instruments: Option<&[InstrumentInfo]>,
    ) -> Result<Catalog> {
        let exchange = details.id.clone();
        let dataset_symbols: &[DatasetSymbol] =
            details.datasets.as_ref().map_or(&[], |d| &d.symbols);
        let fallback_since =
            details.datasets.as_ref().and_then(|d| d.exported_from).or(details.available_since);
        let mut datasets: HashMap<String, &DatasetSymbol> = HashMap::new();
        let mut groups = Vec::new();
        let mut unparsed = Vec::new();
        for symbol in dataset_symbols {
            if symbol.is_grouped() {
                match (grouped_record(&exchange, symbol, fallback_since), symbol.available_since) {
                    (Ok(group), _) => groups.push(group),
                    (Err(error), since) => unparsed.push(Unparsed {
                        tardis_exchange: exchange.clone(),
                        tardis_symbol: symbol.id.clone(),
                        symbol_type: symbol.symbol_type.clone(),
                        available_since: since,
                        available_to: symbol.available_to,
                        error,
                    }),
                }
            } else {
                datasets.entry(normalize_dataset_symbol(&symbol.id)).or_insert(symbol);
            }
        }
        let natives: HashMap<String, &AvailableSymbol> = details
            .available_symbols
            .iter()
            .map(|symbol| (normalize_dataset_symbol(&symbol.id), symbol))
            .collect();

        let mut candidates: Vec<Candidate> = Vec::new();
        let mut covered: HashSet<String> = HashSet::new();
        for info in instruments.unwrap_or_default() {
            if !info.exchange.eq_ignore_ascii_case(&exchange) {
                return Err(Error::ExchangeMismatch {
                    expected: exchange,
                    found: info.exchange.clone(),
                    symbol: info.id.clone(),
                });
            }
            let tardis_symbol = info.dataset_symbol();
            covered.insert(tardis_symbol.clone());
            let data_types = datasets.get(&tardis_symbol).map(|d| d.data_types.clone());
            match key_for_instrument(info) {
                Ok(core) => {
                    candidates.push(metadata_candidate(info, core, tardis_symbol, data_types))
                }
                Err(error) => unparsed.push(Unparsed {
                    tardis_exchange: exchange.clone(),
                    tardis_symbol,
                    symbol_type: info.symbol_type.clone(),
                    available_since: Some(info.available_since),
                    available_to: info.available_to,
                    error,
                }),
            }
        }
        // Dataset symbols without metadata, then replay symbols without a dataset: keyed from the symbol.
        let symbol_only = dataset_symbols
            .iter()
            .filter(|symbol| !symbol.is_grouped())
            .map(|symbol| SymbolOnly {
                tardis_symbol: symbol.id.clone(),
                native: natives.get(&normalize_dataset_symbol(&symbol.id)).copied(),
                dataset: Some(symbol),
            })
            .chain(details.available_symbols.iter().map(|native| SymbolOnly {
                tardis_symbol: normalize_dataset_symbol(&native.id),
                native: Some(native),
                dataset: None,
            }))
            .collect::<Vec<_>>();
        for symbol in symbol_only {
            if !covered.insert(normalize_dataset_symbol(&symbol.tardis_symbol)) {
                continue;
            }
            match symbol.candidate(&exchange, fallback_since) {
                Ok(candidate) => candidates.push(candidate),
                Err(unkeyed) => unparsed.push(*unkeyed),
            }
        }

        let mut keys: Vec<Result<InstrumentKey>> = candidates
            .iter()
            .map(|candidate| Ok(candidate.record.instrument_key.clone()))
            .collect();
        assign_variants(&exchange, &mut keys, |index| {
            let record = &candidates[index].record;
            Listed {
                tardis_symbol: Cow::Borrowed(&record.tardis_symbol),
                since: record.available_since,
                to: record.available_to,
            }
        });
        let mut entries = Vec::with_capacity(candidates.len());
        for (key, candidate) in keys.into_iter().zip(candidates) {
            let mut record = candidate.record;
            match key {
                Ok(key) => {
                    let Some(span) = DaySpan::of(record.available_since, record.available_to)
                    else {
                        // Never available: no day will list it.
                        continue;
                    };
                    record.venue = key.venue().to_owned();
                    record.instrument_type = key.instrument_type();
                    record.canonical_symbol = key.symbol().to_owned();
                    record.instrument_key = key;
                    entries.push(Entry {
                        key_text: record.instrument_key.to_string(),
                        span,
                        record,
                        changes: candidate.changes,
                        settlement_currency: candidate.settlement_currency,
                    });
                }
                Err(error) => unparsed.push(Unparsed {
                    tardis_exchange: exchange.clone(),
                    tardis_symbol: record.tardis_symbol,
                    symbol_type: record.tardis_symbol_type,
                    available_since: Some(record.available_since),
                    available_to: record.available_to,
                    error,
                }),
            }
        }
        entries.sort_by(|a, b| a.key_text.cmp(&b.key_text).then(a.span.first.cmp(&b.span.first)));
        groups.sort_by_cached_key(|group| group.object_key.to_string());
        unparsed.sort_by(|a, b| a.tardis_symbol.cmp(&b.tardis_symbol));
        Ok(Catalog { exchange, entries, groups, unparsed })
    }

    /// Returns the Tardis exchange id.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// Returns every keyed instrument with its current values, sorted by key.
    pub fn records(&self) -> impl Iterator<Item = &InstrumentRecord> {
        self.entries.iter().map(|entry| &entry.record)
    }

    /// Returns every symbol that got no key, over the whole listing, sorted by symbol.
    pub fn unparsed(&self) -> &[Unparsed] {
        &self.unparsed
    }

    /// Returns every grouped file, over the whole listing.
    pub fn groups(&self) -> &[GroupRecord] {
        &self.groups
    }

    /// Returns the definitions of one UTC day.
    pub fn day(&self, day: NaiveDate) -> DayDefinitions {
        let Some(start) = day.and_hms_opt(0, 0, 0).map(|start| start.and_utc()) else {
            return DayDefinitions {
                exchange: self.exchange.clone(),
                day,
                records: Vec::new(),
                groups: Vec::new(),
                unparsed: Vec::new(),
            };
        };
        let records = self
            .entries
            .iter()
            .filter(|entry| {
                entry.span.first <= day && entry.span.last.is_none_or(|last| day <= last)
            })
            .map(|entry| entry.record_on(start))
            .collect();
        let groups = self
            .groups
            .iter()
            .filter(|group| is_available_on(group.available_since, group.available_to, day))
            .cloned()
            .collect();
        let unparsed = self
            .unparsed
            .iter()
            .filter(|symbol| match symbol.available_since {
                Some(since) => is_available_on(since, symbol.available_to, day),
                None => true,
            })
            .cloned()
            .collect();
        DayDefinitions { exchange: self.exchange.clone(), day, records, groups, unparsed }
    }

    /// Returns the definitions of every day from `first` to `last`, both inclusive.
    pub fn days(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> impl Iterator<Item = DayDefinitions> + '_ {
        first.iter_days().take_while(move |day| *day <= last).map(|day| self.day(day))
    }
}

impl Entry {
    fn record_on(&self, start: DateTime<Utc>) -> InstrumentRecord {
        let mut record = self.record.clone();
        let first_active = self.changes.partition_point(|change| change.until <= start);
        let active = &self.changes[first_active..];
        macro_rules! in_force {
            ($field:ident) => {
                active.iter().find_map(|change| change.$field.clone())
            };
        }
        if let Some(value) = in_force!(price_increment) {
            record.tick_size = Some(value.get());
        }
        if let Some(value) = in_force!(amount_increment) {
            record.amount_increment = Some(value.get());
        }
        if let Some(value) = in_force!(contract_multiplier) {
            record.contract_size = Some(value.get());
        }
        if let Some(value) = in_force!(min_trade_amount) {
            record.min_size = Some(value.get());
        }
        if let Some(value) = in_force!(min_notional) {
            record.min_notional = Some(value.get());
        }
        if let Some(value) = in_force!(maker_fee) {
            record.maker_fee = Some(value.get());
        }
        if let Some(value) = in_force!(taker_fee) {
            record.taker_fee = Some(value.get());
        }
        if let Some(value) = in_force!(quanto) {
            record.quanto = Some(value);
        }
        if let Some(value) = in_force!(inverse) {
            record.inverse = Some(value);
        }
        if let Some(value) = in_force!(underlying_index) {
            record.underlying = Some(value);
        }
        if let Some(value) = in_force!(contract_type) {
            record.contract_type = Some(value);
        }
        if record.source == RecordSource::Metadata {
            let settlement =
                in_force!(settlement_currency).or_else(|| self.settlement_currency.clone());
            record.settle_asset = settle_asset(
                record.instrument_type,
                settlement.as_deref(),
                record.inverse,
                &record.base_asset,
                record.price_asset.as_deref(),
            );
        }
        record
    }
}

fn settle_asset(
    kind: InstrumentType,
    settlement_currency: Option<&str>,
    inverse: Option<bool>,
    base: &str,
    price_asset: Option<&str>,
) -> Option<String> {
    if kind == InstrumentType::Spot {
        return None;
    }
    match (settlement_currency, inverse) {
        (Some(currency), _) => Some(currency.to_ascii_uppercase()),
        (None, Some(true)) => Some(base.to_owned()),
        (None, Some(false)) => price_asset.map(str::to_owned),
        (None, None) => None,
    }
}

fn grouped_record(
    exchange: &str,
    symbol: &DatasetSymbol,
    fallback_since: Option<DateTime<Utc>>,
) -> Result<GroupRecord> {
    let object_key = crate::key::grouped_object_key(exchange, &symbol.id)?;
    let available_since =
        symbol.available_since.or(fallback_since).ok_or_else(|| Error::Unkeyable {
            exchange: exchange.to_owned(),
            symbol: symbol.id.clone(),
            reason: "Tardis gives no availableSince".into(),
        })?;
    Ok(GroupRecord {
        object_key,
        tardis_exchange: exchange.to_owned(),
        tardis_symbol: symbol.id.clone(),
        available_since,
        available_to: symbol.available_to,
        data_types: symbol.data_types.clone(),
    })
}

fn metadata_candidate(
    info: &InstrumentInfo,
    core: InstrumentKey,
    tardis_symbol: String,
    data_types: Option<Vec<String>>,
) -> Candidate {
    let decimal = |value: Option<crate::tardis::Decimal>| value.map(|value| value.get());
    let price_asset = Some(info.quote_currency.to_ascii_uppercase());
    let mut changes = info.changes.clone();
    changes.sort_by_key(|change| change.until);
    let record = InstrumentRecord {
        venue: core.venue().to_owned(),
        instrument_type: core.instrument_type(),
        canonical_symbol: core.symbol().to_owned(),
        base_asset: core.base().to_owned(),
        quote_asset: core.quote().to_owned(),
        settle_asset: settle_asset(
            core.instrument_type(),
            info.settlement_currency.as_deref(),
            info.inverse,
            core.base(),
            price_asset.as_deref(),
        ),
        price_asset,
        inverse: info.inverse,
        quanto: info.quanto,
        contract_type: info.contract_type.clone(),
        expiry: core
            .expiry_code()
            .or_else(|| info.expiry.map(|expiry| yymmdd(expiry.date_naive()))),
        expiry_time: info.expiry,
        strike: core.strike(),
        option_type: core.option_type(),
        legs: core.legs().map(str::to_owned),
        underlying: info.underlying_index.clone(),
        contract_size: decimal(info.contract_multiplier),
        tick_size: decimal(info.price_increment),
        amount_increment: decimal(info.amount_increment),
        min_size: decimal(info.min_trade_amount),
        min_notional: decimal(info.min_notional),
        maker_fee: decimal(info.maker_fee),
        taker_fee: decimal(info.taker_fee),
        tardis_exchange: info.exchange.clone(),
        tardis_symbol: tardis_symbol.clone(),
        tardis_symbol_type: info.symbol_type.clone(),
        exchange_raw_symbol: info.id.clone(),
        available_since: info.available_since,
        available_to: info.available_to,
        data_types: data_types.unwrap_or_default(),
        source: RecordSource::Metadata,
        instrument_key: core,
    };
    Candidate { record, changes, settlement_currency: info.settlement_currency.clone() }
}

/// A symbol known only from the exchange details.
struct SymbolOnly<'a> {
    tardis_symbol: String,
    native: Option<&'a AvailableSymbol>,
    dataset: Option<&'a DatasetSymbol>,
}

impl SymbolOnly<'_> {
    fn candidate(
        &self,
        exchange: &str,
        fallback_since: Option<DateTime<Utc>>,
    ) -> std::result::Result<Candidate, Box<Unparsed>> {
        let symbol_type = self
            .dataset
            .map(|d| d.symbol_type.clone())
            .or_else(|| self.native.map(|n| n.symbol_type.clone()))
            .unwrap_or(SymbolType::Other(String::new()));
        let since = self
            .dataset
            .and_then(|d| d.available_since)
            .or_else(|| self.native.and_then(|n| n.available_since));
        let to = match self.dataset {
            Some(dataset) => dataset.available_to,
            None => self.native.and_then(|n| n.available_to),
        };
        let unparsed = |error: Error, since: Option<DateTime<Utc>>| {
            Box::new(Unparsed {
                tardis_exchange: exchange.to_owned(),
                tardis_symbol: self.tardis_symbol.clone(),
                symbol_type: symbol_type.clone(),
                available_since: since,
                available_to: to,
                error,
            })
        };
        let parsed: ParsedSymbol = parse_symbol(exchange, &self.tardis_symbol, &symbol_type)
            .map_err(|error| unparsed(error, since))?;
        let core = key_of_parsed(exchange, &self.tardis_symbol, &parsed)
            .map_err(|error| unparsed(error, since))?;
        let since = since.or(fallback_since).ok_or_else(|| {
            unparsed(
                Error::Unkeyable {
                    exchange: exchange.to_owned(),
                    symbol: self.tardis_symbol.clone(),
                    reason: "Tardis gives no availableSince".into(),
                },
                None,
            )
        })?;
        let record = InstrumentRecord {
            venue: core.venue().to_owned(),
            instrument_type: core.instrument_type(),
            canonical_symbol: core.symbol().to_owned(),
            base_asset: core.base().to_owned(),
            quote_asset: core.quote().to_owned(),
            price_asset: parsed.price_asset,
            settle_asset: parsed.settle,
            inverse: parsed.inverse,
            quanto: None,
            contract_type: None,
            expiry: core.expiry_code(),
            expiry_time: parsed.expiry_time,
            strike: core.strike(),
            option_type: core.option_type(),
            legs: core.legs().map(str::to_owned),
            underlying: None,
            contract_size: None,
            tick_size: None,
            amount_increment: None,
            min_size: None,
            min_notional: None,
            maker_fee: None,
            taker_fee: None,
            tardis_exchange: exchange.to_owned(),
            tardis_symbol: self.tardis_symbol.clone(),
            tardis_symbol_type: symbol_type,
            exchange_raw_symbol: self
                .native
                .map_or_else(|| self.tardis_symbol.clone(), |n| n.id.clone()),
            available_since: since,
            available_to: to,
            data_types: self.dataset.map(|d| d.data_types.clone()).unwrap_or_default(),
            source: RecordSource::SymbolParser,
            instrument_key: core,
        };
        Ok(Candidate { record, changes: Vec::new(), settlement_currency: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn details(json: &str) -> ExchangeDetails {
        serde_json::from_str(json).unwrap()
    }

    const FUTURES: &str = r#"{
        "id": "binance-futures",
        "availableSince": "2019-11-17T00:00:00.000Z",
        "availableSymbols": [
            {"id": "btcusdt", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z"},
            {"id": "ltcusdt", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z"}
        ],
        "datasets": {"exportedUntil": "2026-11-24T00:00:00.000Z", "symbols": [
            {"id": "PERPETUALS", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z", "dataTypes": ["trades"]},
            {"id": "BTCUSDT", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z", "dataTypes": ["trades", "quotes"]},
            {"id": "BTCUSDT_250926", "type": "future", "availableSince": "2025-03-28T00:00:00.000Z",
             "availableTo": "2025-09-26T08:00:00.000Z", "dataTypes": ["trades"]},
            {"id": "WEIRD", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z", "dataTypes": ["trades"]}
        ]}
    }"#;

    const BTCUSDT: &str = r#"[{
        "id": "btcusdt", "datasetId": "BTCUSDT", "exchange": "binance-futures", "baseCurrency": "BTC",
        "quoteCurrency": "USDT", "type": "perpetual", "contractType": "linear_perpetual", "active": true,
        "availableSince": "2019-11-17T00:00:00.000Z", "priceIncrement": 0.1, "minNotional": 100, "inverse": false,
        "changes": [
            {"until": "2023-11-30T08:00:00.000Z", "minNotional": 5},
            {"until": "2021-05-26T07:00:00.000Z", "priceIncrement": 0.01}
        ]
    }]"#;

    fn btcusdt_on(catalog: &Catalog, day: &str) -> InstrumentRecord {
        let definitions = catalog.day(date(day));
        definitions
            .records
            .into_iter()
            .find(|r| r.tardis_symbol == "BTCUSDT")
            .expect("BTCUSDT listed")
    }

    #[test]
    fn changes_apply_per_field_with_the_values_the_day_opened_with() {
        let instruments: Vec<InstrumentInfo> = serde_json::from_str(BTCUSDT).unwrap();
        let catalog = Catalog::new(&details(FUTURES), Some(&instruments)).unwrap();
        // (day, tick size, min notional)
        for (day, tick, notional) in [
            ("2020-01-01", 0.01, 5.0),
            ("2021-05-26", 0.01, 5.0), // the tick changed at 07:00 that day: the day opened with the old one
            ("2021-05-27", 0.1, 5.0),
            ("2023-11-30", 0.1, 5.0),
            ("2023-12-01", 0.1, 100.0),
        ] {
            let record = btcusdt_on(&catalog, day);
            assert_eq!(
                (record.tick_size, record.min_notional),
                (Some(tick), Some(notional)),
                "{day}"
            );
        }
        let record = btcusdt_on(&catalog, "2024-01-01");
        assert_eq!(record.settle_asset.as_deref(), Some("USDT"));
        assert_eq!(record.data_types, ["trades", "quotes"]);
        assert_eq!(record.exchange_raw_symbol, "btcusdt");
        assert_eq!(record.source, RecordSource::Metadata);
    }

    #[test]
    fn availability_is_the_utc_day_with_an_exclusive_end() {
        let catalog = Catalog::new(&details(FUTURES), None).unwrap();
        let listed = |day: &str| {
            catalog
                .day(date(day))
                .records
                .iter()
                .any(|record| record.tardis_symbol == "BTCUSDT_250926")
        };
        assert!(!listed("2025-03-27"));
        assert!(listed("2025-03-28"));
        assert!(listed("2025-09-26"), "expired at 08:00 on the day: still available that day");
        assert!(!listed("2025-09-27"));
        assert!(is_available_on(time("2025-01-01T23:59:00Z"), None, date("2025-01-01")));
        assert!(!is_available_on(
            time("2025-01-01T00:00:00Z"),
            Some(time("2025-01-01T00:00:00Z")),
            date("2025-01-01")
        ));
        assert!(!is_available_on(time("2025-01-02T00:00:00Z"), None, date("2025-01-01")));
    }

    #[test]
    fn the_no_key_path_reports_what_it_cannot_parse_and_lists_groups() {
        let catalog = Catalog::new(&details(FUTURES), None).unwrap();
        let day = catalog.day(date("2025-06-01"));
        let keys: Vec<String> = day.records.iter().map(|r| r.instrument_key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "BINANCE-FUTURES:FUTURE:BTC-USDT-250926",
                "BINANCE-FUTURES:PERP:BTC-USDT",
                "BINANCE-FUTURES:PERP:LTC-USDT",
            ]
        );
        let ltc = &day.records[2];
        assert_eq!(
            (ltc.tardis_symbol.as_str(), ltc.exchange_raw_symbol.as_str()),
            ("LTCUSDT", "ltcusdt")
        );
        assert!(ltc.data_types.is_empty(), "a replay-only symbol has no dataset types");
        let unparsed: Vec<&str> = day.unparsed.iter().map(|u| u.tardis_symbol.as_str()).collect();
        assert_eq!(unparsed, ["WEIRD"]);
        assert!(matches!(day.unparsed[0].error, Error::UnparsedSymbol { .. }));
        assert_eq!(day.groups.len(), 1);
        assert_eq!(day.groups[0].object_key.to_string(), "BINANCE-FUTURES:PERP:ALL");
        assert_eq!(day.groups[0].data_types, ["trades"]);
    }

    #[test]
    fn metadata_of_another_exchange_is_refused() {
        let mut instruments: Vec<InstrumentInfo> = serde_json::from_str(BTCUSDT).unwrap();
        instruments[0].exchange = "binance".into();
        assert!(matches!(
            Catalog::new(&details(FUTURES), Some(&instruments)),
            Err(Error::ExchangeMismatch { .. })
        ));
    }

    #[test]
    fn range_is_inclusive() {
        let days =
            definitions_for_range(&details(FUTURES), None, date("2025-09-25"), date("2025-09-27"))
                .unwrap();
        let days: Vec<(String, usize)> =
            days.iter().map(|d| (d.day.to_string(), d.records.len())).collect();
        assert_eq!(
            days,
            [("2025-09-25".into(), 3), ("2025-09-26".into(), 3), ("2025-09-27".into(), 2)]
        );
    }
}
