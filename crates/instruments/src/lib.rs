//! Canonical instrument keys and daily instrument definitions.
//!
//! This crate is pure: no IO, no async, no environment, no clock (days are inputs). It sits beside the dependency
//! graph and depends only on `md-config` (for [`InstrumentType`]): it takes its own input model, [`listing`], which
//! `downloader` fills from the Tardis metadata `tardis-client` fetches, and returns keys and daily records, which
//! `downloader` writes through `gcs-sink`.
//!
//! - [`listing`]: the input: one exchange's [`Listing`] (its symbols and, with an API key, each [`Instrument`]'s
//!   metadata and trading terms over time).
//! - [`key`]: the key grammar of `docs/INSTRUMENT_KEY.md`: [`InstrumentKey`] (format and parse), [`GroupKey`] for
//!   grouped dataset files.
//! - [`keying`]: keys from metadata or from symbols, and the variant rule that keeps keys unique per venue and day.
//! - [`symbols`]: per-venue symbol parsers, for the path without an API key.
//! - [`definitions`]: the instruments available on a day, with the values in force that day.
//!
//! ```
//! use instruments::{Instrument, InstrumentKey, InstrumentType, OptionType};
//!
//! let since = "2023-06-01T00:00:00Z".parse().unwrap();
//! let mut put = Instrument::new("deribit", "BTC-29DEC23-50000-P", InstrumentType::Option, "BTC", "BTC", since);
//! put.expiry = "2023-12-29T08:00:00Z".parse().ok();
//! put.strike = Some(50000.0);
//! put.option_type = Some(OptionType::Put);
//! put.terms.underlying_index = Some("BTC-29DEC23".into());
//! let key = instruments::key_for_instrument(&put).unwrap();
//! assert_eq!(key.to_string(), "DERIBIT:OPTION:BTC-USD-231229-50000-PUT");
//! assert_eq!(InstrumentKey::parse(&key.to_string()).unwrap(), key);
//! ```

pub mod definitions;
mod error;
pub mod key;
pub mod keying;
pub mod listing;
pub mod symbols;

pub use definitions::{
    Catalog, Dataset, DayDefinitions, GroupRecord, InstrumentRecord, RecordSource, Unparsed,
    definitions_for_day, definitions_for_range, is_available_on,
};
pub use error::{Error, Result};
pub use key::{
    GroupKey, InstrumentKey, InstrumentType, KeyParts, ObjectKey, OptionType, Strike,
    grouped_object_key,
};
pub use keying::{assign_keys, key_for_instrument, key_for_symbol};
pub use listing::{Instrument, ListedSymbol, ListedType, Listing, Terms, TermsChange};
pub use symbols::{ParsedSymbol, parse_symbol};
