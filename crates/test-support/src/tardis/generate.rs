//! Deterministic dataset files: gzip CSV with the exact Tardis header per data type, realistic rows (increasing
//! timestamps, a random-walk price, the real per-row symbol for grouped files), and a target compressed size.
//!
//! The same path and size always give the same bytes (seeded by FNV-1a of the path; no `rand`, no `DefaultHasher`).

use std::io::{self, Write};

use chrono::{Datelike, Duration as Days, NaiveDate};
use flate2::Compression;
use flate2::write::GzEncoder;

/// The CSV header line of a Tardis data type, or `None` for an unknown type.
pub fn header(data_type: &str) -> Option<String> {
    const BASE: &str = "exchange,symbol,timestamp,local_timestamp";
    let rest = match data_type {
        "trades" | "liquidations" => "id,side,price,amount".to_owned(),
        "incremental_book_L2" => "is_snapshot,side,price,amount".to_owned(),
        "book_snapshot_25" => levels(25),
        "book_snapshot_5" => levels(5),
        "quotes" | "book_ticker" => "ask_amount,ask_price,bid_price,bid_amount".to_owned(),
        "derivative_ticker" => "funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,\
                                index_price,mark_price"
            .to_owned(),
        "options_chain" => "type,strike_price,expiration,open_interest,last_price,bid_price,bid_amount,bid_iv,\
                            ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,delta,\
                            gamma,vega,theta,rho"
            .to_owned(),
        _ => return None,
    };
    Some(format!("{BASE},{rest}"))
}

fn levels(depth: usize) -> String {
    (0..depth)
        .map(|i| format!("asks[{i}].price,asks[{i}].amount,bids[{i}].price,bids[{i}].amount"))
        .collect::<Vec<_>>()
        .join(",")
}

/// FNV-1a, 64 bit: a stable seed from text.
pub fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// SplitMix64: small, fast, stable across releases.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// What to generate: one file.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// Exchange id (first CSV column).
    pub exchange: String,
    /// Data type (decides the header and row shape).
    pub data_type: String,
    /// The UTC day (timestamps fall inside it).
    pub date: NaiveDate,
    /// The URL symbol (a real id or a grouped one).
    pub symbol: String,
    /// Per-row symbols for grouped files (`OPTIONS`, `PERPETUALS`, ...); empty means `symbol` itself.
    pub row_symbols: Vec<String>,
    /// Target compressed size in bytes (the file ends at the first row batch that reaches it).
    pub target_size: u64,
    /// Serve a valid empty gzip (no rows, no header) instead.
    pub empty: bool,
}

/// Counts bytes written through it.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the gzip file for `spec` into `out`, returning `out`.
///
/// # Errors
/// Errors of `out`.
pub fn write_file<W: Write>(spec: &FileSpec, out: W) -> io::Result<W> {
    let counting = Counting { inner: out, written: 0 };
    let mut encoder = GzEncoder::new(counting, Compression::fast());
    if !spec.empty {
        let header = header(&spec.data_type).unwrap_or_else(|| "exchange,symbol".into());
        let mut rows = RowWriter::new(spec);
        let mut batch = Vec::with_capacity(256 * 1024);
        batch.extend_from_slice(header.as_bytes());
        batch.push(b'\n');
        while encoder.get_ref().written < spec.target_size {
            while batch.len() < 192 * 1024 {
                rows.write_row(&mut batch);
            }
            encoder.write_all(&batch)?;
            batch.clear();
        }
    }
    Ok(encoder.finish()?.inner)
}

/// Generates the whole file in memory.
pub fn generate(spec: &FileSpec) -> Vec<u8> {
    write_file(spec, Vec::new()).expect("writing to memory cannot fail")
}

/// Row state: a clock and a market.
struct RowWriter<'a> {
    spec: &'a FileSpec,
    rng: SplitMix,
    timestamp: u64,
    day_end: u64,
    step: u64,
    mid: f64,
    trade_id: u64,
    rows: u64,
    levels: usize,
}

impl<'a> RowWriter<'a> {
    fn new(spec: &'a FileSpec) -> Self {
        let seed =
            fnv1a(&format!("{}/{}/{}/{}", spec.exchange, spec.data_type, spec.date, spec.symbol));
        let mut rng = SplitMix::new(seed);
        let day_start =
            spec.date.and_hms_opt(0, 0, 0).expect("midnight").and_utc().timestamp_micros() as u64;
        let row_len: u64 = match spec.data_type.as_str() {
            "book_snapshot_25" => 600,
            "book_snapshot_5" => 140,
            "options_chain" => 200,
            "derivative_ticker" => 110,
            _ => 70,
        };
        // CSV like this compresses about 4:1 at level 1: spread the expected rows over the day.
        let expected_rows = (spec.target_size * 4 / row_len).max(1);
        let step = (86_400_000_000 / expected_rows).max(1);
        let mid = match spec.symbol.as_bytes().first() {
            Some(b'E') => 3_300.0 + rng.unit() * 100.0,
            _ => 60_000.0 + rng.unit() * 40_000.0,
        };
        let levels = match spec.data_type.as_str() {
            "book_snapshot_25" => 25,
            "book_snapshot_5" => 5,
            _ => 0,
        };
        RowWriter {
            spec,
            rng,
            timestamp: day_start + step / 2,
            day_end: day_start + 86_400_000_000 - 1,
            step,
            mid,
            trade_id: seed % 1_000_000_000,
            rows: 0,
            levels,
        }
    }

