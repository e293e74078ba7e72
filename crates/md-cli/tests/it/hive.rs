//! The `hive` layout preset (`MD_LAYOUT=hive`, `--layout hive`) through the binary: the exact object names of the
//! ticks and the definitions, a rerun that downloads nothing, `missing --check`, and Parquet files a query engine
//! prunes on (`instrument_key` and `symbol` columns, no column named like a partition key, `sorting_columns`, the
//! page index).

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use downloader::download::summary::UnitLine;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::file::metadata::PageIndexPolicy;

use crate::support::{
    FROM, SELECTION, Stand, TO, TestEnv, args, dataset_requests, files_under, local_env,
    main_job_stand, ok, plan_of, sink_path, small_files, stored_data_files,
};

fn units(env: &TestEnv, extra: &[&str]) -> Vec<UnitLine> {
    plan_of(env, &[SELECTION, extra].concat())
}

/// The name the preset gives a unit, spelt out here independently of md-config.
fn hive_name(unit: &UnitLine, ext: &str) -> String {
    format!(
        "raw_tick_data/data_type={}/exchange={}/date={}/{}.{ext}",
        unit.data_type,
        unit.exchange,
        unit.date,
        unit.instrument_key.replace(':', "%3A")
    )
}

fn hive_env(stand: &Stand) -> TestEnv {
    local_env(stand).var("MD_LAYOUT", "hive").var("MD_OUTPUT_FORMAT", "parquet")
}

fn reader(path: &Path) -> ParquetRecordBatchReaderBuilder<std::fs::File> {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    // The page index must be there: reading fails without it.
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
    ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn column_names(path: &Path) -> Vec<String> {
    let builder = reader(path);
    builder.schema().fields().iter().map(|field| field.name().clone()).collect()
}

/// Checks one tick file: its columns, its rows against the CSV the stand-in served, its footer.
fn check_tick_file(stand: &Stand, unit: &UnitLine, path: &Path) {
    let names = column_names(path);
    assert_eq!(&names[..3], ["instrument_key", "symbol", "timestamp"], "{}", path.display());
    for partition_key in ["data_type", "exchange", "date"] {
        assert!(!names.iter().any(|name| name == partition_key), "{}: {names:?}", path.display());
    }
    let builder = reader(path);
    let metadata = builder.metadata().clone();
    let batches: Vec<_> = builder.build().unwrap().collect::<Result<_, _>>().unwrap();

    let served = stand.served_unit(unit);
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&served[..]), &mut csv)
        .unwrap();
    let mut rows: Vec<(i64, String)> = csv
        .lines()
        .skip(1)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (cells[2].parse().unwrap(), cells[1].to_owned())
        })
        .collect();
    rows.sort_by_key(|row| row.0);
    let mut found = Vec::new();
    for batch in &batches {
        let keys = batch.column(0).as_string::<i32>();
        let symbols = batch.column(1).as_string::<i32>();
        let timestamps = batch.column(2).as_primitive::<Int64Type>();
        assert_eq!(keys.null_count() + symbols.null_count(), 0);
        for row in 0..batch.num_rows() {
            assert_eq!(keys.value(row), unit.instrument_key, "{}", path.display());
            found.push((timestamps.value(row), symbols.value(row).to_owned()));
        }
    }
    assert!(!rows.is_empty(), "{}: the stand-in served rows", path.display());
    assert_eq!(found, rows, "{}: every row, sorted by timestamp", path.display());

    assert!(!metadata.row_groups().is_empty());
    for group in metadata.row_groups() {
        let sorting = group.sorting_columns().expect("sorting_columns written");
        assert_eq!(sorting.len(), 1);
        assert_eq!(
            (sorting[0].column_idx, sorting[0].descending),
            (2, false),
            "timestamp, ascending"
        );
    }
    for (group, row_group) in metadata.row_groups().iter().enumerate() {
        let page_index = metadata.page_index_for_row_group(group);
        for column in 0..row_group.num_columns() {
            let chunk = row_group.column(column);
            assert!(
                chunk.column_index_offset().is_some() && chunk.offset_index_offset().is_some(),
                "{}: column {column} of row group {group} has a page index",
                path.display()
            );
            let pages = page_index.offset_index(column).expect("the offset index was read");
            assert!(!pages.page_locations().is_empty(), "{}", path.display());
            assert!(page_index.column_index(column).is_some(), "{}", path.display());
        }
    }
}

