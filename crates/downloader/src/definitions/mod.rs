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
//! Tardis metadata `tardis-client` fetches onto it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, ListBuilder, RecordBatch,
    RecordBatchReader, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::compute::{concat_batches, filter_record_batch, sort_to_indices, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use gcs_sink::{GcsSink, PutStatus, WriteMode};
use instruments::{
    GroupRecord, Instrument, InstrumentRecord, ListedSymbol, ListedType, Listing, OptionType,
    Terms, TermsChange,
};
use md_config::InstrumentType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tardis_client::wire::{DatasetSymbol, Decimal, ExchangeDetails, InstrumentInfo, SymbolType};

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
            .merge_write(&day_object(date), exchanges, instruments_batch(date, records))
            .await?;
        let grouped =
            self.merge_write(&groups_object(date), exchanges, groups_batch(date, groups)).await?;
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
        let batches: Vec<RecordBatch> =
            days.iter().map(|(date, records)| instruments_batch(*date, records)).collect();
        let batch = concat_batches(&instruments_schema(), &batches)
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

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn data_types_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)))
}

/// The columns of `instruments.parquet`.
pub fn instruments_schema() -> SchemaRef {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        text("instrument_key", false),
        text("venue", false),
        text("instrument_type", false),
        text("canonical_symbol", false),
        text("base_asset", false),
        text("quote_asset", false),
        text("price_asset", true),
        text("settle_asset", true),
        Field::new("inverse", DataType::Boolean, true),
        Field::new("quanto", DataType::Boolean, true),
        text("contract_type", true),
        text("expiry", true),
        Field::new("expiry_time", timestamp_type(), true),
        text("strike", true),
        text("option_type", true),
        text("legs", true),
        text("underlying", true),
        float("contract_size"),
        float("tick_size"),
        float("amount_increment"),
        float("min_size"),
        float("min_notional"),
        float("maker_fee"),
        float("taker_fee"),
        text("tardis_exchange", false),
        text("tardis_symbol", false),
        text("tardis_symbol_type", false),
        text("exchange_raw_symbol", false),
        Field::new("available_since", timestamp_type(), false),
        Field::new("available_to", timestamp_type(), true),
        Field::new("data_types", data_types_type(), false),
        text("source", false),
    ]))
}

/// The columns of `grouped_datasets.parquet`.
pub fn groups_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("object_key", DataType::Utf8, false),
        Field::new("venue", DataType::Utf8, false),
        Field::new("instrument_type", DataType::Utf8, false),
        Field::new("tardis_exchange", DataType::Utf8, false),
        Field::new("tardis_symbol", DataType::Utf8, false),
        Field::new("tardis_symbol_type", DataType::Utf8, false),
        Field::new("available_since", timestamp_type(), false),
        Field::new("available_to", timestamp_type(), true),
        Field::new("data_types", data_types_type(), false),
    ]))
}

fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

fn micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// Column builders that append one row at a time, in schema order.
struct Columns {
    schema: SchemaRef,
    columns: Vec<ArrayRef>,
}

impl Columns {
    fn new(schema: SchemaRef) -> Self {
        Columns { schema, columns: Vec::new() }
    }

