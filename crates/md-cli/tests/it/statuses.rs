//! Honest statuses through the binary: files Tardis does not offer (400 with code 140 or 300, a 404 for a day its
//! listing leaves out) and the API key in use from another IP address (403 with code 274), for a while and for good.

use std::collections::{BTreeMap, BTreeSet};

use downloader::download::summary::UnitLine;
use test_support::tardis::{Fault, Times};

use crate::support::{
    FROM, SELECTION, Stand, TO, TestEnv, args, assert_byte_exact, json_lines, local_env,
    main_job_stand, ok, plan, shard_manifest, small_files, stored_data_files, unit_path,
};

fn manifest(env: &TestEnv) -> serde_json::Value {
    shard_manifest(env, FROM, TO)
}

/// The main job's stand-in and environment, with the range's definitions stored and its plan; with `ip_lock`, the
/// pause between tries of a key in use elsewhere and the longest wait (`TARDIS_IP_LOCK_PAUSE_SECS`,
/// `TARDIS_IP_LOCK_MAX_WAIT_SECS`).
fn planned(ip_lock: Option<(&str, &str)>) -> (Stand, TestEnv, Vec<UnitLine>) {
    let stand = main_job_stand(small_files());
    let mut env = local_env(&stand);
    if let Some((pause, max_wait)) = ip_lock {
        env = env
            .var("TARDIS_IP_LOCK_PAUSE_SECS", pause)
            .var("TARDIS_IP_LOCK_MAX_WAIT_SECS", max_wait);
    }
    ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])));
    let units = plan(&env);
    (stand, env, units)
}

