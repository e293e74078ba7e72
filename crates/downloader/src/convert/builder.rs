//! Column builders: typed buffers that CSV cells are parsed into, turned into an Arrow batch every `batch_size` rows.
//!
//! They are simpler and faster than Arrow's generic builders for this one job: a dictionary builder remembers its
//! previous value (a whole Tardis file usually has one exchange and one symbol), and values are appended without
//! per-cell bounds checks on types.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, Float64Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use arrow::array::{BooleanBufferBuilder, NullBufferBuilder};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::Int32Type;
use rustc_hash::FxHashMap;

use super::error::ConvertError;
use super::parse::{cell_end, ends_cell, parse_bool, parse_f64, parse_i64, scan_f64, scan_i64};
use super::schema::Kind;

/// What is wrong with a cell; the caller adds the line, column and text.
pub(crate) type CellProblem = &'static str;

/// Builds one column of a batch.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    /// Repeated strings.
    Dict(DictBuilder),
    /// Free strings.
    Text(TextBuilder),
    /// Timestamps in microseconds.
    Timestamp(PrimitiveBuilder<i64>),
    /// Timestamps in microseconds, as plain integers.
    Int(PrimitiveBuilder<i64>),
    /// Decimal numbers.
    Float(PrimitiveBuilder<f64>),
    /// Booleans.
    Bool(BoolBuilder),
}

impl ColumnBuilder {
    /// Returns an empty builder for `kind` with room for `capacity` rows.
    pub(crate) fn new(kind: Kind, capacity: usize) -> Self {
        match kind {
            Kind::Dict => ColumnBuilder::Dict(DictBuilder::new(capacity)),
            Kind::Text => ColumnBuilder::Text(TextBuilder::new(capacity)),
            Kind::Timestamp => ColumnBuilder::Timestamp(PrimitiveBuilder::new(capacity)),
            Kind::Int => ColumnBuilder::Int(PrimitiveBuilder::new(capacity)),
            Kind::Float => ColumnBuilder::Float(PrimitiveBuilder::new(capacity)),
            Kind::Bool => ColumnBuilder::Bool(BoolBuilder::new(capacity)),
        }
    }

    /// Appends one non-empty cell.
    #[inline]
    pub(crate) fn push(&mut self, cell: &[u8]) -> Result<(), CellProblem> {
        match self {
            ColumnBuilder::Dict(builder) => builder.push(cell),
            ColumnBuilder::Text(builder) => {
                if !cell.is_ascii() && std::str::from_utf8(cell).is_err() {
                    return Err("not UTF-8 text");
                }
                builder.push(cell);
                Ok(())
            }
            ColumnBuilder::Timestamp(builder) | ColumnBuilder::Int(builder) => {
                builder.push(parse_i64(cell).ok_or("not an integer timestamp in microseconds")?);
                Ok(())
            }
            ColumnBuilder::Float(builder) => {
                builder.push(parse_f64(cell).ok_or("not a number")?);
                Ok(())
            }
            ColumnBuilder::Bool(builder) => {
                builder.push(parse_bool(cell).ok_or("not true or false")?);
                Ok(())
            }
        }
    }

    /// Appends the cell that starts at `input[start]` (not empty) and returns the position where it ends.
    ///
    /// Numbers are parsed in the same pass that finds the end of the cell; a dictionary cell equal to the previous
    /// one is recognised without searching for the separator.
    #[inline]
    pub(crate) fn push_scanned(
        &mut self,
        input: &[u8],
        start: usize,
    ) -> Result<usize, CellProblem> {
        match self {
            ColumnBuilder::Float(builder) => {
                if let Some((value, end)) = scan_f64(input, start)
                    && ends_cell(input, end)
                {
                    builder.push(value);
                    return Ok(end);
                }
            }
            ColumnBuilder::Timestamp(builder) | ColumnBuilder::Int(builder) => {
                if let Some((value, end)) = scan_i64(input, start)
                    && ends_cell(input, end)
                {
                    builder.push(value);
                    return Ok(end);
                }
            }
            ColumnBuilder::Dict(builder) => {
                if let Some(end) = builder.push_repeated(input, start) {
                    return Ok(end);
                }
            }
            ColumnBuilder::Text(_) | ColumnBuilder::Bool(_) => {}
        }
        let end = cell_end(input, start);
        self.push(&input[start..end])?;
        Ok(end)
    }

