//! The original system's two report objects per day, as `md-cli missing` writes them: which planned units are
//! missing and which are available, one Parquet file each, with the original's columns.
//!
//! - `missing_data_reports/by_date/day-YYYY-MM-DD/missing_data.parquet`: one row per missing unit (instrument or
//!   grouped file x data type) of the day: `date`, `instrument_key`, `data_type`, `status` (`missing`),
//!   `expected` (true), `available` (false), then the report's `report_date` (the day), `venues_filter`,
//!   `instrument_types_filter`, `data_types_filter` (the run's selection, comma-joined, or `all`) and
//!   `generated_at` (ISO 8601, UTC).
//! - `available_tick_data/by_date/day-YYYY-MM-DD/available_data.parquet`: the day's other planned units:
//!   `instrument_key`, `venue`, `instrument_type` (both as the key spells them), `data_type`, `date`, `base_asset`,
//!   `quote_asset` (from the key; null for a grouped file).
//!
//! What counts as missing is the caller's classification (a unit with an object absent: never downloaded, or
//! failed); units of days Tardis has not exported yet are in neither report (they are not expected yet). Every day
//! of the range gets both objects, empty when no row applies, so a report of an earlier run is always replaced.
//! Strings are plain UTF-8 and flags booleans, as pandas wrote them; the files are compressed with snappy, the
//! original's default.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::DownloadConfig;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::plan::{Plan, Unit};
use crate::error::Error;

/// The object of a day's missing-data report.
pub fn missing_object(date: NaiveDate) -> String {
    format!("missing_data_reports/by_date/day-{date}/missing_data.parquet")
}

/// The object of a day's available-data report.
pub fn available_object(date: NaiveDate) -> String {
    format!("available_tick_data/by_date/day-{date}/available_data.parquet")
}

/// The selection a report was made for, as its filter columns spell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFilters {
    /// `venues_filter`: the venues (Tardis exchange ids), comma-joined, or `all`.
    pub venues: String,
    /// `instrument_types_filter`: the instrument types (Tardis spelling), comma-joined, or `all`.
    pub instrument_types: String,
    /// `data_types_filter`: the data types, comma-joined, or `all`.
    pub data_types: String,
}

impl ReportFilters {
    /// The filters of a download selection.
    pub fn of(download: &DownloadConfig) -> Self {
        fn joined<'a>(items: impl Iterator<Item = &'a str>) -> String {
            let items: Vec<&str> = items.collect();
            if items.is_empty() { "all".to_owned() } else { items.join(",") }
        }
        ReportFilters {
            venues: joined(download.venues.iter().map(String::as_str)),
            instrument_types: joined(download.instrument_types.iter().map(|kind| kind.as_str())),
            data_types: joined(download.data_types.iter().map(|data_type| data_type.as_str())),
        }
    }
}

/// One day's two reports, ready to write.
#[derive(Debug, Clone)]
pub struct DayReports {
    /// The day.
    pub date: NaiveDate,
    /// `missing_data.parquet`'s rows.
    pub missing: RecordBatch,
    /// `available_data.parquet`'s rows.
    pub available: RecordBatch,
}

/// The schema of `missing_data.parquet`.
pub fn missing_schema() -> SchemaRef {
    nullable_columns(
        &[
            "date",
            "instrument_key",
            "data_type",
            "status",
            "expected",
            "available",
            "report_date",
            "venues_filter",
            "instrument_types_filter",
            "data_types_filter",
            "generated_at",
        ],
        &["expected", "available"],
    )
}

/// The schema of `available_data.parquet`.
pub fn available_schema() -> SchemaRef {
    nullable_columns(
        &[
            "instrument_key",
            "venue",
            "instrument_type",
            "data_type",
            "date",
            "base_asset",
            "quote_asset",
        ],
        &[],
    )
}

/// A schema of nullable columns, as pandas wrote them: strings, except the boolean `flags`.
fn nullable_columns(names: &[&str], flags: &[&str]) -> SchemaRef {
    let field = |name: &&str| {
        let kind = if flags.contains(name) { ArrowType::Boolean } else { ArrowType::Utf8 };
        Field::new(*name, kind, true)
    };
    Arc::new(Schema::new(names.iter().map(field).collect::<Vec<Field>>()))
}

