//! `cargo xtask bench lake`: one day of one symbol's trades read with DuckDB from a lake in md's default layout and
//! in the hive layout, in one run: the files DuckDB listed and read (its `EXPLAIN ANALYZE` profile) and the wall
//! seconds (median of `--runs` fresh connections) of three ways of reading:
//!
//! - the default layout (`by_date/day-D/data_type-T/{KEY}.parquet`), a glob over `by_date/` filtered on the file name:
//!   the only way to ask the default layout for a day without knowing the object name;
//! - the hive layout through `md-cli sql`'s view, filtered on `date`, `exchange` and `symbol`;
//! - the hive layout with the daily index: the day's index parts, then exactly the files they list.
//!
//! `lake.py` builds both lakes once under `target/bench/lake/` from the same generated trades files (with
//! book_snapshot_5 and quotes beside them, as in a bucket), and the hive lake's index of trades in md's index
//! columns; it needs only the tools' `.venv` (DuckDB, pyarrow), no md binary. The files are local: on a bucket every
//! listed name is a page of a listing and every read file at least one ranged request, so the file counts are what
//! carries over, the seconds are a local floor.

use std::fmt::Write as _;

use anyhow::{Context, Result};

use super::Options;
use super::measure::{Meter, capture};

/// The lake: days and instruments per day (30 x 300 x 3 data types = 27,000 files per layout; 10 x 100 with
/// `--quick`).
const SIZE: (usize, usize) = (30, 300);
const QUICK: (usize, usize) = (10, 100);

/// Builds the lakes (once) and reads them; returns the Markdown section body.
pub(crate) fn run(options: &Options, meter: &Meter) -> Result<String> {
    let (days, instruments) = if options.quick { QUICK } else { SIZE };
    let work = super::target_dir().join("bench/lake");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let script = work.join("lake.py");
    std::fs::write(&script, include_str!("lake.py"))?;
    eprintln!(
        "xtask: bench lake: {days} days x {instruments} instruments x 3 data types per layout"
    );
    let stdout = capture(std::process::Command::new(&meter.python).arg(&script).args([
        work.display().to_string(),
        days.to_string(),
        instruments.to_string(),
        options.runs().to_string(),
    ]))?;
    let mut body = format!(
        "One day of one symbol's trades, from a lake of {days} days x {instruments} instruments x 3 data types ({} files per layout), local disk, DuckDB; seconds: median of {} fresh connections.\n\n\
         | Way of reading | Files listed | Files read | Rows | Seconds |\n|---|---:|---:|---:|---:|\n",
        days * instruments * 3,
        options.runs()
    );
    for line in stdout.lines().filter(|line| line.starts_with('{')) {
        let value: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("lake.py printed {line}"))?;
        let number = |field: &str| value[field].as_f64().unwrap_or(f64::NAN);
        writeln!(
            body,
            "| {} | {} | {} | {} | {:.4} |",
            value["way"].as_str().unwrap_or("?"),
            number("files_listed"),
            number("files_read"),
            number("rows"),
            number("seconds")
        )?;
    }
    Ok(body)
}
