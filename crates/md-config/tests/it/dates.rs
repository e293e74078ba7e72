//! Days as a run names them (`2024-03-01`, `latest`, `today-7`) and their resolution against the run's day and the
//! exports.

use chrono::NaiveDate;
use md_config::{DateRange, DateSpan, DaySpec};
use rstest::rstest;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[rstest]
#[case::date("2024-03-01", DaySpec::Date(day("2024-03-01")))]
#[case::latest("latest", DaySpec::Latest)]
#[case::latest_upper_case("LATEST", DaySpec::Latest)]
#[case::today("today", DaySpec::DaysAgo(0))]
#[case::yesterday("yesterday", DaySpec::DaysAgo(1))]
#[case::days_ago("today-7", DaySpec::DaysAgo(7))]
fn spellings_parse_and_print_back(#[case] text: &str, #[case] spec: DaySpec) {
    assert_eq!(text.parse::<DaySpec>(), Ok(spec), "{text}");
    assert_eq!(spec.to_string().parse::<DaySpec>(), Ok(spec));
}

#[rstest]
fn bad_spellings_are_refused(
    #[values("2024-13-01", "today-", "today-x", "tomorrow", "today+1", "")] bad: &str,
) {
    assert!(bad.parse::<DaySpec>().is_err(), "{bad}");
}

/// A span (`today-3` to `yesterday`) resolved on 2026-12-04, with exports up to 2026-12-03 (`Some`) or unknown.
#[rstest]
#[case::relative("today-3", "yesterday", false, Ok(("2026-12-01", "2026-12-03")))]
#[case::latest("latest", "latest", true, Ok(("2026-12-03", "2026-12-03")))]
#[case::latest_needs_the_exports("latest", "latest", false, Err("latest"))]
#[case::end_before_start("today", "yesterday", true, Err("after"))]
fn resolution_against_the_run_day_and_the_exports(
    #[case] start: &str,
    #[case] end: &str,
    #[case] exports_known: bool,
    #[case] expected: Result<(&str, &str), &str>,
) {
    let span = DateSpan { start: start.parse().unwrap(), end: end.parse().unwrap() };
    let latest = exports_known.then(|| day("2026-12-03"));
    match (span.resolve(day("2026-12-04"), latest), expected) {
        (Ok(range), Ok((first, last))) => {
            assert_eq!(range, DateRange { start: day(first), end: day(last) });
        }
        (Err(message), Err(needle)) => assert!(message.contains(needle), "{message}"),
        (got, expected) => panic!("{start} to {end}: {got:?}, expected {expected:?}"),
    }
}

/// Without a date, the definitions start on the latest day Tardis serves without a key: the 1st of the month, or of
/// the month before on the 1st.
#[rstest]
#[case::on_the_first("2026-12-01", "2026-11-01")]
#[case::after_the_first("2026-12-02", "2026-12-01")]
fn the_default_is_the_latest_free_day(#[case] today: &str, #[case] first: &str) {
    let default = DateSpan { start: DaySpec::LatestFree, end: DaySpec::LatestFree };
    assert_eq!(default.resolve(day(today), None).unwrap().start, day(first));
}