/// Units Tardis does not offer are recorded with Tardis's status, code and message, asked for once, never counted
/// as failures or gaps: the download exits 0, `missing --json` says `not_offered` with the code, `missing --check`
/// passes, the table and the coverage page show them, and a rerun does not ask for them again.
#[test]
fn units_tardis_does_not_offer_are_recorded_never_retried_and_not_gaps() {
    let (stand, env, units) = planned(None);
    let first_day: Vec<&UnitLine> =
        units.iter().filter(|unit| unit.date.to_string() == FROM).collect();
    let outside = first_day.iter().find(|unit| unit.data_type == "trades").expect("a trades unit");
    let invalid = first_day
        .iter()
        .find(|unit| unit.data_type != "trades" && unit.symbol != outside.symbol)
        .expect("another unit");
    stand.stub.script_path(&unit_path(outside), Fault::date_outside_listing(), Times::Always);
    stand.stub.script_path(&unit_path(invalid), Fault::invalid_symbol(), Times::Always);
    // The listing of one more symbol ends before the range's last day: Tardis answers 404 for its files then.
    let delisted = units
        .iter()
        .find(|unit| {
            unit.date.to_string() == TO
                && unit.symbol != outside.symbol
                && unit.symbol != invalid.symbol
                && !unit.symbol.ends_with('S')
        })
        .expect("a unit of the last day");
    stand.stub.end_listing(&delisted.exchange, &delisted.symbol, TO.parse().expect("a date"));
    let not_found: BTreeSet<&str> = units
        .iter()
        .filter(|unit| unit.symbol == delisted.symbol && unit.exchange == delisted.exchange)
        .filter(|unit| unit.date.to_string() == TO)
        .map(|unit| unit.object.as_str())
        .collect();
    assert!(!not_found.is_empty());

    let download = env.run(&args("download", SELECTION));
    assert_eq!(
        download.code, 0,
        "not offered is not a failure: {}\n{}",
        download.stdout, download.stderr
    );
    assert!(
        download.stdout.contains(&format!("not offered {}", 2 + not_found.len())),
        "{}",
        download.stdout
    );
    for unit in [outside, invalid] {
        assert_eq!(stand.stub.attempts(&unit_path(unit)), 1, "{} asked once", unit_path(unit));
    }
    let stored: Vec<UnitLine> = units
        .iter()
        .filter(|unit| {
            unit.object != outside.object
                && unit.object != invalid.object
                && !not_found.contains(unit.object.as_str())
        })
        .cloned()
        .collect();
    assert_byte_exact(&stand, &env, &stored);
    let manifest = manifest(&env);
    assert_eq!(manifest["status"], "complete", "{manifest}");
    assert_eq!(manifest["errors"].as_array().unwrap().len(), 0, "{manifest}");
    let recorded: BTreeMap<String, serde_json::Value> = manifest["not_offered"]
        .as_array()
        .expect("not_offered")
        .iter()
        .map(|record| (record["object"].as_str().unwrap().to_owned(), record.clone()))
        .collect();
    assert_eq!(recorded.len(), 2 + not_found.len(), "{manifest}");
    assert_eq!(recorded[&outside.object]["code"], 140);
    assert_eq!(recorded[&outside.object]["status"], "not_offered");
    assert_eq!(recorded[&outside.object]["http_status"], 400);
    assert_eq!(recorded[&invalid.object]["code"], 300);
    for object in &not_found {
        assert_eq!(recorded[*object]["http_status"], 404, "{object}");
        let message = recorded[*object]["message"].as_str().unwrap();
        assert!(message.contains("leaves out"), "the listing says why: {message}");
    }

    let missing = ok(env.run(&args("missing", &[SELECTION, &["--json", "--check"]].concat())));
    let lines = json_lines(&missing.stdout);
    let by_object: BTreeMap<&str, &serde_json::Value> =
        lines.iter().map(|line| (line["object"].as_str().unwrap(), line)).collect();
    let outside_line = by_object[outside.object.as_str()];
    assert_eq!(outside_line["status"], "not_offered", "{outside_line}");
    assert_eq!(outside_line["code"], 140);
    assert_eq!(outside_line["http_status"], 400);
    assert!(outside_line["message"].as_str().unwrap().contains("Data available only up to"));
    assert_eq!(by_object[invalid.object.as_str()]["code"], 300);
    for object in &not_found {
        assert_eq!(by_object[*object]["status"], "not_offered", "{object}");
    }
    assert!(
        lines.iter().all(|line| line["status"] != "missing"),
        "nothing is missing: {}",
        missing.stdout
    );

    let table = ok(env.run(&args("missing", SELECTION)));
    assert!(
        table.stdout.contains("[not_offered: HTTP 400 code 140: Data available only up to"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!("not offered {}", 2 + not_found.len())),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!("0 of {} planned units missing", units.len())),
        "{}",
        table.stdout
    );

    let page = ok(env.run(&args("missing", &[SELECTION, &["--html", "coverage.html"]].concat())));
    assert!(page.stdout.contains("coverage page written"), "{}", page.stdout);
    let html = std::fs::read_to_string(env.dir.path().join("coverage.html")).unwrap();
    assert!(
        html.contains(&format!(
            "data-status=\"not_offered\" data-units=\"{}\"",
            2 + not_found.len()
        )),
        "the page's totals"
    );
    assert!(html.contains("<li data-status=\"not_offered\">"), "the page's legend");

    // A rerun asks for nothing: the stored units are verified, the ones not offered are known.
    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", SELECTION)));
    assert!(
        rerun.stdout.contains(&format!("not offered {}", 2 + not_found.len())),
        "{}",
        rerun.stdout
    );
    assert_eq!(crate::support::dataset_requests(&stand), 0, "nothing asked again");
    ok(env.run(&args("missing", &[SELECTION, &["--check"]].concat())));
}

/// A key in use from another IP address for a while costs no unit: requests wait and go on, no attempt is spent.
#[test]
fn a_key_in_use_elsewhere_for_a_while_loses_no_unit() {
    let (stand, env, units) = planned(Some(("0.2", "30")));
    stand.stub.push_faults(Fault::key_in_use(Some(893)), 4);
    let download = ok(env.run(&args("download", SELECTION)));
    assert!(
        download.stderr.contains("in use from another IP address"),
        "the wait is logged: {}",
        download.stderr
    );
    assert_byte_exact(&stand, &env, &units);
    let manifest = manifest(&env);
    assert_eq!(manifest["status"], "complete", "{manifest}");
    assert_eq!(manifest["retries"], 0, "the waits are not retries: {manifest}");
    assert_eq!(
        stand.stub.requests().iter().filter(|record| record.status == 403).count(),
        4,
        "each refusal answered one request"
    );
}

