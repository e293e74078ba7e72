//! Keys from Tardis metadata ([`key_for_instrument`]) or from a symbol alone ([`key_for_symbol`]), and their
//! assignment over a venue's whole listing ([`assign_keys`]), which adds the variant segment where two instruments
//! would otherwise share a key on some day.
//!
//! Rules (also in `docs/INSTRUMENT_KEY.md`):
//! - Keys come from the instrument's current metadata (the top-level fields), never from `changes[]`, so an
//!   instrument keeps one key for its whole life.
//! - The expiry is the UTC date of the metadata `expiry`; the symbol is read only when metadata has none.
//! - A derivative whose Tardis `quoteCurrency` equals its base (Deribit and OKX inverse options quote premiums in
//!   BTC) takes as key quote the strike currency: the quote of its `underlyingIndex` when that names a pair
//!   (`BTC-USD`, `btc_usd`), else the venue's symbol rule (Deribit: USD), else the instrument is reported.
//! - Variants: see [`assign_keys`].

use std::cell::OnceCell;
use std::collections::hash_map::Entry;

use chrono::{DateTime, NaiveDate, Utc};
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::error::{Error, Result};
use crate::key::{InstrumentKey, InstrumentType, KeyRef, OptionType, Strike, variant_tag};
use crate::listing::{Instrument, ListedType};
use crate::symbols::{Facts, ParsedSymbol, parse_facts, parse_symbol, scheme_pair};

/// Returns the key of an instrument from its metadata, without a variant segment (see [`assign_keys`]).
///
/// # Errors
/// [`Error::Unkeyable`], naming the exchange and dataset symbol, when the type has no key grammar, a currency is
/// outside the grammar, or a field the type needs (expiry, strike, option type, strike currency) is in neither the
/// metadata nor the symbol.
pub fn key_for_instrument(info: &Instrument) -> Result<InstrumentKey> {
    let symbol = info.dataset_symbol.as_str();
    let fail = |reason: String| Error::Unkeyable {
        exchange: info.exchange.clone(),
        symbol: symbol.to_owned(),
        reason,
    };
    let kind = info.symbol_type.instrument_type().ok_or_else(|| {
        fail(format!("symbol type {:?} has no key grammar", info.symbol_type.as_str()))
    })?;
    // The venue's reading of the symbol, computed only when the metadata lacks something.
    let facts: OnceCell<Option<Facts<'_>>> = OnceCell::new();
    let facts = || facts.get_or_init(|| parse_facts(&info.exchange, symbol, kind).ok()).as_ref();

    let base = info.base_currency.as_str();
    let quote = if kind != InstrumentType::Spot && info.quote_currency.eq_ignore_ascii_case(base) {
        info.terms
            .underlying_index
            .as_deref()
            .and_then(|index| strike_currency_of_index(index, base))
            .or_else(|| {
                scheme_pair(&info.exchange, symbol)
                    .or_else(|| facts().map(|facts| (facts.base, facts.quote)))
                    .filter(|(symbol_base, quote)| {
                        symbol_base.eq_ignore_ascii_case(base) && !quote.eq_ignore_ascii_case(base)
                    })
                    .map(|(_, quote)| quote)
            })
            .ok_or_else(|| {
                fail(format!(
                    "quoted in its base currency {base}, and neither the underlying index nor the venue's symbol \
                     rule names the strike currency"
                ))
            })?
    } else {
        info.quote_currency.as_str()
    };

    let mut parts = InstrumentKey::plain(&info.exchange, kind, base, quote);
    if matches!(kind, InstrumentType::Future | InstrumentType::Option) {
        let expiry = info
            .expiry
            .map(|expiry| expiry.date_naive())
            .or_else(|| facts().and_then(|f| f.expiry));
        parts.expiry =
            Some(expiry.ok_or_else(|| fail("no expiry in the metadata or the symbol".into()))?);
    }
    if kind == InstrumentType::Option {
        let strike = match info.strike {
            Some(strike) => Strike::from_f64(strike).map_err(|error| fail(error.to_string()))?,
            None => facts()
                .and_then(|f| f.strike().ok().flatten())
                .ok_or_else(|| fail("no strike in the metadata or the symbol".into()))?,
        };
        parts.strike = Some(strike);
        let option_type = info
            .option_type
            .or_else(|| {
                info.terms.contract_type.as_deref().and_then(|contract| {
                    if contract.ends_with("call_option") {
                        Some(OptionType::Call)
                    } else if contract.ends_with("put_option") {
                        Some(OptionType::Put)
                    } else {
                        None
                    }
                })
            })
            .or_else(|| facts().and_then(|f| f.option_type))
            .ok_or_else(|| fail("no option type in the metadata or the symbol".into()))?;
        parts.option_type = Some(option_type);
    }
    let generic_legs;
    if kind == InstrumentType::Combo {
        parts.legs = Some(match facts().and_then(|f| f.legs.as_deref()) {
            Some(legs) => legs,
            None => {
                generic_legs = generic_combo_legs(symbol);
                &generic_legs
            }
        });
    }
    parts.build().map_err(|error| fail(error.to_string()))
}

