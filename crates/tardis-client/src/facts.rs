//! What is inside a dataset file, learnt from its CSV as the gzip check inflates it: rows, the first and last
//! `timestamp` and `local_timestamp`, rows whose `local_timestamp` goes backwards, and, for order books and quotes,
//! rows whose best bid crosses or meets the best ask.
//!
//! The facts describe the file as Tardis sent it, row by row in file order (before any sort a converter may do).
//! They cost one pass over the inflated bytes that the check produces anyway: lines are found with `memchr`, and
//! only the first few cells of each row are read (the timestamps are the 3rd and 4th cells of every Tardis CSV, and
//! the best bid and ask come right after them in book snapshots and quotes).
//!
//! Which columns hold what is read from the header, so the scanner needs no data type: a header with `asks[0].price`
//! and `bids[0].price` (book snapshots) or `ask_price` and `bid_price` (quotes, book ticker) makes the file a book,
//! whose crossed and locked rows are counted; any other file reports no book counts (`None`, not 0).

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
}

/// The most cells a row is split into: Tardis puts the cells the facts need among the first eight.
const MAX_NEEDED: usize = 16;

/// Learns [`FileFacts`] from a CSV fed in pieces of any size, split anywhere.
#[derive(Debug, Default)]
pub struct FactsScanner {
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
    /// `None` until the header has been read; `Some(None)` when it lacks the timestamp columns.
    columns: Option<Option<Columns>>,
    facts: FileFacts,
    /// The last well-formed row's `timestamp` and `local_timestamp` cells, as text: rows are compared as text
    /// (digits of equal length compare as numbers do), and only the first and last rows are parsed.
    previous_timestamp: Cell,
    previous_local: Cell,
}

/// A timestamp cell's digits (at most [`Cell::MAX`]), kept between rows.
#[derive(Debug, Default, Clone, Copy)]
struct Cell {
    len: usize,
    digits: [u8; Cell::MAX],
}

impl Cell {
    /// More digits than any µs timestamp has (16 until the year 2286).
    const MAX: usize = 18;

    fn set(&mut self, digits: &[u8]) {
        self.len = digits.len();
        self.digits[..digits.len()].copy_from_slice(digits);
    }

    fn get(&self) -> &[u8] {
        &self.digits[..self.len]
    }

    fn value(&self) -> Option<i64> {
        (self.len > 0).then(|| parse_micros(self.get())).flatten()
    }

    /// Whether `digits` (well-formed) is a smaller number than the kept one; false when none is kept.
    fn is_above(&self, digits: &[u8]) -> bool {
        self.len > 0 && (digits.len(), digits) < (self.len, self.get())
    }
}

impl FactsScanner {
    /// Returns a scanner expecting the file's first byte.
    pub fn new() -> Self {
        FactsScanner::default()
    }

    /// Feeds the next inflated bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        if !self.carry.is_empty() {
            let Some(end) = memchr::memchr(b'\n', data) else {
                self.carry.extend_from_slice(data);
                return;
            };
            let mut line = std::mem::take(&mut self.carry);
            line.extend_from_slice(&data[..end]);
            self.line(&line);
            line.clear();
            self.carry = line;
            data = &data[end + 1..];
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', data) {
            self.line(&data[start..end]);
            start = end + 1;
        }
        self.carry.extend_from_slice(&data[start..]);
    }

    /// Takes the last line (one without a final newline) into account and returns the facts.
    pub fn finish(mut self) -> FileFacts {
        let last = std::mem::take(&mut self.carry);
        self.line(&last);
        self.facts.last_timestamp = self.previous_timestamp.value();
        self.facts.last_local_timestamp = self.previous_local.value();
        self.facts
    }

    #[inline]
    fn line(&mut self, line: &[u8]) {
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
                return;
            }
        };
        self.facts.rows += 1;
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
        let (Some(timestamp), Some(local)) =
            (well_formed(cell(columns.timestamp)), well_formed(cell(columns.local_timestamp)))
        else {
            self.facts.malformed_rows += 1;
            return;
        };
        let facts = &mut self.facts;
        if facts.first_timestamp.is_none() {
            facts.first_timestamp = parse_micros(timestamp);
            facts.first_local_timestamp = parse_micros(local);
        }
        if self.previous_local.is_above(local) {
            facts.local_timestamp_backwards += 1;
        }
        if self.previous_timestamp.is_above(timestamp) {
            facts.timestamp_backwards += 1;
        }
        self.previous_local.set(local);
        self.previous_timestamp.set(timestamp);
        if let Some((bid, ask)) = columns.book {
            // A side without a level (an empty cell) cannot cross.
            if let (Some(bid), Some(ask)) = (cell(bid), cell(ask))
                && !bid.is_empty()
                && !ask.is_empty()
            {
                match compare_prices(bid, ask) {
                    Some(std::cmp::Ordering::Greater) => {
                        *facts.crossed_rows.get_or_insert(0) += 1;
                    }
                    Some(std::cmp::Ordering::Equal) => *facts.locked_rows.get_or_insert(0) += 1,
                    _ => {}
                }
            }
        }
    }
}

