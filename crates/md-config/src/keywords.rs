//! The closed sets of keywords the configuration takes (data types, instrument types, log settings, output
//! formats, Parquet settings), each with `FromStr`, `Display` and its canonical spelling.
//!
//! Its own module so that [`crate::layout`] and [`crate::types`] both depend on it and not on each other.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

use serde::Serialize;

/// Declares a closed set of lowercase keywords with `FromStr`, `Display` and `as_str`.
macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        pub enum $name { $($(#[$vmeta])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Returns the canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                let lower = text.trim().to_ascii_lowercase();
                $(
                    if lower == $text.to_ascii_lowercase() $(|| lower == $alias)* {
                        return Ok($name::$variant);
                    }
                )+
                Err(format!("unknown value {text:?}: expected one of {}", [$($text),+].join(", ")))
            }
        }
    };
}

keyword_enum! {
    /// A Tardis CSV data type.
    DataType {
        /// Trades.
        Trades = "trades",
        /// Tick-level order book updates.
        IncrementalBookL2 = "incremental_book_L2",
        /// Top 25 levels snapshots.
        BookSnapshot25 = "book_snapshot_25",
        /// Top 5 levels snapshots.
        BookSnapshot5 = "book_snapshot_5",
        /// Top of book.
        Quotes = "quotes",
        /// Exchange book ticker.
        BookTicker = "book_ticker",
        /// Funding, open interest, mark and index prices.
        DerivativeTicker = "derivative_ticker",
        /// Option chain summaries.
        OptionsChain = "options_chain",
        /// Liquidations.
        Liquidations = "liquidations",
    }
}

keyword_enum! {
    /// An instrument type: the one type every crate uses, whether it reads `DOWNLOAD_INSTRUMENT_TYPES`, a Tardis symbol
    /// `type`, or the `INSTRUMENT_TYPE` part of a canonical key.
    ///
    /// [`InstrumentType::as_str`] and `Display` give the Tardis spelling (`perpetual`); [`InstrumentType::key_str`]
    /// the key spelling (`PERPETUAL`), the one home of that spelling; [`InstrumentType::historical_key_spellings`]
    /// the spellings keys had before (`PERP`, `SPOT_ASSET`); [`InstrumentType::tardis_group`] the grouped dataset
    /// symbol (`PERPETUALS`). Parsing accepts the Tardis, the key and the historical key spellings, in any case.
    InstrumentType {
        /// Spot pairs.
        Spot = "spot" | "spot_pair" | "spot_asset",
        /// Perpetual swaps.
        Perpetual = "perpetual" | "perp",
        /// Dated futures.
        Future = "future" | "futures",
        /// Options.
        Option = "option" | "options",
        /// Combos and spreads.
        Combo = "combo",
    }
}

