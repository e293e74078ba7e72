//! `--format raw,parquet` (`MD_OUTPUT_FORMAT=raw,parquet`) through the binary: one Tardis request per unit feeds
//! both objects; a unit is done only with both; resume writes only what is missing; a failure of either leaves
//! neither; the quota ledger counts each file once.

use std::collections::BTreeSet;
use std::path::Path;

use downloader::download::summary::UnitLine;
use test_support::tardis::Fault;

use crate::support::{
    FROM, Stand, TO, TestEnv, args, dataset_requests, local_env, main_job_stand, ok, plan_of,
    selection, sink_path, small_files, stored_data_files, write_definitions,
};

/// Every data type the fixtures list for deribit and binance-futures perpetuals and options, and the grouped
/// options chain.
fn every_type() -> Vec<&'static str> {
    let types = "trades,incremental_book_L2,book_snapshot_25,book_snapshot_5,quotes,book_ticker,derivative_ticker,options_chain,liquidations";
    let venues = "deribit,binance-futures";
    [&selection([FROM, TO], venues, "perpetual,option", types)[..], &["--max-instruments", "2"]]
        .concat()
}

fn both(stand: &Stand) -> TestEnv {
    local_env(stand).var("MD_OUTPUT_FORMAT", "raw,parquet")
}

/// A stand-in of small files and an environment storing both formats with `var` set, the definitions written.
fn both_formats((name, value): (&str, &str)) -> (Stand, TestEnv) {
    let stand = main_job_stand(small_files());
    let env = both(&stand).var(name, value);
    write_definitions(&env);
    (stand, env)
}

/// The `.csv.gz` as the stand-in serves it, inflated.
fn served_csv(stand: &Stand, unit: &UnitLine) -> String {
    let served = stand.served_unit(unit);
    let mut csv = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(served.as_slice()),
        &mut csv,
    )
    .expect("the stand-in serves gzip");
    csv
}

/// Asserts the Parquet object holds the CSV row by row: every cell read back from its typed column equals the
/// CSV text (an empty cell is a null; numbers to the bit, timestamps to the microsecond).
fn assert_rows_equal(csv: &str, parquet: &Path) {
    let file = std::fs::File::open(parquet)
        .unwrap_or_else(|error| panic!("{}: {error}", parquet.display()));
    let batches: Vec<_> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("a Parquet file")
            .build()
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let mut lines = csv.lines().filter(|line| !line.is_empty());
    let mut header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let mut rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    // The original schema (the default) drops `exchange` and `symbol` and sorts by `timestamp`, ties in file order.
    let original =
        batches.first().is_some_and(|batch| batch.schema().field(0).name() == "timestamp");
    if original {
        rows.sort_by_key(|cells| cells[2].parse::<i64>().expect("a timestamp"));
        for cells in &mut rows {
            cells.drain(..2);
        }
        header.drain(..2);
    }
    assert_eq!(
        batches.iter().map(|batch| batch.num_rows()).sum::<usize>(),
        rows.len(),
        "{}: one row per CSV line",
        parquet.display()
    );
    let rows_of_batches =
        batches.iter().flat_map(|batch| (0..batch.num_rows()).map(move |row| (batch, row)));
    for (index, ((batch, row), cells)) in rows_of_batches.zip(&rows).enumerate() {
        assert_eq!(cells.len(), header.len(), "CSV line {}", index + 2);
        for (column, cell) in cells.iter().enumerate() {
            let array = batch.column(column);
            let context = format!(
                "{} row {index} column {} cell {cell:?}",
                parquet.display(),
                header[column]
            );
            test_support::parquet::assert_cell(array, row, cell, &context);
        }
    }
}

fn manifest(env: &TestEnv) -> serde_json::Value {
    let name = format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json");
    serde_json::from_slice(&std::fs::read(sink_path(env, &name)).expect("a manifest")).unwrap()
}

fn names(value: &serde_json::Value) -> BTreeSet<String> {
    value.as_array().unwrap().iter().map(|name| name.as_str().unwrap().to_owned()).collect()
}

