//! A run id's record of its days (`manifests/runs/{MD_RUN_ID}.json`) that does not fit the task: made for other
//! days, or not a record at all. Either is bad input (exit 2) naming its cause, before any request to Tardis; a
//! sink race over the record is failed work instead (downloader's `errors` tests hold each cause's class).

use chrono::NaiveDate;
use downloader::download::RunDays;
use md_config::DateRange;
use rstest::rstest;

use crate::support::{KEY, args, main_job_stand, sink_path, small_files};

const DAYS: &[&str] = &[
    "--from",
    "2026-10-01",
    "--to",
    "2026-10-02",
    "--venues",
    "deribit",
    "--instrument-types",
    "perpetual",
    "--data-types",
    "trades",
];

/// A record of the run `reused` made for September.
fn september() -> String {
    let days = DateRange {
        start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("a day"),
        end: NaiveDate::from_ymd_opt(2026, 9, 2).expect("a day"),
    };
    let record = RunDays {
        run_id: Some("reused".into()),
        resolved_at: "2026-09-03T00:00:00Z".parse().expect("a moment"),
        instruments_asked: days.to_string(),
        instruments: days,
        download_asked: days.to_string(),
        download: days,
        latest_exported: None,
    };
    serde_json::to_string(&record).expect("a record serializes")
}

#[rstest]
#[case::made_for_other_days(september(), "use a new MD_RUN_ID")]
#[case::not_a_record("not json".to_owned(), "manifests/runs/reused.json is not a run record")]
fn a_run_record_that_does_not_fit_the_task_exits_2(#[case] record: String, #[case] cause: &str) {
    let stand = main_job_stand(small_files());
    let env = stand
        .env(Some(KEY))
        .var("MD_SINK", "sink")
        .var("INSTRUMENT_EXCHANGES", "deribit")
        .var("MD_RUN_ID", "reused");
    let path = sink_path(&env, &RunDays::object_name("reused"));
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("the sink's folders");
    std::fs::write(&path, record).expect("the record is written");
    let run = env.run(&args("plan", DAYS));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(cause), "{}", run.stderr);
    assert_eq!(stand.stub.counters().total, 0, "nothing was asked of Tardis");
}