/// Returns the key of an instrument from its symbol alone (the path without an API key), without a variant
/// segment. Base and quote come from the per-venue parsers of [`crate::symbols`].
///
/// # Errors
/// [`Error::UnparsedSymbol`], naming the exchange and symbol, when no parser understands the symbol.
pub fn key_for_symbol(
    exchange: &str,
    symbol: &str,
    symbol_type: &ListedType,
) -> Result<InstrumentKey> {
    let parsed = parse_symbol(exchange, symbol, symbol_type)?;
    key_of_parsed(exchange, symbol, &parsed)
}

pub(crate) fn key_of_parsed(
    exchange: &str,
    symbol: &str,
    parsed: &ParsedSymbol,
) -> Result<InstrumentKey> {
    KeyRef {
        venue: exchange,
        instrument_type: parsed.instrument_type,
        base: &parsed.base,
        quote: &parsed.quote,
        expiry: parsed.expiry,
        strike: parsed.strike,
        option_type: parsed.option_type,
        legs: parsed.legs.as_deref(),
        variant: None,
    }
    .build()
    .map_err(|error| Error::UnparsedSymbol {
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        reason: error.to_string(),
    })
}

/// The quote of an underlying index that names a pair: `BTC-USD` and `btc_usd` give `USD`; `BTC-27NOV26`
/// (a future) and `.BXBT` (a single index) give nothing.
fn strike_currency_of_index<'a>(index: &'a str, base: &str) -> Option<&'a str> {
    let index = match index.bytes().rposition(|b| b == b'.') {
        Some(dot) => &index[dot + 1..],
        None => index,
    };
    let is_separator = |b: u8| matches!(b, b'-' | b'_' | b'/');
    let first_end = index.bytes().position(is_separator)?;
    let (first, rest) = (&index[..first_end], &index[first_end + 1..]);
    let second = &rest[..rest.bytes().position(is_separator).unwrap_or(rest.len())];
    let currency =
        (2..=10).contains(&second.len()) && second.bytes().all(|b| b.is_ascii_alphabetic());
    (first.eq_ignore_ascii_case(base) && currency && !second.eq_ignore_ascii_case(base))
        .then_some(second)
}

/// Legs of a combo on a venue without a combo parser: the dataset symbol with every character outside
/// `A-Z 0-9 _ .` replaced by `_`.
fn generic_combo_legs(symbol: &str) -> String {
    symbol
        .to_ascii_uppercase()
        .chars()
        .map(|c| if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' { c } else { '_' })
        .collect()
}

/// The UTC days `[first, last]` on which an instrument is available; `last` is `None` while it is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DaySpan {
    pub(crate) first: NaiveDate,
    pub(crate) last: Option<NaiveDate>,
}

