//! The lake index: one small Parquet object per data type, day and shard that lists the day's tick objects, so a
//! reader (`md-cli sql`, DuckDB, BigQuery) takes an explicit file list instead of listing the bucket.
//!
//! Every `download` and `pipeline` run writes, after its manifest, one part per (data type, day) of the whole plan
//! at [`index_object`]: `raw_tick_data_index/data_type={T}/date={YYYY-MM-DD}/part-{SHARD_INDEX}-of-{TOTAL_SHARDS}.parquet`
//! (`part-0-of-1` without sharding). Each task of a fleet writes only its own part (no two tasks write one
//! object, and no step after the fleet is needed); a reader reads every part of the day's prefix ([`index_prefix`]),
//! a listing of `TOTAL_SHARDS` tiny objects. A shard with no unit of a day and data type writes an empty part, so a
//! day's prefix holds exactly `TOTAL_SHARDS` parts once every task of the fleet has run.
//!
//! A part has one row ([`IndexRow`]) per object of each of the shard's units of that day and data type (one per
//! output format). `path` is set exactly when the object is stored and verified by md (status `stored`, `empty` or
//! `adopted`): the rows with a `path` are exactly the day's stored tick objects. Every other planned object has a
//! row with a null `path` and the reason in `status` (`not_offered`, `failed`, `interrupted`, `unverified` for an
//! object md did not write and left alone, `missing`). The statuses are [`UnitStatus`]'s names (docs/STATUSES.md).
//! A rerun that downloads nothing writes the same rows: the objects it skips or adopted before are listed with
//! their recorded size and CRC32C, and with the facts the previous manifest recorded for them.
//!
//! The object names in `path` are whatever md-config's layout renders (the default, hive, or a template): the index
//! records names, it does not make them. The schema is in docs/SCHEMAS.md, "Lake index".

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Field, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};
use arrow::error::ArrowError;
use bytes::Bytes;
use chrono::NaiveDate;
use futures::{StreamExt as _, TryStreamExt as _};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::{DataType, OutputFormat};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

use super::manifest::{Manifest, UnitFacts};
use super::plan::{Plan, Unit};
use super::status::UnitStatus;
use crate::error::Error;

/// Where the index lives in the sink (a sibling of the ticks' `raw_tick_data/`, so no glob over ticks matches it).
pub const INDEX_PREFIX: &str = "raw_tick_data_index";

/// The prefix of every part of one data type's index of one day:
/// `raw_tick_data_index/data_type={T}/date={YYYY-MM-DD}/` (`key=value` segments, so readers prune on them too).
pub fn index_prefix(data_type: DataType, date: NaiveDate) -> String {
    format!("{INDEX_PREFIX}/data_type={data_type}/date={date}/")
}

/// The object one shard writes for one data type and day: `{index_prefix}part-{shard_index}-of-{total_shards}.parquet`,
/// with md-config's 0-based `SHARD_INDEX` and `TOTAL_SHARDS` (`part-0-of-1` without sharding).
pub fn index_object(
    data_type: DataType,
    date: NaiveDate,
    shard_index: u32,
    total_shards: u32,
) -> String {
    format!("{}part-{shard_index}-of-{total_shards}.parquet", index_prefix(data_type, date))
}

/// The size and CRC32C of a stored object as the run found or wrote it, and whether md adopted it rather than
/// wrote it. The run collects one per stored object; [`rows`] reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredObject {
    /// Its size in bytes.
    pub size: u64,
    /// Its CRC32C, when recorded (an object adopted from its Parquet footer alone has none).
    pub crc32c: Option<u32>,
    /// Whether md adopted it (this run or an earlier one) rather than wrote it.
    pub adopted: bool,
}

impl StoredObject {
    /// An object this run wrote, with the digest of its bytes.
    pub fn written(digest: gcs_sink::Digest) -> Self {
        StoredObject { size: digest.size, crc32c: Some(digest.crc32c), adopted: false }
    }

