//! The chaos suite (issue 9), one test per bullet of the spec, through the `md-cli` binary:
//! - fault soak: the Tardis stand-in answers 500s, 429s, dropped bodies, corrupt gzip and stalls;
//! - crash: SIGKILL at random points, several times, then a rerun;
//! - sink faults: the GCS fake answers 503s and drops connections;
//! - secrets: a run at TRACE level with a known key never prints it;
//! - bad input: every malformed command line and configuration exits 2, names its culprit and writes nothing.
//!
//! Each test runs in seconds: short timeouts, small files, seeded faults.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use rstest::rstest;
use test_support::gcs::{Fault as SinkFault, RequestKind};
use test_support::tardis::{AuthSeen, Fault, FaultRates, StubConfig};

use crate::support::{
    FROM, KEY, SELECTION, Stand, TO, TestEnv, args, assert_byte_exact, dataset_paths,
    dataset_requests, fetch_btc_trades, files_under, local_env, main_job_stand, ok, plan, plan_of,
    requested_datasets, selection, sink_path, slow_job, small_files, spawn, stored_data_files,
    unit_path, wait_for_requests, write_definitions,
};

/// The manifest of the only shard of [`FROM`]..[`TO`] in the local sink.
fn local_manifest(env: &TestEnv) -> serde_json::Value {
    let object = format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json");
    let bytes = std::fs::read(sink_path(env, &object)).expect("a manifest");
    serde_json::from_slice(&bytes).expect("a JSON manifest")
}

/// Whether a stand-in fault is the same kind as `kind` (429s carry their `Retry-After`).
fn same_fault(fault: &Fault, kind: &Fault) -> bool {
    std::mem::discriminant(fault) == std::mem::discriminant(kind)
        && (!matches!(kind, Fault::Status(_)) || fault == kind)
}

/// 10% 500s, 5% 429s, 5% dropped bodies, 2% corrupt gzip and a few stalls longer than the read timeout, on every
/// dataset request; one of each kind is also scripted first, so each is surely seen. The binary retries them all
/// (a corrupt gzip is caught by the client's gzip check and the file restarted): every object is byte-exact, no
/// other object exists, exit 0.
#[test]
fn fault_soak_every_object_is_byte_exact_and_none_is_corrupt() {
    let stand = main_job_stand(StubConfig {
        fault_rates: FaultRates {
            status_500: 0.10,
            too_many_requests: 0.05,
            drop_mid_body: 0.05,
            corrupt_byte: 0.02,
            stall: 0.02,
            ..FaultRates::default()
        },
        seed: 0x5eed,
        retry_after_secs: 0,
        // Longer than TARDIS_TIMEOUT: the idle-read timeout must cut it.
        stall: Duration::from_millis(2500),
        ..small_files()
    });
    let env = local_env(&stand)
        .var("TARDIS_TIMEOUT", "1")
        .var("TARDIS_CONNECT_TIMEOUT", "1")
        .var("TARDIS_MAX_RETRIES", "20");
    // Metadata requests are not faulted at random, and the scripted faults are for dataset requests only.
    write_definitions(&env);
    let scripted = [
        Fault::CorruptByte,
        Fault::Stall,
        Fault::DropMidBody,
        Fault::Status(500),
        Fault::TruncatedGzip,
    ];
    for fault in &scripted {
        stand.stub.push_dataset_faults(fault.clone(), 1);
    }
    stand.stub.reset_counters();

    let run = ok(env.run(&args("download", SELECTION)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);

    let requests = stand.stub.requests();
    let faulted: Vec<_> = requests.iter().filter(|record| record.fault.is_some()).collect();
    for kind in scripted.iter().chain(&[Fault::TooManyRequests { retry_after_secs: 0 }]) {
        assert!(
            faulted.iter().any(|record| record.fault.as_ref().is_some_and(|f| same_fault(f, kind))),
            "no {kind:?} was injected"
        );
    }
    // Every faulted file was asked for again and finally served whole.
    for record in &faulted {
        assert!(
            requests.iter().any(|later| later.path == record.path
                && later.at > record.at
                && later.fault.is_none()
                && later.status / 100 == 2),
            "{} was not retried after {:?}",
            record.path,
            record.fault
        );
    }
    let units = plan(&env);
    assert_byte_exact(&stand, &env, &units);
    assert_eq!(
        stored_data_files(&env.dir.path().join("sink")),
        units.iter().map(|unit| unit.object.clone()).collect(),
        "exactly the planned objects, nothing partial"
    );
    let manifest = local_manifest(&env);
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["units"]["done"].as_u64(), Some(units.len() as u64));
    // Each fault cost its file exactly one more request, and the manifest counts each of them (the run's other
    // requests are the exchanges' details, which say what Tardis has exported).
    let dataset_requests =
        requests.iter().filter(|record| record.path.ends_with(".csv.gz")).count();
    assert_eq!(dataset_requests, units.len() + faulted.len(), "one request per unit and per fault");
    assert_eq!(manifest["retries"].as_u64(), Some(faulted.len() as u64), "retries in the manifest");
}

