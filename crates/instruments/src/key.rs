//! Canonical instrument keys: `VENUE:INSTRUMENT_TYPE:SYMBOL`, their parser, and the names of grouped dataset files.
//!
//! The grammar is written down in `docs/INSTRUMENT_KEY.md`; this module is its only implementation.
//! [`InstrumentKey::new`] canonicalises and validates, [`fmt::Display`] formats, and [`InstrumentKey::parse`]
//! accepts the strings `Display` produces, so `InstrumentKey::parse(&key.to_string()) == Ok(key)`, and besides them
//! only the historical spellings of venues and types (`OKEX-SWAP`, `PERP`, `SPOT_ASSET`), which it normalises.
//! [`InstrumentKey::historical_spellings`] goes the other way: the names under which a bucket written before may
//! hold the same instrument.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result, invalid_key};

/// The longest key this crate produces, in bytes; object names on GCS may be 1024 bytes long, so a key fits
/// with room for the path around it.
pub const MAX_KEY_LEN: usize = 512;
const MAX_VENUE_LEN: usize = 64;
const MAX_ASSET_LEN: usize = 40;
const MAX_STRIKE_LEN: usize = 40;
const MAX_LEGS_LEN: usize = 120;
const MAX_VARIANT_LEN: usize = 120;

/// The SYMBOL of a grouped dataset file: `DERIBIT:OPTION:ALL` names Tardis' `OPTIONS` file of Deribit.
pub const GROUP_SYMBOL: &str = "ALL";

/// The `INSTRUMENT_TYPE` part of a key: md-config's one instrument type, spelt by [`InstrumentType::key_str`].
pub use md_config::InstrumentType;

/// Reads the `INSTRUMENT_TYPE` part of a key: exactly a key spelling, now (`PERPETUAL`) or before (`PERP`,
/// `SPOT_ASSET`), nothing else.
fn key_type(text: &str) -> Result<InstrumentType> {
    InstrumentType::from_any_key_str(text)
        .ok_or_else(|| invalid_key(text, "unknown instrument type"))
}

/// Venues renamed since keys were first written, as `(historical, canonical)` spellings: the system md replaces
/// names Tardis' OKX exchanges `OKX`, `OKX-FUTURES`, `OKX-SWAP` (its key specification's Venue enum), while md
/// once wrote the Tardis ids upper-cased (`OKEX`, `OKEX-SWAP`). A venue is renamed when it equals the historical
/// spelling or starts with it followed by `-`, so every Tardis `okex*` id follows one rule: `okex-options` is
/// `OKX-OPTIONS`, `okex-spreads` `OKX-SPREADS`. Tardis has no `okx*` ids, so no two exchanges share a venue.
const VENUE_RENAMES: &[(&str, &str)] = &[("OKEX", "OKX")];

/// Renames an upper-cased venue spelt the historical way (`OKEX-SWAP` gives `OKX-SWAP`); `None` when it is not.
fn renamed_venue(upper: &str) -> Option<String> {
    VENUE_RENAMES.iter().find_map(|(old, new)| {
        let rest = upper.strip_prefix(old)?;
        (rest.is_empty() || rest.starts_with('-')).then(|| format!("{new}{rest}"))
    })
}

/// Returns the historical spellings of a canonical venue (`OKX-SWAP` gives `OKEX-SWAP`); empty for most venues.
fn historical_venues(canonical: &str) -> Vec<String> {
    VENUE_RENAMES
        .iter()
        .filter_map(|(old, new)| {
            let rest = canonical.strip_prefix(new)?;
            (rest.is_empty() || rest.starts_with('-')).then(|| format!("{old}{rest}"))
        })
        .collect()
}

/// Returns whether `text` is how a key spells the canonical venue `canonical`: exactly, or historically.
fn spells_venue(text: &str, canonical: &str) -> bool {
    text == canonical || historical_venues(canonical).iter().any(|old| old == text)
}

/// Every `VENUE:TYPE:SYMBOL` spelling of one object name but the canonical one: the canonical venue and its
/// historical spellings, crossed with the type's key spelling and its historical ones, canonical first.
fn other_spellings(venue: &str, kind: InstrumentType, symbol: &str) -> Vec<String> {
    let venues: Vec<String> =
        std::iter::once(venue.to_owned()).chain(historical_venues(venue)).collect();
    let kinds: Vec<&str> = std::iter::once(kind.key_str())
        .chain(kind.historical_key_spellings().iter().copied())
        .collect();
    let mut spellings = Vec::with_capacity(venues.len() * kinds.len() - 1);
    for (v, venue) in venues.iter().enumerate() {
        for (k, kind) in kinds.iter().enumerate() {
            if v + k > 0 {
                spellings.push(format!("{venue}:{kind}:{symbol}"));
            }
        }
    }
    spellings
}

/// `CALL` or `PUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptionType {
    /// A call.
    Call,
    /// A put.
    Put,
}