    /// An object md adopted as `info` describes it, with its digest when the check read it whole.
    pub fn adopted(info: &gcs_sink::ObjectInfo, digest: Option<gcs_sink::Digest>) -> Self {
        StoredObject { size: info.size, crc32c: digest.map(|digest| digest.crc32c), adopted: true }
    }
}

/// One row of the index: one object of a planned unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    /// The dataset file the object holds.
    pub file: IndexedFile,
    /// The object's format (`raw` for `.csv.gz`, `parquet`).
    pub format: OutputFormat,
    /// What the object is ([`UnitStatus`]; its name in the file).
    pub status: UnitStatus,
    /// The object as stored, exactly when it is (status `stored`, `empty` or `adopted`).
    pub stored: Option<IndexedObject>,
}

/// Which dataset file a row is about: the unit's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    /// The instrument key (or the grouped file's key).
    pub instrument_key: String,
    /// The Tardis exchange id.
    pub exchange: String,
    /// The dataset symbol (the id in Tardis's download URL).
    pub symbol: String,
    /// The UTC day.
    pub date: NaiveDate,
    /// The data type.
    pub data_type: DataType,
}

/// A stored object: its name, record and, when learnt, what the file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedObject {
    /// The object name relative to the sink's root (the `path` column).
    pub path: String,
    /// Its size (`bytes`) and CRC32C (`crc32c`, 8 lowercase hex digits in the file; none for an object adopted
    /// from its Parquet footer alone), and whether md adopted it (status `adopted`).
    pub record: StoredObject,
    /// The rows and timestamps of the file as Tardis sent it (the per-file facts), when learnt.
    pub contents: Option<Contents>,
}

/// The rows of a file as Tardis sent it and its first and last timestamps (µs since the epoch, UTC; `None` without
/// rows), in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contents {
    /// Data rows.
    pub rows: u64,
    /// The first and last row's `timestamp`.
    pub timestamp: [Option<i64>; 2],
    /// The first and last row's `local_timestamp`.
    pub local_timestamp: [Option<i64>; 2],
}

impl Contents {
    /// The contents the per-file facts describe.
    pub fn of(facts: &tardis_client::facts::FileFacts) -> Self {
        Contents {
            rows: facts.rows,
            timestamp: [facts.first_timestamp, facts.last_timestamp],
            local_timestamp: [facts.first_local_timestamp, facts.last_local_timestamp],
        }
    }
}

impl IndexRow {
    /// Returns the object name when the row lists a stored object (the `path` column).
    pub fn path(&self) -> Option<&str> {
        self.stored.as_ref().map(|stored| stored.path.as_str())
    }
}

