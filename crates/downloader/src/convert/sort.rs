//! Sorting rows by `timestamp` in bounded memory (original schema).
//!
//! Tardis files are in `local_timestamp` (arrival) order, and `timestamp` (the exchange's) departs from it by
//! milliseconds to seconds, sometimes hours. [`Sorter`] turns the parsed batches, in file order, into two sorted
//! sequences:
//!
//! - the *main* rows, emitted in `timestamp` order through a reorder window: batches are held until the window holds
//!   `sort_window_bytes` of Arrow data, then the window is sorted and its lower half emitted; the largest timestamp
//!   emitted so far is the *watermark*;
//! - the *late* rows, those arriving with a timestamp below the watermark (they belong among rows already
//!   emitted): kept in memory up to `late_memory_bytes`, beyond that sorted and spilled to temporary files as
//!   sorted runs, and merged when the file ends ([`LateRows`]).
//!
//! The writer then merges the late rows into the main rows' row groups ([`super::assemble`]). Both sequences are
//! sorted stably, and a late row sorts after every main row with the same timestamp (those all arrived before it),
//! so the whole file is sorted by `timestamp` with ties in file order. A file is never refused for its order: the
//! worst case (timestamps going backwards) makes nearly every row late, which costs time, never memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{filter_record_batch, interleave_record_batch, not};
use arrow::datatypes::{Int64Type, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::error::ConvertError;
use super::spill::{Spill, Stored};

/// Rows per row group of a spilled run: the merge reads one row group of every run at a time.
const RUN_GROUP_ROWS: usize = 1024;

/// Returns the values of the sort key column (never null: the parser refuses an empty `timestamp`).
fn keys(batch: &RecordBatch, key: usize) -> &[i64] {
    batch.column(key).as_primitive::<Int64Type>().values()
}

/// A row of the window: its key, and where it is (source batch, row).
type Entry = (i64, u32, u32);

/// Returns the entries of a batch's rows, in order.
fn entries(batch: &RecordBatch, key: usize, source: usize) -> impl Iterator<Item = Entry> + '_ {
    let source = u32::try_from(source).expect("few batches");
    keys(batch, key).iter().enumerate().map(move |(row, &value)| {
        (value, source, u32::try_from(row).expect("rows per batch fit u32"))
    })
}

/// Sorts entries stably by key.
///
/// Tardis rows arrive nearly in order (an exchange timestamp is usually milliseconds behind, so a row is a few
/// places from where it belongs): insertion sort puts them in place in about linear time. Past a budget of moves
/// (rows far out of place), the standard library's stable sort finishes the job; the prefix sorted so far keeps
/// equal keys in file order, so the result is stable either way.
fn sort_entries(entries: &mut [Entry]) {
    let budget = entries.len().saturating_mul(8);
    let mut moves = 0usize;
    for index in 1..entries.len() {
        let entry = entries[index];
        let mut place = index;
        while place > 0 && entries[place - 1].0 > entry.0 {
            place -= 1;
        }
        if place == index {
            continue;
        }
        moves += index - place;
        if moves > budget {
            entries.sort_by_key(|entry| entry.0);
            return;
        }
        entries.copy_within(place..index, place + 1);
        entries[place] = entry;
    }
}

/// Merges two sorted runs of entries; ties go to `first` (its rows came earlier in the file).
fn merge(first: &[Entry], second: &[Entry]) -> Vec<Entry> {
    let mut merged = Vec::with_capacity(first.len() + second.len());
    let (mut left, mut right) = (0, 0);
    while left < first.len() && right < second.len() {
        if second[right].0 < first[left].0 {
            merged.push(second[right]);
            right += 1;
        } else {
            merged.push(first[left]);
            left += 1;
        }
    }
    merged.extend_from_slice(&first[left..]);
    merged.extend_from_slice(&second[right..]);
    merged
}

/// Gathers the rows of `order` from `sources` into batches of at most `rows` rows.
fn gather(
    sources: &[RecordBatch],
    order: &[Entry],
    rows: usize,
) -> Result<Vec<RecordBatch>, ConvertError> {
    let sources: Vec<&RecordBatch> = sources.iter().collect();
    let mut gathered = Vec::new();
    if sources.is_empty() {
        return Ok(gathered);
    }
    for chunk in order.chunks(rows.max(1)) {
        let indices: Vec<(usize, usize)> =
            chunk.iter().map(|&(_, batch, row)| (batch as usize, row as usize)).collect();
        gathered.push(interleave_record_batch(&sources, &indices)?);
    }
    Ok(gathered)
}

