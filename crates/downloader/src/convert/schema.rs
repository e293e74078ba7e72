//! The schemas of the tick Parquet files: CSV headers, Parquet column names, Arrow types and encodings, for both
//! flavors (`MD_PARQUET_SCHEMA`).
//!
//! - `original` (the default), the replaced system's files: the CSV columns without `exchange` and `symbol` (checked
//!   against the unit, then dropped), timestamps as plain INT64 microseconds, the book snapshot levels named
//!   `ask_price_1`, `ask_volume_1`, `bid_price_1`, `bid_volume_1`..., strings as strings, every column nullable (as
//!   pandas writes them), rows sorted by `timestamp`.
//! - `typed`, md's own: every CSV column under its Tardis name (levels `asks_0_price`), TIMESTAMP types, dictionary
//!   strings, then the partition columns; rows in file order.
//! - `hive`, the `hive` layout's (`MD_LAYOUT=hive`): `instrument_key` (the unit's key, the same in every row) and
//!   `symbol` (each row's Tardis symbol), then the original's columns, its types and its sort; no column is named like
//!   a partition key of the layout (`data_type`, `exchange`, `date`), because BigQuery refuses such a file and DuckDB
//!   would show the column twice.
//!
//! docs/SCHEMAS.md lists every column of both.

use std::sync::Arc;

use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use md_config::{DataType, ParquetOptions, ParquetSchema};
use parquet::arrow::ArrowSchemaConverter;
use parquet::basic::Encoding;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterPropertiesBuilder};
use parquet::schema::types::{ColumnPath, SchemaDescriptor};

/// How the text of one CSV column is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A repeated string (exchange, symbol, side, ...): dictionary-encoded UTF-8 in the Arrow batches.
    Dict,
    /// A free string (`id`): plain UTF-8.
    Text,
    /// Microseconds since the Unix epoch, as an Arrow UTC timestamp (typed schema).
    Timestamp,
    /// Microseconds since the Unix epoch, as a plain 64-bit integer (original schema).
    Int,
    /// A decimal number.
    Float,
    /// `true` or `false`.
    Bool,
}

/// What the converter does with one CSV column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Converted into a column of the file.
    Output,
    /// Checked against the unit's Tardis exchange, then dropped (original schema).
    CheckExchange,
    /// Checked against the unit's dataset symbol (unless the file is a grouped one), then dropped (original schema).
    CheckSymbol,
}

/// One CSV column: its Tardis header, its Parquet column name, its type, whether an empty cell is allowed and what
/// becomes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvColumn {
    /// The exact Tardis header text, e.g. `asks[0].price`.
    pub(crate) header: String,
    /// The Parquet column name, e.g. `asks_0_price` (typed) or `ask_price_1` (original).
    pub(crate) name: String,
    /// How the text is typed.
    pub(crate) kind: Kind,
    /// Whether an empty cell is an error rather than a null.
    pub(crate) required: bool,
    /// Whether the column is written, or checked and dropped.
    pub(crate) role: Role,
}

impl CsvColumn {
    fn new(header: &str, kind: Kind) -> Self {
        let required = matches!(header, "exchange" | "symbol" | "timestamp" | "local_timestamp");
        CsvColumn {
            header: header.to_owned(),
            name: header.to_owned(),
            kind,
            required,
            role: Role::Output,
        }
    }
}

/// Returns the CSV columns of `data_type`, in header order, as the typed schema converts them.
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
                    let mut column = CsvColumn::new(&format!("{side}[{level}].{field}"), Float);
                    column.name = format!("{side}_{level}_{field}");
                    columns.push(column);
                }
            }
            &[]
        }
    };
    columns.extend(rest.iter().map(|(header, kind)| CsvColumn::new(header, *kind)));
    columns
}