impl InstrumentType {
    /// Returns the spelling in canonical keys (`SPOT_PAIR`, `PERPETUAL`, `FUTURE`, `OPTION`, `COMBO`): the latest
    /// spelling of the system md replaces.
    pub fn key_str(self) -> &'static str {
        match self {
            InstrumentType::Spot => "SPOT_PAIR",
            InstrumentType::Perpetual => "PERPETUAL",
            InstrumentType::Future => "FUTURE",
            InstrumentType::Option => "OPTION",
            InstrumentType::Combo => "COMBO",
        }
    }

    /// Returns the other spellings under which keys written before held this type: `SPOT_ASSET` (the first version
    /// of the system md replaces) for spot, `PERP` (that system until its latest version, and earlier md) for
    /// perpetuals; none for the others. Objects in buckets in use may be named with any of them.
    pub fn historical_key_spellings(self) -> &'static [&'static str] {
        match self {
            InstrumentType::Spot => &["SPOT_ASSET"],
            InstrumentType::Perpetual => &["PERP"],
            InstrumentType::Future | InstrumentType::Option | InstrumentType::Combo => &[],
        }
    }

    /// Returns the type whose key spelling is exactly `text` (`PERPETUAL`), nothing else.
    pub fn from_key_str(text: &str) -> Option<InstrumentType> {
        InstrumentType::ALL.iter().copied().find(|kind| kind.key_str() == text)
    }

    /// Returns the type `text` spells in a key, written now or before: the key spelling (`PERPETUAL`) or a
    /// historical one (`PERP`, `SPOT_ASSET`), exactly (upper case), as the key grammar requires.
    pub fn from_any_key_str(text: &str) -> Option<InstrumentType> {
        InstrumentType::from_key_str(text).or_else(|| {
            InstrumentType::ALL
                .iter()
                .copied()
                .find(|kind| kind.historical_key_spellings().contains(&text))
        })
    }

    /// Returns the Tardis grouped dataset symbol holding every instrument of this type (`OPTIONS`, `SPOT`, ...).
    pub fn tardis_group(self) -> &'static str {
        match self {
            InstrumentType::Spot => "SPOT",
            InstrumentType::Perpetual => "PERPETUALS",
            InstrumentType::Future => "FUTURES",
            InstrumentType::Option => "OPTIONS",
            InstrumentType::Combo => "COMBOS",
        }
    }

    /// Returns the type whose grouped dataset symbol is `group` (`OPTIONS` gives [`InstrumentType::Option`]).
    pub fn from_tardis_group(group: &str) -> Option<InstrumentType> {
        InstrumentType::ALL.iter().copied().find(|kind| kind.tardis_group() == group)
    }

    /// Returns the type of a Tardis symbol `type` (`perpetual`), or `None` for a type without a key grammar
    /// (`prediction`, or one this version does not know).
    pub fn from_tardis(text: &str) -> Option<InstrumentType> {
        InstrumentType::ALL.iter().copied().find(|kind| kind.as_str() == text)
    }
}

keyword_enum! {
    /// How verbose logs are (`LOG_LEVEL`).
    LogLevel {
        /// Everything.
        Trace = "trace",
        /// Debugging detail.
        Debug = "debug",
        /// Normal operation.
        Info = "info",
        /// Recoverable problems.
        Warning = "warning" | "warn",
        /// Failures.
        Error = "error" | "critical",
    }
}

keyword_enum! {
    /// Where logs go (`LOG_DESTINATION`).
    LogDestination {
        /// Human-readable (or `MD_LOG_FORMAT=json`) lines on stderr.
        Local = "local",
        /// Cloud Logging JSON lines with `severity` on stderr.
        Gcp = "gcp",
        /// Cloud Logging JSON on stderr plus human-readable lines in `MD_LOG_FILE`.
        Both = "both",
    }
}

keyword_enum! {
    /// Log line format for local logs (`MD_LOG_FORMAT`, `--log-format`).
    LogFormat {
        /// Human-readable.
        Text = "text",
        /// One JSON object per line.
        Json = "json",
    }
}

keyword_enum! {
    /// What a downloaded unit is stored as (`MD_OUTPUT_FORMAT`, `--format`).
    OutputFormat {
        /// The `.csv.gz` exactly as Tardis sends it.
        Raw = "raw" | "csv" | "csv.gz",
        /// Typed Parquet, converted while streaming.
        Parquet = "parquet",
    }
}

impl OutputFormat {
    /// Returns the extension of the objects written in this format (`csv.gz`, `parquet`), the layout's `{ext}`.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Raw => "csv.gz",
            OutputFormat::Parquet => "parquet",
        }
    }
}

/// The formats every unit is stored in (`MD_OUTPUT_FORMAT=raw`, `parquet` or `raw,parquet`): a non-empty set,
/// iterated in declaration order (raw first), so each unit's objects are always named in the same order.
///
/// With both, one download feeds both objects: the raw `.csv.gz` byte-exact and the typed Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutputFormats {
    raw: bool,
    parquet: bool,
}

impl OutputFormats {
    /// Only the raw `.csv.gz`.
    pub const RAW: OutputFormats = OutputFormats { raw: true, parquet: false };
    /// Only typed Parquet.
    pub const PARQUET: OutputFormats = OutputFormats { raw: false, parquet: true };
    /// Both, from one download.
    pub const BOTH: OutputFormats = OutputFormats { raw: true, parquet: true };

