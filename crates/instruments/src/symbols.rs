//! Per-venue symbol parsers: what a Tardis dataset symbol says about its instrument, for the path without an API
//! key (where `GET /v1/exchanges/{exchange}` gives symbols, types and availability, but no currencies).
//!
//! Each parser encodes its venue's naming scheme and nothing more; a symbol outside the scheme is an error naming
//! the symbol, never a guessed key. The venue rules used beyond the symbol text:
//! - deribit: a symbol without `_QUOTE` (`BTC-PERPETUAL`, `BTC-25DEC26`, `BTC-27NOV26-100000-C`) is an inverse
//!   instrument priced against USD and settled in the base coin; its options have USD strikes and BTC premiums.
//!   `BTC_USDC-...` instruments are linear in USDC. Strikes write the decimal point as `d` (`0d625`).
//! - binance-futures (USDT-M) is linear; binance-delivery (COIN-M) is inverse, settled in the base coin.
//! - bybit: `...USD` contracts are inverse, `...USDT` and `...USDC` linear; `BTCPERP` is the USDC perpetual,
//!   `BTC-25DEC26` a USDC future, and `BTCUSDZ26` an inverse future expiring on the last Friday of the coded month
//!   (month codes F G H J K M N Q U V X Z).
//! - bybit-options: linear, quoted and settled in USDC unless a fifth segment names the quote (`...-C-USDT`).
//! - okex-swap and okex-futures: `-USD-` contracts are inverse, the others linear.
//!   okex-options: `BTC-USD-...` options have USD strikes and are settled in the base coin.
//! - bitmex: `XBT` is `BTC` (as Tardis normalises it); `XBTUSD` is inverse, `...USDT` linear; other USD perpetuals
//!   are quanto, which the symbol alone cannot prove, so their settlement is left unknown. BitMEX futures
//!   (`XBTZ26`, `ETHZ26`) do not name their quote currency or day: they are reported, not parsed.
//! - Every supported venue expires futures and options at 08:00 UTC on the expiry date.
//!
//! Concatenated symbols (`BTCUSDT`) are split at the longest quote currency of the venue's list that ends them
//! ([`SPOT_QUOTE_CURRENCIES`] for spot venues, a short list for each derivatives venue, so BitMEX `XBTUSD` is
//! `XBT`+`USD`, never `XB`+`TUSD`); a symbol ending in no known quote is reported.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

use crate::error::{Error, Result};
use crate::key::{InstrumentType, OptionType, Strike};
use crate::tardis::SymbolType;

/// The exchanges with a symbol parser.
pub const SUPPORTED_EXCHANGES: &[&str] = &[
    "binance",
    "binance-delivery",
    "binance-futures",
    "bitmex",
    "bybit",
    "bybit-options",
    "bybit-spot",
    "deribit",
    "okex",
    "okex-futures",
    "okex-options",
    "okex-swap",
];

/// Quote currencies recognised at the end of concatenated spot symbols such as `BTCUSDT` (binance, bybit-spot);
/// the longest match wins.
pub const SPOT_QUOTE_CURRENCIES: &[&str] = &[
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USDS", "IDRT", "BIDR", "BKRW", "AEUR",
    "EURI", "USD", "DAI", "EUR", "GBP", "TRY", "BRL", "AUD", "JPY", "RUB", "UAH", "NGN", "ZAR",
    "PLN", "RON", "ARS", "MXN", "COP", "CZK", "BTC", "ETH", "BNB", "XRP", "TRX", "DOGE", "DOT",
    "PAX", "VAI",
];

const BINANCE_USDM_QUOTES: &[&str] = &["USDT", "USDC", "BUSD"];
const BINANCE_COINM_QUOTES: &[&str] = &["USD"];
const BYBIT_QUOTES: &[&str] = &["USDT", "USDC", "USD"];
const BITMEX_QUOTES: &[&str] = &["USDT", "USDC", "USD", "EUR"];

