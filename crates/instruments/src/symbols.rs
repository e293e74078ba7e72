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
use crate::listing::ListedType;

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
    symbol_type: &ListedType,
) -> Result<ParsedSymbol> {
    let fail = |reason: &str| Error::UnparsedSymbol {
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        reason: reason.to_owned(),
    };
    let kind = symbol_type.instrument_type().ok_or_else(|| {
        fail(&format!("symbol type {:?} has no key grammar", symbol_type.as_str()))
    })?;
    let upper = symbol.to_ascii_uppercase();
    parse_facts(exchange, &upper, kind).and_then(Facts::into_owned).map_err(fail)
}

/// What a symbol says, borrowed from the (upper-case) symbol: the allocation-free core of [`parse_symbol`].
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    pub(crate) instrument_type: InstrumentType,
    pub(crate) base: &'a str,
    pub(crate) quote: &'a str,
    pub(crate) price_asset: Option<&'a str>,
    pub(crate) settle: Option<&'a str>,
    pub(crate) inverse: Option<bool>,
    pub(crate) expiry: Option<NaiveDate>,
    /// The strike as written (`100000`, `0d625`), read by [`Facts::strike`] only when needed.
    pub(crate) strike_text: Option<&'a str>,
    pub(crate) option_type: Option<OptionType>,
    pub(crate) legs: Option<String>,
}

/// Parses an upper-case symbol; the error is the reason.
pub(crate) fn parse_facts<'a>(
    exchange: &str,
    symbol: &'a str,
    kind: InstrumentType,
) -> std::result::Result<Facts<'a>, &'static str> {
    match exchange {
        "deribit" => deribit(symbol, kind),
        "binance" | "bybit-spot" => spot_concatenated(symbol, kind),
        "binance-futures" => binance_futures(symbol, kind),
        "binance-delivery" => binance_delivery(symbol, kind),
        "bybit" => bybit(symbol, kind),
        "bybit-options" => bybit_options(symbol, kind),
        "okex" => okex_spot(symbol, kind),
        "okex-swap" => okex_swap(symbol, kind),
        "okex-futures" => okex_futures(symbol, kind),
        "okex-options" => okex_options(symbol, kind),
        "bitmex" => bitmex(symbol, kind),
        _ => Err("no symbol parser for this exchange"),
    }
}

type Parsed<'a> = std::result::Result<Facts<'a>, &'static str>;

impl<'a> Facts<'a> {
    /// The strike, if the symbol has one.
    pub(crate) fn strike(&self) -> std::result::Result<Option<Strike>, &'static str> {
        self.strike_text.map(strike).transpose()
    }

    fn into_owned(self) -> std::result::Result<ParsedSymbol, &'static str> {
        Ok(ParsedSymbol {
            instrument_type: self.instrument_type,
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            price_asset: self.price_asset.map(str::to_owned),
            settle: self.settle.map(str::to_owned),
            inverse: self.inverse,
            expiry: self.expiry,
            expiry_time: self.expiry.and_then(expiry_time),
            strike: self.strike()?,
            option_type: self.option_type,
            legs: self.legs,
        })
    }

    fn new(instrument_type: InstrumentType, base: &'a str, quote: &'a str) -> Facts<'a> {
        Facts {
            instrument_type,
            base,
            quote,
            price_asset: None,
            settle: None,
            inverse: None,
            expiry: None,
            strike_text: None,
            option_type: None,
            legs: None,
        }
    }

    fn spot(base: &'a str, quote: &'a str) -> Facts<'a> {
        Facts { price_asset: Some(quote), ..Facts::new(InstrumentType::Spot, base, quote) }
    }

    /// A derivative priced in `quote`; inverse ones settle in `base`, linear ones in `quote`.
    fn derivative(kind: InstrumentType, base: &'a str, quote: &'a str, inverse: bool) -> Facts<'a> {
        Facts {
            price_asset: Some(quote),
            settle: Some(if inverse { base } else { quote }),
            inverse: Some(inverse),
            ..Facts::new(kind, base, quote)
        }
    }

    fn expiring(mut self, expiry: NaiveDate) -> Facts<'a> {
        self.expiry = Some(expiry);
        self
    }

    fn with_option(mut self, strike_text: &'a str, option_type: OptionType) -> Facts<'a> {
        self.strike_text = Some(strike_text);
        self.option_type = Some(option_type);
        self
    }
}

