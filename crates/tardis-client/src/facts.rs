//! What is inside a dataset file, learnt from its CSV as the gzip check inflates it: rows, the first and last
//! `timestamp` and `local_timestamp`, rows whose `local_timestamp` goes backwards, and, for order books and quotes,
//! rows whose best bid crosses or meets the best ask.
//!
//! The facts describe the file as Tardis sent it, row by row in file order (before any sort a converter may do).
//! They cost one pass over the inflated bytes that the check produces anyway, and the pass must stay cheap beside
//! the inflate itself (issue 25: the verified download within 10% of its throughput without facts), so a row is
//! read in as few steps as the format allows:
//!
//! - line ends are found 64 bytes at a time as bit masks over each whole piece of output, never per line, so a
//!   row's start is known without reading the row before it and the processor overlaps rows;
//! - every Tardis CSV starts `exchange,symbol,timestamp,local_timestamp,`, and a file of one symbol repeats the same
//!   `exchange,symbol,` prefix on every row, so once a row has shown the prefix, the next rows that start with it
//!   have their two timestamps at fixed offsets: 16 digits each (µs since the epoch, 2001 to 2286), checked 16 bytes
//!   at a time and compared as big-endian numbers, without splitting cells or building strings (the *fast path*);
//!   its counts stay in registers for a whole piece (`Tally`), and a row's first bytes are read as one array, so
//!   the reads at the prefix's offsets are bounds-checked once;
//! - only books and quotes read further, and only up to their best bid and ask: the 32 bytes after
//!   `local_timestamp` are classed at once (commas, dots, digits), which gives the two cells and checks they are
//!   plain decimals, compared as one-word keys (a plain price is never parsed);
//! - any row the fast path does not fit (another symbol, a timestamp of another length, a short or odd row, cells
//!   past those 32 bytes, a price that is long or not plain) is read by the general path, which splits the cells the
//!   header names (or, for a book's prices, compares them digit by digit), with the same results.
//!
//! Which columns hold what is read from the header, so the scanner needs no data type: a header with `asks[0].price`
//! and `bids[0].price` (book snapshots) or `ask_price` and `bid_price` (quotes, book ticker) makes the file a book,
//! whose crossed and locked rows are counted; any other file reports no book counts (`None`, not 0).

use std::cmp::Ordering;
use std::ops::Range;

/// Facts about one file's rows (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    /// Data rows (lines after the header, empty lines not counted). 0 for a file with a header only, or nothing.
    pub rows: u64,
    /// The first row's `timestamp` (µs since the epoch), if any row had one.
    pub first_timestamp: Option<i64>,
    /// The last row's `timestamp`.
    pub last_timestamp: Option<i64>,
    /// The first row's `local_timestamp`.
    pub first_local_timestamp: Option<i64>,
    /// The last row's `local_timestamp`.
    pub last_local_timestamp: Option<i64>,
    /// Rows whose `local_timestamp` is earlier than the row before (Tardis writes rows in `local_timestamp` order, so
    /// any is a disorder worth knowing).
    pub local_timestamp_backwards: u64,
    /// Rows whose `timestamp` is earlier than the row before (exchanges' own clocks: common, and why a sort by
    /// `timestamp` must cope with it).
    pub timestamp_backwards: u64,
    /// Rows whose timestamps are not integers (or that lack them).
    pub malformed_rows: u64,
    /// Book snapshots and quotes: rows whose best bid is above the best ask. `None` for other data types.
    pub crossed_rows: Option<u64>,
    /// Book snapshots and quotes: rows whose best bid equals the best ask. `None` for other data types.
    pub locked_rows: Option<u64>,
}

impl FileFacts {
    /// Returns whether the file holds no data row.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
}

/// Where the cells the facts need are, by 0-based index, read from the header.
#[derive(Debug, Clone, Copy)]
struct Columns {
    timestamp: usize,
    local_timestamp: usize,
    /// Best bid and best ask price, for books and quotes.
    book: Option<(usize, usize)>,
    /// How many leading cells a row must be split into.
    needed: usize,
}

impl Columns {
    fn from_header(line: &[u8]) -> Option<Columns> {
        let names: Vec<&[u8]> = line.split(|&byte| byte == b',').collect();
        let find = |name: &str| names.iter().position(|cell| *cell == name.as_bytes());
        let timestamp = find("timestamp")?;
        let local_timestamp = find("local_timestamp")?;
        let book = match (find("bids[0].price"), find("asks[0].price")) {
            (Some(bid), Some(ask)) => Some((bid, ask)),
            _ => match (find("bid_price"), find("ask_price")) {
                (Some(bid), Some(ask)) => Some((bid, ask)),
                _ => None,
            },
        };
        let needed = [timestamp, local_timestamp, book.map_or(0, |(bid, ask)| bid.max(ask))]
            .into_iter()
            .max()
            .unwrap_or(0)
            + 1;
        Some(Columns { timestamp, local_timestamp, book, needed })
    }

    /// Whether rows can take the fast path: the timestamps are the 3rd and 4th cells (every Tardis CSV), and the
    /// book's cells, if any, come after them.
    fn fits_fast_path(&self) -> bool {
        self.timestamp == 2
            && self.local_timestamp == 3
            && self.book.is_none_or(|(bid, ask)| bid > 3 && ask > 3)
            && self.needed <= MAX_NEEDED
    }
}

/// The most cells a row is split into: Tardis puts the cells the facts need among the first eight.
const MAX_NEEDED: usize = 16;

/// The digits of a timestamp on the fast path (µs since the epoch from 2001-09-09 to 2286-11-20).
const FAST_DIGITS: usize = 16;

/// Learns [`FileFacts`] from a CSV fed in pieces of any size, split anywhere.
#[derive(Debug, Default)]
pub struct FactsScanner {
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
    /// `None` until the header has been read; `Some(None)` when it lacks the timestamp columns.
    columns: Option<Option<Columns>>,
    /// What the fast path needs to know, set by the general path.
    fast: Fast,
    facts: FileFacts,
    /// The last well-formed row's `timestamp` and `local_timestamp`, as [`Stamp`]s.
    previous: Option<(Stamp, Stamp)>,
}

/// A timestamp as the scanner compares it: for 16 digits (every timestamp until 2286), the digits themselves as a
/// big-endian number, so that comparing two is comparing the numbers without parsing either; for a longer number
/// (17 or 18 digits), a tag above any digit with the number after it. Made by the general path from any number
/// ([`Stamp::of`]) and by the fast path from the cell's bytes; both make the same stamp for the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Stamp(u128);

impl Stamp {
    /// Above `9` (0x39), the top byte of 16 digits.
    const LONG: u128 = 0x40 << 120;

    /// The stamp of 16 digits, given as two words loaded little-endian.
    #[inline]
    fn of_digits(high: u64, low: u64) -> Stamp {
        Stamp((u128::from(high.swap_bytes()) << 64) | u128::from(low.swap_bytes()))
    }

    /// The stamp of any number of at most 18 digits.
    fn of(value: u64) -> Stamp {
        if value >= 10_000_000_000_000_000 {
            return Stamp(Stamp::LONG | u128::from(value));
        }
        let mut digits = [b'0'; FAST_DIGITS];
        let mut rest = value;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        Stamp(u128::from_be_bytes(digits))
    }

