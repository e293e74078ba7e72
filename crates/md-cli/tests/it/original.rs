//! The original system's command lines run unchanged, with `md-cli` in place of
//! `python -m market_data_tick_handler.main`: every example of its README, its `main.py` help, its deploy scripts
//! (`deploy/local/run-main.sh`, `deploy/vm/*.sh`) and its Dockerfiles' `CMD`s (IggyIkenna/market-tick-data-handler
//! at 9492596; shell variables replaced by the values of the scripts' own usage examples), run against the Tardis
//! stand-in. Each either does exactly what the md command it corresponds to does (the same objects, the same
//! counts, compared with that command run in a second directory), or exits 2 naming its mode and md's nearest
//! command.

use std::collections::BTreeMap;
use std::path::Path;

use rstest::rstest;

use crate::support::{Run, Stand, TestEnv, files_under, main_job_stand, ok, small_files};

/// What an example line must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The same as md's command line `md`, with the variables `vars` set (md's form of flags md has no flag for).
    Same { md: &'static str, vars: &'static [(&'static str, &'static str)], job: Job },
    /// Exit 2; stderr contains every one of these.
    Refused(&'static [&'static str]),
}

/// Which of md's jobs a line runs: what is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    /// The definitions written.
    Instruments,
    /// The tick objects written and the summary's counts (over definitions written beforehand).
    Download,
    /// Both.
    Pipeline,
    /// What `missing` prints (over definitions written beforehand).
    Missing,
}

use Expect::{Refused, Same};

/// The same as md's command line `md`, with no variable set.
const fn same(md: &'static str, job: Job) -> Expect {
    Same { md, vars: &[], job }
}
use Job::{Download, Instruments, Missing, Pipeline};

/// The exchanges the stand-in's definitions are written for, beforehand and by the instruments lines.
const EXCHANGES: &str = "deribit,binance-futures,binance";

fn env(stand: &Stand) -> TestEnv {
    stand
        .env(Some(crate::support::KEY))
        .var("MD_SINK", "sink")
        .var("INSTRUMENT_EXCHANGES", EXCHANGES)
        .var("DOWNLOAD_INSTRUMENT_TYPES", "perpetual,spot")
}