/// A key in use from another IP address for good stops the run with one clear line and exit 1; the manifest records
/// every unit not done as interrupted (never failed or not offered), and a rerun once the lock clears completes.
#[test]
fn a_key_in_use_elsewhere_for_good_stops_the_run_and_a_rerun_completes() {
    let (stand, env, units) = planned(Some(("0.1", "0.5")));
    stand.stub.set_standing_fault(Some(Fault::key_in_use(None)));
    let started = std::time::Instant::now();
    let stopped = env.run(&args("download", SELECTION));
    assert_eq!(stopped.code, 1, "{}\n{}", stopped.stdout, stopped.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "it stops, it does not hammer");
    let errors: Vec<&str> =
        stopped.stderr.lines().filter(|line| line.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{}", stopped.stderr);
    for said in [
        "in use from another IP address",
        "one key serves one IP address at a time",
        "docs/SCALING.md",
        "recorded as interrupted and a rerun downloads them",
    ] {
        assert!(errors[0].contains(said), "{said}: {}", errors[0]);
    }
    let manifest = manifest(&env);
    assert_eq!(manifest["status"], "ip_locked", "{manifest}");
    let interrupted = manifest["interrupted"].as_array().expect("interrupted");
    assert_eq!(interrupted.len(), units.len(), "{manifest}");
    assert!(interrupted.iter().all(|unit| unit["status"] == "interrupted"));
    assert!(
        interrupted[0]["message"].as_str().unwrap().contains("in use from another IP address"),
        "{manifest}"
    );
    assert_eq!(manifest["errors"].as_array().unwrap().len(), 0, "never failed: {manifest}");
    assert_eq!(manifest["not_offered"].as_array().unwrap().len(), 0, "never not offered");
    assert!(stored_data_files(&env.dir.path().join("sink")).is_empty());
    let missing = json_lines(&env.run(&args("missing", &[SELECTION, &["--json"]].concat())).stdout);
    assert!(
        missing.iter().all(|line| line["status"] == "missing" && line["last_run"] == "interrupted"),
        "{missing:?}"
    );

    stand.stub.set_standing_fault(None);
    ok(env.run(&args("download", SELECTION)));
    assert_byte_exact(&stand, &env, &units);
    ok(env.run(&args("missing", &[SELECTION, &["--check"]].concat())));
}

/// The same answer during the metadata fetch is the same stop: `instruments` exits 1 with the clear line and
/// writes nothing, rather than falling back to the free listing.
#[test]
fn a_key_in_use_elsewhere_stops_the_instruments_job_too() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand)
        .var("TARDIS_IP_LOCK_PAUSE_SECS", "0.1")
        .var("TARDIS_IP_LOCK_MAX_WAIT_SECS", "0.3");
    stand.stub.set_standing_fault(Some(Fault::key_in_use(None)));
    let run = env.run(&args("instruments", &["--from", FROM, "--to", TO]));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("one key serves one IP address at a time"), "{}", run.stderr);
    assert!(
        crate::support::files_under(env.dir.path(), &env.dir.path().join("sink")).is_empty(),
        "nothing written"
    );
}

/// `doctor` reports a key in use from another IP address at once (it never waits the lock out), in the api key
/// check, with what to do.
#[test]
fn doctor_reports_a_key_in_use_elsewhere() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand);
    stand.stub.set_standing_fault(Some(Fault::key_in_use(Some(893))));
    let started = std::time::Instant::now();
    let run = env.run(&args("doctor", &["--json"]));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "no waiting");
    let checks: Vec<serde_json::Value> = json_lines(&run.stdout);
    let key = checks.iter().find(|check| check["name"] == "api key").expect("the api key check");
    assert_eq!(key["status"], "fail", "{key}");
    assert!(key["summary"].as_str().unwrap().contains("code 274"), "{key}");
    assert!(
        key["fix"].as_str().unwrap().contains("one key serves one IP address at a time"),
        "{key}"
    );
}