/// Returns the original schema's name of a book level column (`asks[0].price` -> `ask_price_1`,
/// `bids[4].amount` -> `bid_volume_5`), or `None` for any other header.
fn original_level_name(header: &str) -> Option<String> {
    let (side, rest) = header.split_once('[')?;
    let (level, field) = rest.split_once("].")?;
    let level: usize = level.parse().ok()?;
    let side = match side {
        "asks" => "ask",
        "bids" => "bid",
        _ => return None,
    };
    let field = match field {
        "price" => "price",
        "amount" => "volume",
        _ => return None,
    };
    Some(format!("{side}_{field}_{}", level + 1))
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

/// Returns the Arrow type of the batches a CSV column of `kind` is parsed into.
pub(crate) fn arrow_type(kind: Kind) -> ArrowType {
    match kind {
        Kind::Dict => dictionary_utf8(),
        Kind::Text => ArrowType::Utf8,
        Kind::Timestamp => timestamp_type(),
        Kind::Int => ArrowType::Int64,
        Kind::Float => ArrowType::Float64,
        Kind::Bool => ArrowType::Boolean,
    }
}

/// How one file of a data type is converted under one schema flavor: which CSV columns become which Parquet
/// columns, the Arrow schema of the parsed batches and of the file, and whether rows are sorted.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) data_type: DataType,
    pub(crate) flavor: ParquetSchema,
    /// Every CSV column, in header order.
    pub(crate) columns: Vec<CsvColumn>,
    /// The Arrow schema of the parsed batches: the output columns, repeated strings as dictionaries.
    pub(crate) batch_schema: SchemaRef,
    /// The Arrow schema of the file ([`tick_schema`]): the output columns, then (typed) the partition columns.
    pub(crate) file_schema: SchemaRef,
    /// The batch column rows are sorted by (`timestamp`), when they are.
    pub(crate) sort_key: Option<usize>,
    /// Whether the batches begin with the unit's `instrument_key`, a constant column the parser adds (hive schema).
    pub(crate) keyed: bool,
}

impl Layout {
    /// Returns the layout of `data_type` under `flavor`.
    pub(crate) fn new(data_type: DataType, flavor: ParquetSchema) -> Self {
        let mut columns = csv_columns(data_type);
        let keyed = flavor == ParquetSchema::Hive;
        if flavor != ParquetSchema::Typed {
            for column in &mut columns {
                column.role = match column.header.as_str() {
                    "exchange" => Role::CheckExchange,
                    "symbol" if !keyed => Role::CheckSymbol,
                    _ => Role::Output,
                };
                if column.kind == Kind::Timestamp {
                    column.kind = Kind::Int;
                }
                if let Some(name) = original_level_name(&column.header) {
                    column.name = name;
                }
            }
        }
        let outputs: Vec<&CsvColumn> =
            columns.iter().filter(|column| column.role == Role::Output).collect();
        let key_column = CsvColumn {
            header: String::new(),
            name: "instrument_key".to_owned(),
            kind: Kind::Dict,
            required: true,
            role: Role::Output,
        };
        let key = keyed.then_some(&key_column);
        let (batch_fields, file_fields): (Vec<Field>, Vec<Field>) = key
            .into_iter()
            .chain(outputs.iter().copied())
            .map(|column| {
                let batch_type = arrow_type(column.kind);
                match flavor {
                    // The hive schema keeps the original's types: strings as plain strings (each one still
                    // dictionary-encoded in the file, the writer's default), `instrument_key` and `symbol` required.
                    ParquetSchema::Hive => {
                        let file_type = if column.kind == Kind::Dict {
                            ArrowType::Utf8
                        } else {
                            batch_type.clone()
                        };
                        (
                            Field::new(&column.name, batch_type, !column.required),
                            Field::new(&column.name, file_type, !column.required),
                        )
                    }
                    // pandas writes every column as nullable, and strings as plain strings (a dictionary type in
                    // the embedded Arrow schema would make pandas read them as categoricals).
                    ParquetSchema::Original => {
                        let file_type = if column.kind == Kind::Dict {
                            ArrowType::Utf8
                        } else {
                            batch_type.clone()
                        };
                        (
                            Field::new(&column.name, batch_type, true),
                            Field::new(&column.name, file_type, true),
                        )
                    }
                    ParquetSchema::Typed => {
                        let field = Field::new(&column.name, batch_type, !column.required);
                        (field.clone(), field)
                    }
                }
            })
            .unzip();
        let sort_key = (flavor != ParquetSchema::Typed)
            .then(|| outputs.iter().position(|column| column.header == "timestamp"))
            .flatten()
            .map(|index| index + usize::from(keyed));
        let mut file_fields = file_fields;
        if flavor == ParquetSchema::Typed {
            file_fields.extend(partition_fields());
        }
        Layout {
            data_type,
            flavor,
            columns,
            batch_schema: Arc::new(Schema::new(batch_fields)),
            file_schema: Arc::new(Schema::new(file_fields)),
            sort_key,
            keyed,
        }
    }

