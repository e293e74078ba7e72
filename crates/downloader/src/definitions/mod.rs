//! Stored instrument definitions: the instruments available each day, as typed Parquet in the sink.
//!
//! Layout (the seed system's):
//! - `instrument_availability/by_date/day-YYYY-MM-DD/instruments.parquet`: one row per instrument available that day
//!   (every exchange written so far), sorted by `instrument_key`;
//! - `instrument_availability/by_date/day-YYYY-MM-DD/grouped_datasets.parquet`: the grouped dataset files of the day
//!   (`OPTIONS`, `PERPETUALS`, ...), which are not instruments but are downloadable;
//! - `instrument_availability/aggregate/instruments_YYYYMMDD_YYYYMMDD.parquet`: every row of a range, with its `date`.
//!
//! Writing a day merges: rows of exchanges not in this run are kept, rows of the run's exchanges are replaced.
//! Bytes are deterministic (same rows give the same file), so an unchanged day is verified, not rewritten.
//! The plan reads these objects back (see [`read_days`]).
//!
//! The rows come from `instruments`, which takes its own model of an exchange's listing: [`listing`] maps the
//! Tardis metadata `tardis-client` fetches onto it (`listing.rs`). The columns of both files, with their types and
//! the record field each is read from, are one table each (`table.rs`), from which the schema and the column
//! builders are both derived.

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch, RecordBatchReader, StringArray};
use arrow::compute::{concat_batches, filter_record_batch, sort_to_indices, take_record_batch};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{GcsSink, PutStatus, WriteMode};
use instruments::{GroupRecord, InstrumentRecord, Listing};
use md_config::InstrumentType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

mod listing;
mod table;

pub use listing::listing;

use crate::download::plan::{DayInstruments, PlanInstrument};
use crate::error::{Error, chain};

/// The per-day instruments object.
pub fn day_object(date: NaiveDate) -> String {
    format!("instrument_availability/by_date/day-{date}/instruments.parquet")
}

/// The per-day grouped dataset files object.
pub fn groups_object(date: NaiveDate) -> String {
    format!("instrument_availability/by_date/day-{date}/grouped_datasets.parquet")
}

/// The aggregate object for a range.
pub fn aggregate_object(start: NaiveDate, end: NaiveDate) -> String {
    format!(
        "instrument_availability/aggregate/instruments_{}_{}.parquet",
        start.format("%Y%m%d"),
        end.format("%Y%m%d")
    )
}

/// What writing one object did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The object.
    pub object: String,
    /// Rows in it.
    pub rows: usize,
    /// Whether the bytes changed (`false`: an identical file was already stored).
    pub changed: bool,
}

/// Reads and writes stored definitions through a sink.
#[derive(Debug, Clone)]
pub struct DefinitionsStore {
    sink: GcsSink,
    force: bool,
}

impl DefinitionsStore {
    /// Wraps a sink; `force` replaces files this version cannot read instead of failing.
    pub fn new(sink: GcsSink, force: bool) -> Self {
        DefinitionsStore { sink, force }
    }

    /// Writes one day: the run's `exchanges` get exactly `records` and `groups`; other exchanges' rows are kept.
    ///
    /// # Errors
    /// [`Error::Sink`], [`Error::Foreign`] for an unreadable existing file (unless forced), [`Error::Parquet`].
    ///
    /// # Cancel safety
    /// Each object is written atomically; dropping the future may leave the day's two objects from different runs.
    pub async fn write_day(
        &self,
        date: NaiveDate,
        exchanges: &[String],
        records: &[&InstrumentRecord],
        groups: &[&GroupRecord],
    ) -> Result<[Written; 2], Error> {
        let instruments = self
            .merge_write(
                &day_object(date),
                exchanges,
                table::batch(table::INSTRUMENTS, date, records),
            )
            .await?;
        let grouped = self
            .merge_write(&groups_object(date), exchanges, table::batch(table::GROUPS, date, groups))
            .await?;
        Ok([instruments, grouped])
    }

