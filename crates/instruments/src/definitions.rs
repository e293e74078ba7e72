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
//! - **Sources.** With an API key: the listing's [`Instrument`]s (Tardis `GET /v1/instruments/{exchange}`) give
//!   every field, and its dataset symbols give `data_types`; dataset symbols without metadata fall back to the symbol
//!   parsers. Without one: the listing's symbols alone (Tardis' free exchange details); base and quote come from
//!   [`crate::symbols`], and the trading terms (tick size, fees, ...) are absent. Either way a symbol that cannot be
//!   keyed is returned in [`DayDefinitions::unparsed`], by name, never dropped and never given a guessed key.
//! - **Grouped files** (`OPTIONS`, `PERPETUALS`, `FUTURES`, `SPOT`, `COMBOS`) are not instruments: they are listed
//!   in [`DayDefinitions::groups`] under their [`GroupKey`].
//! - **Order.** Records are sorted by key text, groups by key text, unparsed symbols by dataset symbol.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::key::{GroupKey, InstrumentKey, InstrumentType, OptionType, Strike, yymmdd};
use crate::keying::{DaySpan, Listed, assign_variants, key_for_instrument, key_of_parsed};
use crate::listing::{Instrument, ListedSymbol, ListedType, Listing, Terms, TermsChange};
use crate::symbols::{ParsedSymbol, parse_symbol};

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
    /// The key's type, which is also the Tardis symbol type (the `tardis_symbol_type` column, spelt by
    /// [`InstrumentType::as_str`]): only types with a key grammar get records.
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
    /// The trading terms in force that day (with metadata; from the symbol parser only `inverse`, `None` for spot
    /// and where unknown). `terms.settlement_currency` is Tardis's own, which `settle_asset` completes.
    pub terms: Terms,
    /// Exchange-native id (`btcusdt` on Binance).
    pub exchange_raw_symbol: String,
    /// The Tardis dataset the instrument's data is in, and when it has data.
    pub dataset: Dataset,
    /// Where the fields came from.
    pub source: RecordSource,
}

/// A grouped dataset file (`OPTIONS`, ...) available on a day.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Its object name (`DERIBIT:OPTION:ALL`).
    pub object_key: GroupKey,
    /// The grouped dataset (symbol `OPTIONS`, ...) and when it has data.
    pub dataset: Dataset,
}

/// A Tardis dataset and its availability: what [`InstrumentRecord`] and [`GroupRecord`] share.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Tardis exchange id (`deribit`).
    pub tardis_exchange: String,
    /// Dataset symbol: the symbol of download URLs (`BTCUSDT`, or a grouped one such as `OPTIONS`).
    pub tardis_symbol: String,
    /// First moment with data.
    pub available_since: DateTime<Utc>,
    /// First moment without data (exclusive); `None` while listed.
    pub available_to: Option<DateTime<Utc>>,
    /// Data types Tardis has for the dataset symbol (`datasets.symbols[].dataTypes`); empty when it has none.
    pub data_types: Vec<String>,
}

impl Dataset {
    /// Returns whether the dataset has data on `day` (UTC).
    pub fn is_available_on(&self, day: NaiveDate) -> bool {
        is_available_on(self.available_since, self.available_to, day)
    }
}

/// A symbol that got no key, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct Unparsed {
    /// Tardis exchange id.
    pub tardis_exchange: String,
    /// The symbol (dataset id, or instrument id when it has none).
    pub tardis_symbol: String,
    /// Tardis symbol type, as Tardis spells it.
    pub symbol_type: ListedType,
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

/// Returns the definitions of the listing's exchange on `day`.
///
/// # Errors
/// [`Error::ExchangeMismatch`] when an instrument belongs to another exchange.
pub fn definitions_for_day(listing: &Listing, day: NaiveDate) -> Result<DayDefinitions> {
    Ok(Catalog::new(listing)?.day(day))
}

