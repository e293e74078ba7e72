//! The writing side of a conversion: Arrow batches in, Parquet bytes out.
//!
//! [`ParquetSink`] encodes batches and writes each completed row group to its writer; the footer is written only
//! by [`ParquetSink::finish`]. [`FileWriter`] writes one file: through one sink as batches arrive (typed schema),
//! or, for the original schema's sorted files, through a provisional file that the late rows are merged into at
//! the end ([`super::assemble`]). [`RowSource`] is the reading side that feeds it: the CSV parser, and the sorter
//! when the layout sorts. The streaming converter runs them on separate threads; [`Encoder`] chains them on one.

use std::io::Write;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int32Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType as ArrowType, Int32Type, SchemaRef};
use bytes::Bytes;
use chrono::Datelike;
use md_config::{DataType, ParquetCompression};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions, compute_leaves,
};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::{ColumnCloseResult, ColumnWriter, get_column_writer};
use parquet::data_type::ByteArray;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};

use super::assemble::SortedWriter;
pub(crate) use super::csv::ParseSummary;
use super::csv::Parser;
use super::error::ConvertError;
use super::schema::Layout;
use super::sort::{LateRows, Sorter};
use super::spill::Stored;
use super::{ConvertOptions, ConvertSummary, Partition};

/// Encodes Arrow batches into Parquet bytes, managing row groups itself.
///
/// Most columns go through the `parquet` crate's Arrow column writers. Constant columns are cheaper: the partition
/// columns always, and a dictionary column (exchange, symbol, ...) while every row of the row group holds the same
/// value. Their column chunks are encoded once per value and row-group length and spliced into each row group:
/// encoding the partition columns value by value would cost about as much as all the CSV columns together.
pub(crate) struct ParquetSink<W: Write + Send> {
    file: SerializedFileWriter<Counted<W>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The CSV columns of the row group in progress (empty between row groups).
    columns: Vec<ColumnSlot>,
    /// The partition values, in schema order after the CSV columns.
    constants: Vec<Constant>,
    rows_in_group: usize,
    /// Rows per row group: the configured count, lowered once if a row group reaches the byte limit first.
    group_rows: usize,
    group_bytes: usize,
    /// Encoded constant column chunks: (column index, value, rows) and the chunk.
    chunk_cache: Vec<(ChunkKey, EncodedChunk)>,
}

impl<W: Write + Send> std::fmt::Debug for ParquetSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetSink")
            .field("rows_in_group", &self.rows_in_group)
            .field("group_rows", &self.group_rows)
            .field("bytes_written", &self.file.bytes_written())
            .finish_non_exhaustive()
    }
}

/// An encoded column chunk, ready to splice into a row group.
type EncodedChunk = (Bytes, ColumnCloseResult);

/// Which constant chunk: column index, value and rows.
type ChunkKey = (usize, Constant, usize);

/// A constant column value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Constant {
    Int(i32),
    Text(String),
}

/// One CSV column of the row group in progress.
struct ColumnSlot {
    writer: ArrowColumnWriter,
    /// `Some` while every row so far holds one value (dictionary columns only; the value once a batch arrives):
    /// nothing has gone through the writer then.
    constant: Option<Option<String>>,
}

/// Rows written per call when encoding a constant column chunk.
const CONSTANT_CHUNK_ROWS: usize = 64 << 10;

/// Returns the single value of a dictionary column without nulls whose rows all hold one key.
fn single_value(array: &ArrayRef) -> Option<&str> {
    let dictionary = array.as_dictionary_opt::<Int32Type>()?;
    let keys = dictionary.keys();
    if keys.null_count() > 0 {
        return None;
    }
    let first = *keys.values().first()?;
    if !keys.values().iter().all(|key| *key == first) {
        return None;
    }
    let values = dictionary.values().as_string_opt::<i32>()?;
    Some(values.value(usize::try_from(first).ok()?))
}

impl<W: Write + Send> ParquetSink<W> {
    /// Returns a sink writing a file laid out as `layout` to `output`, without partition values (see
    /// [`ParquetSink::with_partition`]).
    pub(crate) fn new(
        layout: &Layout,
        options: &ConvertOptions,
        output: W,
    ) -> Result<Self, ConvertError> {
        let schema = layout.file_schema.clone();
        let properties = writer_properties(layout, options);
        // The Arrow writer embeds the Arrow schema in the file metadata; its lower-level parts do the rest.
        let (file, factory) = ArrowWriter::try_new_with_options(
            Counted { inner: output, bytes: 0 },
            layout.writer_schema(),
            ArrowWriterOptions::new().with_properties(properties),
        )?
        .into_serialized_writer()?;
        Ok(ParquetSink {
            file,
            factory,
            schema,
            columns: Vec::new(),
            constants: Vec::new(),
            rows_in_group: 0,
            group_rows: options.row_group_size.get(),
            group_bytes: options.row_group_bytes.get(),
            chunk_cache: Vec::new(),
        })
    }

