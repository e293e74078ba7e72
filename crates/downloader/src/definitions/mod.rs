//! Stored instrument definitions: the instruments available each day, as typed Parquet in the sink.
//!
//! Layout (the seed system's; the `hive` preset names them as [`DefinitionsLayout`] says, see
//! [`DefinitionsStore::with_layout`]):
//! - `instrument_availability/by_date/day-YYYY-MM-DD/instruments.parquet`: one row per instrument available that day
//!   (every exchange written so far), sorted by `instrument_key`; the columns of the system md replaces first (its
//!   names, order, types and conventions, so its readers keep working), then md's own, in a fixed schema;
//! - `instrument_availability/by_date/day-YYYY-MM-DD/grouped_datasets.parquet`: the grouped dataset files of the day
//!   (`OPTIONS`, `PERPETUALS`, ...), which are not instruments but are downloadable;
//! - `instrument_availability/aggregate/instruments_YYYYMMDD_YYYYMMDD.parquet`: every row of a range, with its `date`.
//!
//! In the hive layout the day files sit in a `date=YYYY-MM-DD` partition and hold no `date` column (the path gives
//! it: BigQuery refuses a file column named like a partition key); it is put back when md reads them.
//!
//! Writing a day merges: rows of exchanges not in this run are kept, rows of the run's exchanges are replaced.
//! Each file records the exchanges it covers and their source in its key-value metadata ([`Coverage`],
//! `coverage.rs`): the union of the runs that wrote it; the plan refuses a venue a day does not cover.
//! A day file written by the system md replaces, or by an earlier md (recognised by its columns), is replaced by
//! this run's rows without `--force`; any other file md cannot read needs `--force`.
//! Bytes are deterministic (same rows give the same file), so an unchanged day is verified, not rewritten.
//! The plan reads these objects back (see [`read_days`]), md's earlier files too, with keys and types written the
//! historical way (`PERP`, `OKEX...`) read as the canonical ones; it refuses the original's, whose keys it does not
//! plan from.
//!
//! The rows come from `instruments`, which takes its own model of an exchange's listing: [`listing`] maps the
//! Tardis metadata `tardis-client` fetches onto it (`listing.rs`). The columns of both files, with their types and
//! the record field each is read from, are one table each (`table.rs`), from which the schema and the column
//! builders are both derived.

use std::collections::BTreeMap;

use arrow::array::{Array, ListArray, RecordBatch, RecordBatchReader, StringArray};
use arrow::compute::{concat_batches, filter_record_batch, sort_to_indices, take_record_batch};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{ObjectSink, PutStatus, WriteMode};
use instruments::{GroupRecord, InstrumentRecord, Listing};
use md_config::{DefinitionsLayout, InstrumentType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;

mod coverage;
mod listing;
mod summary;
mod table;

pub use coverage::{COVERAGE_KEY, Coverage, DefinitionsSource};
pub use listing::listing;
pub use summary::DefinitionsSummary;
use table::Writer;

use crate::download::plan::{DayInstruments, PlanInstrument};
use crate::error::{Error, chain};

/// The largest definitions object md reads into memory (a day of every exchange is tens of megabytes).
pub const MAX_DEFINITIONS_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// The per-day instruments object of the default layout ([`DefinitionsLayout::day_object`]).
pub fn day_object(date: NaiveDate) -> String {
    DefinitionsLayout::Original.day_object(date)
}

/// The per-day grouped dataset files object of the default layout ([`DefinitionsLayout::groups_object`]).
pub fn groups_object(date: NaiveDate) -> String {
    DefinitionsLayout::Original.groups_object(date)
}

/// The aggregate object for a range ([`DefinitionsLayout::aggregate_object`], the same in every layout).
pub fn aggregate_object(start: NaiveDate, end: NaiveDate) -> String {
    DefinitionsLayout::Original.aggregate_object(start, end)
}

/// What writing one object did (also one object of a [`DefinitionsReport`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    /// The object.
    pub object: String,
    /// Rows in it.
    pub rows: usize,
    /// Whether the bytes changed (`false`: an identical file was already stored).
    pub changed: bool,
    /// Who wrote the file this one replaced, when it was written by the system md replaces
    /// (`market-tick-data-handler`) or by an earlier md, before this version's columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<&'static str>,
}

/// Reads and writes stored definitions through a sink.
#[derive(Debug, Clone)]
pub struct DefinitionsStore {
    sink: ObjectSink,
    force: bool,
    names: DefinitionsLayout,
}