impl DaySpan {
    /// Days with some of `[since, to)`; `None` when the interval is empty.
    pub(crate) fn of(since: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<DaySpan> {
        match to {
            Some(to) if to <= since => None,
            // `to` is exclusive: an instrument available until D 08:00 is available on D, until D 00:00 is not.
            Some(to) => Some(DaySpan {
                first: since.date_naive(),
                last: Some((to - chrono::Duration::nanoseconds(1)).date_naive()),
            }),
            None => Some(DaySpan { first: since.date_naive(), last: None }),
        }
    }

    fn overlaps(&self, other: &DaySpan) -> bool {
        self.last.is_none_or(|last| other.first <= last)
            && other.last.is_none_or(|last| self.first <= last)
    }

    fn first_common_day(&self, other: &DaySpan) -> NaiveDate {
        self.first.max(other.first)
    }
}

/// What the variant assignment needs to know of an instrument besides its key.
#[derive(Debug, Clone)]
pub(crate) struct Listed<'a> {
    /// The normalised dataset symbol.
    pub(crate) tardis_symbol: &'a str,
    pub(crate) since: DateTime<Utc>,
    pub(crate) to: Option<DateTime<Utc>>,
}

/// Returns the key of every instrument of one exchange's listing, in input order, variants included.
///
/// Instruments whose keys (from [`key_for_instrument`]) are equal and that are available on a common UTC day are
/// twins. Taken in order of `availableSince`, then Tardis dataset symbol, a twin keeps the plain key when no
/// earlier twin that kept it shares a day with it; every other twin gets the variant segment
/// `~` + [`crate::key::variant_tag`] of its dataset symbol (`BTC-USD~PF_XBTUSD`). A new listing sorts after the
/// instruments already listed, so it never changes their keys.
/// An instrument that would still share a key with another on some day (two listings of one dataset symbol)
/// gets [`Error::DuplicateKey`] instead.
pub fn assign_keys(exchange: &str, instruments: &[Instrument]) -> Vec<Result<InstrumentKey>> {
    let mut keys: Vec<Result<InstrumentKey>> = instruments
        .iter()
        .map(|info| {
            if info.exchange.eq_ignore_ascii_case(exchange) {
                key_for_instrument(info)
            } else {
                Err(Error::ExchangeMismatch {
                    expected: exchange.to_owned(),
                    found: info.exchange.clone(),
                    symbol: info.id.clone(),
                })
            }
        })
        .collect();
    assign_variants(exchange, &mut keys, |index| {
        let info = &instruments[index];
        Listed {
            tardis_symbol: &info.dataset_symbol,
            since: info.available_since,
            to: info.available_to,
        }
    });
    keys
}

/// Adds variant segments where needed (see [`assign_keys`]), in place; `listed(i)` describes `keys[i]` (asked only
/// for twins, which are rare).
pub(crate) fn assign_variants<'a>(
    exchange: &str,
    keys: &mut [Result<InstrumentKey>],
    listed: impl Fn(usize) -> Listed<'a>,
) {
    // Find the twins: (first instrument with the key, later instrument with the same key). Listings rarely have
    // any, so this allocates nothing per instrument.
    // rustc's FxHash over the fingerprint each key computed when it was built, so a probe reads no key text. Its
    // values are never stored and cannot change the result (the map is only probed, never iterated); the input is
    // Tardis metadata, so hash flooding is not a concern.
    let mut first_with_key: FxHashMap<&InstrumentKey, usize> =
        FxHashMap::with_capacity_and_hasher(keys.len(), FxBuildHasher);
    let mut twins: Vec<(usize, usize)> = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let Ok(key) = key else { continue };
        match first_with_key.entry(key) {
            Entry::Occupied(first) => twins.push((*first.get(), index)),
            Entry::Vacant(vacant) => {
                vacant.insert(index);
            }
        }
    }
    drop(first_with_key);
    twins.sort_unstable();

    let mut outcomes: Vec<(usize, Result<InstrumentKey>)> = Vec::new();
    for group in twins.chunk_by(|a, b| a.0 == b.0) {
        let mut members: Vec<(usize, Listed<'a>)> = std::iter::once(group[0].0)
            .chain(group.iter().map(|twin| twin.1))
            .map(|index| (index, listed(index)))
            .collect();
        members.sort_by(|(a, listed_a), (b, listed_b)| {
            (listed_a.since, &listed_a.tardis_symbol, a).cmp(&(
                listed_b.since,
                &listed_b.tardis_symbol,
                b,
            ))
        });
        let mut holders: Vec<DaySpan> = Vec::new();
        let mut tagged: Vec<(String, DaySpan, String)> = Vec::new();
        for (member, listed) in members {
            let Some(span) = DaySpan::of(listed.since, listed.to) else { continue };
            if !holders.iter().any(|holder| holder.overlaps(&span)) {
                holders.push(span);
                continue;
            }
            let Ok(core) = &keys[member] else { continue };
            let symbol = &listed.tardis_symbol;
            let tag = variant_tag(symbol);
            let key = core.with_variant(&tag).map_err(|error| Error::Unkeyable {
                exchange: exchange.to_owned(),
                symbol: symbol.to_string(),
                reason: error.to_string(),
            });
            // Two twins with one tag (one dataset symbol listed twice) that share a day: refuse the later.
            let clash = tagged
                .iter()
                .find(|(other, other_span, _)| *other == tag && other_span.overlaps(&span));
            let outcome = match (clash, key) {
                (Some((_, other_span, other)), Ok(key)) => Err(Error::DuplicateKey {
                    exchange: exchange.to_owned(),
                    symbol: symbol.to_string(),
                    other: other.clone(),
                    key: key.to_string(),
                    day: other_span.first_common_day(&span),
                }),
                (None, Ok(key)) => {
                    tagged.push((tag, span, symbol.to_string()));
                    Ok(key)
                }
                (_, Err(error)) => Err(error),
            };
            outcomes.push((member, outcome));
        }
    }
    for (member, outcome) in outcomes {
        keys[member] = outcome;
    }
}

