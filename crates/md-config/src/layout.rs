//! The object-name template (`MD_LAYOUT`), parsed once into a typed [`Layout`].
//!
//! Every object name of the tick download comes from [`Layout::render`]: the plan, `md-cli missing` and the fleet
//! checks all call it, so the rule that names an object exists once. The names of the instrument definitions come
//! from [`Layout::definitions`] ([`DefinitionsLayout`]).
//!
//! `MD_LAYOUT` is a template, or the name of a preset ([`Preset`]): `hive` is
//! [`HIVE_TEMPLATE`] (`raw_tick_data/data_type={data_type}/exchange={exchange}/date={date}/{instrument}.{ext}`),
//! with the definitions under `instrument_availability/date={date}/`, names every Hive-partitioning reader (DuckDB,
//! Polars, Spark, BigQuery external tables) prunes on. `{instrument}` is the instrument key made safe for every reader
//! ([`encode_instrument_key`], reversed by [`decode_instrument_key`]): each `:` written `%3A`.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::keywords::{DataType, OutputFormat};

/// A placeholder of a layout template (`{date}`, `{instrument_key}`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// `{date}`: `YYYY-MM-DD`.
    Date,
    /// `{year}`: `YYYY`.
    Year,
    /// `{month}`: `MM`.
    Month,
    /// `{day}`: `DD`.
    Day,
    /// `{exchange}`: the Tardis exchange id (`deribit`).
    Exchange,
    /// `{venue}`: the exchange id in upper case (`DERIBIT`), as keys spell it.
    Venue,
    /// `{data_type}`: the Tardis data type (`trades`).
    DataType,
    /// `{symbol}`: the dataset symbol of the download URL (`BTC-PERPETUAL`, `OPTIONS`).
    Symbol,
    /// `{instrument_key}`: the canonical key (`DERIBIT:PERP:BTC-USD`), or the grouped object key.
    InstrumentKey,
    /// `{instrument}`: the same key made safe for every reader, each `:` written `%3A`
    /// ([`encode_instrument_key`]): `DERIBIT%3APERPETUAL%3ABTC-USD`.
    Instrument,
    /// `{ext}`: `csv.gz` or `parquet`.
    Ext,
}

impl Placeholder {
    /// Every placeholder, in documentation order.
    pub const ALL: [Placeholder; 11] = [
        Placeholder::Date,
        Placeholder::Year,
        Placeholder::Month,
        Placeholder::Day,
        Placeholder::Exchange,
        Placeholder::Venue,
        Placeholder::DataType,
        Placeholder::Symbol,
        Placeholder::InstrumentKey,
        Placeholder::Instrument,
        Placeholder::Ext,
    ];

    /// Returns the name between the braces (`instrument_key`).
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Date => "date",
            Placeholder::Year => "year",
            Placeholder::Month => "month",
            Placeholder::Day => "day",
            Placeholder::Exchange => "exchange",
            Placeholder::Venue => "venue",
            Placeholder::DataType => "data_type",
            Placeholder::Symbol => "symbol",
            Placeholder::InstrumentKey => "instrument_key",
            Placeholder::Instrument => "instrument",
            Placeholder::Ext => "ext",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|placeholder| placeholder.name() == name)
    }
}

/// What an object name is made of: one dataset file of one day, in one output format.
#[derive(Debug, Clone, Copy)]
pub struct ObjectFields<'a> {
    /// The UTC day.
    pub date: NaiveDate,
    /// Tardis exchange id.
    pub exchange: &'a str,
    /// Data type.
    pub data_type: DataType,
    /// Dataset symbol of the download URL.
    pub symbol: &'a str,
    /// Canonical instrument key (or grouped object key).
    pub instrument_key: &'a str,
    /// The stored format, which gives `{ext}`.
    pub format: OutputFormat,
}

/// The template of the `hive` preset: Hive partitions (`key=value` directories) in the order queries filter by, the
/// data type first (every query reads one), then the exchange and the day.
pub const HIVE_TEMPLATE: &str =
    "raw_tick_data/data_type={data_type}/exchange={exchange}/date={date}/{instrument}.{ext}";

/// A named layout: `MD_LAYOUT=hive` (or `--layout hive`) instead of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Hive-partitioned names ([`HIVE_TEMPLATE`], definitions as [`DefinitionsLayout::Hive`]), Parquet files with
    /// `instrument_key` and `symbol` columns and no column named like a partition key (`MD_PARQUET_SCHEMA=hive`).
    Hive,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 1] = [Preset::Hive];

    /// Returns the name `MD_LAYOUT` takes (`hive`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Hive => "hive",
        }
    }

    /// Returns the template of the tick objects.
    pub fn template(self) -> &'static str {
        match self {
            Preset::Hive => HIVE_TEMPLATE,
        }
    }

    /// Returns where the instrument definitions go.
    pub fn definitions(self) -> DefinitionsLayout {
        match self {
            Preset::Hive => DefinitionsLayout::Hive,
        }
    }
}