impl DefinitionsStore {
    /// Wraps a sink; `force` replaces files this version cannot read instead of failing. Objects are named as the
    /// default layout names them; see [`DefinitionsStore::with_layout`].
    pub fn new(sink: ObjectSink, force: bool) -> Self {
        DefinitionsStore { sink, force, names: DefinitionsLayout::Original }
    }

    /// Names the objects as `names` says (`md_config::Layout::definitions`: the hive preset's
    /// `instrument_availability/date=YYYY-MM-DD/instruments.parquet`).
    pub fn with_layout(mut self, names: DefinitionsLayout) -> Self {
        self.names = names;
        self
    }

    /// Returns how the objects are named.
    pub fn layout(&self) -> DefinitionsLayout {
        self.names
    }

    /// Writes one day: the run's exchanges (`coverage`, each with its source) get exactly `records` and `groups`;
    /// other exchanges' rows are kept. Each file records the union as its coverage (see [`Coverage`]).
    ///
    /// # Errors
    /// [`Error::Sink`], [`Error::Foreign`] for an unreadable existing file (unless forced), [`Error::Parquet`].
    ///
    /// # Cancel safety
    /// Each object is written atomically; dropping the future may leave the day's two objects from different runs.
    pub async fn write_day(
        &self,
        date: NaiveDate,
        coverage: &Coverage,
        records: &[&InstrumentRecord],
        groups: &[&GroupRecord],
    ) -> Result<[Written; 2], Error> {
        let (day_rows, group_rows) = (
            table::batch(table::INSTRUMENTS, date, records),
            table::batch(table::GROUPS, date, groups),
        );
        let (day, groups) = (self.names.day_object(date), self.names.groups_object(date));
        let instruments = self.merge_write(&day, date, coverage, day_rows, false).await?;
        Ok([instruments, self.merge_write(&groups, date, coverage, group_rows, true).await?])
    }

    /// Writes the aggregate of a range: every row of `days`, in day order; it records the run's `coverage`.
    ///
    /// # Errors
    /// [`Error::Sink`], [`Error::Parquet`].
    ///
    /// # Cancel safety
    /// The object is written atomically.
    pub async fn write_aggregate(
        &self,
        start: NaiveDate,
        end: NaiveDate,
        coverage: &Coverage,
        days: &[(NaiveDate, Vec<&InstrumentRecord>)],
    ) -> Result<Written, Error> {
        let object = self.names.aggregate_object(start, end);
        let batches: Vec<RecordBatch> = days
            .iter()
            .map(|(date, records)| table::batch(table::INSTRUMENTS, *date, records))
            .collect();
        let batch = concat_batches(&table::schema(table::INSTRUMENTS), &batches)
            .map_err(|error| Error::parquet(&object, error))?;
        self.put(&object, &batch, coverage).await
    }

    /// Reads the stored definitions of one day, as the plan needs them; `None` when the day was never written.
    /// Files of this version and of earlier md are read, keys and types in historical spellings normalised. The
    /// coverage is the one the file records; a file of an earlier md records none, and covers the exchanges of
    /// its rows (see [`DayInstruments::covers`]).
    ///
    /// # Errors
    /// [`Error::Sink`], [`Error::Foreign`], [`Error::Parquet`], [`Error::OriginalDefinitions`] for a day written by
    /// the system md replaces.
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn read_day(&self, date: NaiveDate) -> Result<Option<DayInstruments>, Error> {
        let object = self.names.day_object(date);
        let Some(instruments) = self.read(&object, date).await? else { return Ok(None) };
        if table::earlier_writer(&instruments.schema(), false) == Some(Writer::Original) {
            return Err(Error::OriginalDefinitions { object, date });
        }
        let coverage = Coverage::recorded(&object, &instruments)?;
        let groups_object = self.names.groups_object(date);
        let groups = self.read(&groups_object, date).await?;
        let mut day = DayInstruments {
            instruments: plan_rows(&object, &instruments, false)?,
            grouped: Vec::new(),
            coverage,
        };
        if let Some(groups) = groups {
            day.grouped = plan_rows(&groups_object, &groups, true)?;
        }
        Ok(Some(day))
    }

