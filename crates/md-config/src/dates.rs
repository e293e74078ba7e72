//! Days as a run names them: a date, or a day relative to the run (`latest`, `yesterday`, `today-N`), resolved once
//! when the run starts into a [`DateRange`].
//!
//! md-config only parses and checks what it can without the network: `latest` needs each selected exchange's
//! `exportedUntil`, and every relative day needs the run's UTC day, which a fleet must agree on. The orchestrator
//! resolves a [`DateSpan`] with both ([`DateSpan::resolve`]), once, and records the result.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DateRange {
    /// First day.
    pub start: NaiveDate,
    /// Last day (inclusive), never before `start`.
    pub end: NaiveDate,
}

impl DateRange {
    /// Returns every day of the range in order.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.start.iter_days().take_while(move |day| *day <= self.end)
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{} to {}", self.start, self.end)
        }
    }
}

/// A day as `--from`/`--to` and the date variables name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaySpec {
    /// `YYYY-MM-DD`.
    Date(NaiveDate),
    /// `latest`: the last day every selected exchange has exported (from `datasets.exportedUntil`).
    Latest,
    /// `today` (0), `yesterday` (1), `today-N` (N): days before the run's UTC day.
    DaysAgo(u32),
    /// The default first day of the instrument definitions: the latest day Tardis serves without a key (the 1st of
    /// the month of the run's day, or of the month before when that day is the 1st).
    LatestFree,
}

impl DaySpec {
    /// Returns the day, given the run's UTC day and the last day every selected exchange has exported (only
    /// [`DaySpec::Latest`] needs it).
    ///
    /// # Errors
    /// A message when `latest` is asked for and the exported day is unknown, or a day falls outside the calendar.
    pub fn resolve(self, today: NaiveDate, latest: Option<NaiveDate>) -> Result<NaiveDate, String> {
        match self {
            DaySpec::Date(date) => Ok(date),
            DaySpec::Latest => latest.ok_or_else(|| {
                "`latest` needs the exchanges' exportedUntil, which is unknown".to_owned()
            }),
            DaySpec::DaysAgo(days) => today
                .checked_sub_days(chrono::Days::new(u64::from(days)))
                .ok_or_else(|| format!("today-{days} is before the calendar starts")),
            DaySpec::LatestFree => Ok(latest_free_day(today)),
        }
    }

    /// Returns whether the day depends on the run (its UTC day, or the exchanges' exports).
    pub fn is_relative(self) -> bool {
        !matches!(self, DaySpec::Date(_))
    }
}

impl FromStr for DaySpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "latest" => return Ok(DaySpec::Latest),
            "today" => return Ok(DaySpec::DaysAgo(0)),
            "yesterday" => return Ok(DaySpec::DaysAgo(1)),
            _ => {}
        }
        if let Some(days) = lower.strip_prefix("today-") {
            return days
                .parse::<u32>()
                .map(DaySpec::DaysAgo)
                .map_err(|_| format!("{text:?}: expected today-N with N a whole number of days"));
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map(DaySpec::Date).map_err(|_| {
            "not a valid day (expected YYYY-MM-DD, latest, yesterday, today or today-N)".into()
        })
    }
}

impl fmt::Display for DaySpec {
    /// The spelling [`DaySpec::from_str`] reads (`latest-free` for the default, which has no spelling of its own).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySpec::Date(date) => write!(f, "{date}"),
            DaySpec::Latest => f.write_str("latest"),
            DaySpec::DaysAgo(0) => f.write_str("today"),
            DaySpec::DaysAgo(1) => f.write_str("yesterday"),
            DaySpec::DaysAgo(days) => write!(f, "today-{days}"),
            DaySpec::LatestFree => f.write_str("latest-free"),
        }
    }
}

/// A range of days as asked for, resolved once per run into a [`DateRange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpan {
    /// First day.
    pub start: DaySpec,
    /// Last day (inclusive).
    pub end: DaySpec,
}

impl DateSpan {
    /// Returns a span of fixed dates.
    pub fn fixed(range: DateRange) -> Self {
        DateSpan { start: DaySpec::Date(range.start), end: DaySpec::Date(range.end) }
    }

    /// Returns whether resolving needs the exchanges' `exportedUntil` (a `latest` end).
    pub fn needs_latest(&self) -> bool {
        self.start == DaySpec::Latest || self.end == DaySpec::Latest
    }

    /// Returns whether the span depends on the run (a relative end).
    pub fn is_relative(&self) -> bool {
        self.start.is_relative() || self.end.is_relative()
    }

    /// Returns the days, given the run's UTC day and the last day every selected exchange has exported.
    ///
    /// # Errors
    /// A message when an end cannot be resolved, or the first day comes after the last.
    pub fn resolve(
        &self,
        today: NaiveDate,
        latest: Option<NaiveDate>,
    ) -> Result<DateRange, String> {
        let start = self.start.resolve(today, latest)?;
        let end = self.end.resolve(today, latest)?;
        if start > end {
            return Err(format!(
                "the first day {start} ({}) is after the last day {end} ({})",
                self.start, self.end
            ));
        }
        Ok(DateRange { start, end })
    }
}

impl fmt::Display for DateSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to {}", self.start, self.end)
    }
}

/// The most recent day that Tardis serves without an API key and has already exported:
/// the 1st of this month, or of last month while today is the 1st (day D is exported around 06:00 on D+1).
pub fn latest_free_day(today: NaiveDate) -> NaiveDate {
    let first = today.with_day(1).expect("day 1 exists");
    if today.day() >= 2 {
        first
    } else {
        let previous = first.pred_opt().expect("a day before exists");
        previous.with_day(1).expect("day 1 exists")
    }
}