/// Where the instrument-definitions objects go.
///
/// | object | `Original` (every template) | `Hive` (the `hive` preset) |
/// |---|---|---|
/// | a day's instruments | `instrument_availability/by_date/day-{D}/instruments.parquet` | `instrument_availability/date={D}/instruments.parquet` |
/// | a day's grouped files | `instrument_availability/by_date/day-{D}/grouped_datasets.parquet` | `instrument_availability/grouped_datasets/date={D}/grouped_datasets.parquet` |
/// | a range's aggregate | `instrument_availability/aggregate/instruments_{S}_{E}.parquet` | the same |
///
/// In the hive layout each kind of day file has a directory of its own, so a reader's glob (or a BigQuery external
/// table's URI) over `instrument_availability/date=*` finds one schema; `{S}`, `{E}` are `YYYYMMDD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DefinitionsLayout {
    /// The original system's names.
    #[default]
    Original,
    /// Hive partitions (`date=YYYY-MM-DD`).
    Hive,
}

impl DefinitionsLayout {
    /// Returns the object of a day's instruments.
    pub fn day_object(self, date: NaiveDate) -> String {
        match self {
            DefinitionsLayout::Original => {
                format!("instrument_availability/by_date/day-{date}/instruments.parquet")
            }
            DefinitionsLayout::Hive => {
                format!("instrument_availability/date={date}/instruments.parquet")
            }
        }
    }

    /// Returns the object of a day's grouped dataset files (`OPTIONS`, ...).
    pub fn groups_object(self, date: NaiveDate) -> String {
        match self {
            DefinitionsLayout::Original => {
                format!("instrument_availability/by_date/day-{date}/grouped_datasets.parquet")
            }
            DefinitionsLayout::Hive => format!(
                "instrument_availability/grouped_datasets/date={date}/grouped_datasets.parquet"
            ),
        }
    }

    /// Returns the object of a range's aggregate (every row of the range, with its `date`): the same in both.
    pub fn aggregate_object(self, start: NaiveDate, end: NaiveDate) -> String {
        format!(
            "instrument_availability/aggregate/instruments_{}_{}.parquet",
            start.format("%Y%m%d"),
            end.format("%Y%m%d")
        )
    }

    /// Returns whether the day files sit in a `date=` partition, so they must not hold a `date` column (BigQuery
    /// refuses a file column named like a partition key; DuckDB would show it twice).
    pub fn partitions_by_date(self) -> bool {
        self == DefinitionsLayout::Hive
    }
}

/// What [`encode_instrument_key`] writes for each `:` of a key: Hive's own escape of `:` in path names.
pub const ENCODED_COLON: &str = "%3A";

/// Returns an instrument key as it appears in an object name of the `hive` preset (`{instrument}`): every `:`
/// written `%3A`, as Hive escapes it, because Hadoop-based readers (Spark, Delta) refuse `:` in a path.
///
/// Keys only use `A-Z 0-9 : - _ . ~` (docs/INSTRUMENT_KEY.md), so `%` never occurs in a key and
/// [`decode_instrument_key`] reverses this exactly:
/// `BINANCE-FUTURES:PERPETUAL:BTC-USDT` becomes `BINANCE-FUTURES%3APERPETUAL%3ABTC-USDT`.
pub fn encode_instrument_key(key: &str) -> String {
    key.replace(':', ENCODED_COLON)
}

/// Returns the instrument key an `{instrument}` name segment encodes (the reverse of [`encode_instrument_key`]).
///
/// # Errors
/// [`NotAnEncodedKey`] when `name` holds a `:` (never written encoded) or a `%` that does not start `%3A`.
pub fn decode_instrument_key(name: &str) -> Result<String, NotAnEncodedKey> {
    let refuse = || NotAnEncodedKey { name: name.to_owned() };
    if name.contains(':') {
        return Err(refuse());
    }
    let mut key = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('%') {
        key.push_str(&rest[..at]);
        rest = rest[at..].strip_prefix(ENCODED_COLON).ok_or_else(refuse)?;
        key.push(':');
    }
    key.push_str(rest);
    Ok(key)
}

/// A name that [`encode_instrument_key`] cannot have written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name:?} is not an encoded instrument key: keys are written with each ':' as %3A, and hold no other '%'"
)]
pub struct NotAnEncodedKey {
    /// The name refused.
    pub name: String,
}

