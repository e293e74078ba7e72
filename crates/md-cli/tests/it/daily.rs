//! Daily operation: what Tardis has not exported yet is neither planned nor missing, incident days are marked, and
//! relative days (`latest`, `yesterday`, `today-N`) resolve once, the same in every task of a run.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use test_support::tardis::{StubConfig, StubIncident};

use crate::support::{
    KEY, Stand, TestEnv, args, json_field, main_job_stand, ok, selection, small_files,
};

fn three_days() -> Vec<&'static str> {
    selection(["2026-10-01", "2026-10-03"], "deribit", "perpetual", "trades")
}

fn moment(text: &str) -> DateTime<Utc> {
    text.parse().expect("an RFC 3339 moment")
}

/// A stand-in whose exchanges have exported until `moment`, and an environment for it.
fn exported_until(moment_text: &str) -> (Stand, TestEnv) {
    let stand =
        main_job_stand(StubConfig { exported_until: Some(moment(moment_text)), ..small_files() });
    let env = env(&stand);
    (stand, env)
}

fn env(stand: &Stand) -> TestEnv {
    stand.env(Some(KEY)).var("MD_SINK", "sink").var("INSTRUMENT_EXCHANGES", "deribit")
}

/// The JSON lines `missing --json` prints.
fn missing_lines(env: &TestEnv, selection: &[&str]) -> Vec<serde_json::Value> {
    let run = ok(env.run(&args("missing", &[selection, &["--json"]].concat())));
    run.stdout.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

fn days_with(lines: &[serde_json::Value], status: &str) -> BTreeSet<String> {
    lines
        .iter()
        .filter(|line| line["status"] == status)
        .map(|line| line["date"].as_str().expect("a date").to_owned())
        .collect()
}

/// With `exportedUntil` in the middle of the range, only exported days are planned and downloaded; the rest is
/// reported as not yet exported (not missing, not failed), and the manifest records the `exportedUntil`.
#[test]
fn days_past_exported_until_are_not_yet_exported() {
    let (_stand, env) = exported_until("2026-10-02T06:00:00Z");
    ok(env.run(&args("instruments", &["--from", "2026-10-01", "--to", "2026-10-03"])));
    let plan = ok(env.run(&args("plan", &[&three_days()[..], &["--json"]].concat())));
    let planned = json_field(&plan.stdout, "date");
    assert_eq!(planned, BTreeSet::from(["2026-10-01".to_owned()]), "only the exported day");

    let download = ok(env.run(&args("download", &three_days())));
    assert!(download.stdout.contains("Complete"), "{}", download.stdout);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            env.dir
                .path()
                .join("sink/manifests/download/2026-10-01_2026-10-03/shard-0000-of-0001.json"),
        )
        .expect("the manifest"),
    )
    .unwrap();
    assert_eq!(manifest["exported_until"]["deribit"], "2026-10-02T06:00:00Z");
    assert!(manifest["not_yet_exported"].as_u64().unwrap() > 0, "{manifest}");
    assert_eq!(manifest["units"]["failed"], 0);

    let lines = missing_lines(&env, &three_days());
    assert_eq!(days_with(&lines, "missing"), BTreeSet::new(), "nothing exported is missing");
    assert_eq!(
        days_with(&lines, "not_yet_exported"),
        BTreeSet::from(["2026-10-02".to_owned(), "2026-10-03".to_owned()])
    );
    let text = ok(env.run(&args("missing", &three_days())));
    assert!(
        text.stdout.contains("deribit: exported until 2026-10-02 06:00:00 UTC"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("\n0 of "), "{}", text.stdout);
}

/// A day inside an incident report is marked with the incident's status and details in `missing --json`, whether
/// its units are stored or missing.
#[test]
fn an_incident_day_is_marked() {
    let stand = main_job_stand(StubConfig {
        incidents: vec![StubIncident {
            exchange: "deribit".into(),
            from: moment("2026-10-02T10:00:00Z"),
            to: moment("2026-10-02T11:30:00Z"),
            status: "unresolved".into(),
            details: "recorder gap on the perpetuals".into(),
        }],
        ..small_files()
    });
    let env = env(&stand);
    ok(env.run(&args("instruments", &["--from", "2026-10-01", "--to", "2026-10-03"])));
    let lines = missing_lines(&env, &three_days());
    let marked: Vec<&serde_json::Value> =
        lines.iter().filter(|line| !line["incident"].is_null()).collect();
    assert!(!marked.is_empty(), "{lines:?}");
    for line in &marked {
        assert_eq!(line["date"], "2026-10-02");
        assert_eq!(
            line["incident"],
            serde_json::json!({
                "from": "2026-10-02T10:00:00Z",
                "to": "2026-10-02T11:30:00Z",
                "status": "unresolved",
                "details": "recorder gap on the perpetuals",
            }),
            "the incident as Tardis reported it, nothing more"
        );
    }
    assert!(
        lines
            .iter()
            .filter(|line| line["date"] != "2026-10-02")
            .all(|line| line["incident"].is_null())
    );
}