    /// The number, as the facts report it.
    fn value(self) -> i64 {
        let value = if self.0 & Stamp::LONG != 0 {
            self.0 as u64
        } else {
            let digits = self.0.to_be_bytes();
            let word =
                |at: usize| u64::from_le_bytes(digits[at..at + 8].try_into().unwrap_or_default());
            parse_8_digits(word(0)).unwrap_or_default() * 100_000_000
                + parse_8_digits(word(8)).unwrap_or_default()
        };
        i64::try_from(value).unwrap_or(i64::MAX)
    }
}

/// The fast path's settings, set by the general path: a `Copy` value, so that a run of rows reads it from registers.
#[derive(Debug, Clone, Copy, Default)]
struct Fast {
    /// The `exchange,symbol,` of the last row read by the general path, when the columns fit the fast path.
    prefix: Prefix,
    /// The columns' best bid and ask, once the header has named them.
    book: Option<(usize, usize)>,
}

/// The bytes every row of a one-symbol file starts with, as the fast path compares a row's first bytes with them.
#[derive(Debug, Clone, Copy)]
struct Prefix {
    /// The bytes, then zeros.
    bytes: [u8; 64],
    /// Bit `i` for each byte `i` of the prefix.
    mask: u64,
    /// Length in bytes; 0 for none (no row takes the fast path).
    len: usize,
}

impl Default for Prefix {
    fn default() -> Self {
        Prefix { bytes: [0; 64], mask: 0, len: 0 }
    }
}

/// The longest prefix the fast path reads (an exchange id and a symbol are far shorter; a longer one leaves every
/// row to the general path).
const MAX_PREFIX: usize = 56;

/// The first bytes of a row the fast path reads: the prefix, the two timestamps with their commas, and the 32 bytes
/// after them (where a book's best bid and ask are), and 8 more (for a price's word at their end).
const HEAD: usize = MAX_PREFIX + 2 * (FAST_DIGITS + 1) + 32 + 8;

impl Prefix {
    /// The prefix `bytes`, or none if longer than the fast path reads.
    fn of(bytes: &[u8]) -> Prefix {
        let mut prefix = Prefix::default();
        if bytes.is_empty() || bytes.len() > MAX_PREFIX {
            return prefix;
        }
        prefix.bytes[..bytes.len()].copy_from_slice(bytes);
        prefix.mask = u64::MAX >> (64 - bytes.len());
        prefix.len = bytes.len();
        prefix
    }

    /// Whether the row whose first bytes are `head` starts with the prefix: its bytes compared 16 at a time, 32 when
    /// the prefix is no longer (the usual `exchange,symbol,`).
    #[inline(always)]
    fn starts(&self, head: &[u8; HEAD]) -> bool {
        let quarter = |at: usize| equal_mask(&head[at..at + 16], &self.bytes[at..at + 16]);
        let mut equal = quarter(0) | quarter(16) << 16;
        if self.len > 32 {
            equal |= quarter(32) << 32 | quarter(48) << 48;
        }
        equal & self.mask == self.mask
    }
}

/// The counts of a run of fast rows, kept in registers and written back to the facts when the run ends.
#[derive(Debug, Clone, Copy)]
struct Tally {
    rows: u64,
    timestamp_backwards: u64,
    local_timestamp_backwards: u64,
    crossed: u64,
    locked: u64,
    /// The last row's `timestamp` and `local_timestamp`.
    previous: (Stamp, Stamp),
}

impl Tally {
    /// The scanner's counts so far; `None` before the first well-formed row (the fast path then reads nothing).
    fn of(scanner: &FactsScanner) -> Option<Tally> {
        let facts = &scanner.facts;
        Some(Tally {
            rows: facts.rows,
            timestamp_backwards: facts.timestamp_backwards,
            local_timestamp_backwards: facts.local_timestamp_backwards,
            crossed: facts.crossed_rows.unwrap_or(0),
            locked: facts.locked_rows.unwrap_or(0),
            previous: scanner.previous?,
        })
    }

    /// Writes the counts back.
    fn store(self, scanner: &mut FactsScanner) {
        let facts = &mut scanner.facts;
        facts.rows = self.rows;
        facts.timestamp_backwards = self.timestamp_backwards;
        facts.local_timestamp_backwards = self.local_timestamp_backwards;
        facts.crossed_rows = facts.crossed_rows.map(|_| self.crossed);
        facts.locked_rows = facts.locked_rows.map(|_| self.locked);
        scanner.previous = Some(self.previous);
    }

    /// Reads the lines of `lines` by the fast path until one does not fit it; returns the counts and that line
    /// (`None` when none is left).
    fn run(mut self, fast: &Fast, lines: &mut LineEnds<'_>) -> (Tally, Option<(usize, usize)>) {
        let data = lines.data;
        for (start, end) in lines.by_ref() {
            if !self.fast_row(fast, data, start, end) {
                return (self, Some((start, end)));
            }
        }
        (self, None)
    }

    /// Reads the row `data[start..end]` (`end` is its newline's index) if it has the known prefix and 16-digit
    /// timestamps; returns whether it did, having counted nothing when not. The row's first [`HEAD`] bytes are taken
    /// as one array (a padded copy for a row near the end of `data`), so every read at the prefix's offsets is
    /// checked once.
    #[inline(always)]
    fn fast_row(&mut self, fast: &Fast, data: &[u8], start: usize, end: usize) -> bool {
        let prefix = fast.prefix.len.min(MAX_PREFIX);
        // `exchange,symbol,` then 16 digits, a comma, 16 digits and a comma.
        let cells = prefix + 2 * (FAST_DIGITS + 1);
        let padded;
        let head = match data.get(start..).and_then(|rest| rest.first_chunk::<HEAD>()) {
            Some(head) => head,
            None => {
                padded = padded_head(data, start, end);
                &padded
            }
        };
        let stamp = |at: usize| {
            let word =
                |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().unwrap_or_default());
            (sixteen_digits(&head[at..at + 16]), Stamp::of_digits(word(at), word(at + 8)))
        };
        let ((timestamp_digits, timestamp), (local_digits, local)) =
            (stamp(prefix), stamp(prefix + FAST_DIGITS + 1));
        if prefix == 0
            || end < start + cells
            || head[prefix + FAST_DIGITS] != b','
            || head[cells - 1] != b','
            || !(timestamp_digits && local_digits)
            || !fast.prefix.starts(head)
        {
            return false;
        }
        self.rows += 1;
        self.timestamp_backwards += u64::from(timestamp < self.previous.0);
        self.local_timestamp_backwards += u64::from(local < self.previous.1);
        self.previous = (timestamp, local);
        if let Some((bid, ask)) = fast.book {
            let ordering = book_ordering(data, head, start, cells, end, bid, ask);
            self.crossed += u64::from(ordering == Some(Ordering::Greater));
            self.locked += u64::from(ordering == Some(Ordering::Equal));
        }
        true
    }
}

