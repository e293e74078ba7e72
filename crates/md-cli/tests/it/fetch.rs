//! `md-cli fetch` against the Tardis stand-in: byte-exact files, atomic writes, exit codes, faults, signals.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rstest::rstest;
use test_support::tardis::{Fault, FaultRates, StubConfig};

use crate::support::{Stand, TestEnv, fetch_btc_trades, fetch_trades};

const KEY: &str = "TD.cli-test-key-42";

fn keyed_stand() -> Stand {
    Stand::start(StubConfig {
        api_key: Some(KEY.into()),
        file_size: 32 * 1024,
        ..StubConfig::default()
    })
}

/// Only the output file (no temporary files) is in the directory.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn fetch_writes_the_file_byte_exact() {
    let stand = keyed_stand();
    let env = stand.env(Some(KEY));
    let run = env.run(&[
        "fetch",
        "--exchange",
        "deribit",
        "--data-type",
        "incremental_book_L2",
        "--date",
        "2026-10-02",
        "--symbol",
        "btc-perpetual",
        "--output",
        "book.csv.gz",
    ]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let written = std::fs::read(env.dir.path().join("book.csv.gz")).expect("the file exists");
    assert!(
        written == stand.served("deribit", "incremental_book_L2", "2026-10-02", "BTC-PERPETUAL")
    );
    assert_eq!(files_in(env.dir.path()), ["book.csv.gz"]);
    assert!(run.stderr.contains("fetched"), "{}", run.stderr);
    assert!(!run.stderr.contains(KEY), "{}", run.stderr);
}

/// Bad input exits 2 and sends nothing.
#[rstest]
#[case::bad_date(&["--date", "2026-13-01", "--data-type", "trades"], "--date")]
#[case::bad_data_type(&["--date", "2026-10-02", "--data-type", "orderbook"], "--data-type")]
#[case::missing_directory(&["--date", "2026-10-02", "--data-type", "trades", "--output", "nope/x.csv.gz"], "does not exist")]
fn bad_input_exits_2_before_any_request(#[case] extra: &[&str], #[case] culprit: &str) {
    let stand = keyed_stand();
    let env = stand.env(Some(KEY));
    let mut args = vec!["fetch", "--exchange", "deribit", "--symbol", "BTC-PERPETUAL"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--output") {
        args.extend_from_slice(&["--output", "x.csv.gz"]);
    }
    let run = env.run(&args);
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert!(run.stderr.contains(culprit), "{}", run.stderr);
    assert_eq!(stand.stub.counters().total, 0, "nothing was sent");
}

/// Without a key: a non-free day exits 2 before any request, saying why; the first of the month works.
#[test]
fn free_day_rule_without_a_key() {
    let stand = keyed_stand();
    let env = stand.env(None);
    let fetch = |date: &str| env.run(&fetch_trades(date, "BTC-PERPETUAL", "t.csv.gz"));
    let paid = fetch("2026-10-02");
    assert_eq!(paid.code, 2, "{}", paid.stderr);
    assert!(
        paid.stderr.contains("TARDIS_API_KEY") && paid.stderr.contains("first day"),
        "{}",
        paid.stderr
    );
    assert_eq!(stand.stub.counters().total, 0);
    assert!(!env.dir.path().join("t.csv.gz").exists());
    let free = fetch("2026-10-01");
    assert_eq!(free.code, 0, "{}", free.stderr);
    let written = std::fs::read(env.dir.path().join("t.csv.gz")).expect("written");
    assert!(written == stand.served("deribit", "trades", "2026-10-01", "BTC-PERPETUAL"));
}

/// A failed fetch exits 1, says which request failed after how many attempts and why, and leaves no file.
#[test]
fn a_failed_fetch_exits_1_and_leaves_nothing() {
    let stand = keyed_stand();
    let env = stand.env(Some(KEY));
    std::fs::write(env.dir.path().join("keep.txt"), "x").expect("write");
    let run = env.run(&fetch_trades("2026-10-02", "NOPE-PERP", "t.csv.gz"));
    assert_eq!(run.code, 1, "{}", run.stderr);
    for needed in ["deribit trades 2026-10-02 NOPE-PERP", "HTTP 404", "1 attempt"] {
        assert!(run.stderr.contains(needed), "missing {needed:?}: {}", run.stderr);
    }
    assert_eq!(files_in(env.dir.path()), ["keep.txt"]);
}

