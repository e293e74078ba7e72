//! The synchronous core: CSV text in, Arrow batches, Parquet bytes out.
//!
//! [`Parser`] takes the inflated CSV in blocks of any size (a block may end in the middle of a line), checks the
//! header and parses every row into column builders, producing an Arrow batch every `batch_size` rows.
//! [`ParquetSink`] encodes batches and makes the bytes of each completed row group available; the footer is written
//! only by [`ParquetSink::finish`]. The streaming converter runs them on separate threads; [`Encoder`] chains them
//! on one.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, SchemaRef};
use bytes::Bytes;
use chrono::Datelike;
use md_config::{DataType, ParquetCompression};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::builder::ColumnBuilder;
use super::error::{ConvertError, excerpt};
use super::schema::{self, CsvColumn, Kind};
use super::{ConvertOptions, ConvertSummary, Partition};

/// The longest CSV line accepted (a book_snapshot_25 line is about 1.3 KB).
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Target size of one Arrow batch: wide schemas (book_snapshot_25) get fewer rows per batch.
const BATCH_BYTES: usize = 8 << 20;

/// A batch is cut early once its string column holds this many bytes.
const BATCH_TEXT_BYTES: usize = 64 << 20;

/// Parses CSV text into Arrow batches.
#[derive(Debug)]
pub(crate) struct Parser {
    data_type: DataType,
    columns: Vec<CsvColumn>,
    builders: Vec<ColumnBuilder>,
    text_column: Option<usize>,
    schema: SchemaRef,
    /// The partition values, and their constant columns as long as the longest batch so far (sliced when shorter).
    partition: Partition,
    partition_arrays: Vec<ArrayRef>,
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

/// Encodes Arrow batches into Parquet bytes.
#[derive(Debug)]
pub(crate) struct ParquetSink {
    writer: ArrowWriter<Vec<u8>>,
    row_groups_emitted: usize,
    parquet_bytes: u64,
}

impl ParquetSink {
    /// Returns a sink writing a file of `data_type`.
    pub(crate) fn new(data_type: DataType, options: &ConvertOptions) -> Result<Self, ConvertError> {
        let writer = ArrowWriter::try_new_with_options(
            Vec::new(),
            schema::schema(data_type),
            ArrowWriterOptions::new().with_properties(writer_properties(data_type, options)),
        )?;
        Ok(ParquetSink { writer, row_groups_emitted: 0, parquet_bytes: 0 })
    }

    /// Encodes one batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        Ok(self.writer.write(batch)?)
    }

    /// Returns the Parquet bytes of the row groups completed since the last call, if any.
    pub(crate) fn take_output(&mut self) -> Result<Option<Bytes>, ConvertError> {
        let flushed = self.writer.flushed_row_groups().len();
        if flushed == self.row_groups_emitted {
            return Ok(None);
        }
        self.row_groups_emitted = flushed;
        self.writer.sync().map_err(|source| ConvertError::Output { source })?;
        let bytes = std::mem::take(self.writer.inner_mut());
        self.parquet_bytes += bytes.len() as u64;
        Ok(Some(Bytes::from(bytes)))
    }

    /// Flushes the last row group and writes the footer; returns the remaining bytes and the summary.
    pub(crate) fn finish(
        self,
        parsed: ParseSummary,
    ) -> Result<(Bytes, ConvertSummary), ConvertError> {
        let row_groups = self.writer.flushed_row_groups().len()
            + usize::from(self.writer.in_progress_rows() > 0);
        let bytes = Bytes::from(self.writer.into_inner()?);
        let summary = ConvertSummary {
            rows: parsed.rows,
            csv_bytes: parsed.csv_bytes,
            parquet_bytes: self.parquet_bytes + bytes.len() as u64,
            row_groups,
        };
        Ok((bytes, summary))
    }
}

/// Converts CSV text into Parquet bytes on the calling thread: a [`Parser`] feeding a [`ParquetSink`].
#[derive(Debug)]
pub(crate) struct Encoder {
    parser: Parser,
    sink: ParquetSink,
}

