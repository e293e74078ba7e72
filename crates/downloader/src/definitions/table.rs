//! The columns of the stored definitions, each written once: its name, its type, whether it may be null, and how a
//! record gives its value. The Arrow schema and the column builders are both derived from these tables, so a column
//! cannot be added to one and forgotten in the other, and a value cannot land in another column's place.
//!
//! `instruments.parquet` starts with the columns of the system md replaces (market-tick-data-handler), with its
//! names, order, types and value conventions (ISO-8601 strings for times, a comma-separated `data_types`, empty
//! strings where it had no value, every column nullable as pandas writes them), then md's own columns. The schema is
//! fixed: md never drops a column because it is null in every row of a day (the original did).
//!
//! The order of a table is the order of the columns in the file: changing it changes the bytes written (see the
//! golden test of stored definitions).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate, Utc};
use instruments::{GroupRecord, InstrumentRecord, InstrumentType};

/// How a record gives one column's value; the variant is the column's type.
pub(crate) enum Value<R> {
    /// `Utf8`: the day the file describes, `YYYY-MM-DD` (the same in every row).
    Day,
    /// `Utf8`.
    Text(for<'a> fn(&'a R) -> Option<Cow<'a, str>>),
    /// `Float64`.
    Float(fn(&R) -> Option<f64>),
    /// `Boolean`.
    Bool(fn(&R) -> Option<bool>),
    /// `Timestamp(µs, UTC)`.
    Time(fn(&R) -> Option<DateTime<Utc>>),
}

/// One column of a stored definitions file.
pub(crate) struct Column<R> {
    /// Its name in the file.
    pub(crate) name: &'static str,
    /// Whether a row may hold no value.
    pub(crate) nullable: bool,
    /// Its type, and how a record gives its value.
    pub(crate) value: Value<R>,
}

const fn column<R>(name: &'static str, nullable: bool, value: Value<R>) -> Column<R> {
    Column { name, nullable, value }
}

/// A column of the original's: nullable, as pandas writes every column.
const fn original<R>(name: &'static str, value: Value<R>) -> Column<R> {
    Column { name, nullable: true, value }
}

fn borrowed(text: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(text))
}