/// The hour (UTC) at which every supported venue expires its futures and options.
const EXPIRY_HOUR_UTC: u32 = 8;

/// What a symbol says about its instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSymbol {
    /// The instrument type (agrees with the Tardis type passed in).
    pub instrument_type: InstrumentType,
    /// Base asset.
    pub base: String,
    /// Quote asset as it appears in the key: for options the strike currency.
    pub quote: String,
    /// Currency of prices in the data files, where the venue rule says (Deribit BTC options: `BTC`).
    pub price_asset: Option<String>,
    /// Settlement currency, where the venue rule says.
    pub settle: Option<String>,
    /// Whether the contract is inverse, where the venue rule says; `None` for spot.
    pub inverse: Option<bool>,
    /// Expiry date of futures and options.
    pub expiry: Option<NaiveDate>,
    /// Expiry instant (the venue's expiry hour on the expiry date).
    pub expiry_time: Option<DateTime<Utc>>,
    /// Strike of options.
    pub strike: Option<Strike>,
    /// Call or put.
    pub option_type: Option<OptionType>,
    /// Legs of combos, in key form (`FS_261225_PERP`).
    pub legs: Option<String>,
}

/// Parses a Tardis symbol (a dataset id such as `BTCUSDT`, or an exchange-native id such as `btcusdt`) of
/// `exchange`, whose Tardis type is `symbol_type`.
///
/// # Errors
/// [`Error::UnparsedSymbol`], naming the exchange and symbol, when the exchange has no parser, the type has no key
/// grammar, or the symbol does not follow the venue's scheme.
pub fn parse_symbol(
    exchange: &str,
    symbol: &str,
    symbol_type: &SymbolType,
) -> Result<ParsedSymbol> {
    let fail = |reason: &str| Error::UnparsedSymbol {
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        reason: reason.to_owned(),
    };
    let kind = InstrumentType::from_symbol_type(symbol_type)
        .ok_or_else(|| fail(&format!("symbol type {symbol_type:?} has no key grammar")))?;
    let upper = symbol.to_ascii_uppercase();
    let parsed = match exchange {
        "deribit" => deribit(&upper, kind),
        "binance" | "bybit-spot" => spot_concatenated(&upper, kind),
        "binance-futures" => binance_futures(&upper, kind),
        "binance-delivery" => binance_delivery(&upper, kind),
        "bybit" => bybit(&upper, kind),
        "bybit-options" => bybit_options(&upper, kind),
        "okex" => okex_spot(&upper, kind),
        "okex-swap" => okex_swap(&upper, kind),
        "okex-futures" => okex_futures(&upper, kind),
        "okex-options" => okex_options(&upper, kind),
        "bitmex" => bitmex(&upper, kind),
        _ => Err("no symbol parser for this exchange"),
    };
    parsed.map_err(fail)
}

type Parsed = std::result::Result<ParsedSymbol, &'static str>;

impl ParsedSymbol {
    fn new(instrument_type: InstrumentType, base: &str, quote: &str) -> ParsedSymbol {
        ParsedSymbol {
            instrument_type,
            base: base.to_owned(),
            quote: quote.to_owned(),
            price_asset: None,
            settle: None,
            inverse: None,
            expiry: None,
            expiry_time: None,
            strike: None,
            option_type: None,
            legs: None,
        }
    }

    fn spot(base: &str, quote: &str) -> ParsedSymbol {
        ParsedSymbol {
            price_asset: Some(quote.to_owned()),
            ..ParsedSymbol::new(InstrumentType::SpotPair, base, quote)
        }
    }

    /// A derivative priced in `quote`; inverse ones settle in `base`, linear ones in `quote`.
    fn derivative(kind: InstrumentType, base: &str, quote: &str, inverse: bool) -> ParsedSymbol {
        ParsedSymbol {
            price_asset: Some(quote.to_owned()),
            settle: Some(if inverse { base } else { quote }.to_owned()),
            inverse: Some(inverse),
            ..ParsedSymbol::new(kind, base, quote)
        }
    }

