//! The typed schema of each Tardis data type: CSV headers, Parquet column names, Arrow types and encodings.
//!
//! Column names are the Tardis header names, except the book snapshot levels: `asks[0].price` becomes `asks_0_price`,
//! so every name is a valid BigQuery, DuckDB and Spark identifier. The partition columns follow the CSV columns.

use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use md_config::DataType;
use parquet::basic::Encoding;
use parquet::file::properties::{EnabledStatistics, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;

/// How the text of one CSV column is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A repeated string (exchange, symbol, side, ...): dictionary-encoded UTF-8.
    Dict,
    /// A free string (`id`): plain UTF-8.
    Text,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// A decimal number.
    Float,
    /// `true` or `false`.
    Bool,
}

/// One CSV column: its Tardis header, its Parquet name, its type and whether an empty cell is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvColumn {
    /// The exact Tardis header text, e.g. `asks[0].price`.
    pub(crate) header: String,
    /// The Parquet column name, e.g. `asks_0_price`.
    pub(crate) name: String,
    /// How the text is typed.
    pub(crate) kind: Kind,
    /// Whether an empty cell is an error rather than a null.
    pub(crate) required: bool,
}

impl CsvColumn {
    fn new(header: &str, kind: Kind) -> Self {
        let required = matches!(header, "exchange" | "symbol" | "timestamp" | "local_timestamp");
        CsvColumn { header: header.to_owned(), name: header.to_owned(), kind, required }
    }
}

/// Returns the CSV columns of `data_type`, in header order.
pub(crate) fn csv_columns(data_type: DataType) -> Vec<CsvColumn> {
    use Kind::{Bool, Dict, Float, Text, Timestamp};
    let mut columns = vec![
        CsvColumn::new("exchange", Dict),
        CsvColumn::new("symbol", Dict),
        CsvColumn::new("timestamp", Timestamp),
        CsvColumn::new("local_timestamp", Timestamp),
    ];
    let rest: &[(&str, Kind)] = match data_type {
        DataType::Trades | DataType::Liquidations => {
            &[("id", Text), ("side", Dict), ("price", Float), ("amount", Float)]
        }
        DataType::IncrementalBookL2 => {
            &[("is_snapshot", Bool), ("side", Dict), ("price", Float), ("amount", Float)]
        }
        DataType::Quotes | DataType::BookTicker => &[
            ("ask_amount", Float),
            ("ask_price", Float),
            ("bid_price", Float),
            ("bid_amount", Float),
        ],
        DataType::DerivativeTicker => &[
            ("funding_timestamp", Timestamp),
            ("funding_rate", Float),
            ("predicted_funding_rate", Float),
            ("open_interest", Float),
            ("last_price", Float),
            ("index_price", Float),
            ("mark_price", Float),
        ],
        DataType::OptionsChain => &[
            ("type", Dict),
            ("strike_price", Float),
            ("expiration", Timestamp),
            ("open_interest", Float),
            ("last_price", Float),
            ("bid_price", Float),
            ("bid_amount", Float),
            ("bid_iv", Float),
            ("ask_price", Float),
            ("ask_amount", Float),
            ("ask_iv", Float),
            ("mark_price", Float),
            ("mark_iv", Float),
            ("underlying_index", Dict),
            ("underlying_price", Float),
            ("delta", Float),
            ("gamma", Float),
            ("vega", Float),
            ("theta", Float),
            ("rho", Float),
        ],
        DataType::BookSnapshot5 | DataType::BookSnapshot25 => {
            let levels = if data_type == DataType::BookSnapshot5 { 5 } else { 25 };
            for level in 0..levels {
                for (side, field) in
                    [("asks", "price"), ("asks", "amount"), ("bids", "price"), ("bids", "amount")]
                {
                    columns.push(CsvColumn {
                        header: format!("{side}[{level}].{field}"),
                        name: format!("{side}_{level}_{field}"),
                        kind: Float,
                        required: false,
                    });
                }
            }
            &[]
        }
    };
    columns.extend(rest.iter().map(|(header, kind)| CsvColumn::new(header, *kind)));
    columns
}

/// Returns the exact header line Tardis writes for `data_type` (without the line end).
pub fn csv_header(data_type: DataType) -> String {
    let headers: Vec<String> =
        csv_columns(data_type).into_iter().map(|column| column.header).collect();
    headers.join(",")
}

fn dictionary_utf8() -> ArrowType {
    ArrowType::Dictionary(Box::new(ArrowType::Int32), Box::new(ArrowType::Utf8))
}