    fn text<'a>(&mut self, values: impl Iterator<Item = Option<&'a str>>) {
        let mut builder = StringBuilder::new();
        values.for_each(|value| builder.append_option(value));
        self.columns.push(Arc::new(builder.finish()));
    }

    fn float(&mut self, values: impl Iterator<Item = Option<f64>>) {
        let mut builder = Float64Builder::new();
        values.for_each(|value| builder.append_option(value));
        self.columns.push(Arc::new(builder.finish()));
    }

    fn boolean(&mut self, values: impl Iterator<Item = Option<bool>>) {
        let mut builder = BooleanBuilder::new();
        values.for_each(|value| builder.append_option(value));
        self.columns.push(Arc::new(builder.finish()));
    }

    fn date(&mut self, date: NaiveDate, rows: usize) {
        let mut builder = Date32Builder::new();
        (0..rows).for_each(|_| builder.append_value(days_since_epoch(date)));
        self.columns.push(Arc::new(builder.finish()));
    }

    fn timestamp(&mut self, values: impl Iterator<Item = Option<DateTime<Utc>>>) {
        let mut builder = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        values.for_each(|value| builder.append_option(value.map(micros)));
        self.columns.push(Arc::new(builder.finish()));
    }

    fn lists<'a>(&mut self, values: impl Iterator<Item = &'a [String]>) {
        let mut builder = ListBuilder::new(StringBuilder::new()).with_field(Field::new(
            "item",
            DataType::Utf8,
            false,
        ));
        for list in values {
            list.iter().for_each(|item| builder.values().append_value(item));
            builder.append(true);
        }
        self.columns.push(Arc::new(builder.finish()));
    }

    fn finish(self) -> RecordBatch {
        RecordBatch::try_new(self.schema, self.columns).expect("columns follow the schema")
    }
}

fn instruments_batch(date: NaiveDate, records: &[&InstrumentRecord]) -> RecordBatch {
    let mut c = Columns::new(instruments_schema());
    let text = |f: fn(&InstrumentRecord) -> Option<String>| {
        records.iter().map(move |r| f(r)).collect::<Vec<_>>()
    };
    c.date(date, records.len());
    for values in [
        text(|r| Some(r.instrument_key.to_string())),
        text(|r| Some(r.venue.clone())),
        text(|r| Some(r.instrument_type.key_str().to_owned())),
        text(|r| Some(r.canonical_symbol.clone())),
        text(|r| Some(r.base_asset.clone())),
        text(|r| Some(r.quote_asset.clone())),
        text(|r| r.price_asset.clone()),
        text(|r| r.settle_asset.clone()),
    ] {
        c.text(values.iter().map(Option::as_deref));
    }
    c.boolean(records.iter().map(|r| r.inverse));
    c.boolean(records.iter().map(|r| r.quanto));
    for values in [text(|r| r.contract_type.clone()), text(|r| r.expiry.clone())] {
        c.text(values.iter().map(Option::as_deref));
    }
    c.timestamp(records.iter().map(|r| r.expiry_time));
    for values in [
        text(|r| r.strike.as_ref().map(|strike| strike.as_str().to_owned())),
        text(|r| r.option_type.map(|kind| kind.as_str().to_owned())),
        text(|r| r.legs.clone()),
        text(|r| r.underlying.clone()),
    ] {
        c.text(values.iter().map(Option::as_deref));
    }
    for value in [
        |r: &InstrumentRecord| r.contract_size,
        |r: &InstrumentRecord| r.tick_size,
        |r: &InstrumentRecord| r.amount_increment,
        |r: &InstrumentRecord| r.min_size,
        |r: &InstrumentRecord| r.min_notional,
        |r: &InstrumentRecord| r.maker_fee,
        |r: &InstrumentRecord| r.taker_fee,
    ] {
        c.float(records.iter().map(|r| value(r)));
    }
    for values in [
        text(|r| Some(r.tardis_exchange.clone())),
        text(|r| Some(r.tardis_symbol.clone())),
        text(|r| Some(r.instrument_type.as_str().to_owned())),
        text(|r| Some(r.exchange_raw_symbol.clone())),
    ] {
        c.text(values.iter().map(Option::as_deref));
    }
    c.timestamp(records.iter().map(|r| Some(r.available_since)));
    c.timestamp(records.iter().map(|r| r.available_to));
    c.lists(records.iter().map(|r| r.data_types.as_slice()));
    c.text(records.iter().map(|r| Some(r.source.as_str())));
    c.finish()
}