impl OptionType {
    /// Returns the key spelling (`CALL`, `PUT`).
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::Call => "CALL",
            OptionType::Put => "PUT",
        }
    }

    /// Reads Tardis and exchange spellings: `call`, `put`, `C`, `P` (any case).
    pub fn from_tardis(text: &str) -> Option<OptionType> {
        if text.eq_ignore_ascii_case("call") || text.eq_ignore_ascii_case("c") {
            Some(OptionType::Call)
        } else if text.eq_ignore_ascii_case("put") || text.eq_ignore_ascii_case("p") {
            Some(OptionType::Put)
        } else {
            None
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An option strike in canonical decimal text: no exponent, no float noise, no trailing zeros
/// (`0.625`, `1500`, `85000`). Held inline (no allocation), at most 40 characters.
#[derive(Clone, Copy)]
pub struct Strike {
    len: u8,
    bytes: [u8; MAX_STRIKE_LEN],
}

impl Strike {
    /// Returns the strike of a decimal value, printed as the shortest text that reads back as the same `f64`.
    ///
    /// # Errors
    /// Rejects negative, infinite and NaN values, and values whose text would be longer than 40 characters.
    pub fn from_f64(value: f64) -> Result<Strike> {
        if !value.is_finite() || value < 0.0 {
            return Err(invalid_key(
                &value.to_string(),
                "a strike must be a finite, non-negative number",
            ));
        }
        // `-0.0` compares equal to `0.0` but prints as `-0`.
        let value = if value == 0.0 { 0.0 } else { value };
        let mut strike = Strike { len: 0, bytes: [0; MAX_STRIKE_LEN] };
        if strike.write_short_decimal(value) {
            // Canonical by construction: digits, and no trailing zero after a point.
            return Ok(strike);
        }
        // Rust prints floats as the shortest round-trip text and never with an exponent.
        if write!(strike, "{value}").is_err() {
            return Err(invalid_key(&value.to_string(), "a strike has 1 to 40 characters"));
        }
        Strike::parse(strike.as_str())
    }

    /// Writes `value` (finite, non-negative) as `m / 10^k` for the smallest `k <= 9` that reads back exactly, with
    /// `m < 2^50`; returns `false`, writing nothing, when there is none. The text equals what `Display` prints (the
    /// shortest round-trip text), without its cost: every integer below 2^53 needs all its digits, and a shorter
    /// fraction would have been found at a smaller `k`. A property test holds the two equal.
    fn write_short_decimal(&mut self, value: f64) -> bool {
        const POWERS: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
        const LIMIT: f64 = (1u64 << 50) as f64;
        for (decimals, power) in POWERS.iter().enumerate() {
            let scaled = (value * power).round();
            if scaled >= LIMIT {
                return false;
            }
            if scaled / power == value {
                let scaled = scaled as u64;
                if decimals > 0 && scaled.is_multiple_of(10) {
                    // Not the shortest: leave it to `Display`.
                    return false;
                }
                self.push_scaled(scaled, decimals);
                return true;
            }
        }
        false
    }

    /// Writes `scaled / 10^decimals` in fixed notation without trailing zeros.
    fn push_scaled(&mut self, scaled: u64, decimals: usize) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        let mut rest = scaled;
        loop {
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        // Digits are in reverse order; pad with zeros so that there is an integer digit.
        while count <= decimals {
            digits[count] = b'0';
            count += 1;
        }
        let mut len = 0;
        for position in (0..count).rev() {
            if position + 1 == decimals {
                self.bytes[len] = b'.';
                len += 1;
            }
            self.bytes[len] = digits[position];
            len += 1;
        }
        self.len = len as u8;
    }

    /// Reads a decimal number in any notation Rust's `f64` parser accepts (`100000`, `0.50`, `1e3`) and
    /// returns its canonical strike.
    ///
    /// # Errors
    /// Fails on text that is not a number, and on the values [`Strike::from_f64`] rejects.
    pub fn from_decimal_text(text: &str) -> Result<Strike> {
        let value: f64 =
            text.parse().map_err(|_| invalid_key(text, "a strike must be a decimal number"))?;
        Strike::from_f64(value)
    }

    /// Reads a strike in canonical form only: `0` or digits without a leading zero, optionally followed by `.`
    /// and digits without a trailing zero.
    ///
    /// # Errors
    /// Fails on any other text, including non-canonical spellings of valid numbers (`1500.0`, `01`).
    pub fn parse(text: &str) -> Result<Strike> {
        if text.is_empty() || text.len() > MAX_STRIKE_LEN {
            return Err(invalid_key(text, "a strike has 1 to 40 characters"));
        }
        let (integer, fraction) = match text.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (text, None),
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let canonical_integer = digits(integer) && (integer == "0" || !integer.starts_with('0'));
        let canonical_fraction = fraction.is_none_or(|part| digits(part) && !part.ends_with('0'));
        if !(canonical_integer && canonical_fraction) {
            return Err(invalid_key(
                text,
                "a strike is a canonical decimal such as 0.625, 1500 or 85000",
            ));
        }
        let mut bytes = [0; MAX_STRIKE_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Strike { len: text.len() as u8, bytes })
    }

    /// Returns the canonical text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and `.` are ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Returns the value.
    pub fn value(&self) -> f64 {
        // Canonical text always parses.
        self.as_str().parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Write for Strike {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let start = usize::from(self.len);
        let end = start + text.len();
        if end > MAX_STRIKE_LEN {
            return Err(fmt::Error);
        }
        self.bytes[start..end].copy_from_slice(text.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl PartialEq for Strike {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Strike {}

impl std::hash::Hash for Strike {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Strike").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of a key, as plain data. [`InstrumentKey::new`] canonicalises and validates them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyParts {
    /// Tardis exchange id, upper-cased (`DERIBIT`, `BINANCE-FUTURES`).
    pub venue: String,
    /// The instrument type.
    pub instrument_type: InstrumentType,
    /// Base asset (`BTC`).
    pub base: String,
    /// Quote asset; for options the currency of the strike (`USD` for Deribit's BTC options).
    pub quote: String,
    /// Expiry date (UTC); futures and options only.
    pub expiry: Option<NaiveDate>,
    /// Strike; options only.
    pub strike: Option<Strike>,
    /// Call or put; options only.
    pub option_type: Option<OptionType>,
    /// The legs of a combo (`FS_261225_PERP`); combos only.
    pub legs: Option<String>,
    /// The variant segment that tells apart instruments whose other fields are equal (see
    /// `docs/INSTRUMENT_KEY.md`, "Variants"); `None` for almost every instrument.
    pub variant: Option<String>,
}

/// [`KeyParts`] borrowed: what the builder reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub(crate) venue: &'a str,
    pub(crate) instrument_type: InstrumentType,
    pub(crate) base: &'a str,
    pub(crate) quote: &'a str,
    pub(crate) expiry: Option<NaiveDate>,
    pub(crate) strike: Option<Strike>,
    pub(crate) option_type: Option<OptionType>,
    pub(crate) legs: Option<&'a str>,
    pub(crate) variant: Option<&'a str>,
}

/// For each byte, a bit per [`Component`] that may hold it (letters in either case: components are upper-cased).
const ALLOWED: [u8; 256] = {
    const VENUE: u8 = 1 << Component::Venue as u8;
    const ASSET: u8 = 1 << Component::Asset as u8;
    const LEGS: u8 = 1 << Component::Legs as u8;
    const VARIANT: u8 = 1 << Component::Variant as u8;
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_alphanumeric() || b == b'_' {
            VENUE | ASSET | LEGS | VARIANT
        } else if b == b'-' {
            VENUE | VARIANT
        } else if b == b'.' {
            ASSET | LEGS | VARIANT
        } else {
            0
        };
        byte += 1;
    }
    table
};

/// What a component may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Component {
    Venue,
    Asset,
    Legs,
    Variant,
}

impl Component {
    fn max_len(self) -> usize {
        match self {
            Component::Venue => MAX_VENUE_LEN,
            Component::Asset => MAX_ASSET_LEN,
            Component::Legs => MAX_LEGS_LEN,
            Component::Variant => MAX_VARIANT_LEN,
        }
    }

    /// Bit `self as u8` of `ALLOWED[byte]` says whether the byte (either case) may appear.
    fn allows(self, byte: u8) -> bool {
        ALLOWED[usize::from(byte)] & (1 << self as u8) != 0
    }

    fn rule(self) -> &'static str {
        match self {
            Component::Venue => {
                "a venue is a Tardis exchange id: 1 to 64 characters from A-Z 0-9 - _"
            }
            Component::Asset => "an asset code has 1 to 40 characters from A-Z 0-9 _ .",
            Component::Legs => "combo legs have 1 to 120 characters from A-Z 0-9 _ .",
            Component::Variant => "a variant has 1 to 120 characters from A-Z 0-9 _ . -",
        }
    }
}

/// Appends the canonical venue of `raw` (upper-cased, historical spellings renamed) to `out` if it is valid.
fn push_venue(out: &mut String, raw: &str) -> Result<()> {
    let start = out.len();
    push_component(out, raw, Component::Venue)?;
    if let Some(renamed) = renamed_venue(&out[start..]) {
        out.truncate(start);
        out.push_str(&renamed);
    }
    Ok(())
}

/// Appends `raw`, upper-cased, to `out` if it is a valid `component`.
fn push_component(out: &mut String, raw: &str, component: Component) -> Result<()> {
    let valid = !raw.is_empty()
        && raw.len() <= component.max_len()
        && raw != "."
        && raw != ".."
        && raw.bytes().all(|b| component.allows(b));
    if !valid {
        return Err(invalid_key(raw, component.rule()));
    }
    let start = out.len();
    out.push_str(raw);
    out.as_mut_str()[start..].make_ascii_uppercase();
    Ok(())
}

/// Byte offsets of a component in the key text.
type Span = (u16, u16);

fn span(start: usize, end: usize) -> Span {
    // Keys are at most MAX_KEY_LEN (512) bytes.
    (start as u16, end as u16)
}

impl KeyRef<'_> {
    /// Canonicalises, validates and renders: the one constructor of [`InstrumentKey`].
    pub(crate) fn build(&self) -> Result<InstrumentKey> {
        let kind = self.instrument_type;
        let needs_expiry = matches!(kind, InstrumentType::Future | InstrumentType::Option);
        let is_option = kind == InstrumentType::Option;
        let is_combo = kind == InstrumentType::Combo;
        let shape_error = |what: &str| {
            invalid_key(
                &format!("{}:{}:{}-{}", self.venue, kind.key_str(), self.base, self.quote),
                format!("a {} {what}", kind.key_str()),
            )
        };
        if self.expiry.is_some() != needs_expiry {
            return Err(shape_error(if needs_expiry {
                "needs an expiry"
            } else {
                "has no expiry in its key"
            }));
        }
        if self.strike.is_some() != is_option || self.option_type.is_some() != is_option {
            return Err(shape_error(if is_option {
                "needs a strike and an option type"
            } else {
                "has no strike or option type"
            }));
        }
        if self.legs.is_some() != is_combo {
            return Err(shape_error(if is_combo { "needs legs" } else { "has no legs" }));
        }
        if let Some(expiry) = self.expiry
            && !(2000..=2099).contains(&expiry.year())
        {
            return Err(invalid_key(&expiry.to_string(), "an expiry year must be 2000 to 2099"));
        }
        let strike = self.strike.as_ref().map(Strike::as_str);
        let len = self.venue.len()
            + kind.key_str().len()
            + self.base.len()
            + self.quote.len()
            + 3
            + self.expiry.map_or(0, |_| 7)
            + strike.map_or(0, |strike| strike.len() + 1)
            + self.option_type.map_or(0, |right| right.as_str().len() + 1)
            + self.legs.map_or(0, |legs| legs.len() + 1)
            + self.variant.map_or(0, |variant| variant.len() + 1);
        if len > MAX_KEY_LEN {
            return Err(shape_error(&format!("key would be longer than {MAX_KEY_LEN} bytes")));
        }
        let mut text = String::with_capacity(len);
        push_venue(&mut text, self.venue)?;
        let venue_end = text.len();
        text.push(':');
        text.push_str(kind.key_str());
        text.push(':');
        let base_start = text.len();
        push_component(&mut text, self.base, Component::Asset)?;
        let base = span(base_start, text.len());
        text.push('-');
        let quote_start = text.len();
        push_component(&mut text, self.quote, Component::Asset)?;
        let quote = span(quote_start, text.len());
        if let Some(expiry) = self.expiry {
            text.push('-');
            push_yymmdd(&mut text, expiry);
        }
        let strike = match (strike, self.option_type) {
            (Some(strike), Some(right)) => {
                text.push('-');
                let start = text.len();
                text.push_str(strike);
                let strike = span(start, text.len());
                text.push('-');
                text.push_str(right.as_str());
                Some(strike)
            }
            _ => None,
        };
        let legs = match self.legs {
            Some(legs) => {
                text.push('-');
                let start = text.len();
                push_component(&mut text, legs, Component::Legs)?;
                Some(span(start, text.len()))
            }
            None => None,
        };
        let variant_start = match self.variant {
            Some(variant) => {
                text.push('~');
                let start = text.len();
                push_component(&mut text, variant, Component::Variant)?;
                Some(start as u16)
            }
            None => None,
        };
        Ok(InstrumentKey {
            fingerprint: fingerprint(text.as_bytes()),
            text: text.into_boxed_str(),
            instrument_type: kind,
            venue_end: venue_end as u16,
            base,
            quote,
            expiry: self.expiry,
            strike,
            option_type: self.option_type,
            legs,
            variant_start,
        })
    }
}

/// A canonical instrument key such as `DERIBIT:OPTION:BTC-USD-241225-50000-CALL`.
///
/// Built only through [`InstrumentKey::new`] (and the shorthands beside it) or [`InstrumentKey::parse`], so every
/// value follows the grammar, formats to a valid object name, and parses back to itself. The canonical text is
/// kept (one allocation per key), so formatting is a copy; equality, hashing and ordering are those of the text.
#[derive(Clone)]
pub struct InstrumentKey {
    text: Box<str>,
    /// [`fingerprint`] of `text`, computed once while the text is hot: `Hash` feeds only this.
    fingerprint: u64,
    instrument_type: InstrumentType,
    venue_end: u16,
    base: Span,
    quote: Span,
    expiry: Option<NaiveDate>,
    strike: Option<Span>,
    option_type: Option<OptionType>,
    legs: Option<Span>,
    variant_start: Option<u16>,
}

impl InstrumentKey {
    /// Canonicalises (upper-cases, and renames historical venue spellings: `okex-swap` gives `OKX-SWAP`) and
    /// validates the parts.
    ///
    /// # Errors
    /// Fails when a component has characters outside the grammar, is empty or too long, when the fields present do not
    /// match the type (a future needs an expiry, only options have strikes, ...), or when the expiry year is not
    /// 2000 to 2099 (`YYMMDD` cannot say otherwise).
    pub fn new(parts: KeyParts) -> Result<InstrumentKey> {
        KeyRef {
            venue: &parts.venue,
            instrument_type: parts.instrument_type,
            base: &parts.base,
            quote: &parts.quote,
            expiry: parts.expiry,
            strike: parts.strike,
            option_type: parts.option_type,
            legs: parts.legs.as_deref(),
            variant: parts.variant.as_deref(),
        }
        .build()
    }

    /// The parts of a key with only venue, type, base and quote set.
    pub(crate) fn plain<'a>(
        venue: &'a str,
        instrument_type: InstrumentType,
        base: &'a str,
        quote: &'a str,
    ) -> KeyRef<'a> {
        KeyRef {
            venue,
            instrument_type,
            base,
            quote,
            expiry: None,
            strike: None,
            option_type: None,
            legs: None,
            variant: None,
        }
    }

    /// Returns the key of a spot pair: `VENUE:SPOT_PAIR:BASE-QUOTE`.
    ///
    /// # Errors
    /// As [`InstrumentKey::new`].
    pub fn spot(venue: &str, base: &str, quote: &str) -> Result<InstrumentKey> {
        InstrumentKey::plain(venue, InstrumentType::Spot, base, quote).build()
    }

    /// Returns the key of a perpetual: `VENUE:PERPETUAL:BASE-QUOTE`.
    ///
    /// # Errors
    /// As [`InstrumentKey::new`].
    pub fn perp(venue: &str, base: &str, quote: &str) -> Result<InstrumentKey> {
        InstrumentKey::plain(venue, InstrumentType::Perpetual, base, quote).build()
    }

    /// Returns the key of a future: `VENUE:FUTURE:BASE-QUOTE-YYMMDD`.
    ///
    /// # Errors
    /// As [`InstrumentKey::new`].
    pub fn future(
        venue: &str,
        base: &str,
        quote: &str,
        expiry: NaiveDate,
    ) -> Result<InstrumentKey> {
        KeyRef {
            expiry: Some(expiry),
            ..InstrumentKey::plain(venue, InstrumentType::Future, base, quote)
        }
        .build()
    }

    /// Returns the key of an option: `VENUE:OPTION:BASE-QUOTE-YYMMDD-STRIKE-CALL|PUT`.
    ///
    /// # Errors
    /// As [`InstrumentKey::new`].
    pub fn option(
        venue: &str,
        base: &str,
        quote: &str,
        expiry: NaiveDate,
        strike: Strike,
        option_type: OptionType,
    ) -> Result<InstrumentKey> {
        KeyRef {
            expiry: Some(expiry),
            strike: Some(strike),
            option_type: Some(option_type),
            ..InstrumentKey::plain(venue, InstrumentType::Option, base, quote)
        }
        .build()
    }

    /// Returns the key of a combo: `VENUE:COMBO:BASE-QUOTE-LEGS`.
    ///
    /// # Errors
    /// As [`InstrumentKey::new`].
    pub fn combo(venue: &str, base: &str, quote: &str, legs: &str) -> Result<InstrumentKey> {
        KeyRef {
            legs: Some(legs),
            ..InstrumentKey::plain(venue, InstrumentType::Combo, base, quote)
        }
        .build()
    }

    fn as_ref_parts(&self) -> KeyRef<'_> {
        KeyRef {
            venue: self.venue(),
            instrument_type: self.instrument_type,
            base: self.base(),
            quote: self.quote(),
            expiry: self.expiry,
            strike: self.strike(),
            option_type: self.option_type,
            legs: self.legs(),
            variant: self.variant(),
        }
    }

    /// Returns this key with the variant segment `~variant` (replacing any variant it had).
    ///
    /// # Errors
    /// Fails when the variant has characters outside `A-Z 0-9 _ . -` or is too long.
    pub fn with_variant(&self, variant: &str) -> Result<InstrumentKey> {
        KeyRef { variant: Some(variant), ..self.as_ref_parts() }.build()
    }

    /// Returns this key without its variant segment.
    pub fn without_variant(&self) -> InstrumentKey {
        match (KeyRef { variant: None, ..self.as_ref_parts() }).build() {
            Ok(key) => key,
            // Dropping a segment of a valid key leaves a valid key.
            Err(_) => self.clone(),
        }
    }

    /// Reads a key: the exact string [`fmt::Display`] prints, or that string with a historical spelling of its
    /// venue (`OKEX-SWAP`) or type (`PERP`, `SPOT_ASSET`), which gives the canonical key
    /// (`OKEX-SWAP:PERP:BTC-USDT` reads as `OKX-SWAP:PERPETUAL:BTC-USDT`).
    ///
    /// # Errors
    /// Fails, naming the text, on anything outside the grammar, including lower case and non-canonical strikes.
    pub fn parse(text: &str) -> Result<InstrumentKey> {
        let mut fields = text.split(':');
        let (Some(venue), Some(kind), Some(symbol), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid_key(text, "a key has three parts separated by ':'"));
        };
        let instrument_type = key_type(kind)?;
        let (core, variant) = match symbol.split_once('~') {
            Some((core, variant)) => (core, Some(variant)),
            None => (symbol, None),
        };
        let mut segments = [""; 5];
        let mut count = 0;
        for segment in core.split('-') {
            if count == segments.len() {
                count += 1;
                break;
            }
            segments[count] = segment;
            count += 1;
        }
        let expected = match instrument_type {
            InstrumentType::Spot | InstrumentType::Perpetual => 2,
            InstrumentType::Future | InstrumentType::Combo => 3,
            InstrumentType::Option => 5,
        };
        if count != expected {
            return Err(invalid_key(
                text,
                format!(
                    "the SYMBOL of a {} has {expected} parts separated by '-'",
                    instrument_type.key_str()
                ),
            ));
        }
        let mut parts = InstrumentKey::plain(venue, instrument_type, segments[0], segments[1]);
        parts.variant = variant;
        match instrument_type {
            InstrumentType::Spot | InstrumentType::Perpetual => {}
            InstrumentType::Future => parts.expiry = Some(parse_yymmdd(segments[2])?),
            InstrumentType::Combo => parts.legs = Some(segments[2]),
            InstrumentType::Option => {
                parts.expiry = Some(parse_yymmdd(segments[2])?);
                parts.strike = Some(Strike::parse(segments[3])?);
                parts.option_type = Some(match segments[4] {
                    "CALL" => OptionType::Call,
                    "PUT" => OptionType::Put,
                    other => return Err(invalid_key(other, "an option type is CALL or PUT")),
                });
            }
        }
        let key = parts.build().map_err(|error| match error {
            Error::InvalidKey { reason, .. } => invalid_key(text, reason),
            other => other,
        })?;
        if key.as_str() != text && !(spells_venue(venue, key.venue()) && symbol == key.symbol()) {
            return Err(invalid_key(text, "not in canonical form (keys are upper case)"));
        }
        Ok(key)
    }

    /// Returns the other names under which a bucket written by the system md replaces, or by earlier md, may
    /// hold this instrument: every combination of the venue's spellings (`OKX-SWAP`, `OKEX-SWAP`) and the type's
    /// (`PERPETUAL`, `PERP`; `SPOT_PAIR`, `SPOT_ASSET`) with the same SYMBOL, except this key's own text.
    /// Canonical venue first, then the type's spellings in order: `DERIBIT:PERPETUAL:BTC-USD` gives
    /// `["DERIBIT:PERP:BTC-USD"]`, `OKX-SWAP:PERPETUAL:BTC-USDT` gives `OKX-SWAP:PERP:BTC-USDT`,
    /// `OKEX-SWAP:PERPETUAL:BTC-USDT` and `OKEX-SWAP:PERP:BTC-USDT`; a key with no historical spelling
    /// (`DERIBIT:OPTION:...`) gives none. Each of them reads back as this key with [`InstrumentKey::parse`].
    pub fn historical_spellings(&self) -> Vec<String> {
        other_spellings(self.venue(), self.instrument_type, self.symbol())
    }

    /// Returns the key text (`DERIBIT:PERPETUAL:BTC-USD`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Returns the parts as plain data.
    pub fn to_parts(&self) -> KeyParts {
        KeyParts {
            venue: self.venue().to_owned(),
            instrument_type: self.instrument_type,
            base: self.base().to_owned(),
            quote: self.quote().to_owned(),
            expiry: self.expiry,
            strike: self.strike(),
            option_type: self.option_type,
            legs: self.legs().map(str::to_owned),
            variant: self.variant().map(str::to_owned),
        }
    }

    fn slice(&self, (start, end): Span) -> &str {
        &self.text[usize::from(start)..usize::from(end)]
    }

    /// Returns the venue (`DERIBIT`).
    pub fn venue(&self) -> &str {
        &self.text[..usize::from(self.venue_end)]
    }

    /// Returns the instrument type.
    pub fn instrument_type(&self) -> InstrumentType {
        self.instrument_type
    }

    /// Returns the base asset.
    pub fn base(&self) -> &str {
        self.slice(self.base)
    }

    /// Returns the quote asset (for options, the strike currency).
    pub fn quote(&self) -> &str {
        self.slice(self.quote)
    }

    /// Returns the expiry date.
    pub fn expiry(&self) -> Option<NaiveDate> {
        self.expiry
    }

    /// Returns the expiry as it appears in the key (`YYMMDD`).
    pub fn expiry_code(&self) -> Option<String> {
        self.expiry.map(yymmdd)
    }

    /// Returns the strike.
    pub fn strike(&self) -> Option<Strike> {
        // The key text holds a canonical strike at this span.
        self.strike.and_then(|strike| Strike::parse(self.slice(strike)).ok())
    }

    /// Returns the option type.
    pub fn option_type(&self) -> Option<OptionType> {
        self.option_type
    }

    /// Returns the legs of a combo.
    pub fn legs(&self) -> Option<&str> {
        self.legs.map(|legs| self.slice(legs))
    }

    /// Returns the variant segment, without its `~`.
    pub fn variant(&self) -> Option<&str> {
        self.variant_start.map(|start| &self.text[usize::from(start)..])
    }

    /// Returns the SYMBOL part (`BTC-USD-241225-50000-CALL`).
    pub fn symbol(&self) -> &str {
        &self.text[usize::from(self.base.0)..]
    }
}