    /// Reads a day file of `date`; in a layout that partitions by date its `date` column is put back.
    async fn read(&self, object: &str, date: NaiveDate) -> Result<Option<RecordBatch>, Error> {
        let Some(bytes) = self
            .sink
            .read_small(object, MAX_DEFINITIONS_BYTES)
            .await
            .map_err(|source| Error::sink("read", object, source))?
        else {
            return Ok(None);
        };
        let foreign = |error: parquet::errors::ParquetError| Error::Foreign {
            object: object.to_owned(),
            detail: error.to_string(),
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(foreign)?;
        // The file's key-value metadata (its coverage) is on the builder's schema, not the reader's.
        let metadata = builder.schema().metadata().clone();
        let reader = builder.build().map_err(foreign)?;
        let schema = std::sync::Arc::new(reader.schema().as_ref().clone().with_metadata(metadata));
        let batches: Vec<RecordBatch> =
            reader.collect::<Result<_, _>>().map_err(|error| Error::parquet(object, error))?;
        let batch =
            concat_batches(&schema, &batches).map_err(|error| Error::parquet(object, error))?;
        if self.names.partitions_by_date() && batch.schema().index_of("date").is_err() {
            return table::with_date(&batch, date).map(Some).map_err(|e| Error::parquet(object, e));
        }
        Ok(Some(batch))
    }

    async fn merge_write(
        &self,
        object: &str,
        date: NaiveDate,
        run: &Coverage,
        new: RecordBatch,
        grouped: bool,
    ) -> Result<Written, Error> {
        let exchanges: Vec<&str> = run.exchanges().collect();
        let schema = new.schema();
        let existing = match self.read(object, date).await {
            Ok(existing) => existing,
            Err(Error::Foreign { .. }) if self.force => None,
            Err(error) => return Err(error),
        };
        let replaced = existing
            .as_ref()
            .filter(|existing| existing.schema().fields() != schema.fields())
            .and_then(|existing| table::earlier_writer(&existing.schema(), grouped));
        if let (Some(writer), Some(existing)) = (replaced, &existing) {
            // Its rows of other exchanges cannot be carried over into this version's columns: say which go.
            let dropped: std::collections::BTreeSet<&str> = existing
                .column_by_name("tardis_exchange")
                .and_then(|column| column.as_any().downcast_ref::<StringArray>())
                .map(|column| {
                    column.iter().flatten().filter(|e| !exchanges.iter().any(|x| x == e)).collect()
                })
                .unwrap_or_default();
            if dropped.is_empty() {
                tracing::info!(
                    object,
                    writer = writer.name(),
                    "replacing a definitions file written by {}",
                    writer.name()
                );
            } else {
                let dropped = dropped.into_iter().collect::<Vec<_>>().join(",");
                tracing::warn!(
                    object,
                    writer = writer.name(),
                    exchanges = %dropped,
                    "replacing a definitions file written by {}; its rows of exchanges not in this run are dropped: run `md-cli instruments` for them",
                    writer.name()
                );
            }
        }
        let mut coverage = run.clone();
        let merged = match existing.filter(|_| replaced.is_none()) {
            Some(existing) if existing.schema().fields() == schema.fields() => {
                // The kept exchanges keep their coverage; a file of an earlier md recorded none: its rows say.
                let kept = match Coverage::recorded(object, &existing)? {
                    Some(recorded) => recorded,
                    None => Coverage::from_rows(&existing),
                };
                coverage = kept.merged(run);
                let exchange = string_column(object, &existing, "tardis_exchange")?;
                let keep: arrow::array::BooleanArray = exchange
                    .iter()
                    .map(|value| Some(!exchanges.iter().any(|e| Some(*e) == value)))
                    .collect();
                let kept = filter_record_batch(&existing, &keep)
                    .map_err(|error| Error::parquet(object, error))?;
                concat_batches(&schema, &[kept, new])
                    .map_err(|error| Error::parquet(object, error))?
            }
            Some(existing) if !self.force => {
                return Err(Error::Foreign {
                    object: object.to_owned(),
                    detail: format!(
                        "its columns differ from this version's ({} columns)",
                        existing.num_columns()
                    ),
                });
            }
            _ => new,
        };
        let mut sorted = sort_by_key(object, &merged)?;
        if self.names.partitions_by_date()
            && let Ok(index) = sorted.schema().index_of("date")
        {
            sorted.remove_column(index);
        }
        let mut written = self.put(object, &sorted, &coverage).await?;
        written.replaced = replaced.map(Writer::name);
        Ok(written)
    }

    async fn put(
        &self,
        object: &str,
        batch: &RecordBatch,
        coverage: &Coverage,
    ) -> Result<Written, Error> {
        let bytes = encode(object, batch, coverage)?;
        let rows = batch.num_rows();
        let written =
            |changed| Written { object: object.to_owned(), rows, changed, replaced: None };
        match self.sink.put_bytes(object, bytes.clone(), WriteMode::CreateOnly).await {
            Ok(outcome) => Ok(written(outcome.status != PutStatus::AlreadyPresent)),
            Err(gcs_sink::Error::Mismatch { .. }) => {
                self.sink
                    .put_bytes(object, bytes, WriteMode::Replace)
                    .await
                    .map_err(|source| Error::sink("write", object, source))?;
                Ok(written(true))
            }
            Err(source) => Err(Error::sink("write", object, source)),
        }
    }
}

/// Reads the stored definitions of every day of a range, a few days at a time; `None` for days never written.
///
/// # Errors
/// The first failing day's error.
///
/// # Cancel safety
/// Read-only.
pub async fn read_days(
    store: &DefinitionsStore,
    days: impl Iterator<Item = NaiveDate>,
) -> Result<BTreeMap<NaiveDate, DayInstruments>, Error> {
    let found: Vec<(NaiveDate, Option<DayInstruments>)> = futures::stream::iter(days)
        .map(|date| async move { store.read_day(date).await.map(|day| (date, day)) })
        .buffered(16)
        .try_collect()
        .await?;
    Ok(found.into_iter().filter_map(|(date, day)| day.map(|day| (date, day))).collect())
}

fn encode(object: &str, batch: &RecordBatch, coverage: &Coverage) -> Result<Vec<u8>, Error> {
    let coverage = KeyValue::new(COVERAGE_KEY.to_owned(), coverage.encode());
    let compression = Compression::ZSTD(ZstdLevel::default());
    crate::download::reports::encode_parquet(object, batch, compression, vec![coverage])
}

fn sort_by_key(object: &str, batch: &RecordBatch) -> Result<RecordBatch, Error> {
    let key_column = if batch.schema().index_of("instrument_key").is_ok() {
        "instrument_key"
    } else {
        "object_key"
    };
    let keys = batch.column_by_name(key_column).expect("both schemas have a key column");
    let indices =
        sort_to_indices(keys, None, None).map_err(|error| Error::parquet(object, error))?;
    take_record_batch(batch, &indices).map_err(|error| Error::parquet(object, error))
}

fn string_column<'a>(
    object: &str,
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a StringArray, Error> {
    batch
        .column_by_name(name)
        .and_then(|column| column.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Foreign {
            object: object.to_owned(),
            detail: format!("no string column `{name}`"),
        })
}

/// The data types of every row: a comma-separated string (this version, and the original) or a list of strings
/// (earlier md).
fn data_types_column(object: &str, batch: &RecordBatch) -> Result<Vec<Vec<String>>, Error> {
    let foreign =
        |detail: &str| Error::Foreign { object: object.to_owned(), detail: detail.into() };
    let column =
        batch.column_by_name("data_types").ok_or_else(|| foreign("no column `data_types`"))?;
    if let Some(text) = column.as_any().downcast_ref::<StringArray>() {
        return Ok(text
            .iter()
            .map(|value| {
                value
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect());
    }
    let list = column
        .as_any()
        .downcast_ref::<ListArray>()
        .ok_or_else(|| foreign("`data_types` is neither text nor a list"))?;
    (0..batch.num_rows())
        .map(|row| {
            let values = list.value(row);
            let names = values
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| foreign("`data_types` is not a list of strings"))?;
            Ok(names.iter().flatten().map(str::to_owned).collect())
        })
        .collect()
}

fn plan_rows(
    object: &str,
    batch: &RecordBatch,
    grouped: bool,
) -> Result<Vec<PlanInstrument>, Error> {
    let key = string_column(object, batch, if grouped { "object_key" } else { "instrument_key" })?;
    let exchange = string_column(object, batch, "tardis_exchange")?;
    let symbol = string_column(object, batch, "tardis_symbol")?;
    let kind = string_column(object, batch, "instrument_type")?;
    let data_types = data_types_column(object, batch)?;
    let row_error = |row: usize, detail: String| Error::Foreign {
        object: object.to_owned(),
        detail: format!("row {row}: {detail}"),
    };
    (0..batch.num_rows())
        .map(|row| {
            // Types and keys written by earlier md (`PERP`, `OKEX...`) are planned under their canonical spelling.
            let instrument_type =
                InstrumentType::from_any_key_str(kind.value(row)).ok_or_else(|| {
                    row_error(row, format!("unknown instrument type {:?}", kind.value(row)))
                })?;
            let instrument_key = instruments::ObjectKey::parse(key.value(row))
                .map_err(|error| row_error(row, error.to_string()))?
                .to_string();
            Ok(PlanInstrument {
                instrument_key,
                exchange: exchange.value(row).to_owned(),
                instrument_type,
                symbol: symbol.value(row).to_owned(),
                // Types this version does not know cannot be asked for, so they cannot be planned.
                data_types: data_types[row].iter().filter_map(|name| name.parse().ok()).collect(),
                grouped,
            })
        })
        .collect()
}

/// What `md-cli instruments` did for one exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExchangeReport {
    /// Where the definitions came from: `metadata` (API key) or `symbol_parser` (free exchange details).
    pub source: String,
    /// Instruments on the busiest day of the range.
    pub max_instruments_per_day: usize,
    /// Instrument rows over every day of the range.
    pub instrument_days: usize,
    /// Grouped dataset files on the busiest day.
    pub groups: usize,
    /// Symbols no parser understood (by dataset symbol), each with why; they get no key and no row.
    pub unparsed: BTreeMap<String, String>,
    /// Why the exchange could not be fetched, if it could not.
    pub error: Option<String>,
    /// Whether it could not be fetched because Tardis could not be reached at all (the host does not resolve, no
    /// connection): see `tardis_client::Error::is_unreachable`.
    pub unreachable: bool,
}

/// What writing the definitions of a range did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefinitionsReport {
    /// One entry per requested exchange.
    pub exchanges: BTreeMap<String, ExchangeReport>,
    /// Objects written (or verified unchanged).
    pub objects: Vec<Written>,
}

