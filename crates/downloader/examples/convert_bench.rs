//! The conversion benchmark's worker, driven by `cargo xtask bench convert`.
//!
//! - `generate --data-type T --compressed-bytes N --out PATH|- [--level L] [--seed S]`: writes a deterministic,
//!   realistic Tardis `.csv.gz` of about N compressed bytes (trades, book_snapshot_5 or book_snapshot_25) and prints its sizes as JSON.
//!   Rows are in arrival (`local_timestamp`) order, with exchange timestamps behind by milliseconds, seconds during
//!   lag spikes and hours for a rare row, as Tardis files are.
//! - `convert --data-type T --input PATH|- --output PATH [--schema original|typed|hive] [--compression zstd|snappy|none]
//!   [--spill-dir DIR] [--window-mib N] [--provisional-mib N]`: converts with `downloader::convert::convert` (the streaming converter the downloader uses,
//!   on a tokio runtime, reading the input in 64 KiB chunks) and prints a JSON summary.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::io::Write;
use std::time::Instant;

use downloader::convert::{self, ConvertOptions, Partition};
use futures::StreamExt;
use md_config::{DataType, ParquetCompression, ParquetSchema};
use test_support::tardis::generate::{Counting, SplitMix};
use tokio::io::AsyncWriteExt;

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Adds a message to a missing value or an error.
trait Context<T> {
    fn context(self, message: &str) -> Result<T>;
    fn with_context(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, message: &str) -> Result<T> {
        self.map_err(|error| format!("{message}: {error}").into())
    }

    fn with_context(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|error| format!("{}: {error}", message()).into())
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, message: &str) -> Result<T> {
        self.ok_or_else(|| message.into())
    }

    fn with_context(self, message: impl FnOnce() -> String) -> Result<T> {
        self.ok_or_else(|| message().into())
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) =
        args.split_first().context("usage: convert_bench generate|convert ...")?;
    let flag = |name: &str| -> Option<&str> {
        rest.iter()
            .position(|arg| arg == name)
            .and_then(|index| rest.get(index + 1))
            .map(String::as_str)
    };
    let data_type: DataType = flag("--data-type")
        .context("--data-type is required")?
        .parse()
        .map_err(|error: String| error)?;
    match command.as_str() {
        "generate" => {
            let compressed: u64 =
                flag("--compressed-bytes").context("--compressed-bytes is required")?.parse()?;
            let level: u32 = flag("--level").unwrap_or("6").parse()?;
            let seed: u64 = flag("--seed").unwrap_or("7").parse()?;
            let out = flag("--out").context("--out is required")?;
            let sizes = if out == "-" {
                generate(
                    data_type,
                    compressed,
                    level,
                    seed,
                    std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
                )?
            } else {
                let file =
                    std::fs::File::create(out).with_context(|| format!("cannot create {out}"))?;
                generate(data_type, compressed, level, seed, std::io::BufWriter::new(file))?
            };
            eprintln!(
                "{{\"csv_bytes\":{},\"gzip_bytes\":{},\"rows\":{}}}",
                sizes.0, sizes.1, sizes.2
            );
            if out != "-" {
                std::fs::write(
                    format!("{out}.json"),
                    format!(
                        "{{\"csv_bytes\":{},\"gzip_bytes\":{},\"rows\":{}}}\n",
                        sizes.0, sizes.1, sizes.2
                    ),
                )?;
            }
            Ok(())
        }
        "convert" => {
            let input = flag("--input").context("--input is required")?;
            let output = flag("--output").context("--output is required")?;
            let compression: ParquetCompression =
                flag("--compression").unwrap_or("zstd").parse().map_err(|error: String| error)?;
            let schema: ParquetSchema =
                flag("--schema").unwrap_or("original").parse().map_err(|error: String| error)?;
            // The options the downloader uses for this schema (row groups of its rows and bytes).
            let parquet = md_config::ParquetOptions {
                schema,
                compression,
                row_group_size: schema.default_row_group_size(),
                ..md_config::ParquetOptions::default()
            };
            let mut options =
                ConvertOptions::new(&parquet, md_config::ServiceConfig::default().batch_size);
            if let Some(dir) = flag("--spill-dir") {
                options.spill_dir = dir.into();
            }
            let mib = |name: &str| -> Result<Option<std::num::NonZeroUsize>> {
                flag(name)
                    .map(|text| {
                        let value: usize = text.parse()?;
                        std::num::NonZeroUsize::new(value << 20).context("a positive size")
                    })
                    .transpose()
            };
            if let Some(bytes) = mib("--window-mib")? {
                options.sort_window_bytes = bytes;
            }
            if let Some(bytes) = mib("--provisional-mib")? {
                options.provisional_memory_bytes = bytes;
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            runtime.block_on(convert_file(data_type, input, output, options))
        }
        other => Err(format!("unknown command {other:?}").into()),
    }
}