    fn symbol(&mut self) -> &'a str {
        let symbols = &self.spec.row_symbols;
        if symbols.is_empty() {
            &self.spec.symbol
        } else {
            let index = self.rng.below(symbols.len() as u64) as usize;
            &symbols[index]
        }
    }

    fn write_row(&mut self, out: &mut Vec<u8>) {
        let jitter = self.rng.below(self.step);
        self.timestamp = (self.timestamp + self.step / 2 + jitter).min(self.day_end);
        let timestamp = self.timestamp;
        let local = (timestamp + 200 + self.rng.below(40_000)).min(self.day_end);
        self.mid = (self.mid * (1.0 + (self.rng.unit() - 0.5) * 0.0004)).max(1.0);
        let tick = if self.mid > 1_000.0 { 0.5 } else { 0.01 };
        let mid = round_to(self.mid, tick);
        let symbol = self.symbol();
        let _ = write!(out, "{},{},{},{},", self.spec.exchange, symbol, timestamp, local);
        let side = if self.rng.below(2) == 0 { "buy" } else { "sell" };
        let amount = round_to(self.rng.unit() * 2.0 + 0.001, 0.001);
        let _ = match self.spec.data_type.as_str() {
            "trades" => {
                self.trade_id += 1;
                writeln!(out, "{},{side},{mid},{amount}", self.trade_id)
            }
            "liquidations" => writeln!(out, ",{side},{mid},{amount}"),
            "incremental_book_L2" => {
                let snapshot = self.rows < 50;
                let book_side = if self.rng.below(2) == 0 { "bid" } else { "ask" };
                let offset = (self.rng.below(40) as f64) * tick;
                let price = if book_side == "bid" { mid - offset } else { mid + tick + offset };
                let size = if !snapshot && self.rng.below(5) == 0 { 0.0 } else { amount };
                writeln!(out, "{snapshot},{book_side},{},{size}", round_to(price, tick))
            }
            "book_snapshot_25" | "book_snapshot_5" => {
                for level in 0..self.levels {
                    let step = tick * (level as f64 + 1.0);
                    let ask_amount = round_to(self.rng.unit() * 3.0 + 0.001, 0.001);
                    let bid_amount = round_to(self.rng.unit() * 3.0 + 0.001, 0.001);
                    let separator = if level + 1 == self.levels { "" } else { "," };
                    let _ = write!(
                        out,
                        "{},{ask_amount},{},{bid_amount}{separator}",
                        round_to(mid + step, tick),
                        round_to(mid - step + tick, tick)
                    );
                }
                writeln!(out)
            }
            "quotes" | "book_ticker" => {
                let bid_amount = round_to(self.rng.unit() * 3.0 + 0.001, 0.001);
                writeln!(out, "{amount},{},{mid},{bid_amount}", round_to(mid + tick, tick))
            }
            "derivative_ticker" => {
                let funding = (timestamp / 28_800_000_000 + 1) * 28_800_000_000;
                let rate = round_to((self.rng.unit() - 0.3) * 0.0003, 0.000_000_01);
                let open_interest = 400_000_000 + self.rng.below(200_000_000);
                let index = round_to(mid * (1.0 + (self.rng.unit() - 0.5) * 0.0002), 0.01);
                let mark = round_to(mid * (1.0 + (self.rng.unit() - 0.5) * 0.0001), 0.01);
                writeln!(out, "{funding},{rate},,{open_interest},{mid},{index},{mark}")
            }
            "options_chain" => self.option_row(out, symbol, timestamp),
            _ => writeln!(out),
        };
        self.rows += 1;
    }

    fn option_row(&mut self, out: &mut Vec<u8>, symbol: &str, timestamp: u64) -> io::Result<()> {
        let (kind, strike) = parse_option(symbol).unwrap_or(("call", 100_000.0));
        let expiration =
            (timestamp / 86_400_000_000 + 7 + self.rng.below(90)) * 86_400_000_000 + 28_800_000_000;
        let underlying = round_to(self.mid, 0.01);
        let mark = round_to(self.rng.unit() * 0.2 + 0.0001, 0.0001);
        let iv = round_to(40.0 + self.rng.unit() * 20.0, 0.01);
        let delta =
            round_to(if kind == "call" { self.rng.unit() } else { -self.rng.unit() }, 0.00001);
        let index = format!("SYN.{}", symbol.split('-').take(2).collect::<Vec<_>>().join("-"));
        writeln!(
            out,
            "{kind},{strike},{expiration},{},{},{},{},{},{},{},{},{mark},{iv},{index},{underlying},{delta},0,{},{},{}",
            round_to(self.rng.unit() * 500.0, 0.1),
            round_to(mark * 1.01, 0.0001),
            round_to(mark * 0.99, 0.0001),
            round_to(self.rng.unit() * 10.0, 0.1),
            round_to(iv - 1.0, 0.01),
            round_to(mark * 1.02, 0.0001),
            round_to(self.rng.unit() * 10.0, 0.1),
            round_to(iv + 1.0, 0.01),
            round_to(self.rng.unit() * 60.0, 0.00001),
            round_to(-self.rng.unit() * 10.0, 0.00001),
            round_to((self.rng.unit() - 0.5) * 1000.0, 0.00001),
        )
    }
}

