//! The grouped options split's memory check (docs/BENCHMARKS.md "Split grouped options files").
//!
//! - `generate --compressed-bytes N [--data-type T]`: writes to stdout a grouped Deribit `OPTIONS` `.csv.gz` of about
//!   N compressed bytes (test-support's stand-in generator, gzip level 1) whose rows cycle over 36 parts: BTC and ETH
//!   options of 18 expiries, 10 strikes each, calls and puts.
//! - `split --input PATH|- [--data-type T] [--open-parts N] [--schema original|typed]`: splits it with
//!   `downloader::convert::split` (temporary file in `$TMPDIR`), converts every part into a byte counter (nothing is
//!   written) and prints a JSON summary. Measure it with `/usr/bin/time -v`.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::num::NonZeroUsize;
use std::time::Instant;

use chrono::{Datelike, Days, NaiveDate};
use downloader::convert::split::{self, SplitOptions};
use downloader::convert::{ConvertOptions, Partition};
use md_config::{DataType, ParquetSchema};
use test_support::tardis::generate::{Counting, FileSpec, write_file};

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// BTC and ETH options of 18 expiries (4 daily, 4 weekly, 6 monthly, 4 quarterly), 10 strikes, calls and puts.
fn symbols(date: NaiveDate) -> Vec<String> {
    let days = [1u64, 2, 3, 4, 7, 14, 21, 28, 35, 63, 91, 119, 147, 182, 273, 364, 455, 546];
    let mut symbols = Vec::new();
    for underlying in ["BTC", "ETH"] {
        for &ahead in &days {
            let expiry = date + Days::new(ahead);
            for strike in 0..10u32 {
                let strike = if underlying == "BTC" {
                    60_000 + strike * 5_000
                } else {
                    2_000 + strike * 250
                };
                for kind in ["C", "P"] {
                    symbols.push(format!(
                        "{underlying}-{}{}{:02}-{strike}-{kind}",
                        expiry.day(),
                        MONTHS[expiry.month0() as usize],
                        expiry.year() % 100
                    ));
                }
            }
        }
    }
    symbols
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args.split_first().ok_or("usage: split_bench generate|split ...")?;
    let flag = |name: &str| -> Option<&str> {
        rest.iter()
            .position(|arg| arg == name)
            .and_then(|index| rest.get(index + 1))
            .map(String::as_str)
    };
    let date = NaiveDate::from_ymd_opt(2026, 10, 1).ok_or("date")?;
    let data_type: DataType = flag("--data-type").unwrap_or("options_chain").parse()?;
    match command.as_str() {
        "generate" => {
            let compressed: u64 =
                flag("--compressed-bytes").ok_or("--compressed-bytes is required")?.parse()?;
            let spec = FileSpec {
                exchange: "deribit".into(),
                data_type: data_type.as_str().into(),
                date,
                symbol: "OPTIONS".into(),
                row_symbols: symbols(date),
                target_size: compressed,
                empty: false,
            };
            let out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            write_file(&spec, out)?;
            Ok(())
        }
        "split" => {
            let input = flag("--input").ok_or("--input is required")?;
            let open_parts: usize = flag("--open-parts").unwrap_or("16").parse()?;
            let schema: ParquetSchema = flag("--schema").unwrap_or("original").parse()?;
            split_file(data_type, input, open_parts, schema, date)
        }
        other => Err(format!("unknown command {other:?}").into()),
    }
}

fn split_file(
    data_type: DataType,
    input: &str,
    open_parts: usize,
    schema: ParquetSchema,
    date: NaiveDate,
) -> Result<()> {
    let started = Instant::now();
    let input = if input == "-" { "/dev/stdin" } else { input };
    let file = std::fs::File::open(input)?;
    let options = SplitOptions {
        open_parts: NonZeroUsize::new(open_parts).ok_or("--open-parts must be positive")?,
        ..SplitOptions::default()
    };
    let parts = split::split_reader(file, "deribit", options, &std::env::temp_dir())?;
    let split_seconds = started.elapsed().as_secs_f64();
    let mut convert = ConvertOptions { schema, ..ConvertOptions::default() };
    convert.row_group_size = schema.default_row_group_size();
    let partition = Partition {
        date,
        venue: "DERIBIT".into(),
        instrument_key: "DERIBIT:OPTION:ALL".into(),
        exchange: "deribit".into(),
        symbol: None,
    };
    let (mut rows, mut parquet_bytes) = (0u64, 0u64);
    for index in 0..parts.parts().len() {
        let sink = Counting { inner: std::io::sink(), written: 0 };
        let (_, summary) = parts.convert(index, sink, data_type, &partition, &convert)?;
        rows += summary.rows;
        parquet_bytes += summary.parquet_bytes;
    }
    println!(
        "{{\"parts\":{},\"most_open\":{},\"rows\":{rows},\"csv_bytes\":{},\"parquet_bytes\":{parquet_bytes},\"split_seconds\":{split_seconds:.1},\"seconds\":{:.1}}}",
        parts.parts().len(),
        parts.most_open(),
        parts.csv_bytes(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