/// A validated `MD_LAYOUT` template: every unit gets its own object, and names are relative without `.`/`..`.
#[derive(Clone, PartialEq, Eq)]
pub struct Layout {
    template: String,
    parts: Vec<Part>,
    preset: Option<Preset>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

impl Layout {
    /// Parses and validates a template, or takes a preset by its name (`hive`, [`Preset`]).
    ///
    /// # Errors
    /// A message saying what is wrong: an unclosed brace, an unknown placeholder, a template that does not name the
    /// day, the data type and the instrument, or an absolute name or one with `.`/`..` segments.
    pub fn parse(text: &str) -> Result<Layout, String> {
        if let Some(preset) = Preset::ALL.into_iter().find(|preset| preset.name() == text.trim()) {
            let mut layout = Layout::parse(preset.template())?;
            layout.preset = Some(preset);
            return Ok(layout);
        }
        if !text.contains('{') && !text.contains('/') {
            let presets: Vec<&str> = Preset::ALL.iter().map(|preset| preset.name()).collect();
            return Err(format!(
                "neither a template (with placeholders such as {{date}}) nor a preset ({})",
                presets.join(", ")
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err("unclosed '{' in the template".into());
            };
            let name = &rest[open + 1..open + close];
            let placeholder = Placeholder::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = Placeholder::ALL.iter().map(|known| known.name()).collect();
                format!("unknown placeholder {{{name}}}; known: {}", known.join(", "))
            })?;
            parts.push(Part::Text(rest[..open].to_owned()));
            parts.push(Part::Value(placeholder));
            rest = &rest[open + close + 1..];
        }
        parts.push(Part::Text(rest.to_owned()));
        let has = |wanted: Placeholder| parts.contains(&Part::Value(wanted));
        let dated = has(Placeholder::Date)
            || (has(Placeholder::Year) && has(Placeholder::Month) && has(Placeholder::Day));
        let identified = has(Placeholder::InstrumentKey)
            || has(Placeholder::Instrument)
            || (has(Placeholder::Symbol)
                && (has(Placeholder::Exchange) || has(Placeholder::Venue)));
        if !(dated && has(Placeholder::DataType) && identified) {
            return Err("the template must name the day ({date}), the {data_type} and the instrument ({instrument_key}, {instrument}, or {exchange} and {symbol}) so that every unit gets its own object".into());
        }
        if text.starts_with('/') || text.split('/').any(|segment| segment == ".." || segment == ".")
        {
            return Err(
                "the template must be a relative object name without '.' or '..' segments".into()
            );
        }
        Ok(Layout { template: text.to_owned(), parts, preset: None })
    }

    /// Returns the preset this layout is, when `MD_LAYOUT` named one.
    pub fn preset(&self) -> Option<Preset> {
        self.preset
    }

    /// Returns where the instrument definitions go: the preset's, else the original names.
    pub fn definitions(&self) -> DefinitionsLayout {
        self.preset.map(Preset::definitions).unwrap_or_default()
    }

    /// Returns whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.contains(&Part::Value(placeholder))
    }

    /// Returns the template (a preset's template for a preset).
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// Returns the object name of one dataset file, relative to the sink's root.
    pub fn render(&self, fields: &ObjectFields<'_>) -> String {
        let mut out = String::with_capacity(self.template.len() + 48);
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Value(placeholder) => match placeholder {
                    Placeholder::Date => out.push_str(&fields.date.to_string()),
                    Placeholder::Year => out.push_str(&format!("{:04}", fields.date.year())),
                    Placeholder::Month => out.push_str(&format!("{:02}", fields.date.month())),
                    Placeholder::Day => out.push_str(&format!("{:02}", fields.date.day())),
                    Placeholder::Exchange => out.push_str(fields.exchange),
                    Placeholder::Venue => out.push_str(&fields.exchange.to_ascii_uppercase()),
                    Placeholder::DataType => out.push_str(fields.data_type.as_str()),
                    Placeholder::Symbol => out.push_str(fields.symbol),
                    Placeholder::InstrumentKey => out.push_str(fields.instrument_key),
                    Placeholder::Instrument => {
                        out.push_str(&encode_instrument_key(fields.instrument_key));
                    }
                    Placeholder::Ext => out.push_str(fields.format.extension()),
                },
            }
        }
        out
    }
}

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Layout").field(&self.template).finish()
    }
}

impl fmt::Display for Layout {
    /// The preset's name for a preset, else the template.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.preset {
            Some(preset) => f.write_str(preset.name()),
            None => f.write_str(&self.template),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_placeholder() {
        let layout = Layout::parse(
            "{venue}/{exchange}/{year}-{month}-{day}/{date}/{data_type}/{symbol}/{instrument_key}.{ext}",
        )
        .unwrap();
        let fields = ObjectFields {
            date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            exchange: "deribit",
            data_type: DataType::IncrementalBookL2,
            symbol: "BTC-PERPETUAL",
            instrument_key: "DERIBIT:PERP:BTC-USD",
            format: OutputFormat::Parquet,
        };
        assert_eq!(
            layout.render(&fields),
            "DERIBIT/deribit/2024-03-01/2024-03-01/incremental_book_L2/BTC-PERPETUAL/DERIBIT:PERP:BTC-USD.parquet"
        );
    }

    #[test]
    fn refuses_templates_that_cannot_name_every_unit_apart() {
        for (template, expected) in [
            ("{date}/{data_type}/{instrument_key", "unclosed"),
            ("{date}/{data_type}/{instrument_id}.{ext}", "unknown placeholder {instrument_id}"),
            ("hive2", "neither a template"),
            ("{date}/{instrument_key}.{ext}", "must name the day"),
            ("{year}/{data_type}/{instrument_key}", "must name the day"),
            ("/{date}/{data_type}/{instrument_key}", "relative"),
            ("{date}/../{data_type}/{instrument_key}", "relative"),
        ] {
            let error = Layout::parse(template).unwrap_err();
            assert!(error.contains(expected), "{template}: {error}");
        }
    }
}