/// The index rows of a shard's `units` after its run: one per object of each unit, from what the run's `manifest`
/// says of it and the `stored` objects the run found or wrote (by name). In unit order, then format order.
pub fn rows(
    units: &[&Unit],
    manifest: &Manifest,
    stored: &BTreeMap<String, StoredObject>,
) -> Vec<IndexRow> {
    let stored_names: BTreeSet<&str> =
        manifest.done_objects.iter().chain(&manifest.skipped_objects).map(String::as_str).collect();
    let adopted: BTreeSet<&str> =
        manifest.adopted_objects.iter().map(|adopted| adopted.object.as_str()).collect();
    let left_alone: BTreeSet<&str> =
        manifest.left_alone.iter().map(|left| left.object.as_str()).collect();
    let failed: BTreeSet<&str> = manifest.errors.iter().map(|error| error.unit.as_str()).collect();
    let not_offered: BTreeSet<&str> =
        manifest.not_offered.iter().map(|record| record.unit.as_str()).collect();
    let mut facts: BTreeMap<&str, Vec<&UnitFacts>> = BTreeMap::new();
    for record in &manifest.facts {
        facts.entry(record.unit.as_str()).or_default().push(record);
    }
    let mut out = Vec::with_capacity(units.iter().map(|unit| unit.objects.len()).sum());
    for unit in units {
        let id = unit.id();
        let unit_facts = facts.get(id.as_str()).map_or(&[][..], Vec::as_slice);
        // The facts describe the file, whichever object they were recorded with.
        let file = unit_facts.first().map(|record| &record.facts);
        let unit_status = if failed.contains(id.as_str()) {
            UnitStatus::Failed
        } else if not_offered.contains(id.as_str()) {
            UnitStatus::NotOffered
        } else if manifest.interrupted.iter().any(|record| record.unit == id) {
            UnitStatus::Interrupted
        } else {
            UnitStatus::Missing
        };
        for object in &unit.objects {
            let name = object.name.as_str();
            let found = stored.get(name);
            let status = if adopted.contains(name) || found.is_some_and(|found| found.adopted) {
                UnitStatus::Adopted
            } else if stored_names.contains(name) {
                match file {
                    Some(file) if file.is_empty() => UnitStatus::Empty,
                    _ => UnitStatus::StoredVerified,
                }
            } else if left_alone.contains(name) {
                UnitStatus::StoredUnverified
            } else {
                unit_status
            };
            let listed = matches!(
                status,
                UnitStatus::StoredVerified | UnitStatus::Empty | UnitStatus::Adopted
            );
            let recorded = unit_facts.iter().find(|record| record.object == name);
            let adopted = status == UnitStatus::Adopted;
            let record = match (found, recorded) {
                (Some(found), _) => Some(StoredObject { adopted, ..*found }),
                (None, Some(record)) => Some(StoredObject {
                    size: record.size,
                    crc32c: u32::from_str_radix(&record.crc32c, 16).ok(),
                    adopted,
                }),
                (None, None) => None,
            };
            out.push(IndexRow {
                file: IndexedFile {
                    instrument_key: unit.instrument_key.clone(),
                    exchange: unit.exchange.clone(),
                    symbol: unit.symbol.clone(),
                    date: unit.date,
                    data_type: unit.data_type,
                },
                format: object.format,
                status,
                stored: record.filter(|_| listed).map(|record| IndexedObject {
                    path: name.to_owned(),
                    record,
                    contents: file.filter(|_| !adopted).map(Contents::of),
                }),
            });
        }
    }
    out
}

/// A shard's parts: every (data type, day) of the whole `plan` (all shards' units), each with the rows of
/// `shard`'s units of that data type and day ([`rows`]); empty where the shard has none.
pub fn parts(
    plan: &Plan,
    shard: u32,
    manifest: &Manifest,
    stored: &BTreeMap<String, StoredObject>,
) -> BTreeMap<(DataType, NaiveDate), Vec<IndexRow>> {
    let mut parts: BTreeMap<(DataType, NaiveDate), Vec<IndexRow>> =
        plan.units.iter().map(|unit| ((unit.data_type, unit.date), Vec::new())).collect();
    let mine: Vec<&Unit> = plan.shard(shard).collect();
    for row in rows(&mine, manifest, stored) {
        parts.entry((row.file.data_type, row.file.date)).or_default().push(row);
    }
    parts
}

/// The index's Arrow schema: `path` (null when not stored), `format`, `instrument_key`, `exchange`, `symbol`,
/// `date` (Date32), `data_type`, `rows`, `bytes` (Int64), the four first/last timestamps (Timestamp µs, UTC),
/// `crc32c`, `status`.
pub fn schema() -> SchemaRef {
    let text = |name: &str, nullable: bool| Field::new(name, ArrowType::Utf8, nullable);
    let count = |name: &str| Field::new(name, ArrowType::Int64, true);
    let stamp = |name: &str| {
        Field::new(name, ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true)
    };
    Arc::new(Schema::new(vec![
        text("path", true),
        text("format", false),
        text("instrument_key", false),
        text("exchange", false),
        text("symbol", false),
        Field::new("date", ArrowType::Date32, false),
        text("data_type", false),
        count("rows"),
        count("bytes"),
        stamp("first_timestamp"),
        stamp("last_timestamp"),
        stamp("first_local_timestamp"),
        stamp("last_local_timestamp"),
        text("crc32c", true),
        text("status", false),
    ]))
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date")
}