impl Encoder {
    /// Returns an encoder for one file of `data_type`.
    pub(crate) fn new(
        data_type: DataType,
        partition: &Partition,
        options: &ConvertOptions,
    ) -> Result<Self, ConvertError> {
        Ok(Encoder {
            parser: Parser::new(data_type, partition, options),
            sink: ParquetSink::new(data_type, options)?,
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
        self.sink.finish(parsed)
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
    pub(crate) fn new(
        data_type: DataType,
        partition: &Partition,
        options: &ConvertOptions,
    ) -> Self {
        let columns = schema::csv_columns(data_type);
        let row_bytes: usize =
            columns.iter().map(|column| if column.kind == Kind::Text { 32 } else { 8 }).sum();
        let batch_rows = options.batch_size.get().min((BATCH_BYTES / row_bytes).max(1024));
        let builders =
            columns.iter().map(|column| ColumnBuilder::new(column.kind, batch_rows)).collect();
        let text_column = columns.iter().position(|column| column.kind == Kind::Text);
        Parser {
            data_type,
            partition: partition.clone(),
            partition_arrays: Vec::new(),
            ready: Vec::new(),
            columns,
            builders,
            text_column,
            schema: schema::schema(data_type),
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

    /// The hot loop: one vectorised scan for separators over the whole block.
    fn fast_lines(&mut self, block: &[u8]) -> Result<(), ConvertError> {
        let last_column = self.columns.len() - 1;
        let mut field = 0usize;
        let mut start = 0usize;
        for position in memchr::memchr2_iter(b',', b'\n', block) {
            let cell = &block[start..position];
            start = position + 1;
            if block[position] == b',' {
                if field == last_column {
                    return Err(self.field_count_error(block, position));
                }
                self.cell(field, cell)?;
                field += 1;
            } else {
                self.end_row(field, cell, block, position)?;
                field = 0;
            }
        }
        let cell = &block[start..];
        self.end_row(field, cell, block, block.len())
    }

    #[inline]
    fn end_row(
        &mut self,
        field: usize,
        cell: &[u8],
        block: &[u8],
        position: usize,
    ) -> Result<(), ConvertError> {
        let cell = cell.strip_suffix(b"\r").unwrap_or(cell);
        if field != self.columns.len() - 1 {
            if field == 0 && cell.is_empty() {
                // A blank line holds no row: skip it, as pandas and DuckDB do.
                self.line += 1;
                return Ok(());
            }
            return Err(self.field_count_error(block, position));
        }
        self.cell(field, cell)?;
        self.line += 1;
        self.finish_row()
    }

    /// Builds the error for the line that contains `position` (the line is line `self.line + 1`).
    #[cold]
    fn field_count_error(&self, block: &[u8], position: usize) -> ConvertError {
        let start = memchr::memrchr(b'\n', &block[..position.min(block.len())])
            .map_or(0, |index| index + 1);
        let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |index| start + index);
        let found = block[start..end].split(|&byte| byte == b',').count();
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
        if self.partition_arrays.first().is_none_or(|array| array.len() < rows) {
            self.partition_arrays = partition_arrays(self.data_type, &self.partition, rows);
        }
        for array in &self.partition_arrays {
            arrays.push(if array.len() == rows { array.clone() } else { array.slice(0, rows) });
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

fn constant_dictionary(value: &str, rows: usize) -> ArrayRef {
    let keys = Int32Array::from(vec![0; rows]);
    Arc::new(DictionaryArray::<Int32Type>::new(keys, Arc::new(StringArray::from(vec![value]))))
}

/// Builds the constant partition columns, `rows` long.
fn partition_arrays(data_type: DataType, partition: &Partition, rows: usize) -> Vec<ArrayRef> {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    let days =
        i32::try_from(partition.date.signed_duration_since(epoch).num_days()).unwrap_or(i32::MAX);
    let int = |value: u32| -> ArrayRef {
        Arc::new(Int32Array::from(vec![i32::try_from(value).unwrap_or(0); rows]))
    };
    vec![
        Arc::new(Date32Array::from(vec![days; rows])),
        constant_dictionary(&partition.venue, rows),
        constant_dictionary(&partition.instrument_key, rows),
        constant_dictionary(data_type.as_str(), rows),
        Arc::new(Int32Array::from(vec![partition.date.year(); rows])) as ArrayRef,
        int(partition.date.month()),
        int(partition.date.day()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
