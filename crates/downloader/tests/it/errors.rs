//! The crate's typed errors: one variant per cause, and which of them are bad input (md-cli exits 2) rather than
//! work that failed (exit 1): a sink race is not bad input.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use downloader::download::RunDays;
use downloader::{Error, LedgerProblem};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::{Config, DateRange, DateSpan, LoadOptions, SinkConfig, SinkLocation};
use rstest::rstest;
use tardis_client::TardisClient;

fn day(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, day).expect("a day")
}

fn sink_error() -> Box<gcs_sink::Error> {
    Box::new(gcs_sink::Error::NotFound { name: "x".into(), store: "memory://".into() })
}

#[rstest]
#[case::latest_unknown(Error::LatestUnknown, true)]
#[case::unresolvable(
    Error::DaysUnresolvable { what: "the download's", span: "2026-10-02 to 2026-10-01".into(), reason: "the first day is after the last".into() },
    true
)]
#[case::run_reused(
    Error::RunReused {
        run_id: "r1".into(),
        recorded_instruments: "2026-10-01".into(),
        recorded_download: "2026-10-01".into(),
        instruments: "2026-10-02".into(),
        download: "2026-10-02".into(),
    },
    true
)]
#[case::not_a_run_record(
    Error::NotARunRecord { object: "manifests/runs/r1.json".into(), source: serde_json::from_str::<u8>("x").unwrap_err() },
    true
)]
#[case::sink_race(Error::RunRecordGone { object: "manifests/runs/r1.json".into() }, false)]
#[case::missing_definitions(
    Error::MissingDefinitions { date: day(1), last: day(2), days: 2, object: "o".into(), exchanges: vec![] },
    true
)]
#[case::object_collision(
    Error::ObjectCollision { object: "o".into(), first: "a".into(), second: "b".into() },
    true
)]
#[case::ledger_read(Error::Ledger { object: "l".into(), problem: LedgerProblem::Read(sink_error()) }, false)]
#[case::ledger_day(
    Error::Ledger { object: "l".into(), problem: LedgerProblem::WrongDay { day: day(1), found: day(2) } },
    false
)]
#[case::ledger_write(Error::Ledger { object: "l".into(), problem: LedgerProblem::Write(sink_error()) }, false)]
#[case::manifest(Error::Manifest { object: "m".into(), source: sink_error() }, false)]
fn each_cause_is_bad_input_or_failed_work(#[case] error: Error, #[case] bad_input: bool) {
    assert_eq!(error.is_bad_input(), bad_input, "{error}");
}

/// A configuration with fixed days, a run id and an in-memory sink.
fn config(days: DateRange) -> Config {
    let mut config = md_config::load(&LoadOptions {
        environment: Some(BTreeMap::new()),
        skip_system_config: true,
        ..LoadOptions::default()
    })
    .expect("defaults load")
    .config;
    config.sink = SinkConfig { location: SinkLocation::Memory, ..SinkConfig::default() };
    config.instruments.dates = DateSpan::fixed(days);
    config.download.dates = DateSpan::fixed(days);
    config.run.id = Some("errors-test".into());
    config
}

/// A run's record of its days, as another task of the run would find it.
#[tokio::test]
async fn a_run_record_for_other_days_or_not_a_record_is_refused_by_its_cause() {
    let first = config(DateRange { start: day(1), end: day(1) });
    let sink = ObjectSink::from_config(&first.sink).expect("a memory sink");
    let client = TardisClient::new(&first.tardis).expect("a client");
    let resolved = RunDays::resolve(&first, &client, &sink).await.expect("fixed days resolve");
    assert_eq!(resolved.download, DateRange { start: day(1), end: day(1) });

    let other = config(DateRange { start: day(2), end: day(2) });
    let error = RunDays::resolve(&other, &client, &sink).await.expect_err("another task's days");
    assert!(
        matches!(&error, Error::RunReused { run_id, .. } if run_id == "errors-test"),
        "{error}"
    );
    assert!(error.to_string().contains("use a new MD_RUN_ID"), "{error}");

    let object = RunDays::object_name("errors-test");
    sink.put_bytes(&object, b"not json".to_vec(), WriteMode::Replace).await.expect("replaced");
    let error = RunDays::resolve(&first, &client, &sink).await.expect_err("not a record");
    assert!(
        matches!(&error, Error::NotARunRecord { object: named, .. } if *named == object),
        "{error}"
    );
}