fn optional(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

/// The original's convention for a text it has no value for: an empty string, never null.
fn or_empty(text: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    Some(text.unwrap_or(Cow::Borrowed("")))
}

/// An instant as Python's `datetime.isoformat()` writes a UTC one, as the original does:
/// `2024-12-27T08:00:00+00:00`, with `.ffffff` only when there are microseconds.
pub(crate) fn iso(time: DateTime<Utc>) -> String {
    let micros = time.timestamp_subsec_micros();
    if micros == 0 {
        time.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", time.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// What `available_to_datetime` says of an instrument still listed: the original's far-future date, so that its
/// reader (`available_to_datetime >= day`) keeps it.
pub(crate) const STILL_LISTED: &str = "2099-12-31T00:00:00+00:00";

fn available_to(to: Option<DateTime<Utc>>) -> Option<Cow<'static, str>> {
    Some(to.map_or(Cow::Borrowed(STILL_LISTED), |to| Cow::Owned(iso(to))))
}

/// The Tardis symbol type upper-cased (`PERPETUAL`, `SPOT`), the original's `symbol_type`.
fn symbol_type(kind: InstrumentType) -> &'static str {
    match kind {
        InstrumentType::Spot => "SPOT",
        InstrumentType::Perpetual => "PERPETUAL",
        InstrumentType::Future => "FUTURE",
        InstrumentType::Option => "OPTION",
        InstrumentType::Combo => "COMBO",
    }
}

fn has_expiry(kind: InstrumentType) -> bool {
    matches!(kind, InstrumentType::Future | InstrumentType::Option | InstrumentType::Combo)
}

use Value::{Bool, Day, Float, Text, Time};

/// How many leading columns of [`INSTRUMENTS`] are the original's.
pub(crate) const ORIGINAL_COLUMNS: usize = 28;

/// `instruments.parquet` (and the range's aggregate): one row per instrument available on the day. The first
/// [`ORIGINAL_COLUMNS`] are the original's, in its order (docs/SCHEMAS.md); md's own follow.
pub(crate) const INSTRUMENTS: &[Column<InstrumentRecord>] = &[
    original("instrument_key", Text(|r| borrowed(r.instrument_key.as_str()))),
    original("venue", Text(|r| borrowed(&r.venue))),
    original("instrument_type", Text(|r| borrowed(r.instrument_type.key_str()))),
    original("available_from_datetime", Text(|r| Some(Cow::Owned(iso(r.dataset.available_since))))),
    original("available_to_datetime", Text(|r| available_to(r.dataset.available_to))),
    original("data_types", Text(|r| Some(Cow::Owned(r.dataset.data_types.join(","))))),
    original("base_asset", Text(|r| borrowed(&r.base_asset))),
    original("quote_asset", Text(|r| borrowed(&r.quote_asset))),
    original("settle_asset", Text(|r| or_empty(optional(&r.settle_asset)))),
    original("exchange_raw_symbol", Text(|r| borrowed(&r.exchange_raw_symbol))),
    original("tardis_symbol", Text(|r| borrowed(&r.dataset.tardis_symbol))),
    original("tardis_exchange", Text(|r| borrowed(&r.dataset.tardis_exchange))),
    original("data_provider", Text(|_| borrowed("tardis"))),
    original("venue_type", Text(|_| borrowed("exchange"))),
    original("asset_class", Text(|_| borrowed("crypto"))),
    original(
        "inverse",
        Bool(|r| r.terms.inverse.or((r.instrument_type == InstrumentType::Spot).then_some(false))),
    ),
    original("symbol_type", Text(|r| borrowed(symbol_type(r.instrument_type)))),
    original(
        "contract_type",
        Text(|r| {
            or_empty(r.terms.contract_type.as_ref().map(|t| Cow::Owned(t.to_ascii_uppercase())))
        }),
    ),
    original(
        "strike",
        Text(|r| or_empty(r.strike.as_ref().map(|strike| Cow::Borrowed(strike.as_str())))),
    ),
    original(
        "option_type",
        Text(|r| or_empty(r.option_type.map(|kind| Cow::Borrowed(kind.as_str())))),
    ),
    original("expiry", Text(|r| or_empty(r.expiry_time.map(|time| Cow::Owned(iso(time)))))),
    original("contract_size", Float(|r| r.terms.contract_size)),
    original("tick_size", Float(|r| r.terms.tick_size)),
    original(
        "settlement_type",
        Text(|r| {
            borrowed(
                if matches!(r.instrument_type, InstrumentType::Future | InstrumentType::Option) {
                    "cash"
                } else {
                    ""
                },
            )
        }),
    ),
    original(
        "underlying",
        Text(|r| {
            or_empty(has_expiry(r.instrument_type).then(|| {
                Cow::Owned(format!("{}-{}", r.instrument_key.base(), r.instrument_key.quote()))
            }))
        }),
    ),
    original("min_size", Float(|r| r.terms.min_size)),
    original("ccxt_symbol", Text(|_| borrowed(""))),
    original("ccxt_exchange", Text(|_| borrowed(""))),
    // md's own columns.
    column("date", false, Day),
    column("canonical_symbol", false, Text(|r| borrowed(&r.canonical_symbol))),
    column("price_asset", true, Text(|r| optional(&r.price_asset))),
    column("quanto", true, Bool(|r| r.terms.quanto)),
    column("legs", true, Text(|r| optional(&r.legs))),
    column("underlying_index", true, Text(|r| optional(&r.terms.underlying_index))),
    column("expiry_time", true, Time(|r| r.expiry_time)),
    column("amount_increment", true, Float(|r| r.terms.amount_increment)),
    column("min_notional", true, Float(|r| r.terms.min_notional)),
    column("maker_fee", true, Float(|r| r.terms.maker_fee)),
    column("taker_fee", true, Float(|r| r.terms.taker_fee)),
    column("available_since", false, Time(|r| Some(r.dataset.available_since))),
    column("available_to", true, Time(|r| r.dataset.available_to)),
    column("source", false, Text(|r| borrowed(r.source.as_str()))),
];

/// `grouped_datasets.parquet`: one row per grouped dataset file (`OPTIONS`, ...) available on the day; md's own
/// file, with the same conventions as `instruments.parquet`.
pub(crate) const GROUPS: &[Column<GroupRecord>] = &[
    column("object_key", false, Text(|g| Some(Cow::Owned(g.object_key.to_string())))),
    column("venue", false, Text(|g| borrowed(g.object_key.venue()))),
    column("instrument_type", false, Text(|g| borrowed(g.object_key.instrument_type().key_str()))),
    column(
        "available_from_datetime",
        false,
        Text(|g| Some(Cow::Owned(iso(g.dataset.available_since)))),
    ),
    column("available_to_datetime", false, Text(|g| available_to(g.dataset.available_to))),
    column("data_types", false, Text(|g| Some(Cow::Owned(g.dataset.data_types.join(","))))),
    column("tardis_symbol", false, Text(|g| borrowed(&g.dataset.tardis_symbol))),
    column("tardis_exchange", false, Text(|g| borrowed(&g.dataset.tardis_exchange))),
    column("symbol_type", false, Text(|g| borrowed(symbol_type(g.object_key.instrument_type())))),
    column("date", false, Day),
    column("available_since", false, Time(|g| Some(g.dataset.available_since))),
    column("available_to", true, Time(|g| g.dataset.available_to)),
];

/// The columns of `instruments.parquet` as md wrote it before it took the original's columns: a file with exactly
/// these is md's own, and is replaced without `--force`.
pub(crate) const EARLIER_MD_INSTRUMENTS: &[&str] = &[
    "date",
    "instrument_key",
    "venue",
    "instrument_type",
    "canonical_symbol",
    "base_asset",
    "quote_asset",
    "price_asset",
    "settle_asset",
    "inverse",
    "quanto",
    "contract_type",
    "expiry",
    "expiry_time",
    "strike",
    "option_type",
    "legs",
    "underlying",
    "contract_size",
    "tick_size",
    "amount_increment",
    "min_size",
    "min_notional",
    "maker_fee",
    "taker_fee",
    "tardis_exchange",
    "tardis_symbol",
    "tardis_symbol_type",
    "exchange_raw_symbol",
    "available_since",
    "available_to",
    "data_types",
    "source",
];

/// The columns of `grouped_datasets.parquet` as md wrote it before.
pub(crate) const EARLIER_MD_GROUPS: &[&str] = &[
    "date",
    "object_key",
    "venue",
    "instrument_type",
    "tardis_exchange",
    "tardis_symbol",
    "tardis_symbol_type",
    "available_since",
    "available_to",
    "data_types",
];

/// Who wrote a stored definitions file whose columns differ from this version's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Writer {
    /// The system md replaces (market-tick-data-handler).
    Original,
    /// md before it took the original's columns.
    EarlierMd,
}

