//! `md-cli doctor` against the stand-ins: every check passes on a healthy set-up, and each fails (or warns) on
//! the fault it exists for, with its exit code.

use test_support::gcs::{Fault as GcsFault, RequestKind};
use test_support::tardis::StubConfig;

use crate::support::{KEY, Stand, TestEnv, args, main_job_stand, ok, small_files};

const SELECTION: &[&str] = &[
    "--exchanges",
    "deribit",
    "--from",
    "2026-10-01",
    "--to",
    "2026-10-02",
    "--instrument-types",
    "perpetual",
    "--data-types",
    "trades",
];

/// The checks `doctor --json` printed, by name, and its exit code.
fn doctor(env: &TestEnv) -> (i32, Vec<serde_json::Value>) {
    let run = env.run(&args("doctor", &[SELECTION, &["--json"]].concat()));
    let checks = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON line: {line}")))
        .collect();
    (run.code, checks)
}

fn check<'a>(checks: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no {name} check: {checks:?}"))
}

/// The plan check, asserted to be a warning whose summary contains `summary`.
fn plan_warning<'a>(checks: &'a [serde_json::Value], summary: &str) -> &'a serde_json::Value {
    let plan = check(checks, "plan");
    assert_eq!(plan["status"], "warn", "{plan}");
    assert!(plan["summary"].as_str().unwrap().contains(summary), "{plan}");
    plan
}

fn local(stand: &Stand, key: &str) -> TestEnv {
    stand.env(Some(key)).var("MD_SINK", "sink").var("TARDIS_DAILY_QUOTA_BYTES", "1000000")
}

/// Stores deribit's instrument definitions of the days `from` to `to` (`md-cli instruments`), asserting it succeeds.
fn store_deribit_definitions(env: &TestEnv, from: &str, to: &str) {
    ok(env.run(&args("instruments", &["--exchanges", "deribit", "--from", from, "--to", to])));
}

#[test]
fn a_healthy_set_up_passes_every_check_in_order() {
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY);
    store_deribit_definitions(&env, "2026-10-01", "2026-10-02");
    let (code, checks) = doctor(&env);
    let names: Vec<&str> = checks.iter().map(|check| check["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["configuration", "tardis", "api key", "sink", "clock", "quota", "plan"]);
    for check in &checks {
        assert_eq!(check["status"], "ok", "{check}");
    }
    assert_eq!(code, 0);
    assert!(
        check(&checks, "configuration")["summary"]
            .as_str()
            .unwrap()
            .contains("TARDIS_API_KEY from env")
    );
    assert!(check(&checks, "tardis")["summary"].as_str().unwrap().contains(" ms"));
    assert!(
        check(&checks, "quota")["summary"]
            .as_str()
            .unwrap()
            .contains("used 0 of its 1000000 bytes")
    );
    assert!(
        check(&checks, "plan")["summary"].as_str().unwrap().contains("unit(s) over 1 shard(s)")
    );
    assert!(
        !env.dir
            .path()
            .join("sink/.md-doctor")
            .read_dir()
            .is_ok_and(|mut dir| dir.next().is_some()),
        "the probe is deleted"
    );
    let text = env.run(&args("doctor", SELECTION));
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(
        text.stdout.lines().filter(|line| line.starts_with("ok  ")).count(),
        7,
        "{}",
        text.stdout
    );
    // The probe's refused second write is the check working, not a problem to warn of.
    assert!(!text.stderr.contains("WARN"), "a healthy set-up logs no warning: {}", text.stderr);
}

#[test]
fn a_refused_key_fails_the_api_key_check() {
    let stand = main_job_stand(small_files());
    let (code, checks) = doctor(&local(&stand, "TD.not-the-key"));
    assert_eq!(code, 1);
    let key = check(&checks, "api key");
    assert_eq!(key["status"], "fail", "{key}");
    assert!(key["summary"].as_str().unwrap().contains("refuses the key"), "{key}");
    assert!(key["fix"].as_str().unwrap().contains("TARDIS_API_KEY"));
    assert!(!format!("{checks:?}").contains("TD.not-the-key"), "the key is never printed");
}

#[test]
fn a_key_that_does_not_cover_the_exchange_is_a_warning_naming_it() {
    let stand = main_job_stand(StubConfig {
        api_key_access: Some(serde_json::json!([{
            "exchange": "binance", "accessType": "full", "from": "2019-01-01T00:00:00.000Z", "to": null,
            "symbols": [], "dataPlan": "pro"
        }])),
        ..small_files()
    });
    let (code, checks) = doctor(&local(&stand, KEY));
    let key = check(&checks, "api key");
    assert_eq!(key["status"], "warn", "{key}");
    assert!(key["summary"].as_str().unwrap().contains("deribit is not covered"), "{key}");
    assert_eq!(code, 0, "a warning does not fail the run");
}

#[test]
fn a_skewed_clock_is_a_warning() {
    let stand =
        main_job_stand(StubConfig { clock_skew: chrono::Duration::minutes(5), ..small_files() });
    let (_, checks) = doctor(&local(&stand, KEY));
    let clock = check(&checks, "clock");
    assert_eq!(clock["status"], "warn", "{clock}");
    assert!(clock["summary"].as_str().unwrap().contains("more than 30 s apart"), "{clock}");
    let skew: i64 =
        clock["summary"].as_str().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!((-310..=-290).contains(&skew), "the servers are 5 minutes ahead: {clock}");
}

#[test]
fn an_unwritable_sink_fails_the_sink_check() {
    let stand = main_job_stand(small_files()).with_gcs();
    let gcs = stand.gcs.as_ref().expect("the fake runs");
    gcs.faults().inject(Some(RequestKind::Put), 1000, GcsFault::Status(403));
    let env = stand.env(Some(KEY)).var("MD_SINK", "gs://doctor-bucket/prefix");
    let (code, checks) = doctor(&env);
    assert_eq!(code, 1);
    let sink = check(&checks, "sink");
    assert_eq!(sink["status"], "fail", "{sink}");
    assert!(sink["summary"].as_str().unwrap().contains("cannot write .md-doctor/probe-"), "{sink}");
    assert!(sink["fix"].as_str().unwrap().contains("permissions"));
}

#[test]
fn an_unreachable_tardis_fails_the_tardis_check() {
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY)
        .var("TARDIS_API_URL", "http://127.0.0.1:1")
        .var("TARDIS_MAX_RETRIES", "0");
    let (code, checks) = doctor(&env);
    assert_eq!(code, 1);
    let tardis = check(&checks, "tardis");
    assert_eq!(tardis["status"], "fail", "{tardis}");
    assert!(tardis["summary"].as_str().unwrap().contains("127.0.0.1:1"), "{tardis}");
}