    /// Writes `partition`'s values in the layout's partition columns (typed schema; the original has none).
    pub(crate) fn with_partition(mut self, layout: &Layout, partition: &Partition) -> Self {
        if layout.has_partition_columns() {
            self.constants = partition_constants(layout.data_type, partition);
        }
        self
    }

    /// Encodes one batch of the CSV columns.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            if self.columns.is_empty() {
                self.start_row_group()?;
            }
            let rows = (self.group_rows - self.rows_in_group).min(batch.num_rows() - offset);
            let part =
                if rows == batch.num_rows() { batch.clone() } else { batch.slice(offset, rows) };
            for index in 0..self.columns.len() {
                self.write_column(index, part.column(index))?;
            }
            self.rows_in_group += rows;
            offset += rows;
            if self.rows_in_group >= self.group_rows {
                self.flush()?;
            } else if self
                .columns
                .iter()
                .map(|slot| slot.writer.get_estimated_total_bytes())
                .sum::<usize>()
                >= self.group_bytes
            {
                // Wide or poorly compressible rows: keep this length for the rest of the file.
                self.group_rows = self.rows_in_group;
                self.flush()?;
            }
        }
        Ok(())
    }

    fn start_row_group(&mut self) -> Result<(), ConvertError> {
        let index = self.file.flushed_row_groups().len();
        let mut writers = self.factory.create_column_writers(index)?;
        writers.truncate(self.schema.fields().len() - self.constants.len());
        self.columns = writers
            .into_iter()
            .enumerate()
            .map(|(index, writer)| {
                let dictionary =
                    matches!(self.schema.field(index).data_type(), ArrowType::Dictionary(_, _));
                ColumnSlot { writer, constant: dictionary.then_some(None) }
            })
            .collect();
        Ok(())
    }

    fn write_column(&mut self, index: usize, array: &ArrayRef) -> Result<(), ConvertError> {
        let rows_before = self.rows_in_group;
        let field = self.schema.field(index);
        let slot = &mut self.columns[index];
        if let Some(held) = &mut slot.constant {
            match (held.as_deref(), single_value(array)) {
                (None, Some(single)) if rows_before == 0 => {
                    *held = Some(single.to_owned());
                    return Ok(());
                }
                (Some(value), Some(single)) if value == single => return Ok(()),
                _ => {}
            }
            // The column stops being constant: write the rows held so far, then go on normally.
            if let Some(value) = held.take()
                && rows_before > 0
            {
                let keys = Int32Array::from(vec![0; rows_before]);
                let values: ArrayRef = Arc::new(StringArray::from(vec![value]));
                let held: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::new(keys, values));
                for leaf in compute_leaves(field, &held)? {
                    slot.writer.write(&leaf)?;
                }
            }
            slot.constant = None;
        }
        for leaf in compute_leaves(field, array)? {
            slot.writer.write(&leaf)?;
        }
        Ok(())
    }

    /// Writes the row group in progress, if any: the next rows start a new one.
    pub(crate) fn flush(&mut self) -> Result<(), ConvertError> {
        if self.rows_in_group == 0 {
            return Ok(());
        }
        let rows = self.rows_in_group;
        let columns = std::mem::take(&mut self.columns);
        let csv_columns = columns.len();
        let mut chunks = Vec::with_capacity(columns.len());
        for (index, slot) in columns.into_iter().enumerate() {
            chunks.push(match slot.constant {
                Some(Some(value)) => {
                    Err(self.constant_chunk(index, &Constant::Text(value), rows)?)
                }
                _ => Ok(slot.writer.close()?),
            });
        }
        for (offset, constant) in self.constants.clone().iter().enumerate() {
            chunks.push(Err(self.constant_chunk(csv_columns + offset, constant, rows)?));
        }
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            match chunk {
                Ok(encoded) => encoded.append_to_row_group(&mut row_group)?,
                Err((bytes, close)) => row_group.append_column(&bytes, close)?,
            }
        }
        row_group.close()?;
        self.rows_in_group = 0;
        // Hand the row group's last bytes to the writer now rather than with the next row group.
        self.file.flush().map_err(|source| ConvertError::Output { source })?;
        Ok(())
    }

    /// Returns the encoded chunk of column `index` holding `rows` times `constant`.
    fn constant_chunk(
        &mut self,
        index: usize,
        constant: &Constant,
        rows: usize,
    ) -> Result<EncodedChunk, ConvertError> {
        if let Some((_, chunk)) = self.chunk_cache.iter().find(|((column, value, length), _)| {
            *column == index && value == constant && *length == rows
        }) {
            return Ok(chunk.clone());
        }
        let column = self.file.schema_descr().column(index);
        let nullable = column.max_def_level() > 0;
        let mut buffer = TrackedWrite::new(Vec::new());
        let page_writer = Box::new(SerializedPageWriter::new(&mut buffer));
        let mut writer = get_column_writer(column, self.file.properties().clone(), page_writer);
        let batch = rows.min(CONSTANT_CHUNK_ROWS);
        let levels = vec![1i16; if nullable { batch } else { 0 }];
        let levels = |count: usize| nullable.then(|| &levels[..count]);
        match (&mut writer, constant) {
            (ColumnWriter::Int32ColumnWriter(typed), Constant::Int(value)) => {
                let values = vec![*value; batch];
                for start in (0..rows).step_by(batch) {
                    let count = batch.min(rows - start);
                    typed.write_batch(&values[..count], levels(count), None)?;
                }
            }
            (ColumnWriter::ByteArrayColumnWriter(typed), Constant::Text(value)) => {
                let values = vec![ByteArray::from(value.as_bytes().to_vec()); batch];
                for start in (0..rows).step_by(batch) {
                    let count = batch.min(rows - start);
                    typed.write_batch(&values[..count], levels(count), None)?;
                }
            }
            _ => unreachable!("constant columns are Int32/Date32 or strings"),
        }
        let close = writer.close()?;
        let chunk = (Bytes::from(buffer.into_inner()?), close);
        // A file has few distinct constants and row-group lengths: keep the latest few.
        if self.chunk_cache.len() >= 64 {
            self.chunk_cache.remove(0);
        }
        self.chunk_cache.push(((index, constant.clone(), rows), chunk.clone()));
        Ok(chunk)
    }

    /// Appends row group `group` of a Parquet file with the same schema, as it is encoded there (pages,
    /// statistics and page index), after the row group in progress is written.
    pub(crate) fn splice(
        &mut self,
        reader: &Stored,
        metadata: &ParquetMetaData,
        group: usize,
    ) -> Result<(), ConvertError> {
        self.flush()?;
        let row_group = metadata.row_group(group);
        let page_index = metadata.page_index_for_row_group(group);
        let rows = u64::try_from(row_group.num_rows()).unwrap_or(0);
        let mut writer = self.file.next_row_group()?;
        for (index, column) in row_group.columns().iter().enumerate() {
            let close = ColumnCloseResult {
                bytes_written: u64::try_from(column.compressed_size()).unwrap_or(0),
                rows_written: rows,
                metadata: column.clone(),
                bloom_filter: None,
                column_index: page_index.column_index(index).cloned(),
                offset_index: page_index.offset_index(index).cloned(),
            };
            writer.append_column(reader, close)?;
        }
        writer.close()?;
        self.file.flush().map_err(|source| ConvertError::Output { source })?;
        Ok(())
    }

    /// Returns the most rows per row group (lowered once if a row group reached the byte limit first).
    pub(crate) fn group_rows(&self) -> usize {
        self.group_rows
    }

    /// Flushes the last row group and writes the footer; returns the row groups, the bytes written and the output.
    pub(crate) fn finish(mut self) -> Result<(usize, u64, W), ConvertError> {
        self.flush()?;
        let row_groups = self.file.flushed_row_groups().len();
        let output = self.file.into_inner()?;
        Ok((row_groups, output.bytes, output.inner))
    }
}

