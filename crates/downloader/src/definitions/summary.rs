//! How writing the definitions of a range reads ([`DefinitionsSummary`], as `md-cli instruments` prints it).

use std::collections::BTreeMap;
use std::fmt;

use md_config::DateRange;

use super::DefinitionsReport;

/// A [`DefinitionsReport`] as a table: one row per exchange (where its definitions came from, instruments on the
/// busiest day, groups, unparsed symbols, or why it failed), each unparsed symbol, the objects written and changed,
/// and the files of other writers it replaced.
#[derive(Debug, Clone, Copy)]
pub struct DefinitionsSummary<'a> {
    /// What was done.
    pub report: &'a DefinitionsReport,
    /// The days asked for.
    pub dates: DateRange,
}

impl fmt::Display for DefinitionsSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (report, dates) = (self.report, self.dates);
        writeln!(f, "instrument definitions {} to {}", dates.start, dates.end)?;
        let header = ("exchange", "source", "per day", "groups", "unparsed");
        writeln!(
            f,
            "{:<20} {:<14} {:>10} {:>8} {:>9}",
            header.0, header.1, header.2, header.3, header.4
        )?;
        for (exchange, entry) in &report.exchanges {
            match &entry.error {
                Some(error) => writeln!(f, "{exchange:<20} FAILED: {error}")?,
                None => writeln!(
                    f,
                    "{exchange:<20} {:<14} {:>10} {:>8} {:>9}",
                    entry.source,
                    entry.max_instruments_per_day,
                    entry.groups,
                    entry.unparsed.len()
                )?,
            }
            for (symbol, why) in &entry.unparsed {
                writeln!(f, "  unparsed {exchange} {symbol}: {why}")?;
            }
        }
        let changed = report.objects.iter().filter(|object| object.changed).count();
        let unchanged = report.objects.len() - changed;
        writeln!(
            f,
            "objects: {} written ({changed} changed, {unchanged} unchanged)",
            report.objects.len()
        )?;
        let mut replaced: BTreeMap<&str, usize> = BTreeMap::new();
        for writer in report.objects.iter().filter_map(|object| object.replaced) {
            *replaced.entry(writer).or_default() += 1;
        }
        for (writer, count) in replaced {
            let files = if count == 1 { "file" } else { "files" };
            writeln!(
                f,
                "replaced {count} definitions {files} written by {writer} (its rows of exchanges not in this run are gone)"
            )?;
        }
        Ok(())
    }
}

impl DefinitionsReport {
    /// The first exchange's error, when no exchange could be fetched (a wrong URL, a refused key, no network): then
    /// nothing was written.
    pub fn first_error(&self) -> Option<(&str, &str)> {
        let mut errors = self.exchanges.iter().map(|(exchange, entry)| {
            entry.error.as_deref().map(|error| (exchange.as_str(), error))
        });
        let first = errors.next()??;
        errors.all(|error| error.is_some()).then_some(first)
    }
}
