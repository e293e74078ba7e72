//! `cargo xtask bench keys`: canonical keys per second over 1,000,000 synthetic Deribit-shaped instruments
//! (`instruments`' `keygen` example: listings generated untimed, then keyed under the clock), wall-clock and CPU
//! time of the keying thread.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::measure::{capture, max, median, min};
use super::{Binaries, Options};

const INSTRUMENTS: &str = "1000000";

/// The keys/s figures of one line of keygen's report: (wall, cpu).
fn rates(report: &str, label: &str) -> Result<(f64, f64)> {
    let line = report
        .lines()
        .find(|line| line.starts_with(label))
        .with_context(|| format!("keygen printed no {label:?} line:\n{report}"))?;
    let numbers: Vec<f64> = line
        .split([',', ';'])
        .filter(|part| part.trim_end().ends_with("keys/s"))
        .filter_map(|part| part.split_whitespace().rev().nth(1)?.parse().ok())
        .collect();
    match numbers.as_slice() {
        [wall, cpu] => Ok((*wall, *cpu)),
        _ => bail!("cannot read keys/s from {line:?}"),
    }
}

/// Runs keygen `--runs` times; returns the Markdown section body.
pub(crate) fn run(options: &Options, binaries: &Binaries) -> Result<String> {
    let paths = [
        (
            "listing path (assign_keys)",
            "whole listings, variants included (what `md-cli instruments` does)",
        ),
        ("single path (key_for_instrument)", "instrument by instrument"),
    ];
    let mut figures: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); paths.len()];
    let mut summary = String::new();
    for round in 0..options.runs() {
        eprintln!("xtask: bench keys (round {})", round + 1);
        let report = capture(Command::new(&binaries.keygen).arg(INSTRUMENTS))?;
        summary = report.lines().next().unwrap_or_default().to_owned();
        for ((label, _), (wall, cpu)) in paths.iter().zip(&mut figures) {
            let (w, c) = rates(&report, label)?;
            wall.push(w);
            cpu.push(c);
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "`keygen {INSTRUMENTS}` (release), median of {} runs (min-max); {summary}.\n",
        options.runs()
    );
    out.push_str(
        "| path | keys/s, wall clock | keys/s, CPU time of the thread |\n|---|---:|---:|\n",
    );
    for ((_, description), (wall, cpu)) in paths.iter().zip(&figures) {
        let _ = writeln!(
            out,
            "| {description} | {:.0} ({:.0}-{:.0}) | {:.0} ({:.0}-{:.0}) |",
            median(wall),
            min(wall),
            max(wall),
            median(cpu),
            min(cpu),
            max(cpu)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_lines_are_read() {
        let report = "instruments: 10 (listings of 5), distinct keys: 10, key bytes: 300\n\
                      listing path (assign_keys): wall 0.500 s, 2000000 keys/s; cpu 0.400 s, 2500000 keys/s\n";
        assert_eq!(rates(report, "listing path").unwrap(), (2_000_000.0, 2_500_000.0));
        assert!(rates(report, "single path").is_err());
    }
}
