//! The crate's one error type.

use chrono::NaiveDate;

/// Everything that can go wrong in this crate. Each variant names its culprit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key, or one of its components, does not follow the grammar of `docs/INSTRUMENT_KEY.md`.
    #[error("invalid instrument key {text:?}: {reason}")]
    InvalidKey {
        /// The offending text: a whole key, or the component that was rejected.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Tardis symbol that no per-venue parser understands (the path without an API key).
    #[error("{exchange}: cannot parse symbol {symbol:?}: {reason}")]
    UnparsedSymbol {
        /// Tardis exchange id.
        exchange: String,
        /// The symbol as Tardis lists it.
        symbol: String,
        /// Why it was not understood.
        reason: String,
    },
    /// Instrument metadata from which no key can be derived.
    #[error("{exchange}: cannot key instrument {symbol:?}: {reason}")]
    Unkeyable {
        /// Tardis exchange id.
        exchange: String,
        /// The instrument's Tardis dataset symbol.
        symbol: String,
        /// Why no key can be derived.
        reason: String,
    },
    /// Two instruments would carry the same key on the same day; the later one is refused.
    #[error("{exchange}: instrument {symbol:?} would share key {key} with {other:?} on {day}")]
    DuplicateKey {
        /// Tardis exchange id.
        exchange: String,
        /// The refused instrument.
        symbol: String,
        /// The instrument that keeps the key.
        other: String,
        /// The contested key.
        key: String,
        /// The first day both are available.
        day: NaiveDate,
    },
    /// Instrument metadata of one exchange was passed with the details of another.
    #[error("instrument {symbol:?} belongs to exchange {found:?}, not {expected:?}")]
    ExchangeMismatch {
        /// The exchange of the details.
        expected: String,
        /// The exchange the instrument names.
        found: String,
        /// The instrument's id.
        symbol: String,
    },
    /// A grouped dataset symbol this version does not know.
    #[error(
        "unknown grouped dataset symbol {group:?} (known: OPTIONS, FUTURES, PERPETUALS, SPOT, COMBOS)"
    )]
    UnknownGroup {
        /// The grouped symbol.
        group: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid_key(text: &str, reason: impl Into<String>) -> Error {
    Error::InvalidKey { text: text.to_owned(), reason: reason.into() }
}
