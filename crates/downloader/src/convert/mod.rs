//! Streaming conversion of Tardis `.csv.gz` files into Parquet.
//!
//! [`convert`] turns the raw body of one dataset file, as it downloads, into the bytes of one Parquet file, ready
//! for a multipart upload. [`tick_schema`] gives the Arrow schema of each data type under the settings
//! (`MD_PARQUET_SCHEMA`: `original`, the replaced system's files, by default, `typed`, or `hive`, the hive layout's:
//! the original's columns with `instrument_key` and `symbol`); docs/SCHEMAS.md documents every column of each. [`convert_reader`] does the same work synchronously on one thread, for tests
//! and tools.
//!
//! The work runs on three threads per conversion, never on the async runtime: one inflates the gzip members (with
//! tardis-client's decoder, [`tardis_client::gzip`]: ISA-L by default, every member's CRC-32 and size checked), one
//! parses CSV rows into Arrow batches (and, for the original schema, sorts them), one encodes them with the
//! `parquet` crate; together they keep two cores busy.
//!
//! - Typed schema: rows keep file order, and each row group is handed out as it completes, the footer last.
//!   Memory is bounded by a few blocks of CSV, three Arrow batches (about 2 MiB each) and one row group (at most
//!   `row_group_bytes`, 4 MiB, encoded), whatever the file size.
//! - Original schema: rows are sorted by `timestamp` (ties keep file order) in bounded memory. Tardis files are in
//!   `local_timestamp` order, so a reorder window (`sort_window_bytes`, 8 MiB of Arrow data) puts nearly every
//!   row in place while the file streams; the rows are encoded at once into a provisional file, held in memory up
//!   to `provisional_memory_bytes` and in a temporary file beyond (`MD_PARQUET_SPILL_DIR`). Rows that arrive
//!   behind the window ("late" rows: an exchange timestamp hours behind) are kept aside (spilled as sorted runs past
//!   `late_memory_bytes`) and merged into the row groups they belong to when the file ends; the row groups no late
//!   row falls into are copied as encoded. The output comes out once the input has ended (a sort cannot emit its
//!   first row earlier). Memory is bounded by the window, the late rows' budget and one row group.
//!
//! ```
//! use downloader::convert::{self, ConvertOptions, Partition};
//! use futures::{StreamExt, TryStreamExt};
//! use md_config::DataType;
//! # use std::io::Write;
//! # let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! # gzip.write_all(b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\
//! #     deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,93429.7,380\n").unwrap();
//! # let body = bytes::Bytes::from(gzip.finish().unwrap());
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let input = futures::stream::iter([Ok::<_, convert::ConvertError>(body)]);
//! let partition = Partition {
//!     date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
//!     venue: "DERIBIT".into(),
//!     instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
//!     exchange: "deribit".into(),
//!     symbol: Some("BTC-PERPETUAL".into()),
//! };
//! let parquet: Vec<bytes::Bytes> = convert::convert(input, DataType::Trades, partition, ConvertOptions::default())
//!     .try_collect()
//!     .await?;
//! assert_eq!(&parquet.concat()[..4], b"PAR1");
//! # Ok::<(), convert::ConvertError>(())
//! # }).unwrap();
//! ```

mod assemble;
mod builder;
mod csv;
mod encode;
mod error;
mod parse;
mod schema;
mod sort;
mod spill;
pub mod split;
mod stream;

use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::path::PathBuf;

use bytes::Bytes;
use futures::Stream;
use md_config::{DataType, ParquetCompression, ParquetOptions, ParquetSchema};

pub use error::ConvertError;
pub use schema::{csv_header, schema_mismatch, tick_parquet_schema, tick_schema};
pub use stream::{FactsHandle, ParquetStream};

/// How Parquet files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertOptions {
    /// The columns (`MD_PARQUET_SCHEMA`).
    pub schema: ParquetSchema,
    /// Page compression codec (`MD_PARQUET_COMPRESSION`).
    pub compression: ParquetCompression,
    /// Most rows per row group (`MD_PARQUET_ROW_GROUP_SIZE`).
    pub row_group_size: NonZeroUsize,
    /// Most encoded bytes per row group, whichever limit comes first: it bounds memory for wide rows
    /// (a row group is held in memory until it is complete). Defaults to [`ROW_GROUP_BYTES`]
    /// ([`HIVE_ROW_GROUP_BYTES`] with the hive schema).
    pub row_group_bytes: NonZeroUsize,
    /// Most rows per Arrow batch (`BATCH_SIZE`); wide data types use fewer, so a batch stays near 2 MiB.
    pub batch_size: NonZeroUsize,
    /// Where the original schema's sort keeps its temporary files (`MD_PARQUET_SPILL_DIR`).
    pub spill_dir: PathBuf,
    /// Arrow data held in the sort's reorder window (original schema). Defaults to [`SORT_WINDOW_BYTES`].
    pub sort_window_bytes: NonZeroUsize,
    /// Late rows held in memory before they are spilled as a sorted run (original schema). Defaults to
    /// [`LATE_MEMORY_BYTES`].
    pub late_memory_bytes: NonZeroUsize,
    /// Encoded bytes of a sorted file held in memory before they move to a temporary file (original schema).
    /// Defaults to [`PROVISIONAL_MEMORY_BYTES`].
    pub provisional_memory_bytes: NonZeroUsize,
    /// Whether [`convert`] learns the file's facts as it inflates it ([`ParquetStream::facts_handle`];
    /// `MD_FILE_FACTS`, on by default): one pass of `tardis_client::facts` over the CSV on the inflate thread.
    pub file_facts: bool,
}