/// The venue's expiry instant on `expiry`.
fn expiry_time(expiry: NaiveDate) -> Option<DateTime<Utc>> {
    expiry.and_hms_opt(EXPIRY_HOUR_UTC, 0, 0).map(|time| time.and_utc())
}

/// Up to 6 segments of a symbol, without allocating.
struct Segments<'a> {
    parts: [&'a str; 6],
    len: usize,
}

impl<'a> Segments<'a> {
    /// Splits at `separator`; `None` when there are more than 6 segments.
    fn split(text: &'a str, separator: u8) -> Option<Segments<'a>> {
        let mut segments = Segments { parts: [""; 6], len: 0 };
        let mut rest = text;
        loop {
            let end = rest.bytes().position(|b| b == separator).unwrap_or(rest.len());
            *segments.parts.get_mut(segments.len)? = &rest[..end];
            segments.len += 1;
            if end == rest.len() {
                return Some(segments);
            }
            rest = &rest[end + 1..];
        }
    }

    fn as_slice(&self) -> &[&'a str] {
        &self.parts[..self.len]
    }
}

fn segments(text: &str, separator: u8) -> std::result::Result<Segments<'_>, &'static str> {
    Segments::split(text, separator).ok_or("too many segments")
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
    let (day, rest) = text.split_at_checked(split)?;
    let (month, year) = rest.split_at_checked(3)?;
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
    NaiveDate::from_ymd_opt(2000 + digits(year)? as i32, month, digits(day)?)
}

/// The value of 1 to 9 ASCII digits.
fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 9 {
        return None;
    }
    text.bytes()
        .try_fold(0u32, |value, b| b.is_ascii_digit().then(|| value * 10 + u32::from(b - b'0')))
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

/// A strike as venues write it: digits, with `.` or `d` (Deribit) as the decimal point.
fn strike(text: &str) -> std::result::Result<Strike, &'static str> {
    const BAD: &str = "an option strike must be a decimal number";
    if text.is_empty() || text.len() > 40 {
        return Err(BAD);
    }
    let mut buffer = [0u8; 40];
    for (slot, byte) in buffer.iter_mut().zip(text.bytes()) {
        *slot = match byte {
            b'0'..=b'9' | b'.' => byte,
            b'd' | b'D' => b'.',
            _ => return Err(BAD),
        };
    }
    let text = std::str::from_utf8(&buffer[..text.len()]).map_err(|_| BAD)?;
    Strike::from_decimal_text(text).map_err(|_| BAD)
}

/// The quote of Deribit instruments without `_QUOTE` in their symbol (inverse, priced against USD).
const DERIBIT_INVERSE_QUOTE: &str = "USD";

/// The base and the key quote (for options, the strike currency) that the venue's scheme gives a derivative
/// symbol, reading no more of it than needed; `None` where the scheme needs the whole symbol (use
/// [`parse_facts`]). Keying from metadata asks this when Tardis quotes an instrument in its base currency.
pub(crate) fn scheme_pair<'a>(exchange: &str, symbol: &'a str) -> Option<(&'a str, &'a str)> {
    match exchange {
        "deribit" => {
            let first = &symbol[..symbol.bytes().position(|b| b == b'-').unwrap_or(symbol.len())];
            let (base, linear_quote) = deribit_underlying(first).ok()?;
            Some((base, linear_quote.unwrap_or(DERIBIT_INVERSE_QUOTE)))
        }
        _ => None,
    }
}

/// `BTC` or `BTC_USDC`: the base, and the linear quote if named.
fn deribit_underlying(text: &str) -> std::result::Result<(&str, Option<&str>), &'static str> {
    match text.bytes().position(|b| b == b'_') {
        Some(split) => Ok((asset(&text[..split])?, Some(asset(&text[split + 1..])?))),
        None => Ok((asset(text)?, None)),
    }
}