/// Backdates a file's modification time by `age`.
fn age_file(path: &Path, age: Duration) {
    let file = std::fs::File::options().write(true).open(path).expect("the file opens");
    file.set_modified(SystemTime::now() - age).expect("mtime set");
}

/// SIGKILL at random points of a download, four times; after each kill whatever is under a final name is complete.
/// Then a rerun: it downloads exactly the units that were not stored (those in flight at the last kill and those
/// never started), each once, skips every stored one, leaves no staging leftovers, and everything is byte-exact.
#[test]
fn sigkill_at_random_points_then_a_rerun_loses_nothing_and_refetches_only_what_was_not_stored() {
    // Slow bodies (64 KiB/s each) so kills land mid-upload.
    let (stand, env) = slow_job(64 * 1024, "4");
    let units = plan(&env);
    let by_object: BTreeMap<&str, _> =
        units.iter().map(|unit| (unit.object.as_str(), unit)).collect();
    let root = env.dir.path().join("sink");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut in_flight_at_last_kill = BTreeSet::new();
    for round in 0..4 {
        stand.stub.reset_counters();
        let stored_at_start = stored_data_files(&root).len();
        let mut child = spawn(&env, "download");
        wait_for_requests(&stand, 1);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if round == 3 {
            // The last kill comes once this run has stored something, so the rerun has objects to skip.
            let deadline = Instant::now() + Duration::from_secs(30);
            while stored_data_files(&root).len() == stored_at_start {
                assert!(Instant::now() < deadline, "nothing was stored");
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(seed % 300));
        } else {
            std::thread::sleep(Duration::from_millis(100 + seed % 2400));
        }
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        // Whatever is visible under the final names is complete.
        let stored = stored_data_files(&root);
        for object in &stored {
            let unit = by_object
                .get(object.as_str())
                .unwrap_or_else(|| panic!("round {round}: stray {object}"));
            let expected = stand.served_unit(unit);
            assert!(
                std::fs::read(sink_path(&env, object)).unwrap() == expected,
                "round {round}: partial {object}"
            );
        }
        let requested = requested_datasets(&stand);
        in_flight_at_last_kill = units
            .iter()
            .filter(|unit| requested.contains(&unit_path(unit)) && !stored.contains(&unit.object))
            .map(unit_path)
            .collect();
    }
    let stored_before = stored_data_files(&root);
    assert!(
        !stored_before.is_empty() && stored_before.len() < units.len(),
        "the kills left some work done and some to do: {} of {}",
        stored_before.len(),
        units.len()
    );
    assert!(!in_flight_at_last_kill.is_empty(), "the last kill landed mid-download");
    let not_stored: BTreeSet<String> =
        units.iter().filter(|unit| !stored_before.contains(&unit.object)).map(unit_path).collect();
    assert!(in_flight_at_last_kill.is_subset(&not_stored));

    // Staging leftovers younger than the sink's grace period (6 h) may belong to a live process elsewhere in the
    // fleet, so a run removes only older ones: age what the kills left, plus one planted leftover so cleanup is
    // always exercised, as if the rerun came hours later.
    let staging = root.join(".md-staging");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("1790000000000-00c0ffee00c0ffee"), b"partial").unwrap();
    let leftovers = files_under(&staging, &staging);
    for leftover in &leftovers {
        age_file(&staging.join(leftover), Duration::from_secs(7 * 3600));
    }

    stand.stub.reset_counters();
    let run = ok(env.run(&args("download", SELECTION)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    let mut refetched: BTreeMap<String, usize> = BTreeMap::new();
    for path in dataset_paths(&stand) {
        *refetched.entry(path).or_default() += 1;
    }
    assert_eq!(
        refetched.keys().cloned().collect::<BTreeSet<_>>(),
        not_stored,
        "the rerun downloads exactly the units not stored before it"
    );
    assert!(refetched.values().all(|count| *count == 1), "each once: {refetched:?}");
    assert_eq!(dataset_requests(&stand), not_stored.len());
    let manifest = local_manifest(&env);
    // An object whose record a kill prevented is adopted (read whole, checked) rather than skipped.
    let kept = manifest["units"]["skipped"].as_u64().unwrap()
        + manifest["units"]["adopted"].as_u64().unwrap();
    assert_eq!(kept, stored_before.len() as u64);
    assert_eq!(manifest["units"]["done"].as_u64(), Some(not_stored.len() as u64));
    assert!(files_under(&staging, &staging).is_empty(), "staging leftovers after the rerun");
    assert_byte_exact(&stand, &env, &units);
    assert_eq!(
        stored_data_files(&root),
        units.iter().map(|unit| unit.object.clone()).collect(),
        "nothing lost, nothing extra"
    );
}

/// `md-cli download` into gs:// through STORAGE_EMULATOR_HOST while the GCS fake answers 503 to one request in
/// six at random and drops connections before and after requests take effect, on single puts, multipart parts,
/// completes and publishing copies: exit 0, every object byte-exact with its recorded size and CRC32C, no staging
/// object left.
#[test]
fn sink_faults_are_retried_and_every_object_is_correct() {
    // Files just over one part (5 MiB), so data objects go multipart and are published by copy, while the
    // definitions and the manifest are single puts.
    let stand = main_job_stand(StubConfig { file_size: 6 * 1024 * 1024, ..StubConfig::default() })
        .with_gcs();
    let bucket = "md-chaos";
    let env = stand
        .env(Some(KEY))
        .var("GCS_BUCKET", bucket)
        .var("INSTRUMENT_EXCHANGES", "deribit")
        .var("MD_SINK_PART_SIZE", &(5 * 1024 * 1024).to_string())
        .var("MD_SINK_MAX_RETRIES", "10")
        .var("MD_SINK_TIMEOUT", "10")
        .var("MD_SINK_CONNECT_TIMEOUT", "1")
        .var("TARDIS_MAX_RETRIES", "10")
        .var("MAX_CONCURRENT_REQUESTS", "4");
    let selection =
        [&selection([FROM, TO], "deribit", "perpetual", "trades")[..], &["--max-instruments", "2"]]
            .concat();
    write_definitions(&env);
    let gcs = stand.gcs.as_ref().unwrap();
    let faults = gcs.faults();
    faults.inject(Some(RequestKind::Put), 1, SinkFault::DropBefore);
    faults.inject(Some(RequestKind::Put), 1, SinkFault::DropAfter);
    faults.inject(Some(RequestKind::UploadPart), 1, SinkFault::DropBefore);
    faults.inject(Some(RequestKind::UploadPart), 1, SinkFault::DropAfter);
    faults.inject(Some(RequestKind::UploadPart), 1, SinkFault::Status(503));
    faults.inject(Some(RequestKind::CompleteMultipart), 1, SinkFault::DropAfter);
    faults.inject(Some(RequestKind::Copy), 1, SinkFault::DropAfter);
    faults.inject(Some(RequestKind::Copy), 1, SinkFault::Status(503));
    faults.inject(Some(RequestKind::Head), 1, SinkFault::DropBefore);
    faults.inject(Some(RequestKind::Get), 1, SinkFault::Status(503));
    faults.random(None, 1.0 / 6.0, SinkFault::Status(503), 0x6c5);
    faults.reset_counters();

    let run = ok(env.run(&args("download", &selection)));
    assert!(run.stdout.contains("Complete"), "{}\n{}", run.stdout, run.stderr);
    let counters = gcs.counters();
    assert_eq!(faults.pending(), 0, "every scripted fault was hit: {counters:?}");
    assert!(counters.faults >= 12, "{counters:?}");
    faults.clear();

    let units = plan_of(&env, &selection);
    assert!(units.len() >= 2, "{units:?}");
    for unit in &units {
        let stored = gcs
            .object(bucket, &unit.object)
            .unwrap_or_else(|| panic!("{} not in the bucket", unit.object));
        let expected = stand.served_unit(unit);
        assert!(expected.len() > 5 * 1024 * 1024, "multipart-sized files");
        assert!(stored.data.as_ref() == expected.as_slice(), "{} differs", unit.object);
        assert_eq!(
            stored.metadata.get("md-size").map(String::as_str),
            Some(expected.len().to_string().as_str()),
            "{}",
            unit.object
        );
        assert_eq!(
            stored.metadata.get("md-crc32c").map(String::as_str),
            Some(format!("{:08x}", crc32c::crc32c(&expected)).as_str()),
            "{}",
            unit.object
        );
    }
    let names = gcs.object_names(bucket);
    assert!(!names.iter().any(|name| name.contains(".md-staging/")), "staging left: {names:?}");
    let manifest = gcs
        .object(bucket, &format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json"))
        .expect("the manifest");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.data).unwrap();
    assert_eq!(manifest["status"], "complete");
    // A publishing copy whose answer was lost is retried, finds the object and verifies it: that unit counts as
    // skipped (verified present) rather than done.
    let count = |field: &str| manifest["units"][field].as_u64().expect("a count");
    assert_eq!((count("done") + count("skipped"), count("failed")), (units.len() as u64, 0));

    // And the rerun verifies what is stored instead of downloading it again.
    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", &selection)));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(dataset_requests(&stand), 0);
}

/// A key that appears nowhere but in the environment of the runs (and the stand-in).
const SECRET: &str = "TD.chaos-secret-9f1c27d4e8";
/// Another key, refused by the stand-in.
const WRONG_SECRET: &str = "TD.wrong-secret-3a6b0e51c7";

/// Asserts no text or file shows either key (nor its distinctive part).
fn assert_no_key(what: &str, text: &[u8]) {
    for key in [SECRET, WRONG_SECRET] {
        let distinctive = key.trim_start_matches("TD.");
        assert!(
            !text.windows(distinctive.len()).any(|window| window == distinctive.as_bytes()),
            "{what} shows the key {key}:\n{}",
            String::from_utf8_lossy(text)
        );
    }
}

/// Asserts no file under `dir` (logs, manifests, reports, objects) shows a key.
fn assert_no_key_in_files(dir: &Path) {
    for file in files_under(dir, dir) {
        assert_no_key(&file, &std::fs::read(dir.join(&file)).unwrap());
    }
}

/// A run at TRACE level (LOG_LEVEL, and RUST_LOG should md-cli ever honour it) with a known key, logging to
/// stderr and MD_LOG_FILE, through failing requests (a 500 on the metadata API, a 403 that fails a unit, 500s,
/// a 429 and a cut body on datasets, a 401 on fetch) and a refused key: the key appears in no stdout, stderr, log
/// file, manifest or object, nor in `md-cli config`.
#[test]
fn a_trace_level_run_with_failures_never_prints_the_key() {
    let stand = Stand::start(StubConfig {
        api_key: Some(SECRET.into()),
        file_size: 16 * 1024,
        retry_after_secs: 0,
        ..StubConfig::default()
    });
    let traced = |key: &str| {
        stand
            .env(Some(key))
            .var("MD_SINK", "sink")
            .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures")
            .var("LOG_LEVEL", "trace")
            .var("RUST_LOG", "trace")
            .var("RUST_BACKTRACE", "1")
            .var("LOG_DESTINATION", "both")
            .var("MD_LOG_FILE", "md.log")
            .var("TARDIS_MAX_RETRIES", "3")
    };
    let env = traced(SECRET);
    let mut runs = Vec::new();

    stand.stub.push_faults(Fault::Status(500), 1);
    runs.push(("instruments", ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])))));
    stand.stub.push_dataset_faults(Fault::Status(403), 1);
    stand.stub.push_dataset_faults(Fault::Status(500), 2);
    stand.stub.push_dataset_faults(Fault::TooManyRequests { retry_after_secs: 0 }, 1);
    stand.stub.push_dataset_faults(Fault::DropMidBody, 1);
    let download = env.run(&args("download", SELECTION));
    assert_eq!(
        download.code, 1,
        "a unit failed with 403: {}\n{}",
        download.stdout, download.stderr
    );
    assert!(download.stdout.contains("403"), "the failure is reported: {}", download.stdout);
    runs.push(("download", download));
    stand.stub.push_faults(Fault::Status(401), 1);
    let fetch = env.run(&fetch_btc_trades("t.csv.gz"));
    assert_eq!(fetch.code, 1, "{}", fetch.stderr);
    runs.push(("fetch", fetch));
    runs.push(("config", ok(env.run(&["config"]))));
    runs.push(("config --json", ok(env.run(&["config", "--json"]))));

    // A refused key: the metadata API answers 401 (instruments fall back to the free details), datasets 401.
    let refused = traced(WRONG_SECRET);
    runs.push((
        "instruments (refused key)",
        refused.run(&args("instruments", &["--from", FROM, "--to", TO])),
    ));
    let fetch = refused.run(&fetch_btc_trades("t.csv.gz"));
    assert_eq!(fetch.code, 1, "{}", fetch.stderr);
    assert!(fetch.stderr.contains("401"), "{}", fetch.stderr);
    runs.push(("fetch (refused key)", fetch));

    for (name, run) in &runs {
        assert_no_key(&format!("{name} stdout"), run.stdout.as_bytes());
        assert_no_key(&format!("{name} stderr"), run.stderr.as_bytes());
    }
    // Both keys were really in use, and TRACE really was on.
    let requests = stand.stub.requests();
    assert!(requests.iter().any(|record| record.auth == AuthSeen::Valid));
    assert!(requests.iter().any(|record| record.auth == AuthSeen::Invalid));
    assert!(stand.stub.requests().iter().any(|record| record.status == 403));
    for dir in [env.dir.path(), refused.dir.path()] {
        let log = std::fs::read_to_string(dir.join("md.log")).expect("the log file");
        assert!(
            log.lines().filter(|line| line.contains("TRACE")).count() > 10,
            "trace lines: {log}"
        );
        assert_no_key_in_files(dir);
    }
    assert!(
        local_manifest(&env)["errors"].as_array().is_some_and(|errors| !errors.is_empty()),
        "the manifest records the failed unit"
    );
}