    fn expiring(mut self, expiry: NaiveDate) -> ParsedSymbol {
        self.expiry = Some(expiry);
        self.expiry_time = expiry.and_hms_opt(EXPIRY_HOUR_UTC, 0, 0).map(|time| time.and_utc());
        self
    }

    fn with_option(mut self, strike: Strike, option_type: OptionType) -> ParsedSymbol {
        self.strike = Some(strike);
        self.option_type = Some(option_type);
        self
    }
}

fn is_asset(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 40
        && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn asset(text: &str) -> std::result::Result<&str, &'static str> {
    if is_asset(text) { Ok(text) } else { Err("an asset code must be letters and digits") }
}

/// Splits `BTCUSDT` into (`BTC`, `USDT`) at the longest quote currency of `quotes` ending the symbol.
fn split_concatenated<'a>(
    text: &'a str,
    quotes: &[&str],
) -> std::result::Result<(&'a str, &'a str), &'static str> {
    quotes
        .iter()
        .filter(|quote| text.len() > quote.len() && text.ends_with(*quote))
        .max_by_key(|quote| quote.len())
        .map(|quote| text.split_at(text.len() - quote.len()))
        .filter(|(base, _)| is_asset(base))
        .ok_or("the symbol does not end in a known quote currency")
}

fn require(condition: bool, reason: &'static str) -> std::result::Result<(), &'static str> {
    if condition { Ok(()) } else { Err(reason) }
}

fn require_kind(
    kind: InstrumentType,
    allowed: &[InstrumentType],
) -> std::result::Result<(), &'static str> {
    require(allowed.contains(&kind), "this venue has no instruments of this type")
}

/// `25DEC26` or `7NOV25`.
fn parse_ddmmmyy(text: &str) -> Option<NaiveDate> {
    let split = text.len().checked_sub(5)?;
    let (day, rest) = text.split_at(split);
    let (month, year) = rest.split_at(3);
    if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !year.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let month = match month {
        "JAN" => 1,
        "FEB" => 2,
        "MAR" => 3,
        "APR" => 4,
        "MAY" => 5,
        "JUN" => 6,
        "JUL" => 7,
        "AUG" => 8,
        "SEP" => 9,
        "OCT" => 10,
        "NOV" => 11,
        "DEC" => 12,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(2000 + year.parse::<i32>().ok()?, month, day.parse().ok()?)
}

fn parse_yymmdd(text: &str) -> Option<NaiveDate> {
    crate::key::parse_yymmdd(text).ok()
}

fn month_code(code: u8) -> Option<u32> {
    let month = match code {
        b'F' => 1,
        b'G' => 2,
        b'H' => 3,
        b'J' => 4,
        b'K' => 5,
        b'M' => 6,
        b'N' => 7,
        b'Q' => 8,
        b'U' => 9,
        b'V' => 10,
        b'X' => 11,
        b'Z' => 12,
        _ => return None,
    };
    Some(month)
}

fn last_friday(year: i32, month: u32) -> Option<NaiveDate> {
    let next_month = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let mut day = next_month.pred_opt()?;
    while day.weekday() != Weekday::Fri {
        day = day.pred_opt()?;
    }
    Some(day)
}

fn option_right(text: &str) -> std::result::Result<OptionType, &'static str> {
    match text {
        "C" => Ok(OptionType::Call),
        "P" => Ok(OptionType::Put),
        _ => Err("an option symbol ends in C or P"),
    }
}

fn strike(text: &str) -> std::result::Result<Strike, &'static str> {
    let canonical_digits = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit() || b == b'd' || b == b'D' || b == b'.');
    if !canonical_digits {
        return Err("an option strike must be a decimal number");
    }
    let text = text.replace(['d', 'D'], ".");
    Strike::from_decimal_text(&text).map_err(|_| "an option strike must be a decimal number")
}