impl PartialEq for InstrumentKey {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for InstrumentKey {}

/// Equal keys have equal text, hence equal fingerprints.
impl std::hash::Hash for InstrumentKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint);
    }
}

impl PartialOrd for InstrumentKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Keys order as their text.
impl Ord for InstrumentKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl fmt::Debug for InstrumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InstrumentKey").field(&self.as_str()).finish()
    }
}

impl fmt::Display for InstrumentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for InstrumentKey {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        InstrumentKey::parse(text)
    }
}

/// The object name of a grouped Tardis dataset file (`OPTIONS`, `PERPETUALS`, `FUTURES`, `SPOT`, `COMBOS`):
/// `VENUE:INSTRUMENT_TYPE:ALL`, for example `DERIBIT:OPTION:ALL`.
///
/// It can never equal an [`InstrumentKey`]: the SYMBOL of an instrument always holds a `-`, `ALL` does not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    venue: String,
    instrument_type: InstrumentType,
}

impl GroupKey {
    /// Returns the key of the grouped file holding every instrument of `instrument_type` on `venue`.
    ///
    /// # Errors
    /// Fails when the venue is not a valid key venue.
    pub fn new(venue: &str, instrument_type: InstrumentType) -> Result<GroupKey> {
        Ok(GroupKey { venue: canonical_venue(venue)?, instrument_type })
    }

