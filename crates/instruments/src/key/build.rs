//! The one constructor of [`InstrumentKey`]: [`KeyParts`] (owned) and [`KeyRef`] (borrowed) canonicalised,
//! validated and rendered into the key text, with the spans of its parts.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
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

/// Byte offsets of a component in the key text.
pub(super) type Span = (u16, u16);

pub(super) fn span(start: usize, end: usize) -> Span {
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
        let base = push_part(&mut text, ':', self.base, Component::Asset)?;
        let quote = push_part(&mut text, '-', self.quote, Component::Asset)?;
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
        let legs =
            self.legs.map(|legs| push_part(&mut text, '-', legs, Component::Legs)).transpose()?;
        let variant_start = self
            .variant
            .map(|variant| push_part(&mut text, '~', variant, Component::Variant))
            .transpose()?
            .map(|(start, _)| start);
        Ok(InstrumentKey {
            fingerprint: fingerprint(&text),
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

/// Appends `separator` and the component `raw`, upper-cased, to `text`; returns the component's span.
fn push_part(text: &mut String, separator: char, raw: &str, component: Component) -> Result<Span> {
    text.push(separator);
    let start = text.len();
    push_component(text, raw, component)?;
    Ok(span(start, text.len()))
}

/// A fixed, seedless 64-bit hash of the key text (rustc's FxHash, from rustc-hash): never persisted nor compared
/// across builds, it only makes hashing a key cheap ([`InstrumentKey`]'s `Hash` feeds only this).
fn fingerprint(text: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hasher::write(&mut hasher, text.as_bytes());
    std::hash::Hasher::finish(&hasher)
}