/// `BTC` or `BTC_USDC`: the base, and the linear quote if named.
fn deribit_underlying(text: &str) -> std::result::Result<(&str, Option<&str>), &'static str> {
    match text.split_once('_') {
        Some((base, quote)) => Ok((asset(base)?, Some(asset(quote)?))),
        None => Ok((asset(text)?, None)),
    }
}

fn deribit(symbol: &str, kind: InstrumentType) -> Parsed {
    let segments: Vec<&str> = symbol.split('-').collect();
    let (base, linear_quote) = deribit_underlying(segments[0])?;
    let inverse = linear_quote.is_none();
    let quote = linear_quote.unwrap_or("USD");
    match kind {
        InstrumentType::SpotPair => {
            require(segments.len() == 1, "a Deribit spot symbol is BASE_QUOTE")?;
            let quote = linear_quote.ok_or("a Deribit spot symbol is BASE_QUOTE")?;
            Ok(ParsedSymbol::spot(base, quote))
        }
        InstrumentType::Perp => {
            require(
                segments.len() == 2 && segments[1] == "PERPETUAL",
                "a Deribit perpetual is BASE[_QUOTE]-PERPETUAL",
            )?;
            Ok(ParsedSymbol::derivative(kind, base, quote, inverse))
        }
        InstrumentType::Future => {
            require(segments.len() == 2, "a Deribit future is BASE[_QUOTE]-DDMMMYY")?;
            let expiry =
                parse_ddmmmyy(segments[1]).ok_or("a Deribit future is BASE[_QUOTE]-DDMMMYY")?;
            Ok(ParsedSymbol::derivative(kind, base, quote, inverse).expiring(expiry))
        }
        InstrumentType::Option => {
            require(segments.len() == 4, "a Deribit option is BASE[_QUOTE]-DDMMMYY-STRIKE-C|P")?;
            let expiry = parse_ddmmmyy(segments[1])
                .ok_or("a Deribit option is BASE[_QUOTE]-DDMMMYY-STRIKE-C|P")?;
            let mut parsed = ParsedSymbol::derivative(kind, base, quote, inverse)
                .expiring(expiry)
                .with_option(strike(segments[2])?, option_right(segments[3])?);
            if inverse {
                // Inverse options: strikes in USD, premiums in the base coin.
                parsed.price_asset = Some(base.to_owned());
            }
            Ok(parsed)
        }
        InstrumentType::Combo => {
            require(segments.len() >= 3, "a Deribit combo is BASE[_QUOTE]-STRATEGY-LEGS")?;
            let mut legs = Vec::new();
            for token in segments[1..].iter().flat_map(|segment| segment.split('_')) {
                let token = match parse_ddmmmyy(token) {
                    Some(date) => crate::key::yymmdd(date),
                    None if token.bytes().next().is_some_and(|b| b.is_ascii_digit()) => {
                        strike(token)?.as_str().to_owned()
                    }
                    None => asset(token)
                        .map_err(|_| "a Deribit combo leg is letters and digits")?
                        .to_owned(),
                };
                legs.push(token);
            }
            let mut parsed = ParsedSymbol::derivative(kind, base, quote, inverse);
            // Combo prices follow their legs (USD for future spreads, the coin for option strategies).
            parsed.price_asset = None;
            parsed.legs = Some(legs.join("_"));
            Ok(parsed)
        }
    }
}

fn spot_concatenated(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::SpotPair])?;
    let (base, quote) = split_concatenated(symbol, SPOT_QUOTE_CURRENCIES)?;
    Ok(ParsedSymbol::spot(base, quote))
}

fn binance_futures(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Perp, InstrumentType::Future])?;
    match (kind, symbol.split_once('_')) {
        (InstrumentType::Perp, None) => {
            let (base, quote) = split_concatenated(symbol, BINANCE_USDM_QUOTES)?;
            Ok(ParsedSymbol::derivative(kind, base, quote, false))
        }
        (InstrumentType::Future, Some((pair, date))) => {
            let (base, quote) = split_concatenated(pair, BINANCE_USDM_QUOTES)?;
            let expiry = parse_yymmdd(date).ok_or("a Binance future is PAIR_YYMMDD")?;
            Ok(ParsedSymbol::derivative(kind, base, quote, false).expiring(expiry))
        }
        _ => Err("a Binance USDT-M symbol is PAIR (perpetual) or PAIR_YYMMDD (future)"),
    }
}