    /// Appends a null.
    #[inline]
    pub(crate) fn push_null(&mut self) {
        match self {
            ColumnBuilder::Dict(builder) => builder.push_null(),
            ColumnBuilder::Text(builder) => builder.push_null(),
            ColumnBuilder::Timestamp(builder) | ColumnBuilder::Int(builder) => builder.push_null(),
            ColumnBuilder::Float(builder) => builder.push_null(),
            ColumnBuilder::Bool(builder) => builder.push_null(),
        }
    }

    /// Returns the column built so far and empties the builder.
    pub(crate) fn finish(&mut self) -> Result<ArrayRef, ConvertError> {
        Ok(match self {
            ColumnBuilder::Dict(builder) => Arc::new(builder.finish()?),
            ColumnBuilder::Text(builder) => Arc::new(builder.finish()?),
            ColumnBuilder::Timestamp(builder) => {
                let (values, nulls) = builder.take();
                Arc::new(TimestampMicrosecondArray::new(values, nulls).with_timezone("UTC"))
            }
            ColumnBuilder::Int(builder) => {
                let (values, nulls) = builder.take();
                Arc::new(Int64Array::new(values, nulls))
            }
            ColumnBuilder::Float(builder) => {
                let (values, nulls) = builder.take();
                Arc::new(Float64Array::new(values, nulls))
            }
            ColumnBuilder::Bool(builder) => Arc::new(builder.finish()),
        })
    }
}

/// Takes the values out of `vec`, leaving it empty with room for as many (the next batch is as long as this one;
/// small files never reserve a whole batch).
fn take_reserving<T>(vec: &mut Vec<T>) -> Vec<T> {
    let capacity = vec.len();
    std::mem::replace(vec, Vec::with_capacity(capacity))
}

/// Values and validity of a fixed-width column.
#[derive(Debug)]
pub(crate) struct PrimitiveBuilder<T> {
    values: Vec<T>,
    nulls: NullBufferBuilder,
}

impl<T: arrow::datatypes::ArrowNativeType> PrimitiveBuilder<T> {
    fn new(capacity: usize) -> Self {
        PrimitiveBuilder { values: Vec::new(), nulls: NullBufferBuilder::new(capacity) }
    }

    #[inline]
    fn push(&mut self, value: T) {
        self.values.push(value);
        self.nulls.append_non_null();
    }

    #[inline]
    fn push_null(&mut self) {
        self.values.push(T::default());
        self.nulls.append_null();
    }

    fn take(&mut self) -> (ScalarBuffer<T>, Option<arrow::buffer::NullBuffer>) {
        let values = take_reserving(&mut self.values);
        (ScalarBuffer::from(values), self.nulls.finish())
    }
}

/// Values and validity of a boolean column.
#[derive(Debug)]
pub(crate) struct BoolBuilder {
    values: BooleanBufferBuilder,
    nulls: NullBufferBuilder,
}

impl BoolBuilder {
    fn new(capacity: usize) -> Self {
        BoolBuilder {
            values: BooleanBufferBuilder::new(capacity),
            nulls: NullBufferBuilder::new(capacity),
        }
    }

    #[inline]
    fn push(&mut self, value: bool) {
        self.values.append(value);
        self.nulls.append_non_null();
    }

    #[inline]
    fn push_null(&mut self) {
        self.values.append(false);
        self.nulls.append_null();
    }

    fn finish(&mut self) -> BooleanArray {
        BooleanArray::new(self.values.finish(), self.nulls.finish())
    }
}