/// A writer that counts the bytes written through it.
#[derive(Debug)]
pub(crate) struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Returns the partition values in schema order.
fn partition_constants(data_type: DataType, partition: &Partition) -> Vec<Constant> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let days =
        i32::try_from(partition.date.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX);
    let int = |value: u32| Constant::Int(i32::try_from(value).unwrap_or(0));
    vec![
        Constant::Int(days),
        Constant::Text(partition.venue.clone()),
        Constant::Text(partition.instrument_key.clone()),
        Constant::Text(data_type.as_str().to_owned()),
        Constant::Int(partition.date.year()),
        int(partition.date.month()),
        int(partition.date.day()),
    ]
}

/// Returns the writer properties of a file laid out as `layout` under `options`.
pub(crate) fn writer_properties(layout: &Layout, options: &ConvertOptions) -> WriterProperties {
    let compression = match options.compression {
        ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::None => Compression::UNCOMPRESSED,
    };
    let builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(options.row_group_size.get()))
        .set_max_row_group_bytes(Some(options.row_group_bytes.get()));
    layout.column_encodings(builder).build()
}

/// What one converted file is: its layout, the partition it holds and the conversion options; what the reading
/// side ([`RowSource`]) and the writing side ([`FileWriter`]) of one conversion are both built from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSpec<'a> {
    /// The file's columns and order.
    pub(crate) layout: &'a Layout,
    /// The day, venue and instrument the file holds.
    pub(crate) partition: &'a Partition,
    /// Batch, row-group, sort and compression settings.
    pub(crate) options: &'a ConvertOptions,
}