    /// Writes the aggregate of a range: every row of `days`, in day order.
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
        days: &[(NaiveDate, Vec<&InstrumentRecord>)],
    ) -> Result<Written, Error> {
        let object = aggregate_object(start, end);
        let batches: Vec<RecordBatch> = days
            .iter()
            .map(|(date, records)| table::batch(table::INSTRUMENTS, *date, records))
            .collect();
        let batch = concat_batches(&table::schema(table::INSTRUMENTS), &batches)
            .map_err(|error| Error::parquet(&object, error))?;
        self.put(&object, &batch).await
    }

    /// Reads the stored definitions of one day, as the plan needs them; `None` when the day was never written.
    ///
    /// # Errors
    /// [`Error::Sink`], [`Error::Foreign`], [`Error::Parquet`].
    ///
    /// # Cancel safety
    /// Read-only.
    pub async fn read_day(&self, date: NaiveDate) -> Result<Option<DayInstruments>, Error> {
        let Some(instruments) = self.read(&day_object(date)).await? else { return Ok(None) };
        let groups = self.read(&groups_object(date)).await?;
        let object = day_object(date);
        let mut day = DayInstruments {
            instruments: plan_rows(&object, &instruments, false)?,
            grouped: Vec::new(),
        };
        if let Some(groups) = groups {
            day.grouped = plan_rows(&groups_object(date), &groups, true)?;
        }
        Ok(Some(day))
    }

    async fn read(&self, object: &str) -> Result<Option<RecordBatch>, Error> {
        let chunks = match self.sink.get(object).await {
            Ok(stream) => stream,
            Err(gcs_sink::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(Error::sink("read", object, source)),
        };
        let parts: Vec<Bytes> =
            chunks.try_collect().await.map_err(|source| Error::sink("read", object, source))?;
        let bytes = Bytes::from(parts.concat());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .and_then(|builder| builder.build())
            .map_err(|error| Error::Foreign {
                object: object.to_owned(),
                detail: error.to_string(),
            })?;
        let schema = reader.schema();
        let batches: Vec<RecordBatch> =
            reader.collect::<Result<_, _>>().map_err(|error| Error::parquet(object, error))?;
        let batch =
            concat_batches(&schema, &batches).map_err(|error| Error::parquet(object, error))?;
        Ok(Some(batch))
    }

    async fn merge_write(
        &self,
        object: &str,
        exchanges: &[String],
        new: RecordBatch,
    ) -> Result<Written, Error> {
        let schema = new.schema();
        let existing = match self.read(object).await {
            Ok(existing) => existing,
            Err(Error::Foreign { .. }) if self.force => None,
            Err(error) => return Err(error),
        };
        let merged = match existing {
            Some(existing) if existing.schema().fields() == schema.fields() => {
                let exchange = string_column(object, &existing, "tardis_exchange")?;
                let keep: arrow::array::BooleanArray = exchange
                    .iter()
                    .map(|value| Some(!exchanges.iter().any(|e| Some(e.as_str()) == value)))
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
        let sorted = sort_by_key(object, &merged)?;
        self.put(object, &sorted).await
    }

    async fn put(&self, object: &str, batch: &RecordBatch) -> Result<Written, Error> {
        let bytes = encode(object, batch)?;
        let rows = batch.num_rows();
        match self.sink.put_bytes(object, bytes.clone(), WriteMode::CreateOnly).await {
            Ok(outcome) => Ok(Written {
                object: object.to_owned(),
                rows,
                changed: outcome.status != PutStatus::AlreadyPresent,
            }),
            Err(gcs_sink::Error::Mismatch { .. }) => {
                self.sink
                    .put_bytes(object, bytes, WriteMode::Replace)
                    .await
                    .map_err(|source| Error::sink("write", object, source))?;
                Ok(Written { object: object.to_owned(), rows, changed: true })
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

fn encode(object: &str, batch: &RecordBatch) -> Result<Vec<u8>, Error> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_created_by(format!("md {}", env!("CARGO_PKG_VERSION")))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(properties))
        .map_err(|error| Error::parquet(object, error))?;
    writer.write(batch).map_err(|error| Error::parquet(object, error))?;
    writer.close().map_err(|error| Error::parquet(object, error))?;
    Ok(out)
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

fn plan_rows(
    object: &str,
    batch: &RecordBatch,
    grouped: bool,
) -> Result<Vec<PlanInstrument>, Error> {
    let key = string_column(object, batch, if grouped { "object_key" } else { "instrument_key" })?;
    let exchange = string_column(object, batch, "tardis_exchange")?;
    let symbol = string_column(object, batch, "tardis_symbol")?;
    let kind = string_column(object, batch, "tardis_symbol_type")?;
    let data_types = batch
        .column_by_name("data_types")
        .and_then(|column| column.as_any().downcast_ref::<arrow::array::ListArray>())
        .ok_or_else(|| Error::Foreign {
            object: object.to_owned(),
            detail: "no list column `data_types`".into(),
        })?;
    (0..batch.num_rows())
        .map(|row| {
            let types = data_types.value(row);
            let types =
                types.as_any().downcast_ref::<StringArray>().ok_or_else(|| Error::Foreign {
                    object: object.to_owned(),
                    detail: "`data_types` is not a list of strings".into(),
                })?;
            let instrument_type =
                InstrumentType::from_tardis(kind.value(row)).ok_or_else(|| Error::Foreign {
                    object: object.to_owned(),
                    detail: format!("unknown instrument type {:?} in row {row}", kind.value(row)),
                })?;
            Ok(PlanInstrument {
                instrument_key: key.value(row).to_owned(),
                exchange: exchange.value(row).to_owned(),
                instrument_type,
                symbol: symbol.value(row).to_owned(),
                // Types this version does not know cannot be asked for, so they cannot be planned.
                data_types: types.iter().flatten().filter_map(|name| name.parse().ok()).collect(),
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
}

/// What writing the definitions of a range did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DefinitionsReport {
    /// One entry per requested exchange.
    pub exchanges: BTreeMap<String, ExchangeReport>,
    /// Objects written (or verified unchanged).
    pub objects: Vec<WrittenReport>,
}

/// One object of a [`DefinitionsReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WrittenReport {
    /// The object.
    pub object: String,
    /// Rows in it.
    pub rows: usize,
    /// Whether its bytes changed.
    pub changed: bool,
}

impl DefinitionsReport {
    /// Returns whether every exchange was fetched.
    pub fn all_fetched(&self) -> bool {
        self.exchanges.values().all(|exchange| exchange.error.is_none())
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
    let fetched: Vec<(String, Result<Listing, String>)> = fetched
        .into_iter()
        .map(|(exchange, result)| match result {
            Ok(listing) => Ok((exchange, Ok(listing))),
            Err(FetchFailure::Skip(error)) => Ok((exchange, Err(error))),
            Err(FetchFailure::Stop(error)) => Err(Error::IpLocked { source: Box::new(error) }),
        })
        .collect::<Result<_, Error>>()?;

    let mut report = DefinitionsReport::default();
    let mut catalogs = Vec::new();
    for (exchange, result) in &fetched {
        let entry = report.exchanges.entry(exchange.clone()).or_default();
        let catalog = result.as_ref().map_err(Clone::clone).and_then(|listing| {
            entry.source =
                if listing.instruments.is_some() { "metadata" } else { "symbol_parser" }.to_owned();
            // Keys are assigned once over the whole listing; each day then only selects and applies changes.
            instruments::Catalog::new(listing).map_err(|error| error.to_string())
        });
        match catalog {
            Ok(catalog) => catalogs.push((exchange.clone(), catalog)),
            Err(error) => {
                tracing::error!(exchange = %exchange, error = %error, "cannot use the exchange's metadata; it is left out");
                entry.error = Some(error);
            }
        }
    }
    let written_exchanges: Vec<String> =
        catalogs.iter().map(|(exchange, _)| exchange.clone()).collect();
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
        for written in store.write_day(date, &written_exchanges, &record_refs, &group_refs).await? {
            report.objects.push(WrittenReport {
                object: written.object,
                rows: written.rows,
                changed: written.changed,
            });
        }
        aggregate.push((date, records));
    }
    let aggregate_refs: Vec<(NaiveDate, Vec<&InstrumentRecord>)> =
        aggregate.iter().map(|(date, records)| (*date, records.iter().collect())).collect();
    let written = store.write_aggregate(dates.start, dates.end, &aggregate_refs).await?;
    report.objects.push(WrittenReport {
        object: written.object,
        rows: written.rows,
        changed: written.changed,
    });
    Ok(report)
}

/// Why an exchange's metadata could not be fetched: it is left out (`Skip`), or the run stops (`Stop`: Tardis
/// refused the key because it is in use from another IP address, past the max wait).
enum FetchFailure {
    Skip(String),
    Stop(tardis_client::Error),
}

impl From<tardis_client::Error> for FetchFailure {
    fn from(error: tardis_client::Error) -> Self {
        if error.is_ip_locked() {
            FetchFailure::Stop(error)
        } else {
            FetchFailure::Skip(chain(&error))
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