/// `latest` is the last day every selected exchange has exported, resolved from `exportedUntil`.
#[test]
fn latest_is_the_last_exported_day() {
    let (_stand, env) = exported_until("2026-10-03T06:00:00Z");
    let selection =
        ["--from", "latest", "--to", "latest", "--venues", "deribit", "--data-types", "trades"];
    let run = ok(env.run(&args("pipeline", &selection)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    assert!(
        env.dir.path().join("sink/manifests/download/2026-10-02_2026-10-02").is_dir(),
        "the manifest of 2026-10-02"
    );
}

/// Four shards of one run, started around a UTC midnight (their clocks on either side of it), download the same
/// days: the first to start records the run's days in the sink and the others use that record.
#[test]
fn relative_days_resolve_once_for_every_shard_of_a_run() {
    let (_stand, base) = exported_until("2026-10-10T06:00:00Z");
    let base = base
        .var("MD_RUN_ID", "daily-2026-10-05")
        .var("TOTAL_SHARDS", "4")
        .var("DOWNLOAD_VENUES", "deribit")
        .var("DOWNLOAD_INSTRUMENT_TYPES", "perpetual")
        .var("DOWNLOAD_DATA_TYPES", "trades")
        .var("INSTRUMENT_START_DATE", "today-2")
        .var("INSTRUMENT_END_DATE", "yesterday");
    // One shared sink for the four shards (each process runs in its own directory).
    let sink = base.dir.path().join("shared-sink");
    let clocks = [
        "2026-10-05T23:59:59.400Z",
        "2026-10-05T23:59:59.900Z",
        "2026-10-06T00:00:00.300Z",
        "2026-10-06T00:00:01.000Z",
    ];
    let children: Vec<_> = clocks
        .iter()
        .enumerate()
        .map(|(shard, clock)| {
            let mut command = base.command(&["pipeline"]);
            command
                .env("MD_SINK", &sink)
                .env("SHARD_INDEX", shard.to_string())
                .env("MD_RUN_TIME", clock)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command.spawn().expect("a shard starts")
        })
        .collect();
    let mut resolved = BTreeSet::new();
    for child in children {
        let output = child.wait_with_output().expect("the shard ends");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest = stdout
            .lines()
            .find_map(|line| line.strip_prefix("manifest: "))
            .expect("the shard names its manifest")
            .to_owned();
        resolved
            .insert(manifest.split('/').nth(2).expect("manifests/download/FROM_TO/...").to_owned());
    }
    assert_eq!(resolved.len(), 1, "every shard downloaded the same days: {resolved:?}");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(sink.join("manifests/runs/daily-2026-10-05.json")).unwrap(),
    )
    .unwrap();
    let days = format!(
        "{}_{}",
        record["download"]["start"].as_str().unwrap(),
        record["download"]["end"].as_str().unwrap()
    );
    assert_eq!(resolved.into_iter().next().unwrap(), days, "the run's record says which days");
    assert!(["2026-10-03_2026-10-04", "2026-10-04_2026-10-05"].contains(&days.as_str()), "{days}");
}

/// Without a network (a Tardis host name that does not resolve), the README's main job stops within 10 s, exit 1,
/// after one quick retry per request, with a last line that says Tardis cannot be reached and how to see md work
/// offline (`cargo xtask demo`), and writes nothing (no empty definitions a later plan would read as "no
/// instruments").
#[test]
fn a_host_that_does_not_resolve_stops_the_main_job_with_one_clear_line() {
    let env = TestEnv::new()
        .var("TARDIS_BASE_URL", "http://md-test-no-such-host.invalid")
        .var("TARDIS_API_URL", "http://md-test-no-such-host.invalid")
        .var("MD_SINK", "sink");
    let started = std::time::Instant::now();
    let run = env.run(&[
        "pipeline",
        "--exchanges",
        "deribit",
        "--instrument-types",
        "perpetual",
        "--data-types",
        "trades",
    ]);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: cannot reach Tardis at http://md-test-no-such-host.invalid")
            && last.contains("cannot resolve the host md-test-no-such-host.invalid")
            && last.contains("`cargo xtask demo`"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.lines().filter(|line| line.contains("md-test-no-such-host")).count(),
        1,
        "the cause is said once: {}",
        run.stderr
    );
    assert!(elapsed < std::time::Duration::from_secs(10), "within 10 s: {elapsed:?}");
    let sink = env.dir.path().join("sink");
    let written = crate::support::files_under(&sink, &sink);
    assert!(written.is_empty(), "nothing written: {written:?}");
}