/// Writes one converted file: row groups as batches arrive (typed schema), or the original schema's sorted file.
#[derive(Debug)]
pub(crate) enum FileWriter<W: Write + Send> {
    /// Every batch goes straight into the file, in file order.
    Direct(ParquetSink<W>),
    /// The main rows in `timestamp` order, then the late rows merged in.
    Sorted(SortedWriter<W>),
}

impl<W: Write + Send> FileWriter<W> {
    /// Returns a writer of `file` into `output`.
    pub(crate) fn new(file: FileSpec<'_>, output: W) -> Result<Self, ConvertError> {
        let FileSpec { layout, partition, options } = file;
        Ok(match layout.sort_key {
            Some(_) => FileWriter::Sorted(SortedWriter::new(layout, options, output)?),
            None => FileWriter::Direct(
                ParquetSink::new(layout, options, output)?.with_partition(layout, partition),
            ),
        })
    }

    /// Writes the next batch: in file order (typed), or the next main rows in `timestamp` order (sorted).
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        match self {
            FileWriter::Direct(sink) => sink.write(batch),
            FileWriter::Sorted(writer) => writer.write(batch),
        }
    }

    /// Ends the main rows; the late rows follow, sorted.
    pub(crate) fn end_main(&mut self) -> Result<(), ConvertError> {
        match self {
            FileWriter::Direct(_) => Ok(()),
            FileWriter::Sorted(writer) => writer.end_main(),
        }
    }

    /// Writes the next late rows, in `timestamp` order.
    pub(crate) fn write_late(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        match self {
            // The typed schema keeps file order: there are no late rows.
            FileWriter::Direct(sink) => sink.write(batch),
            FileWriter::Sorted(writer) => writer.write_late(batch),
        }
    }

    /// Writes the rest of the file and its footer; returns the output and what was converted.
    pub(crate) fn finish(self, parsed: ParseSummary) -> Result<(W, ConvertSummary), ConvertError> {
        let mut summary = ConvertSummary {
            rows: parsed.rows,
            csv_bytes: parsed.csv_bytes,
            ..ConvertSummary::default()
        };
        let mut output = match self {
            FileWriter::Direct(sink) => {
                let output;
                (summary.row_groups, summary.parquet_bytes, output) = sink.finish()?;
                output
            }
            FileWriter::Sorted(writer) => writer.finish(&mut summary)?,
        };
        output.flush().map_err(|source| ConvertError::Output { source })?;
        Ok((output, summary))
    }
}

/// The reading side of a conversion: CSV blocks in, the writer's batches out (sorted when the layout sorts).
#[derive(Debug)]
pub(crate) struct RowSource {
    parser: Parser,
    sorter: Option<Sorter>,
    ready: Vec<RecordBatch>,
}

impl RowSource {
    /// Returns the source of `file`.
    pub(crate) fn new(file: FileSpec<'_>) -> Self {
        let FileSpec { layout, partition, options } = file;
        let parser = Parser::new(layout, options, partition);
        let sorter = layout.sort_key.map(|key| {
            Sorter::new(
                layout.batch_schema.clone(),
                key,
                parser.batch_rows(),
                options.sort_window_bytes.get(),
                options.late_memory_bytes.get(),
                &options.spill_dir,
            )
        });
        RowSource { parser, sorter, ready: Vec::new() }
    }

    /// Consumes the next block of CSV text; a block may begin or end in the middle of a line.
    pub(crate) fn push(&mut self, block: &[u8]) -> Result<(), ConvertError> {
        self.parser.push(block)?;
        self.route()
    }

    fn route(&mut self) -> Result<(), ConvertError> {
        let batches = self.parser.take_batches();
        match &mut self.sorter {
            None => self.ready.extend(batches),
            Some(sorter) => {
                for batch in batches {
                    sorter.push(batch)?;
                }
                self.ready.extend(sorter.take_sorted());
            }
        }
        Ok(())
    }