/// The default most encoded bytes per row group.
///
/// A conversion holds its row group in progress (every column's encoded pages and dictionaries) until it is complete,
/// so this bounds most of a conversion's memory. 4 MiB is about 190,000 rows of `book_snapshot_5` and 700,000 of
/// `trades`, near the row groups DuckDB (122,880 rows) and Polars write. On a 64 MiB `book_snapshot_5` file, 16 MiB
/// row groups (the earlier default) peaked at 70 MiB of RSS for the conversion alone, 4 MiB ones at 43 MiB (with
/// 2 MiB batches), with a file 1% smaller: a float column's dictionary more often stays under its page limit.
/// With the original schema's 100,000-row groups it cuts `book_snapshot_25` (about 33,000 rows on the bench's files),
/// not `trades` or `book_snapshot_5`.
pub const ROW_GROUP_BYTES: usize = 4 << 20;

/// The most encoded bytes per row group of the hive schema (`MD_LAYOUT=hive`), whose files are read by query
/// engines: row groups of at least about 122,880 rows (DuckDB's) for every data type, up to the 262,144 rows of
/// `MD_PARQUET_ROW_GROUP_SIZE`'s default for it (about 155,000 rows of `book_snapshot_25`, the row cap for `trades`
/// and `book_snapshot_5`); docs/SCHEMAS.md has the measured row groups and peak memory.
pub const HIVE_ROW_GROUP_BYTES: usize = 16 << 20;

/// The default reorder window of the original schema's sort: about 165,000 rows of `trades`, minutes of a busy
/// market, so rows whose exchange timestamp is seconds behind their arrival are put in place as the file streams.
/// Measured on a 32 MiB trades file, a conversion peaks at about 50 MiB of RSS with it and 70 MiB with 16 MiB.
pub const SORT_WINDOW_BYTES: usize = 8 << 20;

/// The default memory for late rows (behind the reorder window) before they are spilled as a sorted run.
pub const LATE_MEMORY_BYTES: usize = 16 << 20;

/// The default encoded bytes of a sorted file held in memory before they move to a temporary file: small files
/// (most instrument-days) never touch the disk.
pub const PROVISIONAL_MEMORY_BYTES: usize = 4 << 20;

impl ConvertOptions {
    /// Returns the options from the configuration's Parquet settings and `BATCH_SIZE`.
    pub fn new(parquet: &ParquetOptions, batch_size: NonZeroUsize) -> Self {
        let bytes = |value: usize| NonZeroUsize::new(value).expect("non-zero");
        ConvertOptions {
            schema: parquet.schema,
            compression: parquet.compression,
            row_group_size: parquet.row_group_size,
            batch_size,
            row_group_bytes: bytes(match parquet.schema {
                ParquetSchema::Hive => HIVE_ROW_GROUP_BYTES,
                ParquetSchema::Original | ParquetSchema::Typed => ROW_GROUP_BYTES,
            }),
            spill_dir: parquet.spill_dir.clone(),
            sort_window_bytes: bytes(SORT_WINDOW_BYTES),
            late_memory_bytes: bytes(LATE_MEMORY_BYTES),
            provisional_memory_bytes: bytes(PROVISIONAL_MEMORY_BYTES),
            file_facts: true,
        }
    }
}

impl Default for ConvertOptions {
    /// The configuration's defaults (`MD_PARQUET_*`, `BATCH_SIZE`), and the default memory limits.
    fn default() -> Self {
        ConvertOptions::new(
            &ParquetOptions::default(),
            md_config::ServiceConfig::default().batch_size,
        )
    }
}

/// What a file is: its partition values (written as constant columns into every row of a typed file) and the
/// Tardis exchange and symbol its rows must name (checked by the original schema, which drops those columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The day of the file (`date`, and `year`, `month`, `day`).
    pub date: chrono::NaiveDate,
    /// The venue, as the instrument key spells it (e.g. `DERIBIT`).
    pub venue: String,
    /// The instrument key of the object; for a grouped file (`OPTIONS`, `PERPETUALS`, ...) the grouped object's key,
    /// while each row keeps its real `symbol`.
    pub instrument_key: String,
    /// The Tardis exchange id the file was downloaded for (`deribit`): every row's `exchange`.
    pub exchange: String,
    /// The dataset symbol the file was downloaded for (`BTC-PERPETUAL`): every row's `symbol`, compared as Tardis
    /// forms dataset ids (upper case, `:` and `/` as `-`); `None` for a grouped file, whose rows carry many.
    pub symbol: Option<String>,
}