/// Every file under `dir` of the sink with its bytes.
fn contents(env: &TestEnv, dir: &str) -> BTreeMap<String, Vec<u8>> {
    let root = env.dir.path().join("sink");
    files_under(&root, &root.join(dir))
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(root.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

fn units_line(run: &Run) -> String {
    run.stdout.lines().find(|line| line.starts_with("units:")).unwrap_or_default().to_owned()
}

/// Runs `line` (the original's flags) and `md` in two directories prepared alike, and compares what they did.
fn compare(stand: &Stand, line: &str, md: &str, vars: &[(&str, &str)], job: Job) {
    let original = env(stand);
    let native = vars.iter().fold(env(stand), |env, (name, value)| env.var(name, value));
    for env in [&original, &native] {
        env.write(".env.production", "INSTRUMENT_START_DATE=2023-05-24\n");
        if matches!(job, Download | Missing) {
            ok(env.run(&["instruments", "--from", "2023-05-23", "--to", "2023-05-25"]));
        }
    }
    let original_args: Vec<&str> = line.split_whitespace().collect();
    let original_run = original.run(&original_args);
    let native_run = native.run(&md.split_whitespace().collect::<Vec<_>>());
    let context = format!(
        "{line}\n  vs md-cli {md}\n--- original form:\n{}\n{}\n--- md form:\n{}\n{}",
        original_run.stdout, original_run.stderr, native_run.stdout, native_run.stderr
    );
    assert_eq!(original_run.code, 0, "{context}");
    assert_eq!(native_run.code, 0, "{context}");
    let command = match job {
        Instruments => "instruments",
        Download => "download",
        Pipeline => "pipeline",
        Missing => "missing",
    };
    let notice = original_run.stderr.lines().find_map(|line| line.split_once("runs as: md-cli "));
    assert!(
        notice.is_some_and(|(_, md)| md.split_whitespace().any(|word| word == command)),
        "the run says which md command it is: {context}"
    );
    if matches!(job, Instruments | Pipeline) {
        let written = contents(&original, "instrument_availability");
        assert!(!written.is_empty(), "{context}");
        assert_eq!(written, contents(&native, "instrument_availability"), "{context}");
    }
    if matches!(job, Download | Pipeline) {
        let written = contents(&original, "raw_tick_data");
        assert!(!written.is_empty(), "{context}");
        assert_eq!(
            written.keys().collect::<Vec<_>>(),
            contents(&native, "raw_tick_data").keys().collect::<Vec<_>>(),
            "{context}"
        );
        assert_eq!(units_line(&original_run), units_line(&native_run), "{context}");
    }
    if job == Missing {
        assert!(!original_run.stdout.is_empty(), "{context}");
        assert_eq!(original_run.stdout, native_run.stdout, "{context}");
    }
}

#[rstest]
// README.md
#[case::readme_download_max_instruments(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-23 --venues deribit --max-instruments 5",
    same(
        "download --from 2023-05-23 --to 2023-05-23 --venues deribit --max-instruments 5",
        Download
    )
)]
#[case::readme_instruments(
    "--mode instruments --start-date 2023-05-23 --end-date 2023-05-25",
    same("instruments --from 2023-05-23 --to 2023-05-25", Instruments)
)]
#[case::readme_download(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit",
    same("download --from 2023-05-23 --to 2023-05-25 --venues deribit", Download)
)]
#[case::readme_candle_processing("--mode candle-processing --start-date 2024-01-01 --end-date 2024-01-01", Refused(&["--mode candle-processing", "no md equivalent"]))]
#[case::readme_bigquery_upload("--mode bigquery-upload --start-date 2024-01-01 --end-date 2024-01-01", Refused(&["--mode bigquery-upload", "no md equivalent"]))]
#[case::readme_validate("--mode validate --start-date 2023-05-23 --end-date 2023-05-25", Refused(&["--mode validate", "md-cli missing --check"]))]
#[case::readme_full_pipeline_ticks("--mode full-pipeline-ticks --start-date 2023-05-23 --end-date 2023-05-25", Refused(&["--mode full-pipeline-ticks", "--mode full-pipeline", "md-cli pipeline"]))]
#[case::readme_streaming_ticks("--mode streaming-ticks-bigquery --symbol BTC-USDT --duration 300", Refused(&["--mode streaming-ticks-bigquery", "no md equivalent"]))]
#[case::readme_streaming_candles_serve("--mode streaming-candles-serve --symbol BTC-USDT --duration 0", Refused(&["--mode streaming-candles-serve", "no md equivalent"]))]
#[case::readme_streaming_candles_bigquery("--mode streaming-candles-bigquery --symbol BTC-USDT --duration 0", Refused(&["--mode streaming-candles-bigquery", "no md equivalent"]))]
#[case::readme_live_instruments_sync("--mode live-instruments-sync --exchanges binance,deribit", Refused(&["--mode live-instruments-sync", "no md equivalent"]))]
// main.py's help; docker/tardis-download/Dockerfile's CMD.
#[case::help_download_space_separated(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit --data-types trades book_snapshot_5",
    same(
        "download --from 2023-05-23 --to 2023-05-25 --venues deribit --data-types trades,book_snapshot_5",
        Download
    )
)]
#[case::help_env_file(
    "--mode instruments --env-file .env.production",
    same("--env-file .env.production instruments", Instruments)
)]
// deploy/local/run-main.sh (its usage examples, as the script passes them on after --mode).
#[case::run_main_instruments_workers(
    "--mode instruments --start-date 2023-05-23 --end-date 2023-05-25 --max-workers 8",
    same("instruments --from 2023-05-23 --to 2023-05-25", Instruments)
)]
#[case::run_main_missing_reports(
    "--mode missing-reports --start-date 2023-05-23 --end-date 2023-05-25",
    same("missing --from 2023-05-23 --to 2023-05-25", Missing)
)]
#[case::run_main_download_force_abbreviated(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-25 --venues binance --force",
    same("download --from 2023-05-23 --to 2023-05-25 --venues binance --force", Download)
)]
#[case::run_main_validate("--mode validate --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit --data-types trades book_snapshot_5", Refused(&["--mode validate", "md-cli missing --check"]))]
#[case::run_main_check_gaps("--mode check-gaps --start-date 2023-05-23 --end-date 2023-05-25", Refused(&["--mode check-gaps", "md-cli missing"]))]
#[case::run_main_full_pipeline(
    "--mode full-pipeline --start-date 2023-05-23 --end-date 2023-05-25",
    same("pipeline --from 2023-05-23 --to 2023-05-25", Pipeline)
)]
#[case::run_main_available_tick_reports("--mode available-tick-reports --start-date 2023-05-23 --end-date 2023-05-25", Refused(&["--mode available-tick-reports", "md-cli missing", "available_data.parquet"]))]
#[case::run_main_candles_bigquery("--mode run-full-pipeline-candles --start-date 2024-01-01 --end-date 2024-01-01 --upload-to-bigquery", Refused(&["--mode run-full-pipeline-candles", "no md equivalent"]))]
// deploy/vm/deploy-instruments.sh and deploy-missing-reports.sh: comma-separated lists, as the scripts pass them.
#[case::vm_instruments_venues(
    "--mode instruments --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit,binance",
    same("instruments --from 2023-05-23 --to 2023-05-25 --exchanges deribit,binance", Instruments)
)]
#[case::vm_missing_reports_filters(
    "--mode missing-reports --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit --instrument-types perpetual --data-types trades",
    same(
        "missing --from 2023-05-23 --to 2023-05-25 --venues deribit --instrument-types perpetual --data-types trades",
        Missing
    )
)]
// deploy/vm/deploy-download.sh: its startup script (defaults), and its `run` command, whose default data types
// (ALL_DATA_TYPES) no data type is called: md refuses it where the original found nothing to download.
#[case::vm_download_defaults(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-23",
    same("download --from 2023-05-23 --to 2023-05-23", Download)
)]
#[case::vm_download_run_default_types("--mode download --start-date 2023-05-23 --end-date 2023-05-23 --venues binance --data-types ALL_DATA_TYPES", Refused(&["--data-types (DOWNLOAD_DATA_TYPES)", "ALL_DATA_TYPES"]))]
// deploy/vm/shard-deploy.sh: one day per shard; the download shard by flags.
#[case::vm_shard_instruments(
    "--mode instruments --start-date 2023-05-23 --end-date 2023-05-23",
    same("instruments --from 2023-05-23 --to 2023-05-23", Instruments)
)]
#[case::vm_shard_download("--mode download --start-date 2023-05-23 --end-date 2023-05-23 --shard-index 1 --total-shards 4 --venues deribit,binance --data-types trades,book_snapshot_5", Same { md: "download --from 2023-05-23 --to 2023-05-23 --venues deribit,binance --data-types trades,book_snapshot_5", vars: &[("SHARD_INDEX", "1"), ("TOTAL_SHARDS", "4")], job: Download })]
// deploy/vm/shard-deploy-download.sh, deploy-bigquery-upload.sh, deploy-candle-processing.sh.
#[case::vm_shard_full_pipeline_ticks("--mode full-pipeline-ticks --start-date 2023-05-23 --end-date 2023-05-23", Refused(&["--mode full-pipeline-ticks", "md-cli pipeline"]))]
#[case::vm_bigquery_upload("--mode bigquery-upload --start-date 2023-05-23 --end-date 2023-05-23", Refused(&["--mode bigquery-upload", "no md equivalent"]))]
#[case::vm_candle_processing("--mode candle-processing --start-date 2023-05-23 --end-date 2023-05-23", Refused(&["--mode candle-processing", "no md equivalent"]))]
// docker/instrument-generation/Dockerfile's CMD.
#[case::docker_instruments(
    "--mode instruments --start-date 2023-05-23 --end-date 2023-05-25",
    same("instruments --from 2023-05-23 --to 2023-05-25", Instruments)
)]
// Its venue names (`OKX-SWAP`, upper case) are Tardis exchange ids to md.
#[case::venue_names_are_tardis_ids(
    "--mode instruments --start-date 2023-05-23 --venues DERIBIT OKX-SWAP -v",
    same("-v instruments --from 2023-05-23 --exchanges deribit,okex-swap", Instruments)
)]
fn the_originals_example_command_lines_run_unchanged(#[case] line: &str, #[case] expect: Expect) {
    let stand = main_job_stand(small_files());
    match expect {
        Same { md, vars, job } => compare(&stand, line, md, vars, job),
        Refused(needles) => {
            let env = env(&stand);
            let run = env.run(&line.split_whitespace().collect::<Vec<_>>());
            assert_eq!(run.code, 2, "{line}\n{}\n{}", run.stdout, run.stderr);
            for needle in needles {
                assert!(run.stderr.contains(needle), "{line}: no {needle:?} in\n{}", run.stderr);
            }
            assert!(stand.stub.requests().is_empty(), "{line}: Tardis was asked");
            assert!(
                !Path::new(&env.dir.path().join("sink")).exists(),
                "{line}: something was written"
            );
        }
    }
}

