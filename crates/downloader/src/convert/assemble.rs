//! Writing the original schema's sorted files.
//!
//! The main rows arrive in `timestamp` order while the file is read ([`super::sort`]); they are encoded at once into
//! row groups of a *provisional* file (in memory, then in a temporary file past `provisional_memory_bytes`), since
//! a late row may still belong before any of them. When the file ends:
//!
//! - with no late rows (the usual case), the provisional file is the output, copied out as it is;
//! - otherwise the late rows, sorted, are merged in: each provisional row group that no late row falls into is
//!   copied into the output as it is encoded (pages, statistics, page index), and each one that late rows fall into
//!   is decoded, merged with them and encoded again (into row groups of at most the configured size: a full one and
//!   the rest).
//!
//! So the encoding work is done once for nearly every row, and the extra cost of a sorted file is writing and
//! reading back its encoded bytes.

use std::io::Write;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::{cast, concat_batches, interleave_record_batch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::reader::Length;
use parquet::file::statistics::Statistics;

use super::encode::ParquetSink;
use super::error::ConvertError;
use super::schema::Layout;
use super::sort::timestamps;
use super::spill::{Spill, SpillErrors, Stored};
use super::{ConvertOptions, ConvertSummary};

/// The output is copied from the provisional file in pieces of this size.
const COPY_BYTES: usize = 1 << 20;

/// Writes one sorted file; see the module documentation.
#[derive(Debug)]
pub(crate) struct SortedWriter<W: Write + Send> {
    layout: Layout,
    options: ConvertOptions,
    state: State<W>,
    late_rows: u64,
    /// The provisional file's I/O errors.
    errors: SpillErrors,
}

#[derive(Debug)]
enum State<W: Write + Send> {
    /// Main rows go into the provisional file.
    Main { provisional: Box<ParquetSink<Spill>>, output: W },
    /// The provisional file is complete; no late row yet.
    Ended { provisional: Stored, row_groups: usize, group_rows: usize, output: W },
    /// Late rows are being merged into the output.
    Merging(Box<Merge<W>>),
    /// Between states, and after an error.
    Failed,
}

impl<W: Write + Send> SortedWriter<W> {
    /// Returns a writer of a sorted file laid out as `layout` into `output`.
    pub(crate) fn new(
        layout: &Layout,
        options: &ConvertOptions,
        output: W,
    ) -> Result<Self, ConvertError> {
        let spill = Spill::new(&options.spill_dir, options.provisional_memory_bytes.get());
        let errors = spill.errors();
        let provisional = ParquetSink::new(layout, options, spill)?;
        Ok(SortedWriter {
            layout: layout.clone(),
            options: options.clone(),
            state: State::Main { provisional: Box::new(provisional), output },
            late_rows: 0,
            errors,
        })
    }

    /// Writes the next main rows (in `timestamp` order) into the provisional file.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        match &mut self.state {
            State::Main { provisional, .. } => {
                provisional.write(batch).map_err(|error| self.errors.explain(error))
            }
            _ => Err(ConvertError::Worker),
        }
    }

    /// Completes the provisional file.
    pub(crate) fn end_main(&mut self) -> Result<(), ConvertError> {
        let State::Main { provisional, output } = std::mem::replace(&mut self.state, State::Failed)
        else {
            return Err(ConvertError::Worker);
        };
        let group_rows = provisional.group_rows();
        let (row_groups, _, spill) =
            provisional.finish().map_err(|error| self.errors.explain(error))?;
        let provisional = spill.into_stored()?;
        self.state = State::Ended { provisional, row_groups, group_rows, output };
        Ok(())
    }

    /// Merges the next late rows (in `timestamp` order) into the output.
    pub(crate) fn write_late(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.late_rows += batch.num_rows() as u64;
        if let State::Ended { .. } = self.state {
            let State::Ended { provisional, group_rows, output, .. } =
                std::mem::replace(&mut self.state, State::Failed)
            else {
                unreachable!("matched above")
            };
            let merge = Merge::new(&self.layout, &self.options, provisional, group_rows, output)?;
            self.state = State::Merging(Box::new(merge));
        }
        match &mut self.state {
            State::Merging(merge) => merge.push(batch),
            _ => Err(ConvertError::Worker),
        }
    }

    /// Writes the rest of the file; fills in the summary and returns the output.
    pub(crate) fn finish(mut self, summary: &mut ConvertSummary) -> Result<W, ConvertError> {
        summary.late_rows = self.late_rows;
        if let State::Main { .. } = self.state {
            self.end_main()?;
        }
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Ended { provisional, row_groups, mut output, .. } => {
                let mut offset = 0;
                while offset < provisional.len() {
                    let piece = provisional.read_chunk(offset, COPY_BYTES).map_err(|source| {
                        ConvertError::Spill { dir: self.options.spill_dir.clone(), source }
                    })?;
                    output.write_all(&piece).map_err(|source| ConvertError::Output { source })?;
                    offset += piece.len() as u64;
                }
                summary.row_groups = row_groups;
                summary.parquet_bytes = provisional.len();
                Ok(output)
            }
            State::Merging(merge) => merge.finish(summary),
            State::Main { .. } | State::Failed => Err(ConvertError::Worker),
        }
    }
}