async fn convert_file(
    data_type: DataType,
    input: &str,
    output: &str,
    options: ConvertOptions,
) -> Result<()> {
    let started = Instant::now();
    let input = if input == "-" { "/dev/stdin" } else { input };
    let reader =
        tokio::fs::File::open(input).await.with_context(|| format!("cannot open {input}"))?;
    let body = tokio_util::io::ReaderStream::with_capacity(reader, 64 << 10);
    let partition = Partition {
        date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).context("date")?,
        venue: "BINANCE-FUTURES".into(),
        instrument_key: "BINANCE-FUTURES:PERPETUAL:BTC-USDT".into(),
        exchange: "binance-futures".into(),
        symbol: Some("BTCUSDT".into()),
    };
    let body =
        futures::TryStreamExt::map_err(body, Box::<dyn std::error::Error + Send + Sync>::from);
    let mut parquet = convert::convert(body, data_type, partition, options);
    let mut file =
        tokio::fs::File::create(output).await.with_context(|| format!("cannot create {output}"))?;
    while let Some(chunk) = parquet.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await?;
    let summary = parquet.summary().context("the conversion ended without a summary")?;
    println!(
        "{{\"rows\":{},\"csv_bytes\":{},\"parquet_bytes\":{},\"row_groups\":{},\"late_rows\":{},\"rewritten_row_groups\":{},\"seconds\":{:.3}}}",
        summary.rows,
        summary.csv_bytes,
        summary.parquet_bytes,
        summary.row_groups,
        summary.late_rows,
        summary.rewritten_row_groups,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Returns a quantity in lots, spread over four orders of magnitude like real order sizes.
fn lots(random: &mut SplitMix) -> i64 {
    let magnitude = [1, 10, 100, 1000][usize::try_from(random.below(4)).unwrap_or(0)];
    i64::try_from(1 + random.below(magnitude * 3)).unwrap_or(1)
}

/// Writes `value / 10^decimals` the way Tardis does: no trailing zeros, no trailing point.
fn write_fixed(out: &mut Vec<u8>, value: i64, decimals: u32) {
    let scale = 10i64.pow(decimals);
    if value < 0 {
        out.push(b'-');
    }
    let value = value.abs();
    let _infallible = write!(out, "{}", value / scale);
    let mut fraction = value % scale;
    if fraction != 0 {
        let mut digits = decimals;
        while fraction % 10 == 0 {
            fraction /= 10;
            digits -= 1;
        }
        let _infallible =
            write!(out, ".{:0width$}", fraction, width = usize::try_from(digits).unwrap_or(0));
    }
}

/// Generates rows until the compressed output reaches `target` bytes; returns (CSV bytes, gzip bytes, rows).
fn generate(
    data_type: DataType,
    target: u64,
    level: u32,
    seed: u64,
    out: impl Write,
) -> Result<(u64, u64, u64)> {
    let mut counter = Counting { inner: out, written: 0 };
    let mut gzip = flate2::write::GzEncoder::new(&mut counter, flate2::Compression::new(level));
    let mut random = SplitMix::new(seed);
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(convert::csv_header(data_type).as_bytes());
    buf.push(b'\n');
    let mut rows = 0u64;
    let mut csv_bytes = 0u64;
    // The arrival clock (`local_timestamp`), from 2026-10-01T00:00:00Z in microseconds: Tardis files are in
    // arrival order, and the exchange's `timestamp` is behind it by the feed's latency: milliseconds, seconds
    // during a lag spike (one every 20,000 rows or so, 200 rows long), hours for a rare replayed row (one in
    // 3,000,000), so a sorted conversion meets all three.
    let mut local: i64 = 1_790_812_800_000_000;
    let mut latency: i64 = 3_000;
    let mut spike_rows = 0u32;
    let mut next_latency = |random: &mut SplitMix, base: i64, spread: u64| {
        if random.below(20_000) == 0 {
            spike_rows = 200;
        }
        if spike_rows > 0 {
            spike_rows -= 1;
            2_000_000 + i64::try_from(random.below(1_000_000)).unwrap_or(0)
        } else {
            base + i64::try_from(random.below(spread)).unwrap_or(0)
        }
    };
    let replayed = |random: &mut SplitMix| {
        if random.below(3_000_000) == 0 { 3 * 3_600_000_000 } else { 0 }
    };
    let tick = 1i64; // prices in tenths (0.1 tick), amounts in thousandths (0.001 lot)
    let mut price: i64 = 982_345; // 98234.5
    let mut trade_id: i64 = 6_123_456_789;
    let mut side_buy = true;
    let mut asks = [0i64; 25];
    let mut bids = [0i64; 25];
    let mut ask_amounts = [0i64; 25];
    let mut bid_amounts = [0i64; 25];
    let mut refresh_book = true;
    loop {
        match data_type {
            DataType::Trades => {
                // Trades come in bursts: several fills share one matching timestamp and arrive together.
                if !random.chance(35) {
                    let spread = random.below(60_000) + 1;
                    local += i64::try_from(random.below(spread)).unwrap_or(0);
                    latency = next_latency(&mut random, 1_500, 6_000);
                }
                let timestamp = local - latency - replayed(&mut random);
                trade_id += 1;
                if random.chance(8) {
                    side_buy = !side_buy;
                }
                if random.chance(20) {
                    price += tick * (i64::try_from(random.below(5)).unwrap_or(2) - 2);
                }
                let _infallible = write!(
                    buf,
                    "binance-futures,BTCUSDT,{timestamp},{local},{trade_id},{},",
                    if side_buy { "buy" } else { "sell" }
                );
                write_fixed(&mut buf, price, 1);
                buf.push(b',');
                write_fixed(&mut buf, lots(&mut random), 3);
                buf.push(b'\n');
            }
            DataType::BookSnapshot5 | DataType::BookSnapshot25 => {
                let levels = if data_type == DataType::BookSnapshot5 { 5 } else { 25 };
                local += 80_000 + i64::try_from(random.below(40_000)).unwrap_or(0);
                latency = next_latency(&mut random, 2_000, 8_000);
                let timestamp = local - latency - replayed(&mut random);
                if random.chance(30) {
                    price += tick * (i64::try_from(random.below(3)).unwrap_or(1) - 1);
                    refresh_book = true;
                }
                if refresh_book {
                    let mut ask = price + tick;
                    let mut bid = price;
                    for level in 0..levels {
                        asks[level] = ask;
                        bids[level] = bid;
                        ask_amounts[level] = lots(&mut random);
                        bid_amounts[level] = lots(&mut random);
                        ask += tick * (1 + i64::from(random.chance(25)));
                        bid -= tick * (1 + i64::from(random.chance(25)));
                    }
                    refresh_book = false;
                } else {
                    for level in 0..levels {
                        if random.chance(30) {
                            ask_amounts[level] = lots(&mut random);
                        }
                        if random.chance(30) {
                            bid_amounts[level] = lots(&mut random);
                        }
                    }
                }
                let _infallible = write!(buf, "binance-futures,BTCUSDT,{timestamp},{local}");
                for level in 0..levels {
                    for (value, decimals) in [
                        (asks[level], 1),
                        (ask_amounts[level], 3),
                        (bids[level], 1),
                        (bid_amounts[level], 3),
                    ] {
                        buf.push(b',');
                        write_fixed(&mut buf, value, decimals);
                    }
                }
                buf.push(b'\n');
            }
            other => {
                return Err(
                    format!("the generator writes trades and book snapshots, not {other}").into()
                );
            }
        }
        rows += 1;
        if buf.len() >= 1 << 20 {
            csv_bytes += buf.len() as u64;
            gzip.write_all(&buf)?;
            buf.clear();
            if gzip.get_ref().written >= target {
                break;
            }
        }
    }
    csv_bytes += buf.len() as u64;
    gzip.write_all(&buf)?;
    gzip.finish()?;
    counter.flush()?;
    Ok((csv_bytes, counter.written, rows))
}
