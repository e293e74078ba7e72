//! The columns of the stored definitions, each written once: its name, its type, whether it may be null, and how a
//! record gives its value. The Arrow schema and the column builders are both derived from these tables, so a column
//! cannot be added to one and forgotten in the other, and a value cannot land in another column's place.
//!
//! The order of a table is the order of the columns in the file: changing it changes the bytes written (see the
//! golden test of stored definitions).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, ListBuilder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use instruments::{GroupRecord, InstrumentRecord};

/// How a record gives one column's value; the variant is the column's type.
pub(crate) enum Value<R> {
    /// `Date32`: the day the file describes (the same in every row).
    Day,
    /// `Utf8`.
    Text(for<'a> fn(&'a R) -> Option<Cow<'a, str>>),
    /// `Float64`.
    Float(fn(&R) -> Option<f64>),
    /// `Boolean`.
    Bool(fn(&R) -> Option<bool>),
    /// `Timestamp(µs, UTC)`.
    Time(fn(&R) -> Option<DateTime<Utc>>),
    /// `List<Utf8>`, items never null.
    TextList(fn(&R) -> &[String]),
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

fn borrowed(text: &str) -> Option<Cow<'_, str>> {
    Some(Cow::Borrowed(text))
}

fn optional(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(Cow::Borrowed)
}

use Value::{Bool, Day, Float, Text, TextList, Time};

/// `instruments.parquet` (and the range's aggregate): one row per instrument available on the day.
pub(crate) const INSTRUMENTS: &[Column<InstrumentRecord>] = &[
    column("date", false, Day),
    column("instrument_key", false, Text(|r| borrowed(r.instrument_key.as_str()))),
    column("venue", false, Text(|r| borrowed(&r.venue))),
    column("instrument_type", false, Text(|r| borrowed(r.instrument_type.key_str()))),
    column("canonical_symbol", false, Text(|r| borrowed(&r.canonical_symbol))),
    column("base_asset", false, Text(|r| borrowed(&r.base_asset))),
    column("quote_asset", false, Text(|r| borrowed(&r.quote_asset))),
    column("price_asset", true, Text(|r| optional(&r.price_asset))),
    column("settle_asset", true, Text(|r| optional(&r.settle_asset))),
    column("inverse", true, Bool(|r| r.inverse)),
    column("quanto", true, Bool(|r| r.quanto)),
    column("contract_type", true, Text(|r| optional(&r.contract_type))),
    column("expiry", true, Text(|r| optional(&r.expiry))),
    column("expiry_time", true, Time(|r| r.expiry_time)),
    column(
        "strike",
        true,
        Text(|r| r.strike.as_ref().map(|strike| Cow::Borrowed(strike.as_str()))),
    ),
    column("option_type", true, Text(|r| r.option_type.map(|kind| Cow::Borrowed(kind.as_str())))),
    column("legs", true, Text(|r| optional(&r.legs))),
    column("underlying", true, Text(|r| optional(&r.underlying))),
    column("contract_size", true, Float(|r| r.contract_size)),
    column("tick_size", true, Float(|r| r.tick_size)),
    column("amount_increment", true, Float(|r| r.amount_increment)),
    column("min_size", true, Float(|r| r.min_size)),
    column("min_notional", true, Float(|r| r.min_notional)),
    column("maker_fee", true, Float(|r| r.maker_fee)),
    column("taker_fee", true, Float(|r| r.taker_fee)),
    column("tardis_exchange", false, Text(|r| borrowed(&r.tardis_exchange))),
    column("tardis_symbol", false, Text(|r| borrowed(&r.tardis_symbol))),
    column("tardis_symbol_type", false, Text(|r| borrowed(r.instrument_type.as_str()))),
    column("exchange_raw_symbol", false, Text(|r| borrowed(&r.exchange_raw_symbol))),
    column("available_since", false, Time(|r| Some(r.available_since))),
    column("available_to", true, Time(|r| r.available_to)),
    column("data_types", false, TextList(|r| &r.data_types)),
    column("source", false, Text(|r| borrowed(r.source.as_str()))),
];

/// `grouped_datasets.parquet`: one row per grouped dataset file (`OPTIONS`, ...) available on the day.
pub(crate) const GROUPS: &[Column<GroupRecord>] = &[
    column("date", false, Day),
    column("object_key", false, Text(|g| Some(Cow::Owned(g.object_key.to_string())))),
    column("venue", false, Text(|g| borrowed(g.object_key.venue()))),
    column("instrument_type", false, Text(|g| borrowed(g.object_key.instrument_type().key_str()))),
    column("tardis_exchange", false, Text(|g| borrowed(&g.tardis_exchange))),
    column("tardis_symbol", false, Text(|g| borrowed(&g.tardis_symbol))),
    column(
        "tardis_symbol_type",
        false,
        Text(|g| borrowed(g.object_key.instrument_type().as_str())),
    ),
    column("available_since", false, Time(|g| Some(g.available_since))),
    column("available_to", true, Time(|g| g.available_to)),
    column("data_types", false, TextList(|g| &g.data_types)),
];

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
        Day => DataType::Date32,
        Text(_) => DataType::Utf8,
        Float(_) => DataType::Float64,
        Bool(_) => DataType::Boolean,
        Time(_) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        TextList(_) => DataType::List(Arc::new(list_item())),
    }
}

fn list_item() -> Field {
    Field::new("item", DataType::Utf8, false)
}

fn array<R>(value: &Value<R>, date: NaiveDate, rows: &[&R]) -> ArrayRef {
    match value {
        Day => {
            let mut builder = Date32Builder::new();
            let days = (date - DateTime::UNIX_EPOCH.date_naive()).num_days() as i32;
            rows.iter().for_each(|_| builder.append_value(days));
            Arc::new(builder.finish())
        }
        Text(get) => {
            let mut builder = StringBuilder::new();
            rows.iter().for_each(|row| builder.append_option(get(row)));
            Arc::new(builder.finish())
        }
        Float(get) => {
            let mut builder = Float64Builder::new();
            rows.iter().for_each(|row| builder.append_option(get(row)));
            Arc::new(builder.finish())
        }
        Bool(get) => {
            let mut builder = BooleanBuilder::new();
            rows.iter().for_each(|row| builder.append_option(get(row)));
            Arc::new(builder.finish())
        }
        Time(get) => {
            let mut builder = TimestampMicrosecondBuilder::new().with_timezone("UTC");
            rows.iter()
                .for_each(|row| builder.append_option(get(row).map(|t| t.timestamp_micros())));
            Arc::new(builder.finish())
        }
        TextList(get) => {
            let mut builder = ListBuilder::new(StringBuilder::new()).with_field(list_item());
            for row in rows {
                get(row).iter().for_each(|item| builder.values().append_value(item));
                builder.append(true);
            }
            Arc::new(builder.finish())
        }
    }
}
