//! The original system's bucket through the binary: `missing` writes its two per-day report objects, and
//! `download` adopts the tick files it wrote (Parquet written by pandas and pyarrow, the way it wrote them) instead
//! of downloading them again.
//!
//! The pyarrow tests need a Python with pandas and pyarrow: `MD_TEST_PYTHON` (set by `cargo xtask test`, which
//! installs them into `.venv/`); without it they print a notice and return, and fail under
//! `MD_TEST_REQUIRE_SERVERS=1`.

#![allow(clippy::disallowed_methods, reason = "the test reads the Python that xtask passes")]
#![allow(clippy::print_stderr, reason = "the notice of a skipped third-party check")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::DataType as ArrowType;
use downloader::download::summary::UnitLine;

use crate::support::{
    FROM, KEY, SELECTION, TO, TestEnv, args, dataset_requests, downloaded, json_field,
    main_job_stand, ok, plan, requested_datasets, sink_path, small_files, unit_path,
    write_definitions,
};

/// The two days of [`SELECTION`].
const DAYS: [&str; 2] = [FROM, TO];

/// Reads a whole Parquet file: its columns (name and Arrow type) and its rows as one batch.
fn read_parquet(bytes: Vec<u8>) -> (Vec<(String, ArrowType)>, RecordBatch) {
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .expect("a Parquet file");
    let schema = builder.schema().clone();
    let columns = schema
        .fields()
        .iter()
        .map(|field| (field.name().clone(), field.data_type().clone()))
        .collect();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(|batch| batch.unwrap()).collect();
    (columns, arrow::compute::concat_batches(&schema, &batches).unwrap())
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    let strings = array.as_any().downcast_ref::<StringArray>().expect("a string column");
    (!strings.is_null(row)).then(|| strings.value(row).to_owned())
}

fn flag(batch: &RecordBatch, column: &str, row: usize) -> bool {
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    array.as_any().downcast_ref::<BooleanArray>().expect("a boolean column").value(row)
}

/// The original's missing-data report and available-data report: prefix and file name.
const MISSING: [&str; 2] = ["missing_data_reports", "missing_data"];
const AVAILABLE: [&str; 2] = ["available_tick_data", "available_data"];

/// A per-day report (`MISSING` or `AVAILABLE`) of `day` in the local sink: its object name, columns and rows.
fn day_report(
    env: &TestEnv,
    [prefix, file]: [&str; 2],
    day: &str,
) -> (String, Vec<(String, ArrowType)>, RecordBatch) {
    let object = format!("{prefix}/by_date/day-{day}/{file}.parquet");
    let (columns, batch) = read_parquet(std::fs::read(sink_path(env, &object)).unwrap());
    (object, columns, batch)
}

fn names(columns: &[(String, ArrowType)]) -> Vec<&str> {
    columns.iter().map(|(name, _)| name.as_str()).collect()
}

/// `(date, instrument_key, data_type)` of a planned unit, as both reports name it.
fn row_of(unit: &UnitLine, keys: &BTreeMap<String, String>) -> (String, String, String) {
    (unit.date.to_string(), keys[&unit.object].clone(), unit.data_type.clone())
}

