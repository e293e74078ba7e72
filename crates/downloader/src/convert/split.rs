//! Splitting a grouped options file (Deribit's `OPTIONS`) into one Parquet file per underlying × expiry
//! (`MD_SPLIT_GROUPED=underlying_expiry`, docs/SCHEMAS.md "Split grouped options files").
//!
//! The work has two passes, both streaming:
//!
//! 1. [`Splitter::push`] takes the inflated CSV as it downloads and routes every row, by its `symbol` (parsed once
//!    per distinct symbol with the instruments crate's symbol parser, [`instruments::key_for_symbol`]), to its part's
//!    *writer*: a buffer of at most `buffer_bytes` of CSV. A full buffer is compressed (zstd, level 1) as one frame
//!    and appended to one temporary file shared by every part (in `MD_PARQUET_SPILL_DIR`, removed when it is
//!    closed), its offset kept in the part's list of frames. At most `open_parts` writers are open at once: when a
//!    row comes for a part without one and all are taken, the least recently used writer is flushed (as a frame)
//!    and handed over.
//! 2. [`SplitParts::convert`] then turns each part, one at a time, into a Parquet file exactly as a per-instrument
//!    file is converted ([`super::convert_reader`]'s encoder: the same schema, sort, row groups and memory limits),
//!    reading its frames back in file order, so each part's rows keep the grouped file's order before the sort.
//!
//! Memory is bounded by `open_parts × buffer_bytes` (the writers), one zstd context (about 1 MiB at level 1), the
//! frame list (16 bytes per frame) and one conversion at a time (the per-file bound of [`super`]). While a day has
//! at most `open_parts` parts no writer is evicted, every frame holds `buffer_bytes` of CSV, and the frame list is
//! 16 bytes per 256 KiB of CSV (about 1 MiB for 16 GB); the number of parts and the file's size then barely enter
//! the bound. The defaults, 128 writers of 256 KiB, give at most 32 MiB for the writers. With more parts than
//! writers, rows interleaved across parts evict a writer nearly every row, so frames get as small as one row: the
//! frame list then grows by 16 bytes per evicted frame and the temporary file compresses worse (measured in
//! docs/BENCHMARKS.md); keep `open_parts` above the number of parts of a day.
//! Disk: the temporary file holds the whole file's CSV compressed with zstd level 1 (about the size of the
//! `.csv.gz`) until the split ends.
//!
//! A part is named by its *part key*, the instrument key of its options without strike and right, and `ALL` as a
//! fourth segment: `BTC-27NOV26-100000-C` of `deribit` is in part `DERIBIT:OPTION:BTC-USD-261127:ALL`
//! (docs/INSTRUMENT_KEY.md "Parts of a split grouped file").

use std::fs::File;
use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use md_config::{DataType, InstrumentType};
use rustc_hash::FxHashMap;

use super::encode::{Encoder, FileSpec};
use super::error::{ConvertError, excerpt};
use super::schema::Layout;
use super::{ConvertOptions, ConvertSummary, Partition, csv};

/// The default most part writers open at once (`MD_SPLIT_OPEN_PARTS`): more than the parts of a Deribit day (about
/// 70 underlying × expiry pairs), so no writer is evicted; a writer's buffer takes memory only as it fills.
pub const OPEN_PARTS: usize = 128;

/// The default CSV bytes a part writer holds before it is compressed into the temporary file.
pub const PART_BUFFER_BYTES: usize = 256 << 10;

/// The zstd level of the temporary file: the fastest, as the file lives only for the split.
const SPILL_LEVEL: i32 = 1;

/// How a grouped file is split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    /// Most part writers open at once (`MD_SPLIT_OPEN_PARTS`); the writers' memory is at most
    /// `open_parts × buffer_bytes`.
    pub open_parts: NonZeroUsize,
    /// CSV bytes a writer holds before they are compressed into the temporary file.
    pub buffer_bytes: NonZeroUsize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            open_parts: NonZeroUsize::new(OPEN_PARTS).expect("non-zero"),
            buffer_bytes: NonZeroUsize::new(PART_BUFFER_BYTES).expect("non-zero"),
        }
    }
}