#[cfg(test)]
mod tests {
    use crate::listing::Terms;

    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn deribit_option(id: &str, quote: &str, underlying: Option<&str>, expiry: &str) -> Instrument {
        let since = time("2023-06-01T00:00:00Z");
        Instrument {
            expiry: Some(time(expiry)),
            strike: Some(50000.0),
            option_type: Some(OptionType::Put),
            terms: Terms {
                contract_type: Some("put_option".into()),
                underlying_index: underlying.map(str::to_owned),
                inverse: Some(true),
                ..Terms::default()
            },
            ..Instrument::new("deribit", id, InstrumentType::Option, "BTC", quote, since)
        }
    }

    #[test]
    fn inverse_option_strike_currency_comes_from_the_underlying_or_the_venue_rule() {
        let from_future_underlying = deribit_option(
            "BTC-29DEC23-50000-P",
            "BTC",
            Some("BTC-29DEC23"),
            "2023-12-29T08:00:00.000Z",
        );
        assert_eq!(
            key_for_instrument(&from_future_underlying).unwrap().to_string(),
            "DERIBIT:OPTION:BTC-USD-231229-50000-PUT"
        );
        let from_index = deribit_option(
            "BTC-29DEC23-50000-P",
            "BTC",
            Some("btc_usd"),
            "2023-12-29T08:00:00.000Z",
        );
        assert_eq!(key_for_instrument(&from_index).unwrap().quote(), "USD");
        let mut elsewhere = from_future_underlying.clone();
        elsewhere.exchange = "somewhere".into();
        let error = key_for_instrument(&elsewhere).unwrap_err();
        assert!(error.to_string().contains("strike currency"), "{error}");
        elsewhere.terms.underlying_index = Some("BTC_EUR".into());
        assert_eq!(key_for_instrument(&elsewhere).unwrap().quote(), "EUR");
    }

    #[test]
    fn expiry_comes_from_metadata_in_utc_not_from_the_symbol() {
        // The symbol says 29DEC23; the metadata (which wins) says 2023-12-30 00:30 UTC (29 Dec in New York).
        let info = deribit_option("BTC-29DEC23-50000-P", "BTC", None, "2023-12-29T19:30:00-05:00");
        assert_eq!(key_for_instrument(&info).unwrap().expiry_code().as_deref(), Some("231230"));
        let mut without = info.clone();
        without.expiry = None;
        assert_eq!(key_for_instrument(&without).unwrap().expiry_code().as_deref(), Some("231229"));
    }