/// Merges the late rows into the provisional file's row groups, writing the output.
#[derive(Debug)]
struct Merge<W: Write + Send> {
    provisional: Stored,
    metadata: ArrowReaderMetadata,
    /// The largest `timestamp` of each provisional row group.
    group_max: Vec<i64>,
    /// The next provisional row group not written to the output yet.
    next: usize,
    /// The rows of row group `next` not merged yet, once a late row has fallen into it.
    open: Option<RecordBatch>,
    /// Merged rows of row group `next` not written yet: a merged row group is written as one or two row groups
    /// of at most `group_rows` rows (two halves rather than a full one and a small rest).
    held: Vec<RecordBatch>,
    held_rows: usize,
    group_rows: usize,
    key: usize,
    file_schema: SchemaRef,
    output: ParquetSink<W>,
    rewritten: usize,
}

impl<W: Write + Send> Merge<W> {
    fn new(
        layout: &Layout,
        options: &ConvertOptions,
        provisional: Stored,
        group_rows: usize,
        output: W,
    ) -> Result<Self, ConvertError> {
        let key = layout.sort_key.ok_or(ConvertError::Worker)?;
        let reading = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let metadata = ArrowReaderMetadata::load(&provisional, reading)?;
        let group_max = metadata
            .metadata()
            .row_groups()
            .iter()
            .map(|group| match group.column(key).statistics() {
                Some(Statistics::Int64(statistics)) => statistics.max_opt().copied(),
                _ => None,
            })
            .collect::<Option<Vec<i64>>>()
            .ok_or(ConvertError::Worker)?;
        let mut options = options.clone();
        options.row_group_size =
            std::num::NonZeroUsize::new(group_rows).unwrap_or(options.row_group_size);
        let output = ParquetSink::new(layout, &options, output)?;
        Ok(Merge {
            provisional,
            metadata,
            group_max,
            next: 0,
            open: None,
            held: Vec::new(),
            held_rows: 0,
            group_rows,
            key,
            file_schema: layout.file_schema.clone(),
            output,
            rewritten: 0,
        })
    }

    /// Takes the next late rows, in order.
    fn push(&mut self, batch: &RecordBatch) -> Result<(), ConvertError> {
        let mut rest = self.to_file_types(batch)?;
        while rest.num_rows() > 0 {
            let Some(&max) = self.group_max.get(self.next) else {
                // After every main row: cannot happen (a late row is below a main row), but keep it.
                return self.hold(rest);
            };
            let inside = timestamps(&rest, self.key).partition_point(|&value| value < max);
            if inside == 0 {
                self.close_group()?;
                continue;
            }
            let part = rest.slice(0, inside);
            rest = rest.slice(inside, rest.num_rows() - inside);
            self.merge_into_group(&part)?;
        }
        Ok(())
    }