    /// Reads a group key: canonical text, or text with a historical spelling of its venue or type, which gives the
    /// canonical key (`BINANCE:PERP:ALL` reads as `BINANCE:PERPETUAL:ALL`).
    ///
    /// # Errors
    /// Fails on anything that is not `VENUE:INSTRUMENT_TYPE:ALL`.
    pub fn parse(text: &str) -> Result<GroupKey> {
        let mut fields = text.split(':');
        let (Some(venue), Some(kind), Some(GROUP_SYMBOL), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(invalid_key(text, "a group key is VENUE:INSTRUMENT_TYPE:ALL"));
        };
        let key = GroupKey::new(venue, key_type(kind)?)?;
        if !spells_venue(venue, &key.venue) {
            return Err(invalid_key(text, "not in canonical form (keys are upper case)"));
        }
        Ok(key)
    }

    /// Returns the other names under which a bucket written before may hold this grouped file
    /// (`BINANCE:PERPETUAL:ALL` gives `["BINANCE:PERP:ALL"]`), as [`InstrumentKey::historical_spellings`].
    pub fn historical_spellings(&self) -> Vec<String> {
        other_spellings(&self.venue, self.instrument_type, GROUP_SYMBOL)
    }

    /// Returns the venue.
    pub fn venue(&self) -> &str {
        &self.venue
    }