fn binance_delivery(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Perp, InstrumentType::Future])?;
    let (pair, suffix) =
        symbol.split_once('_').ok_or("a Binance COIN-M symbol is PAIR_PERP or PAIR_YYMMDD")?;
    let (base, quote) = split_concatenated(pair, BINANCE_COINM_QUOTES)?;
    match kind {
        InstrumentType::Perp if suffix == "PERP" => {
            Ok(ParsedSymbol::derivative(kind, base, quote, true))
        }
        InstrumentType::Future => {
            let expiry = parse_yymmdd(suffix).ok_or("a Binance COIN-M future is PAIR_YYMMDD")?;
            Ok(ParsedSymbol::derivative(kind, base, quote, true).expiring(expiry))
        }
        _ => Err("a Binance COIN-M symbol is PAIR_PERP or PAIR_YYMMDD"),
    }
}

fn bybit(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Perp, InstrumentType::Future])?;
    if let Some((pair, date)) = symbol.split_once('-') {
        // USDC (or USDT) futures: BTC-25DEC26, BTCUSDT-25DEC26.
        require_kind(kind, &[InstrumentType::Future])?;
        let expiry = parse_ddmmmyy(date).ok_or("a Bybit linear future is BASE[QUOTE]-DDMMMYY")?;
        let (base, quote) = match split_concatenated(pair, BYBIT_QUOTES) {
            Ok((base, quote)) if quote == "USDT" || quote == "USDC" => (base, quote),
            _ => (asset(pair)?, "USDC"),
        };
        return Ok(ParsedSymbol::derivative(kind, base, quote, false).expiring(expiry));
    }
    match kind {
        InstrumentType::Perp => {
            if let Some(base) = symbol.strip_suffix("PERP") {
                return Ok(ParsedSymbol::derivative(kind, asset(base)?, "USDC", false));
            }
            let (base, quote) = split_concatenated(symbol, BYBIT_QUOTES)?;
            Ok(ParsedSymbol::derivative(kind, base, quote, quote == "USD"))
        }
        _ => {
            // Inverse futures: BTCUSDZ26 expires on the last Friday of December 2026.
            let bytes = symbol.as_bytes();
            require(bytes.len() > 3, "a Bybit inverse future is PAIR + month code + YY")?;
            let (pair, code) = symbol.split_at(symbol.len() - 3);
            let month = month_code(code.as_bytes()[0])
                .ok_or("a Bybit inverse future is PAIR + month code + YY")?;
            let year: i32 = code[1..]
                .parse()
                .map_err(|_| "a Bybit inverse future is PAIR + month code + YY")?;
            let expiry = last_friday(2000 + year, month).ok_or("invalid expiry month")?;
            let (base, quote) = split_concatenated(pair, BYBIT_QUOTES)?;
            Ok(ParsedSymbol::derivative(kind, base, quote, quote == "USD").expiring(expiry))
        }
    }
}

fn bybit_options(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Option])?;
    let segments: Vec<&str> = symbol.split('-').collect();
    require(
        segments.len() == 4 || segments.len() == 5,
        "a Bybit option is BASE-DDMMMYY-STRIKE-C|P[-QUOTE]",
    )?;
    let base = asset(segments[0])?;
    let quote = match segments.get(4) {
        Some(quote) => asset(quote)?,
        None => "USDC",
    };
    let expiry =
        parse_ddmmmyy(segments[1]).ok_or("a Bybit option is BASE-DDMMMYY-STRIKE-C|P[-QUOTE]")?;
    Ok(ParsedSymbol::derivative(kind, base, quote, false)
        .expiring(expiry)
        .with_option(strike(segments[2])?, option_right(segments[3])?))
}