/// Why a split failed.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// Reading, parsing or encoding the rows failed, as in a conversion.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// A row's symbol is not an option the instruments crate can key.
    #[error("line {line}: symbol {symbol:?} is not an option with an underlying and expiry")]
    Symbol {
        /// 1-based line number in the grouped CSV.
        line: u64,
        /// The row's symbol.
        symbol: String,
        /// The parser's error (naming the exchange).
        #[source]
        source: Box<instruments::Error>,
    },
    /// A row has no `symbol` field (fewer than three fields).
    #[error("line {line}: no symbol field in {text:?}")]
    NoSymbol {
        /// 1-based line number in the grouped CSV.
        line: u64,
        /// The line (shortened).
        text: String,
    },
}

impl SplitError {
    /// Returns whether splitting the same file again may succeed (a damaged gzip or temporary file).
    pub fn is_retryable(&self) -> bool {
        matches!(self, SplitError::Convert(error) if error.is_retryable())
    }
}

/// Returns the part key of an option symbol of `exchange`: its instrument key without strike and right, with `ALL`
/// as a fourth segment (`BTC-27NOV26-100000-C` of `deribit` gives `DERIBIT:OPTION:BTC-USD-261127:ALL`).
///
/// # Errors
/// The instruments crate's error when the symbol is not an option of the exchange's scheme.
pub fn part_key(exchange: &str, symbol: &str) -> Result<String, instruments::Error> {
    let key = instruments::key_for_symbol(exchange, symbol, &InstrumentType::Option.into())?;
    let expiry = key.expiry_code().unwrap_or_default();
    Ok(format!(
        "{}:{}:{}-{}-{expiry}:ALL",
        key.venue(),
        InstrumentType::Option.key_str(),
        key.base(),
        key.quote()
    ))
}

/// One frame of a part in the temporary file.
#[derive(Debug, Clone, Copy)]
struct Frame {
    offset: u64,
    compressed: u32,
    csv: u32,
}

/// A part while the file is read.
#[derive(Debug)]
struct PartState {
    key: String,
    rows: u64,
    frames: Vec<Frame>,
    /// The open writer's buffer, if the part has one.
    buffer: Option<Vec<u8>>,
    last_use: u64,
}

/// The first pass of a split: routes the rows of a grouped CSV to per-part writers; see the module documentation.
#[derive(Debug)]
pub struct Splitter {
    exchange: String,
    options: SplitOptions,
    header: Option<Vec<u8>>,
    carry: Vec<u8>,
    line: u64,
    symbols: FxHashMap<Vec<u8>, usize>,
    by_key: FxHashMap<String, usize>,
    parts: Vec<PartState>,
    open: usize,
    most_open: usize,
    clock: u64,
    spill: Spill,
    csv_bytes: u64,
}

/// The temporary file every part's frames go to, and the compressor of the frames.
struct Spill {
    dir: PathBuf,
    file: File,
    len: u64,
    compressor: zstd::bulk::Compressor<'static>,
}

impl std::fmt::Debug for Spill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spill({}, {} bytes)", self.dir.display(), self.len)
    }
}

impl Spill {
    fn new(dir: &Path) -> Result<Self, ConvertError> {
        let file = tempfile::tempfile_in(dir).map_err(|source| spill_error(dir, source))?;
        let compressor =
            zstd::bulk::Compressor::new(SPILL_LEVEL).map_err(|source| spill_error(dir, source))?;
        Ok(Spill { dir: dir.to_path_buf(), file, len: 0, compressor })
    }

    /// Compresses `csv` as one frame at the end of the file.
    fn append(&mut self, csv: &[u8]) -> Result<Frame, ConvertError> {
        let compressed =
            self.compressor.compress(csv).map_err(|source| spill_error(&self.dir, source))?;
        self.file.write_all(&compressed).map_err(|source| spill_error(&self.dir, source))?;
        let frame = Frame {
            offset: self.len,
            compressed: u32::try_from(compressed.len()).expect("a frame is small"),
            csv: u32::try_from(csv.len()).expect("a frame is small"),
        };
        self.len += compressed.len() as u64;
        Ok(frame)
    }
}

fn spill_error(dir: &Path, source: std::io::Error) -> ConvertError {
    ConvertError::Spill { dir: dir.to_path_buf(), source }
}

impl Splitter {
    /// Returns the first pass of a split of a grouped file of `exchange`, with its temporary file in `spill_dir`.
    ///
    /// # Errors
    /// [`ConvertError::Spill`] when the temporary file cannot be created.
    pub fn new(
        exchange: &str,
        options: SplitOptions,
        spill_dir: &Path,
    ) -> Result<Self, SplitError> {
        Ok(Splitter {
            exchange: exchange.to_owned(),
            options,
            header: None,
            carry: Vec::new(),
            line: 0,
            symbols: FxHashMap::default(),
            by_key: FxHashMap::default(),
            parts: Vec::new(),
            open: 0,
            most_open: 0,
            clock: 0,
            spill: Spill::new(spill_dir)?,
            csv_bytes: 0,
        })
    }