/// Sorts the rows of `batches` by the key, stably, into batches of at most `rows` rows.
fn sort_batches(
    batches: &[RecordBatch],
    key: usize,
    rows: usize,
) -> Result<Vec<RecordBatch>, ConvertError> {
    let mut order: Vec<Entry> = Vec::new();
    for (index, batch) in batches.iter().enumerate() {
        order.extend(entries(batch, key, index));
    }
    sort_entries(&mut order);
    gather(batches, &order, rows)
}

/// Sorts batches arriving in file order by `timestamp`, in bounded memory; see the module documentation.
///
/// The window is a list of source batches and, from the previous emission, the sorted entries of the rows held
/// back, which still point into their source batches: each row is copied once, when it is emitted. A source batch
/// is dropped once none of its rows is held; if the few rows held back pin too many of them (rows far ahead of the
/// others), the held rows are copied into one batch of their own.
#[derive(Debug)]
pub(crate) struct Sorter {
    schema: SchemaRef,
    key: usize,
    /// Rows per emitted batch.
    batch_rows: usize,
    /// The batches the window's rows are in.
    sources: Vec<RecordBatch>,
    /// The rows held back at the previous emission, sorted, in `sources[..fresh]`.
    held: Vec<Entry>,
    /// Where the batches that arrived since the previous emission start in `sources`.
    fresh: usize,
    window_bytes: usize,
    window_limit: usize,
    /// The largest timestamp emitted so far.
    watermark: Option<i64>,
    /// Main rows emitted and not yet taken, in order.
    ready: Vec<RecordBatch>,
    late: Late,
}

impl Sorter {
    /// Returns a sorter of batches with `schema`, sorted by column `key`, emitting batches of at most `batch_rows`
    /// rows; the window holds about `window_bytes` and the late rows up to `late_bytes` before spilling to `dir`.
    pub(crate) fn new(
        schema: SchemaRef,
        key: usize,
        batch_rows: usize,
        window_bytes: usize,
        late_bytes: usize,
        dir: &Path,
    ) -> Self {
        Sorter {
            late: Late::new(schema.clone(), key, late_bytes, dir),
            schema,
            key,
            batch_rows,
            sources: Vec::new(),
            held: Vec::new(),
            fresh: 0,
            window_bytes: 0,
            window_limit: window_bytes,
            watermark: None,
            ready: Vec::new(),
        }
    }

