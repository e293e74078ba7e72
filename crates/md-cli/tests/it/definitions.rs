//! A bucket whose definitions the system md replaces wrote: the download refuses to plan from them and says what
//! to run, and `md-cli instruments` replaces them without `--force`, after which the download plans md's keys.
//! Definitions that do not cover an exchange (its metadata fetch failed) are missing definitions for it.

use std::path::Path;

use rstest::rstest;

use crate::support::{
    FROM, SELECTION, args, local_env, main_job_stand, ok, plan, plan_of, sink_path, small_files,
    write_definitions,
};

/// The day file the original wrote for 2026-10-01 (pandas and pyarrow), shared with downloader's tests.
fn original_file() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../downloader/tests/fixtures/original/instruments_2026-10-01.parquet");
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn definitions_the_original_wrote_are_replaced_by_instruments_without_force() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand);
    let object = format!("instrument_availability/by_date/day-{FROM}/instruments.parquet");
    let path = sink_path(&env, &object);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, original_file()).unwrap();

    let run = env.run(&args("download", SELECTION));
    assert_eq!(run.code, 2, "{}", run.stderr);
    for needed in [
        object.as_str(),
        "market-tick-data-handler",
        &format!("md-cli instruments --from {FROM} --to {FROM}"),
    ] {
        assert!(run.stderr.contains(needed), "{needed}: {}", run.stderr);
    }

    let run = write_definitions(&env);
    assert!(
        run.stdout.contains("replaced 1 definitions file written by market-tick-data-handler"),
        "{}",
        run.stdout
    );
    assert_ne!(std::fs::read(&path).unwrap(), original_file());
    let units = plan(&env);
    assert!(!units.is_empty());
    assert!(
        units.iter().all(|unit| !unit.object.contains(":PERP:") && !unit.object.contains("OKEX")),
        "{units:?}"
    );
    assert!(
        units.iter().any(|unit| unit.object.contains("DERIBIT:PERPETUAL:BTC-USD")),
        "{units:?}"
    );
}

/// How an exchange's metadata fetch fails in an `md-cli instruments` run.
#[derive(Debug, Clone, Copy)]
enum FetchFails {
    /// In the same run as deribit, which is fetched: the stand-in answers 404 for an exchange it does not know.
    InTheSameRun,
    /// In a run of its own, after a run that fetched deribit: Tardis's metadata API is unreachable (a dead port).
    InALaterRun,
}

/// After an instruments run whose metadata fetch failed for an exchange, `plan`, `download` and `missing` of that exchange and
/// day exit 2 with the missing-definitions error naming the one `md-cli instruments` run that mends them (before,
/// they planned 0 units and exited 0), while deribit, fetched, plans fine; the mending run then covers it.
#[rstest]
#[case::unknown_exchange_in_the_same_run(FetchFails::InTheSameRun, "bitmex-nosuch")]
#[case::metadata_unreachable_in_a_later_run(FetchFails::InALaterRun, "binance-futures")]
fn an_exchange_whose_metadata_fetch_failed_is_missing_definitions_not_zero_units(
    #[case] fails: FetchFails,
    #[case] exchange: &str,
) {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand);
    let day = ["--from", FROM, "--to", FROM];
    match fails {
        FetchFails::InTheSameRun => {
            let exchanges = format!("deribit,{exchange}");
            let run =
                env.run(&args("instruments", &[&day[..], &["--exchanges", &exchanges]].concat()));
            assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
            assert!(run.stderr.contains(exchange), "{}", run.stderr);
        }
        FetchFails::InALaterRun => {
            ok(env.run(&args("instruments", &[&day[..], &["--exchanges", "deribit"]].concat())));
            let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let dead_url = format!("http://{}", dead.local_addr().unwrap());
            drop(dead);
            let output = env
                .command(&args("instruments", &[&day[..], &["--exchanges", exchange]].concat()))
                .env("TARDIS_API_URL", &dead_url)
                .env("TARDIS_BASE_URL", &dead_url)
                .env("TARDIS_MAX_RETRIES", "0")
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{stderr}");
        }
    }
    let object = format!("instrument_availability/by_date/day-{FROM}/instruments.parquet");
    assert!(sink_path(&env, &object).exists(), "deribit's definitions are stored");

    let selection = |venue: &'static str| -> Vec<&str> {
        vec!["--from", FROM, "--to", FROM, "--venues", venue, "--data-types", "trades"]
    };
    let uncovered: Vec<&str> =
        vec!["--from", FROM, "--to", FROM, "--venues", exchange, "--data-types", "trades"];
    for command in ["plan", "download", "missing"] {
        let run = env.run(&args(command, &uncovered));
        assert_eq!(run.code, 2, "{command}: {}\n{}", run.stdout, run.stderr);
        for needed in [
            format!("no stored instrument definitions of {exchange} for {FROM}"),
            object.clone(),
            format!("md-cli instruments --from {FROM} --to {FROM} --exchanges {exchange}"),
        ] {
            assert!(run.stderr.contains(&needed), "{command}: {needed}: {}", run.stderr);
        }
    }
    let units = plan_of(&env, &selection("deribit"));
    assert!(!units.is_empty() && units.iter().all(|unit| unit.exchange == "deribit"), "{units:?}");

    if matches!(fails, FetchFails::InALaterRun) {
        // The run the error names mends the day: binance-futures is covered, deribit is kept.
        ok(env.run(&args("instruments", &[&day[..], &["--exchanges", exchange]].concat())));
        let both = plan_of(
            &env,
            &[
                "--from",
                FROM,
                "--to",
                FROM,
                "--venues",
                "deribit,binance-futures",
                "--data-types",
                "trades",
            ],
        );
        for venue in ["deribit", "binance-futures"] {
            assert!(both.iter().any(|unit| unit.exchange == venue), "{venue}: {both:?}");
        }
    }
}