    /// Returns the batches ready for [`FileWriter::write`], in order.
    pub(crate) fn take_main(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// Ends the file: the last main batches are then ready, and the late rows (sorted layouts) are returned.
    pub(crate) fn finish(&mut self) -> Result<(ParseSummary, Option<LateRows>), ConvertError> {
        let parsed = self.parser.finish()?;
        self.route()?;
        let late = match &mut self.sorter {
            None => None,
            Some(sorter) => {
                let late = sorter.finish()?;
                self.ready.extend(sorter.take_sorted());
                Some(late)
            }
        };
        Ok((parsed, late))
    }
}

/// Converts CSV text into a Parquet file on the calling thread: a [`RowSource`] feeding a [`FileWriter`].
#[derive(Debug)]
pub(crate) struct Encoder<W: Write + Send> {
    rows: RowSource,
    writer: FileWriter<W>,
}

impl<W: Write + Send> Encoder<W> {
    /// Returns an encoder of `file`, writing to `output`.
    pub(crate) fn new(file: FileSpec<'_>, output: W) -> Result<Self, ConvertError> {
        Ok(Encoder { rows: RowSource::new(file), writer: FileWriter::new(file, output)? })
    }

    /// Consumes the next block of CSV text.
    pub(crate) fn push(&mut self, block: &[u8]) -> Result<(), ConvertError> {
        self.rows.push(block)?;
        for batch in self.rows.take_main() {
            self.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Ends the file; returns the output (footer written) and what was converted.
    pub(crate) fn finish(mut self) -> Result<(W, ConvertSummary), ConvertError> {
        let (parsed, late) = self.rows.finish()?;
        for batch in self.rows.take_main() {
            self.writer.write(&batch)?;
        }
        self.writer.end_main()?;
        if let Some(mut late) = late {
            while let Some(batch) = late.next_batch()? {
                self.writer.write_late(&batch)?;
            }
        }
        self.writer.finish(parsed)
    }
}

#[cfg(test)]
mod tests {
    use md_config::ParquetSchema;

    use super::*;

    fn encode(blocks: &[&[u8]], schema: ParquetSchema) -> Result<Vec<u8>, ConvertError> {
        let partition = Partition {
            date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"),
            venue: "DERIBIT".into(),
            instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
            exchange: "deribit".into(),
            symbol: None,
        };
        let options = ConvertOptions {
            row_group_size: std::num::NonZeroUsize::new(3).expect("non-zero"),
            batch_size: std::num::NonZeroUsize::new(2).expect("non-zero"),
            ..ConvertOptions::default()
        };
        let layout = Layout::new(DataType::Trades, schema);
        let file = FileSpec { layout: &layout, partition: &partition, options: &options };
        let mut encoder = Encoder::new(file, Vec::new())?;
        for block in blocks {
            encoder.push(block)?;
        }
        let (output, summary) = encoder.finish()?;
        assert_eq!(summary.parquet_bytes, output.len() as u64);
        Ok(output)
    }

    /// CRLF and LF line ends, a blank line, empty cells, a dictionary value that changes, no final line end.
    const CSV: &[u8] = b"exchange,symbol,timestamp,local_timestamp,id,side,price,amount\r\n\
        deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,22072000000000,buy,93429.7,380\n\
        deribit,BTC-PERPETUAL,1790812812074055,1790812812107756,,sell,93429.5,\r\n\
        \n\
        deribit,ETH-PERPETUAL,1790812812074056,1790812812107757,abc,,3286.52,1e3\n\
        deribit,BTC-PERPETUAL,1790812812074057,1790812812107758,22072000000003,buy,-0.5,0.001";

    #[test]
    fn every_block_boundary_gives_the_same_file() {
        for schema in ParquetSchema::ALL {
            let reference = encode(&[CSV], *schema).expect("converts");
            for split in 0..=CSV.len() {
                assert_eq!(
                    encode(&[&CSV[..split], &CSV[split..]], *schema).expect("converts"),
                    reference,
                    "{schema} {split}"
                );
            }
            let bytes: Vec<&[u8]> = CSV.chunks(1).collect();
            assert_eq!(encode(&bytes, *schema).expect("converts"), reference, "one byte per block");
        }
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let bad = [CSV, b"\nderibit,BTC-PERPETUAL,1,2,3,buy,x,1\n"].concat();
        for schema in ParquetSchema::ALL {
            let error = encode(&[&bad], *schema).expect_err("a bad price");
            assert!(matches!(error, ConvertError::Cell { line: 7, .. }), "{error:?}");
        }
    }
}