fn timestamp_type() -> ArrowType {
    ArrowType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Returns the Arrow type that a CSV column of `kind` converts to.
pub(crate) fn arrow_type(kind: Kind) -> ArrowType {
    match kind {
        Kind::Dict => dictionary_utf8(),
        Kind::Text => ArrowType::Utf8,
        Kind::Timestamp => timestamp_type(),
        Kind::Float => ArrowType::Float64,
        Kind::Bool => ArrowType::Boolean,
    }
}

/// Returns the Arrow schema of the Parquet files written for `data_type`.
///
/// The CSV columns come first, in header order, then the partition columns `date` (Date32), `venue`,
/// `instrument_key`, `data_type` (dictionary-encoded strings) and `year`, `month`, `day` (Int32).
/// `exchange`, `symbol`, `timestamp`, `local_timestamp` and the partition columns are non-nullable;
/// every other column is nullable (an empty CSV cell is a null). docs/SCHEMAS.md lists every column.
pub fn schema(data_type: DataType) -> SchemaRef {
    let mut fields: Vec<Field> = csv_columns(data_type)
        .into_iter()
        .map(|column| Field::new(column.name, arrow_type(column.kind), !column.required))
        .collect();
    fields.extend([
        Field::new("date", ArrowType::Date32, false),
        Field::new("venue", dictionary_utf8(), false),
        Field::new("instrument_key", dictionary_utf8(), false),
        Field::new("data_type", dictionary_utf8(), false),
        Field::new("year", ArrowType::Int32, false),
        Field::new("month", ArrowType::Int32, false),
        Field::new("day", ArrowType::Int32, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// Returns the schema of the CSV columns alone (the leading columns of [`schema`]).
pub(crate) fn csv_schema(data_type: DataType) -> SchemaRef {
    let schema = schema(data_type);
    let fields: Vec<_> =
        schema.fields().iter().take(csv_columns(data_type).len()).cloned().collect();
    Arc::new(Schema::new(fields))
}

/// Sets the per-column encodings of `data_type` on a writer properties builder.
///
/// - timestamps and the integer partition columns: `DELTA_BINARY_PACKED`, no dictionary (they increase or are constant);
/// - repeated strings: dictionary (`RLE_DICTIONARY`);
/// - `id`: `DELTA_BYTE_ARRAY`, no dictionary (ids are unique and often share prefixes with their neighbours);
/// - floats: dictionary, falling back to `PLAIN` when the dictionary grows past its page limit.
pub(crate) fn column_encodings(
    data_type: DataType,
    mut builder: WriterPropertiesBuilder,
) -> WriterPropertiesBuilder {
    let delta = |builder: WriterPropertiesBuilder, name: &str, encoding: Encoding| {
        let path = ColumnPath::from(name);
        builder
            .set_column_dictionary_enabled(path.clone(), false)
            .set_column_encoding(path, encoding)
    };
    for column in csv_columns(data_type) {
        builder = match column.kind {
            Kind::Timestamp => delta(builder, &column.name, Encoding::DELTA_BINARY_PACKED),
            Kind::Text => delta(builder, &column.name, Encoding::DELTA_BYTE_ARRAY),
            Kind::Float | Kind::Dict | Kind::Bool => builder,
        };
    }
    for name in ["date", "year", "month", "day"] {
        builder = delta(builder, name, Encoding::DELTA_BINARY_PACKED);
    }
    for name in ["venue", "instrument_key", "data_type"] {
        // Constant per file: min/max statistics add nothing a reader needs beyond the first value.
        builder =
            builder.set_column_statistics_enabled(ColumnPath::from(name), EnabledStatistics::Chunk);
    }
    builder
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_tardis() {
        assert_eq!(
            csv_header(DataType::Trades),
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
        );
        assert_eq!(
            csv_header(DataType::Quotes),
            "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"
        );
        let book = csv_header(DataType::BookSnapshot5);
        assert!(book.starts_with(
            "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount,asks[1].price"
        ));
        assert!(book.ends_with("bids[4].price,bids[4].amount"));
        assert_eq!(csv_columns(DataType::BookSnapshot25).len(), 4 + 25 * 4);
    }

    #[test]
    fn schema_names_are_identifiers() {
        for data_type in DataType::ALL {
            for field in schema(*data_type).fields() {
                assert!(
                    field.name().bytes().all(|byte| byte.is_ascii_lowercase()
                        || byte.is_ascii_digit()
                        || byte == b'_'),
                    "{data_type}: {}",
                    field.name()
                );
            }
        }
    }
}