/// Builds both reports of every day of the plan's range: the planned units `is_missing` says are missing, and the
/// others. Rows are ordered by data type (in the run's order), then key.
///
/// Units of days Tardis has not exported yet ([`Plan::not_yet_exported`]) are in neither report.
pub fn day_reports(
    plan: &Plan,
    is_missing: impl Fn(&Unit) -> bool,
    filters: &ReportFilters,
    generated_at: DateTime<Utc>,
) -> Vec<DayReports> {
    let generated_at = generated_at.to_rfc3339_opts(SecondsFormat::Micros, false);
    let filters_order: Vec<&str> = filters.data_types.split(',').collect();
    plan.range
        .days()
        .map(|date| {
            let mut units: Vec<&Unit> =
                plan.units.iter().filter(|unit| unit.date == date).collect();
            let rank = |unit: &Unit| {
                filters_order.iter().position(|data_type| *data_type == unit.data_type.as_str())
            };
            units.sort_by(|a, b| {
                (rank(a), &a.instrument_key, &a.symbol).cmp(&(
                    rank(b),
                    &b.instrument_key,
                    &b.symbol,
                ))
            });
            let (missing, available): (Vec<&Unit>, Vec<&Unit>) =
                units.into_iter().partition(|unit| is_missing(unit));
            DayReports {
                date,
                missing: missing_batch(date, &missing, filters, &generated_at),
                available: available_batch(date, &available),
            }
        })
        .collect()
}

fn strings(values: impl IntoIterator<Item = Option<String>>) -> ArrayRef {
    Arc::new(values.into_iter().collect::<StringArray>())
}

fn repeated(value: &str, rows: usize) -> ArrayRef {
    strings(std::iter::repeat_n(Some(value.to_owned()), rows))
}

fn missing_batch(
    date: NaiveDate,
    units: &[&Unit],
    filters: &ReportFilters,
    generated_at: &str,
) -> RecordBatch {
    let rows = units.len();
    let day = date.to_string();
    let flags = |value: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![value; rows])) };
    let columns = vec![
        repeated(&day, rows),
        strings(units.iter().map(|unit| Some(unit.instrument_key.clone()))),
        strings(units.iter().map(|unit| Some(unit.data_type.as_str().to_owned()))),
        repeated("missing", rows),
        flags(true),
        flags(false),
        repeated(&day, rows),
        repeated(&filters.venues, rows),
        repeated(&filters.instrument_types, rows),
        repeated(&filters.data_types, rows),
        repeated(generated_at, rows),
    ];
    RecordBatch::try_new(missing_schema(), columns).expect("columns match the schema")
}

fn available_batch(date: NaiveDate, units: &[&Unit]) -> RecordBatch {
    let rows = units.len();
    let parts: Vec<KeyParts> =
        units.iter().map(|unit| KeyParts::of(&unit.instrument_key)).collect();
    let columns = vec![
        strings(units.iter().map(|unit| Some(unit.instrument_key.clone()))),
        strings(parts.iter().map(|parts| parts.venue.clone())),
        strings(parts.iter().map(|parts| parts.instrument_type.clone())),
        strings(units.iter().map(|unit| Some(unit.data_type.as_str().to_owned()))),
        repeated(&date.to_string(), rows),
        strings(parts.iter().map(|parts| parts.base.clone())),
        strings(parts.iter().map(|parts| parts.quote.clone())),
    ];
    RecordBatch::try_new(available_schema(), columns).expect("columns match the schema")
}

/// What the available report takes from a key: its venue and type segments as spelt, and for an instrument its
/// base and quote assets (a grouped file's key, `DERIBIT:OPTION:ALL`, has none).
#[derive(Debug, Default)]
struct KeyParts {
    venue: Option<String>,
    instrument_type: Option<String>,
    base: Option<String>,
    quote: Option<String>,
}

impl KeyParts {
    fn of(key: &str) -> Self {
        let mut segments = key.splitn(3, ':');
        let venue = segments.next().map(str::to_owned);
        let instrument_type = segments.next().map(str::to_owned);
        let (base, quote) = match instruments::InstrumentKey::parse(key) {
            Ok(parsed) => (Some(parsed.base().to_owned()), Some(parsed.quote().to_owned())),
            Err(_) => (None, None),
        };
        KeyParts { venue, instrument_type, base, quote }
    }
}