/// Offsets, bytes and validity of a string column.
#[derive(Debug)]
pub(crate) struct TextBuilder {
    offsets: Vec<i32>,
    bytes: Vec<u8>,
    nulls: NullBufferBuilder,
}

impl TextBuilder {
    fn new(capacity: usize) -> Self {
        TextBuilder { offsets: vec![0], bytes: Vec::new(), nulls: NullBufferBuilder::new(capacity) }
    }

    #[inline]
    fn push(&mut self, cell: &[u8]) {
        self.bytes.extend_from_slice(cell);
        self.end_value();
        self.nulls.append_non_null();
    }

    #[inline]
    fn push_null(&mut self) {
        self.end_value();
        self.nulls.append_null();
    }

    #[inline]
    fn end_value(&mut self) {
        // A batch holds far less than 2 GiB of text: the caller caps batches by bytes.
        self.offsets.push(self.bytes.len() as i32);
    }

    fn finish(&mut self) -> Result<StringArray, ConvertError> {
        let offsets = take_reserving(&mut self.offsets);
        self.offsets.push(0);
        let bytes = take_reserving(&mut self.bytes);
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        // `try_new` checks that the bytes are UTF-8 (quick for ASCII) and that the offsets are sound.
        Ok(StringArray::try_new(offsets, bytes.into(), self.nulls.finish())?)
    }

    /// Returns the bytes buffered so far.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.bytes.len()
    }
}

/// Compares two short byte strings with a few word loads instead of a call to `memcmp`.
#[inline]
fn short_eq(left: &[u8], right: &[u8]) -> bool {
    let length = left.len();
    if length != right.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
    };
    let half = |bytes: &[u8], at: usize| {
        u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
    };
    match length {
        0..4 => left == right,
        4..8 => {
            half(left, 0) == half(right, 0) && half(left, length - 4) == half(right, length - 4)
        }
        8..=16 => {
            word(left, 0) == word(right, 0) && word(left, length - 8) == word(right, length - 8)
        }
        _ => left == right,
    }
}

/// Keys, distinct values and validity of a dictionary-encoded string column.
///
/// The distinct values live for the whole file, so keys stay stable from batch to batch.
#[derive(Debug)]
pub(crate) struct DictBuilder {
    keys: Vec<i32>,
    nulls: NullBufferBuilder,
    /// FxHash (rustc-hash): a small, fast hash for short strings; dictionary lookups run once per cell.
    lookup: FxHashMap<Box<[u8]>, i32>,
    /// Distinct values in key order, as offsets into `value_bytes`.
    value_offsets: Vec<i32>,
    value_bytes: Vec<u8>,
    /// The key of the previous non-null cell: most files repeat one exchange and one symbol.
    last: Option<i32>,
    /// The values array of the previous batch, shared by the next batches while no value is added: batches with
    /// the same dictionary are cheaper to combine (sorting interleaves rows of several batches).
    /// Keyed by the number of distinct values it was built from.
    values: Option<(usize, ArrayRef)>,
}

impl DictBuilder {
    fn new(capacity: usize) -> Self {
        DictBuilder {
            keys: Vec::new(),
            nulls: NullBufferBuilder::new(capacity),
            lookup: FxHashMap::default(),
            value_offsets: vec![0],
            value_bytes: Vec::new(),
            last: None,
            values: None,
        }
    }

    #[inline]
    fn value(&self, key: i32) -> &[u8] {
        let (start, end) = (
            self.value_offsets[key as usize] as usize,
            self.value_offsets[key as usize + 1] as usize,
        );
        &self.value_bytes[start..end]
    }

    #[inline]
    fn push(&mut self, cell: &[u8]) -> Result<(), CellProblem> {
        let key = match self.last {
            Some(last) if short_eq(self.value(last), cell) => last,
            _ => self.find(cell)?,
        };
        self.last = Some(key);
        self.keys.push(key);
        self.nulls.append_non_null();
        Ok(())
    }