fn okex_spot(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::SpotPair])?;
    match symbol.split('-').collect::<Vec<_>>()[..] {
        [base, quote] => Ok(ParsedSymbol::spot(asset(base)?, asset(quote)?)),
        _ => Err("an OKX spot symbol is BASE-QUOTE"),
    }
}

fn okex_swap(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Perp])?;
    match symbol.split('-').collect::<Vec<_>>()[..] {
        [base, quote, "SWAP"] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            Ok(ParsedSymbol::derivative(kind, base, quote, quote == "USD"))
        }
        _ => Err("an OKX swap is BASE-QUOTE-SWAP"),
    }
}

fn okex_futures(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Future])?;
    match symbol.split('-').collect::<Vec<_>>()[..] {
        [base, quote, date] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            let expiry = parse_yymmdd(date).ok_or("an OKX future is BASE-QUOTE-YYMMDD")?;
            Ok(ParsedSymbol::derivative(kind, base, quote, quote == "USD").expiring(expiry))
        }
        _ => Err("an OKX future is BASE-QUOTE-YYMMDD"),
    }
}

fn okex_options(symbol: &str, kind: InstrumentType) -> Parsed {
    require_kind(kind, &[InstrumentType::Option])?;
    match symbol.split('-').collect::<Vec<_>>()[..] {
        [base, quote, date, strike_text, right] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            require(quote == "USD", "an OKX option is BASE-USD-YYMMDD-STRIKE-C|P")?;
            let expiry = parse_yymmdd(date).ok_or("an OKX option is BASE-USD-YYMMDD-STRIKE-C|P")?;
            let mut parsed = ParsedSymbol::derivative(kind, base, quote, true)
                .expiring(expiry)
                .with_option(strike(strike_text)?, option_right(right)?);
            // Coin-margined: premiums in the base coin.
            parsed.price_asset = Some(base.to_owned());
            Ok(parsed)
        }
        _ => Err("an OKX option is BASE-USD-YYMMDD-STRIKE-C|P"),
    }
}