/// The first [`HEAD`] bytes of the row `data[start..=end]` for a row near the end of `data`: the row's bytes, then
/// zeros (the fast path reads nothing past the row's end but what it masks away).
#[cold]
fn padded_head(data: &[u8], start: usize, end: usize) -> [u8; HEAD] {
    let mut head = [0; HEAD];
    let row = &data[start..=end.min(start + HEAD - 1)];
    head[..row.len()].copy_from_slice(row);
    head
}

/// The lines of a piece whose ends are in it: their ends are found 64 bytes at a time as a bit mask
/// ([`byte_mask`]) before the lines are read, so a line's start is known without reading the line before it: the
/// rows' own work does not wait on a search for the previous row's end, and the processor overlaps rows.
struct LineEnds<'a> {
    data: &'a [u8],
    /// Where the next line starts.
    start: usize,
    /// The first byte of the block `ends` describes.
    block: usize,
    /// The first byte not yet searched.
    next_block: usize,
    /// The newlines not yet read of the block at `block` (bit `i` for `data[block + i]`).
    ends: u64,
}

impl Iterator for LineEnds<'_> {
    /// A line's start and its newline's index.
    type Item = (usize, usize);

    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        loop {
            if self.ends != 0 {
                let end = self.block + self.ends.trailing_zeros() as usize;
                self.ends &= self.ends - 1;
                let line = (self.start, end);
                self.start = end + 1;
                return Some(line);
            }
            if let Some(bytes) = self.data.get(self.next_block..self.next_block + 64) {
                self.ends = byte_mask::<b'\n'>(bytes);
                self.block = self.next_block;
                self.next_block += 64;
                continue;
            }
            // The last bytes, fewer than 64.
            let end = find_byte::<b'\n'>(self.data, self.next_block)?;
            let line = (self.start, end);
            (self.start, self.next_block) = (end + 1, end + 1);
            return Some(line);
        }
    }
}

/// How a fast row's best bid compares with its best ask (cells `bid` and `ask`, both after `local_timestamp`); `None`
/// if either cell is missing, empty or not a number. The row starts at `start` in `data`, `head` is its first
/// [`HEAD`] bytes, its cells after `local_timestamp` start at `head[cells..]`, and its newline is at `data[end]`.
///
/// The 32 bytes after `local_timestamp`'s comma (where a book's best prices are) are classed at once ([`Classes`]):
/// their commas give the two cells, and their digits and dots check the cells are plain decimals, whose keys
/// ([`price_key`]) then compare like the numbers. A row whose cells reach past those bytes, or whose prices are
/// longer or not plain, is read by [`searched_book_ordering`].
#[inline(always)]
fn book_ordering(
    data: &[u8],
    head: &[u8; HEAD],
    start: usize,
    cells: usize,
    end: usize,
    bid: usize,
    ask: usize,
) -> Option<Ordering> {
    // The row's bytes after `local_timestamp`'s comma, up to its end (before a `\r`).
    let rest = end - usize::from(data[end - 1] == b'\r') - (start + cells);
    let window: &[u8; 32] = head[cells..cells + 32].try_into().unwrap_or(&[0; 32]);
    let classes = Classes::of(window);
    let commas = classes.commas & if rest >= 32 { u64::MAX } else { (1 << rest) - 1 };
    // Where the first four commas are (64 for none): cell 4 ends at the first, cell 5 between the first two, ...
    let second = commas & commas.wrapping_sub(1);
    let third = second & second.wrapping_sub(1);
    let fourth = third & third.wrapping_sub(1);
    let places = [commas, second, third, fourth].map(|mask| mask.trailing_zeros() as usize);
    // Cell `index` (4 to 7) spans `from..to` of the window; `to` is 32 or more if the window cannot tell.
    let bounds = |index: usize| {
        let nth = index.wrapping_sub(4) & 3;
        let from = if nth == 0 { 0 } else { places[nth - 1] + 1 };
        (from, places[nth].min(rest))
    };
    let ((bid_from, bid_to), (ask_from, ask_to)) = (bounds(bid), bounds(ask));
    if bid < 8 && ask < 8 && bid_to < 32 && ask_to < 32 {
        if bid_from >= bid_to || ask_from >= ask_to {
            // A missing or empty cell: no level on that side.
            return None;
        }
        let (bid_key, ask_key) = (
            price_key(head, cells, &classes, bid_from, bid_to),
            price_key(head, cells, &classes, ask_from, ask_to),
        );
        if let (Some(bid), Some(ask)) = (bid_key, ask_key) {
            return Some(bid.cmp(&ask));
        }
    }
    searched_book_ordering(data, start + cells, start + cells + rest, bid, ask)
}

/// The bytes of the 32 after a row's `local_timestamp` (bit `i` for byte `i`) that are commas, dots and digits (a
/// book's best prices are among the first 32 bytes of its cells; rows whose are not go to the general path).
struct Classes {
    commas: u64,
    dots: u64,
    digits: u64,
}

impl Classes {
    /// Classes 32 bytes, 16 at a time with SSE2 on x86_64.
    #[inline(always)]
    fn of(bytes: &[u8; 32]) -> Classes {
        #[cfg(target_arch = "x86_64")]
        {
            use safe_arch::{
                cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
                set_splat_i8_m128i, sub_i8_m128i,
            };
            let splat = |byte: u8| set_splat_i8_m128i(byte as i8);
            let (comma, dot, zero, nine) = (splat(b','), splat(b'.'), splat(b'0'), splat(9));
            let mut classes = Classes { commas: 0, dots: 0, digits: 0 };
            for (quarter, chunk) in bytes.chunks_exact(16).enumerate() {
                let chunk = load_unaligned_m128i(chunk.try_into().unwrap_or(&[0; 16]));
                let mask = |lanes| u64::from(move_mask_i8_m128i(lanes) as u16) << (16 * quarter);
                // A digit minus `0` is at most 9 (anything else wraps above it).
                let offsets = sub_i8_m128i(chunk, zero);
                classes.commas |= mask(cmp_eq_mask_i8_m128i(chunk, comma));
                classes.dots |= mask(cmp_eq_mask_i8_m128i(chunk, dot));
                classes.digits |= mask(cmp_eq_mask_i8_m128i(min_u8_m128i(offsets, nine), offsets));
            }
            classes
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let of = |wanted: fn(u8) -> bool| {
                bytes
                    .iter()
                    .enumerate()
                    .fold(0, |mask, (at, &byte)| mask | u64::from(wanted(byte)) << at)
            };
            Classes {
                commas: of(|byte| byte == b','),
                dots: of(|byte| byte == b'.'),
                digits: of(|byte| byte.is_ascii_digit()),
            }
        }
    }
}