fn deribit(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    let segments = segments(symbol, b'-')?;
    let segments = segments.as_slice();
    let (base, linear_quote) = deribit_underlying(segments[0])?;
    let inverse = linear_quote.is_none();
    let quote = linear_quote.unwrap_or(DERIBIT_INVERSE_QUOTE);
    match (kind, segments) {
        (InstrumentType::Spot, [_]) => {
            let quote = linear_quote.ok_or("a Deribit spot symbol is BASE_QUOTE")?;
            Ok(Facts::spot(base, quote))
        }
        (InstrumentType::Spot, _) => Err("a Deribit spot symbol is BASE_QUOTE"),
        (InstrumentType::Perpetual, [_, "PERPETUAL"]) => {
            Ok(Facts::derivative(kind, base, quote, inverse))
        }
        (InstrumentType::Perpetual, _) => Err("a Deribit perpetual is BASE[_QUOTE]-PERPETUAL"),
        (InstrumentType::Future, [_, date]) => {
            let expiry = parse_ddmmmyy(date).ok_or("a Deribit future is BASE[_QUOTE]-DDMMMYY")?;
            Ok(Facts::derivative(kind, base, quote, inverse).expiring(expiry))
        }
        (InstrumentType::Future, _) => Err("a Deribit future is BASE[_QUOTE]-DDMMMYY"),
        (InstrumentType::Option, [_, date, strike_text, right]) => {
            let expiry =
                parse_ddmmmyy(date).ok_or("a Deribit option is BASE[_QUOTE]-DDMMMYY-STRIKE-C|P")?;
            let mut facts = Facts::derivative(kind, base, quote, inverse)
                .expiring(expiry)
                .with_option(strike_text, option_right(right)?);
            if inverse {
                // Inverse options: strikes in USD, premiums in the base coin.
                facts.price_asset = Some(base);
            }
            Ok(facts)
        }
        (InstrumentType::Option, _) => Err("a Deribit option is BASE[_QUOTE]-DDMMMYY-STRIKE-C|P"),
        (InstrumentType::Combo, [_, _, _, ..]) => {
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
            let mut facts = Facts::derivative(kind, base, quote, inverse);
            // Combo prices follow their legs (USD for future spreads, the coin for option strategies).
            facts.price_asset = None;
            facts.legs = Some(legs.join("_"));
            Ok(facts)
        }
        (InstrumentType::Combo, _) => Err("a Deribit combo is BASE[_QUOTE]-STRATEGY-LEGS"),
    }
}

fn spot_concatenated(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Spot])?;
    let (base, quote) = split_concatenated(symbol, SPOT_QUOTE_CURRENCIES)?;
    Ok(Facts::spot(base, quote))
}

fn binance_futures(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Perpetual, InstrumentType::Future])?;
    match (kind, symbol.split_once('_')) {
        (InstrumentType::Perpetual, None) => {
            let (base, quote) = split_concatenated(symbol, BINANCE_USDM_QUOTES)?;
            Ok(Facts::derivative(kind, base, quote, false))
        }
        (InstrumentType::Future, Some((pair, date))) => {
            let (base, quote) = split_concatenated(pair, BINANCE_USDM_QUOTES)?;
            let expiry = parse_yymmdd(date).ok_or("a Binance future is PAIR_YYMMDD")?;
            Ok(Facts::derivative(kind, base, quote, false).expiring(expiry))
        }
        _ => Err("a Binance USDT-M symbol is PAIR (perpetual) or PAIR_YYMMDD (future)"),
    }
}

fn binance_delivery(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Perpetual, InstrumentType::Future])?;
    let (pair, suffix) =
        symbol.split_once('_').ok_or("a Binance COIN-M symbol is PAIR_PERP or PAIR_YYMMDD")?;
    let (base, quote) = split_concatenated(pair, BINANCE_COINM_QUOTES)?;
    match kind {
        InstrumentType::Perpetual if suffix == "PERP" => {
            Ok(Facts::derivative(kind, base, quote, true))
        }
        InstrumentType::Future => {
            let expiry = parse_yymmdd(suffix).ok_or("a Binance COIN-M future is PAIR_YYMMDD")?;
            Ok(Facts::derivative(kind, base, quote, true).expiring(expiry))
        }
        _ => Err("a Binance COIN-M symbol is PAIR_PERP or PAIR_YYMMDD"),
    }
}