fn bitmex(symbol: &str, kind: InstrumentType) -> Parsed {
    match kind {
        InstrumentType::Perp => {
            let (base, quote) = split_concatenated(symbol, BITMEX_QUOTES)?;
            let base = if base == "XBT" { "BTC" } else { base };
            let mut parsed = ParsedSymbol::new(kind, base, quote);
            parsed.price_asset = Some(quote.to_owned());
            if quote == "USDT" || quote == "USDC" {
                parsed.inverse = Some(false);
                parsed.settle = Some(quote.to_owned());
            } else if base == "BTC" {
                parsed.inverse = Some(true);
                parsed.settle = Some(base.to_owned());
            }
            Ok(parsed)
        }
        InstrumentType::Future => {
            Err("BitMEX futures do not name their quote currency or expiry day; metadata is needed")
        }
        _ => Err("this venue has no instruments of this type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn parse(exchange: &str, symbol: &str, kind: SymbolType) -> ParsedSymbol {
        parse_symbol(exchange, symbol, &kind).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn deribit_inverse_and_linear_twins() {
        let inverse = parse("deribit", "BTC-PERPETUAL", SymbolType::Perpetual);
        assert_eq!((inverse.base.as_str(), inverse.quote.as_str()), ("BTC", "USD"));
        assert_eq!((inverse.inverse, inverse.settle.as_deref()), (Some(true), Some("BTC")));
        let linear = parse("deribit", "BTC_USDC-PERPETUAL", SymbolType::Perpetual);
        assert_eq!((linear.base.as_str(), linear.quote.as_str()), ("BTC", "USDC"));
        assert_eq!((linear.inverse, linear.settle.as_deref()), (Some(false), Some("USDC")));
    }

    #[test]
    fn deribit_options_have_usd_strikes_and_coin_premiums() {
        let option = parse("deribit", "BTC-27NOV26-100000-C", SymbolType::Option);
        assert_eq!(option.quote, "USD");
        assert_eq!(option.price_asset.as_deref(), Some("BTC"));
        assert_eq!(option.expiry, Some(date("2026-11-27")));
        assert_eq!(option.expiry_time.unwrap().to_rfc3339(), "2026-11-27T08:00:00+00:00");
        assert_eq!(option.strike.unwrap().as_str(), "100000");
        assert_eq!(option.option_type, Some(OptionType::Call));
        let small = parse("deribit", "XRP_USDC-7NOV25-0d625-P", SymbolType::Option);
        assert_eq!((small.quote.as_str(), small.strike.unwrap().as_str()), ("USDC", "0.625"));
        assert_eq!(small.expiry, Some(date("2025-11-07")));
        assert_eq!(small.option_type, Some(OptionType::Put));
    }

    #[test]
    fn deribit_combos_and_spot() {
        let combo = parse("deribit", "BTC-FS-25DEC26_PERP", SymbolType::Combo);
        assert_eq!(combo.legs.as_deref(), Some("FS_261225_PERP"));
        assert_eq!((combo.base.as_str(), combo.quote.as_str()), ("BTC", "USD"));
        let spread = parse("deribit", "ETH-CS-27DEC24-3000_3500", SymbolType::Combo);
        assert_eq!(spread.legs.as_deref(), Some("CS_241227_3000_3500"));
        let spot = parse("deribit", "BTC_USDC", SymbolType::Spot);
        assert_eq!((spot.base.as_str(), spot.quote.as_str(), spot.inverse), ("BTC", "USDC", None));
    }

    #[test]
    fn concatenated_symbols_split_at_the_longest_quote() {
        for (exchange, symbol, kind, base, quote) in [
            ("binance", "btcusdt", SymbolType::Spot, "BTC", "USDT"),
            ("binance", "ETHBTC", SymbolType::Spot, "ETH", "BTC"),
            ("binance", "BTCFDUSD", SymbolType::Spot, "BTC", "FDUSD"),
            ("binance", "BTCTUSD", SymbolType::Spot, "BTC", "TUSD"),
            ("binance", "WBTCBTC", SymbolType::Spot, "WBTC", "BTC"),
            ("bybit-spot", "ETHUSDT", SymbolType::Spot, "ETH", "USDT"),
            ("binance-futures", "1000SHIBUSDT", SymbolType::Perpetual, "1000SHIB", "USDT"),
            ("binance-futures", "BTCUSDC", SymbolType::Perpetual, "BTC", "USDC"),
            ("bitmex", "XBTUSD", SymbolType::Perpetual, "BTC", "USD"),
        ] {
            let parsed = parse(exchange, symbol, kind);
            assert_eq!(
                (parsed.base.as_str(), parsed.quote.as_str()),
                (base, quote),
                "{exchange} {symbol}"
            );
        }
    }

    #[test]
    fn binance_futures_and_delivery() {
        let future = parse("binance-futures", "BTCUSDT_261225", SymbolType::Future);
        assert_eq!((future.expiry, future.inverse), (Some(date("2026-12-25")), Some(false)));
        let perp = parse("binance-delivery", "BTCUSD_PERP", SymbolType::Perpetual);
        assert_eq!(
            (perp.quote.as_str(), perp.inverse, perp.settle.as_deref()),
            ("USD", Some(true), Some("BTC"))
        );
        let future = parse("binance-delivery", "btcusd_261225", SymbolType::Future);
        assert_eq!(future.expiry, Some(date("2026-12-25")));
    }

    #[test]
    fn bybit_inverse_linear_and_usdc() {
        let inverse = parse("bybit", "BTCUSD", SymbolType::Perpetual);
        assert_eq!((inverse.quote.as_str(), inverse.inverse), ("USD", Some(true)));
        let linear = parse("bybit", "BTCUSDT", SymbolType::Perpetual);
        assert_eq!((linear.quote.as_str(), linear.inverse), ("USDT", Some(false)));
        let usdc = parse("bybit", "ETHPERP", SymbolType::Perpetual);
        assert_eq!((usdc.base.as_str(), usdc.quote.as_str()), ("ETH", "USDC"));
        let quarterly = parse("bybit", "BTCUSDZ26", SymbolType::Future);
        assert_eq!((quarterly.quote.as_str(), quarterly.expiry), ("USD", Some(date("2026-12-25"))));
        let march = parse("bybit", "BTCUSDH25", SymbolType::Future);
        assert_eq!(march.expiry, Some(date("2025-03-28")));
        let usdc_future = parse("bybit", "BTC-25DEC26", SymbolType::Future);
        assert_eq!((usdc_future.quote.as_str(), usdc_future.inverse), ("USDC", Some(false)));
        let usdt_future = parse("bybit", "ETHUSDT-27DEC24", SymbolType::Future);
        assert_eq!((usdt_future.base.as_str(), usdt_future.quote.as_str()), ("ETH", "USDT"));
        let option = parse("bybit-options", "BTC-27NOV26-100000-P-USDT", SymbolType::Option);
        assert_eq!(option.quote, "USDT");
    }

    #[test]
    fn okex_families() {
        let swap = parse("okex-swap", "BTC-USD-SWAP", SymbolType::Perpetual);
        assert_eq!((swap.inverse, swap.settle.as_deref()), (Some(true), Some("BTC")));
        let swap = parse("okex-swap", "BTC-USDT-SWAP", SymbolType::Perpetual);
        assert_eq!((swap.inverse, swap.settle.as_deref()), (Some(false), Some("USDT")));
        let future = parse("okex-futures", "BTC-USDT-261225", SymbolType::Future);
        assert_eq!(future.expiry, Some(date("2026-12-25")));
        let option = parse("okex-options", "BTC-USD-261127-100000-C", SymbolType::Option);
        assert_eq!((option.quote.as_str(), option.price_asset.as_deref()), ("USD", Some("BTC")));
        let spot = parse("okex", "BTC-USDC", SymbolType::Spot);
        assert_eq!((spot.base.as_str(), spot.quote.as_str()), ("BTC", "USDC"));
    }

    #[test]
    fn symbols_outside_the_schemes_are_reported_by_name() {
        for (exchange, symbol, kind) in [
            ("bitmex", "XBTZ26", SymbolType::Future),
            ("binance", "BTCXYZ", SymbolType::Spot),
            ("binance", "USDT", SymbolType::Spot),
            ("deribit", "BTC-PERPETUAL", SymbolType::Future),
            ("deribit", "BTC-32DEC26", SymbolType::Future),
            ("deribit", "BTC-27NOV26-100000-X", SymbolType::Option),
            ("deribit", "BTC-27NOV26-1e5-C", SymbolType::Option),
            ("okex-options", "BTC-USD_UM-261127-100000-C", SymbolType::Option),
            ("okex-swap", "BTC-USDT", SymbolType::Perpetual),
            ("bybit", "BTCUSDA26", SymbolType::Future),
            ("kraken", "XBT/USD", SymbolType::Spot),
            ("deribit", "BTC-PERPETUAL", SymbolType::Prediction),
            ("deribit", "BTC-PERPETUAL", SymbolType::Other("turbo".into())),
        ] {
            match parse_symbol(exchange, symbol, &kind) {
                Err(Error::UnparsedSymbol { exchange: e, symbol: s, .. }) => {
                    assert_eq!((e.as_str(), s.as_str()), (exchange, symbol));
                }
                other => panic!("{exchange} {symbol}: {other:?}"),
            }
        }
    }

    #[test]
    fn last_fridays() {
        assert_eq!(last_friday(2026, 12), Some(date("2026-12-25")));
        assert_eq!(last_friday(2024, 3), Some(date("2024-03-29")));
        assert_eq!(last_friday(2025, 10), Some(date("2025-10-31")));
    }
}
