//! Canonical instrument keys and daily instrument definitions.
//!
//! This crate is pure: no IO, no async, no environment, no clock (days are inputs). It sits beside the dependency
//! graph: `tardis-client` fetches the metadata whose wire types live in [`tardis`], and `md-cli` hands that metadata
//! here to get keys and daily records, which it writes through `gcs-sink`.
//!
//! - [`key`]: the key grammar of `docs/INSTRUMENT_KEY.md`: [`InstrumentKey`] (format and parse), [`GroupKey`] for
//!   grouped dataset files.
//! - [`keying`]: keys from metadata or from symbols, and the variant rule that keeps keys unique per venue and day.
//! - [`symbols`]: per-venue symbol parsers, for the path without an API key.
//! - [`definitions`]: the instruments available on a day, with the values in force that day.
//! - [`bench`](mod@bench): synthetic listings for `cargo xtask bench`.
//!
//! ```
//! use instruments::{InstrumentKey, tardis::InstrumentInfo};
//!
//! let info: InstrumentInfo = serde_json::from_str(r#"{
//!     "id": "BTC-29DEC23-50000-P", "exchange": "deribit", "baseCurrency": "BTC", "quoteCurrency": "BTC",
//!     "type": "option", "availableSince": "2023-06-01T00:00:00Z", "expiry": "2023-12-29T08:00:00Z",
//!     "strikePrice": 50000, "optionType": "put", "underlyingIndex": "BTC-29DEC23"
//! }"#).unwrap();
//! let key = instruments::key_for_instrument(&info).unwrap();
//! assert_eq!(key.to_string(), "DERIBIT:OPTION:BTC-USD-231229-50000-PUT");
//! assert_eq!(InstrumentKey::parse(&key.to_string()).unwrap(), key);
//! ```

pub mod bench;
pub mod definitions;
mod error;
pub mod key;
pub mod keying;
pub mod symbols;
pub mod tardis;

pub use definitions::{
    Catalog, DayDefinitions, GroupRecord, InstrumentRecord, RecordSource, Unparsed,
    definitions_for_day, definitions_for_range, is_available_on,
};
pub use error::{Error, Result};
pub use key::{
    GroupKey, InstrumentKey, InstrumentType, KeyParts, ObjectKey, OptionType, Strike,
    grouped_object_key,
};
pub use keying::{assign_keys, key_for_instrument, key_for_symbol};
pub use symbols::{ParsedSymbol, parse_symbol};