/// The price in bytes `from..to` (`from < to < 32`) of the 32 at `head[cells..]` (classed as `classes`), if it is a
/// plain decimal of at most 8 bytes (digits and at most one `.`, at least one digit before it,
/// no leading zero before another digit), as a key that orders like the number: the length of its whole part, then
/// its bytes as a big-endian word with the `.`'s place cleared and zeros after the cell (with whole parts of one
/// length the places line up, so the first byte that differs decides). No branch on the digits (half-tick prices
/// make any such branch a coin toss).
#[inline(always)]
fn price_key(
    head: &[u8; HEAD],
    cells: usize,
    classes: &Classes,
    from: usize,
    to: usize,
) -> Option<u128> {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    let from = from & 31;
    let len = (to - from).clamp(1, 8);
    let bits = (u64::MAX >> (64 - len)) << from;
    let dots = classes.dots & bits;
    let whole = (dots.trailing_zeros() as usize).wrapping_sub(from).min(len);
    let word =
        u64::from_le_bytes(head[cells + from..cells + from + 8].try_into().unwrap_or_default());
    let plain = to - from <= 8
        && (classes.digits | dots) & bits == bits
        && dots & dots.wrapping_sub(1) == 0
        && whole != 0
        && !(word as u8 == b'0' && whole > 1);
    let keep = u64::MAX >> (64 - 8 * len);
    let padded = (word & keep) | (ZEROS & !keep);
    let place = 0xFFu64.checked_shl(8 * whole as u32).unwrap_or(0);
    plain.then(|| (whole as u128) << 64 | u128::from((padded & !place).swap_bytes()))
}

/// [`book_ordering`] for any row: the cells after `cells` up to `line_end` searched for comma by comma, the prices
/// compared 16 bytes at a time when they are plain decimals, else digit by digit.
#[cold]
fn searched_book_ordering(
    data: &[u8],
    cells: usize,
    line_end: usize,
    bid: usize,
    ask: usize,
) -> Option<Ordering> {
    let (bid, ask) = searched_cells(data, cells, line_end, bid, ask)?;
    if bid.is_empty() || ask.is_empty() {
        return None;
    }
    // The bytes after a cell are `data`'s, for the fast comparison's 16-byte loads.
    compare_plain_prices(data, bid.clone(), ask.clone())
        .or_else(|| compare_prices(&data[bid], &data[ask]))
}

/// The best bid and ask cells of a row, searched for comma by comma (see [`book_ordering`]).
#[cold]
fn searched_cells(
    data: &[u8],
    cells: usize,
    line_end: usize,
    bid: usize,
    ask: usize,
) -> Option<(Range<usize>, Range<usize>)> {
    let (mut from, mut index) = (cells, 4);
    let (mut bid_cell, mut ask_cell) = (None, None);
    while index <= bid.max(ask) {
        let end = find_byte::<b','>(data, from).map_or(line_end, |comma| comma.min(line_end));
        if index == bid {
            bid_cell = Some(from..end);
        } else if index == ask {
            ask_cell = Some(from..end);
        }
        if end == line_end {
            break;
        }
        (from, index) = (end + 1, index + 1);
    }
    Some((bid_cell?, ask_cell?))
}

/// Whether the 16 bytes `bytes` (16 long) are ASCII digits: one SSE2 test on x86_64.
#[inline(always)]
fn sixteen_digits(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use safe_arch::{
            cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
            set_splat_i8_m128i, sub_i8_m128i,
        };
        let bytes: &[u8; 16] = bytes.try_into().unwrap_or(&[0; 16]);
        // A digit minus `0` is at most 9 (anything else wraps above it).
        let offsets = sub_i8_m128i(load_unaligned_m128i(bytes), set_splat_i8_m128i(b'0' as i8));
        let nine = set_splat_i8_m128i(9);
        move_mask_i8_m128i(cmp_eq_mask_i8_m128i(min_u8_m128i(offsets, nine), offsets)) == 0xFFFF
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes.len() == 16 && bytes.iter().all(u8::is_ascii_digit)
    }
}

/// Which of the 16 bytes `a` and `b` (16 long each) are equal, as a mask (bit `i` for byte `i`): one SSE2 compare on
/// x86_64.
#[inline(always)]
fn equal_mask(a: &[u8], b: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use safe_arch::{cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i};
        let load = |bytes: &[u8]| load_unaligned_m128i(bytes.try_into().unwrap_or(&[0; 16]));
        u64::from(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(load(a), load(b))) as u16)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a.iter()
            .zip(b)
            .take(16)
            .enumerate()
            .fold(0, |mask, (at, (a, b))| mask | u64::from(a == b) << at)
    }
}

impl FactsScanner {
    /// Returns a scanner expecting the file's first byte.
    pub fn new() -> Self {
        FactsScanner::default()
    }

    /// Feeds the next inflated bytes.
    pub fn update(&mut self, data: &[u8]) {
        let mut at = 0;
        if !self.carry.is_empty() {
            let Some(end) = find_byte::<b'\n'>(data, 0) else {
                self.carry.extend_from_slice(data);
                return;
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&data[..=end]);
            self.lines(&line, 0);
            line.clear();
            self.carry = line;
            at = end + 1;
        }
        let at = self.lines(data, at);
        self.carry.extend_from_slice(&data[at..]);
    }

    /// Reads every line of `data` from `start` on whose end is in `data`; returns where the unfinished line (if
    /// any) starts.
    ///
    /// The rows go to the fast path ([`Tally::run`], whose counts stay in registers) until one does not fit it; that
    /// one goes to the general path, and the fast path goes on after it.
    fn lines(&mut self, data: &[u8], start: usize) -> usize {
        let mut lines = LineEnds { data, start, block: start, next_block: start, ends: 0 };
        loop {
            let stopped = match Tally::of(self) {
                Some(tally) => {
                    let (tally, stopped) = tally.run(&self.fast, &mut lines);
                    tally.store(self);
                    stopped
                }
                None => lines.next(),
            };
            let Some((start, end)) = stopped else { return lines.start };
            self.general_row(&data[start..end]);
        }
    }

    /// Takes the last line (one without a final newline) into account and returns the facts.
    pub fn finish(mut self) -> FileFacts {
        let last = std::mem::take(&mut self.carry);
        self.general_row(&last);
        if let Some((timestamp, local)) = self.previous {
            self.facts.last_timestamp = Some(timestamp.value());
            self.facts.last_local_timestamp = Some(local.value());
        }
        self.facts
    }