/// Returns the definitions of every day from `first` to `last`, both inclusive.
///
/// # Errors
/// As [`definitions_for_day`].
pub fn definitions_for_range(
    listing: &Listing,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<Vec<DayDefinitions>> {
    Ok(Catalog::new(listing)?.days(first, last).collect())
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
    /// The trading terms of a record from metadata; `None` for one from the symbol parsers.
    history: Option<TermsHistory>,
}

/// An instrument before its final key.
struct Candidate {
    record: InstrumentRecord,
    history: Option<TermsHistory>,
}

/// An instrument's current trading terms and its earlier ones.
#[derive(Debug, Clone)]
struct TermsHistory {
    current: Terms,
    /// Sorted by `until`.
    changes: Vec<TermsChange>,
}

impl TermsHistory {
    fn new(instrument: &Instrument) -> TermsHistory {
        let mut changes = instrument.changes.clone();
        changes.sort_by_key(|change| change.until);
        TermsHistory { current: instrument.terms.clone(), changes }
    }

    /// The changes still to come at `start`: their terms differed from the current ones then.
    fn pending(&self, start: DateTime<Utc>) -> &[TermsChange] {
        &self.changes[self.changes.partition_point(|change| change.until <= start)..]
    }

    /// The terms in force from `start`, given the changes [`TermsHistory::pending`] then: each term from the
    /// earliest change that sets it, else the current one.
    fn in_force(&self, pending: &[TermsChange]) -> Terms {
        let mut terms = self.current.clone();
        for change in pending.iter().rev() {
            terms.take_from(&change.terms);
        }
        terms
    }
}

impl Catalog {
    /// Keys every instrument of the listing.
    ///
    /// # Errors
    /// [`Error::ExchangeMismatch`] when an instrument belongs to another exchange.
    pub fn new(listing: &Listing) -> Result<Catalog> {
        let exchange = listing.exchange.clone();
        let fallback_since = listing.available_since;
        let mut groups = Vec::new();
        let mut unparsed = Vec::new();
        for symbol in &listing.groups {
            match grouped_record(&exchange, symbol, fallback_since) {
                Ok(group) => groups.push(group),
                Err(error) => unparsed.push(Unparsed {
                    tardis_exchange: exchange.clone(),
                    tardis_symbol: symbol.id.clone(),
                    symbol_type: symbol.symbol_type.clone(),
                    available_since: symbol.available_since,
                    available_to: symbol.available_to,
                    error,
                }),
            }
        }
        let mut datasets: HashMap<&str, &ListedSymbol> = HashMap::new();
        for symbol in &listing.dataset_symbols {
            datasets.entry(&symbol.dataset_symbol).or_insert(symbol);
        }
        let natives: HashMap<&str, &ListedSymbol> = listing
            .native_symbols
            .iter()
            .map(|symbol| (symbol.dataset_symbol.as_str(), symbol))
            .collect();

        let mut candidates: Vec<Candidate> = Vec::new();
        let mut covered: HashSet<&str> = HashSet::new();
        for info in listing.instruments.as_deref().unwrap_or_default() {
            if !info.exchange.eq_ignore_ascii_case(&exchange) {
                return Err(Error::ExchangeMismatch {
                    expected: exchange,
                    found: info.exchange.clone(),
                    symbol: info.id.clone(),
                });
            }
            covered.insert(&info.dataset_symbol);
            let data_types =
                datasets.get(info.dataset_symbol.as_str()).map(|d| d.data_types.clone());
            match key_for_instrument(info) {
                Ok(core) => candidates.push(metadata_candidate(info, core, data_types)),
                Err(error) => unparsed.push(Unparsed {
                    tardis_exchange: exchange.clone(),
                    tardis_symbol: info.dataset_symbol.clone(),
                    symbol_type: info.symbol_type.clone(),
                    available_since: Some(info.available_since),
                    available_to: info.available_to,
                    error,
                }),
            }
        }
        // Dataset symbols without metadata, then replay symbols without a dataset: keyed from the symbol.
        let symbol_only = listing
            .dataset_symbols
            .iter()
            .map(|symbol| SymbolOnly {
                tardis_symbol: &symbol.id,
                dataset_symbol: &symbol.dataset_symbol,
                native: natives.get(symbol.dataset_symbol.as_str()).copied(),
                dataset: Some(symbol),
            })
            .chain(listing.native_symbols.iter().map(|native| SymbolOnly {
                tardis_symbol: &native.dataset_symbol,
                dataset_symbol: &native.dataset_symbol,
                native: Some(native),
                dataset: None,
            }));
        for symbol in symbol_only {
            if !covered.insert(symbol.dataset_symbol) {
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
                tardis_symbol: &record.dataset.tardis_symbol,
                since: record.dataset.available_since,
                to: record.dataset.available_to,
            }
        });
        let mut entries = Vec::with_capacity(candidates.len());
        for (key, candidate) in keys.into_iter().zip(candidates) {
            let mut record = candidate.record;
            match key {
                Ok(key) => {
                    let Some(span) =
                        DaySpan::of(record.dataset.available_since, record.dataset.available_to)
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
                        history: candidate.history,
                    });
                }
                Err(error) => unparsed.push(Unparsed {
                    tardis_exchange: exchange.clone(),
                    symbol_type: record.instrument_type.into(),
                    available_since: Some(record.dataset.available_since),
                    available_to: record.dataset.available_to,
                    tardis_symbol: record.dataset.tardis_symbol,
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
            .filter(|group| group.dataset.is_available_on(day))
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
        if let Some(history) = &self.history {
            let pending = history.pending(start);
            if !pending.is_empty() {
                record.set_terms(history.in_force(pending));
            }
        }
        record
    }
}

impl InstrumentRecord {
    /// Sets the fields a record from metadata takes from the trading terms in force.
    fn set_terms(&mut self, terms: Terms) {
        self.settle_asset = settle_asset(
            self.instrument_type,
            terms.settlement_currency.as_deref(),
            terms.inverse,
            &self.base_asset,
            self.price_asset.as_deref(),
        );
        self.terms = terms;
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
    symbol: &ListedSymbol,
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
        dataset: Dataset {
            tardis_exchange: exchange.to_owned(),
            tardis_symbol: symbol.id.clone(),
            available_since,
            available_to: symbol.available_to,
            data_types: symbol.data_types.clone(),
        },
    })
}

fn metadata_candidate(
    info: &Instrument,
    core: InstrumentKey,
    data_types: Option<Vec<String>>,
) -> Candidate {
    let keyed = InstrumentRecord::of_key(core, RecordSource::Metadata);
    let mut record = InstrumentRecord {
        price_asset: Some(info.quote_currency.to_ascii_uppercase()),
        expiry: keyed
            .expiry
            .clone()
            .or_else(|| info.expiry.map(|expiry| yymmdd(expiry.date_naive()))),
        expiry_time: info.expiry,
        exchange_raw_symbol: info.id.clone(),
        dataset: Dataset {
            tardis_exchange: info.exchange.clone(),
            tardis_symbol: info.dataset_symbol.clone(),
            available_since: info.available_since,
            available_to: info.available_to,
            data_types: data_types.unwrap_or_default(),
        },
        ..keyed
    };
    let history = TermsHistory::new(info);
    record.set_terms(history.current.clone());
    Candidate { record, history: Some(history) }
}

impl InstrumentRecord {
    /// A record of `key` with the fields the key gives, and nothing else yet: each source fills in the rest.
    fn of_key(key: InstrumentKey, source: RecordSource) -> InstrumentRecord {
        InstrumentRecord {
            venue: key.venue().to_owned(),
            instrument_type: key.instrument_type(),
            canonical_symbol: key.symbol().to_owned(),
            base_asset: key.base().to_owned(),
            quote_asset: key.quote().to_owned(),
            price_asset: None,
            settle_asset: None,
            expiry: key.expiry_code(),
            expiry_time: None,
            strike: key.strike(),
            option_type: key.option_type(),
            legs: key.legs().map(str::to_owned),
            terms: Terms::default(),
            exchange_raw_symbol: String::new(),
            dataset: Dataset {
                tardis_exchange: String::new(),
                tardis_symbol: String::new(),
                available_since: DateTime::<Utc>::MIN_UTC,
                available_to: None,
                data_types: Vec::new(),
            },
            source,
            instrument_key: key,
        }
    }
}

/// A symbol known only from the listing's symbols.
struct SymbolOnly<'a> {
    /// The symbol its record and errors name: a dataset symbol as listed, or a native symbol normalised.
    tardis_symbol: &'a str,
    /// The name under which it meets the listing's other lists.
    dataset_symbol: &'a str,
    native: Option<&'a ListedSymbol>,
    dataset: Option<&'a ListedSymbol>,
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
            .unwrap_or(ListedType::Other(String::new()));
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
                tardis_symbol: self.tardis_symbol.to_owned(),
                symbol_type: symbol_type.clone(),
                available_since: since,
                available_to: to,
                error,
            })
        };
        let parsed: ParsedSymbol = parse_symbol(exchange, self.tardis_symbol, &symbol_type)
            .map_err(|error| unparsed(error, since))?;
        let core = key_of_parsed(exchange, self.tardis_symbol, &parsed)
            .map_err(|error| unparsed(error, since))?;
        let since = since.or(fallback_since).ok_or_else(|| {
            unparsed(
                Error::Unkeyable {
                    exchange: exchange.to_owned(),
                    symbol: self.tardis_symbol.to_owned(),
                    reason: "Tardis gives no availableSince".into(),
                },
                None,
            )
        })?;
        let record = InstrumentRecord {
            price_asset: parsed.price_asset,
            settle_asset: parsed.settle,
            terms: Terms { inverse: parsed.inverse, ..Terms::default() },
            expiry_time: parsed.expiry_time,
            exchange_raw_symbol: self.native.map_or(self.tardis_symbol, |n| &n.id).to_owned(),
            dataset: Dataset {
                tardis_exchange: exchange.to_owned(),
                tardis_symbol: self.tardis_symbol.to_owned(),
                available_since: since,
                available_to: to,
                data_types: self.dataset.map(|d| d.data_types.clone()).unwrap_or_default(),
            },
            ..InstrumentRecord::of_key(core, RecordSource::SymbolParser)
        };
        Ok(Candidate { record, history: None })
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

    fn symbol(id: &str, kind: InstrumentType, since: &str, data_types: &[&str]) -> ListedSymbol {
        ListedSymbol {
            id: id.to_owned(),
            dataset_symbol: id.to_ascii_uppercase(),
            symbol_type: kind.into(),
            available_since: Some(time(since)),
            available_to: None,
            data_types: data_types.iter().map(|data_type| data_type.to_string()).collect(),
        }
    }

    /// A binance-futures listing: two replay symbols, a grouped file, and three dataset symbols, one of which
    /// no parser understands.
    fn futures() -> Listing {
        let since = "2019-11-17T00:00:00Z";
        let perpetual = InstrumentType::Perpetual;
        Listing {
            exchange: "binance-futures".into(),
            available_since: Some(time(since)),
            native_symbols: vec![
                symbol("btcusdt", perpetual, since, &[]),
                symbol("ltcusdt", perpetual, since, &[]),
            ],
            groups: vec![symbol("PERPETUALS", perpetual, since, &["trades"])],
            dataset_symbols: vec![
                symbol("BTCUSDT", perpetual, since, &["trades", "quotes"]),
                ListedSymbol {
                    available_to: Some(time("2025-09-26T08:00:00Z")),
                    ..symbol(
                        "BTCUSDT_250926",
                        InstrumentType::Future,
                        "2025-03-28T00:00:00Z",
                        &["trades"],
                    )
                },
                symbol("WEIRD", perpetual, since, &["trades"]),
            ],
            instruments: None,
        }
    }

    /// `futures()` with the metadata of BTCUSDT, whose tick size and minimum notional changed.
    fn futures_with_btcusdt() -> Listing {
        let since = time("2019-11-17T00:00:00Z");
        let change = |until: &str, terms: Terms| TermsChange { until: time(until), terms };
        let btcusdt = Instrument {
            id: "btcusdt".into(),
            terms: Terms {
                contract_type: Some("linear_perpetual".into()),
                inverse: Some(false),
                tick_size: Some(0.1),
                min_notional: Some(100.0),
                ..Terms::default()
            },
            changes: vec![
                change(
                    "2023-11-30T08:00:00Z",
                    Terms { min_notional: Some(5.0), ..Terms::default() },
                ),
                change("2021-05-26T07:00:00Z", Terms { tick_size: Some(0.01), ..Terms::default() }),
            ],
            ..Instrument::new(
                "binance-futures",
                "BTCUSDT",
                InstrumentType::Perpetual,
                "BTC",
                "USDT",
                since,
            )
        };
        Listing { instruments: Some(vec![btcusdt]), ..futures() }
    }

    fn btcusdt_on(catalog: &Catalog, day: &str) -> InstrumentRecord {
        let definitions = catalog.day(date(day));
        definitions
            .records
            .into_iter()
            .find(|r| r.dataset.tardis_symbol == "BTCUSDT")
            .expect("BTCUSDT listed")
    }

    #[test]
    fn changes_apply_per_field_with_the_values_the_day_opened_with() {
        let catalog = Catalog::new(&futures_with_btcusdt()).unwrap();
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
                (record.terms.tick_size, record.terms.min_notional),
                (Some(tick), Some(notional)),
                "{day}"
            );
        }
        let record = btcusdt_on(&catalog, "2024-01-01");
        assert_eq!(record.settle_asset.as_deref(), Some("USDT"));
        assert_eq!(record.dataset.data_types, ["trades", "quotes"]);
        assert_eq!(record.exchange_raw_symbol, "btcusdt");
        assert_eq!(record.source, RecordSource::Metadata);
    }

    #[test]
    fn availability_is_the_utc_day_with_an_exclusive_end() {
        let catalog = Catalog::new(&futures()).unwrap();
        let listed = |day: &str| {
            catalog
                .day(date(day))
                .records
                .iter()
                .any(|record| record.dataset.tardis_symbol == "BTCUSDT_250926")
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
        let catalog = Catalog::new(&futures()).unwrap();
        let day = catalog.day(date("2025-06-01"));
        let keys: Vec<String> = day.records.iter().map(|r| r.instrument_key.to_string()).collect();
        assert_eq!(
            keys,
            [
                "BINANCE-FUTURES:FUTURE:BTC-USDT-250926",
                "BINANCE-FUTURES:PERPETUAL:BTC-USDT",
                "BINANCE-FUTURES:PERPETUAL:LTC-USDT",
            ]
        );
        let ltc = &day.records[2];
        assert_eq!(
            (ltc.dataset.tardis_symbol.as_str(), ltc.exchange_raw_symbol.as_str()),
            ("LTCUSDT", "ltcusdt")
        );
        assert!(ltc.dataset.data_types.is_empty(), "a replay-only symbol has no dataset types");
        let unparsed: Vec<&str> = day.unparsed.iter().map(|u| u.tardis_symbol.as_str()).collect();
        assert_eq!(unparsed, ["WEIRD"]);
        assert!(matches!(day.unparsed[0].error, Error::UnparsedSymbol { .. }));
        assert_eq!(day.groups.len(), 1);
        assert_eq!(day.groups[0].object_key.to_string(), "BINANCE-FUTURES:PERPETUAL:ALL");
        assert_eq!(day.groups[0].dataset.data_types, ["trades"]);
    }

    #[test]
    fn metadata_of_another_exchange_is_refused() {
        let mut listing = futures_with_btcusdt();
        listing.instruments.as_mut().unwrap()[0].exchange = "binance".into();
        assert!(matches!(Catalog::new(&listing), Err(Error::ExchangeMismatch { .. })));
    }

    #[test]
    fn range_is_inclusive() {
        let days =
            definitions_for_range(&futures(), date("2025-09-25"), date("2025-09-27")).unwrap();
        let days: Vec<(String, usize)> =
            days.iter().map(|d| (d.day.to_string(), d.records.len())).collect();
        assert_eq!(
            days,
            [("2025-09-25".into(), 3), ("2025-09-26".into(), 3), ("2025-09-27".into(), 2)]
        );
    }
}
