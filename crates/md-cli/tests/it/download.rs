//! The main job through the binary: `instruments`, `plan`, `download`, `missing`, `pipeline` against the Tardis
//! stand-in, into a local directory and into the GCS fake; resume, shards as processes, SIGTERM (SIGKILL is in
//! `chaos`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use arrow::array::AsArray;
use test_support::tardis::StubConfig;

use crate::support::{
    FROM, KEY, SELECTION, Stand, TO, TestEnv, args, assert_byte_exact, dataset_requests,
    downloaded, json_field, local_env, main_job_stand, ok, plan, run_shards, sharded_job,
    sink_path, slow_job, small_files, spawn, stored_data_files, wait_for_requests,
};

fn stand(config: StubConfig) -> Stand {
    main_job_stand(config)
}

#[test]
fn pipeline_lands_every_object_byte_exact_and_a_rerun_downloads_nothing() {
    let stand = stand(small_files());
    let env = local_env(&stand);
    let run = ok(env.run(&args(
        "pipeline",
        &[SELECTION, &["--exchanges", "deribit,binance-futures"]].concat(),
    )));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    let units = plan(&env);
    assert!(units.len() >= 20, "{} units", units.len());
    assert!(
        units.iter().any(|unit| unit.symbol == "OPTIONS" && unit.data_type == "options_chain"),
        "the grouped file"
    );
    assert_byte_exact(&stand, &env, &units);
    assert_eq!(
        stored_data_files(&env.dir.path().join("sink")),
        units.iter().map(|unit| unit.object.clone()).collect(),
        "exactly the planned objects, nothing partial"
    );
    let manifest = format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sink_path(&env, &manifest)).unwrap()).unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["units"]["done"].as_u64(), Some(units.len() as u64));

    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", SELECTION)));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(dataset_requests(&stand), 0, "a rerun downloads nothing");
}

#[test]
fn a_corrupted_object_is_replaced_and_missing_reports_exactly_the_removed_units() {
    let (stand, env, units) = downloaded();

    let none = ok(env.run(&args("missing", &[SELECTION, &["--json"]].concat())));
    assert_eq!(none.stdout.trim(), "", "nothing is missing after a complete run");

    let removed: BTreeSet<String> =
        units.iter().step_by(5).map(|unit| unit.object.clone()).collect();
    for object in &removed {
        std::fs::remove_file(sink_path(&env, object)).unwrap();
    }
    let report = ok(env.run(&args("missing", &[SELECTION, &["--json"]].concat())));
    let reported = json_field(&report.stdout, "object");
    assert_eq!(reported, removed);
    let stored = sink_path(&env, &format!("reports/missing/missing_{FROM}_{TO}.json"));
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stored).unwrap()).unwrap();
    assert_eq!(stored["missing"].as_array().unwrap().len(), removed.len());
    assert_eq!(stored["planned"].as_u64(), Some(units.len() as u64));

    // Corrupt one object in place (same length): the next run detects it and replaces it with the others.
    let victim = units.iter().find(|unit| !removed.contains(&unit.object)).unwrap();
    let path = sink_path(&env, &victim.object);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();
    stand.stub.reset_counters();
    let repair = ok(env.run(&args("download", SELECTION)));
    assert!(repair.stdout.contains("replaced 1"), "{}", repair.stdout);
    assert_eq!(dataset_requests(&stand), removed.len() + 1);
    assert_byte_exact(&stand, &env, &units);
}

#[test]
fn missing_check_exits_1_while_a_unit_is_missing_or_unverified() {
    let (_stand, env, units) = downloaded();
    let check = || env.run(&args("missing", &[SELECTION, &["--check"]].concat()));
    let complete = ok(check());
    assert!(complete.stdout.contains(&format!("0 of {} planned units missing", units.len())));

    // One object grown by a byte (its record no longer agrees: unverified), then another deleted (missing).
    let grown = sink_path(&env, &units[0].object);
    let mut bytes = std::fs::read(&grown).unwrap();
    bytes.push(0);
    std::fs::write(&grown, bytes).unwrap();
    let cases = [(0, 1, None), (1, 1, Some(&units[1].object))];
    for (missing, unverified, delete) in cases {
        if let Some(object) = delete {
            std::fs::remove_file(sink_path(&env, object)).unwrap();
        }
        let gate = check();
        assert_eq!(gate.code, 1, "{}", gate.stderr);
        let expected = format!(
            "--check: {missing} missing and {unverified} unverified of {} planned units (report reports/missing/missing_{FROM}_{TO}.json)",
            units.len()
        );
        assert!(gate.stderr.contains(&expected), "{expected}\n{}", gate.stderr);
        assert!(
            gate.stdout.contains(&format!("{missing} of {} planned units missing", units.len())),
            "the report is printed first: {}",
            gate.stdout
        );
        // Without --check the same report exits 0.
        ok(env.run(&args("missing", SELECTION)));
    }
}

