//! CSV text in, Arrow batches out.
//!
//! [`Parser`] takes the inflated CSV in blocks of any size (a block may end in the middle of a line), checks the
//! header and parses every row into column builders, producing an Arrow batch every `batch_size` rows. Columns the
//! layout drops (`exchange` and `symbol` in the original schema) are checked against the unit instead. The hive
//! schema's batches begin with the unit's `instrument_key`, the same in every row.

use std::sync::Arc;

use arrow::array::{ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, SchemaRef};
use md_config::DataType;

use super::builder::ColumnBuilder;
use super::error::{ConvertError, excerpt};
use super::parse;
use super::schema::{CsvColumn, Kind, Layout, Role};
use super::{ConvertOptions, Partition};

/// The longest CSV line accepted (a book_snapshot_25 line is about 1.3 KB).
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Target size of one Arrow batch: wide schemas (book_snapshot_25) get fewer rows per batch.
const BATCH_BYTES: usize = 2 << 20;

/// A batch is cut early once its string column holds this many bytes.
const BATCH_TEXT_BYTES: usize = 64 << 20;

/// What becomes of the cells of one CSV column.
#[derive(Debug)]
enum Target {
    /// Parsed into the builder of this index.
    Build(usize),
    /// Compared with the unit's exchange or symbol, then dropped.
    Check(Box<[u8]>),
    /// Dropped unchecked (the symbol of a grouped file).
    Skip,
}

/// Parses CSV text into Arrow batches.
#[derive(Debug)]
pub(crate) struct Parser {
    data_type: DataType,
    /// Every CSV column, in header order.
    columns: Vec<CsvColumn>,
    /// What becomes of each CSV column's cells.
    targets: Vec<Target>,
    /// One per output column.
    builders: Vec<ColumnBuilder>,
    text_column: Option<usize>,
    /// The output columns only: the sink adds the partition columns.
    schema: SchemaRef,
    /// The unit's instrument key, the first column of every batch (hive schema).
    key: Option<String>,
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

impl Parser {
    /// Returns a parser for one file laid out as `layout`, whose rows must name the partition's exchange and symbol
    /// when the layout drops those columns.
    pub(crate) fn new(layout: &Layout, options: &ConvertOptions, partition: &Partition) -> Self {
        let columns = layout.columns.clone();
        let outputs: Vec<&CsvColumn> = layout.outputs().collect();
        let row_bytes: usize =
            outputs.iter().map(|column| if column.kind == Kind::Text { 32 } else { 8 }).sum();
        let batch_rows = options.batch_size.get().min((BATCH_BYTES / row_bytes.max(1)).max(1024));
        let builders =
            outputs.iter().map(|column| ColumnBuilder::new(column.kind, batch_rows)).collect();
        let text_column = outputs.iter().position(|column| column.kind == Kind::Text);
        let mut next_builder = 0;
        let targets = columns
            .iter()
            .map(|column| match column.role {
                Role::Output => {
                    next_builder += 1;
                    Target::Build(next_builder - 1)
                }
                Role::CheckExchange => Target::Check(partition.exchange.as_bytes().into()),
                Role::CheckSymbol => match &partition.symbol {
                    Some(symbol) => Target::Check(symbol.as_bytes().into()),
                    None => Target::Skip,
                },
            })
            .collect();
        Parser {
            data_type: layout.data_type,
            ready: Vec::new(),
            columns,
            targets,
            builders,
            text_column,
            schema: layout.batch_schema.clone(),
            key: layout.keyed.then(|| partition.instrument_key.clone()),
            batch_rows,
            rows_in_batch: 0,
            line: 0,
            header_seen: false,
            carry: Vec::new(),
            rows: 0,
            csv_bytes: 0,
        }
    }

    /// Returns the most rows per batch.
    pub(crate) fn batch_rows(&self) -> usize {
        self.batch_rows
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
                if let Target::Build(index) = self.targets[field] {
                    self.builders[index].push_null();
                }
                at
            } else {
                match &self.targets[field] {
                    Target::Build(index) => {
                        let index = *index;
                        self.builders[index].push_scanned(block, at).map_err(|problem| {
                            let end = parse::cell_end(block, at);
                            self.cell_error(field, &block[at..end], problem)
                        })?
                    }
                    Target::Check(expected) => {
                        let end = at + expected.len();
                        if block.get(at..end) == Some(&expected[..]) && parse::ends_cell(block, end)
                        {
                            end
                        } else {
                            let end = parse::cell_end(block, at);
                            self.check(field, &block[at..end])?;
                            end
                        }
                    }
                    Target::Skip => parse::cell_end(block, at),
                }
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
        if cell.is_empty() {
            if self.columns[field].required {
                return Err(self.cell_error(field, cell, "empty cell in a required column"));
            }
            if let Target::Build(index) = self.targets[field] {
                self.builders[index].push_null();
            }
            return Ok(());
        }
        match self.targets[field] {
            Target::Build(index) => self.builders[index]
                .push(cell)
                .map_err(|problem| self.cell_error(field, cell, problem)),
            Target::Check(_) => self.check(field, cell),
            Target::Skip => Ok(()),
        }
    }

    /// Checks a cell of a checked column against the unit (the cheap exact comparison has failed): Tardis spells
    /// dataset symbols upper case with `-` for `:` and `/`, so the comparison is made that way.
    #[cold]
    fn check(&self, field: usize, cell: &[u8]) -> Result<(), ConvertError> {
        let Target::Check(expected) = &self.targets[field] else { return Ok(()) };
        let normal = |byte: &u8| match byte {
            b':' | b'/' => b'-',
            other => other.to_ascii_uppercase(),
        };
        if cell.len() == expected.len() && cell.iter().map(normal).eq(expected.iter().map(normal)) {
            return Ok(());
        }
        Err(ConvertError::NotTheUnit {
            line: self.line + 1,
            column: self.columns[field].header.clone(),
            expected: String::from_utf8_lossy(expected).into_owned(),
            found: excerpt(cell),
        })
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
        if let Some(key) = &self.key {
            let keys = Int32Array::from(vec![0; rows]);
            let values: ArrayRef = Arc::new(StringArray::from_iter_values([key.as_str()]));
            arrays.push(Arc::new(DictionaryArray::<Int32Type>::try_new(keys, values)?) as ArrayRef);
        }
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