fn bybit(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Perpetual, InstrumentType::Future])?;
    if let Some((pair, date)) = symbol.split_once('-') {
        // USDC (or USDT) futures: BTC-25DEC26, BTCUSDT-25DEC26.
        require_kind(kind, &[InstrumentType::Future])?;
        let expiry = parse_ddmmmyy(date).ok_or("a Bybit linear future is BASE[QUOTE]-DDMMMYY")?;
        let (base, quote) = match split_concatenated(pair, BYBIT_QUOTES) {
            Ok((base, quote)) if quote == "USDT" || quote == "USDC" => (base, quote),
            _ => (asset(pair)?, "USDC"),
        };
        return Ok(Facts::derivative(kind, base, quote, false).expiring(expiry));
    }
    match kind {
        InstrumentType::Perpetual => {
            if let Some(base) = symbol.strip_suffix("PERP") {
                return Ok(Facts::derivative(kind, asset(base)?, "USDC", false));
            }
            let (base, quote) = split_concatenated(symbol, BYBIT_QUOTES)?;
            Ok(Facts::derivative(kind, base, quote, quote == "USD"))
        }
        _ => {
            // Inverse futures: BTCUSDZ26 expires on the last Friday of December 2026.
            const SHAPE: &str = "a Bybit inverse future is PAIR + month code + YY";
            let (pair, code) =
                symbol.split_at_checked(symbol.len().saturating_sub(3)).ok_or(SHAPE)?;
            require(code.len() == 3 && !pair.is_empty(), SHAPE)?;
            let month = month_code(code.as_bytes()[0]).ok_or(SHAPE)?;
            let year: i32 = code[1..].parse().map_err(|_| SHAPE)?;
            let expiry = last_friday(2000 + year, month).ok_or("invalid expiry month")?;
            let (base, quote) = split_concatenated(pair, BYBIT_QUOTES)?;
            Ok(Facts::derivative(kind, base, quote, quote == "USD").expiring(expiry))
        }
    }
}

fn bybit_options(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Option])?;
    const SHAPE: &str = "a Bybit option is BASE-DDMMMYY-STRIKE-C|P[-QUOTE]";
    let (base, date, strike_text, right, quote) = match segments(symbol, b'-')?.as_slice() {
        [base, date, strike_text, right] => (*base, *date, *strike_text, *right, "USDC"),
        [base, date, strike_text, right, quote] => {
            (*base, *date, *strike_text, *right, asset(quote)?)
        }
        _ => return Err(SHAPE),
    };
    let expiry = parse_ddmmmyy(date).ok_or(SHAPE)?;
    Ok(Facts::derivative(kind, asset(base)?, quote, false)
        .expiring(expiry)
        .with_option(strike_text, option_right(right)?))
}

fn okex_spot(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Spot])?;
    match segments(symbol, b'-')?.as_slice() {
        [base, quote] => Ok(Facts::spot(asset(base)?, asset(quote)?)),
        _ => Err("an OKX spot symbol is BASE-QUOTE"),
    }
}

fn okex_swap(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Perpetual])?;
    match segments(symbol, b'-')?.as_slice() {
        [base, quote, "SWAP"] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            Ok(Facts::derivative(kind, base, quote, quote == "USD"))
        }
        _ => Err("an OKX swap is BASE-QUOTE-SWAP"),
    }
}

fn okex_futures(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Future])?;
    match segments(symbol, b'-')?.as_slice() {
        [base, quote, date] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            let expiry = parse_yymmdd(date).ok_or("an OKX future is BASE-QUOTE-YYMMDD")?;
            Ok(Facts::derivative(kind, base, quote, quote == "USD").expiring(expiry))
        }
        _ => Err("an OKX future is BASE-QUOTE-YYMMDD"),
    }
}

fn okex_options(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    require_kind(kind, &[InstrumentType::Option])?;
    const SHAPE: &str = "an OKX option is BASE-USD-YYMMDD-STRIKE-C|P";
    match segments(symbol, b'-')?.as_slice() {
        [base, quote, date, strike_text, right] => {
            let (base, quote) = (asset(base)?, asset(quote)?);
            require(quote == "USD", SHAPE)?;
            let expiry = parse_yymmdd(date).ok_or(SHAPE)?;
            let mut facts = Facts::derivative(kind, base, quote, true)
                .expiring(expiry)
                .with_option(strike_text, option_right(right)?);
            // Coin-margined: premiums in the base coin.
            facts.price_asset = Some(base);
            Ok(facts)
        }
        _ => Err(SHAPE),
    }
}