    /// Consumes the next block of CSV text; a block may begin or end in the middle of a line.
    ///
    /// # Errors
    /// [`SplitError::Symbol`] or [`SplitError::NoSymbol`] for a row that names no option, naming its line;
    /// [`ConvertError::LineTooLong`]; [`ConvertError::Spill`].
    pub fn push(&mut self, block: &[u8]) -> Result<(), SplitError> {
        self.csv_bytes += block.len() as u64;
        let mut rest = block;
        if !self.carry.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                return self.keep(rest);
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&rest[..end]);
            self.line(&line)?;
            line.clear();
            self.carry = line;
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            self.line(&rest[..end])?;
            rest = &rest[end + 1..];
        }
        self.keep(rest)
    }

    fn keep(&mut self, partial: &[u8]) -> Result<(), SplitError> {
        if self.carry.len() + partial.len() > csv::MAX_LINE_BYTES {
            return Err(ConvertError::LineTooLong {
                line: self.line + 1,
                limit: csv::MAX_LINE_BYTES,
            }
            .into());
        }
        self.carry.extend_from_slice(partial);
        Ok(())
    }

    /// Routes one line (without its `\n`).
    fn line(&mut self, line: &[u8]) -> Result<(), SplitError> {
        self.line += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return Ok(());
        }
        if self.header.is_none() {
            self.header = Some([line, b"\n"].concat());
            return Ok(());
        }
        let mut fields = line.splitn(3, |&byte| byte == b',');
        let (Some(_), Some(symbol), Some(_)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(SplitError::NoSymbol { line: self.line, text: excerpt(line) });
        };
        let part = match self.symbols.get(symbol) {
            Some(&part) => part,
            None => self.new_symbol(symbol)?,
        };
        self.write(part, line)
    }

    fn new_symbol(&mut self, symbol: &[u8]) -> Result<usize, SplitError> {
        let text = String::from_utf8_lossy(symbol).into_owned();
        let key = part_key(&self.exchange, &text).map_err(|source| SplitError::Symbol {
            line: self.line,
            symbol: text,
            source: Box::new(source),
        })?;
        let part = match self.by_key.get(&key) {
            Some(&part) => part,
            None => {
                self.parts.push(PartState {
                    key: key.clone(),
                    rows: 0,
                    frames: Vec::new(),
                    buffer: None,
                    last_use: 0,
                });
                self.by_key.insert(key, self.parts.len() - 1);
                self.parts.len() - 1
            }
        };
        self.symbols.insert(symbol.to_vec(), part);
        Ok(part)
    }

    fn write(&mut self, part: usize, line: &[u8]) -> Result<(), SplitError> {
        self.clock += 1;
        if self.parts[part].buffer.is_none() {
            let buffer = if self.open == self.options.open_parts.get() {
                self.evict()?
            } else {
                self.open += 1;
                self.most_open = self.most_open.max(self.open);
                Vec::with_capacity(self.options.buffer_bytes.get())
            };
            self.parts[part].buffer = Some(buffer);
        }
        let state = &mut self.parts[part];
        state.last_use = self.clock;
        state.rows += 1;
        let buffer = state.buffer.as_mut().expect("opened above");
        buffer.extend_from_slice(line);
        buffer.push(b'\n');
        if buffer.len() >= self.options.buffer_bytes.get() {
            self.flush(part)?;
        }
        Ok(())
    }

    /// Flushes the least recently used writer and returns its (empty) buffer.
    fn evict(&mut self) -> Result<Vec<u8>, SplitError> {
        let victim = (0..self.parts.len())
            .filter(|&part| self.parts[part].buffer.is_some())
            .min_by_key(|&part| self.parts[part].last_use)
            .expect("open_parts writers are open");
        self.flush(victim)?;
        Ok(self.parts[victim].buffer.take().expect("open"))
    }

    /// Compresses a part's buffered rows as one frame into the temporary file.
    fn flush(&mut self, part: usize) -> Result<(), SplitError> {
        let Some(buffer) = self.parts[part].buffer.as_mut() else { return Ok(()) };
        if buffer.is_empty() {
            return Ok(());
        }
        let frame = self.spill.append(buffer)?;
        buffer.clear();
        self.parts[part].frames.push(frame);
        Ok(())
    }

    /// Ends the input: the last line (without a final line end) is routed and every writer flushed.
    ///
    /// # Errors
    /// As [`Splitter::push`].
    pub fn finish(mut self) -> Result<SplitParts, SplitError> {
        if !self.carry.is_empty() {
            let line = std::mem::take(&mut self.carry);
            self.line(&line)?;
        }
        for part in 0..self.parts.len() {
            self.flush(part)?;
        }
        self.spill.file.flush().map_err(|source| spill_error(&self.spill.dir, source))?;
        let mut parts: Vec<SplitPart> = self
            .parts
            .into_iter()
            .map(|state| SplitPart { key: state.key, rows: state.rows, frames: state.frames })
            .collect();
        parts.sort_by(|left, right| left.key.cmp(&right.key));
        Ok(SplitParts {
            header: self.header.unwrap_or_default(),
            parts,
            spill: self.spill,
            most_open: self.most_open,
            csv_bytes: self.csv_bytes,
        })
    }
}

