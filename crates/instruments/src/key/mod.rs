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

mod build;
mod component;
mod date;
mod group;
mod option;
#[cfg(test)]
mod property_tests;
mod spelling;
#[cfg(test)]
mod tests;
mod variant;

pub use build::KeyParts;
pub(crate) use build::KeyRef;
use build::Span;
use component::{Component, push_component, push_venue, three_parts};
pub use component::{canonical_asset, canonical_venue, is_valid_object_component};
use date::push_yymmdd;
pub(crate) use date::{parse_yymmdd, yymmdd};
pub use group::{GroupKey, ObjectKey, grouped_object_key};
pub use option::{OptionType, Strike};
use spelling::{key_type, other_spellings, renamed_venue, spells_venue};
pub use variant::variant_tag;

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
        let Some((venue, kind, symbol)) = three_parts(text) else {
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
