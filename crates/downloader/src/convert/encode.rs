//! The synchronous core: CSV text in, Arrow batches, Parquet bytes out.
//!
//! [`Parser`] takes the inflated CSV in blocks of any size (a block may end in the middle of a line), checks the
//! header and parses every row into column builders, producing an Arrow batch every `batch_size` rows.
//! [`ParquetSink`] encodes batches and writes the bytes of each completed row group to its writer; the footer is
//! written only by [`ParquetSink::finish`]. The streaming converter runs them on separate threads; [`Encoder`] chains them
//! on one.

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
use parquet::file::properties::WriterProperties;
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};

use super::builder::ColumnBuilder;
use super::error::{ConvertError, excerpt};
use super::parse;
use super::schema::{self, CsvColumn, Kind};
use super::{ConvertOptions, ConvertSummary, Partition};

/// The longest CSV line accepted (a book_snapshot_25 line is about 1.3 KB).
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Target size of one Arrow batch: wide schemas (book_snapshot_25) get fewer rows per batch.
const BATCH_BYTES: usize = 2 << 20;

/// A batch is cut early once its string column holds this many bytes.
const BATCH_TEXT_BYTES: usize = 64 << 20;

/// Parses CSV text into Arrow batches.
#[derive(Debug)]
pub(crate) struct Parser {
    data_type: DataType,
    columns: Vec<CsvColumn>,
    builders: Vec<ColumnBuilder>,
    text_column: Option<usize>,
    /// The CSV columns only: the sink adds the partition columns.
    schema: SchemaRef,
    /// Batches completed and not yet taken.
    ready: Vec<RecordBatch>,
    batch_rows: usize,
    rows_in_batch: usize,
    /// Lines completed so far (the header is line 1).
    line: u64,
    header_seen: bool,
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
    rows: u64,
    csv_bytes: u64,
}

/// What a parser read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ParseSummary {
    /// Data rows.
    pub(crate) rows: u64,
    /// Bytes of CSV.
    pub(crate) csv_bytes: u64,
}