/// With 10% 500s, 5% 429s and 5% dropped bodies, every fetch still produces exactly the file the stand-in served.
#[test]
fn fetches_under_faults_are_byte_exact() {
    let stand = Stand::start(StubConfig {
        api_key: Some(KEY.into()),
        file_size: 32 * 1024,
        fault_rates: FaultRates {
            status_500: 0.10,
            too_many_requests: 0.05,
            drop_mid_body: 0.05,
            ..FaultRates::default()
        },
        retry_after_secs: 1,
        seed: 7,
        ..StubConfig::default()
    });
    // Besides the random faults, the first three requests meet one of each class for certain.
    stand.stub.push_faults(Fault::Status(500), 1);
    stand.stub.push_faults(Fault::TooManyRequests { retry_after_secs: 1 }, 1);
    stand.stub.push_faults(Fault::DropMidBody, 1);
    let env = stand.env(Some(KEY));
    let files: Vec<(&str, &str, String, &str)> =
        ["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL"]
            .into_iter()
            .flat_map(|symbol| {
                ["trades", "quotes", "derivative_ticker", "book_snapshot_5"].into_iter().flat_map(
                    move |data_type| {
                        ["2026-10-02", "2026-10-03"]
                            .into_iter()
                            .map(move |date| ("deribit", data_type, date.to_owned(), symbol))
                    },
                )
            })
            .collect();
    assert_eq!(files.len(), 24);
    // Four processes at a time.
    for batch in files.chunks(4) {
        let children: Vec<_> = batch
            .iter()
            .map(|(exchange, data_type, date, symbol)| {
                let output = format!("{exchange}_{data_type}_{date}_{symbol}.csv.gz");
                let child = env
                    .command(&[
                        "fetch",
                        "--exchange",
                        exchange,
                        "--data-type",
                        data_type,
                        "--date",
                        date,
                        "--symbol",
                        symbol,
                        "--output",
                        &output,
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("md-cli starts");
                (output, child)
            })
            .collect();
        for (output, child) in children {
            let result = child.wait_with_output().expect("md-cli ends");
            assert!(
                result.status.success(),
                "{output}: {}",
                String::from_utf8_lossy(&result.stderr)
            );
        }
    }
    for (exchange, data_type, date, symbol) in &files {
        let written = std::fs::read(
            env.dir.path().join(format!("{exchange}_{data_type}_{date}_{symbol}.csv.gz")),
        )
        .expect("written");
        assert!(
            written == stand.served(exchange, data_type, date, symbol),
            "{data_type} {date} {symbol} differs"
        );
    }
    assert_eq!(files_in(env.dir.path()).len(), 24, "no temporary files are left");
    let records = stand.stub.requests();
    for class in
        [Fault::Status(500), Fault::TooManyRequests { retry_after_secs: 1 }, Fault::DropMidBody]
    {
        let seen = records.iter().filter(|record| record.fault.as_ref() == Some(&class)).count();
        assert!(seen >= 1, "{class:?} was exercised");
    }
    assert!(
        records.iter().any(|record| record.status == 206),
        "a dropped body was resumed with a range"
    );
}

/// SIGTERM during a download exits 130 and leaves nothing at --output.
#[test]
fn sigterm_exits_130_and_leaves_nothing() {
    let stand = Stand::start(StubConfig {
        api_key: Some(KEY.into()),
        file_size: 256 * 1024,
        bandwidth: Some(32 * 1024),
        ..StubConfig::default()
    });
    let env = stand.env(Some(KEY));
    stand.served("deribit", "trades", "2026-10-02", "BTC-PERPETUAL");
    let child = env
        .command(&fetch_btc_trades("slow.csv.gz"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("md-cli starts");
    // Wait until the download is under way (the request has arrived), then interrupt.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stand.stub.counters().total == 0 {
        assert!(Instant::now() < deadline, "the request never arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let result = child.wait_with_output().expect("md-cli ends");
    assert_eq!(result.status.code(), Some(130), "{}", String::from_utf8_lossy(&result.stderr));
    assert!(files_in(env.dir.path()).is_empty(), "nothing is left: {:?}", files_in(env.dir.path()));
}

#[test]
fn help_documents_every_flag() {
    let help = TestEnv::new().run(&["fetch", "--help"]);
    assert_eq!(help.code, 0);
    for flag in ["--exchange", "--data-type", "--date", "--symbol", "--output", "TARDIS_API_KEY"] {
        assert!(help.stdout.contains(flag), "missing {flag}: {}", help.stdout);
    }
}

/// LOG_DESTINATION=gcp: JSON lines with `severity` on stderr; both: the same plus human-readable lines in
/// MD_LOG_FILE; local with MD_LOG_FORMAT=json: JSON lines. The key never appears, even at trace.
#[test]
fn logs_follow_the_destination() {
    let stand = keyed_stand();
    let args = fetch_btc_trades("t.csv.gz");
    let json_lines = |stderr: &str| -> Vec<serde_json::Value> {
        stderr
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    };

    let gcp =
        stand.env(Some(KEY)).var("LOG_DESTINATION", "gcp").var("LOG_LEVEL", "trace").run(&args);
    assert_eq!(gcp.code, 0, "{}", gcp.stderr);
    assert!(!gcp.stderr.contains(KEY));
    let lines = json_lines(&gcp.stderr);
    assert!(lines.iter().all(|line| {
        ["DEBUG", "INFO", "WARNING", "ERROR"].contains(&line["severity"].as_str().unwrap_or(""))
    }));
    assert!(
        lines.iter().any(|line| line["message"] == "fetched" && line["severity"] == "INFO"),
        "{}",
        gcp.stderr
    );

    let env = stand.env(Some(KEY)).var("LOG_DESTINATION", "both").var("MD_LOG_FILE", "md.log");
    let both = env.run(&args);
    assert_eq!(both.code, 0, "{}", both.stderr);
    assert!(json_lines(&both.stderr).iter().any(|line| line["message"] == "fetched"));
    let file = std::fs::read_to_string(env.dir.path().join("md.log")).expect("the log file");
    assert!(
        file.contains("INFO") && file.contains("fetched") && !file.trim_start().starts_with('{'),
        "{file}"
    );

    let local = stand.env(Some(KEY)).var("MD_LOG_FORMAT", "json").run(&args);
    assert_eq!(local.code, 0, "{}", local.stderr);
    assert!(
        json_lines(&local.stderr).iter().any(|line| line["level"] == "INFO"),
        "{}",
        local.stderr
    );
}

/// `--output gs://bucket/path` streams from Tardis into the bucket through STORAGE_EMULATOR_HOST, byte-exact,
/// with nothing on the local disk; a fetch that fails stores nothing.
#[test]
fn fetch_into_gcs_lands_byte_exact() {
    let stand = Stand::start(StubConfig {
        api_key: Some(KEY.into()),
        file_size: 6 * 1024 * 1024,
        ..StubConfig::default()
    })
    .with_gcs();
    // Parts of 5 MiB: the 6 MiB file goes through a multipart upload to staging, then a copy.
    let env = stand.env(Some(KEY)).var("MD_SINK_PART_SIZE", "5242880");
    let object = "ticks/deribit/trades/2026-10-02/BTC-PERPETUAL.csv.gz";
    let run = env.run(&fetch_btc_trades(&format!("gs://fetch-bucket/{object}")));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let gcs = stand.gcs.as_ref().expect("the fake runs");
    let stored = gcs.object("fetch-bucket", object).expect("the object landed");
    assert!(
        stored.data.as_ref()
            == stand.served("deribit", "trades", "2026-10-02", "BTC-PERPETUAL").as_slice()
    );
    assert!(
        files_in(env.dir.path()).is_empty(),
        "nothing on the local disk: {:?}",
        files_in(env.dir.path())
    );
    assert!(gcs.counters().of(test_support::gcs::RequestKind::Copy) >= 1, "published by copy");

    // An unknown symbol is a 404: exit 1, and nothing appears in the bucket.
    let missing =
        env.run(&fetch_trades("2026-10-02", "NO-SUCH-SYMBOL", "gs://fetch-bucket/none.csv.gz"));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(gcs.object("fetch-bucket", "none.csv.gz").is_none());
}

/// An object `--output` follows the sink's create-only contract: the same bytes again are verified and left alone,
/// different bytes under the name are an error naming both digests (exit 1, the object untouched), and `--force`
/// replaces them.
#[test]
fn fetch_into_an_object_is_create_only_unless_forced() {
    let stand =
        Stand::start(StubConfig { api_key: Some(KEY.into()), ..StubConfig::default() }).with_gcs();
    let env = stand.env(Some(KEY));
    let gcs = stand.gcs.as_ref().expect("the fake runs");
    let served = stand.served("deribit", "trades", "2026-10-02", "BTC-PERPETUAL");
    let url = "gs://fetch-bucket/same.csv.gz";

    assert_eq!(env.run(&fetch_btc_trades(url)).code, 0);
    let first = gcs.object("fetch-bucket", "same.csv.gz").expect("stored");
    let again = env.run(&fetch_btc_trades(url));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stderr.contains("already stored with the same size and CRC32C"),
        "{}",
        again.stderr
    );
    let second = gcs.object("fetch-bucket", "same.csv.gz").expect("still stored");
    assert_eq!(second.generation, first.generation, "verified, not rewritten");

    gcs.insert("fetch-bucket", "other.csv.gz", &b"someone else's bytes"[..], &[]);
    let refused = env.run(&fetch_btc_trades("gs://fetch-bucket/other.csv.gz"));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    let expected_crc = format!("{:08x}", crc32c::crc32c(&served));
    let existing_crc = format!("{:08x}", crc32c::crc32c(b"someone else's bytes"));
    assert!(
        refused.stderr.contains("already exists")
            && refused.stderr.contains(&expected_crc)
            && refused.stderr.contains(&existing_crc),
        "the error names both objects' digests: {}",
        refused.stderr
    );
    let untouched = gcs.object("fetch-bucket", "other.csv.gz").expect("kept");
    assert_eq!(untouched.data.as_ref(), b"someone else's bytes");

    let mut forced = fetch_btc_trades("gs://fetch-bucket/other.csv.gz").to_vec();
    forced.push("--force");
    assert_eq!(env.run(&forced).code, 0);
    let replaced = gcs.object("fetch-bucket", "other.csv.gz").expect("replaced");
    assert!(replaced.data.as_ref() == served.as_slice());
}