fn groups_batch(date: NaiveDate, groups: &[&GroupRecord]) -> RecordBatch {
    let mut c = Columns::new(groups_schema());
    c.date(date, groups.len());
    let keys: Vec<String> = groups.iter().map(|g| g.object_key.to_string()).collect();
    c.text(keys.iter().map(|key| Some(key.as_str())));
    let venues: Vec<String> = groups.iter().map(|g| g.object_key.venue().to_owned()).collect();
    c.text(venues.iter().map(|venue| Some(venue.as_str())));
    c.text(groups.iter().map(|g| Some(g.object_key.instrument_type().key_str())));
    c.text(groups.iter().map(|g| Some(g.tardis_exchange.as_str())));
    c.text(groups.iter().map(|g| Some(g.tardis_symbol.as_str())));
    c.text(groups.iter().map(|g| Some(g.object_key.instrument_type().as_str())));
    c.timestamp(groups.iter().map(|g| Some(g.available_since)));
    c.timestamp(groups.iter().map(|g| g.available_to));
    c.lists(groups.iter().map(|g| g.data_types.as_slice()));
    c.finish()
}

/// The exchanges with rows in a set of records (for summaries).
pub fn exchanges_of(records: &[&InstrumentRecord]) -> BTreeSet<String> {
    records.iter().map(|record| record.tardis_exchange.clone()).collect()
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
/// Writing an object failed ([`Error`]); fetch failures are reported per exchange instead.
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
    let fetched: Vec<(String, Result<Listing, String>)> =
        futures::stream::iter(exchanges.iter().cloned())
            .map(|exchange| async move {
                let result = fetch_exchange(client, &exchange, range_start, range_end).await;
                (exchange, result)
            })
            .buffered(4)
            .collect()
            .await;

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

async fn fetch_exchange(
    client: &tardis_client::TardisClient,
    exchange: &str,
    range_start: DateTime<Utc>,
    range_end: DateTime<Utc>,
) -> Result<Listing, String> {
    let details = client.exchange_details(exchange).await.map_err(|error| chain(&error))?;
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
        Err(error) if matches!(error.status(), Some(401 | 403)) => {
            tracing::warn!(
                exchange,
                error = %error,
                "the instruments API refused the key for this exchange; using the free exchange details instead"
            );
            Ok(listing(details, None))
        }
        Err(error) => Err(chain(&error)),
    }
}

/// Returns the `instruments` model of one exchange's listing from its Tardis metadata: the free exchange details
/// and, when an API key is available, the full instrument metadata.
///
/// Symbols are normalised as in download URLs ([`tardis_client::wire::normalize_dataset_symbol`]), grouped dataset
/// symbols (`OPTIONS`, ...) are told apart from the others, and the trading terms of each instrument are taken from
/// its current fields and from each `changes[]` entry; `changes[]` entries of fields keys are made from (`expiry`,
/// `type`, `quoteCurrency`) are left out, since keys and records come from current metadata.
pub fn listing(details: ExchangeDetails, instruments: Option<Vec<InstrumentInfo>>) -> Listing {
    let (exported_from, symbols) = details
        .datasets
        .map_or((None, Vec::new()), |datasets| (datasets.exported_from, datasets.symbols));
    let (groups, dataset_symbols): (Vec<DatasetSymbol>, Vec<DatasetSymbol>) =
        symbols.into_iter().partition(DatasetSymbol::is_grouped);
    let dataset_symbol = |symbol: DatasetSymbol| {
        let DatasetSymbol { id, symbol_type, available_since, available_to, data_types } = symbol;
        listed_symbol(id, &symbol_type, available_since, available_to, data_types)
    };
    Listing {
        exchange: details.id,
        available_since: exported_from.or(details.available_since),
        dataset_symbols: dataset_symbols.into_iter().map(dataset_symbol).collect(),
        groups: groups.into_iter().map(dataset_symbol).collect(),
        native_symbols: details
            .available_symbols
            .into_iter()
            .map(|symbol| {
                let (since, to) = (symbol.available_since, symbol.available_to);
                listed_symbol(symbol.id, &symbol.symbol_type, since, to, Vec::new())
            })
            .collect(),
        instruments: instruments
            .map(|instruments| instruments.into_iter().map(instrument).collect()),
    }
}

