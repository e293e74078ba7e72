//! The statements that make a hive-partitioned lake queryable (`md-cli sql`): DuckDB views and BigQuery external
//! tables, one per data type (named after it: `trades`, `book_snapshot_5`, `incremental_book_L2`, ...) and
//! `instruments` over the daily definitions. docs/LAKE.md shows both and explains the choices.
//!
//! [`Lake::of`] reads what it needs from the configuration: the sink's root (`gs://`, `s3://` or a local directory;
//! `memory://` is refused), the layout (only a `key=value` template such as `MD_LAYOUT=hive` can be pruned by an
//! engine; any other is refused, naming `MD_LAYOUT`), the data types (`DOWNLOAD_DATA_TYPES`: the ones the job stores,
//! so that no view reads a path that holds no file) and the output formats (Parquet must be one of them). It then
//! describes each table once ([`Table`]: the path before the first `key=`, the partition keys in path order with
//! their types, the file pattern), and [`Lake::duckdb`] and [`Lake::bigquery`] render those descriptions.
//!
//! Nothing here does IO or reads the environment: the output is text for the caller to print.

mod bigquery;
mod duckdb;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::NaiveDate;
use md_config::{
    DataType, DefinitionsLayout, Layout, OutputFormat, Placeholder, SinkConfig, SinkLocation,
};

pub use bigquery::Dataset;

/// The name of the definitions table and view.
pub const INSTRUMENTS: &str = "instruments";

/// An engine `md-cli sql` writes statements for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB: `CREATE OR REPLACE VIEW ... read_parquet(..., hive_partitioning = true)`.
    DuckDb,
    /// BigQuery: `CREATE OR REPLACE EXTERNAL TABLE ... WITH PARTITION COLUMNS`.
    BigQuery,
}

impl Engine {
    /// Every engine, in the order the help lists them.
    pub const ALL: [Engine; 2] = [Engine::DuckDb, Engine::BigQuery];

    /// Returns the name on the command line (`duckdb`, `bigquery`).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::DuckDb => "duckdb",
            Engine::BigQuery => "bigquery",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = SqlError;

    fn from_str(text: &str) -> Result<Engine, SqlError> {
        let wanted = text.trim().to_ascii_lowercase();
        Engine::ALL
            .into_iter()
            .find(|engine| engine.as_str() == wanted)
            .ok_or_else(|| SqlError::Engine(text.to_owned()))
    }
}

/// Why no statements can be written: every variant names the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SqlError {
    /// An engine md does not write statements for.
    #[error("unknown engine {0:?}: expected duckdb or bigquery")]
    Engine(String),
    /// The layout is not partitioned `key=value` by data type, so no engine can prune it.
    #[error(
        "MD_LAYOUT={layout} is not hive-partitioned ({reason}): engines cannot prune it by data type and day; set MD_LAYOUT=hive (--layout hive; or a template of key={{placeholder}} directories starting with data_type={{data_type}}) and download into it"
    )]
    Layout {
        /// The template.
        layout: String,
        /// What is not `key=value`.
        reason: String,
    },
    /// The lake is in memory (`memory://`), which no engine can read.
    #[error(
        "MD_SINK=memory:// vanishes with the process: no engine can read it; set MD_SINK to gs://, s3:// or a directory"
    )]
    Memory,
    /// BigQuery reads external tables from Cloud Storage only.
    #[error(
        "BigQuery external tables read Cloud Storage only, and MD_SINK={0} is not gs://bucket[/prefix]; use --engine duckdb"
    )]
    NotGcs(String),
    /// The job stores no Parquet, which the statements read.
    #[error(
        "MD_OUTPUT_FORMAT={0} stores no Parquet, which the views read: set MD_OUTPUT_FORMAT=parquet (or raw,parquet)"
    )]
    NoParquet(String),
    /// A BigQuery dataset name that BigQuery would refuse.
    #[error("--dataset {name:?}: {reason}")]
    Dataset {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: String,
    },
}

/// The type of a partition key, as each engine spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Text (`exchange=binance-futures`).
    Text,
    /// A day (`date=2026-10-01`).
    Date,
    /// An integer (`year=2026`).
    Integer,
}

impl KeyType {
    /// The type a placeholder's values have.
    fn of(placeholder: Placeholder) -> KeyType {
        match placeholder {
            Placeholder::Date => KeyType::Date,
            Placeholder::Year | Placeholder::Month | Placeholder::Day => KeyType::Integer,
            _ => KeyType::Text,
        }
    }
}

/// One partition key of a table: a `name=value` directory level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    /// The name before `=`.
    pub name: String,
    /// Its values' type.
    pub kind: KeyType,
}

/// One table (BigQuery) or view (DuckDB): where its files are and how their paths are partitioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Its name: the data type (`trades`) or [`INSTRUMENTS`].
    pub name: String,
    /// The objects' common path relative to the sink's root, ending right before the first partition key
    /// (`raw_tick_data/data_type=trades`).
    pub prefix: String,
    /// The partition keys, in path order (`exchange`, `date`).
    pub keys: Vec<PartitionKey>,
    /// The file name under the last key: a pattern (`*.parquet`) or a name (`instruments.parquet`).
    pub file: String,
}