    /// Takes the next batch in file order.
    pub(crate) fn push(&mut self, mut batch: RecordBatch) -> Result<(), ConvertError> {
        if let Some(watermark) = self.watermark
            && keys(&batch, self.key).iter().any(|&value| value < watermark)
        {
            let late: BooleanArray =
                keys(&batch, self.key).iter().map(|&value| Some(value < watermark)).collect();
            self.late.push(filter_record_batch(&batch, &late)?)?;
            batch = filter_record_batch(&batch, &not(&late)?)?;
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.window_bytes += batch.get_array_memory_size();
        self.sources.push(batch);
        if self.window_bytes >= self.window_limit {
            self.emit(false)?;
        }
        Ok(())
    }

    /// Sorts the window and emits its lower half, or all of it.
    fn emit(&mut self, all: bool) -> Result<(), ConvertError> {
        let mut fresh: Vec<Entry> = Vec::new();
        for (index, batch) in self.sources.iter().enumerate().skip(self.fresh) {
            fresh.extend(entries(batch, self.key, index));
        }
        sort_entries(&mut fresh);
        let order = merge(&self.held, &fresh);
        drop(fresh);
        if order.is_empty() {
            self.sources.clear();
            (self.held, self.fresh, self.window_bytes) = (Vec::new(), 0, 0);
            return Ok(());
        }
        let total = order.len();
        let emitted = if all { total } else { total - total / 2 };
        let highest = order[emitted - 1].0;
        self.watermark = Some(self.watermark.map_or(highest, |watermark| watermark.max(highest)));
        self.ready.extend(gather(&self.sources, &order[..emitted], self.batch_rows)?);
        self.held = order[emitted..].to_vec();
        // Keep only the source batches rows are still held in.
        let mut used = vec![false; self.sources.len()];
        for entry in &self.held {
            used[entry.1 as usize] = true;
        }
        let mut renumber = vec![0u32; self.sources.len()];
        let sources = std::mem::take(&mut self.sources);
        for (index, batch) in sources.into_iter().enumerate() {
            if used[index] {
                renumber[index] = u32::try_from(self.sources.len()).expect("few batches");
                self.sources.push(batch);
            }
        }
        for entry in &mut self.held {
            entry.1 = renumber[entry.1 as usize];
        }
        self.window_bytes = self.sources.iter().map(RecordBatch::get_array_memory_size).sum();
        if self.window_bytes > self.window_limit / 4 * 3 {
            // The rows held back pin many batches: copy them out.
            let held = gather(&self.sources, &self.held, usize::MAX)?;
            self.sources = held;
            for (row, entry) in self.held.iter_mut().enumerate() {
                *entry = (entry.0, 0, u32::try_from(row).expect("rows fit u32"));
            }
            self.window_bytes = self.sources.iter().map(RecordBatch::get_array_memory_size).sum();
        }
        self.fresh = self.sources.len();
        Ok(())
    }

    /// Returns the main rows emitted since the last call, in order.
    pub(crate) fn take_sorted(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// Ends the input: emits the rest of the window (then [`Sorter::take_sorted`]) and returns the late rows.
    pub(crate) fn finish(&mut self) -> Result<LateRows, ConvertError> {
        self.emit(true)?;
        let late = std::mem::replace(
            &mut self.late,
            Late::new(self.schema.clone(), self.key, 0, Path::new("")),
        );
        late.finish(self.batch_rows)
    }
}

/// The late rows while the file is read: batches in file order, spilled as sorted runs past a memory limit.
#[derive(Debug)]
struct Late {
    schema: SchemaRef,
    key: usize,
    limit: usize,
    dir: PathBuf,
    batches: Vec<RecordBatch>,
    bytes: usize,
    /// Sorted runs in temporary files, in file order.
    runs: Vec<Stored>,
}

impl Late {
    fn new(schema: SchemaRef, key: usize, limit: usize, dir: &Path) -> Self {
        Late {
            schema,
            key,
            limit,
            dir: dir.to_path_buf(),
            batches: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
        }
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), ConvertError> {
        self.bytes += batch.get_array_memory_size();
        self.batches.push(batch);
        if self.bytes >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    /// Sorts the batches held and writes them to a temporary file as one run.
    fn spill(&mut self) -> Result<(), ConvertError> {
        let sorted = sort_batches(&self.batches, self.key, RUN_GROUP_ROWS)?;
        self.batches.clear();
        self.bytes = 0;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(RUN_GROUP_ROWS))
            .set_dictionary_enabled(false)
            .build();
        let spill = Spill::new(&self.dir, 0);
        let errors = spill.errors();
        let explain = |error: parquet::errors::ParquetError| errors.explain(error.into());
        let mut writer =
            ArrowWriter::try_new(spill, self.schema.clone(), Some(properties)).map_err(explain)?;
        for batch in &sorted {
            writer.write(batch).map_err(explain)?;
        }
        let spill = writer.into_inner().map_err(explain)?;
        self.runs.push(spill.into_stored()?);
        Ok(())
    }

    fn finish(mut self, batch_rows: usize) -> Result<LateRows, ConvertError> {
        if self.runs.is_empty() {
            let sorted = sort_batches(&self.batches, self.key, batch_rows)?;
            return Ok(LateRows { source: Source::Memory(sorted.into()) });
        }
        if !self.batches.is_empty() {
            self.spill()?;
        }
        let merge = Merge::new(&self.runs, self.key, batch_rows, &self.dir)?;
        Ok(LateRows { source: Source::Merge(merge) })
    }
}

/// The late rows of a file, sorted by `timestamp` (ties in file order), as batches.
#[derive(Debug)]
pub(crate) struct LateRows {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Memory(VecDeque<RecordBatch>),
    Merge(Merge),
}

impl LateRows {
    /// Returns the next batch of late rows, or `None` at the end.
    pub(crate) fn next_batch(&mut self) -> Result<Option<RecordBatch>, ConvertError> {
        match &mut self.source {
            Source::Memory(batches) => Ok(batches.pop_front()),
            Source::Merge(merge) => merge.next_batch(),
        }
    }
}

/// One sorted run being merged: its reader and its current batch.
struct Run {
    reader: ParquetRecordBatchReader,
    batch: RecordBatch,
    row: usize,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("row", &self.row).finish_non_exhaustive()
    }
}

/// A k-way merge of sorted runs; ties go to the earlier run (earlier in the file), so the merge is stable.
#[derive(Debug)]
struct Merge {
    runs: Vec<Option<Run>>,
    /// (key, run) of every run's current row.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    key: usize,
    batch_rows: usize,
    dir: PathBuf,
}

impl Merge {
    fn new(
        stored: &[Stored],
        key: usize,
        batch_rows: usize,
        dir: &Path,
    ) -> Result<Self, ConvertError> {
        let mut merge = Merge {
            runs: Vec::with_capacity(stored.len()),
            heap: BinaryHeap::new(),
            key,
            batch_rows,
            dir: dir.to_path_buf(),
        };
        for (index, run) in stored.iter().enumerate() {
            let mut reader = ParquetRecordBatchReaderBuilder::try_new(run.clone())?
                .with_batch_size(RUN_GROUP_ROWS)
                .build()?;
            let first = merge.read(&mut reader)?;
            merge.runs.push(first.map(|batch| {
                merge.heap.push(Reverse((keys(&batch, key)[0], index)));
                Run { reader, batch, row: 0 }
            }));
        }
        Ok(merge)
    }

