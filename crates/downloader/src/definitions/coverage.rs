//! Which exchanges a day's definitions cover, and from which source: recorded in each definitions file's Parquet
//! key-value metadata (key [`COVERAGE_KEY`]), so the columns stay the original system's.
//!
//! The value is a JSON object from Tardis exchange id to source, keys sorted:
//! `{"binance":"metadata","deribit":"symbol_parser"}`. An exchange is covered when an `md-cli instruments` run
//! fetched it for that day, even if it had no instrument that day; an exchange whose fetch failed is not, and a
//! plan for it is refused as missing definitions (see [`crate::download::plan::build`]).
//!
//! Files written before md recorded this (earlier md) have no such key: they cover the exchanges present in their
//! rows, source `unknown` (see [`Coverage::from_rows`]).

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch, StringArray};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The key-value metadata key of a definitions file's coverage.
pub const COVERAGE_KEY: &str = "md.coverage";

/// Where an exchange's definitions came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefinitionsSource {
    /// The instruments API (with an API key).
    Metadata,
    /// The free exchange details and md's per-venue symbol parsers.
    SymbolParser,
    /// Not recorded: the rows of a file written before md recorded its coverage.
    Unknown,
}

impl DefinitionsSource {
    /// The name written in the file (`metadata`, `symbol_parser`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            DefinitionsSource::Metadata => "metadata",
            DefinitionsSource::SymbolParser => "symbol_parser",
            DefinitionsSource::Unknown => "unknown",
        }
    }
}

/// The exchanges a definitions file covers, each with its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Coverage(pub BTreeMap<String, DefinitionsSource>);

impl Coverage {
    /// Returns whether `exchange` is covered.
    pub fn covers(&self, exchange: &str) -> bool {
        self.0.contains_key(exchange)
    }

    /// Returns the source of `exchange`, if covered.
    pub fn source(&self, exchange: &str) -> Option<DefinitionsSource> {
        self.0.get(exchange).copied()
    }

    /// The coverage of a file written before md recorded it: the exchanges of its rows (`tardis_exchange`),
    /// source unknown.
    pub fn from_rows(batch: &RecordBatch) -> Coverage {
        let exchanges = batch
            .column_by_name("tardis_exchange")
            .and_then(|column| column.as_any().downcast_ref::<StringArray>());
        Coverage(
            exchanges
                .into_iter()
                .flat_map(|column| column.iter().flatten())
                .map(|exchange| (exchange.to_owned(), DefinitionsSource::Unknown))
                .collect(),
        )
    }

    /// Reads the coverage a file records in its key-value metadata (as the Arrow schema's metadata); `None` when it
    /// records none.
    ///
    /// # Errors
    /// [`Error::Foreign`] when the value is not a coverage.
    pub fn recorded(object: &str, batch: &RecordBatch) -> Result<Option<Coverage>, Error> {
        let Some(value) = batch.schema_ref().metadata().get(COVERAGE_KEY).cloned() else {
            return Ok(None);
        };
        Coverage::parse(object, &value).map(Some)
    }

    /// Parses the key-value metadata value.
    ///
    /// # Errors
    /// [`Error::Foreign`] naming the object when the value is not a JSON object of exchange to source.
    pub fn parse(object: &str, value: &str) -> Result<Coverage, Error> {
        serde_json::from_str(value).map_err(|error| Error::Foreign {
            object: object.to_owned(),
            detail: format!(
                "its key-value metadata `{COVERAGE_KEY}` is not a coverage ({error}): {value:?}"
            ),
        })
    }

    /// The key-value metadata value (deterministic: keys sorted).
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a map of strings serialises")
    }

    /// The coverage of a merged file: this one's exchanges not in `run`, and every exchange of `run` with its source.
    #[must_use]
    pub fn merged(mut self, run: &Coverage) -> Coverage {
        self.0.extend(run.0.iter().map(|(exchange, source)| (exchange.clone(), *source)));
        self
    }

    /// The exchanges covered, in order.
    pub fn exchanges(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.keys().map(String::as_str)
    }
}

impl FromIterator<(String, DefinitionsSource)> for Coverage {
    fn from_iter<I: IntoIterator<Item = (String, DefinitionsSource)>>(iter: I) -> Self {
        Coverage(iter.into_iter().collect())
    }
}