    /// Reads any line (without its newline): the header, an empty line, or a row split into the cells the header
    /// names.
    #[cold]
    fn general_row(&mut self, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return;
        }
        let columns = match self.columns {
            Some(Some(columns)) => columns,
            Some(None) => {
                self.facts.rows += 1;
                self.facts.malformed_rows += 1;
                return;
            }
            None => {
                let columns = Columns::from_header(line);
                if let Some(columns) = columns {
                    self.facts.crossed_rows = columns.book.map(|_| 0);
                    self.facts.locked_rows = columns.book.map(|_| 0);
                }
                self.columns = Some(columns);
                self.fast.book = columns.and_then(|columns| columns.book);
                return;
            }
        };
        // The end of each of the first `needed` cells (a comma, or the line's end).
        let needed = columns.needed.min(MAX_NEEDED);
        let mut ends = [line.len(); MAX_NEEDED];
        let mut found = 0;
        for comma in memchr::memchr_iter(b',', line) {
            ends[found] = comma;
            found += 1;
            if found == needed {
                break;
            }
        }
        // The cell after the last comma found ends at the line's end.
        let found = (found + 1).min(needed);
        let cell = |index: usize| -> Option<&[u8]> {
            (index < found)
                .then(|| &line[if index == 0 { 0 } else { ends[index - 1] + 1 }..ends[index]])
        };
        let (Some(timestamp), Some(local)) = (
            cell(columns.timestamp).and_then(parse_digits),
            cell(columns.local_timestamp).and_then(parse_digits),
        ) else {
            self.facts.rows += 1;
            self.facts.malformed_rows += 1;
            return;
        };
        self.timestamps(Stamp::of(timestamp), Stamp::of(local));
        if let Some((bid, ask)) = columns.book {
            self.book(cell(bid), cell(ask));
        }
        // The rows after this one take the fast path if they start like it.
        if columns.fits_fast_path() {
            self.fast.prefix = Prefix::of(&line[..ends[1] + 1]);
        }
    }

    /// Counts a well-formed row with these timestamps.
    #[inline]
    fn timestamps(&mut self, timestamp: Stamp, local: Stamp) {
        let facts = &mut self.facts;
        facts.rows += 1;
        match self.previous {
            Some((previous_timestamp, previous_local)) => {
                facts.local_timestamp_backwards += u64::from(local < previous_local);
                facts.timestamp_backwards += u64::from(timestamp < previous_timestamp);
            }
            None => {
                facts.first_timestamp = Some(timestamp.value());
                facts.first_local_timestamp = Some(local.value());
            }
        }
        self.previous = Some((timestamp, local));
    }

    /// Counts a book row whose best bid and ask cells are these.
    fn book(&mut self, bid: Option<&[u8]>, ask: Option<&[u8]>) {
        // A side without a level (an empty cell) cannot cross.
        let (Some(bid), Some(ask)) = (bid, ask) else { return };
        if bid.is_empty() || ask.is_empty() {
            return;
        }
        self.count_book(compare_prices(bid, ask));
    }

    /// Counts a book row whose best bid compares so with its best ask.
    #[inline]
    fn count_book(&mut self, bid_to_ask: Option<Ordering>) {
        match bid_to_ask {
            Some(Ordering::Greater) => *self.facts.crossed_rows.get_or_insert(0) += 1,
            Some(Ordering::Equal) => *self.facts.locked_rows.get_or_insert(0) += 1,
            _ => {}
        }
    }
}

/// Compares two price cells, `data[a]` and `data[b]`, when both are plain decimals of at most 16 bytes without a
/// leading zero (`75955.5`, `70225`), 16 bytes at a time with SSE2 and without a branch on the digits (half-tick
/// prices make any such branch a coin toss): a longer whole part is a larger number, and with whole parts of the
/// same length the dots line up, so with each cell padded as if it ended in `.000…` (or `000…` after its own
/// `.`), the first byte that differs decides. Needs 16 bytes of `data` from each cell's start; `None` for anything
/// else (the general comparison then decides).
#[cfg(target_arch = "x86_64")]
#[inline]
fn compare_plain_prices(data: &[u8], a: Range<usize>, b: Range<usize>) -> Option<Ordering> {
    use safe_arch::{
        bitand_m128i, bitandnot_m128i, bitor_m128i, cmp_eq_mask_i8_m128i, cmp_gt_mask_i8_m128i,
        cmp_lt_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    const INDEX: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    let splat = |byte: u8| set_splat_i8_m128i(byte as i8);
    let mask = |lanes: m128i| move_mask_i8_m128i(lanes) as u32;
    // `if_true` where `choose` is set, `if_false` elsewhere.
    let select = |choose: m128i, if_true: m128i, if_false: m128i| {
        bitor_m128i(bitand_m128i(choose, if_true), bitandnot_m128i(choose, if_false))
    };
    // The length of the whole part, and the padded bytes.
    let read = |cell: &Range<usize>| -> Option<(u32, m128i)> {
        let len = cell.len();
        let block: &[u8; 16] = data.get(cell.start..cell.start + 16)?.try_into().ok()?;
        if !(1..=16).contains(&len) || !(b'1'..=b'9').contains(&block[0]) {
            return None;
        }
        let bytes = load_unaligned_m128i(block);
        let digits = mask(bitand_m128i(
            cmp_gt_mask_i8_m128i(bytes, splat(b'0' - 1)),
            cmp_lt_mask_i8_m128i(bytes, splat(b'9' + 1)),
        ));
        let in_cell = u32::MAX >> (32 - len);
        let dots = mask(cmp_eq_mask_i8_m128i(bytes, splat(b'.'))) & in_cell;
        if (digits | dots) & in_cell != in_cell || dots & dots.wrapping_sub(1) != 0 {
            return None;
        }
        let index = m128i::from(INDEX);
        let keep = cmp_gt_mask_i8_m128i(splat(len as u8), index);
        // A `.` right after a cell without one.
        let no_dot = splat(0u8.wrapping_sub(u8::from(dots == 0)));
        let dot_after = bitand_m128i(no_dot, cmp_eq_mask_i8_m128i(index, splat(len as u8)));
        let pad = select(dot_after, splat(b'.'), splat(b'0'));
        Some(((dots | 1 << len).trailing_zeros(), select(keep, bytes, pad)))
    };
    let ((a_whole, a), (b_whole, b)) = (read(&a)?, read(&b)?);
    let differ = !mask(cmp_eq_mask_i8_m128i(a, b)) & 0xFFFF;
    let first = differ & differ.wrapping_neg();
    let bytes = i32::from(mask(cmp_gt_mask_i8_m128i(a, b)) & first != 0)
        - i32::from(mask(cmp_lt_mask_i8_m128i(a, b)) & first != 0);
    let whole = i32::from(a_whole > b_whole) - i32::from(a_whole < b_whole);
    Some((whole + i32::from(whole == 0) * bytes).cmp(&0))
}

/// Elsewhere the general comparison decides.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn compare_plain_prices(_data: &[u8], _a: Range<usize>, _b: Range<usize>) -> Option<Ordering> {
    None
}

/// Where `BYTE` is among 64 bytes, as a mask (bit `i` for `bytes[i]`): 16 bytes at a time with SSE2 on x86_64.
#[inline]
fn byte_mask<const BYTE: u8>(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use safe_arch::{
            cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        };
        let wanted = set_splat_i8_m128i(BYTE as i8);
        let quarter = |at: usize| {
            let block = bytes.get(at..at + 16).and_then(|block| block.try_into().ok());
            let block = load_unaligned_m128i(block.unwrap_or(&[0; 16]));
            u64::from(move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, wanted)) as u16)
        };
        quarter(0) | quarter(16) << 16 | quarter(32) << 32 | quarter(48) << 48
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytes
            .iter()
            .take(64)
            .enumerate()
            .fold(0, |mask, (at, &byte)| mask | u64::from(byte == BYTE) << at)
    }
}