fn listed_symbol(
    id: String,
    symbol_type: &SymbolType,
    available_since: Option<DateTime<Utc>>,
    available_to: Option<DateTime<Utc>>,
    data_types: Vec<String>,
) -> ListedSymbol {
    ListedSymbol {
        dataset_symbol: tardis_client::wire::normalize_dataset_symbol(&id),
        id,
        symbol_type: listed_type(symbol_type),
        available_since,
        available_to,
        data_types,
    }
}

/// The type with a key grammar, or the Tardis spelling of one without.
fn listed_type(symbol_type: &SymbolType) -> ListedType {
    symbol_type
        .instrument_type()
        .map_or_else(|| ListedType::Other(symbol_type.as_str().to_owned()), ListedType::Instrument)
}

/// The trading terms of an [`InstrumentInfo`] or of one of its `changes[]` entries, which name them alike.
macro_rules! terms {
    ($wire:expr) => {{
        let decimal = |value: Option<Decimal>| value.map(Decimal::get);
        Terms {
            contract_type: $wire.contract_type,
            underlying_index: $wire.underlying_index,
            settlement_currency: $wire.settlement_currency,
            inverse: $wire.inverse,
            quanto: $wire.quanto,
            contract_size: decimal($wire.contract_multiplier),
            tick_size: decimal($wire.price_increment),
            amount_increment: decimal($wire.amount_increment),
            min_size: decimal($wire.min_trade_amount),
            min_notional: decimal($wire.min_notional),
            maker_fee: decimal($wire.maker_fee),
            taker_fee: decimal($wire.taker_fee),
        }
    }};
}