fn bitmex(symbol: &str, kind: InstrumentType) -> Parsed<'_> {
    match kind {
        InstrumentType::Perpetual => {
            let (base, quote) = split_concatenated(symbol, BITMEX_QUOTES)?;
            let base = if base == "XBT" { "BTC" } else { base };
            let mut facts = Facts::new(kind, base, quote);
            facts.price_asset = Some(quote);
            if quote == "USDT" || quote == "USDC" {
                facts.inverse = Some(false);
                facts.settle = Some(quote);
            } else if base == "BTC" {
                facts.inverse = Some(true);
                facts.settle = Some(base);
            }
            Ok(facts)
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

    fn parse(exchange: &str, symbol: &str, kind: InstrumentType) -> ParsedSymbol {
        parse_symbol(exchange, symbol, &kind.into()).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn deribit_inverse_and_linear_twins() {
        let inverse = parse("deribit", "BTC-PERPETUAL", InstrumentType::Perpetual);
        assert_eq!((inverse.base.as_str(), inverse.quote.as_str()), ("BTC", "USD"));
        assert_eq!((inverse.inverse, inverse.settle.as_deref()), (Some(true), Some("BTC")));
        let linear = parse("deribit", "BTC_USDC-PERPETUAL", InstrumentType::Perpetual);
        assert_eq!((linear.base.as_str(), linear.quote.as_str()), ("BTC", "USDC"));
        assert_eq!((linear.inverse, linear.settle.as_deref()), (Some(false), Some("USDC")));
    }

    #[test]
    fn deribit_options_have_usd_strikes_and_coin_premiums() {
        let option = parse("deribit", "BTC-27NOV26-100000-C", InstrumentType::Option);
        assert_eq!(option.quote, "USD");
        assert_eq!(option.price_asset.as_deref(), Some("BTC"));
        assert_eq!(option.expiry, Some(date("2026-11-27")));
        assert_eq!(option.expiry_time.unwrap().to_rfc3339(), "2026-11-27T08:00:00+00:00");
        assert_eq!(option.strike.unwrap().as_str(), "100000");
        assert_eq!(option.option_type, Some(OptionType::Call));
        let small = parse("deribit", "XRP_USDC-7NOV25-0d625-P", InstrumentType::Option);
        assert_eq!((small.quote.as_str(), small.strike.unwrap().as_str()), ("USDC", "0.625"));
        assert_eq!(small.expiry, Some(date("2025-11-07")));
        assert_eq!(small.option_type, Some(OptionType::Put));
    }

    #[test]
    fn deribit_combos_and_spot() {
        let combo = parse("deribit", "BTC-FS-25DEC26_PERP", InstrumentType::Combo);
        assert_eq!(combo.legs.as_deref(), Some("FS_261225_PERP"));
        assert_eq!((combo.base.as_str(), combo.quote.as_str()), ("BTC", "USD"));
        let spread = parse("deribit", "ETH-CS-27DEC24-3000_3500", InstrumentType::Combo);
        assert_eq!(spread.legs.as_deref(), Some("CS_241227_3000_3500"));
        let spot = parse("deribit", "BTC_USDC", InstrumentType::Spot);
        assert_eq!((spot.base.as_str(), spot.quote.as_str(), spot.inverse), ("BTC", "USDC", None));
    }

    #[test]
    fn concatenated_symbols_split_at_the_longest_quote() {
        for (exchange, symbol, kind, base, quote) in [
            ("binance", "btcusdt", InstrumentType::Spot, "BTC", "USDT"),
            ("binance", "ETHBTC", InstrumentType::Spot, "ETH", "BTC"),
            ("binance", "BTCFDUSD", InstrumentType::Spot, "BTC", "FDUSD"),
            ("binance", "BTCTUSD", InstrumentType::Spot, "BTC", "TUSD"),
            ("binance", "WBTCBTC", InstrumentType::Spot, "WBTC", "BTC"),
            ("bybit-spot", "ETHUSDT", InstrumentType::Spot, "ETH", "USDT"),
            ("binance-futures", "1000SHIBUSDT", InstrumentType::Perpetual, "1000SHIB", "USDT"),
            ("binance-futures", "BTCUSDC", InstrumentType::Perpetual, "BTC", "USDC"),
            ("bitmex", "XBTUSD", InstrumentType::Perpetual, "BTC", "USD"),
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
        let future = parse("binance-futures", "BTCUSDT_261225", InstrumentType::Future);
        assert_eq!((future.expiry, future.inverse), (Some(date("2026-12-25")), Some(false)));
        let perp = parse("binance-delivery", "BTCUSD_PERP", InstrumentType::Perpetual);
        assert_eq!(
            (perp.quote.as_str(), perp.inverse, perp.settle.as_deref()),
            ("USD", Some(true), Some("BTC"))
        );
        let future = parse("binance-delivery", "btcusd_261225", InstrumentType::Future);
        assert_eq!(future.expiry, Some(date("2026-12-25")));
    }

    #[test]
    fn bybit_inverse_linear_and_usdc() {
        let inverse = parse("bybit", "BTCUSD", InstrumentType::Perpetual);
        assert_eq!((inverse.quote.as_str(), inverse.inverse), ("USD", Some(true)));
        let linear = parse("bybit", "BTCUSDT", InstrumentType::Perpetual);
        assert_eq!((linear.quote.as_str(), linear.inverse), ("USDT", Some(false)));
        let usdc = parse("bybit", "ETHPERP", InstrumentType::Perpetual);
        assert_eq!((usdc.base.as_str(), usdc.quote.as_str()), ("ETH", "USDC"));
        let quarterly = parse("bybit", "BTCUSDZ26", InstrumentType::Future);
        assert_eq!((quarterly.quote.as_str(), quarterly.expiry), ("USD", Some(date("2026-12-25"))));
        let march = parse("bybit", "BTCUSDH25", InstrumentType::Future);
        assert_eq!(march.expiry, Some(date("2025-03-28")));
        let usdc_future = parse("bybit", "BTC-25DEC26", InstrumentType::Future);
        assert_eq!((usdc_future.quote.as_str(), usdc_future.inverse), ("USDC", Some(false)));
        let usdt_future = parse("bybit", "ETHUSDT-27DEC24", InstrumentType::Future);
        assert_eq!((usdt_future.base.as_str(), usdt_future.quote.as_str()), ("ETH", "USDT"));
        let option = parse("bybit-options", "BTC-27NOV26-100000-P-USDT", InstrumentType::Option);
        assert_eq!(option.quote, "USDT");
    }

    #[test]
    fn okex_families() {
        let swap = parse("okex-swap", "BTC-USD-SWAP", InstrumentType::Perpetual);
        assert_eq!((swap.inverse, swap.settle.as_deref()), (Some(true), Some("BTC")));
        let swap = parse("okex-swap", "BTC-USDT-SWAP", InstrumentType::Perpetual);
        assert_eq!((swap.inverse, swap.settle.as_deref()), (Some(false), Some("USDT")));
        let future = parse("okex-futures", "BTC-USDT-261225", InstrumentType::Future);
        assert_eq!(future.expiry, Some(date("2026-12-25")));
        let option = parse("okex-options", "BTC-USD-261127-100000-C", InstrumentType::Option);
        assert_eq!((option.quote.as_str(), option.price_asset.as_deref()), ("USD", Some("BTC")));
        let spot = parse("okex", "BTC-USDC", InstrumentType::Spot);
        assert_eq!((spot.base.as_str(), spot.quote.as_str()), ("BTC", "USDC"));
    }

    #[test]
    fn symbols_outside_the_schemes_are_reported_by_name() {
        for (exchange, symbol, kind) in [
            ("bitmex", "XBTZ26", InstrumentType::Future.into()),
            ("binance", "BTCXYZ", InstrumentType::Spot.into()),
            ("binance", "USDT", InstrumentType::Spot.into()),
            ("deribit", "BTC-PERPETUAL", InstrumentType::Future.into()),
            ("deribit", "BTC-32DEC26", InstrumentType::Future.into()),
            ("deribit", "BTC-27NOV26-100000-X", InstrumentType::Option.into()),
            ("deribit", "BTC-27NOV26-1e5-C", InstrumentType::Option.into()),
            ("okex-options", "BTC-USD_UM-261127-100000-C", InstrumentType::Option.into()),
            ("okex-swap", "BTC-USDT", InstrumentType::Perpetual.into()),
            ("bybit", "BTCUSDA26", InstrumentType::Future.into()),
            ("kraken", "XBT/USD", InstrumentType::Spot.into()),
            ("deribit", "BTC-PERPETUAL", ListedType::Other("prediction".into())),
            ("deribit", "BTC-PERPETUAL", ListedType::Other("turbo".into())),
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