    /// Returns the CSV columns written to the file, in order.
    pub(crate) fn outputs(&self) -> impl Iterator<Item = &CsvColumn> {
        self.columns.iter().filter(|column| column.role == Role::Output)
    }

    /// Returns whether the file ends with the partition columns (typed schema).
    pub(crate) fn has_partition_columns(&self) -> bool {
        self.flavor == ParquetSchema::Typed
    }

    /// Sets the per-column encodings of the file on a writer properties builder.
    ///
    /// Typed schema:
    /// - timestamps and the integer partition columns: `DELTA_BINARY_PACKED`, no dictionary (they increase or are
    ///   constant);
    /// - repeated strings: dictionary (`RLE_DICTIONARY`);
    /// - `id`: `DELTA_BYTE_ARRAY`, no dictionary (ids are unique and often share prefixes with their neighbours);
    /// - floats: dictionary, falling back to `PLAIN` when the dictionary grows past its page limit.
    ///
    /// Original schema, as the replaced system asked pyarrow for: dictionary for every column (falling back to
    /// `PLAIN` past the dictionary page limit) except `timestamp` and `local_timestamp`, which are
    /// `DELTA_BINARY_PACKED`, and `id`, which is `PLAIN`; 1 MiB data pages; statistics; and the row groups say they
    /// are sorted by `timestamp`.
    ///
    /// Hive schema: the original's encodings and sort, with the writer's default data pages (1 MiB) and page
    /// statistics (so the page index, column and offset indexes, is written).
    pub(crate) fn column_encodings(
        &self,
        mut builder: WriterPropertiesBuilder,
    ) -> WriterPropertiesBuilder {
        let delta = |builder: WriterPropertiesBuilder, name: &str, encoding: Encoding| {
            let path = ColumnPath::from(name);
            builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_encoding(path, encoding)
        };
        match self.flavor {
            ParquetSchema::Original | ParquetSchema::Hive => {
                if self.flavor == ParquetSchema::Original {
                    builder = builder.set_data_page_size_limit(DATA_PAGE_BYTES);
                }
                for name in ["timestamp", "local_timestamp"] {
                    builder = delta(builder, name, Encoding::DELTA_BINARY_PACKED);
                }
                // `id` is unique: a dictionary only costs time before it falls back to PLAIN (as pyarrow's does past
                // its 1 MiB page limit); plain ids are 20% smaller and every reader reads them.
                for column in self.outputs().filter(|column| column.kind == Kind::Text) {
                    builder = builder.set_column_dictionary_enabled(
                        ColumnPath::from(column.name.as_str()),
                        false,
                    );
                }
                if let Some(key) = self.sort_key {
                    let column_idx = i32::try_from(key).expect("few columns");
                    builder = builder.set_sorting_columns(Some(vec![SortingColumn {
                        column_idx,
                        descending: false,
                        nulls_first: false,
                    }]));
                }
            }
            ParquetSchema::Typed => {
                for column in self.outputs() {
                    builder = match column.kind {
                        Kind::Timestamp | Kind::Int => {
                            delta(builder, &column.name, Encoding::DELTA_BINARY_PACKED)
                        }
                        Kind::Text => delta(builder, &column.name, Encoding::DELTA_BYTE_ARRAY),
                        Kind::Float | Kind::Dict | Kind::Bool => builder,
                    };
                }
                for name in ["date", "year", "month", "day"] {
                    builder = delta(builder, name, Encoding::DELTA_BINARY_PACKED);
                }
                for name in ["venue", "instrument_key", "data_type"] {
                    // Constant per file: min/max statistics add nothing a reader needs beyond the first value.
                    builder = builder.set_column_statistics_enabled(
                        ColumnPath::from(name),
                        EnabledStatistics::Chunk,
                    );
                }
            }
        }
        builder
    }
}