impl DefinitionsReport {
    /// Returns whether every exchange was fetched.
    pub fn all_fetched(&self) -> bool {
        self.exchanges.values().all(|exchange| exchange.error.is_none())
    }

    /// Returns whether no exchange was fetched (then no object was written).
    pub fn none_fetched(&self) -> bool {
        self.exchanges.values().all(|exchange| exchange.error.is_some())
    }

    /// Returns whether no exchange was fetched because Tardis could not be reached at all, for any of them.
    pub fn unreachable(&self) -> bool {
        !self.exchanges.is_empty() && self.exchanges.values().all(|exchange| exchange.unreachable)
    }
}

/// Fetches the metadata of `exchanges` (concurrently), derives the instruments available on every day of `dates`,
/// and writes each day's objects and the range's aggregate.
///
/// With an API key the full instrument metadata is used; without one (or when the key is refused for an
/// exchange), the free exchange details and the per-venue symbol parsers. An exchange that cannot be fetched is
/// reported and left out; the others are still written.
///
/// # Errors
/// Writing an object failed ([`Error`]), or Tardis refused the key because it is in use from another IP address
/// past the max wait ([`Error::IpLocked`], before anything is written); other fetch failures are reported per
/// exchange instead.
///
/// # Cancel safety
/// Objects are written atomically one by one; dropping the future leaves the days written so far.
pub async fn write_definitions(
    client: &tardis_client::TardisClient,
    store: &DefinitionsStore,
    exchanges: &[String],
    dates: md_config::DateRange,
) -> Result<DefinitionsReport, Error> {
    let range_start = dates.start.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let range_end = dates
        .end
        .succ_opt()
        .unwrap_or(dates.end)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    let fetched: Vec<(String, Result<Listing, FetchFailure>)> =
        futures::stream::iter(exchanges.iter().cloned())
            .map(|exchange| async move {
                let result = fetch_exchange(client, &exchange, range_start, range_end).await;
                (exchange, result)
            })
            .buffered(4)
            .collect()
            .await;
    // The key in use from another IP address past the max wait stops the run before anything is written.
    if let Some(stop) = fetched.iter().find_map(|(_, result)| result.as_ref().err()?.stop.clone()) {
        return Err(Error::IpLocked { source: stop });
    }

    let mut report = DefinitionsReport::default();
    let mut catalogs = Vec::new();
    let mut coverage = Coverage::default();
    for (exchange, result) in &fetched {
        let entry = report.exchanges.entry(exchange.clone()).or_default();
        let mut source = DefinitionsSource::SymbolParser;
        let catalog = result.as_ref().map_err(Clone::clone).and_then(|listing| {
            if listing.instruments.is_some() {
                source = DefinitionsSource::Metadata;
            }
            entry.source = source.name().to_owned();
            // Keys are assigned once over the whole listing; each day then only selects and applies changes.
            instruments::Catalog::new(listing).map_err(|error| FetchFailure {
                message: error.to_string(),
                unreachable: false,
                stop: None,
            })
        });
        match catalog {
            Ok(catalog) => {
                coverage.0.insert(exchange.clone(), source);
                catalogs.push((exchange.clone(), catalog));
            }
            Err(failure) => {
                if failure.unreachable {
                    // The caller says it once for every exchange (see `DefinitionsReport::unreachable`).
                    tracing::debug!(exchange = %exchange, error = %failure.message, "Tardis cannot be reached");
                } else {
                    tracing::error!(exchange = %exchange, error = %failure.message, "cannot use the exchange's metadata; it is left out");
                }
                entry.error = Some(failure.message);
                entry.unreachable = failure.unreachable;
            }
        }
    }
    if catalogs.is_empty() {
        // Nothing fetched: writing the days would store empty definitions, which a plan would then read as "no
        // instruments" instead of "no definitions".
        return Ok(report);
    }
    let mut aggregate: Vec<(NaiveDate, Vec<InstrumentRecord>)> = Vec::new();
    for date in dates.days() {
        let mut records = Vec::new();
        let mut groups = Vec::new();
        for (exchange, catalog) in &catalogs {
            let day = catalog.day(date);
            let entry = report.exchanges.entry(exchange.clone()).or_default();
            entry.max_instruments_per_day = entry.max_instruments_per_day.max(day.records.len());
            entry.instrument_days += day.records.len();
            entry.groups = entry.groups.max(day.groups.len());
            for unparsed in &day.unparsed {
                entry
                    .unparsed
                    .entry(unparsed.tardis_symbol.clone())
                    .or_insert_with(|| unparsed.error.to_string());
            }
            records.extend(day.records);
            groups.extend(day.groups);
        }
        let record_refs: Vec<&InstrumentRecord> = records.iter().collect();
        let group_refs: Vec<&GroupRecord> = groups.iter().collect();
        report.objects.extend(store.write_day(date, &coverage, &record_refs, &group_refs).await?);
        aggregate.push((date, records));
    }
    let aggregate_refs: Vec<(NaiveDate, Vec<&InstrumentRecord>)> =
        aggregate.iter().map(|(date, records)| (*date, records.iter().collect())).collect();
    let written = store.write_aggregate(dates.start, dates.end, &coverage, &aggregate_refs).await?;
    report.objects.push(written);
    Ok(report)
}