fn round_to(value: f64, tick: f64) -> f64 {
    let steps = (value / tick).round();
    // Print through the shortest decimal of the rounded value (`98926.1`, not `98926.099999`).
    let decimals = (-tick.log10()).ceil().max(0.0) as i32;
    let scale = 10f64.powi(decimals);
    (steps * tick * scale).round() / scale
}

/// `BTC-27NOV26-100000-C` or `BTC-USD-261127-100000-P` -> (`call`|`put`, strike).
fn parse_option(symbol: &str) -> Option<(&'static str, f64)> {
    let mut parts = symbol.rsplit('-');
    let kind = match parts.next()? {
        "C" => "call",
        "P" => "put",
        _ => return None,
    };
    Some((kind, parts.next()?.parse().ok()?))
}

/// Plausible option symbols for a grouped `OPTIONS` file on `date`, in the exchange's style.
pub fn option_symbols(exchange: &str, date: NaiveDate) -> Vec<String> {
    const MONTHS: [&str; 12] =
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    let mut symbols = Vec::new();
    for weeks in [1i64, 2, 5, 13] {
        let expiry = date + Days::weeks(weeks);
        for underlying in ["BTC", "ETH"] {
            let strikes: &[u32] =
                if underlying == "BTC" { &[80_000, 100_000, 120_000] } else { &[3_000, 3_500] };
            for strike in strikes {
                for kind in ["C", "P"] {
                    symbols.push(if exchange.starts_with("okex") {
                        format!(
                            "{underlying}-USD-{:02}{:02}{:02}-{strike}-{kind}",
                            expiry.year() % 100,
                            expiry.month(),
                            expiry.day()
                        )
                    } else {
                        format!(
                            "{underlying}-{}{}{:02}-{strike}-{kind}",
                            expiry.day(),
                            MONTHS[expiry.month0() as usize],
                            expiry.year() % 100
                        )
                    });
                }
            }
        }
    }
    symbols
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn spec(data_type: &str, symbol: &str, size: u64) -> FileSpec {
        FileSpec {
            exchange: "deribit".into(),
            data_type: data_type.into(),
            date: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
            symbol: symbol.into(),
            row_symbols: Vec::new(),
            target_size: size,
            empty: false,
        }
    }

    fn gunzip(body: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(body).read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn files_are_deterministic_sized_and_well_formed() {
        for data_type in [
            "trades",
            "liquidations",
            "incremental_book_L2",
            "book_snapshot_25",
            "book_snapshot_5",
            "quotes",
            "book_ticker",
            "derivative_ticker",
            "options_chain",
        ] {
            let spec = spec(data_type, "BTC-PERPETUAL", 20_000);
            let body = generate(&spec);
            assert_eq!(body, generate(&spec), "{data_type}");
            assert!(body.len() >= 20_000 && body.len() < 400_000, "{data_type}: {}", body.len());
            let text = gunzip(&body);
            let mut lines = text.lines();
            let header_line = lines.next().unwrap();
            assert_eq!(header_line, header(data_type).unwrap());
            let columns = header_line.split(',').count();
            let mut last = 0u64;
            for line in lines {
                let cells: Vec<&str> = line.split(',').collect();
                assert_eq!(cells.len(), columns, "{data_type}: {line}");
                let timestamp: u64 = cells[2].parse().unwrap();
                assert!(timestamp >= last, "{data_type}: timestamps go back");
                assert!(cells[3].parse::<u64>().unwrap() >= timestamp);
                last = timestamp;
            }
            assert!(last < 1_709_337_600_000_000, "{data_type}: past the day");
        }
        let empty = generate(&FileSpec { empty: true, ..spec("trades", "X", 1000) });
        assert!(gunzip(&empty).is_empty());
    }

    #[test]
    fn grouped_files_carry_real_symbols() {
        let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        let symbols = option_symbols("deribit", date);
        assert!(symbols.contains(&"BTC-8MAR24-100000-C".to_owned()), "{symbols:?}");
        let body = generate(&FileSpec {
            row_symbols: symbols.clone(),
            ..spec("options_chain", "OPTIONS", 10_000)
        });
        let text = gunzip(&body);
        for line in text.lines().skip(1) {
            let symbol = line.split(',').nth(1).unwrap();
            assert!(symbols.iter().any(|s| s == symbol), "{symbol}");
        }
    }
}