impl Layout {
    /// Returns the Arrow schema the writer embeds in the file (`ARROW:schema`): the file schema, with the `pandas`
    /// metadata for the original schema.
    pub(crate) fn writer_schema(&self) -> SchemaRef {
        match self.flavor {
            ParquetSchema::Original => Arc::new(self.file_schema.as_ref().clone().with_metadata(
                std::collections::HashMap::from([("pandas".to_owned(), self.pandas_metadata())]),
            )),
            ParquetSchema::Typed | ParquetSchema::Hive => self.file_schema.clone(),
        }
    }

    /// Returns the `pandas` metadata pandas 2.1.4 writes with a frame of the original schema's dtypes (nullable
    /// `Int64` timestamps, `string` text, `float64`, `bool`), so pandas reads md's files with the dtypes it read the
    /// replaced system's files with.
    fn pandas_metadata(&self) -> String {
        let columns: Vec<serde_json::Value> = self
            .outputs()
            .map(|column| {
                let (pandas_type, numpy_type) = match column.kind {
                    Kind::Int | Kind::Timestamp => ("int64", "Int64"),
                    Kind::Dict | Kind::Text => ("unicode", "string"),
                    Kind::Float => ("float64", "float64"),
                    Kind::Bool => ("bool", "bool"),
                };
                serde_json::json!({
                    "name": column.name,
                    "field_name": column.name,
                    "pandas_type": pandas_type,
                    "numpy_type": numpy_type,
                    "metadata": null,
                })
            })
            .collect();
        serde_json::json!({
            "index_columns": [],
            "column_indexes": [],
            "columns": columns,
            "creator": {"library": "md", "version": env!("CARGO_PKG_VERSION")},
            "pandas_version": PANDAS_VERSION,
        })
        .to_string()
    }
}

/// The pandas version whose `pandas` metadata md writes: the replaced system's pin (`docker/shared/requirements.txt`),
/// whose files these are meant to be read like; the tests read it back with that version and with pandas 3.
const PANDAS_VERSION: &str = "2.1.4";

/// The data page size of the original schema, as the replaced system set it.
pub(crate) const DATA_PAGE_BYTES: usize = 1 << 20;

/// The partition columns of the typed schema, after the CSV columns.
fn partition_fields() -> [Field; 7] {
    [
        Field::new("date", ArrowType::Date32, false),
        Field::new("venue", dictionary_utf8(), false),
        Field::new("instrument_key", dictionary_utf8(), false),
        Field::new("data_type", dictionary_utf8(), false),
        Field::new("year", ArrowType::Int32, false),
        Field::new("month", ArrowType::Int32, false),
        Field::new("day", ArrowType::Int32, false),
    ]
}

/// Returns the Arrow schema of the tick Parquet files the converter writes for `data_type` under `settings`
/// (`MD_PARQUET_SCHEMA`; the other settings do not change the schema).
///
/// - `original`: the Tardis CSV columns without `exchange` and `symbol`, in CSV order; `timestamp`,
///   `local_timestamp`, `funding_timestamp` and `expiration` as `Int64` (microseconds since the epoch); book levels
///   named `ask_price_1`, `ask_volume_1`, `bid_price_1`, `bid_volume_1`, ...; `id`, `side`, `type` and
///   `underlying_index` as `Utf8`; `is_snapshot` as `Boolean`; every other column `Float64`. Every field is nullable,
///   as pandas writes them. The Parquet schema this gives (names, order, `INT64`/`DOUBLE`/`BOOLEAN`/`BYTE_ARRAY`
///   `STRING`, all `OPTIONAL`) is exactly what the replaced system wrote with pandas and pyarrow for the same data
///   type: [`tick_parquet_schema`] gives it, and [`schema_mismatch`] compares another file's footer with it.
/// - `typed`: every CSV column (book levels `asks_0_price`), timestamps as `Timestamp(Microsecond, "UTC")`, repeated
///   strings dictionary-encoded, then the partition columns `date` (Date32), `venue`, `instrument_key`, `data_type`
///   (dictionary strings) and `year`, `month`, `day` (Int32). `exchange`, `symbol`, `timestamp`, `local_timestamp`
///   and the partition columns are non-nullable; every other column is nullable.
///
/// docs/SCHEMAS.md lists every column of both. The files embed this schema (`ARROW:schema`), so Arrow readers get
/// these exact types back.
pub fn tick_schema(data_type: DataType, settings: &ParquetOptions) -> SchemaRef {
    Layout::new(data_type, settings.schema).file_schema
}