#[test]
fn a_bad_configuration_exits_2_before_any_check() {
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY).var("TARDIS_TIMEOUT", "soon");
    let run = env.run(&args("doctor", SELECTION));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("TARDIS_TIMEOUT"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(stand.stub.counters().total, 0, "nothing was sent");
}

#[test]
fn a_spent_or_damaged_quota_ledger_and_a_plan_without_definitions_are_reported() {
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY);
    let ledger = env.dir.path().join(format!(
        "sink/manifests/quota/day-{}/shard-0000-of-0001.json",
        chrono::Utc::now().date_naive()
    ));
    std::fs::create_dir_all(ledger.parent().unwrap()).unwrap();
    std::fs::write(&ledger, "not a ledger").unwrap();
    let (code, checks) = doctor(&env);
    assert_eq!(code, 1);
    let quota = check(&checks, "quota");
    assert_eq!(quota["status"], "fail", "{quota}");
    assert!(quota["summary"].as_str().unwrap().contains("not a quota ledger"), "{quota}");
    let plan = plan_warning(
        &checks,
        "no stored instrument definitions for 2 of 2 day(s) between 2026-10-01 and 2026-10-02",
    );
    assert!(
        plan["fix"]
            .as_str()
            .unwrap()
            .contains("md-cli instruments --from 2026-10-01 --to 2026-10-02 --exchanges deribit"),
        "{plan}"
    );

    let spent = serde_json::json!({
        "day": chrono::Utc::now().date_naive(), "shard_index": 0, "total_shards": 1,
        "share_bytes": 1_000_000, "used_bytes": 1_000_000, "updated_at": chrono::Utc::now(),
    });
    std::fs::write(&ledger, spent.to_string()).unwrap();
    let (_, checks) = doctor(&env);
    let quota = check(&checks, "quota");
    assert_eq!(quota["status"], "warn", "{quota}");
    assert!(
        quota["summary"].as_str().unwrap().contains("used 1000000 of its 1000000 bytes, 0 left"),
        "{quota}"
    );
}

#[test]
fn a_plan_without_definitions_counts_the_days_lacking_them_and_gives_the_command_that_writes_them()
{
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY);
    store_deribit_definitions(&env, "2026-10-01", "2026-10-01");
    let (code, checks) = doctor(&env);
    assert_eq!(code, 0, "a warning only: md-cli pipeline would write them: {checks:?}");
    let plan = plan_warning(
        &checks,
        "no stored instrument definitions for 1 of 2 day(s): 2026-10-02 (looked for",
    );
    let summary = plan["summary"].as_str().unwrap();
    assert!(
        summary.contains("instrument_availability/by_date/day-2026-10-02/instruments.parquet"),
        "{plan}"
    );
    assert_eq!(
        plan["fix"],
        "run `md-cli instruments --from 2026-10-02 --to 2026-10-02 --exchanges deribit` first, \
         or `md-cli pipeline`, which writes them before it downloads"
    );

    // Following the fix makes the plan check pass.
    store_deribit_definitions(&env, "2026-10-02", "2026-10-02");
    let (code, checks) = doctor(&env);
    assert_eq!(code, 0);
    assert_eq!(check(&checks, "plan")["status"], "ok", "{checks:?}");
}

/// Definitions that do not cover a venue (its metadata fetch failed, or no run fetched it) are the same warning,
/// naming the venue and the `md-cli instruments --exchanges` run for it alone.
#[test]
fn a_plan_whose_definitions_do_not_cover_a_venue_names_it_and_the_run_that_covers_it() {
    let stand = main_job_stand(small_files());
    let env = local(&stand, KEY);
    store_deribit_definitions(&env, "2026-10-01", "2026-10-02");
    let run = env.run(&args(
        "doctor",
        &[
            "--exchanges",
            "deribit,binance-futures",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-02",
            "--data-types",
            "trades",
            "--json",
        ],
    ));
    let checks: Vec<serde_json::Value> =
        run.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(run.code, 0, "a warning only: {checks:?}");
    let plan = plan_warning(
        &checks,
        "no stored instrument definitions of binance-futures for 2 of 2 day(s) between 2026-10-01 and 2026-10-02",
    );
    assert_eq!(
        plan["fix"],
        "run `md-cli instruments --from 2026-10-01 --to 2026-10-02 --exchanges binance-futures` first, \
         or `md-cli pipeline`, which writes them before it downloads"
    );
}