/// Where the lake is: the root every object name is relative to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `gs://bucket[/prefix]`.
    Gcs(String),
    /// `s3://bucket[/prefix]`, with the settings DuckDB's S3 secret needs.
    S3 {
        /// The URL (`s3://bucket/prefix`).
        url: String,
        /// `AWS_REGION`.
        region: String,
        /// `AWS_ENDPOINT_URL` (another S3 service, or a local one).
        endpoint: Option<Endpoint>,
    },
    /// A local directory, absolute.
    Local(PathBuf),
}

impl Root {
    fn of(location: &SinkLocation, sink: &SinkConfig) -> Result<Root, SqlError> {
        Ok(match location {
            SinkLocation::Gcs { .. } => Root::Gcs(location.to_string()),
            SinkLocation::S3 { .. } => Root::S3 {
                url: location.to_string(),
                region: sink.s3.region.clone(),
                endpoint: sink.s3.endpoint.as_ref().map(|url| Endpoint {
                    host: match (url.host_str(), url.port()) {
                        (Some(host), Some(port)) => format!("{host}:{port}"),
                        (host, None) => host.unwrap_or_default().to_owned(),
                        (None, Some(port)) => format!(":{port}"),
                    },
                    tls: url.scheme() != "http",
                }),
            },
            SinkLocation::Local { root } => {
                Root::Local(std::path::absolute(root).unwrap_or_else(|_| root.clone()))
            }
            SinkLocation::Memory => return Err(SqlError::Memory),
        })
    }

    /// The root as a path or URL without a trailing `/`.
    pub fn as_text(&self) -> String {
        match self {
            Root::Gcs(url) | Root::S3 { url, .. } => url.clone(),
            Root::Local(path) => path.display().to_string().trim_end_matches('/').to_owned(),
        }
    }
}

/// An S3 endpoint other than AWS's (`AWS_ENDPOINT_URL`), as DuckDB's secret takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]`, without the scheme.
    pub host: String,
    /// Whether it speaks HTTPS (`https://`), not plain HTTP.
    pub tls: bool,
}

/// A hive-partitioned lake and its tables: what the statements of both engines are written from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lake {
    /// Where it is.
    pub root: Root,
    /// One table per data type, then [`INSTRUMENTS`] (with the `hive` preset).
    pub tables: Vec<Table>,
}

impl Lake {
    /// Describes the lake the configuration writes: the sink's root, and one table per configured data type
    /// (`DOWNLOAD_DATA_TYPES`) plus the definitions (when the layout puts them in `date=` partitions: the `hive`
    /// preset), partitioned as the layout (`MD_LAYOUT`) says.
    ///
    /// # Errors
    /// [`SqlError::Memory`] for `memory://`, [`SqlError::NoParquet`] when the job stores no Parquet,
    /// [`SqlError::Layout`] when the layout is not `key=value` partitioned starting with the data type.
    pub fn of(sink: &SinkConfig, download: &md_config::DownloadConfig) -> Result<Lake, SqlError> {
        let root = Root::of(&sink.location, sink)?;
        if !download.output_formats.contains(OutputFormat::Parquet) {
            return Err(SqlError::NoParquet(download.output_formats.to_string()));
        }
        let partitioning = Partitioning::of(&download.layout)?;
        let mut tables: Vec<Table> =
            download.data_types.iter().map(|data_type| partitioning.table(*data_type)).collect();
        tables.extend(definitions(download.layout.definitions()));
        Ok(Lake { root, tables })
    }

    /// The statements of `engine`; `dataset` is BigQuery's (DuckDB has none).
    ///
    /// # Errors
    /// [`SqlError::NotGcs`] for BigQuery over a sink that is not in Cloud Storage.
    pub fn statements(&self, engine: Engine, dataset: &Dataset) -> Result<String, SqlError> {
        match engine {
            Engine::DuckDb => Ok(self.duckdb()),
            Engine::BigQuery => self.bigquery(dataset),
        }
    }
}

/// The `instruments` table over the daily definitions, when they sit in `date=` partitions (the `hive` preset,
/// [`DefinitionsLayout::Hive`]); a template keeps the original names (`by_date/day-D/`), which are not partitioned,
/// and gets no `instruments` table. Read from the layout's own object name of a day, so the two cannot disagree.
fn definitions(layout: DefinitionsLayout) -> Option<Table> {
    if !layout.partitions_by_date() {
        return None;
    }
    let day = NaiveDate::from_ymd_opt(2000, 1, 1)?;
    let object = layout.day_object(day);
    let (prefix, rest) = object.split_once(&format!("/date={day}/"))?;
    Some(Table {
        name: INSTRUMENTS.to_owned(),
        prefix: prefix.to_owned(),
        keys: vec![PartitionKey { name: "date".to_owned(), kind: KeyType::Date }],
        file: rest.to_owned(),
    })
}

