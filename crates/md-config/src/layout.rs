//! The object-name template (`MD_LAYOUT`), parsed once into a typed [`Layout`].
//!
//! Every object name of the tick download comes from [`Layout::render`]: the plan, `md-cli missing` and the fleet
//! checks all call it, so the rule that names an object exists once.

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
    /// `{ext}`: `csv.gz` or `parquet`.
    Ext,
}

impl Placeholder {
    /// Every placeholder, in documentation order.
    pub const ALL: [Placeholder; 10] = [
        Placeholder::Date,
        Placeholder::Year,
        Placeholder::Month,
        Placeholder::Day,
        Placeholder::Exchange,
        Placeholder::Venue,
        Placeholder::DataType,
        Placeholder::Symbol,
        Placeholder::InstrumentKey,
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

/// A validated `MD_LAYOUT` template: every unit gets its own object, and names are relative without `.`/`..`.
#[derive(Clone, PartialEq, Eq)]
pub struct Layout {
    template: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Value(Placeholder),
}

impl Layout {
    /// Parses and validates a template.
    ///
    /// # Errors
    /// A message saying what is wrong: an unclosed brace, an unknown placeholder, a template that does not name the
    /// day, the data type and the instrument, or an absolute name or one with `.`/`..` segments.
    pub fn parse(text: &str) -> Result<Layout, String> {
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
            || (has(Placeholder::Symbol)
                && (has(Placeholder::Exchange) || has(Placeholder::Venue)));
        if !(dated && has(Placeholder::DataType) && identified) {
            return Err("the template must name the day ({date}), the {data_type} and the instrument ({instrument_key}, or {exchange} and {symbol}) so that every unit gets its own object".into());
        }
        if text.starts_with('/') || text.split('/').any(|segment| segment == ".." || segment == ".")
        {
            return Err(
                "the template must be a relative object name without '.' or '..' segments".into()
            );
        }
        Ok(Layout { template: text.to_owned(), parts })
    }

    /// Returns whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.contains(&Part::Value(placeholder))
    }

    /// Returns the template as written.
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
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
            ("{date}/{data_type}/{instrument}.{ext}", "unknown placeholder {instrument}"),
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