    /// Returns whether `format` is one of them.
    pub fn contains(self, format: OutputFormat) -> bool {
        match format {
            OutputFormat::Raw => self.raw,
            OutputFormat::Parquet => self.parquet,
        }
    }

    /// Iterates over the formats in declaration order (raw, then parquet).
    pub fn iter(self) -> impl Iterator<Item = OutputFormat> {
        OutputFormat::ALL.iter().copied().filter(move |format| self.contains(*format))
    }

    /// Returns the number of formats (1 or 2).
    pub fn len(self) -> usize {
        usize::from(self.raw) + usize::from(self.parquet)
    }

    /// Always `false`: a set of output formats is never empty.
    pub fn is_empty(self) -> bool {
        false
    }
}

impl From<OutputFormat> for OutputFormats {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Raw => OutputFormats::RAW,
            OutputFormat::Parquet => OutputFormats::PARQUET,
        }
    }
}

impl fmt::Display for OutputFormats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(OutputFormat::as_str).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for OutputFormats {
    type Err = String;

    /// Parses a comma-separated list (`raw`, `parquet`, `raw,parquet`; order does not matter); an empty list, an
    /// empty item, an unknown name or a format named twice is an error that names it.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut formats = OutputFormats { raw: false, parquet: false };
        for item in text.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(if text.trim().is_empty() {
                    "at least one output format is needed (raw, parquet or raw,parquet)".into()
                } else {
                    format!("empty item in {text:?}: expected raw, parquet or raw,parquet")
                });
            }
            let format = OutputFormat::from_str(item)?;
            if formats.contains(format) {
                return Err(format!("{format} is named twice in {text:?}"));
            }
            match format {
                OutputFormat::Raw => formats.raw = true,
                OutputFormat::Parquet => formats.parquet = true,
            }
        }
        Ok(formats)
    }
}

keyword_enum! {
    /// Parquet compression codec (`MD_PARQUET_COMPRESSION`).
    ParquetCompression {
        /// Zstandard, level 1 (default).
        Zstd = "zstd",
        /// Snappy, as the seed system wrote.
        Snappy = "snappy",
        /// No compression.
        None = "none" | "uncompressed",
    }
}

keyword_enum! {
    /// Whether grouped options files are split (`MD_SPLIT_GROUPED`); docs/SCHEMAS.md "Split grouped options files".
    SplitGrouped {
        /// One Parquet object per grouped file (default).
        Off = "off" | "false",
        /// One Parquet object per underlying × expiry of a grouped options file, and a part list.
        UnderlyingExpiry = "underlying_expiry",
    }
}

keyword_enum! {
    /// The columns of the tick Parquet files (`MD_PARQUET_SCHEMA`); docs/SCHEMAS.md gives both.
    ParquetSchema {
        /// The replaced system's files (default): the CSV columns without `exchange` and `symbol`, timestamps as
        /// plain INT64 microseconds, book levels named `ask_price_1`, rows sorted by `timestamp`.
        Original = "original",
        /// md's typed files: every CSV column, TIMESTAMP types, partition columns, rows in file order.
        Typed = "typed",
        /// The `hive` layout's files (its default): the original's columns, then `instrument_key` and `symbol`
        /// (dictionary strings), no column named like a partition key (`data_type`, `exchange`, `date`), rows
        /// sorted by `timestamp`, row groups of up to 262,144 rows.
        Hive = "hive",
    }
}

impl ParquetSchema {
    /// The most rows per row group when `MD_PARQUET_ROW_GROUP_SIZE` is unset: the replaced system's 100,000 for
    /// the original schema, 1,048,576 for the typed one, 262,144 for the hive one (at least the 122,880 rows query
    /// engines want, and a row group that late rows are merged into is decoded whole: 1,048,576 rows of trades took
    /// a conversion to 258 MiB of peak RSS); the note of `MD_PARQUET_ROW_GROUP_SIZE` says so.
    pub fn default_row_group_size(self) -> NonZeroUsize {
        let rows = match self {
            ParquetSchema::Original => 100_000,
            ParquetSchema::Hive => 1 << 18,
            ParquetSchema::Typed => 1 << 20,
        };
        NonZeroUsize::new(rows).expect("non-zero")
    }
}