/// How a `key=value` layout partitions the ticks: the fixed path before `data_type=`, the data type's key, the keys
/// after it, and the file name's extension.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partitioning {
    root: String,
    type_key: String,
    keys: Vec<PartitionKey>,
}

impl Partitioning {
    /// Reads the partitioning of a template: `ROOT/KEY={data_type}/KEY={placeholder}/.../FILE`, with a fixed
    /// `ROOT` (no placeholder), every directory after it `key={one placeholder}`, the data type's first.
    fn of(layout: &Layout) -> Result<Partitioning, SqlError> {
        let template = layout.as_str();
        let refuse = |reason: String| SqlError::Layout { layout: layout.to_string(), reason };
        let segments: Vec<&str> = template.split('/').collect();
        let Some((_file, directories)) = segments.split_last() else {
            return Err(refuse("no directories".into()));
        };
        let key_value = |segment: &str| -> Option<(String, Placeholder)> {
            let (key, value) = segment.split_once('=')?;
            let name = value.strip_prefix('{')?.strip_suffix('}')?;
            let placeholder =
                Placeholder::ALL.into_iter().find(|placeholder| placeholder.name() == name)?;
            let valid = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit());
            valid.then(|| (key.to_owned(), placeholder))
        };
        let first = directories.iter().position(|segment| segment.contains('='));
        let Some(first) = first else {
            return Err(refuse("no key=value directory".into()));
        };
        let root = directories[..first].join("/");
        if root.contains('{') {
            return Err(refuse(format!("{root:?} before the first key= has a placeholder")));
        }
        let mut keys = Vec::new();
        for segment in &directories[first..] {
            let Some((key, placeholder)) = key_value(segment) else {
                return Err(refuse(format!("directory {segment:?} is not key={{placeholder}}")));
            };
            keys.push((key, placeholder));
        }
        let (type_key, placeholder) = keys.remove(0);
        if placeholder != Placeholder::DataType {
            return Err(refuse(format!(
                "the first key= directory must be the data type (data_type={{data_type}}), not {type_key}={{{}}}",
                placeholder.name()
            )));
        }
        if keys.iter().any(|(_, placeholder)| *placeholder == Placeholder::DataType) {
            return Err(refuse("{data_type} is in more than one directory".into()));
        }
        let keys = keys
            .into_iter()
            .map(|(name, placeholder)| PartitionKey { name, kind: KeyType::of(placeholder) })
            .collect();
        Ok(Partitioning { root, type_key, keys })
    }

    fn table(&self, data_type: DataType) -> Table {
        let directory = format!("{}={}", self.type_key, data_type.as_str());
        let prefix = match self.root.as_str() {
            "" => directory,
            root => format!("{root}/{directory}"),
        };
        Table {
            name: data_type.as_str().to_owned(),
            prefix,
            keys: self.keys.clone(),
            file: format!("*.{}", OutputFormat::Parquet.extension()),
        }
    }
}

/// A SQL string literal: `text` in single quotes, each quote doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::preset("hive", Ok(("raw_tick_data", "data_type", vec!["exchange", "date"])))]
    #[case::custom(
        "lake/dt={data_type}/year={year}/month={month}/day={day}/{venue}_{symbol}.{ext}",
        Ok(("lake", "dt", vec!["year", "month", "day"]))
    )]
    #[case::default(
        "raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}",
        Err("no key=value directory")
    )]
    #[case::half_hive(
        "raw_tick_data/data_type={data_type}/day-{date}/{instrument_key}.{ext}",
        Err("\"day-{date}\" is not key={placeholder}")
    )]
    #[case::type_not_first(
        "t/date={date}/data_type={data_type}/{instrument_key}.{ext}",
        Err("must be the data type")
    )]
    #[case::placeholder_in_root(
        "{venue}/data_type={data_type}/date={date}/{symbol}.{ext}",
        Err("has a placeholder")
    )]
    fn partitioning_of_templates(
        #[case] template: &str,
        #[case] expected: Result<(&str, &str, Vec<&str>), &str>,
    ) {
        let layout = Layout::parse(template).unwrap();
        let got = Partitioning::of(&layout);
        match (got, expected) {
            (Ok(got), Ok((root, type_key, keys))) => {
                assert_eq!(got.root, root);
                assert_eq!(got.type_key, type_key);
                let names: Vec<&str> = got.keys.iter().map(|key| key.name.as_str()).collect();
                assert_eq!(names, keys);
            }
            (Err(error), Err(fragment)) => {
                let text = error.to_string();
                assert!(text.contains(fragment) && text.contains("MD_LAYOUT="), "{text}");
            }
            (got, expected) => panic!("{template}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn engines_parse_by_name() {
        assert_eq!("DuckDB".parse::<Engine>(), Ok(Engine::DuckDb));
        assert_eq!("bigquery".parse::<Engine>(), Ok(Engine::BigQuery));
        assert!("spark".parse::<Engine>().unwrap_err().to_string().contains("duckdb or bigquery"));
    }
}