impl Writer {
    /// Returns how reports name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Writer::Original => "market-tick-data-handler",
            Writer::EarlierMd => "an earlier md",
        }
    }
}

/// Recognises, by its columns, a per-day file written by the original or by an earlier md; `None` for any other
/// schema (including this version's). The original's file holds a subset of its columns, in varying order (it
/// dropped the columns null on a day and concatenated exchanges as they finished), always with its key, its two
/// availability columns and `tardis_exchange`; md's earlier files have exactly their columns.
pub(crate) fn earlier_writer(schema: &Schema, grouped: bool) -> Option<Writer> {
    let names: Vec<&str> = schema.fields().iter().map(|field| field.name().as_str()).collect();
    let earlier = if grouped { EARLIER_MD_GROUPS } else { EARLIER_MD_INSTRUMENTS };
    if names == earlier {
        return Some(Writer::EarlierMd);
    }
    let original: Vec<&str> =
        INSTRUMENTS[..ORIGINAL_COLUMNS].iter().map(|column| column.name).collect();
    let core =
        ["instrument_key", "available_from_datetime", "available_to_datetime", "tardis_exchange"];
    let is_original = !grouped
        && names.iter().all(|name| original.contains(name))
        && core.iter().all(|name| names.contains(name));
    is_original.then_some(Writer::Original)
}

/// Returns the Arrow schema of a table.
pub(crate) fn schema<R>(columns: &[Column<R>]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|column| Field::new(column.name, data_type(&column.value), column.nullable))
            .collect::<Vec<_>>(),
    ))
}

/// Returns the rows of `date` as one batch of a table's columns.
pub(crate) fn batch<R>(columns: &[Column<R>], date: NaiveDate, rows: &[&R]) -> RecordBatch {
    let arrays: Vec<ArrayRef> =
        columns.iter().map(|column| array(&column.value, date, rows)).collect();
    RecordBatch::try_new(schema(columns), arrays).expect("every column follows its own type")
}

fn data_type<R>(value: &Value<R>) -> DataType {
    match value {
        Day | Text(_) => DataType::Utf8,
        Float(_) => DataType::Float64,
        Bool(_) => DataType::Boolean,
        Time(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

fn array<R>(value: &Value<R>, date: NaiveDate, rows: &[&R]) -> ArrayRef {
    let rows = rows.iter().copied();
    match value {
        Day => {
            let day = date.to_string();
            Arc::new(StringArray::from_iter_values(rows.map(|_| &day)))
        }
        Text(get) => Arc::new(rows.map(get).collect::<StringArray>()),
        Float(get) => Arc::new(rows.map(get).collect::<Float64Array>()),
        Bool(get) => Arc::new(rows.map(get).collect::<BooleanArray>()),
        Time(get) => {
            let micros = rows.map(|row| get(row).map(|time| time.timestamp_micros()));
            Arc::new(micros.collect::<TimestampMicrosecondArray>().with_timezone("UTC"))
        }
    }
}

/// Puts back the `date` column a day file of the hive layout leaves out (its `date=` partition gives it), where this
/// version's table has it: `grouped_datasets.parquet` when the file has an `object_key`, else `instruments.parquet`.
pub(crate) fn with_date(batch: &RecordBatch, date: NaiveDate) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let at = if schema.index_of("object_key").is_ok() {
        GROUPS.iter().position(|column| column.name == "date")
    } else {
        INSTRUMENTS.iter().position(|column| column.name == "date")
    }
    .expect("both tables have a date")
    .min(batch.num_columns());
    let mut fields: Vec<Field> =
        schema.fields().iter().map(|field| field.as_ref().clone()).collect();
    let mut columns = batch.columns().to_vec();
    // `Value::Day`'s type.
    fields.insert(at, Field::new("date", DataType::Utf8, false));
    let day = date.to_string();
    columns
        .insert(at, Arc::new(StringArray::from_iter_values((0..batch.num_rows()).map(|_| &day))));
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
    )
}