/// The rows as one record batch of [`schema`].
///
/// # Errors
/// [`Error::Parquet`] naming `object` (a count beyond `i64`).
pub fn batch(object: &str, rows: &[IndexRow]) -> Result<RecordBatch, Error> {
    let texts = |value: fn(&IndexRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(value).collect::<StringArray>())
    };
    let counts = |value: fn(&IndexedObject) -> Option<u64>| -> ArrayRef {
        let count = |row: &IndexRow| row.stored.as_ref().and_then(value).map(|count| count as i64);
        Arc::new(rows.iter().map(count).collect::<Int64Array>())
    };
    let stamps = |value: fn(&Contents) -> Option<i64>| -> ArrayRef {
        let stamp = |row: &IndexRow| row.stored.as_ref()?.contents.as_ref().and_then(value);
        Arc::new(rows.iter().map(stamp).collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
    };
    let days = rows.iter().map(|row| (row.file.date - epoch()).num_days() as i32);
    let columns: Vec<ArrayRef> = vec![
        texts(IndexRow::path),
        texts(|row| Some(row.format.as_str())),
        texts(|row| Some(&row.file.instrument_key)),
        texts(|row| Some(&row.file.exchange)),
        texts(|row| Some(&row.file.symbol)),
        Arc::new(Date32Array::from_iter_values(days)),
        texts(|row| Some(row.file.data_type.as_str())),
        counts(|stored| stored.contents.map(|contents| contents.rows)),
        counts(|stored| Some(stored.record.size)),
        stamps(|contents| contents.timestamp[0]),
        stamps(|contents| contents.timestamp[1]),
        stamps(|contents| contents.local_timestamp[0]),
        stamps(|contents| contents.local_timestamp[1]),
        Arc::new(rows.iter().map(crc32c_hex).collect::<StringArray>()),
        texts(|row| Some(row.status.as_str())),
    ];
    RecordBatch::try_new(schema(), columns).map_err(|error| Error::parquet(object, error))
}

/// The `crc32c` column's value: 8 lowercase hex digits.
fn crc32c_hex(row: &IndexRow) -> Option<String> {
    row.stored.as_ref()?.record.crc32c.map(|crc| format!("{crc:08x}"))
}

/// Encodes a part as Parquet (zstd, one row group).
///
/// # Errors
/// [`Error::Parquet`] naming `object`.
pub fn encode(object: &str, rows: &[IndexRow]) -> Result<Vec<u8>, Error> {
    let batch = batch(object, rows)?;
    super::reports::encode_parquet(
        object,
        &batch,
        Compression::ZSTD(Default::default()),
        Vec::new(),
    )
}

/// Decodes a part (any Parquet file with the index's columns, as [`encode`] writes it).
///
/// # Errors
/// [`Error::Parquet`] naming `object` when it is not Parquet, or a column is missing, of another type, or holds a
/// value that is not one of the index's (a data type, format or status md does not know).
pub fn decode(object: &str, body: Bytes) -> Result<Vec<IndexRow>, Error> {
    let fail = |error: ArrowError| Error::parquet(object, error);
    let reader = ParquetRecordBatchReaderBuilder::try_new(body)
        .and_then(|builder| builder.build())
        .map_err(|error| Error::parquet(object, error))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(fail)?;
        out.extend(decode_batch(&batch).map_err(fail)?);
    }
    Ok(out)
}