#[test]
fn one_download_stores_both_objects_exactly_for_every_data_type() {
    let (stand, env) = both_formats(("TARDIS_DAILY_QUOTA_BYTES", "1000000000000"));
    let units = plan_of(&env, &every_type());
    let types: BTreeSet<&str> = units.iter().map(|unit| unit.data_type.as_str()).collect();
    assert_eq!(types.len(), 9, "every data type is planned: {types:?}");
    for unit in &units {
        assert_eq!(unit.objects.len(), 2, "{unit:?}");
        assert!(unit.objects[0].ends_with(".csv.gz") && unit.objects[1].ends_with(".parquet"));
        assert_eq!(unit.object, unit.objects[0], "`object` is the first of `objects`");
    }

    let run = ok(env.run(&args("download", &every_type())));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    assert_eq!(dataset_requests(&stand), units.len(), "one Tardis request per unit");
    let mut served_bytes = 0;
    for unit in &units {
        let served = stand.served_unit(unit);
        served_bytes += served.len() as u64;
        let raw = std::fs::read(sink_path(&env, &unit.objects[0])).unwrap();
        assert!(raw == served, "{} is not what the stand-in served", unit.objects[0]);
        assert_rows_equal(&served_csv(&stand, unit), &sink_path(&env, &unit.objects[1]));
    }
    let every_object: BTreeSet<String> =
        units.iter().flat_map(|unit| unit.objects.iter().cloned()).collect();
    assert_eq!(stored_data_files(&env.dir.path().join("sink")), every_object);
    let manifest = manifest(&env);
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["units"]["done"].as_u64(), Some(units.len() as u64));
    assert_eq!(names(&manifest["done_objects"]), every_object, "the manifest lists both objects");
    assert_eq!(
        manifest["bytes_downloaded"].as_u64(),
        Some(served_bytes),
        "each file downloaded once"
    );

    // The ledger of today's share counts each file once, not once per object.
    let ledgers = crate::support::files_under(
        &env.dir.path().join("sink"),
        &env.dir.path().join("sink/manifests/quota"),
    );
    assert_eq!(ledgers.len(), 1, "{ledgers:?}");
    let ledger: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sink_path(&env, ledgers.first().unwrap())).unwrap())
            .unwrap();
    assert_eq!(ledger["used_bytes"].as_u64(), Some(served_bytes), "{ledger}");

    // Both stored and verified: a rerun skips every unit without a request, and `missing` reports nothing.
    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", &every_type())));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(dataset_requests(&stand), 0);
    let missing = ok(env.run(&args("missing", &[&every_type()[..], &["--json"]].concat())));
    assert_eq!(missing.stdout.trim(), "", "nothing missing");
}