/// Encodes Arrow batches into Parquet bytes, managing row groups itself.
///
/// Most columns go through the `parquet` crate's Arrow column writers. Constant columns are cheaper: the partition
/// columns always, and a dictionary column (exchange, symbol, ...) while every row of the row group holds the same
/// value. Their column chunks are encoded once per value and row-group length and spliced into each row group:
/// encoding the partition columns value by value would cost about as much as all the CSV columns together.
pub(crate) struct ParquetSink<W: Write + Send> {
    file: SerializedFileWriter<W>,
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
    /// Returns a sink writing a file of `data_type` to `output`.
    pub(crate) fn new(
        data_type: DataType,
        partition: &Partition,
        options: &ConvertOptions,
        output: W,
    ) -> Result<Self, ConvertError> {
        let schema = schema::schema(data_type);
        let properties = writer_properties(data_type, options);
        // The Arrow writer embeds the Arrow schema in the file metadata; its lower-level parts do the rest.
        let (file, factory) = ArrowWriter::try_new_with_options(
            output,
            schema.clone(),
            ArrowWriterOptions::new().with_properties(properties),
        )?
        .into_serialized_writer()?;
        Ok(ParquetSink {
            file,
            factory,
            schema,
            columns: Vec::new(),
            constants: partition_constants(data_type, partition),
            rows_in_group: 0,
            group_rows: options.row_group_size.get(),
            group_bytes: options.row_group_bytes.get(),
            chunk_cache: Vec::new(),
        })
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

    /// Writes the row group in progress.
    fn flush(&mut self) -> Result<(), ConvertError> {
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

    /// Flushes the last row group and writes the footer; returns what was converted.
    pub(crate) fn finish(&mut self, parsed: ParseSummary) -> Result<ConvertSummary, ConvertError> {
        self.flush()?;
        let row_groups = self.file.flushed_row_groups().len();
        self.file.finish()?;
        Ok(ConvertSummary {
            rows: parsed.rows,
            csv_bytes: parsed.csv_bytes,
            parquet_bytes: self.file.bytes_written() as u64,
            row_groups,
        })
    }
}

impl ParquetSink<Vec<u8>> {
    /// Returns the bytes written since the last call, if any.
    pub(crate) fn take_output(&mut self) -> Result<Option<Bytes>, ConvertError> {
        self.file.flush().map_err(|source| ConvertError::Output { source })?;
        let bytes = std::mem::take(self.file.inner_mut());
        Ok((!bytes.is_empty()).then(|| Bytes::from(bytes)))
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

/// Converts CSV text into Parquet bytes on the calling thread: a [`Parser`] feeding a [`ParquetSink`].
#[derive(Debug)]
pub(crate) struct Encoder {
    parser: Parser,
    sink: ParquetSink<Vec<u8>>,
}

impl Encoder {
    /// Returns an encoder for one file of `data_type`.
    pub(crate) fn new(
        data_type: DataType,
        partition: &Partition,
        options: &ConvertOptions,
    ) -> Result<Self, ConvertError> {
        Ok(Encoder {
            parser: Parser::new(data_type, options),
            sink: ParquetSink::new(data_type, partition, options, Vec::new())?,
        })
    }

    /// Consumes the next block of CSV text.
    pub(crate) fn push(&mut self, block: &[u8]) -> Result<(), ConvertError> {
        self.parser.push(block)?;
        for batch in self.parser.take_batches() {
            self.sink.write(&batch)?;
        }
        Ok(())
    }

    /// Returns the Parquet bytes of the row groups completed since the last call, if any.
    pub(crate) fn take_output(&mut self) -> Result<Option<Bytes>, ConvertError> {
        self.sink.take_output()
    }

    /// Ends the file; returns the remaining Parquet bytes (footer included) and what was converted.
    pub(crate) fn finish(mut self) -> Result<(Bytes, ConvertSummary), ConvertError> {
        let parsed = self.parser.finish()?;
        for batch in self.parser.take_batches() {
            self.sink.write(&batch)?;
        }
        let summary = self.sink.finish(parsed)?;
        Ok((self.sink.take_output()?.unwrap_or_default(), summary))
    }
}

/// Returns the writer properties for `data_type` under `options`.
pub(crate) fn writer_properties(data_type: DataType, options: &ConvertOptions) -> WriterProperties {
    let compression = match options.compression {
        ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
        ParquetCompression::Snappy => Compression::SNAPPY,
        ParquetCompression::None => Compression::UNCOMPRESSED,
    };
    let builder = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(options.row_group_size.get()))
        .set_max_row_group_bytes(Some(options.row_group_bytes.get()));
    schema::column_encodings(data_type, builder).build()
}

impl Parser {
    /// Returns a parser for one file of `data_type`.
    pub(crate) fn new(data_type: DataType, options: &ConvertOptions) -> Self {
        let columns = schema::csv_columns(data_type);
        let row_bytes: usize =
            columns.iter().map(|column| if column.kind == Kind::Text { 32 } else { 8 }).sum();
        let batch_rows = options.batch_size.get().min((BATCH_BYTES / row_bytes).max(1024));
        let builders =
            columns.iter().map(|column| ColumnBuilder::new(column.kind, batch_rows)).collect();
        let text_column = columns.iter().position(|column| column.kind == Kind::Text);
        Parser {
            data_type,
            ready: Vec::new(),
            columns,
            builders,
            text_column,
            schema: schema::csv_schema(data_type),
            batch_rows,
            rows_in_batch: 0,
            line: 0,
            header_seen: false,
            carry: Vec::new(),
            rows: 0,
            csv_bytes: 0,
        }
    }

    /// Returns the batches completed since the last call.
    pub(crate) fn take_batches(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// Consumes the next block of CSV text; a block may begin or end in the middle of a line.
    pub(crate) fn push(&mut self, mut block: &[u8]) -> Result<(), ConvertError> {
        self.csv_bytes += block.len() as u64;
        if !self.carry.is_empty() {
            let Some(end) = memchr::memchr(b'\n', block) else {
                return self.extend_carry(block);
            };
            self.extend_carry(&block[..end])?;
            let line = std::mem::take(&mut self.carry);
            self.lines(&line)?;
            self.carry = line;
            self.carry.clear();
            block = &block[end + 1..];
        }
        let Some(end) = memchr::memrchr(b'\n', block) else {
            return self.extend_carry(block);
        };
        self.lines(&block[..end])?;
        self.extend_carry(&block[end + 1..])
    }

    fn extend_carry(&mut self, bytes: &[u8]) -> Result<(), ConvertError> {
        if self.carry.len() + bytes.len() > MAX_LINE_BYTES {
            return Err(ConvertError::LineTooLong { line: self.line + 1, limit: MAX_LINE_BYTES });
        }
        self.carry.extend_from_slice(bytes);
        Ok(())
    }

    /// Ends the file: parses a last line without a line end and completes the last batch.
    pub(crate) fn finish(&mut self) -> Result<ParseSummary, ConvertError> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.lines(&line)?;
        }
        if self.rows_in_batch > 0 {
            self.flush_batch()?;
        }
        Ok(ParseSummary { rows: self.rows, csv_bytes: self.csv_bytes })
    }

    /// Converts complete lines: `block` holds lines separated by `\n`, the last one without its line end.
    fn lines(&mut self, mut block: &[u8]) -> Result<(), ConvertError> {
        if !self.header_seen {
            let end = memchr::memchr(b'\n', block).unwrap_or(block.len());
            self.header(&block[..end])?;
            if end == block.len() {
                return Ok(());
            }
            block = &block[end + 1..];
        }
        if memchr::memchr(b'"', block).is_some() {
            // Tardis never quotes, but a quoted cell is valid CSV: take the careful path for this block.
            for line in block.split(|&byte| byte == b'\n') {
                let cells = split_quoted(line).map_err(|problem| ConvertError::Cell {
                    line: self.line + 1,
                    column: "(line)".to_owned(),
                    problem,
                    text: excerpt(line),
                })?;
                self.row(&cells)?;
            }
            return Ok(());
        }
        self.fast_lines(block)
    }

    /// The hot loop: each cell is parsed in the same pass that finds its end.
    fn fast_lines(&mut self, block: &[u8]) -> Result<(), ConvertError> {
        let mut at = 0;
        loop {
            // A blank line holds no row: skip it, as pandas and DuckDB do.
            let blank = match block.get(at) {
                None => Some(block.len()),
                Some(b'\n') => Some(at + 1),
                Some(b'\r') if matches!(block.get(at + 1), None | Some(b'\n')) => Some(at + 2),
                Some(_) => None,
            };
            if let Some(next) = blank {
                self.line += 1;
                if next >= block.len() {
                    return Ok(());
                }
                at = next;
                continue;
            }
            match self.fast_row(block, at)? {
                Some(next) => at = next,
                None => return Ok(()),
            }
        }
    }

    /// Converts the row starting at `block[start]`; returns where the next line starts, or `None` at the block end.
    #[inline]
    fn fast_row(&mut self, block: &[u8], start: usize) -> Result<Option<usize>, ConvertError> {
        let last = self.columns.len() - 1;
        let mut at = start;
        for field in 0..=last {
            let end = if parse::ends_cell(block, at) {
                if self.columns[field].required {
                    return Err(self.cell_error(field, b"", "empty cell in a required column"));
                }
                self.builders[field].push_null();
                at
            } else {
                self.builders[field].push_scanned(block, at).map_err(|problem| {
                    let end = parse::cell_end(block, at);
                    self.cell_error(field, &block[at..end], problem)
                })?
            };
            let separator = block.get(end).copied();
            if field < last {
                if separator != Some(b',') {
                    return Err(self.field_count_error(block, start));
                }
                at = end + 1;
            } else {
                let next = match separator {
                    None => None,
                    Some(b'\n') => Some(end + 1),
                    Some(b'\r') => (block.get(end + 1) == Some(&b'\n')).then_some(end + 2),
                    _ => return Err(self.field_count_error(block, start)),
                };
                self.line += 1;
                self.finish_row()?;
                return Ok(next);
            }
        }
        unreachable!("the loop returns at the last column")
    }

    /// Builds the error for the line that starts at `start` (the line is line `self.line + 1`).
    #[cold]
    fn field_count_error(&self, block: &[u8], start: usize) -> ConvertError {
        let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |index| start + index);
        let line = &block[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let found = line.split(|&byte| byte == b',').count();
        ConvertError::FieldCount { line: self.line + 1, expected: self.columns.len(), found }
    }

    /// Converts one row given as separate cells (the careful path).
    fn row(&mut self, cells: &[Vec<u8>]) -> Result<(), ConvertError> {
        if let [only] = cells
            && only.is_empty()
        {
            self.line += 1;
            return Ok(());
        }
        if cells.len() != self.columns.len() {
            return Err(ConvertError::FieldCount {
                line: self.line + 1,
                expected: self.columns.len(),
                found: cells.len(),
            });
        }
        for (field, cell) in cells.iter().enumerate() {
            self.cell(field, cell)?;
        }
        self.line += 1;
        self.finish_row()
    }

    /// Appends one cell of the line being read (line `self.line + 1`).
    #[inline]
    fn cell(&mut self, field: usize, cell: &[u8]) -> Result<(), ConvertError> {
        let builder = &mut self.builders[field];
        if cell.is_empty() {
            if self.columns[field].required {
                return Err(self.cell_error(field, cell, "empty cell in a required column"));
            }
            builder.push_null();
            return Ok(());
        }
        builder.push(cell).map_err(|problem| self.cell_error(field, cell, problem))
    }

    #[cold]
    fn cell_error(&self, field: usize, cell: &[u8], problem: &'static str) -> ConvertError {
        ConvertError::Cell {
            line: self.line + 1,
            column: self.columns[field].header.clone(),
            problem,
            text: excerpt(cell),
        }
    }

    #[inline]
    fn finish_row(&mut self) -> Result<(), ConvertError> {
        self.rows_in_batch += 1;
        let text_full = self.text_column.is_some_and(|index| match &self.builders[index] {
            ColumnBuilder::Text(builder) => builder.buffered_bytes() >= BATCH_TEXT_BYTES,
            _ => false,
        });
        if self.rows_in_batch == self.batch_rows || text_full {
            self.flush_batch()?;
        }
        Ok(())
    }

    fn header(&mut self, line: &[u8]) -> Result<(), ConvertError> {
        self.line += 1;
        self.header_seen = true;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        let mut found = line.split(|&byte| byte == b',');
        for (index, column) in self.columns.iter().enumerate() {
            match found.next() {
                Some(cell) if cell == column.header.as_bytes() => {}
                other => return Err(self.header_error(index, &column.header, other.map(excerpt))),
            }
        }
        if let Some(extra) = found.next() {
            return Err(self.header_error(self.columns.len(), "", Some(excerpt(extra))));
        }
        Ok(())
    }

    fn header_error(&self, index: usize, expected: &str, found: Option<String>) -> ConvertError {
        let or_end = |text: String| if text.is_empty() { "(end of line)".to_owned() } else { text };
        ConvertError::Header {
            data_type: self.data_type,
            column: index + 1,
            expected: or_end(expected.to_owned()),
            found: found.unwrap_or_else(|| "(end of line)".to_owned()),
        }
    }

    fn flush_batch(&mut self) -> Result<(), ConvertError> {
        let rows = self.rows_in_batch;
        let mut arrays = Vec::with_capacity(self.schema.fields().len());
        for builder in &mut self.builders {
            arrays.push(builder.finish()?);
        }
        self.ready.push(RecordBatch::try_new(self.schema.clone(), arrays)?);
        self.rows += rows as u64;
        self.rows_in_batch = 0;
        Ok(())
    }
}

/// Splits a line that may hold quoted cells (`"a,b"`, `""` for a quote inside quotes).
fn split_quoted(line: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut cells = vec![Vec::new()];
    let mut quoted = false;
    let mut index = 0;
    while index < line.len() {
        let byte = line[index];
        let cell = cells.last_mut().expect("at least one cell");
        match (quoted, byte) {
            (false, b',') => cells.push(Vec::new()),
            (false, b'"') if cell.is_empty() => quoted = true,
            (true, b'"') if line.get(index + 1) == Some(&b'"') => {
                cell.push(b'"');
                index += 1;
            }
            (true, b'"') => {
                quoted = false;
                if !matches!(line.get(index + 1), None | Some(b',')) {
                    return Err("text after a closing quote");
                }
            }
            (false, b'"') => return Err("a quote inside an unquoted cell"),
            (_, byte) => cell.push(byte),
        }
        index += 1;
    }
    if quoted {
        return Err("an unterminated quoted cell");
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(blocks: &[&[u8]]) -> Result<Vec<u8>, ConvertError> {
        let partition = Partition {
            date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"),
            venue: "DERIBIT".into(),
            instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
        };
        let options = ConvertOptions {
            row_group_size: std::num::NonZeroUsize::new(3).expect("non-zero"),
            batch_size: std::num::NonZeroUsize::new(2).expect("non-zero"),
            ..ConvertOptions::default()
        };
        let mut encoder = Encoder::new(DataType::Trades, &partition, &options)?;
        let mut output = Vec::new();
        for block in blocks {
            encoder.push(block)?;
            if let Some(bytes) = encoder.take_output()? {
                output.extend_from_slice(&bytes);
            }
        }
        let (bytes, summary) = encoder.finish()?;
        output.extend_from_slice(&bytes);
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
        let reference = encode(&[CSV]).expect("converts");
        for split in 0..=CSV.len() {
            assert_eq!(
                encode(&[&CSV[..split], &CSV[split..]]).expect("converts"),
                reference,
                "{split}"
            );
        }
        let bytes: Vec<&[u8]> = CSV.chunks(1).collect();
        assert_eq!(encode(&bytes).expect("converts"), reference, "one byte per block");
    }

    #[test]
    fn line_numbers_count_blank_lines() {
        let bad = [CSV, b"\nderibit,BTC-PERPETUAL,1,2,3,buy,x,1\n"].concat();
        let error = encode(&[&bad]).expect_err("a bad price");
        assert!(matches!(error, ConvertError::Cell { line: 7, .. }), "{error:?}");
    }

    #[test]
    fn quoted_cells() {
        assert_eq!(
            split_quoted(b"a,\"b,c\",\"d\"\"e\",").unwrap(),
            vec![b"a".to_vec(), b"b,c".to_vec(), b"d\"e".to_vec(), Vec::new()]
        );
        assert!(split_quoted(b"a,\"b").is_err());
        assert!(split_quoted(b"a,b\"c").is_err());
        assert!(split_quoted(b"\"a\"b").is_err());
    }
}