/// The instrument key of each planned object, from `plan --json`.
fn keys(env: &TestEnv) -> BTreeMap<String, String> {
    let run = ok(env.run(&args("plan", &[SELECTION, &["--json"]].concat())));
    run.stdout
        .lines()
        .map(|line| {
            let unit: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                unit["object"].as_str().unwrap().to_owned(),
                unit["instrument_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn missing_writes_the_originals_two_reports_per_day() {
    let (_stand, env, units) = downloaded();
    let keys = keys(&env);
    let removed: Vec<&UnitLine> = units.iter().step_by(3).collect();
    for unit in &removed {
        std::fs::remove_file(sink_path(&env, &unit.object)).unwrap();
    }
    let run = ok(env.run(&args("missing", SELECTION)));
    assert!(run.stdout.contains("per-day reports (2 day(s)) written"), "{}", run.stdout);

    let missing_rows: BTreeSet<_> = removed.iter().map(|unit| row_of(unit, &keys)).collect();
    let available_rows: BTreeSet<_> = units
        .iter()
        .filter(|unit| !removed.iter().any(|removed| removed.object == unit.object))
        .map(|unit| row_of(unit, &keys))
        .collect();
    let (mut seen_missing, mut seen_available) = (BTreeSet::new(), BTreeSet::new());
    for day in DAYS {
        let (object, columns, batch) = day_report(&env, MISSING, day);
        assert_eq!(
            names(&columns),
            [
                "date",
                "instrument_key",
                "data_type",
                "status",
                "expected",
                "available",
                "report_date",
                "venues_filter",
                "instrument_types_filter",
                "data_types_filter",
                "generated_at"
            ]
        );
        for (name, data_type) in &columns {
            let wanted = if name == "expected" || name == "available" {
                ArrowType::Boolean
            } else {
                ArrowType::Utf8
            };
            assert_eq!(data_type, &wanted, "{object}: {name}");
        }
        for row in 0..batch.num_rows() {
            let date = text(&batch, "date", row).unwrap();
            assert_eq!(date, day);
            seen_missing.insert((
                date,
                text(&batch, "instrument_key", row).unwrap(),
                text(&batch, "data_type", row).unwrap(),
            ));
            assert_eq!(text(&batch, "status", row).as_deref(), Some("missing"));
            assert!(flag(&batch, "expected", row) && !flag(&batch, "available", row));
            assert_eq!(text(&batch, "report_date", row).as_deref(), Some(day));
            assert_eq!(
                text(&batch, "venues_filter", row).as_deref(),
                Some("deribit,binance-futures")
            );
            assert_eq!(
                text(&batch, "instrument_types_filter", row).as_deref(),
                Some("perpetual,option")
            );
            assert_eq!(
                text(&batch, "data_types_filter", row).as_deref(),
                Some("trades,book_snapshot_5,options_chain")
            );
            let generated = text(&batch, "generated_at", row).unwrap();
            chrono::DateTime::parse_from_rfc3339(&generated)
                .unwrap_or_else(|error| panic!("generated_at {generated:?}: {error}"));
        }

        let (_, columns, batch) = day_report(&env, AVAILABLE, day);
        assert_eq!(
            names(&columns),
            [
                "instrument_key",
                "venue",
                "instrument_type",
                "data_type",
                "date",
                "base_asset",
                "quote_asset"
            ]
        );
        assert!(columns.iter().all(|(_, data_type)| *data_type == ArrowType::Utf8), "{columns:?}");
        for row in 0..batch.num_rows() {
            let key = text(&batch, "instrument_key", row).unwrap();
            let date = text(&batch, "date", row).unwrap();
            assert_eq!(date, day);
            let mut segments = key.split(':');
            assert_eq!(text(&batch, "venue", row).as_deref(), segments.next());
            assert_eq!(text(&batch, "instrument_type", row).as_deref(), segments.next());
            let rest = segments.next().unwrap();
            if rest == "ALL" {
                assert_eq!(
                    (text(&batch, "base_asset", row), text(&batch, "quote_asset", row)),
                    (None, None)
                );
            } else {
                let mut assets = rest.split('-');
                assert_eq!(text(&batch, "base_asset", row).as_deref(), assets.next());
                assert_eq!(text(&batch, "quote_asset", row).as_deref(), assets.next());
            }
            seen_available.insert((date, key, text(&batch, "data_type", row).unwrap()));
        }
    }
    assert_eq!(seen_missing, missing_rows, "one row per missing unit");
    assert_eq!(seen_available, available_rows, "the planned units minus the missing ones");

    // Once everything is stored again, a day's missing report is replaced by an empty one with the same columns.
    ok(env.run(&args("download", SELECTION)));
    ok(env.run(&args("missing", SELECTION)));
    for day in DAYS {
        let (object, columns, batch) = day_report(&env, MISSING, day);
        assert_eq!((columns.len(), batch.num_rows()), (11, 0), "{object}");
    }
}

/// The original system's steps from a Tardis `.csv.gz` to its Parquet file: `original_file` of downloader's
/// reproduction (`tests/fixtures/original/tick_parquet.py`), which its tick-schema test holds to the golden schema.
const ORIGINAL_WRITER: &str = r#"
import gzip, json, sys
sys.path.insert(0, sys.argv[1])
from tick_parquet import original_file

for data_type, source, target in json.load(sys.stdin):
    with gzip.open(source) as csv:
        original_file(data_type, csv.read(), target)
"#;

/// Converts each `(data type, csv.gz, parquet)` the original's way.
fn write_like_the_original(python: &Path, files: &[(String, PathBuf, PathBuf)]) {
    let reproduction =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../downloader/tests/fixtures/original");
    let mut child = Command::new(python)
        .args(["-c", ORIGINAL_WRITER])
        .arg(&reproduction)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{} does not run: {error}", python.display()));
    let input = serde_json::to_vec(
        &files
            .iter()
            .map(|(data_type, source, target)| {
                (data_type, source.display().to_string(), target.display().to_string())
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
    assert!(child.wait().unwrap().success(), "the original's writer failed");
}

#[test]
fn a_bucket_half_filled_by_the_original_is_adopted_and_only_the_other_half_downloaded() {
    let Some(python) = test_support::tools::python("the pyarrow adoption test") else { return };
    let stand = main_job_stand(small_files()).with_gcs();
    let env = stand
        .env(Some(KEY))
        .var("GCS_BUCKET", "md-ticks")
        .var("INSTRUMENT_EXCHANGES", "deribit,binance-futures")
        .var("MD_OUTPUT_FORMAT", "parquet");
    write_definitions(&env);
    let units = plan(&env);
    assert!(units.len() >= 20, "{} units", units.len());
    let original: Vec<&UnitLine> = units.iter().step_by(2).collect();

    let work = env.dir.path().join("original");
    std::fs::create_dir_all(&work).unwrap();
    let files: Vec<(String, PathBuf, PathBuf)> = original
        .iter()
        .enumerate()
        .map(|(index, unit)| {
            let source = work.join(format!("{index}.csv.gz"));
            std::fs::write(&source, stand.served_unit(unit)).unwrap();
            (unit.data_type.clone(), source, work.join(format!("{index}.parquet")))
        })
        .collect();
    write_like_the_original(&python, &files);
    let gcs = stand.gcs.as_ref().unwrap();
    for (unit, (_, _, parquet)) in original.iter().zip(&files) {
        gcs.insert("md-ticks", &unit.object, std::fs::read(parquet).unwrap(), &[]);
    }

    stand.stub.reset_counters();
    let run = ok(env.run(&args("download", SELECTION)));
    assert!(run.stdout.contains("Complete"), "{}", run.stdout);
    let requested = requested_datasets(&stand);
    let others: BTreeSet<String> = units
        .iter()
        .filter(|unit| !original.iter().any(|theirs| theirs.object == unit.object))
        .map(unit_path)
        .collect();
    assert_eq!(requested, others, "Tardis is asked only for the other half");
    assert_eq!(dataset_requests(&stand), others.len());
    assert!(run.stdout.contains(&format!("adopted {}", original.len())), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("adopted objects (md did not write them; nothing downloaded): {} ({} by their Parquet footer", original.len(), original.len())),
        "{}",
        run.stdout
    );
    let manifest = gcs
        .object("md-ticks", &format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json"))
        .expect("the manifest");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.data).unwrap();
    assert_eq!(manifest["units"]["adopted"].as_u64(), Some(original.len() as u64));
    assert_eq!(manifest["adopted_objects"].as_array().unwrap().len(), original.len());
    assert!(
        manifest["adopted_objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|object| object["checked"] == "parquet-footer")
    );

    let missing = ok(env.run(&args("missing", &[SELECTION, &["--check"]].concat())));
    assert!(
        missing.stdout.contains(&format!("0 of {} planned units missing", units.len())),
        "{}",
        missing.stdout
    );
    assert!(missing.stdout.contains(&format!("adopted {}", original.len())), "{}", missing.stdout);
    let json = ok(env.run(&args("missing", &[SELECTION, &["--json"]].concat())));
    let statuses = json_field(&json.stdout, "status");
    assert_eq!(
        statuses,
        BTreeSet::from(["adopted".to_owned()]),
        "only the adopted units are listed"
    );
    for day in DAYS {
        let object = format!("missing_data_reports/by_date/day-{day}/missing_data.parquet");
        let (_, batch) =
            read_parquet(gcs.object("md-ticks", &object).expect("the report").data.to_vec());
        assert_eq!(batch.num_rows(), 0, "{object}: none missing");
    }

    stand.stub.reset_counters();
    let rerun = ok(env.run(&args("download", SELECTION)));
    assert!(rerun.stdout.contains(&format!("skipped {}", units.len())), "{}", rerun.stdout);
    assert_eq!(dataset_requests(&stand), 0);
}