fn decode_batch(batch: &RecordBatch) -> Result<Vec<IndexRow>, ArrowError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| ArrowError::SchemaError(format!("no column {name}")))
    };
    let wrong = |name: &str| ArrowError::SchemaError(format!("column {name} has the wrong type"));
    let text = |name: &str| column(name)?.as_string_opt::<i32>().ok_or_else(|| wrong(name));
    let count =
        |name: &str| column(name)?.as_primitive_opt::<Int64Type>().ok_or_else(|| wrong(name));
    let stamp = |name: &str| {
        column(name)?.as_primitive_opt::<TimestampMicrosecondType>().ok_or_else(|| wrong(name))
    };
    let (path, format, key, exchange, symbol, data_type, crc32c, status) = (
        text("path")?,
        text("format")?,
        text("instrument_key")?,
        text("exchange")?,
        text("symbol")?,
        text("data_type")?,
        text("crc32c")?,
        text("status")?,
    );
    let date = column("date")?.as_primitive_opt::<Date32Type>().ok_or_else(|| wrong("date"))?;
    let (rows, bytes) = (count("rows")?, count("bytes")?);
    let stamps = [
        stamp("first_timestamp")?,
        stamp("last_timestamp")?,
        stamp("first_local_timestamp")?,
        stamp("last_local_timestamp")?,
    ];
    let bad =
        |what: &str, value: &str| ArrowError::ParseError(format!("{what} {value:?} is not md's"));
    let stamp_at =
        |column: usize, at: usize| stamps[column].is_valid(at).then(|| stamps[column].value(at));
    (0..batch.num_rows())
        .map(|at| {
            let status_name = status.value(at);
            let status = UnitStatus::ALL
                .into_iter()
                .find(|known| known.as_str() == status_name)
                .ok_or_else(|| bad("status", status_name))?;
            let contents = rows.is_valid(at).then(|| Contents {
                rows: rows.value(at) as u64,
                timestamp: [stamp_at(0, at), stamp_at(1, at)],
                local_timestamp: [stamp_at(2, at), stamp_at(3, at)],
            });
            let crc = if crc32c.is_valid(at) {
                let hex = crc32c.value(at);
                Some(u32::from_str_radix(hex, 16).map_err(|_| bad("crc32c", hex))?)
            } else {
                None
            };
            let stored = match (path.is_valid(at), bytes.is_valid(at)) {
                (false, _) => None,
                (true, false) => return Err(bad("a listed object without bytes:", path.value(at))),
                (true, true) => Some(IndexedObject {
                    path: path.value(at).to_owned(),
                    record: StoredObject {
                        size: bytes.value(at) as u64,
                        crc32c: crc,
                        adopted: status == UnitStatus::Adopted,
                    },
                    contents,
                }),
            };
            Ok(IndexRow {
                file: IndexedFile {
                    instrument_key: key.value(at).to_owned(),
                    exchange: exchange.value(at).to_owned(),
                    symbol: symbol.value(at).to_owned(),
                    date: epoch() + chrono::Duration::days(i64::from(date.value(at))),
                    data_type: data_type
                        .value(at)
                        .parse()
                        .map_err(|_| bad("data type", data_type.value(at)))?,
                },
                format: format.value(at).parse().map_err(|_| bad("format", format.value(at)))?,
                status,
                stored,
            })
        })
        .collect()
}