    /// Casts late rows to the file's types (their repeated strings are dictionaries).
    fn to_file_types(&self, batch: &RecordBatch) -> Result<RecordBatch, ConvertError> {
        let columns: Vec<ArrayRef> = batch
            .columns()
            .iter()
            .zip(self.file_schema.fields())
            .map(|(column, field)| {
                if column.data_type() == field.data_type() {
                    Ok(column.clone())
                } else {
                    cast(column, field.data_type())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(RecordBatch::try_new(self.file_schema.clone(), columns)?)
    }

    /// Merges late rows that all belong to row group `next` (below its largest timestamp) into it.
    fn merge_into_group(&mut self, late: &RecordBatch) -> Result<(), ConvertError> {
        let group = match self.open.take() {
            Some(group) => group,
            None => self.decode(self.next)?,
        };
        // Rows of the group up to the last late row's timestamp can be written now (ties: the group's rows first,
        // they arrived earlier); later late rows are not below it.
        let last = *timestamps(late, self.key).last().expect("not empty");
        let group_keys = timestamps(&group, self.key);
        let late_keys = timestamps(late, self.key);
        let head = group_keys.partition_point(|&value| value <= last);
        let mut indices = Vec::with_capacity(head + late.num_rows());
        let (mut from_group, mut from_late) = (0, 0);
        while from_group < head || from_late < late_keys.len() {
            let take_group = from_late == late_keys.len()
                || (from_group < head && group_keys[from_group] <= late_keys[from_late]);
            if take_group {
                indices.push((0, from_group));
                from_group += 1;
            } else {
                indices.push((1, from_late));
                from_late += 1;
            }
        }
        let merged = interleave_record_batch(&[&group, late], &indices)?;
        self.hold(merged)?;
        self.open = Some(group.slice(head, group.num_rows() - head));
        Ok(())
    }

    /// Keeps merged rows; writes a full row group whenever two are held (many late rows in one row group).
    fn hold(&mut self, rows: RecordBatch) -> Result<(), ConvertError> {
        self.held_rows += rows.num_rows();
        self.held.push(rows);
        if self.held_rows >= 2 * self.group_rows {
            let held = concat_batches(&self.file_schema, &std::mem::take(&mut self.held))?;
            self.output.write(&held.slice(0, self.group_rows))?;
            self.output.flush()?;
            let rest = held.slice(self.group_rows, held.num_rows() - self.group_rows);
            self.held_rows = rest.num_rows();
            self.held = vec![rest];
        }
        Ok(())
    }

    /// Writes the merged rows held, as one row group or two halves.
    fn write_held(&mut self) -> Result<(), ConvertError> {
        let held = concat_batches(&self.file_schema, &std::mem::take(&mut self.held))?;
        self.held_rows = 0;
        let rows = held.num_rows();
        let parts = if rows > self.group_rows { 2 } else { 1 };
        let first = rows.div_ceil(parts);
        for (offset, length) in [(0, first), (first, rows - first)] {
            if length > 0 {
                self.output.write(&held.slice(offset, length))?;
                self.output.flush()?;
            }
        }
        Ok(())
    }

    /// Decodes provisional row group `index`.
    fn decode(&mut self, index: usize) -> Result<RecordBatch, ConvertError> {
        self.rewritten += 1;
        let rows = self.metadata.metadata().row_group(index).num_rows();
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            self.provisional.clone(),
            self.metadata.clone(),
        )
        .with_row_groups(vec![index])
        .with_batch_size(usize::try_from(rows).unwrap_or(1).max(1))
        .build()?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        let batches: Vec<RecordBatch> = batches
            .into_iter()
            .map(|batch| RecordBatch::try_new(self.file_schema.clone(), batch.columns().to_vec()))
            .collect::<Result<_, _>>()?;
        Ok(concat_batches(&self.file_schema, &batches)?)
    }

    /// Ends row group `next`: writes its remaining rows (merged) or copies it as it is (untouched).
    fn close_group(&mut self) -> Result<(), ConvertError> {
        match self.open.take() {
            Some(rest) => {
                self.hold(rest)?;
                self.write_held()?;
            }
            None => self.output.splice(&self.provisional, self.metadata.metadata(), self.next)?,
        }
        self.next += 1;
        Ok(())
    }

    fn finish(mut self, summary: &mut ConvertSummary) -> Result<W, ConvertError> {
        while self.next < self.group_max.len() {
            self.close_group()?;
        }
        self.write_held()?;
        let output;
        (summary.row_groups, summary.parquet_bytes, output) = self.output.finish()?;
        summary.rewritten_row_groups = self.rewritten;
        Ok(output)
    }
}