/// Why an exchange's metadata could not be used.
#[derive(Debug, Clone)]
struct FetchFailure {
    /// The error, with its causes.
    message: String,
    /// Whether Tardis could not be reached at all.
    unreachable: bool,
    /// Set when Tardis refused the key because it is in use from another IP address, past the max wait: the run
    /// stops (never a silent fall back to the free listing).
    stop: Option<std::sync::Arc<tardis_client::Error>>,
}

impl From<tardis_client::Error> for FetchFailure {
    fn from(error: tardis_client::Error) -> Self {
        if error.is_ip_locked() {
            let stop = std::sync::Arc::new(error);
            FetchFailure { message: chain(stop.as_ref()), unreachable: false, stop: Some(stop) }
        } else {
            FetchFailure { message: chain(&error), unreachable: error.is_unreachable(), stop: None }
        }
    }
}

async fn fetch_exchange(
    client: &tardis_client::TardisClient,
    exchange: &str,
    range_start: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> Result<Listing, FetchFailure> {
    let details = client.exchange_details(exchange).await?;
    if !client.has_api_key() {
        return Ok(listing(details, None));
    }
    let filter = tardis_client::InstrumentFilter {
        available_since: Some(range_start),
        available_to: Some(range_end),
        ..tardis_client::InstrumentFilter::default()
    };
    match client.instruments(exchange, &filter).await {
        Ok(instruments) => Ok(listing(details, Some(instruments))),
        // The key in use from another IP address is not a refused key: it stops the run, never a silent fall back
        // to the free listing.
        Err(error) if error.is_key_refused() => {
            tracing::warn!(
                exchange,
                error = %error,
                "the instruments API refused the key for this exchange; using the free exchange details instead"
            );
            Ok(listing(details, None))
        }
        Err(error) => Err(error.into()),
    }
}