#[test]
fn resume_with_one_object_deleted_fetches_once_and_writes_only_it() {
    let (stand, env) = both_formats(("MD_OUTPUT_FORMAT", "raw,parquet"));
    ok(env.run(&args("download", &every_type())));
    let units = plan_of(&env, &every_type());
    // Delete the raw object of one unit and the Parquet object of another; corrupt nothing else.
    let (raw_gone, parquet_gone) = (&units[0], &units[units.len() - 1]);
    std::fs::remove_file(sink_path(&env, &raw_gone.objects[0])).unwrap();
    std::fs::remove_file(sink_path(&env, &parquet_gone.objects[1])).unwrap();
    let kept = [&raw_gone.objects[1], &parquet_gone.objects[0]];
    let modified =
        |name: &str| std::fs::metadata(sink_path(&env, name)).unwrap().modified().unwrap();
    let before: Vec<_> = kept.iter().map(|name| modified(name)).collect();

    let missing = ok(env.run(&args("missing", &[&every_type()[..], &["--json"]].concat())));
    let reported: BTreeSet<String> = missing
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .inspect(|line| assert_eq!(line["status"], "missing", "{line}"))
        .map(|line| line["object"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        reported,
        BTreeSet::from([raw_gone.object.clone(), parquet_gone.object.clone()]),
        "a unit with one of its objects gone is missing"
    );

    stand.stub.reset_counters();
    let run = ok(env.run(&args("download", &every_type())));
    assert!(run.stdout.contains("done 2"), "{}", run.stdout);
    assert_eq!(dataset_requests(&stand), 2, "one request per incomplete unit");
    let served = stand.served_unit(raw_gone);
    assert!(std::fs::read(sink_path(&env, &raw_gone.objects[0])).unwrap() == served);
    assert_rows_equal(
        &served_csv(&stand, parquet_gone),
        &sink_path(&env, &parquet_gone.objects[1]),
    );
    let after: Vec<_> = kept.iter().map(|name| modified(name)).collect();
    assert_eq!(before, after, "the object that was there is verified, not rewritten");
    let manifest = manifest(&env);
    assert_eq!(
        names(&manifest["done_objects"]),
        BTreeSet::from([raw_gone.objects[0].clone(), parquet_gone.objects[1].clone()])
    );
    let skipped = names(&manifest["skipped_objects"]);
    assert!(kept.iter().all(|name| skipped.contains(*name)), "{skipped:?}");
}

#[test]
fn a_failure_in_the_parquet_branch_leaves_neither_object() {
    let (stand, env) = both_formats(("MAX_CONCURRENT_REQUESTS", "1"));
    let units = plan_of(&env, &every_type());
    // The first file is a valid gzip the raw object would take as it is, but its row converts to nothing; the
    // second has a flipped byte, which only the converter's gzip check sees (there is no other in this mode),
    // and comes whole on its retry.
    stand.stub.push_dataset_faults(Fault::UnconvertibleRow, 1);
    stand.stub.push_dataset_faults(Fault::CorruptByte, 1);
    let run = env.run(&args("download", &every_type()));
    assert_eq!(run.code, 1, "one unit failed: {}\n{}", run.stdout, run.stderr);
    let manifest = manifest(&env);
    let errors = manifest["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["attempts"].as_u64(), Some(1), "a bad row is not retried: {errors:?}");
    let failed =
        units.iter().find(|unit| unit.object == errors[0]["object"]).expect("a planned unit");
    let stored = stored_data_files(&env.dir.path().join("sink"));
    for object in &failed.objects {
        assert!(!stored.contains(object), "{object} was stored although the unit failed");
    }
    let others: BTreeSet<String> = units
        .iter()
        .filter(|unit| unit != &failed)
        .flat_map(|unit| unit.objects.iter().cloned())
        .collect();
    assert_eq!(stored, others, "every other unit has both objects, nothing partial");
    assert_eq!(manifest["retries"].as_u64(), Some(1), "the corrupt file was fetched again");
    for unit in units.iter().filter(|unit| unit != &failed) {
        let served = stand.served_unit(unit);
        assert!(std::fs::read(sink_path(&env, &unit.objects[0])).unwrap() == served, "{unit:?}");
    }

    // The next run completes the failed unit: both objects, from one request.
    stand.stub.reset_counters();
    ok(env.run(&args("download", &every_type())));
    assert_eq!(dataset_requests(&stand), 1);
    let served = stand.served_unit(failed);
    assert!(std::fs::read(sink_path(&env, &failed.objects[0])).unwrap() == served);
    assert_rows_equal(&served_csv(&stand, failed), &sink_path(&env, &failed.objects[1]));
}

#[test]
fn both_formats_need_ext_in_the_layout_and_room_for_two_parts() {
    for (vars, culprit) in [
        (&[("MD_LAYOUT", "{date}/{data_type}/{instrument_key}")][..], "MD_LAYOUT"),
        (
            &[("MD_SINK_PART_SIZE", "6000000"), ("MD_SINK_BUFFER_MEMORY", "8000000")][..],
            "MD_SINK_BUFFER_MEMORY",
        ),
        (&[("MD_OUTPUT_FORMAT", "raw,raw")][..], "MD_OUTPUT_FORMAT"),
        (&[("MD_OUTPUT_FORMAT", "raw,")][..], "MD_OUTPUT_FORMAT"),
        (&[("MD_OUTPUT_FORMAT", "raw,xlsx")][..], "MD_OUTPUT_FORMAT"),
    ] {
        let mut env = TestEnv::new().var("MD_OUTPUT_FORMAT", "raw,parquet");
        for (name, value) in vars {
            env = env.var(name, value);
        }
        let run = env.run(&["plan", "--from", FROM, "--to", TO]);
        assert_eq!(run.code, 2, "{vars:?}: {}", run.stderr);
        assert!(run.stderr.contains(culprit), "{vars:?} names {culprit}: {}", run.stderr);
    }
}

/// With no format setting the main job stores Parquet at the original system's path and name
/// (`raw_tick_data/by_date/day-D/data_type-T/{instrument_key}.parquet`), and no `.csv.gz`: the readers of the
/// system md replaces look only for `.parquet`.
#[test]
fn without_a_format_setting_ticks_are_parquet_at_the_original_path() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand).without("MD_OUTPUT_FORMAT");
    ok(env.run(&args(
        "pipeline",
        &["--from", FROM, "--to", FROM, "--venues", "deribit", "--data-types", "trades"],
    )));
    let stored = stored_data_files(&env.dir.path().join("sink"));
    assert!(!stored.is_empty(), "something was stored");
    for name in &stored {
        let (dir, file) = name.rsplit_once('/').unwrap();
        assert!(
            dir.starts_with("raw_tick_data/by_date/day-") && dir.ends_with("/data_type-trades"),
            "{name}"
        );
        assert!(file.ends_with(".parquet") && file.starts_with("DERIBIT:"), "{name}");
        let bytes = std::fs::read(env.dir.path().join("sink").join(name)).unwrap();
        assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"), "{name} is a Parquet file");
    }
}