    /// Appends the previous value again if the cell at `input[start]` equals it; returns where the cell ends.
    #[inline]
    fn push_repeated(&mut self, input: &[u8], start: usize) -> Option<usize> {
        let last = self.last?;
        let value = self.value(last);
        let end = start + value.len();
        if short_eq(input.get(start..end)?, value) && ends_cell(input, end) {
            self.keys.push(last);
            self.nulls.append_non_null();
            return Some(end);
        }
        None
    }

    /// Finds or adds `cell`: a scan while the dictionary is small (sides, types), a hash lookup beyond.
    #[inline]
    fn find(&mut self, cell: &[u8]) -> Result<i32, CellProblem> {
        let distinct = self.value_offsets.len() - 1;
        if distinct <= 8 {
            for key in 0..distinct {
                // At most 8 distinct values.
                let key = key as i32;
                if short_eq(self.value(key), cell) {
                    return Ok(key);
                }
            }
        }
        self.intern(cell)
    }

    #[cold]
    fn intern(&mut self, cell: &[u8]) -> Result<i32, CellProblem> {
        if let Some(&key) = self.lookup.get(cell) {
            return Ok(key);
        }
        if std::str::from_utf8(cell).is_err() {
            return Err("not UTF-8 text");
        }
        let key = i32::try_from(self.lookup.len()).map_err(|_| "too many distinct values")?;
        self.value_bytes.extend_from_slice(cell);
        self.value_offsets
            .push(i32::try_from(self.value_bytes.len()).map_err(|_| "too many distinct values")?);
        self.lookup.insert(cell.into(), key);
        Ok(key)
    }

    #[inline]
    fn push_null(&mut self) {
        self.keys.push(0);
        self.nulls.append_null();
    }

    fn finish(&mut self) -> Result<DictionaryArray<Int32Type>, ConvertError> {
        let keys = take_reserving(&mut self.keys);
        let keys = Int32Array::new(ScalarBuffer::from(keys), self.nulls.finish());
        let distinct = self.value_offsets.len() - 1;
        let values = match &self.values {
            Some((built_from, values)) if *built_from == distinct => values.clone(),
            _ => {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(self.value_offsets.clone()));
                let values = StringArray::try_new(offsets, self.value_bytes.clone().into(), None)?;
                // An all-null batch before the first value still needs a key 0 that resolves.
                let values: ArrayRef = if arrow::array::Array::is_empty(&values) {
                    Arc::new(StringArray::from(vec![""]))
                } else {
                    Arc::new(values)
                };
                self.values = Some((distinct, values.clone()));
                values
            }
        };
        Ok(DictionaryArray::try_new(keys, values)?)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    #[test]
    fn dictionary_keeps_keys_across_batches() {
        let mut builder = DictBuilder::new(4);
        for cell in [&b"buy"[..], b"sell", b"buy", b"buy"] {
            builder.push(cell).unwrap();
        }
        builder.push_null();
        let first = builder.finish().unwrap();
        assert_eq!(first.keys().values().as_ref(), &[0, 1, 0, 0, 0]);
        assert!(first.is_null(4));
        builder.push(b"sell").unwrap();
        let second = builder.finish().unwrap();
        assert_eq!(second.keys().values().as_ref(), &[1]);
        assert_eq!(second.values().as_string::<i32>().value(1), "sell");
        assert_eq!(builder.push(&[0xff, 0xfe]), Err("not UTF-8 text"));
    }

    #[test]
    fn text_must_be_utf8() {
        let mut builder = ColumnBuilder::new(Kind::Text, 2);
        assert_eq!(builder.push("é".as_bytes()), Ok(()));
        assert_eq!(builder.push(&[b'a', 0xff]), Err("not UTF-8 text"));
    }

    #[test]
    fn all_null_dictionary_batch_is_valid() {
        let mut builder = DictBuilder::new(2);
        builder.push_null();
        builder.push_null();
        let array = builder.finish().unwrap();
        assert_eq!(array.null_count(), 2);
    }
}