/// `md-cli --help` shows md's own commands, not the original's form.
#[test]
fn the_help_shows_mds_commands() {
    let run = ok(TestEnv::new().run(&["--help"]));
    for command in
        ["config", "fetch", "instruments", "download", "plan", "missing", "pipeline", "doctor"]
    {
        assert!(run.stdout.contains(&format!("  {command} ")), "{command}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("--mode"), "{}", run.stdout);
}

/// A value md refuses is named by the original's flag it came from.
#[rstest]
#[case::start_date(
    "--mode download --start-date 2023-05-32 --end-date 2023-05-31",
    "--start-date (DOWNLOAD_START_DATE)"
)]
#[case::end_date(
    "--mode instruments --start-date 2023-05-23 --end-date 23/05/2023",
    "--end-date (INSTRUMENT_END_DATE)"
)]
#[case::venues_of_instruments(
    "--mode instruments --start-date 2023-05-23 --venues deri:bit",
    "--venues (INSTRUMENT_EXCHANGES)"
)]
#[case::max_instruments(
    "--mode download --start-date 2023-05-23 --max-instruments 0",
    "--max-instruments (DOWNLOAD_MAX_INSTRUMENTS)"
)]
#[case::shard_index(
    "--mode download --start-date 2023-05-23 --shard-index 4 --total-shards 4",
    "--shard-index (SHARD_INDEX)"
)]
#[case::log_level(
    "--mode download --start-date 2023-05-23 --log-level LOUD",
    "--log-level (LOG_LEVEL)"
)]
#[case::unknown_flag("--mode download --start-date 2023-05-23 --vneues deribit", "--vneues")]
#[case::no_mode_value("--mode", "--mode")]
fn bad_original_flags_exit_2_naming_the_flag(#[case] line: &str, #[case] culprit: &str) {
    let env = TestEnv::new();
    let run = env.run(&line.split_whitespace().collect::<Vec<_>>());
    assert_eq!(run.code, 2, "{line}\n{}", run.stderr);
    assert!(run.stderr.contains(culprit), "{line}: no {culprit:?} in\n{}", run.stderr);
}