    /// Reads the next non-empty batch of a run.
    fn read(
        &self,
        reader: &mut ParquetRecordBatchReader,
    ) -> Result<Option<RecordBatch>, ConvertError> {
        for batch in reader.by_ref() {
            let batch = batch.map_err(|source| ConvertError::Spill {
                dir: self.dir.clone(),
                source: std::io::Error::other(source),
            })?;
            if batch.num_rows() > 0 {
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, ConvertError> {
        // The batches rows are taken from, and (source, row) for every output row.
        let mut sources: Vec<RecordBatch> = Vec::new();
        let mut source_of_run: Vec<Option<usize>> = vec![None; self.runs.len()];
        let mut indices: Vec<(usize, usize)> = Vec::with_capacity(self.batch_rows);
        while indices.len() < self.batch_rows {
            let Some(Reverse((_, index))) = self.heap.pop() else { break };
            let run = self.runs[index].as_mut().expect("a run in the heap is open");
            let source = *source_of_run[index].get_or_insert_with(|| {
                sources.push(run.batch.clone());
                sources.len() - 1
            });
            indices.push((source, run.row));
            run.row += 1;
            if run.row < run.batch.num_rows() {
                self.heap.push(Reverse((keys(&run.batch, self.key)[run.row], index)));
                continue;
            }
            let mut reader = self.runs[index].take().expect("open").reader;
            if let Some(batch) = self.read(&mut reader)? {
                self.heap.push(Reverse((keys(&batch, self.key)[0], index)));
                self.runs[index] = Some(Run { reader, batch, row: 0 });
                source_of_run[index] = None;
            }
        }
        if indices.is_empty() {
            return Ok(None);
        }
        let sources: Vec<&RecordBatch> = sources.iter().collect();
        Ok(Some(interleave_record_batch(&sources, &indices)?))
    }
}

/// Returns a batch's `timestamp` values.
pub(crate) fn timestamps(batch: &RecordBatch, key: usize) -> &[i64] {
    keys(batch, key)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(values: &[(i64, &str)]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("timestamp", DataType::Int64, true),
            Field::new("tag", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(values.iter().map(|value| value.0))),
                Arc::new(StringArray::from_iter_values(values.iter().map(|value| value.1))),
            ],
        )
        .unwrap()
    }

    /// (timestamp, tag) of each row.
    type Rows = Vec<(i64, String)>;

    fn rows(batches: &[RecordBatch]) -> Vec<(i64, String)> {
        batches
            .iter()
            .flat_map(|batch| {
                let tags = batch.column(1).as_string::<i32>();
                keys(batch, 0)
                    .iter()
                    .zip(tags.iter())
                    .map(|(key, tag)| (*key, tag.unwrap().to_owned()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Runs a sorter over `input` (one batch per slice) with tiny limits; returns the main rows, the late rows and
    /// how many runs were spilled.
    fn sort(input: &[&[(i64, &str)]], window: usize, late: usize) -> (Rows, Rows) {
        let dir = tempfile::tempdir().unwrap();
        let schema = batch(&[]).schema();
        let mut sorter = Sorter::new(schema, 0, 3, window, late, dir.path());
        let mut main = Vec::new();
        for part in input {
            sorter.push(batch(part)).unwrap();
            main.extend(sorter.take_sorted());
        }
        let mut late_rows = sorter.finish().unwrap();
        main.extend(sorter.take_sorted());
        let mut late = Vec::new();
        while let Some(batch) = late_rows.next_batch().unwrap() {
            assert!(batch.num_rows() <= 3);
            late.push(batch);
        }
        (rows(&main), rows(&late))
    }

    fn expected(input: &[&[(i64, &str)]]) -> Vec<(i64, String)> {
        let mut all: Vec<(i64, String)> = input
            .iter()
            .flat_map(|part| part.iter().map(|(key, tag)| (*key, (*tag).to_owned())))
            .collect();
        all.sort_by_key(|row| row.0);
        all
    }

    fn merged(main: &[(i64, String)], late: &[(i64, String)]) -> Vec<(i64, String)> {
        let mut all: Vec<(i64, String)> = main.to_vec();
        // Late rows go after main rows with the same key.
        for row in late {
            let at = all.partition_point(|other| other.0 <= row.0);
            all.insert(at, row.clone());
        }
        all
    }

    #[test]
    fn entries_sort_stably_whether_nearly_in_order_or_not() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for spread in [0u64, 3, 50, 1_000_000] {
            let mut values: Vec<Entry> = (0..5_000u32)
                .map(|index| (i64::from(index / 4) * 10 - (next() % (spread + 1)) as i64, 0, index))
                .collect();
            let mut expected = values.clone();
            expected.sort_by_key(|entry| entry.0);
            sort_entries(&mut values);
            assert_eq!(values, expected, "spread {spread}");
        }
    }

    #[test]
    fn a_small_file_is_sorted_in_memory_and_stable() {
        let input: &[&[(i64, &str)]] = &[&[(5, "a"), (3, "b"), (5, "c")], &[(1, "d"), (3, "e")]];
        let (main, late) = sort(input, usize::MAX, usize::MAX);
        assert!(late.is_empty());
        assert_eq!(main, expected(input));
    }

    #[test]
    fn rows_behind_the_watermark_are_late_and_merge_stably() {
        // A window of about one batch: every batch after the first is compared with a watermark.
        let input: &[&[(i64, &str)]] = &[
            &[(10, "a"), (12, "b"), (11, "c"), (13, "d")],
            &[(14, "e"), (2, "f"), (15, "g"), (12, "h")],
            &[(16, "i"), (1, "j"), (12, "k"), (17, "l")],
            &[(18, "m"), (2, "n"), (19, "o"), (20, "p")],
        ];
        for late_limit in [usize::MAX, 1] {
            let (main, late) = sort(input, 1, late_limit);
            assert!(main.is_sorted_by_key(|row| row.0), "{main:?}");
            assert!(late.is_sorted_by_key(|row| row.0), "{late:?}");
            assert!(!late.is_empty());
            assert_eq!(merged(&main, &late), expected(input), "late limit {late_limit}");
        }
    }

    #[test]
    fn rows_far_ahead_do_not_pin_every_batch() {
        // One row per batch is a day ahead: it stays in the window to the end, but its batch does not.
        let tags: Vec<String> = (0..4_000).map(|index| format!("t{index}")).collect();
        let values: Vec<(i64, &str)> = (0..4_000)
            .map(|index| {
                let ahead = if index % 40 == 0 { 86_400_000_000 } else { 0 };
                (index as i64 * 10 + ahead, tags[index].as_str())
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let schema = batch(&[]).schema();
        let window = batch(&values[..40]).get_array_memory_size() * 4;
        let mut sorter = Sorter::new(schema, 0, 3, window, usize::MAX, dir.path());
        let mut main = Vec::new();
        let (mut most_sources, mut most_bytes) = (0, 0);
        for part in values.chunks(40) {
            sorter.push(batch(part)).unwrap();
            main.extend(sorter.take_sorted());
            most_sources = most_sources.max(sorter.sources.len());
            most_bytes = most_bytes.max(sorter.window_bytes);
        }
        // 100 batches hold a row a day ahead; the window never holds them all.
        assert!(most_bytes < window, "the window stays within its limit: {most_bytes} of {window}");
        assert!(most_sources < 20, "the held rows were copied out: {most_sources} batches held");
        let mut late_rows = sorter.finish().unwrap();
        main.extend(sorter.take_sorted());
        let mut late = Vec::new();
        while let Some(batch) = late_rows.next_batch().unwrap() {
            late.push(batch);
        }
        // Once the rows ahead fill half the window they are emitted, and the rest arrives late: merged, nothing lost.
        let input: Vec<&[(i64, &str)]> = values.chunks(40).collect();
        assert_eq!(merged(&rows(&main), &rows(&late)), expected(&input));
    }

    #[test]
    fn backwards_timestamps_make_everything_late_but_nothing_is_lost() {
        let tags: Vec<String> = (0..200).map(|index| format!("t{index}")).collect();
        let values: Vec<(i64, &str)> =
            (0..200).map(|index| (1000 - index as i64 / 3, tags[index].as_str())).collect();
        let input: Vec<&[(i64, &str)]> = values.chunks(7).collect();
        let (main, late) = sort(&input, 1, 1);
        assert!(late.len() > 150);
        assert_eq!(merged(&main, &late), expected(&input));
    }
}