/// Returns the Parquet schema (the footer's column descriptors) of the files [`tick_schema`] describes.
pub fn tick_parquet_schema(
    data_type: DataType,
    settings: &ParquetOptions,
) -> Arc<SchemaDescriptor> {
    let schema = tick_schema(data_type, settings);
    Arc::new(
        ArrowSchemaConverter::new().convert(&schema).expect("the tick schemas convert to Parquet"),
    )
}

/// Compares a Parquet file's schema (from its footer) with the one md writes for `data_type` under `settings`;
/// returns the first difference, described, or `None` when they are the same.
///
/// Columns are compared by name, order, physical type, logical type (and the legacy converted type) and repetition,
/// which is what readers see; the embedded Arrow schema is not compared (pandas writes `large_string` where md
/// writes `string`, which read the same). A file the replaced system wrote with pandas for the data type matches
/// the `original` schema.
pub fn schema_mismatch(
    data_type: DataType,
    settings: &ParquetOptions,
    found: &SchemaDescriptor,
) -> Option<String> {
    let expected = tick_parquet_schema(data_type, settings);
    if expected.num_columns() != found.num_columns() {
        let names = |schema: &SchemaDescriptor| {
            schema.columns().iter().map(|column| column.name().to_owned()).collect::<Vec<_>>()
        };
        return Some(format!(
            "{} columns {:?}, expected {} columns {:?}",
            found.num_columns(),
            names(found),
            expected.num_columns(),
            names(&expected)
        ));
    }
    for (index, (want, got)) in expected.columns().iter().zip(found.columns()).enumerate() {
        let describe = |column: &parquet::schema::types::ColumnDescriptor| {
            format!(
                "{} {} {:?} {} {}",
                column.name(),
                column.physical_type(),
                column.logical_type_ref(),
                column.converted_type(),
                column.self_type().get_basic_info().repetition(),
            )
        };
        if describe(want) != describe(got) {
            return Some(format!(
                "column {}: found {}, expected {}",
                index + 1,
                describe(got),
                describe(want)
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(schema: ParquetSchema) -> ParquetOptions {
        ParquetOptions { schema, ..ParquetOptions::default() }
    }

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
        for flavor in ParquetSchema::ALL {
            for data_type in DataType::ALL {
                for field in tick_schema(*data_type, &settings(*flavor)).fields() {
                    assert!(
                        field.name().bytes().all(|byte| byte.is_ascii_lowercase()
                            || byte.is_ascii_digit()
                            || byte == b'_'),
                        "{flavor} {data_type}: {}",
                        field.name()
                    );
                }
            }
        }
    }

    #[test]
    fn original_level_names() {
        let schema = tick_schema(DataType::BookSnapshot25, &settings(ParquetSchema::Original));
        let names: Vec<&str> = schema.fields().iter().map(|field| field.name().as_str()).collect();
        assert_eq!(
            &names[..7],
            [
                "timestamp",
                "local_timestamp",
                "ask_price_1",
                "ask_volume_1",
                "bid_price_1",
                "bid_volume_1",
                "ask_price_2"
            ]
        );
        assert_eq!(names.last(), Some(&"bid_volume_25"));
        assert_eq!(original_level_name("bids[24].amount").as_deref(), Some("bid_volume_25"));
        assert_eq!(original_level_name("ask_price"), None);
    }

    #[test]
    fn a_footer_is_compared_column_by_column() {
        let original = settings(ParquetSchema::Original);
        let own = tick_parquet_schema(DataType::Trades, &original);
        assert_eq!(schema_mismatch(DataType::Trades, &original, &own), None);
        let typed = tick_parquet_schema(DataType::Trades, &settings(ParquetSchema::Typed));
        let difference = schema_mismatch(DataType::Trades, &original, &typed).expect("differs");
        assert!(difference.starts_with("15 columns"), "{difference}");
        let liquidations = tick_parquet_schema(DataType::Liquidations, &original);
        assert_eq!(
            schema_mismatch(DataType::Trades, &original, &liquidations),
            None,
            "same columns"
        );
        let quotes = tick_parquet_schema(DataType::Quotes, &original);
        let difference = schema_mismatch(DataType::Trades, &original, &quotes).expect("differs");
        assert!(difference.starts_with("column 3: found ask_amount DOUBLE"), "{difference}");
    }
}
