//! What a run needs from Tardis, judged before it costs anything: the exchanges and days an API key does not cover,
//! and the machine's clock against the servers' `Date`.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use md_config::DateRange;
use rstest::rstest;
use tardis_client::wire::ApiKeyAccess;
use tardis_client::{ClockSkew, Probe, coverage_gaps};

fn moment(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 moment")
}

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a day")
}

fn access(exchange: &str, from: Option<&str>, to: Option<&str>) -> ApiKeyAccess {
    ApiKeyAccess {
        exchange: exchange.into(),
        access_type: "full".into(),
        from: from.map(moment),
        to: to.map(moment),
        symbols: Vec::new(),
        data_plan: "pro".into(),
    }
}

#[rstest]
#[case::covered(&["binance-futures", "deribit"], Some(("2026-10-01", "2026-10-02")), &[])]
#[case::days_unknown(&["bybit", "deribit"], None, &["bybit is not covered"])]
#[case::before_and_after(
    &["binance-futures", "bybit", "deribit"],
    Some(("2026-09-30", "2026-10-31")),
    &[
        "binance-futures is covered from 2026-10-01 to now, not all of 2026-09-30 to 2026-10-31",
        "bybit is not covered",
        "deribit is covered from the start to 2026-10-31, not all of 2026-09-30 to 2026-10-31",
    ]
)]
fn gaps_name_each_exchange_the_key_does_not_cover(
    #[case] exchanges: &[&str],
    #[case] days: Option<(&str, &str)>,
    #[case] expected: &[&str],
) {
    let access = [
        access("deribit", None, Some("2026-10-31T00:00:00Z")),
        access("binance-futures", Some("2026-10-01T00:00:00Z"), None),
    ];
    let exchanges: Vec<String> = exchanges.iter().map(|exchange| (*exchange).to_owned()).collect();
    let days = days.map(|(start, end)| DateRange { start: day(start), end: day(end) });
    let gaps: Vec<String> =
        coverage_gaps(&access, &exchanges, days).iter().map(ToString::to_string).collect();
    assert_eq!(gaps, expected);
}

fn probe(url: &str, server_time: Option<&str>, round_trip_ms: u64) -> Probe {
    Probe {
        url: url.into(),
        status: 200,
        round_trip: Duration::from_millis(round_trip_ms),
        server_time: server_time.map(moment),
    }
}

#[rstest]
#[case::in_step(&[probe("a", Some("2026-10-01T12:00:00Z"), 0)], Some(("a", 0)), false)]
#[case::the_worst_of_two(
    &[probe("a", Some("2026-10-01T11:59:50Z"), 0), probe("b", Some("2026-10-01T12:05:00Z"), 0)],
    Some(("b", -300)),
    true
)]
#[case::the_round_trip_counts_half(&[probe("a", Some("2026-10-01T11:59:29Z"), 2000)], Some(("a", 30)), false)]
#[case::no_date(&[probe("a", None, 0)], None, false)]
fn the_clock_is_judged_by_the_worst_skew(
    #[case] probes: &[Probe],
    #[case] expected: Option<(&str, i64)>,
    #[case] too_large: bool,
) {
    let skew = ClockSkew::worst(probes, moment("2026-10-01T12:00:00Z"));
    assert_eq!(skew.as_ref().map(|skew| (skew.url.as_str(), skew.seconds)), expected);
    assert_eq!(skew.is_some_and(|skew| skew.is_too_large()), too_large);
}