/// The first `BYTE` in `data` at or after `from`: 16 bytes at a time with SSE2 on x86_64 (where a call to
/// `memchr` per row costs more than the rest of the row), 8 at a time elsewhere.
#[inline]
fn find_byte<const BYTE: u8>(data: &[u8], mut from: usize) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use safe_arch::{
            cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
        };
        let wanted = set_splat_i8_m128i(BYTE as i8);
        while let Some(block) = data.get(from..from + 16) {
            let block = load_unaligned_m128i(block.try_into().unwrap_or(&[0; 16]));
            let found = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(block, wanted));
            if found != 0 {
                return Some(from + found.trailing_zeros() as usize);
            }
            from += 16;
        }
    }
    let spread = u64::from_ne_bytes([BYTE; 8]);
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    while let Some(word) = data.get(from..from + 8) {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default()) ^ spread;
        // The lowest set high bit marks the first zero byte, the first `BYTE` (higher ones may be false).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(from + (zeros.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    data[from..].iter().position(|&byte| byte == BYTE).map(|at| from + at)
}

/// Whether the eight bytes of `word` are all ASCII digits.
#[inline]
fn are_8_digits(word: u64) -> bool {
    const ZEROS: u64 = u64::from_ne_bytes([b'0'; 8]);
    const HIGH_NIBBLES: u64 = u64::from_ne_bytes([0xF0; 8]);
    const SIXES: u64 = u64::from_ne_bytes([0x06; 8]);
    // Every byte 0x30-0x3F, and still 0x3_ with 6 added (so at most 0x39).
    word & HIGH_NIBBLES == ZEROS && word.wrapping_add(SIXES) & HIGH_NIBBLES == ZEROS
}

/// Eight ASCII digits (loaded little-endian) as their number, or `None` if any byte is not a digit.
#[inline]
fn parse_8_digits(word: u64) -> Option<u64> {
    if !are_8_digits(word) {
        return None;
    }
    let digits = word - u64::from_ne_bytes([b'0'; 8]);
    let pairs = (digits.wrapping_mul(10) + (digits >> 8)) & 0x00FF_00FF_00FF_00FF;
    let quads = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((quads.wrapping_mul(10_000) + (quads >> 32)) & 0xFFFF_FFFF)
}

/// A timestamp cell as the scanner reads it: 1 to 18 ASCII digits (no sign), as their number.
fn parse_digits(cell: &[u8]) -> Option<u64> {
    if cell.is_empty() || cell.len() > 18 {
        return None;
    }
    cell.iter().try_fold(0u64, |value, &byte| {
        let digit = byte.wrapping_sub(b'0');
        (digit <= 9).then(|| value * 10 + u64::from(digit))
    })
}

/// Compares two price cells as numbers: plain non-negative decimals (`75955.5`, `0.0001`) digit by digit, without
/// parsing; anything else (an exponent, a sign) through `f64`. `None` when either is not a number.
#[inline]
fn compare_prices(a: &[u8], b: &[u8]) -> Option<Ordering> {
    match (plain_decimal(a), plain_decimal(b)) {
        (Some((a_whole, a_fraction)), Some((b_whole, b_fraction))) => Some(
            a_whole
                .len()
                .cmp(&b_whole.len())
                .then_with(|| compare_digits(a_whole, b_whole, b'0'))
                .then_with(|| {
                    // Fractions of any length: the shorter one padded with zeros.
                    if a_fraction.len() >= b_fraction.len() {
                        compare_digits(a_fraction, b_fraction, b'0')
                    } else {
                        compare_digits(b_fraction, a_fraction, b'0').reverse()
                    }
                }),
        ),
        _ => compare_as_f64(a, b),
    }
}

/// A plain decimal's whole part (without leading zeros) and fraction: digits with at most one `.`, and at least one
/// digit.
#[inline]
fn plain_decimal(cell: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut dot = cell.len();
    for (at, &byte) in cell.iter().enumerate() {
        if byte == b'.' && dot == cell.len() {
            dot = at;
        } else if !byte.is_ascii_digit() {
            return None;
        }
    }
    if cell.len() == usize::from(dot < cell.len()) {
        return None;
    }
    let zeros = cell[..dot].iter().take_while(|&&digit| digit == b'0').count();
    Some((&cell[zeros..dot], cell.get(dot + 1..).unwrap_or_default()))
}

/// Compares `long` with `short` (not longer), digit by digit, `short` padded with `pad`.
#[inline]
fn compare_digits(long: &[u8], short: &[u8], pad: u8) -> Ordering {
    for (at, &digit) in long.iter().enumerate() {
        let other = short.get(at).copied().unwrap_or(pad);
        if digit != other {
            return digit.cmp(&other);
        }
    }
    Ordering::Equal
}