fn instrument(info: InstrumentInfo) -> Instrument {
    let dataset_symbol = info.dataset_symbol();
    let changes = info
        .changes
        .into_iter()
        .map(|change| TermsChange { until: change.until, terms: terms!(change) })
        .collect();
    Instrument {
        dataset_symbol,
        symbol_type: listed_type(&info.symbol_type),
        strike: info.strike_price.map(Decimal::get),
        option_type: info.option_type.as_deref().and_then(OptionType::from_tardis),
        exchange: info.exchange,
        id: info.id,
        base_currency: info.base_currency,
        quote_currency: info.quote_currency,
        available_since: info.available_since,
        available_to: info.available_to,
        expiry: info.expiry,
        terms: terms!(info),
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const DETAILS: &str = r#"{
        "id": "binance-futures",
        "availableSince": "2019-11-17T00:00:00.000Z",
        "availableSymbols": [
            {"id": "btcusdt", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z"},
            {"id": "will:it/rain", "type": "prediction", "availableSince": "2024-01-01T00:00:00.000Z",
             "availableTo": "2024-02-01T00:00:00.000Z"}
        ],
        "datasets": {"exportedFrom": "2019-11-18T00:00:00.000Z", "symbols": [
            {"id": "PERPETUALS", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z",
             "dataTypes": ["trades"]},
            {"id": "BTCUSDT", "type": "perpetual", "dataTypes": ["trades", "quotes"]}
        ]}
    }"#;

    const INSTRUMENTS: &str = r#"[{
        "id": "btcusdt_261225", "datasetId": "btcusdt_261225", "exchange": "binance-futures", "baseCurrency": "BTC",
        "quoteCurrency": "USDT", "type": "option", "contractType": "call_option", "active": true,
        "availableSince": "2025-12-26T00:00:00.000Z", "availableTo": "2026-12-25T08:00:00.000Z",
        "expiry": "2026-12-25T08:00:00.000Z", "strikePrice": "85000", "optionType": "call",
        "underlyingIndex": "BTCUSDT", "settlementCurrency": "USDT", "inverse": false, "quanto": false,
        "contractMultiplier": 1, "priceIncrement": 0.1, "amountIncrement": "0.001", "minTradeAmount": 0.01,
        "minNotional": 5, "makerFee": 0.0002, "takerFee": 0.0005,
        "changes": [{"until": "2026-01-01T00:00:00.000Z", "priceIncrement": 0.5, "inverse": true,
                     "expiry": "2026-12-26T08:00:00.000Z", "quoteCurrency": "USD", "type": "future"}]
    }]"#;

    #[test]
    fn listing_maps_the_wire_onto_the_instruments_model() {
        let details: ExchangeDetails = serde_json::from_str(DETAILS).unwrap();
        let infos: Vec<InstrumentInfo> = serde_json::from_str(INSTRUMENTS).unwrap();
        let listed = listing(details.clone(), Some(infos));
        assert_eq!(listed.exchange, "binance-futures");
        assert_eq!(
            listed.available_since,
            Some(time("2019-11-18T00:00:00Z")),
            "exportedFrom first"
        );
        let ids = |symbols: &[ListedSymbol]| -> Vec<(String, String)> {
            symbols.iter().map(|s| (s.id.clone(), s.dataset_symbol.clone())).collect()
        };
        let pair = |id: &str, dataset_symbol: &str| (id.to_owned(), dataset_symbol.to_owned());
        assert_eq!(ids(&listed.groups), [pair("PERPETUALS", "PERPETUALS")]);
        assert_eq!(ids(&listed.dataset_symbols), [pair("BTCUSDT", "BTCUSDT")]);
        assert_eq!(
            ids(&listed.native_symbols),
            [pair("btcusdt", "BTCUSDT"), pair("will:it/rain", "WILL-IT-RAIN")]
        );
        let btcusdt = &listed.dataset_symbols[0];
        assert_eq!(
            btcusdt.symbol_type,
            ListedType::Instrument(md_config::InstrumentType::Perpetual)
        );
        assert_eq!((btcusdt.available_since, btcusdt.available_to), (None, None));
        assert_eq!(btcusdt.data_types, ["trades", "quotes"]);
        let prediction = &listed.native_symbols[1];
        assert_eq!(prediction.symbol_type, ListedType::Other("prediction".into()));
        assert_eq!(prediction.available_to, Some(time("2024-02-01T00:00:00Z")));
        assert!(prediction.data_types.is_empty());

        let instrument = &listed.instruments.as_ref().unwrap()[0];
        assert_eq!(
            (instrument.id.as_str(), instrument.dataset_symbol.as_str()),
            ("btcusdt_261225", "BTCUSDT_261225")
        );
        assert_eq!(
            instrument.symbol_type,
            ListedType::Instrument(md_config::InstrumentType::Option)
        );
        assert_eq!(
            (instrument.strike, instrument.option_type),
            (Some(85000.0), Some(OptionType::Call))
        );
        assert_eq!(instrument.expiry, Some(time("2026-12-25T08:00:00Z")));
        assert_eq!(
            instrument.terms,
            Terms {
                contract_type: Some("call_option".into()),
                underlying_index: Some("BTCUSDT".into()),
                settlement_currency: Some("USDT".into()),
                inverse: Some(false),
                quanto: Some(false),
                contract_size: Some(1.0),
                tick_size: Some(0.1),
                amount_increment: Some(0.001),
                min_size: Some(0.01),
                min_notional: Some(5.0),
                maker_fee: Some(0.0002),
                taker_fee: Some(0.0005),
            }
        );
        // The change's expiry, quote and type are not terms: keys come from current metadata.
        assert_eq!(
            instrument.changes,
            [TermsChange {
                until: time("2026-01-01T00:00:00Z"),
                terms: Terms { tick_size: Some(0.5), inverse: Some(true), ..Terms::default() },
            }]
        );

        let free = listing(details, None);
        assert_eq!(free.instruments, None);
        assert_eq!(free.dataset_symbols, listed.dataset_symbols);
    }
}