    /// Returns the instrument type the group holds.
    pub fn instrument_type(&self) -> InstrumentType {
        self.instrument_type
    }

    /// Returns the Tardis grouped dataset symbol (`OPTIONS`).
    pub fn tardis_group(&self) -> &'static str {
        self.instrument_type.tardis_group()
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{GROUP_SYMBOL}", self.venue, self.instrument_type.key_str())
    }
}

/// Returns the object name of a grouped Tardis dataset file: `grouped_object_key("deribit", "OPTIONS")` is
/// `DERIBIT:OPTION:ALL`.
///
/// # Errors
/// Fails on a group other than `OPTIONS`, `FUTURES`, `PERPETUALS`, `SPOT` and `COMBOS`, and on an invalid venue.
pub fn grouped_object_key(venue: &str, group: &str) -> Result<GroupKey> {
    let kind = InstrumentType::from_tardis_group(group)
        .ok_or_else(|| Error::UnknownGroup { group: group.to_owned() })?;
    GroupKey::new(venue, kind)
}

/// Any name this crate gives a dataset object: one instrument, or a grouped file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// One instrument.
    Instrument(InstrumentKey),
    /// A grouped file.
    Group(GroupKey),
}

impl ObjectKey {
    /// Reads either kind of key, accepting historical spellings as [`InstrumentKey::parse`] does.
    ///
    /// # Errors
    /// Fails when the text is neither an instrument key nor a group key.
    pub fn parse(text: &str) -> Result<ObjectKey> {
        if text.ends_with(":ALL") {
            GroupKey::parse(text).map(ObjectKey::Group)
        } else {
            InstrumentKey::parse(text).map(ObjectKey::Instrument)
        }
    }

    /// Returns the other names under which a bucket written before may hold this object's data (see
    /// [`InstrumentKey::historical_spellings`]).
    pub fn historical_spellings(&self) -> Vec<String> {
        match self {
            ObjectKey::Instrument(key) => key.historical_spellings(),
            ObjectKey::Group(key) => key.historical_spellings(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectKey::Instrument(key) => key.fmt(f),
            ObjectKey::Group(key) => key.fmt(f),
        }
    }
}

/// Returns the canonical spelling of an asset code: upper case, characters `A-Z 0-9 _ .`, 1 to 40 of them.
/// Idempotent: `canonical_asset(canonical_asset(x)?) == canonical_asset(x)`.
///
/// # Errors
/// Fails on empty or over-long codes, on `.` and `..`, and on any other character (non-ASCII, `-`, `/`, `:`,
/// spaces...): such a code is reported, never rewritten into a guess.
pub fn canonical_asset(raw: &str) -> Result<String> {
    let mut asset = String::with_capacity(raw.len());
    push_component(&mut asset, raw, Component::Asset)?;
    Ok(asset)
}

/// Returns the canonical venue of a Tardis exchange id: upper case, characters `A-Z 0-9 - _`, with the OKX
/// exchanges under their current name (`okex` is `OKX`, `okex-swap` is `OKX-SWAP`). Idempotent.
///
/// # Errors
/// Fails on empty or over-long ids and on any other character.
pub fn canonical_venue(raw: &str) -> Result<String> {
    let mut venue = String::with_capacity(raw.len());
    push_venue(&mut venue, raw)?;
    Ok(venue)
}

/// Returns whether `text` can be used as one component of a GCS object name: 1 to 1024 bytes of UTF-8, no `/`,
/// no control characters (so no CR or LF), not `.` or `..`, and none of the characters GCS advises against
/// (`#`, `[`, `]`, `*`, `?`).
pub fn is_valid_object_component(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 1024
        && text != "."
        && text != ".."
        && !text.chars().any(|c| c.is_control() || matches!(c, '/' | '#' | '[' | ']' | '*' | '?'))
}

/// Formats a date as `YYMMDD`.
pub(crate) fn yymmdd(date: NaiveDate) -> String {
    let mut text = String::with_capacity(6);
    push_yymmdd(&mut text, date);
    text
}

fn push_yymmdd(out: &mut String, date: NaiveDate) {
    // Years are 2000..=2099 (checked in `InstrumentKey::new`).
    for number in [date.year().rem_euclid(100) as u32, date.month(), date.day()] {
        out.push(char::from(b'0' + (number / 10) as u8));
        out.push(char::from(b'0' + (number % 10) as u8));
    }
}

/// Reads `YYMMDD` (years 2000 to 2099).
pub(crate) fn parse_yymmdd(text: &str) -> Result<NaiveDate> {
    let number =
        |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse::<u32>().ok());
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_key(text, "an expiry is YYMMDD"));
    }
    match (number(0..2), number(2..4), number(4..6)) {
        (Some(year), Some(month), Some(day)) => {
            NaiveDate::from_ymd_opt(2000 + year as i32, month, day)
                .ok_or_else(|| invalid_key(text, "an expiry is a calendar date YYMMDD"))
        }
        _ => Err(invalid_key(text, "an expiry is YYMMDD")),
    }
}

/// FNV-1a, 32 bits, with its published constants (offset basis 0x811c9dc5, prime 0x01000193): a fixed hash that
/// gives the same value on every run and machine, unlike `std`'s randomly seeded hashers.
pub(crate) fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// A fixed, seedless 64-bit hash of the key text, eight bytes at a time (the FxHash step of rustc). Never
/// persisted: it only makes hashing a key cheap.
fn fingerprint(bytes: &[u8]) -> u64 {
    let step =
        |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    let mut hash = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        hash = step(hash, u64::from_le_bytes(word));
    }
    let rest = chunks.remainder();
    let mut word = [0u8; 8];
    word[..rest.len()].copy_from_slice(rest);
    step(hash, u64::from_le_bytes(word))
}