/// Compares two cells that are not plain decimals, as `f64`.
#[cold]
fn compare_as_f64(a: &[u8], b: &[u8]) -> Option<Ordering> {
    let number = |cell: &[u8]| -> Option<f64> {
        std::str::from_utf8(cell).ok()?.parse::<f64>().ok().filter(|value| value.is_finite())
    };
    number(a)?.partial_cmp(&number(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `text` fed in pieces of `piece` bytes.
    fn scan(text: &str, piece: usize) -> FileFacts {
        let mut scanner = FactsScanner::new();
        for chunk in text.as_bytes().chunks(piece.max(1)) {
            scanner.update(chunk);
        }
        scanner.finish()
    }

    const TRADES: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\
        deribit,BTC-PERPETUAL,100,110,1,buy,5,1\n\
        deribit,BTC-PERPETUAL,90,120,2,sell,5,1\n\
        deribit,BTC-PERPETUAL,130,115,3,buy,5,1\n\
        deribit,BTC-PERPETUAL,140,150,4,buy,5,1\n";

    #[test]
    fn counts_rows_ends_and_disorder_in_any_chunking() {
        let expected = FileFacts {
            rows: 4,
            first_timestamp: Some(100),
            last_timestamp: Some(140),
            first_local_timestamp: Some(110),
            last_local_timestamp: Some(150),
            local_timestamp_backwards: 1,
            timestamp_backwards: 1,
            malformed_rows: 0,
            crossed_rows: None,
            locked_rows: None,
        };
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(scan(TRADES, piece), expected, "pieces of {piece}");
        }
        // No final newline, and CRLF line ends: the same facts.
        assert_eq!(scan(TRADES.trim_end(), 5), expected);
        assert_eq!(scan(&TRADES.replace('\n', "\r\n"), 3), expected);
    }

    #[test]
    fn books_and_quotes_count_crossed_and_locked_rows() {
        let book = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount\n\
            x,S,1,2,10.5,1,10.4,1\n\
            x,S,2,3,10.5,1,10.5,1\n\
            x,S,3,4,10.5,1,10.6,1\n\
            x,S,4,5,,,10.6,1\n\
            x,S,5,6,1e1,1,11,1\n";
        let facts = scan(book, 3);
        assert_eq!((facts.rows, facts.crossed_rows, facts.locked_rows), (5, Some(2), Some(1)));
        // Quotes: ask_amount,ask_price,bid_price,bid_amount (outside in).
        let quotes = "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n\
            x,S,1,2,3,100,99,4\n\
            x,S,1,2,3,100,101,4\n";
        let facts = scan(quotes, 4);
        assert_eq!((facts.crossed_rows, facts.locked_rows), (Some(1), Some(0)));
        assert_eq!(scan(TRADES, 9).crossed_rows, None, "trades are not a book");
    }

    #[test]
    fn empty_files_and_bad_cells() {
        assert_eq!(scan("", 1), FileFacts::default());
        let header_only = scan("exchange,symbol,timestamp,local_timestamp,id\n", 2);
        assert!(header_only.is_empty());
        assert_eq!(header_only.first_timestamp, None);
        let bad = scan(
            "exchange,symbol,timestamp,local_timestamp,id\nx,S,1,2,a\nx,S,abc,3,b\nx,S,4\nx,S,5,6,c\n",
            4,
        );
        assert_eq!((bad.rows, bad.malformed_rows), (4, 2));
        assert_eq!((bad.first_timestamp, bad.last_local_timestamp), (Some(1), Some(6)));
        let no_timestamps = scan("a,b\n1,2\n3,4\n", 1);
        assert_eq!((no_timestamps.rows, no_timestamps.malformed_rows), (2, 2));
    }

    #[test]
    fn prices_compare_as_numbers() {
        use std::cmp::Ordering::{Equal, Greater, Less};
        for (a, b, expected) in [
            ("10.5", "10.4", Some(Greater)),
            ("75955", "75955.5", Some(Less)),
            ("75955.", "75955", Some(Equal)),
            ("100", "99.99", Some(Greater)),
            ("1234567890123456", "1234567890123455.9", Some(Greater)),
            ("9.5", "10", Some(Less)),
            ("70224.5", "70225", Some(Less)),
            ("10.5", "10.50", Some(Equal)),
            ("9.99", "10", Some(Less)),
            ("010", "10.0", Some(Equal)),
            ("0.0001", "0.001", Some(Less)),
            (".5", "0.5", Some(Equal)),
            ("1e1", "10", Some(Equal)),
            ("-1", "0", Some(Less)),
            ("abc", "1", None),
            (".", "1", None),
        ] {
            assert_eq!(compare_prices(a.as_bytes(), b.as_bytes()), expected, "{a} vs {b}");
            // The fast path's comparison, where it applies, agrees (a cell's 16-byte load reads past it).
            let row = format!("{a},{b},pad.pad.pad.pad.pad");
            let (a_cell, b_cell) = (0..a.len(), a.len() + 1..a.len() + 1 + b.len());
            if let Some(fast) = compare_plain_prices(row.as_bytes(), a_cell, b_cell) {
                assert_eq!(Some(fast), expected, "fast path: {a} vs {b}");
            }
        }
    }

    #[test]
    fn timestamps_parse_as_digits_only() {
        assert_eq!(parse_digits(b"1583020803145000"), Some(1_583_020_803_145_000));
        assert_eq!(parse_digits(b"007"), Some(7));
        assert_eq!(parse_digits(b"999999999999999999"), Some(999_999_999_999_999_999));
        for bad in [&b""[..], b"-", b"-5", b"+5", b"1.5", b"12a", b"1234567890123456789"] {
            assert_eq!(parse_digits(bad), None, "{bad:?}");
        }
        // The fast path's stamps: sixteen digits compared as they are, and the same stamp from the number.
        let stamp = |digits: &[u8; 16]| {
            let word =
                |at: usize| u64::from_le_bytes(digits[at..at + 8].try_into().expect("8 bytes"));
            assert!(are_8_digits(word(0)) && are_8_digits(word(8)));
            Stamp::of_digits(word(0), word(8))
        };
        for digits in
            [b"1790812800145047", b"0000000000000000", b"9999999999999999", b"0000000000000012"]
        {
            let value: u64 = std::str::from_utf8(digits).expect("ASCII").parse().expect("digits");
            assert_eq!(stamp(digits), Stamp::of(value));
            assert_eq!(stamp(digits).value(), value as i64);
        }
        assert!(stamp(b"1790812800145047") < stamp(b"1790812800145048"));
        assert!(stamp(b"9999999999999999") < Stamp::of(10_000_000_000_000_000));
        assert!(Stamp::of(10_000_000_000_000_000) < Stamp::of(10_000_000_000_000_001));
        assert_eq!(Stamp::of(999_999_999_999_999_999).value(), 999_999_999_999_999_999);
        for bad in
            [b"179081280014504/", b"17908128001450:7", b"1790812800 45047", b"-790812800145047"]
        {
            let word = |at: usize| u64::from_le_bytes(bad[at..at + 8].try_into().expect("8 bytes"));
            assert!(!(are_8_digits(word(0)) && are_8_digits(word(8))), "{bad:?}");
        }
    }

    #[test]
    fn bytes_are_found_in_blocks() {
        let line = b"binance-futures,BTCUSDT,1,,22,abcdefghijklmnop,x,and a longer tail without commas, then one";
        for from in 0..line.len() {
            assert_eq!(
                find_byte::<b','>(line, from),
                memchr::memchr(b',', &line[from..]).map(|at| from + at),
                "from {from}"
            );
        }
        assert_eq!(find_byte::<b'\n'>(b"no newline here at all, not even at the end", 0), None);
        for from in 0..line.len() - 64 {
            let expected = line[from..from + 64]
                .iter()
                .enumerate()
                .fold(0u64, |mask, (at, &byte)| mask | u64::from(byte == b',') << at);
            assert_eq!(byte_mask::<b','>(&line[from..from + 64]), expected, "from {from}");
        }
    }

    /// Rows of a one-symbol book, the fast path's case, with lines ending anywhere in the 64-byte blocks whose
    /// line ends are found together, and in pieces that cut rows and blocks anywhere.
    #[test]
    fn rows_across_blocks_and_pieces_have_the_plain_readings_facts() {
        let mut text = String::from(
            "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n",
        );
        for row in 0..400u64 {
            // Lines of 60 to 130 bytes, half-tick prices, some crossed or locked, the clocks now and then back.
            let timestamp = 1_790_812_800_000_000 + row * 1000 - (row % 7 == 3) as u64 * 5000;
            let local = timestamp + 20_000 - (row % 11 == 5) as u64 * 30_000;
            let ask = 70_000 + row % 13;
            let bid = format!("{}.{}", ask - 1 + (row % 17 == 0) as u64, (row % 3) * 5 % 10);
            let amount = "1".repeat((row % 71) as usize);
            let end = if row % 5 == 0 { "\r\n" } else { "\n" };
            text.push_str(&format!(
                "binance-futures,BTCUSDT,{timestamp},{local},{amount}1.5,{ask},{bid},2{end}"
            ));
        }
        let expected = reference(&text);
        assert!(expected.crossed_rows > Some(0) && expected.locked_rows > Some(0), "{expected:?}");
        assert!(expected.timestamp_backwards > 0 && expected.local_timestamp_backwards > 0);
        for piece in [1, 63, 64, 65, 200, 4096, text.len()] {
            assert_eq!(scan(&text, piece), expected, "pieces of {piece}");
        }
    }

    /// Book rows whose best prices take each way the fast path has (one-word keys, and the general comparison for
    /// prices that are long, not plain, or past the 32 bytes it classes), in quotes and book snapshot layouts: the
    /// crossed and locked counts of the plain reading.
    #[test]
    fn book_prices_compare_as_numbers_on_every_path() {
        let pairs = [
            ("88847.5", "88847"),
            ("88847", "88847.5"),
            ("88847", "88847"),
            ("100", "100.0"),
            ("100.", "100"),
            ("0.5", "0.25"),
            ("0.25", "0.5"),
            ("9.5", "10"),
            ("10", "9.5"),
            ("12345678", "12345679"),
            ("12345679", "12345678"),
            ("1234567.8", "1234567.9"),
            ("123456789", "123456789"),
            ("0100", "100"),
            (".5", "0.5"),
            ("1e2", "100"),
            ("-1", "1"),
            ("", "5"),
            ("5", ""),
            ("0.00012345", "0.00012344"),
        ];
        // An amount before the prices, short or long enough to push them past the classed 32 bytes.
        for amount in ["1.5", "123456789012345678901234.5"] {
            for header in [
                "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount",
                "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount",
            ] {
                let quotes = header.contains("ask_amount");
                for (bid, ask) in pairs {
                    let mut text = format!("{header}\n");
                    // Rows enough for the fast path, with the pair in every other row.
                    for row in 0..40u64 {
                        let (bid, ask) = if row % 2 == 0 { (bid, ask) } else { ("7", "8") };
                        let cells = if quotes {
                            format!("{amount},{ask},{bid},2")
                        } else {
                            format!("{ask},{amount},{bid},2")
                        };
                        text.push_str(&format!(
                            "binance-futures,BTCUSDT,{},{},{cells}\n",
                            1_790_812_800_000_000 + row,
                            1_790_812_800_000_100 + row
                        ));
                    }
                    let expected = reference(&text);
                    assert_eq!(
                        scan(&text, text.len()),
                        expected,
                        "{header} bid {bid} ask {ask} amount {amount}"
                    );
                }
            }
        }
    }

    /// The facts by the plainest reading: split the whole text into lines and cells.
    fn reference(text: &str) -> FileFacts {
        let mut lines = text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line));
        let Some(columns) = lines.next().and_then(|header| Columns::from_header(header.as_bytes()))
        else {
            let rows = lines.filter(|line| !line.is_empty()).count() as u64;
            return FileFacts { rows, malformed_rows: rows, ..FileFacts::default() };
        };
        let mut facts = FileFacts {
            crossed_rows: columns.book.map(|_| 0),
            locked_rows: columns.book.map(|_| 0),
            ..FileFacts::default()
        };
        let mut previous: Option<(u64, u64)> = None;
        for line in lines.filter(|line| !line.is_empty()) {
            facts.rows += 1;
            let cells: Vec<&str> = line.split(',').collect();
            let number = |index: usize| {
                cells
                    .get(index)
                    .filter(|cell| {
                        (1..=18).contains(&cell.len()) && cell.bytes().all(|b| b.is_ascii_digit())
                    })
                    .map(|cell| cell.parse::<u64>().expect("digits"))
            };
            let (Some(timestamp), Some(local)) =
                (number(columns.timestamp), number(columns.local_timestamp))
            else {
                facts.malformed_rows += 1;
                continue;
            };
            if let Some((previous_timestamp, previous_local)) = previous {
                facts.timestamp_backwards += u64::from(timestamp < previous_timestamp);
                facts.local_timestamp_backwards += u64::from(local < previous_local);
            } else {
                facts.first_timestamp = Some(timestamp as i64);
                facts.first_local_timestamp = Some(local as i64);
            }
            previous = Some((timestamp, local));
            if let Some((bid, ask)) = columns.book {
                let price = |index: usize| {
                    cells
                        .get(index)
                        .filter(|cell| !cell.is_empty())
                        .and_then(|cell| cell.parse::<f64>().ok())
                };
                if let (Some(bid), Some(ask)) = (price(bid), price(ask)) {
                    *facts.crossed_rows.get_or_insert(0) += u64::from(bid > ask);
                    *facts.locked_rows.get_or_insert(0) += u64::from(bid == ask);
                }
            }
        }
        facts.last_timestamp = previous.map(|(timestamp, _)| timestamp as i64);
        facts.last_local_timestamp = previous.map(|(_, local)| local as i64);
        facts
    }

    mod properties {
        use proptest::prelude::*;

        use super::{reference, scan};

        /// One row: a symbol of three (so the fast path's prefix changes), timestamps of 16 digits mostly (some
        /// shorter, longer or broken), and a best ask and bid near each other (so rows cross and lock).
        fn row() -> impl Strategy<Value = String> {
            let stamp = prop_oneof![
                8 => (1_000_000_000_000_000u64..1_000_000_000_000_100).prop_map(|value| value.to_string()),
                1 => (0u64..200).prop_map(|value| value.to_string()),
                1 => (10_000_000_000_000_000u64..10_000_000_000_000_010).prop_map(|value| value.to_string()),
                1 => prop_oneof![Just("".to_owned()), Just("1e5".to_owned()), Just("100000000000000x".to_owned())],
            ];
            let price = prop_oneof![
                4 => (95u32..105).prop_map(|value| value.to_string()),
                2 => (950u32..1050).prop_map(|value| format!("{}.{}", value / 10, value % 10)),
                1 => (95u32..105).prop_map(|value| format!("{value}.50")),
                1 => Just("".to_owned()),
                1 => prop_oneof![Just("0100"), Just("100."), Just("1e2"), Just("99.9999999999999"), Just("100.0000000000001")]
                    .prop_map(str::to_owned),
            ];
            // The third is 17 bytes longer than the others: a row of one read at the other's offsets lands on
            // the next cells, which shape 3 makes 16 digits too.
            let symbol =
                prop_oneof![Just("BTCUSDT"), Just("ETHUSDT"), Just("BTCUSDT-0123456789ABCDEF")];
            (symbol, stamp.clone(), stamp, price.clone(), price, 0u8..8).prop_map(
                |(symbol, timestamp, local, ask, bid, shape)| match shape {
                    0 => String::new(),
                    1 => format!("binance-futures,{symbol},{timestamp}"),
                    2 => format!("binance-futures,{symbol},{timestamp},{local},1,{ask},{bid},2\r"),
                    3 => format!(
                        "binance-futures,{symbol},{timestamp},{local},{local},{timestamp},{bid},2"
                    ),
                    _ => format!("binance-futures,{symbol},{timestamp},{local},1,{ask},{bid},2"),
                },
            )
        }

        proptest! {
            #[test]
            fn any_text_in_any_pieces_gives_the_plain_readings_facts(
                rows in proptest::collection::vec(row(), 0..80),
                header in prop_oneof![
                    Just("exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount"),
                    Just("exchange,symbol,timestamp,local_timestamp,id,side,price,amount"),
                    Just("exchange,symbol,local_timestamp,timestamp,ask_amount,ask_price,bid_price,bid_amount"),
                    Just("exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,bids[0].amount"),
                ],
                // Small pieces cut every row; large ones hold rows whole, read 64 bytes of line ends at a time.
                piece in prop_oneof![1usize..200, 200usize..10_000],
                final_newline in any::<bool>(),
            ) {
                let mut text = format!("{header}\n{}", rows.join("\n"));
                if final_newline {
                    text.push('\n');
                }
                prop_assert_eq!(scan(&text, piece), reference(&text));
            }
        }
    }
}