#[test]
fn the_hive_preset_names_every_object_and_a_rerun_downloads_nothing() {
    let stand = main_job_stand(small_files());
    let env = hive_env(&stand);
    ok(env.run(&args("pipeline", SELECTION)));

    // The definitions: a `date=` partition per day, the grouped files beside them, the aggregate apart.
    let root = env.dir.path().join("sink");
    let definitions = files_under(&root, &root.join("instrument_availability"));
    let mut expected = BTreeSet::new();
    for day in [FROM, TO] {
        expected.insert(format!("instrument_availability/date={day}/instruments.parquet"));
        expected.insert(format!(
            "instrument_availability/grouped_datasets/date={day}/grouped_datasets.parquet"
        ));
    }
    let aggregate = format!(
        "instrument_availability/aggregate/instruments_{}_{}.parquet",
        FROM.replace('-', ""),
        TO.replace('-', "")
    );
    expected.insert(aggregate.clone());
    assert_eq!(definitions, expected);
    for object in &expected {
        let names = column_names(&sink_path(&env, object));
        let partitioned = object.contains("date=");
        assert_eq!(names.iter().any(|name| name == "date"), !partitioned, "{object}: {names:?}");
    }

    // The ticks: exactly the preset's names, the flag and the variable alike.
    let planned = units(&env, &[]);
    let env = env.without("MD_LAYOUT");
    let by_flag = units(&env, &["--layout", "hive"]);
    let env = env.var("MD_LAYOUT", "hive");
    let named = |units: &[UnitLine]| -> Vec<Vec<String>> {
        units.iter().map(|unit| unit.objects.clone()).collect()
    };
    let units = planned;
    assert!(units.len() > 10, "{} units", units.len());
    assert_eq!(named(&by_flag), named(&units), "--layout hive is MD_LAYOUT=hive");
    for unit in &units {
        assert_eq!(unit.objects, [hive_name(unit, "parquet")]);
        assert!(!unit.objects[0].contains(':'), "{}", unit.objects[0]);
    }
    let every_object: BTreeSet<String> =
        units.iter().flat_map(|unit| unit.objects.iter().cloned()).collect();
    assert_eq!(stored_data_files(&root), every_object);
    for unit in &units {
        check_tick_file(&stand, unit, &sink_path(&env, &unit.objects[0]));
    }

    // Resume: a rerun downloads nothing; nothing is missing.
    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", SELECTION)));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(dataset_requests(&stand), 0, "a rerun downloads nothing");
    let check = ok(env.run(&args("missing", &[SELECTION, &["--check"]].concat())));
    assert!(
        check.stdout.contains(&format!("0 of {} planned units missing", units.len())),
        "{}",
        check.stdout
    );
    let missing = ok(env.run(&args("missing", &[SELECTION, &["--json"]].concat())));
    assert_eq!(missing.stdout.trim(), "", "nothing is missing");

    // A removed object is missing, by its hive name, and the next run downloads only it.
    let removed = &units[0].objects[0];
    std::fs::remove_file(sink_path(&env, removed)).unwrap();
    let missing = ok(env.run(&args("missing", &[SELECTION, &["--json"]].concat())));
    assert!(missing.stdout.contains(removed.as_str()), "{}", missing.stdout);
    assert_eq!(env.run(&args("missing", &[SELECTION, &["--check"]].concat())).code, 1);
    stand.stub.reset_counters();
    ok(env.run(&args("download", SELECTION)));
    assert_eq!(dataset_requests(&stand), 1, "only the removed unit is downloaded again");
    check_tick_file(&stand, &units[0], &sink_path(&env, removed));
}

#[test]
fn raw_objects_sit_in_the_same_partitions() {
    let stand = main_job_stand(small_files());
    let env = hive_env(&stand).var("MD_OUTPUT_FORMAT", "raw,parquet");
    ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])));
    for unit in units(&env, &[]) {
        assert_eq!(unit.objects, [hive_name(&unit, "csv.gz"), hive_name(&unit, "parquet")]);
    }
}

#[test]
fn the_hive_preset_refuses_another_parquet_schema() {
    let stand = main_job_stand(small_files());
    let env = hive_env(&stand).var("MD_PARQUET_SCHEMA", "original");
    let run = env.run(&args("plan", SELECTION));
    assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
    assert!(run.stderr.contains("MD_PARQUET_SCHEMA"), "{}", run.stderr);
}

#[test]
fn a_sharded_fleet_fills_the_hive_layout_once() {
    let stand = main_job_stand(small_files());
    let env = hive_env(&stand);
    ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])));
    let units = units(&env, &[]);
    stand.stub.reset_counters();
    let mut env = env.var("TOTAL_SHARDS", "3");
    for shard in ["0", "1", "2"] {
        env = env.var("SHARD_INDEX", shard);
        ok(env.run(&args("download", SELECTION)));
    }
    assert_eq!(dataset_requests(&stand), units.len(), "every unit downloaded by one shard");
    let env = env.without("SHARD_INDEX").without("TOTAL_SHARDS");
    let every_object: BTreeSet<String> =
        units.iter().flat_map(|unit| unit.objects.iter().cloned()).collect();
    assert_eq!(stored_data_files(&env.dir.path().join("sink")), every_object);
    ok(env.run(&args("missing", &[SELECTION, &["--check"]].concat())));
    let page = ok(env.run(&args("missing", &[SELECTION, &["--html", "coverage.html"]].concat())));
    let html = std::fs::read_to_string(env.dir.path().join("coverage.html")).expect("the page");
    assert!(html.contains("binance-futures") && html.contains("deribit"), "{}", page.stdout);
}

#[test]
fn hive_files_another_writer_stored_are_adopted_by_their_footer() {
    let stand = main_job_stand(small_files());
    let first = hive_env(&stand);
    ok(first.run(&args("pipeline", SELECTION)));
    let units = units(&first, &[]);
    // The same files at the same names in another bucket, without md's records: written by someone else.
    let second = hive_env(&stand);
    ok(second.run(&args("instruments", &["--from", FROM, "--to", TO])));
    for object in units.iter().flat_map(|unit| &unit.objects) {
        let to = sink_path(&second, object);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(sink_path(&first, object), to).unwrap();
    }
    stand.stub.reset_counters();
    let run = ok(second.run(&args("download", SELECTION)));
    assert!(run.stdout.contains(&format!("adopted {}", units.len())), "{}", run.stdout);
    assert_eq!(dataset_requests(&stand), 0, "nothing downloaded");
    ok(second.run(&args("missing", &[SELECTION, &["--check"]].concat())));
}