/// Encodes one report as Parquet (snappy, one row group).
///
/// # Errors
/// [`Error::Parquet`] naming the object.
pub fn encode(object: &str, batch: &RecordBatch) -> Result<Vec<u8>, Error> {
    encode_parquet(object, batch, Compression::SNAPPY, Vec::new())
}

/// Encodes a batch as a Parquet file md writes (one row group, `created_by` md and its version), with
/// `compression` and the file's key-value `metadata`: the reports here, the stored definitions.
///
/// # Errors
/// [`Error::Parquet`] naming the object.
pub(crate) fn encode_parquet(
    object: &str,
    batch: &RecordBatch,
    compression: Compression,
    metadata: Vec<KeyValue>,
) -> Result<Vec<u8>, Error> {
    let properties = WriterProperties::builder()
        .set_compression(compression)
        .set_created_by(format!("md {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(properties))
        .map_err(|error| Error::parquet(object, error))?;
    writer.write(batch).map_err(|error| Error::parquet(object, error))?;
    for entry in metadata {
        writer.append_key_value_metadata(entry);
    }
    writer.close().map_err(|error| Error::parquet(object, error))?;
    Ok(out)
}

/// Writes every day's two reports, replacing earlier ones atomically; returns the object names written.
///
/// # Errors
/// [`Error::Parquet`] when a report cannot be encoded, [`Error::Sink`] when one cannot be written.
///
/// # Cancel safety
/// Each object is replaced atomically; dropping the future leaves some days written and others not.
pub async fn write(sink: &ObjectSink, reports: &[DayReports]) -> Result<Vec<String>, Error> {
    let mut written = Vec::with_capacity(reports.len() * 2);
    for report in reports {
        for (object, batch) in [
            (missing_object(report.date), &report.missing),
            (available_object(report.date), &report.available),
        ] {
            let body = encode(&object, batch)?;
            sink.put_bytes(&object, body, WriteMode::Replace)
                .await
                .map_err(|error| Error::sink("write the report", &object, error))?;
            written.push(object);
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use md_config::{DataType, InstrumentType};

    use super::*;

    #[test]
    fn key_parts_of_instruments_and_groups() {
        let perp = KeyParts::of("DERIBIT:PERP:BTC-USD");
        assert_eq!(
            (
                perp.venue.as_deref(),
                perp.instrument_type.as_deref(),
                perp.base.as_deref(),
                perp.quote.as_deref()
            ),
            (Some("DERIBIT"), Some("PERP"), Some("BTC"), Some("USD"))
        );
        let option = KeyParts::of("DERIBIT:OPTION:BTC-USD-241227-50000-CALL");
        assert_eq!((option.base.as_deref(), option.quote.as_deref()), (Some("BTC"), Some("USD")));
        let group = KeyParts::of("DERIBIT:OPTION:ALL");
        assert_eq!(
            (group.venue.as_deref(), group.instrument_type.as_deref(), group.base, group.quote),
            (Some("DERIBIT"), Some("OPTION"), None, None)
        );
    }

    #[rstest::rstest]
    #[case::everything(&[], &[], &[DataType::Trades, DataType::OptionsChain], ["all", "all", "trades,options_chain"])]
    #[case::a_selection(&["deribit", "okex-swap"], &[InstrumentType::Perpetual], &[], ["deribit,okex-swap", "perpetual", "all"])]
    fn filters_name_the_selection_or_all(
        #[case] venues: &[&str],
        #[case] instrument_types: &[InstrumentType],
        #[case] data_types: &[DataType],
        #[case] expected: [&str; 3],
    ) {
        let mut download = md_config::Config::defaults().download;
        download.venues = venues.iter().map(|venue| (*venue).to_owned()).collect();
        download.instrument_types = instrument_types.to_vec();
        download.data_types = data_types.to_vec();
        let filters = ReportFilters::of(&download);
        let got = [&filters.venues, &filters.instrument_types, &filters.data_types];
        assert_eq!(got.map(String::as_str), expected);
    }

    #[test]
    fn object_names_are_the_originals() {
        let date = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        assert_eq!(
            missing_object(date),
            "missing_data_reports/by_date/day-2024-01-15/missing_data.parquet"
        );
        assert_eq!(
            available_object(date),
            "available_tick_data/by_date/day-2024-01-15/available_data.parquet"
        );
    }
}