/// Writes a shard's `parts` ([`parts`]), `concurrency` at a time, each replacing the previous part atomically, and
/// removes the parts of the same data type and day written for another number of shards (an earlier fleet of
/// another size), so a day's prefix holds only this fleet's parts; returns the object names written, sorted.
///
/// # Errors
/// [`Error::Parquet`] when a part cannot be encoded, [`Error::Sink`] when one cannot be written, or a day's prefix
/// listed or an earlier fleet's part removed.
///
/// # Cancel safety
/// Each part is replaced atomically; dropping the future leaves some parts written and others as they were.
pub async fn write(
    sink: &ObjectSink,
    parts: &BTreeMap<(DataType, NaiveDate), Vec<IndexRow>>,
    shard_index: u32,
    total_shards: u32,
    concurrency: usize,
) -> Result<Vec<String>, Error> {
    let mut written: Vec<String> = futures::stream::iter(parts)
        .map(|((data_type, date), rows)| async move {
            let object = index_object(*data_type, *date, shard_index, total_shards);
            let body = encode(&object, rows)?;
            sink.put_bytes(&object, body, WriteMode::Replace)
                .await
                .map_err(|error| Error::sink("write the lake index part", &object, error))?;
            remove_other_fleets(sink, &index_prefix(*data_type, *date), total_shards).await?;
            Ok::<_, Error>(object)
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    written.sort();
    Ok(written)
}

/// Removes the parts under `prefix` written for a number of shards other than `total_shards`.
async fn remove_other_fleets(
    sink: &ObjectSink,
    prefix: &str,
    total_shards: u32,
) -> Result<(), Error> {
    let names: Vec<String> = sink
        .list(prefix)
        .map_ok(|object| object.name)
        .try_collect()
        .await
        .map_err(|error| Error::sink("list the lake index under", prefix, error))?;
    for name in names {
        if part_total(&name).is_some_and(|total| total != total_shards) {
            sink.delete(&name).await.map_err(|error| {
                Error::sink("remove an earlier fleet's index part", &name, error)
            })?;
            tracing::info!(part = %name, "removed a lake index part written for another number of shards");
        }
    }
    Ok(())
}

/// The number of shards in a part's name (`.../part-{i}-of-{total}.parquet`); `None` for any other name.
pub fn part_total(name: &str) -> Option<u32> {
    let file = name.rsplit('/').next()?;
    let (index, total) =
        file.strip_prefix("part-")?.strip_suffix(".parquet")?.split_once("-of-")?;
    index.parse::<u32>().ok()?;
    total.parse().ok()
}

/// Reads every part of one data type's index of one day (a listing of [`index_prefix`]), in part name order.
///
/// # Errors
/// [`Error::Sink`] when the prefix cannot be listed or a part read, [`Error::Parquet`] when a part is not an index.
///
/// # Cancel safety
/// Read-only.
pub async fn read(
    sink: &ObjectSink,
    data_type: DataType,
    date: NaiveDate,
) -> Result<Vec<IndexRow>, Error> {
    let prefix = index_prefix(data_type, date);
    let mut names: Vec<String> = sink
        .list(&prefix)
        .map_ok(|object| object.name)
        .try_collect()
        .await
        .map_err(|error| Error::sink("list the lake index under", &prefix, error))?;
    names.sort();
    let mut out = Vec::new();
    for name in names.iter().filter(|name| name.ends_with(".parquet")) {
        let body = sink
            .read_small(name, MAX_PART_BYTES)
            .await
            .map_err(|error| Error::sink("read the lake index part", name, error))?;
        if let Some(body) = body {
            out.extend(decode(name, body)?);
        }
    }
    Ok(out)
}

/// The largest index part md reads (a part of a hundred thousand units is a few MiB).
pub const MAX_PART_BYTES: u64 = 256 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_are_hive_style_and_numbered_like_the_shard_variables() {
        let date: NaiveDate = "2026-10-02".parse().unwrap();
        assert_eq!(
            index_object(DataType::Trades, date, 0, 1),
            "raw_tick_data_index/data_type=trades/date=2026-10-02/part-0-of-1.parquet"
        );
        assert_eq!(
            index_object(DataType::BookSnapshot5, date, 3, 4),
            "raw_tick_data_index/data_type=book_snapshot_5/date=2026-10-02/part-3-of-4.parquet"
        );
        assert_eq!(part_total(&index_object(DataType::Trades, date, 3, 4)), Some(4));
        for other in [
            "x/part-a-of-4.parquet",
            "x/part-1-of-4.json",
            "x/notes.parquet",
            "x/part-1-of-.parquet",
        ] {
            assert_eq!(part_total(other), None, "{other}");
        }
        assert!(
            index_object(DataType::Trades, date, 3, 4)
                .starts_with(&index_prefix(DataType::Trades, date))
        );
    }
}