/// Commands of the bad-input table.
const MAIN: &[&str] = &["download", "pipeline", "instruments"];
const DOWNLOADS: &[&str] = &["download", "pipeline"];
const EXCHANGES: &[&str] = &["instruments", "pipeline"];
const WITH_CONFIG: &[&str] = &["config", "download", "pipeline", "instruments"];

/// Every malformed command line or configuration, for each command it applies to: exit 2, stderr names the
/// culprit (flag, variable, file or key), stdout is empty, no file or directory appears (no sink, no log file)
/// and no request reaches the stand-in.
#[rstest]
// Command lines.
#[case::unknown_command(&["donwload"], &[], &[], &[], "donwload")]
#[case::unknown_flag(MAIN, &["--no-such-flag"], &[], &[], "--no-such-flag")]
#[case::flag_without_value(MAIN, &["--from"], &[], &[], "--from")]
#[case::verbose_and_quiet(MAIN, &["-v", "-q"], &[], &[], "--quiet")]
#[case::bad_from(MAIN, &["--from", "2026-13-01"], &[], &[], "--from")]
#[case::bad_to(MAIN, &["--from", "2026-10-01", "--to", "tomorrow"], &[], &[], "--to")]
#[case::relative_end_before_start(MAIN, &["--from", "today", "--to", "yesterday"], &[], &[], "--from")]
#[case::end_before_start(MAIN, &["--from", "2026-10-02", "--to", "2026-10-01"], &[], &[], "--from")]
#[case::unknown_data_type(DOWNLOADS, &["--data-types", "trades,orderbook"], &[], &[], "--data-types")]
#[case::empty_data_types(DOWNLOADS, &["--data-types", ""], &[], &[], "--data-types")]
#[case::unknown_instrument_type(DOWNLOADS, &["--instrument-types", "swapz"], &[], &[], "--instrument-types")]
#[case::unknown_format(DOWNLOADS, &["--format", "xlsx"], &[], &[], "--format")]
#[case::zero_max_instruments(DOWNLOADS, &["--max-instruments", "0"], &[], &[], "--max-instruments")]
#[case::word_max_instruments(DOWNLOADS, &["--max-instruments", "many"], &[], &[], "--max-instruments")]
#[case::empty_exchanges(EXCHANGES, &["--exchanges", ""], &[], &[], "--exchanges")]
#[case::empty_venues(DOWNLOADS, &["--venues", " "], &[], &[], "--venues")]
#[case::empty_sink(MAIN, &["--sink", ""], &[], &[], "--sink")]
#[case::bad_sink_scheme(MAIN, &["--sink", "ftp://bucket/x"], &[], &[], "--sink")]
#[case::bad_sink_bucket(MAIN, &["--sink", "gs://UPPER"], &[], &[], "--sink")]
#[case::unknown_log_format(MAIN, &["--log-format", "xml"], &[], &[], "--log-format")]
#[case::html_in_no_directory(&["missing"], &["--html", "nope/coverage.html"], &[], &[], "--html nope/coverage.html")]
#[case::html_is_a_directory(&["missing"], &["--html", "/"], &[], &[], "--html /")]
#[case::missing_env_file(MAIN, &["--env-file", "nope.env"], &[], &[], "--env-file")]
#[case::missing_config_file(MAIN, &["--config", "nope.yaml"], &[], &[], "nope.yaml")]
#[case::config_file_is_a_directory(MAIN, &["--config", "/"], &[], &[], "--config")]
#[case::shard_index_too_big(MAIN, &[], &[("SHARD_INDEX", "4"), ("TOTAL_SHARDS", "4")], &[], "SHARD_INDEX")]
// Files.
#[case::malformed_yaml(WITH_CONFIG, &[], &[], &[("config.yaml", "tardis: [unclosed\n")], "config.yaml")]
#[case::yaml_not_a_mapping(WITH_CONFIG, &[], &[], &[("config.yaml", "- just\n- a list\n")], "config.yaml")]
#[case::unknown_yaml_key(WITH_CONFIG, &["--config", "settings.yaml"], &[], &[("settings.yaml", "tardis:\n  time_out: 3\n")], "tardis.time_out")]
#[case::yaml_wrong_type(WITH_CONFIG, &[], &[], &[("config.yaml", "download:\n  max_instruments: lots\n")], "DOWNLOAD_MAX_INSTRUMENTS (download.max_instruments in ./config.yaml)")]
#[case::yaml_bad_date(WITH_CONFIG, &[], &[], &[("config.yaml", "instruments:\n  start_date: 2026-02-30\n")], "instruments.start_date")]
#[case::malformed_dot_env(WITH_CONFIG, &[], &[], &[(".env", "THIS IS NOT A VARIABLE\n")], ".env")]
#[case::bad_value_in_dot_env(WITH_CONFIG, &[], &[], &[(".env", "CACHE_TTL=soon\n")], "CACHE_TTL (in ./.env)")]
// Variables.
#[case::malformed_date(WITH_CONFIG, &[], &[("INSTRUMENT_START_DATE", "2024-13-01")], &[], "INSTRUMENT_START_DATE")]
#[case::malformed_end_date(WITH_CONFIG, &[], &[("INSTRUMENT_END_DATE", "the-day-before")], &[], "INSTRUMENT_END_DATE")]
#[case::start_after_end(WITH_CONFIG, &[], &[("INSTRUMENT_START_DATE", "2024-05-02"), ("INSTRUMENT_END_DATE", "2024-05-01")], &[], "INSTRUMENT_START_DATE and INSTRUMENT_END_DATE")]
#[case::download_start_after_end(WITH_CONFIG, &[], &[("DOWNLOAD_START_DATE", "2024-05-02"), ("DOWNLOAD_END_DATE", "2024-05-01")], &[], "DOWNLOAD_START_DATE")]
#[case::shard_index_equal_total(WITH_CONFIG, &[], &[("SHARD_INDEX", "4"), ("TOTAL_SHARDS", "4")], &[], "SHARD_INDEX")]
#[case::shard_index_without_total(WITH_CONFIG, &[], &[("SHARD_INDEX", "1")], &[], "TOTAL_SHARDS")]
#[case::zero_total_shards(WITH_CONFIG, &[], &[("SHARD_INDEX", "0"), ("TOTAL_SHARDS", "0")], &[], "TOTAL_SHARDS")]
#[case::negative_concurrency(WITH_CONFIG, &[], &[("MAX_CONCURRENT_REQUESTS", "-1")], &[], "MAX_CONCURRENT_REQUESTS")]
#[case::zero_concurrency(WITH_CONFIG, &[], &[("TARDIS_MAX_CONCURRENT", "0")], &[], "TARDIS_MAX_CONCURRENT")]
#[case::negative_retries(WITH_CONFIG, &[], &[("TARDIS_MAX_RETRIES", "-2")], &[], "TARDIS_MAX_RETRIES")]
#[case::zero_timeout(WITH_CONFIG, &[], &[("TARDIS_TIMEOUT", "0")], &[], "TARDIS_TIMEOUT")]
#[case::zero_rate_per_second(WITH_CONFIG, &[], &[("TARDIS_RATE_LIMIT_PER_SECOND", "0")], &[], "TARDIS_RATE_LIMIT_PER_SECOND")]
#[case::zero_batch(WITH_CONFIG, &[], &[("BATCH_SIZE", "0")], &[], "BATCH_SIZE")]
#[case::zero_rate(WITH_CONFIG, &[], &[("RATE_LIMIT_PER_VM", "0")], &[], "RATE_LIMIT_PER_VM")]
#[case::zero_max_instruments_var(WITH_CONFIG, &[], &[("DOWNLOAD_MAX_INSTRUMENTS", "0")], &[], "DOWNLOAD_MAX_INSTRUMENTS")]
#[case::zero_instruments_per_shard(WITH_CONFIG, &[], &[("INSTRUMENTS_PER_SHARD", "0")], &[], "INSTRUMENTS_PER_SHARD")]
#[case::not_a_number(WITH_CONFIG, &[], &[("CACHE_TTL", "an hour")], &[], "CACHE_TTL")]
#[case::unknown_data_type_var(WITH_CONFIG, &[], &[("DOWNLOAD_DATA_TYPES", "trades,orderbook")], &[], "DOWNLOAD_DATA_TYPES")]
#[case::unknown_instrument_type_var(WITH_CONFIG, &[], &[("DOWNLOAD_INSTRUMENT_TYPES", "swapz")], &[], "DOWNLOAD_INSTRUMENT_TYPES")]
#[case::unknown_output_format(WITH_CONFIG, &[], &[("MD_OUTPUT_FORMAT", "xlsx")], &[], "MD_OUTPUT_FORMAT")]
#[case::unknown_compression(WITH_CONFIG, &[], &[("MD_PARQUET_COMPRESSION", "lz5")], &[], "MD_PARQUET_COMPRESSION")]
#[case::zero_row_group(WITH_CONFIG, &[], &[("MD_PARQUET_ROW_GROUP_SIZE", "0")], &[], "MD_PARQUET_ROW_GROUP_SIZE")]
#[case::unknown_log_destination(WITH_CONFIG, &[], &[("LOG_DESTINATION", "syslog")], &[], "LOG_DESTINATION")]
#[case::unknown_log_level(WITH_CONFIG, &[], &[("LOG_LEVEL", "LOUD")], &[], "LOG_LEVEL")]
#[case::bad_boolean(WITH_CONFIG, &[], &[("MEMORY_EFFICIENT", "maybe")], &[], "MEMORY_EFFICIENT")]
#[case::bad_force(WITH_CONFIG, &[], &[("MD_FORCE", "sometimes")], &[], "MD_FORCE")]
#[case::malformed_sink_scheme(WITH_CONFIG, &[], &[("MD_SINK", "ftp://bucket/x")], &[], "MD_SINK")]
#[case::malformed_sink_no_bucket(WITH_CONFIG, &[], &[("MD_SINK", "gs://")], &[], "MD_SINK")]
#[case::relative_file_url(WITH_CONFIG, &[], &[("MD_SINK", "file://data")], &[], "MD_SINK")]
#[case::refused_bucket_upper(WITH_CONFIG, &[], &[("GCS_BUCKET", "My_Bucket")], &[], "GCS_BUCKET")]
#[case::refused_bucket_short(WITH_CONFIG, &[], &[("GCS_BUCKET", "ab")], &[], "GCS_BUCKET")]
#[case::refused_bucket_google(WITH_CONFIG, &[], &[("GCS_BUCKET", "google-data")], &[], "GCS_BUCKET")]
#[case::refused_bucket_in_sink(WITH_CONFIG, &[], &[("MD_SINK", "gs://-bad-")], &[], "MD_SINK")]
#[case::missing_credentials(WITH_CONFIG, &[], &[("MD_SINK", "gs://md-test-bucket"), ("GCP_CREDENTIALS_PATH", "/nonexistent/key.json")], &[], "GCP_CREDENTIALS_PATH")]
#[case::missing_adc_credentials(WITH_CONFIG, &[], &[("MD_SINK", "gs://md-test-bucket"), ("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")], &[], "GOOGLE_APPLICATION_CREDENTIALS")]
#[case::bad_secret_name(WITH_CONFIG, &[], &[("TARDIS_SECRET_NAME", "projects/p/secrets/k")], &[], "TARDIS_SECRET_NAME")]
#[case::bad_secret_manager_switch(WITH_CONFIG, &[], &[("USE_SECRET_MANAGER", "perhaps")], &[], "USE_SECRET_MANAGER")]
#[case::bad_secret_manager_emulator(WITH_CONFIG, &[], &[("SECRET_MANAGER_EMULATOR_HOST", "not a url")], &[], "SECRET_MANAGER_EMULATOR_HOST")]
#[case::conflicting_shards(WITH_CONFIG, &[], &[("SHARD_INDEX", "1"), ("TOTAL_SHARDS", "4"), ("CLOUD_RUN_TASK_INDEX", "2"), ("CLOUD_RUN_TASK_COUNT", "4")], &[], "SHARD_INDEX and CLOUD_RUN_TASK_INDEX")]
#[case::conflicting_engines(WITH_CONFIG, &[], &[("BATCH_TASK_INDEX", "1"), ("BATCH_TASK_COUNT", "4"), ("CLOUD_RUN_TASK_INDEX", "1"), ("CLOUD_RUN_TASK_COUNT", "5")], &[], "CLOUD_RUN_TASK_COUNT and BATCH_TASK_COUNT")]
#[case::kubernetes_without_total(WITH_CONFIG, &[], &[("JOB_COMPLETION_INDEX", "3")], &[], "TOTAL_SHARDS")]
#[case::misspelled_tardis_var(WITH_CONFIG, &[], &[("TARDIS_API_KYE", "x")], &[], "TARDIS_API_KYE")]
#[case::misspelled_md_var(WITH_CONFIG, &[], &[("MD_SINKK", "x")], &[], "MD_SINKK")]
#[case::bad_url(WITH_CONFIG, &[], &[("TARDIS_BASE_URL", "datasets.tardis.dev")], &[], "TARDIS_BASE_URL")]
#[case::bad_api_url_scheme(WITH_CONFIG, &[], &[("TARDIS_API_URL", "ftp://api.tardis.dev")], &[], "TARDIS_API_URL")]
#[case::bad_emulator_url(WITH_CONFIG, &[], &[("STORAGE_EMULATOR_HOST", "not a url")], &[], "STORAGE_EMULATOR_HOST")]
#[case::bad_s3_endpoint(WITH_CONFIG, &[], &[("AWS_ENDPOINT_URL", "::1:9000")], &[], "AWS_ENDPOINT_URL")]
#[case::bad_layout(WITH_CONFIG, &[], &[("MD_LAYOUT", "ticks/{date}/{nonsense}.csv.gz")], &[], "MD_LAYOUT")]
#[case::small_part(WITH_CONFIG, &[], &[("MD_SINK_PART_SIZE", "1024")], &[], "MD_SINK_PART_SIZE")]
#[case::part_size_with_unit(WITH_CONFIG, &[], &[("MD_SINK_PART_SIZE", "16MB")], &[], "MD_SINK_PART_SIZE")]
#[case::buffer_below_a_part(WITH_CONFIG, &[], &[("MD_SINK_BUFFER_MEMORY", "4000000")], &[], "MD_SINK_BUFFER_MEMORY")]
#[case::verify_gzip_not_a_bool(WITH_CONFIG, &[], &[("TARDIS_VERIFY_GZIP", "sometimes")], &[], "TARDIS_VERIFY_GZIP")]
#[case::zero_sink_timeout(WITH_CONFIG, &[], &[("MD_SINK_TIMEOUT", "0")], &[], "MD_SINK_TIMEOUT")]
#[case::zero_quota(WITH_CONFIG, &[], &[("TARDIS_DAILY_QUOTA_BYTES", "0")], &[], "TARDIS_DAILY_QUOTA_BYTES")]
#[case::negative_quota(WITH_CONFIG, &[], &[("TARDIS_DAILY_QUOTA_BYTES", "-5")], &[], "TARDIS_DAILY_QUOTA_BYTES")]
fn bad_input_exits_2_naming_the_culprit_and_writes_nothing(
    #[case] commands: &[&str],
    #[case] flags: &[&str],
    #[case] vars: &[(&str, &str)],
    #[case] files: &[(&str, &str)],
    #[case] culprit: &str,
) {
    let stand = main_job_stand(small_files());
    for command in commands {
        let env = vars.iter().fold(local_env(&stand), |env, (name, value)| env.var(name, value));
        for (name, contents) in files {
            env.write(name, contents);
        }
        let before = files_under(env.dir.path(), env.dir.path());
        let run = env.run(&args(command, flags));
        let context = format!("{command} {flags:?} {vars:?} {files:?}");
        assert_eq!(run.code, 2, "{context}\nstdout: {}\nstderr: {}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains(culprit),
            "{context}: stderr does not name {culprit}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{context}: stdout: {}", run.stdout);
        assert_eq!(files_under(env.dir.path(), env.dir.path()), before, "{context}: files written");
        assert!(!env.dir.path().join("sink").exists(), "{context}: the sink was created");
        assert_eq!(stand.stub.counters().total, 0, "{context}: a request reached the stand-in");
    }
}