#[test]
fn without_stored_definitions_download_exits_2_and_says_what_to_run() {
    let stand = stand(small_files());
    let env = local_env(&stand);
    let run = env.run(&args("download", SELECTION));
    assert_eq!(run.code, 2, "{}", run.stderr);
    // One command for every day of the range that lacks them, not one day at a time.
    assert!(
        run.stderr.contains(&format!("run `md-cli instruments --from {FROM} --to {TO}` first")),
        "{}",
        run.stderr
    );
    assert_eq!(dataset_requests(&stand), 0);
}

#[test]
fn the_plan_is_sharded_evenly_and_four_shard_processes_cover_every_unit_exactly_once() {
    let (stand, env, units) = sharded_job(4);
    let mut counts = BTreeMap::new();
    for unit in &units {
        *counts.entry(unit.shard.expect("every unit has a shard")).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 4);
    assert!(counts.values().max().unwrap() - counts.values().min().unwrap() <= 1, "{counts:?}");

    let outputs = run_shards(&env, &args("download", SELECTION), 4);
    let mut done: BTreeMap<String, u64> = BTreeMap::new();
    for (shard, output) in (0..).zip(outputs) {
        assert_eq!(
            output.status.code(),
            Some(0),
            "shard {shard}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let manifest = sink_path(
            &env,
            &format!("manifests/download/{FROM}_{TO}/shard-{shard:04}-of-0004.json"),
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
        for object in manifest["done_objects"].as_array().unwrap() {
            *done.entry(object.as_str().unwrap().to_owned()).or_default() += 1;
        }
        let mine: BTreeSet<String> = units
            .iter()
            .filter(|unit| unit.shard == Some(shard))
            .map(|unit| unit.object.clone())
            .collect();
        let reported: BTreeSet<String> = manifest["done_objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(reported, mine, "shard {shard} did exactly its own units");
    }
    assert_eq!(
        done.keys().cloned().collect::<BTreeSet<_>>(),
        units.iter().map(|unit| unit.object.clone()).collect()
    );
    assert!(done.values().all(|count| *count == 1));
    assert_byte_exact(&stand, &env, &units);
}

#[test]
fn sigterm_stops_cleanly_with_exit_130_and_an_interrupted_manifest() {
    let (stand, env) = slow_job(32 * 1024, "2");
    let child = spawn(&env, "download");
    wait_for_requests(&stand, 1);
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest =
        sink_path(&env, &format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest).expect("a manifest")).unwrap();
    assert_eq!(manifest["status"], "interrupted");
    assert!(manifest["units"]["not_started"].as_u64().unwrap() > 0);
}

#[test]
fn pipeline_into_gcs_through_the_storage_emulator() {
    let stand = stand(small_files()).with_gcs();
    let env = stand
        .env(Some(KEY))
        .var("GCS_BUCKET", "md-ticks")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures");
    let run = ok(env.run(&args("pipeline", SELECTION)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    let units = plan(&env);
    let gcs = stand.gcs.as_ref().unwrap();
    for unit in &units {
        let stored = gcs
            .object("md-ticks", &unit.object)
            .unwrap_or_else(|| panic!("{} not in the bucket", unit.object));
        let expected = stand.served_unit(unit);
        assert!(stored.data.as_ref() == expected.as_slice(), "{} differs", unit.object);
        assert_eq!(
            stored.metadata.get("md-size").map(String::as_str),
            Some(expected.len().to_string().as_str())
        );
    }
    assert!(
        gcs.object(
            "md-ticks",
            &format!("instrument_availability/by_date/day-{FROM}/instruments.parquet")
        )
        .is_some()
    );
    stand.stub.reset_counters();
    ok(env.run(&args("download", SELECTION)));
    assert_eq!(dataset_requests(&stand), 0, "a rerun against GCS downloads nothing");
}

#[test]
fn main_job_commands_document_their_flags_with_their_variables() {
    for (command, expected) in [
        (
            "download",
            &[
                "--venues",
                "DOWNLOAD_VENUES",
                "--data-types",
                "DOWNLOAD_DATA_TYPES",
                "--from",
                "--to",
                "--force",
                "MD_FORCE",
                "--max-instruments",
                "DOWNLOAD_MAX_INSTRUMENTS",
                "--instrument-types",
            ][..],
        ),
        ("plan", &["--json", "--venues"][..]),
        ("missing", &["--json", "DOWNLOAD_START_DATE"][..]),
        (
            "instruments",
            &[
                "--exchanges",
                "INSTRUMENT_EXCHANGES",
                "INSTRUMENT_START_DATE",
                "INSTRUMENT_END_DATE",
            ][..],
        ),
        ("pipeline", &["--exchanges", "--venues", "--force"][..]),
    ] {
        let help = ok(TestEnv::new().run(&[command, "--help"]));
        for flag in expected {
            assert!(help.stdout.contains(flag), "`{command} --help` lacks {flag}: {}", help.stdout);
        }
    }
}

/// Rows, columns and `timestamp` values of a stored Parquet object.
fn parquet_rows(path: &Path) -> (usize, Vec<String>, Vec<i64>) {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a Parquet file");
    let columns = builder.schema().fields().iter().map(|field| field.name().clone()).collect();
    let batches: Vec<_> = builder.build().unwrap().map(|batch| batch.unwrap()).collect();
    let rows = batches.iter().map(|batch| batch.num_rows()).sum();
    let timestamps = batches
        .iter()
        .flat_map(|batch| {
            let column = batch.column_by_name("timestamp").expect("a timestamp column");
            match column.as_primitive_opt::<arrow::datatypes::Int64Type>() {
                Some(values) => values.values().to_vec(),
                None => column
                    .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                    .values()
                    .to_vec(),
            }
        })
        .collect();
    (rows, columns, timestamps)
}

#[rstest::rstest]
#[case::original_by_default(None)]
#[case::typed(Some("typed"))]
fn parquet_output_has_the_same_guarantees_as_raw(#[case] schema: Option<&str>) {
    let stand = stand(small_files());
    let mut env = local_env(&stand).var("MD_OUTPUT_FORMAT", "parquet");
    if let Some(schema) = schema {
        env = env.var("MD_PARQUET_SCHEMA", schema);
    }
    let run = ok(env.run(&args("pipeline", SELECTION)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    let units = plan(&env);
    assert!(
        units.iter().all(|unit| unit.object.ends_with(".parquet")),
        "objects are named .parquet"
    );
    for unit in &units {
        let (rows, columns, timestamps) = parquet_rows(&sink_path(&env, &unit.object));
        // Each served file has a header and generated rows; the converted file has them all.
        let served = stand.served_unit(unit);
        let mut csv = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(served.as_slice()),
            &mut csv,
        )
        .unwrap();
        assert_eq!(rows, csv.lines().count() - 1, "{}: one row per CSV line", unit.object);
        if schema.is_none() {
            // The replaced system's columns, sorted by timestamp.
            let data_type: md_config::DataType = unit.data_type.parse().unwrap();
            let expected =
                downloader::convert::tick_schema(data_type, &md_config::ParquetOptions::default());
            let names: Vec<&String> = expected.fields().iter().map(|field| field.name()).collect();
            assert_eq!(columns.iter().collect::<Vec<_>>(), names, "{}", unit.object);
            assert_eq!(&columns[..2], ["timestamp", "local_timestamp"], "{}", unit.object);
            assert!(timestamps.is_sorted(), "{}: sorted by timestamp", unit.object);
            continue;
        }
        for column in [
            "timestamp",
            "local_timestamp",
            "symbol",
            "date",
            "venue",
            "instrument_key",
            "data_type",
        ] {
            assert!(
                columns.iter().any(|c| c == column),
                "{} lacks {column}: {columns:?}",
                unit.object
            );
        }
    }
    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", &[SELECTION, &["--format", "parquet"]].concat())));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(
        dataset_requests(&stand),
        0,
        "stored Parquet objects verify, so nothing is downloaded again"
    );
}
