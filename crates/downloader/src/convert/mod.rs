//! Streaming conversion of Tardis `.csv.gz` files into typed Parquet.
//!
//! [`convert`] turns the raw body of one dataset file, as it downloads, into the bytes of one Parquet file, emitted
//! as row groups complete with the footer last, ready for a multipart upload. [`schema`] gives the Arrow schema of
//! each data type; docs/SCHEMAS.md documents every column. [`convert_reader`] does the same work synchronously on
//! one thread, for tests and tools.
//!
//! The work runs on three threads per conversion, never on the async runtime: one inflates the gzip members (with
//! tardis-client's decoder, [`tardis_client::gzip`]: ISA-L by default, every member's CRC-32 and size checked), one
//! parses CSV rows into Arrow batches, one encodes them with the `parquet` crate; together they keep two cores busy.
//! Memory is bounded by a few blocks of CSV, three Arrow batches (about 2 MiB each: one being parsed, one queued,
//! one being encoded), the column writers' pages and one row group (at most `row_group_bytes`, 4 MiB, encoded),
//! whatever the file size.
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
//! };
//! let parquet: Vec<bytes::Bytes> = convert::convert(input, DataType::Trades, partition, ConvertOptions::default())
//!     .try_collect()
//!     .await?;
//! assert_eq!(&parquet.concat()[..4], b"PAR1");
//! # Ok::<(), convert::ConvertError>(())
//! # }).unwrap();
//! ```

mod builder;
mod encode;
mod error;
mod parse;
mod schema;
mod stream;

use std::io::{Read, Write};
use std::num::NonZeroUsize;

use bytes::Bytes;
use futures::Stream;
use md_config::{DataType, ParquetCompression, ParquetOptions};

pub use error::ConvertError;
pub use schema::{csv_header, schema};
pub use stream::ParquetStream;

/// How Parquet files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Page compression codec (`MD_PARQUET_COMPRESSION`).
    pub compression: ParquetCompression,
    /// Most rows per row group (`MD_PARQUET_ROW_GROUP_SIZE`).
    pub row_group_size: NonZeroUsize,
    /// Most encoded bytes per row group, whichever limit comes first: it bounds memory for wide rows
    /// (a row group is held in memory until it is complete). Defaults to [`ROW_GROUP_BYTES`].
    pub row_group_bytes: NonZeroUsize,
    /// Most rows per Arrow batch (`BATCH_SIZE`); wide data types use fewer, so a batch stays near 2 MiB.
    pub batch_size: NonZeroUsize,
}

/// The default most encoded bytes per row group.
///
/// A conversion holds its row group in progress (every column's encoded pages and dictionaries) until it is complete,
/// so this bounds most of a conversion's memory. 4 MiB is about 190,000 rows of `book_snapshot_5` and 700,000 of
/// `trades`, near the row groups DuckDB (122,880 rows) and Polars write. On a 64 MiB `book_snapshot_5` file, 16 MiB
/// row groups (the earlier default) peaked at 70 MiB of RSS for the conversion alone, 4 MiB ones at 43 MiB (with
/// 2 MiB batches), with a file 1% smaller: a float column's dictionary more often stays under its page limit.
pub const ROW_GROUP_BYTES: usize = 4 << 20;

impl ConvertOptions {
    /// Returns the options from the configuration's Parquet settings and `BATCH_SIZE`.
    pub fn new(parquet: &ParquetOptions, batch_size: NonZeroUsize) -> Self {
        ConvertOptions {
            compression: parquet.compression,
            row_group_size: parquet.row_group_size,
            batch_size,
            row_group_bytes: NonZeroUsize::new(ROW_GROUP_BYTES).expect("non-zero"),
        }
    }
}

impl Default for ConvertOptions {
    /// The configuration's defaults (`MD_PARQUET_*`, `BATCH_SIZE`), and [`ROW_GROUP_BYTES`] per row group.
    fn default() -> Self {
        ConvertOptions::new(
            &ParquetOptions::default(),
            md_config::ServiceConfig::default().batch_size,
        )
    }
}

/// The partition values written as constant columns into every row of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The day of the file (`date`, and `year`, `month`, `day`).
    pub date: chrono::NaiveDate,
    /// The venue, as the instrument key spells it (e.g. `DERIBIT`).
    pub venue: String,
    /// The instrument key of the object; for a grouped file (`OPTIONS`, `PERPETUALS`, ...) the grouped object's key,
    /// while each row keeps its real `symbol`.
    pub instrument_key: String,
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
}

/// Converts the raw body of one Tardis `.csv.gz` file into one Parquet file, while it streams.
///
/// `input` is the body exactly as downloaded, in chunks of any size; it may hold several gzip members. The returned
/// [`ParquetStream`] yields the Parquet bytes as each row group completes, in pieces of at most about 1 MiB (a row
/// group's last piece may be smaller); the last piece holds the footer.
/// A gzip holding no CSV at all, or only the header, gives a valid file with the schema and no rows.
///
/// The work runs on two threads of its own; this function only starts them. It must not be called from a thread
/// that is itself blocked on the stream (the stream drives the input).
///
/// # Errors
///
/// The stream yields one error and ends if the input fails (the input's own error, as it came), the gzip is bad or truncated
/// ([`ConvertError::Gzip`]), the header differs from the data type's ([`ConvertError::Header`]), or a row is
/// malformed ([`ConvertError::FieldCount`], [`ConvertError::Cell`] with the line number, column and text); conversion
/// errors reach the caller as `E::from(ConvertError)`, so one error type carries both. A bad header or row is
/// reported only after the rest of the gzip has been read and found intact: a byte damaged on the way often shows
/// first as a garbled row, and is then reported as the retryable [`ConvertError::Gzip`], not as bad data. No footer
/// is emitted then: what was yielded before the error is not a valid Parquet file.
///
/// # Cancel safety
///
/// Dropping the stream cancels the conversion; the threads exit within about one block of work (256 KiB of CSV).
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
/// As [`convert`], plus [`ConvertError::Output`] when `output` fails. On error, `output` may hold the row groups
/// written so far but never a footer.
pub fn convert_reader(
    gzip: impl Read,
    mut output: impl Write,
    data_type: DataType,
    partition: &Partition,
    options: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let mut encoder = encode::Encoder::new(data_type, partition, options)?;
    let mut decoder = tardis_client::gzip::GzipReader::new(std::io::BufReader::new(gzip));
    let mut block = vec![0; stream::BLOCK_BYTES];
    let mut uncompressed_bytes = 0u64;
    let write = |output: &mut dyn Write, bytes: Bytes| {
        output.write_all(&bytes).map_err(|source| ConvertError::Output { source })
    };
    loop {
        let filled = stream::fill(&mut decoder, &mut block)
            .map_err(|source| stream::gzip_error(uncompressed_bytes, source))?;
        uncompressed_bytes += filled as u64;
        if let Err(error) = encoder.push(&block[..filled]) {
            // As the streaming converter does: a bad row is the file's fault only if the gzip is intact.
            return Err(settle(&mut decoder, &mut block, uncompressed_bytes)
                .err()
                .unwrap_or(error));
        }
        if let Some(bytes) = encoder.take_output()? {
            write(&mut output, bytes)?;
        }
        if filled < block.len() {
            break;
        }
    }
    let (bytes, summary) = encoder.finish()?;
    write(&mut output, bytes)?;
    output.flush().map_err(|source| ConvertError::Output { source })?;
    Ok(summary)
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