/// What one conversion produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConvertSummary {
    /// Data rows converted (the header excluded).
    pub rows: u64,
    /// Bytes of CSV inflated.
    pub csv_bytes: u64,
    /// Bytes of Parquet produced, footer included.
    pub parquet_bytes: u64,
    /// Row groups written.
    pub row_groups: usize,
    /// Rows that arrived behind the sort's reorder window and were merged in at the end (original schema).
    pub late_rows: u64,
    /// Row groups decoded and encoded again to take late rows (original schema).
    pub rewritten_row_groups: usize,
}

/// Converts the raw body of one Tardis `.csv.gz` file into one Parquet file, while it streams.
///
/// `input` is the body exactly as downloaded, in chunks of any size; it may hold several gzip members. The returned
/// [`ParquetStream`] yields the Parquet bytes in pieces of at most about 1 MiB, the last holding the footer: with
/// the typed schema each row group as it completes; with the original schema (sorted) once the input has ended.
/// A gzip holding no CSV at all, or only the header, gives a valid file with the schema and no rows.
///
/// The work runs on threads of its own; this function only starts them. It must not be called from a thread
/// that is itself blocked on the stream (the stream drives the input).
///
/// # Errors
///
/// The stream yields one error and ends if the input fails (the input's own error, as it came), the gzip is bad or truncated
/// ([`ConvertError::Gzip`]), the header differs from the data type's ([`ConvertError::Header`]), a row is
/// malformed ([`ConvertError::FieldCount`], [`ConvertError::Cell`] with the line number, column and text), a row
/// names another exchange or symbol than the partition's ([`ConvertError::NotTheUnit`], original schema), or a
/// temporary file of the sort fails ([`ConvertError::Spill`]); conversion errors reach the caller as
/// `E::from(ConvertError)`, so one error type carries both. A bad header or row is
/// reported only after the rest of the gzip has been read and found intact: a byte damaged on the way often shows
/// first as a garbled row, and is then reported as the retryable [`ConvertError::Gzip`], not as bad data. No footer
/// is emitted then: what was yielded before the error is not a valid Parquet file.
///
/// # Cancel safety
///
/// Dropping the stream cancels the conversion; the threads exit within about one block of work (256 KiB of CSV),
/// and the temporary files go with them.
pub fn convert<S, E>(
    input: S,
    data_type: DataType,
    partition: Partition,
    options: ConvertOptions,
) -> ParquetStream<E>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: From<ConvertError> + 'static,
{
    ParquetStream::start(input, data_type, partition, options)
}

/// Converts a `.csv.gz` file from `gzip` into Parquet written to `output`, on the calling thread.
///
/// The same conversion as [`convert`], without threads or a runtime: for tests and tools.
///
/// # Errors
///
/// As [`convert`]; a failure of `output` is [`ConvertError::Output`] or, inside the encoder,
/// [`ConvertError::Parquet`]. On error, `output` may hold the row groups written so far but never a footer.
pub fn convert_reader(
    gzip: impl Read,
    output: impl Write + Send,
    data_type: DataType,
    partition: &Partition,
    options: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let layout = schema::Layout::new(data_type, options.schema);
    let file = encode::FileSpec { layout: &layout, partition, options };
    let mut encoder = encode::Encoder::new(file, output)?;
    inflate_into(gzip, |block| encoder.push(block))?;
    let (_, summary) = encoder.finish()?;
    Ok(summary)
}

/// Inflates the `.csv.gz` file from `gzip` and hands its CSV to `push`, block by block.
///
/// A `push` error is returned only once the rest of the gzip has been read and found intact: a bad row is the
/// file's fault only if the gzip around it is (a byte damaged on the way often shows first as a garbled row).
pub(crate) fn inflate_into<E: From<ConvertError>>(
    gzip: impl Read,
    mut push: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut decoder = tardis_client::gzip::GzipReader::new(std::io::BufReader::new(gzip));
    let mut block = vec![0; stream::BLOCK_BYTES];
    let mut uncompressed_bytes = 0u64;
    loop {
        let filled = stream::fill(&mut decoder, &mut block)
            .map_err(|source| stream::gzip_error(uncompressed_bytes, source))?;
        uncompressed_bytes += filled as u64;
        if let Err(error) = push(&block[..filled]) {
            return Err(settle(&mut decoder, &mut block, uncompressed_bytes)
                .err()
                .map_or(error, E::from));
        }
        if filled < block.len() {
            return Ok(());
        }
    }
}

/// Reads `decoder` to its end, dropping the CSV; returns the gzip error if the input turns out damaged.
fn settle(
    decoder: &mut impl Read,
    block: &mut [u8],
    mut uncompressed_bytes: u64,
) -> Result<(), ConvertError> {
    loop {
        let filled = stream::fill(decoder, block)
            .map_err(|source| stream::gzip_error(uncompressed_bytes, source))?;
        uncompressed_bytes += filled as u64;
        if filled < block.len() {
            return Ok(());
        }
    }
}