/// Returns the variant segment for an instrument: its Tardis dataset symbol, upper case, with every character
/// outside `A-Z 0-9 _ . -` replaced by `_`; when anything was replaced (or the symbol is over 100 characters), the
/// 8 upper-case hex digits of FNV-1a-32 of the original symbol follow after a `.`, so two symbols never share a
/// variant by accident.
pub fn variant_tag(tardis_symbol: &str) -> String {
    let upper = tardis_symbol.to_ascii_uppercase();
    let mut changed = false;
    let mut tag: String = upper
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                changed = true;
                '_'
            }
        })
        .collect();
    if tag.len() > 100 {
        tag.truncate(100);
        changed = true;
    }
    if changed || tag.is_empty() || tag == "." || tag == ".." {
        let _ = write!(tag, ".{:08X}", fnv1a_32(tardis_symbol.as_bytes()));
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn example_keys_format_exactly() {
        let expected = [
            (InstrumentKey::spot("binance", "BTC", "USDT"), "BINANCE:SPOT_PAIR:BTC-USDT"),
            (InstrumentKey::perp("deribit", "BTC", "USD"), "DERIBIT:PERPETUAL:BTC-USD"),
            (InstrumentKey::perp("bybit", "eth", "usdt"), "BYBIT:PERPETUAL:ETH-USDT"),
            (InstrumentKey::perp("okex-swap", "BTC", "USDT"), "OKX-SWAP:PERPETUAL:BTC-USDT"),
            (InstrumentKey::spot("okex", "BTC", "USDT"), "OKX:SPOT_PAIR:BTC-USDT"),
            (
                InstrumentKey::future("deribit", "BTC", "USD", date("2024-12-25")),
                "DERIBIT:FUTURE:BTC-USD-241225",
            ),
            (
                InstrumentKey::option(
                    "deribit",
                    "BTC",
                    "USD",
                    date("2024-12-25"),
                    Strike::from_f64(50000.0).unwrap(),
                    OptionType::Call,
                ),
                "DERIBIT:OPTION:BTC-USD-241225-50000-CALL",
            ),
            (
                InstrumentKey::option(
                    "deribit",
                    "BTC",
                    "USD",
                    date("2023-12-29"),
                    Strike::from_f64(50000.0).unwrap(),
                    OptionType::Put,
                ),
                "DERIBIT:OPTION:BTC-USD-231229-50000-PUT",
            ),
            (
                InstrumentKey::combo("deribit", "BTC", "USD", "FS_261225_PERP"),
                "DERIBIT:COMBO:BTC-USD-FS_261225_PERP",
            ),
        ];
        for (key, text) in expected {
            let key = key.unwrap();
            assert_eq!(key.to_string(), text);
            assert_eq!(InstrumentKey::parse(text).unwrap(), key, "{text}");
        }
    }

    #[test]
    fn strikes_print_without_float_noise() {
        for (value, text) in [
            (0.625, "0.625"),
            (1500.0, "1500"),
            (85000.0, "85000"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.3, "0.3"),
            (1e-7, "0.0000001"),
            (-0.0, "0"),
            (1e21, "1000000000000000000000"),
        ] {
            assert_eq!(Strike::from_f64(value).unwrap().as_str(), text, "{value}");
        }
        assert_eq!(Strike::from_decimal_text("0.6250").unwrap().as_str(), "0.625");
        assert_eq!(Strike::from_decimal_text("1500.0").unwrap().as_str(), "1500");
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e40, 5e-324] {
            assert!(Strike::from_f64(bad).is_err(), "{bad}");
        }
        for bad in ["", "01", "1.", ".5", "1.50", "1e3", "-1", "1,5", "+1"] {
            assert!(Strike::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Strike::parse("0.625").unwrap().value(), 0.625);
    }

    #[test]
    fn parse_rejects_everything_outside_the_grammar() {
        for bad in [
            "",
            "DERIBIT",
            "DERIBIT:PERPETUAL",
            "DERIBIT:PERPETUAL:BTC-USD:X",
            "deribit:PERPETUAL:BTC-USD",
            "DERIBIT:perpetual:BTC-USD",
            "DERIBIT:perp:BTC-USD",
            "DERIBIT:Perp:BTC-USD",
            "DERIBIT:PERPETUALS:BTC-USD",
            "DERIBIT:SPOT:BTC-USD",
            "okex-swap:PERP:BTC-USDT",
            "Okex-Swap:PERPETUAL:BTC-USDT",
            "DERIBIT:PERPETUAL:btc-USD",
            "DERIBIT:PERP:btc-USD",
            "DERIBIT:PERPETUAL:BTC",
            "DERIBIT:PERPETUAL:BTC-USD-241225",
            "DERIBIT:FUTURE:BTC-USD",
            "DERIBIT:FUTURE:BTC-USD-241232",
            "DERIBIT:FUTURE:BTC-USD-20241225",
            "DERIBIT:OPTION:BTC-USD-241225-50000-C",
            "DERIBIT:OPTION:BTC-USD-241225-50000.0-CALL",
            "DERIBIT:OPTION:BTC-USD-241225-CALL",
            "DERIBIT:COMBO:BTC-USD",
            "DERIBIT:PERPETUAL:BTC-USD~",
            "DERIBIT:PERPETUAL:BTC-USD~a",
            "DERIBIT:PERPETUAL:BTC-USD~X~Y",
            "DERIBIT:PERPETUAL:BTC/X-USD",
            "DERIBIT:PERPETUAL:-USD",
            "DER IBIT:PERPETUAL:BTC-USD",
            "DERIBIT:OPTION:ALL",
        ] {
            assert!(InstrumentKey::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn fields_must_match_the_type() {
        let mut parts = InstrumentKey::perp("deribit", "BTC", "USD").unwrap().to_parts();
        parts.expiry = Some(date("2024-12-25"));
        assert!(InstrumentKey::new(parts.clone()).is_err());
        parts.instrument_type = InstrumentType::Future;
        assert!(InstrumentKey::new(parts.clone()).is_ok());
        parts.strike = Some(Strike::from_f64(1.0).unwrap());
        assert!(InstrumentKey::new(parts.clone()).is_err());
        parts.instrument_type = InstrumentType::Option;
        assert!(InstrumentKey::new(parts.clone()).is_err(), "an option needs its option type");
        parts.option_type = Some(OptionType::Put);
        assert!(InstrumentKey::new(parts.clone()).is_ok());
        parts.expiry = Some(date("2100-01-01"));
        assert!(InstrumentKey::new(parts).is_err(), "YYMMDD cannot hold 2100");
    }

    #[test]
    fn variants_extend_the_symbol() {
        let key = InstrumentKey::perp("cryptofacilities", "BTC", "USD")
            .unwrap()
            .with_variant(&variant_tag("PF_XBTUSD"))
            .unwrap();
        assert_eq!(key.to_string(), "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD");
        assert_eq!(InstrumentKey::parse(&key.to_string()).unwrap(), key);
        assert_eq!(key.without_variant().to_string(), "CRYPTOFACILITIES:PERPETUAL:BTC-USD");
        assert_eq!(key.historical_spellings(), ["CRYPTOFACILITIES:PERP:BTC-USD~PF_XBTUSD"]);
        assert_eq!(variant_tag("BTC-27NOV26-100000-C"), "BTC-27NOV26-100000-C");
        let odd = variant_tag("btc usd#1");
        assert_eq!(odd, format!("BTC_USD_1.{:08X}", fnv1a_32(b"btc usd#1")));
        assert!(InstrumentKey::perp("x", "A", "B").unwrap().with_variant(&odd).is_ok());
    }

    #[test]
    fn group_keys_are_distinct_from_instrument_keys() {
        let group = grouped_object_key("deribit", "OPTIONS").unwrap();
        assert_eq!(group.to_string(), "DERIBIT:OPTION:ALL");
        assert_eq!(GroupKey::parse("DERIBIT:OPTION:ALL").unwrap(), group);
        assert_eq!(group.tardis_group(), "OPTIONS");
        for (group, text) in [
            ("SPOT", "BINANCE:SPOT_PAIR:ALL"),
            ("PERPETUALS", "BINANCE:PERPETUAL:ALL"),
            ("FUTURES", "BINANCE:FUTURE:ALL"),
            ("COMBOS", "BINANCE:COMBO:ALL"),
        ] {
            assert_eq!(grouped_object_key("binance", group).unwrap().to_string(), text);
            assert!(matches!(ObjectKey::parse(text).unwrap(), ObjectKey::Group(_)));
        }
        assert_eq!(
            grouped_object_key("deribit", "PREDICTIONS"),
            Err(Error::UnknownGroup { group: "PREDICTIONS".into() })
        );
        assert!(GroupKey::parse("deribit:OPTION:ALL").is_err());
        assert!(GroupKey::parse("okex:SPOT_PAIR:ALL").is_err());
        assert!(matches!(
            ObjectKey::parse("DERIBIT:PERPETUAL:BTC-USD").unwrap(),
            ObjectKey::Instrument(_)
        ));
    }

    /// Keys written before (by the system md replaces, or by earlier md) read as the canonical key, and the
    /// canonical key lists them: `(text written before, canonical key)`.
    #[test]
    fn historical_spellings_read_as_the_canonical_key() {
        for (old, canonical) in [
            ("DERIBIT:PERP:BTC-USD", "DERIBIT:PERPETUAL:BTC-USD"),
            ("BINANCE:SPOT_ASSET:BTC-USDT", "BINANCE:SPOT_PAIR:BTC-USDT"),
            ("OKEX:SPOT_PAIR:BTC-USDT", "OKX:SPOT_PAIR:BTC-USDT"),
            ("OKEX:SPOT_ASSET:BTC-USDT", "OKX:SPOT_PAIR:BTC-USDT"),
            ("OKEX-SWAP:PERP:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
            ("OKX-SWAP:PERP:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
            ("OKEX-SWAP:PERPETUAL:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
            ("OKEX-FUTURES:FUTURE:BTC-USD-241227", "OKX-FUTURES:FUTURE:BTC-USD-241227"),
            (
                "OKEX-OPTIONS:OPTION:BTC-USD-261127-100000-PUT",
                "OKX-OPTIONS:OPTION:BTC-USD-261127-100000-PUT",
            ),
            (
                "CRYPTOFACILITIES:PERP:BTC-USD~PF_XBTUSD",
                "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD",
            ),
            ("BINANCE:PERP:ALL", "BINANCE:PERPETUAL:ALL"),
            ("OKEX-SWAP:PERP:ALL", "OKX-SWAP:PERPETUAL:ALL"),
            ("OKEX:SPOT_ASSET:ALL", "OKX:SPOT_PAIR:ALL"),
        ] {
            let key = ObjectKey::parse(old).unwrap_or_else(|error| panic!("{old}: {error}"));
            assert_eq!(key.to_string(), canonical, "{old}");
            assert!(
                key.historical_spellings().contains(&old.to_owned()),
                "{canonical} lists {old}"
            );
            assert!(!key.historical_spellings().contains(&canonical.to_owned()));
            assert_eq!(ObjectKey::parse(canonical).unwrap(), key);
        }
    }

    /// `(canonical key, every other spelling, in order)`.
    #[test]
    fn historical_spellings_are_every_combination_in_a_fixed_order() {
        for (canonical, expected) in [
            ("DERIBIT:PERPETUAL:BTC-USD", &["DERIBIT:PERP:BTC-USD"][..]),
            ("BINANCE:SPOT_PAIR:BTC-USDT", &["BINANCE:SPOT_ASSET:BTC-USDT"][..]),
            ("DERIBIT:OPTION:BTC-USD-241225-50000-CALL", &[][..]),
            ("DERIBIT:FUTURE:BTC-USD-241225", &[][..]),
            ("DERIBIT:COMBO:BTC-USD-FS_261225_PERP", &[][..]),
            (
                "OKX-SWAP:PERPETUAL:BTC-USDT",
                &[
                    "OKX-SWAP:PERP:BTC-USDT",
                    "OKEX-SWAP:PERPETUAL:BTC-USDT",
                    "OKEX-SWAP:PERP:BTC-USDT",
                ][..],
            ),
            (
                "OKX:SPOT_PAIR:BTC-USDT",
                &["OKX:SPOT_ASSET:BTC-USDT", "OKEX:SPOT_PAIR:BTC-USDT", "OKEX:SPOT_ASSET:BTC-USDT"]
                    [..],
            ),
            ("OKX-FUTURES:FUTURE:BTC-USD-241227", &["OKEX-FUTURES:FUTURE:BTC-USD-241227"][..]),
            ("DERIBIT:OPTION:ALL", &[][..]),
            ("BINANCE:PERPETUAL:ALL", &["BINANCE:PERP:ALL"][..]),
        ] {
            let key = ObjectKey::parse(canonical).unwrap();
            assert_eq!(key.to_string(), canonical);
            assert_eq!(key.historical_spellings(), expected, "{canonical}");
        }
    }

    /// `(Tardis exchange id, venue)`: every `okex*` id by one rule, others upper-cased.
    #[test]
    fn okx_exchanges_have_their_current_name() {
        for (exchange, venue) in [
            ("okex", "OKX"),
            ("okex-futures", "OKX-FUTURES"),
            ("okex-swap", "OKX-SWAP"),
            ("okex-options", "OKX-OPTIONS"),
            ("okex-spreads", "OKX-SPREADS"),
            ("OKEX-SWAP", "OKX-SWAP"),
            ("okx", "OKX"),
            ("okexchange", "OKEXCHANGE"),
            ("okex_swap", "OKEX_SWAP"),
            ("okcoin", "OKCOIN"),
            ("binance-futures", "BINANCE-FUTURES"),
            ("deribit", "DERIBIT"),
        ] {
            assert_eq!(canonical_venue(exchange).unwrap(), venue, "{exchange}");
            assert_eq!(canonical_venue(venue).unwrap(), venue, "idempotent: {venue}");
        }
    }

    #[test]
    fn fnv1a_32_matches_the_published_test_vectors() {
        assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
        assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn object_component_validity() {
        assert!(is_valid_object_component("DERIBIT:OPTION:BTC-USD-241225-0.625-CALL~X.Y-Z"));
        for bad in
            ["", ".", "..", "a/b", "a\nb", "a\rb", "a#b", "a?b", "a*b", "a[b", "a]b", "\u{7f}"]
        {
            assert!(!is_valid_object_component(bad), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod property_tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn asset() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9_.]{0,9}"
    }

    fn strike() -> impl Strategy<Value = Strike> {
        prop_oneof![
            (0u64..10_000_000).prop_map(|value| value as f64),
            (0u64..10_000_000, 1u32..7)
                .prop_map(|(value, scale)| value as f64 / 10f64.powi(scale as i32)),
            (0.0f64..1e9),
        ]
        .prop_map(|value| Strike::from_f64(value).unwrap())
    }

    prop_compose! {
        fn parts()(
            venue in "[a-z][a-z0-9-]{0,15}",
            kind in prop::sample::select(InstrumentType::ALL.to_vec()),
            base in asset(),
            quote in asset(),
            days in 0i64..36_524,
            strike in strike(),
            call in any::<bool>(),
            legs in "[A-Z0-9][A-Z0-9_.]{0,11}",
            variant in prop::option::of("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,11}"),
        ) -> KeyParts {
            let expiry = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
            let is_option = kind == InstrumentType::Option;
            KeyParts {
                venue,
                instrument_type: kind,
                base,
                quote,
                expiry: matches!(kind, InstrumentType::Future | InstrumentType::Option).then_some(expiry),
                strike: is_option.then_some(strike),
                option_type: is_option.then_some(if call { OptionType::Call } else { OptionType::Put }),
                legs: (kind == InstrumentType::Combo).then_some(legs),
                variant,
            }
        }
    }

    /// The fields of one key, drawn from small sets with some values spelt in two cases, so that a few draws
    /// share identities and come near each other in text (`BTC-USDC` and `BTCU-SDC`, strikes `5` and `50`,
    /// venues `OKEX-SWAP` and `OKEX_SWAP`).
    #[derive(Debug, Clone)]
    struct Near {
        venue: &'static str,
        kind: InstrumentType,
        base: &'static str,
        quote: &'static str,
        december_day: u32,
        strike: f64,
        call: bool,
        legs: &'static str,
        variant: Option<&'static str>,
    }

    impl Near {
        fn parts(&self) -> KeyParts {
            let kind = self.kind;
            let is_option = kind == InstrumentType::Option;
            KeyParts {
                venue: self.venue.to_owned(),
                instrument_type: kind,
                base: self.base.to_owned(),
                quote: self.quote.to_owned(),
                expiry: matches!(kind, InstrumentType::Future | InstrumentType::Option)
                    .then(|| NaiveDate::from_ymd_opt(2024, 12, self.december_day).unwrap()),
                strike: is_option.then(|| Strike::from_f64(self.strike).unwrap()),
                option_type: is_option.then_some(if self.call {
                    OptionType::Call
                } else {
                    OptionType::Put
                }),
                legs: (kind == InstrumentType::Combo).then(|| self.legs.to_owned()),
                variant: self.variant.map(str::to_owned),
            }
        }
    }

    fn near() -> impl Strategy<Value = Near> {
        use prop::sample::select;
        (
            select(&["deribit", "DERIBIT", "okex-swap", "okex_swap"][..]),
            select(InstrumentType::ALL.to_vec()),
            select(&["BTC", "btc", "BTCU"][..]),
            select(&["USDC", "usdc", "SDC"][..]),
            select(vec![1u32, 11]),
            select(vec![0.5, 5.0, 50.0]),
            any::<bool>(),
            select(&["FS_241227", "fs_241227", "FS_2412"][..]),
            prop::option::of(select(&["PF", "pf", "PF-X"][..])),
        )
            .prop_map(
                |(venue, kind, base, quote, december_day, strike, call, legs, variant)| Near {
                    venue,
                    kind,
                    base,
                    quote,
                    december_day,
                    strike,
                    call,
                    legs,
                    variant,
                },
            )
    }

    /// The canonical identity of a key's fields, stated here independently of the builder: every text field in
    /// upper case.
    fn canonical(parts: &KeyParts) -> KeyParts {
        let upper = |text: &String| text.to_ascii_uppercase();
        let venue = upper(&parts.venue);
        KeyParts {
            venue: match venue.strip_prefix("OKEX") {
                Some(rest) if rest.is_empty() || rest.starts_with('-') => format!("OKX{rest}"),
                _ => venue,
            },
            base: upper(&parts.base),
            quote: upper(&parts.quote),
            legs: parts.legs.as_ref().map(upper),
            variant: parts.variant.as_ref().map(upper),
            ..parts.clone()
        }
    }

    proptest! {
        #[test]
        fn prop_same_input_gives_same_key(parts in parts()) {
            let first = InstrumentKey::new(parts.clone()).unwrap();
            let second = InstrumentKey::new(parts).unwrap();
            prop_assert_eq!(first.to_string(), second.to_string());
            prop_assert_eq!(first, second);
        }

        #[test]
        fn prop_canonicalize_is_idempotent(parts in parts(), raw in "[A-Za-z0-9_.]{1,12}|\\PC{0,12}") {
            let key = InstrumentKey::new(parts).unwrap();
            let again = InstrumentKey::new(key.to_parts()).unwrap();
            prop_assert_eq!(&again, &key);
            if let Ok(asset) = canonical_asset(&raw) {
                prop_assert_eq!(canonical_asset(&asset).unwrap(), asset);
            }
            if let Ok(venue) = canonical_venue(&raw) {
                prop_assert_eq!(canonical_venue(&venue).unwrap(), venue);
            }
        }

        #[test]
        fn prop_parse_format_round_trips(parts in parts()) {
            let key = InstrumentKey::new(parts).unwrap();
            let text = key.to_string();
            prop_assert_eq!(InstrumentKey::parse(&text).unwrap(), key.clone());
            prop_assert_eq!(ObjectKey::parse(&text).unwrap(), ObjectKey::Instrument(key));
        }

        #[test]
        fn prop_historical_spellings_read_back_as_the_key(parts in parts()) {
            let key = InstrumentKey::new(parts).unwrap();
            let spellings = key.historical_spellings();
            let expected = match (key.venue() == "OKX" || key.venue().starts_with("OKX-"), key.instrument_type()) {
                (true, InstrumentType::Spot | InstrumentType::Perpetual) => 3,
                (true, _) | (false, InstrumentType::Spot | InstrumentType::Perpetual) => 1,
                (false, _) => 0,
            };
            prop_assert_eq!(spellings.len(), expected, "{:?}", spellings);
            for old in &spellings {
                prop_assert_ne!(old.as_str(), key.as_str());
                prop_assert_eq!(&InstrumentKey::parse(old).unwrap(), &key, "{}", old);
            }
        }

        #[test]
        fn prop_distinct_canonical_identities_give_distinct_keys(draws in prop::collection::vec(near(), 2..40)) {
            let mut identity_of_text: HashMap<String, KeyParts> = HashMap::new();
            let mut text_of_identity: HashMap<KeyParts, String> = HashMap::new();
            for draw in draws {
                let identity = canonical(&draw.parts());
                let key = InstrumentKey::new(draw.parts()).unwrap();
                // The key keeps exactly the canonical identity ...
                prop_assert_eq!(&key.to_parts(), &identity);
                // ... and its text tells identities apart, and nothing more.
                let text = key.as_str().to_owned();
                let first_identity = identity_of_text.entry(text.clone()).or_insert_with(|| identity.clone());
                prop_assert_eq!(&*first_identity, &identity, "two identities are written {}", text);
                let first_text = text_of_identity.entry(identity).or_insert_with(|| text.clone());
                prop_assert_eq!(&*first_text, &text);
            }
        }

        #[test]
        fn prop_changing_one_field_changes_the_key(parts in parts(), field in 0usize..5, other in "[A-Z0-9]{1,6}") {
            prop_assume!(field != 4 || parts.expiry.is_some());
            let key = InstrumentKey::new(parts.clone()).unwrap();
            let mut changed = parts;
            match field {
                0 => changed.venue = format!("{}X", changed.venue),
                1 => changed.base = format!("{}{other}", changed.base),
                2 => changed.quote = format!("{other}{}", changed.quote),
                3 => changed.variant = Some(match changed.variant { Some(v) => format!("{v}{other}"), None => other }),
                _ => changed.expiry = changed.expiry.map(|expiry| expiry.succ_opt().unwrap()).filter(|e| e.year() < 2100),
            }
            if let Ok(changed) = InstrumentKey::new(changed) {
                prop_assert_ne!(changed.to_string(), key.to_string());
            }
        }

        #[test]
        fn prop_keys_are_valid_object_names(parts in parts()) {
            let key = InstrumentKey::new(parts).unwrap();
            let text = key.to_string();
            prop_assert!(is_valid_object_component(&text), "{}", text);
            prop_assert!(text.len() <= MAX_KEY_LEN);
            prop_assert!(text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b":-_.~".contains(&b)));
        }

        #[test]
        fn prop_strikes_print_like_display(
            value in prop_oneof![
                0.0f64..1e16,
                (0u64..1u64 << 53).prop_map(|v| v as f64),
                (0u64..10_000_000_000, 0i32..12).prop_map(|(v, k)| v as f64 / 10f64.powi(k)),
                (0u64..1000, 0i32..30).prop_map(|(v, k)| v as f64 / 10f64.powi(k)),
            ]
        ) {
            let shown = value.to_string();
            match Strike::from_f64(value) {
                Ok(strike) => prop_assert_eq!(strike.as_str(), shown.as_str()),
                Err(_) => prop_assert!(shown.len() > MAX_STRIKE_LEN, "{}", shown),
            }
        }

        #[test]
        fn prop_strikes_round_trip_their_value(value in 0.0f64..1e12) {
            let strike = Strike::from_f64(value).unwrap();
            prop_assert_eq!(strike.as_str().parse::<f64>().unwrap(), value);
            prop_assert_eq!(Strike::parse(strike.as_str()).unwrap(), strike);
        }

        #[test]
        fn prop_variant_tags_are_valid_variants(symbol in "\\PC{1,40}") {
            let tag = variant_tag(&symbol);
            prop_assert!(InstrumentKey::perp("x", "A", "B").unwrap().with_variant(&tag).is_ok(), "{}", tag);
            prop_assert_eq!(variant_tag(&symbol), tag);
        }
    }
}