    #[test]
    fn strikes_come_from_the_decimal_value() {
        for (strike, text) in [(0.625, "0.625"), (1500.0, "1500"), (85000.0, "85000")] {
            let since = time("2024-01-01T00:00:00Z");
            let info = Instrument {
                expiry: Some(time("2024-12-27T08:00:00Z")),
                strike: Some(strike),
                option_type: Some(OptionType::Call),
                ..Instrument::new(
                    "deribit",
                    "XRP_USDC-27DEC24-X-C",
                    InstrumentType::Option,
                    "XRP",
                    "USDC",
                    since,
                )
            };
            assert_eq!(
                key_for_instrument(&info).unwrap().to_string(),
                format!("DERIBIT:OPTION:XRP-USDC-241227-{text}-CALL")
            );
        }
    }

    #[test]
    fn unsupported_types_and_missing_fields_are_reported() {
        let since = time("2024-01-01T00:00:00Z");
        let prediction = Instrument::new(
            "polymarket",
            "WILL-IT",
            ListedType::Other("prediction".into()),
            "X",
            "USDC",
            since,
        );
        let error = key_for_instrument(&prediction).unwrap_err();
        assert!(matches!(error, Error::Unkeyable { .. }));
        assert!(
            error.to_string().contains(r#"symbol type "prediction" has no key grammar"#),
            "{error}"
        );
        let mut option = deribit_option("NOT-A-SYMBOL", "USDC", None, "2024-12-27T08:00:00Z");
        option.option_type = None;
        option.terms.contract_type = None;
        let error = key_for_instrument(&option).unwrap_err();
        assert!(error.to_string().contains("option type"), "{error}");
        let bad_currency =
            Instrument::new("x", "BTC/USD", InstrumentType::Spot, "BTC/X", "USD", since);
        assert!(matches!(key_for_instrument(&bad_currency), Err(Error::Unkeyable { .. })));
    }

    fn perp(id: &str, quote: &str, since: &str, to: Option<&str>) -> Instrument {
        let base = if id.contains("ETH") { "ETH" } else { "BTC" };
        Instrument {
            available_to: to.map(time),
            ..Instrument::new(
                "cryptofacilities",
                id,
                InstrumentType::Perpetual,
                base,
                quote,
                time(since),
            )
        }
    }

    fn keys(listing: &[Instrument]) -> Vec<String> {
        assign_keys("cryptofacilities", listing)
            .into_iter()
            .map(|key| key.unwrap().to_string())
            .collect()
    }

    /// Twins (same key fields) get variants only where they share a day; the first listed keeps the plain key; the
    /// input order does not matter.
    #[test]
    fn twins_get_variants_only_where_they_share_a_day() {
        let cases = [
            // Kraken Futures lists BTC/USD twice: PI_ (inverse, settled in BTC) and PF_ (linear, settled in USD).
            (
                [
                    perp("PF_XBTUSD", "USD", "2022-03-01T00:00:00Z", None),
                    perp("PI_XBTUSD", "USD", "2018-08-31T00:00:00Z", None),
                    perp("PI_ETHUSD", "USD", "2018-08-31T00:00:00Z", None),
                ],
                [
                    "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD",
                    "CRYPTOFACILITIES:PERPETUAL:BTC-USD",
                    "CRYPTOFACILITIES:PERPETUAL:ETH-USD",
                ],
            ),
            // Twins that never share a day share the key.
            (
                [
                    perp("OLD", "USD", "2019-01-01T00:00:00Z", Some("2020-01-01T00:00:00Z")),
                    perp("NEW", "USD", "2020-01-01T00:00:00Z", None),
                    perp("OVERLAP", "USD", "2019-06-01T00:00:00Z", Some("2020-01-01T08:00:00Z")),
                ],
                [
                    "CRYPTOFACILITIES:PERPETUAL:BTC-USD",
                    "CRYPTOFACILITIES:PERPETUAL:BTC-USD",
                    "CRYPTOFACILITIES:PERPETUAL:BTC-USD~OVERLAP",
                ],
            ),
        ];
        for (listing, expected) in cases {
            assert_eq!(keys(&listing), expected);
            let mut reversed = listing.to_vec();
            reversed.reverse();
            let mut reversed_keys = keys(&reversed);
            reversed_keys.reverse();
            assert_eq!(reversed_keys, expected, "input order");
        }
    }

    #[test]
    fn a_repeated_dataset_symbol_is_refused_not_duplicated() {
        let listing = [
            perp("PI_XBTUSD", "USD", "2018-08-31T00:00:00Z", None),
            perp("PF_XBTUSD", "USD", "2022-03-01T00:00:00Z", None),
            perp("PF_XBTUSD", "USD", "2023-03-01T00:00:00Z", None),
        ];
        let keys = assign_keys("cryptofacilities", &listing);
        assert_eq!(
            keys[1].as_ref().unwrap().to_string(),
            "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD"
        );
        match &keys[2] {
            Err(Error::DuplicateKey { symbol, other, day, .. }) => {
                assert_eq!((symbol.as_str(), other.as_str()), ("PF_XBTUSD", "PF_XBTUSD"));
                assert_eq!(day.to_string(), "2023-03-01");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn day_spans_treat_available_to_as_exclusive() {
        let span =
            DaySpan::of(time("2025-03-28T00:00:00Z"), Some(time("2025-09-26T08:00:00Z"))).unwrap();
        assert_eq!(span.last.unwrap().to_string(), "2025-09-26");
        let span =
            DaySpan::of(time("2025-03-28T00:00:00Z"), Some(time("2025-09-26T00:00:00Z"))).unwrap();
        assert_eq!(span.last.unwrap().to_string(), "2025-09-25");
        assert_eq!(
            DaySpan::of(time("2025-03-28T00:00:00Z"), Some(time("2025-03-28T00:00:00Z"))),
            None
        );
    }
}

#[cfg(test)]
mod property_tests {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    fn listing() -> impl Strategy<Value = Vec<Instrument>> {
        let instrument =
            (0usize..2, 0usize..2, 0i64..40, prop::option::of(1i64..40), any::<bool>());
        prop::collection::vec(instrument, 1..30).prop_map(|specs| {
            specs
                .into_iter()
                .enumerate()
                .map(|(index, (base, quote, since, length, hours))| {
                    let start: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
                    let since = start + chrono::Duration::days(since);
                    let extra =
                        if hours { chrono::Duration::hours(8) } else { chrono::Duration::zero() };
                    let to = length.map(|length| since + chrono::Duration::days(length) + extra);
                    Instrument {
                        available_to: to,
                        ..Instrument::new(
                            "venue",
                            &format!("S{index}"),
                            InstrumentType::Perpetual,
                            ["BTC", "ETH"][base],
                            ["USD", "USDT"][quote],
                            since,
                        )
                    }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn prop_keys_are_unique_per_day_and_independent_of_input_order(listing in listing(), seed in any::<u64>()) {
            let keys: Vec<InstrumentKey> =
                assign_keys("venue", &listing).into_iter().map(|key| key.unwrap()).collect();
            let first: NaiveDate = "2024-01-01".parse().unwrap();
            for day in first.iter_days().take(90) {
                let mut seen = HashSet::new();
                for (info, key) in listing.iter().zip(&keys) {
                    if crate::definitions::is_available_on(info.available_since, info.available_to, day) {
                        prop_assert!(seen.insert(key.to_string()), "{} twice on {}", key, day);
                    }
                }
            }
            // Same listing in another order: every instrument keeps its key.
            let mut shuffled: Vec<(usize, &Instrument)> = listing.iter().enumerate().collect();
            shuffled.sort_by_key(|(index, _)| (*index as u64).wrapping_mul(seed | 1).rotate_left(17));
            let reordered: Vec<Instrument> = shuffled.iter().map(|(_, info)| (*info).clone()).collect();
            let again: HashMap<String, String> = reordered
                .iter()
                .zip(assign_keys("venue", &reordered))
                .map(|(info, key)| (info.id.clone(), key.unwrap().to_string()))
                .collect();
            for (info, key) in listing.iter().zip(&keys) {
                prop_assert_eq!(&again[&info.id], &key.to_string());
            }
        }
    }
}