/// A timestamp cell as the scanner keeps it: digits only (no sign), at most [`Cell::MAX`].
fn well_formed(cell: Option<&[u8]>) -> Option<&[u8]> {
    cell.filter(|digits| {
        !digits.is_empty() && digits.len() <= Cell::MAX && digits.iter().all(u8::is_ascii_digit)
    })
}

fn trim_leading_zeros(whole: &[u8]) -> &[u8] {
    let zeros = whole.iter().take_while(|&&digit| digit == b'0').count();
    &whole[zeros..]
}

fn trim_trailing_zeros(fraction: &[u8]) -> &[u8] {
    let zeros = fraction.iter().rev().take_while(|&&digit| digit == b'0').count();
    &fraction[..fraction.len() - zeros]
}

/// A timestamp cell: an integer (µs since the epoch), optionally negative.
fn parse_micros(cell: &[u8]) -> Option<i64> {
    let (negative, digits) = match cell.split_first() {
        Some((b'-', digits)) => (true, digits),
        _ => (false, cell),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut value: i64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value * 10 + i64::from(digit);
    }
    Some(if negative { -value } else { value })
}

/// Compares two price cells as numbers: plain non-negative decimals (`75955.5`, `0.0001`) by their digits, without
/// parsing; anything else (an exponent, a sign) through `f64`. `None` when either is not a number.
fn compare_prices(a: &[u8], b: &[u8]) -> Option<std::cmp::Ordering> {
    fn plain(cell: &[u8]) -> Option<(&[u8], &[u8])> {
        let (whole, fraction) = match memchr::memchr(b'.', cell) {
            Some(dot) => (&cell[..dot], &cell[dot + 1..]),
            None => (cell, &[][..]),
        };
        let digits = |part: &[u8]| part.iter().all(u8::is_ascii_digit);
        (!(whole.is_empty() && fraction.is_empty()) && digits(whole) && digits(fraction))
            .then_some((whole, fraction))
    }
    match (plain(a), plain(b)) {
        (Some((a_whole, a_fraction)), Some((b_whole, b_fraction))) => {
            let (a_whole, b_whole) = (trim_leading_zeros(a_whole), trim_leading_zeros(b_whole));
            Some(
                (a_whole.len(), a_whole).cmp(&(b_whole.len(), b_whole)).then_with(|| {
                    trim_trailing_zeros(a_fraction).cmp(trim_trailing_zeros(b_fraction))
                }),
            )
        }
        _ => {
            let number = |cell: &[u8]| -> Option<f64> {
                std::str::from_utf8(cell)
                    .ok()?
                    .parse::<f64>()
                    .ok()
                    .filter(|value| value.is_finite())
            };
            number(a)?.partial_cmp(&number(b)?)
        }
    }
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
        }
    }

    #[test]
    fn timestamps_parse_as_integers_only() {
        assert_eq!(parse_micros(b"1583020803145000"), Some(1_583_020_803_145_000));
        assert_eq!(parse_micros(b"-5"), Some(-5));
        for bad in [&b""[..], b"-", b"1.5", b"12a", b"1234567890123456789"] {
            assert_eq!(parse_micros(bad), None, "{bad:?}");
        }
    }
}