/// The original's `env.example` (test-support's copy), copied to `.env` as its run script does.
const ENV_EXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../test-support/fixtures/original/env.example");

/// An environment whose `.env` is the original's `env.example`, with the stand-in's URLs and key and a local sink
/// in the environment (which beats `.env`).
fn env_example(stand: &Stand) -> TestEnv {
    let env = stand.env(Some(crate::support::KEY)).var("MD_SINK", "sink");
    std::fs::copy(ENV_EXAMPLE, env.dir.path().join(".env")).unwrap();
    env
}

/// `.env` = the original's `env.example`: it loads, and `doctor` points out each value the original ignored and md
/// applies, naming the variable, its value, its source (the `.env` file) and what md does with it.
#[test]
fn the_originals_env_example_loads_and_doctor_points_out_what_md_applies() {
    let stand = main_job_stand(small_files());
    let env = env_example(&stand);
    let dotenv = env.dir.path().join(".env").canonicalize().unwrap();
    let dotenv = dotenv.strip_prefix(env.dir.path().canonicalize().unwrap()).unwrap_or(&dotenv);
    let config = ok(env.run(&["config"]));
    for line in ["SHARD_INDEX ", "TOTAL_SHARDS ", "TARDIS_SECRET_NAME ", "USE_SECRET_MANAGER "] {
        let shown = config.stdout.lines().find(|shown| shown.starts_with(line)).unwrap();
        assert!(shown.contains(".env"), "{shown}");
    }
    let doctor = env.run(&["doctor", "--json"]);
    assert_eq!(doctor.code, 0, "{}\n{}", doctor.stdout, doctor.stderr);
    let checks: Vec<serde_json::Value> =
        doctor.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let migration = checks.iter().find(|check| check["name"] == "migration").expect("the check");
    assert_eq!(migration["status"], "warn", "{migration}");
    let summary = migration["summary"].as_str().unwrap();
    for expected in [
        "SHARD_INDEX=0 from .env (",
        "TOTAL_SHARDS=30 from .env (",
        ": md downloads only shard 0 of 30, 1/30 of the plan",
        "INSTRUMENTS_PER_SHARD=2 from .env (",
        "md gives each shard 2 instruments of the plan's list, so 30 shard(s) cover 60 instruments",
        "DOWNLOAD_MAX_INSTRUMENTS=10 from .env (",
        "md downloads at most 10 instruments per venue and day",
    ] {
        assert!(summary.contains(expected), "no {expected:?} in {summary}");
    }
    assert!(summary.contains(&dotenv.display().to_string()), "{summary}");
    assert!(migration["fix"].as_str().unwrap().contains("unset them"), "{migration}");

    // Not set (or set by md's own flags), nothing is pointed out.
    let clean = stand.env(Some(crate::support::KEY)).var("MD_SINK", "sink");
    let doctor = clean.run(&["doctor", "--json", "--from", "2026-10-01", "--exchanges", "deribit"]);
    let checks: Vec<serde_json::Value> =
        doctor.stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert!(checks.iter().all(|check| check["name"] != "migration"), "{}", doctor.stdout);
}