/// One part of a split file, between the two passes.
#[derive(Debug)]
pub struct SplitPart {
    key: String,
    rows: u64,
    frames: Vec<Frame>,
}

impl SplitPart {
    /// Returns the part key (`DERIBIT:OPTION:BTC-USD-261127:ALL`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Returns the part's data rows.
    pub fn rows(&self) -> u64 {
        self.rows
    }
}

/// The parts of a split file, ready to be converted one by one.
#[derive(Debug)]
pub struct SplitParts {
    header: Vec<u8>,
    parts: Vec<SplitPart>,
    spill: Spill,
    most_open: usize,
    csv_bytes: u64,
}

impl SplitParts {
    /// Returns the parts, by part key.
    pub fn parts(&self) -> &[SplitPart] {
        &self.parts
    }

    /// Returns the most writers that were open at once (at most `open_parts`).
    pub fn most_open(&self) -> usize {
        self.most_open
    }

    /// Returns the bytes of CSV read.
    pub fn csv_bytes(&self) -> u64 {
        self.csv_bytes
    }

    /// Converts part `index` into a Parquet file written to `output`, laid out as a file of `data_type` of
    /// `partition` whose `instrument_key` is the part key.
    ///
    /// # Errors
    /// As [`super::convert_reader`] (bad rows name their line within the part); [`ConvertError::Spill`] when the
    /// temporary file cannot be read back.
    ///
    /// # Panics
    /// If `index` is not a part's.
    pub fn convert<W: Write + Send>(
        &self,
        index: usize,
        output: W,
        data_type: DataType,
        partition: &Partition,
        options: &ConvertOptions,
    ) -> Result<(W, ConvertSummary), ConvertError> {
        let part = &self.parts[index];
        let partition =
            Partition { instrument_key: part.key.clone(), symbol: None, ..partition.clone() };
        let layout = Layout::new(data_type, options.schema);
        let file = FileSpec { layout: &layout, partition: &partition, options };
        let mut encoder = Encoder::new(file, output)?;
        encoder.push(&self.header)?;
        let mut decompressor = zstd::bulk::Decompressor::new()
            .map_err(|source| spill_error(&self.spill.dir, source))?;
        let mut compressed = Vec::new();
        for frame in &part.frames {
            compressed.resize(frame.compressed as usize, 0);
            self.spill
                .file
                .read_exact_at(&mut compressed, frame.offset)
                .map_err(|source| spill_error(&self.spill.dir, source))?;
            let csv = decompressor
                .decompress(&compressed, frame.csv as usize)
                .map_err(|source| spill_error(&self.spill.dir, source))?;
            encoder.push(&csv)?;
        }
        encoder.finish()
    }
}

/// Splits a grouped `.csv.gz` file from `gzip` (the first pass, on the calling thread); convert the parts with
/// [`SplitParts::convert`].
///
/// # Errors
/// [`ConvertError::Gzip`] for a bad or cut gzip, else as [`Splitter::push`].
pub fn split_reader(
    gzip: impl Read,
    exchange: &str,
    options: SplitOptions,
    spill_dir: &Path,
) -> Result<SplitParts, SplitError> {
    let mut splitter = Splitter::new(exchange, options, spill_dir)?;
    super::inflate_into(gzip, |block| splitter.push(block))?;
    splitter.finish()
}