/// A run whose shard settings come from the `.env` says, when it starts and in its summary, which share of the plan
/// it did: with `INSTRUMENTS_PER_SHARD` (as `env.example` sets it) the instruments it took, without it 1/30.
#[rstest]
#[case::instruments_per_shard(
    None,
    "shard 0 of 30 with INSTRUMENTS_PER_SHARD=2: instruments 1 to 2 of the plan's list, "
)]
#[case::balanced(Some(""), "shard 0 of 30: 1/30 of the plan (")]
fn a_run_sharded_by_the_dotenv_says_its_share_of_the_plan(
    #[case] instruments_per_shard: Option<&str>,
    #[case] expected: &str,
) {
    let stand = main_job_stand(small_files());
    let env = env_example(&stand)
        // One day, one exchange's perpetuals: a small plan.
        .var("INSTRUMENT_START_DATE", "2026-10-02")
        .var("INSTRUMENT_END_DATE", "2026-10-02")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures")
        .var("DOWNLOAD_INSTRUMENT_TYPES", "perpetual");
    let env = match instruments_per_shard {
        Some(value) => env.var("INSTRUMENTS_PER_SHARD", value),
        None => env,
    };
    let run = ok(env.run(&["pipeline"]));
    let units = crate::support::plan_of(&env, &[]);
    let mine = units.iter().filter(|unit| unit.shard == Some(0)).count();
    assert!(mine > 0 && mine < units.len(), "{mine} of {}", units.len());
    let share = expected.to_owned();
    let counts = format!("{mine} of {} units", units.len());
    let start = run.stderr.lines().find(|line| line.contains("this run downloads shard 0 of 30"));
    let start = start.unwrap_or_else(|| panic!("no share at the start:\n{}", run.stderr));
    assert!(start.contains(&share) && start.contains(&counts), "{start}");
    assert!(start.contains("SHARD_INDEX=0") && start.contains("from .env ("), "{start}");
    let summary = run.stdout.lines().find(|line| line.starts_with("share: ")).unwrap_or_default();
    assert!(summary.contains(&share) && summary.contains(&counts), "{}", run.stdout);
    assert!(summary.contains("TOTAL_SHARDS=30"), "{summary}");
    assert_eq!(
        crate::support::stored_data_files(&env.dir.path().join("sink")).len(),
        mine,
        "the shard's units, no more"
    );
}
