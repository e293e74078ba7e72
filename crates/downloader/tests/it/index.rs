//! The lake index: its rows from a shard's plan and manifest (one case per way an object can end a run), its
//! Parquet round trip, and a run against the stand-in whose parts list exactly the stored objects, a rerun keeping
//! them equal.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use downloader::download::UnitStatus;
use downloader::download::index::{self, IndexRow, StoredObject};
use downloader::download::manifest::Manifest;
use downloader::download::plan::{Unit, UnitObject};
use md_config::{DataType, InstrumentType, OutputFormat};
use rstest::rstest;
use serde_json::json;

use crate::pipeline::{run, setup};

const DAY: &str = "2026-10-02";

fn unit(symbol: &str, formats: &[OutputFormat]) -> Unit {
    Unit {
        date: DAY.parse().unwrap(),
        exchange: "deribit".into(),
        data_type: DataType::Trades,
        symbol: symbol.into(),
        instrument_key: format!("DERIBIT:PERPETUAL:{symbol}"),
        instrument_type: InstrumentType::Perpetual,
        grouped: false,
        objects: formats
            .iter()
            .map(|format| UnitObject {
                format: *format,
                name: format!("ticks/{symbol}.{}", format.extension()),
            })
            .collect(),
        shard: Some(0),
        incident: None,
    }
}

fn id(symbol: &str) -> String {
    format!("{DAY}/deribit/trades/{symbol}")
}

/// A manifest with nothing in it but `lists` (the manifest's own field names and JSON).
fn manifest(lists: serde_json::Value) -> Manifest {
    let mut value = json!({
        "version": 1, "from": DAY, "to": DAY, "plan_fingerprint": "0", "plan_units": 1,
        "shard_index": 0, "total_shards": 1, "status": "complete",
        "started_at": "2026-10-03T00:00:00Z", "finished_at": "2026-10-03T00:00:01Z", "duration_secs": 1.0,
        "units": {"planned": 1, "done": 0, "skipped": 0, "replaced": 0, "failed": 0, "not_started": 0},
        "bytes_downloaded": 0, "bytes_written": 0, "retries": 0, "errors": [],
        "done_objects": [], "skipped_objects": [],
    });
    for (name, list) in lists.as_object().unwrap() {
        value[name] = list.clone();
    }
    serde_json::from_value(value).expect("a manifest")
}

fn facts(symbol: &str, object: &str, rows: u64) -> serde_json::Value {
    json!({
        "unit": id(symbol), "object": object, "size": 100, "crc32c": "0000abcd",
        "status": if rows == 0 { "empty" } else { "stored" },
        "facts": {
            "rows": rows, "first_timestamp": (rows > 0).then_some(10), "last_timestamp": (rows > 0).then_some(20),
            "first_local_timestamp": (rows > 0).then_some(11), "last_local_timestamp": (rows > 0).then_some(21),
            "local_timestamp_backwards": 0, "timestamp_backwards": 0, "malformed_rows": 0,
        },
    })
}

const RAW: &[OutputFormat] = &[OutputFormat::Raw];
const BOTH: &[OutputFormat] = &[OutputFormat::Raw, OutputFormat::Parquet];

/// What the index says of one unit's objects (status, whether listed, bytes, rows) for what the run did.
#[rstest]
#[case::downloaded_with_facts(RAW, json!({"done_objects": ["ticks/A.csv.gz"], "facts": [facts("A", "ticks/A.csv.gz", 3)]}), &[("ticks/A.csv.gz", 100)], &[(UnitStatus::StoredVerified, true, Some(100), Some(3))])]
#[case::downloaded_empty(RAW, json!({"done_objects": ["ticks/A.csv.gz"], "facts": [facts("A", "ticks/A.csv.gz", 0)]}), &[("ticks/A.csv.gz", 100)], &[(UnitStatus::Empty, true, Some(100), Some(0))])]
#[case::skipped_without_facts(RAW, json!({"skipped_objects": ["ticks/A.csv.gz"]}), &[("ticks/A.csv.gz", 7)], &[(UnitStatus::StoredVerified, true, Some(7), None)])]
#[case::skipped_facts_carried_over(RAW, json!({"skipped_objects": ["ticks/A.csv.gz"], "facts": [facts("A", "ticks/A.csv.gz", 5)]}), &[], &[(UnitStatus::StoredVerified, true, Some(100), Some(5))])]
#[case::adopted_by_this_run(RAW, json!({"adopted_objects": [{"object": "ticks/A.csv.gz", "checked": "csv-gzip"}]}), &[("ticks/A.csv.gz", 9)], &[(UnitStatus::Adopted, true, Some(9), None)])]
#[case::failed(RAW, json!({"errors": [{"unit": id("A"), "object": "ticks/A.csv.gz", "attempts": 3, "error": "x"}]}), &[], &[(UnitStatus::Failed, false, None, None)])]
#[case::not_offered(RAW, json!({"not_offered": [{"unit": id("A"), "object": "ticks/A.csv.gz", "status": "not_offered", "http_status": 400, "code": 140, "message": "x"}]}), &[], &[(UnitStatus::NotOffered, false, None, None)])]
#[case::interrupted(RAW, json!({"interrupted": [{"unit": id("A"), "object": "ticks/A.csv.gz", "status": "interrupted", "message": "x"}]}), &[], &[(UnitStatus::Interrupted, false, None, None)])]
#[case::left_alone(RAW, json!({"left_alone": [{"unit": id("A"), "object": "ticks/A.csv.gz", "reason": "x"}]}), &[], &[(UnitStatus::StoredUnverified, false, None, None)])]
#[case::never_mentioned(RAW, json!({}), &[], &[(UnitStatus::Missing, false, None, None)])]
#[case::both_formats_share_the_files_facts(BOTH, json!({"done_objects": ["ticks/A.csv.gz", "ticks/A.parquet"], "facts": [facts("A", "ticks/A.csv.gz", 4)]}), &[("ticks/A.csv.gz", 100), ("ticks/A.parquet", 60)], &[(UnitStatus::StoredVerified, true, Some(100), Some(4)), (UnitStatus::StoredVerified, true, Some(60), Some(4))])]
#[case::one_format_left_alone(BOTH, json!({"skipped_objects": ["ticks/A.csv.gz"], "left_alone": [{"unit": id("A"), "object": "ticks/A.parquet", "reason": "x"}]}), &[("ticks/A.csv.gz", 8)], &[(UnitStatus::StoredVerified, true, Some(8), None), (UnitStatus::StoredUnverified, false, None, None)])]
fn rows_follow_what_the_run_did(
    #[case] formats: &[OutputFormat],
    #[case] lists: serde_json::Value,
    #[case] stored: &[(&str, u64)],
    #[case] expected: &[(UnitStatus, bool, Option<u64>, Option<u64>)],
) {
    let unit = unit("A", formats);
    let stored: BTreeMap<String, StoredObject> = stored
        .iter()
        .map(|(name, size)| {
            let adopted = lists.get("adopted_objects").is_some();
            ((*name).to_owned(), StoredObject { size: *size, crc32c: Some(0xabcd), adopted })
        })
        .collect();
    let rows = index::rows(&[&unit], &manifest(lists), &stored);
    let got: Vec<(UnitStatus, bool, Option<u64>, Option<u64>)> = rows
        .iter()
        .map(|row| {
            let stored = row.stored.as_ref();
            let rows = stored.and_then(|stored| stored.contents).map(|contents| contents.rows);
            (row.status, stored.is_some(), stored.map(|stored| stored.record.size), rows)
        })
        .collect();
    assert_eq!(got, expected);
    for (row, object) in rows.iter().zip(&unit.objects) {
        assert_eq!(row.format, object.format);
        assert_eq!(
            (row.file.symbol.as_str(), row.file.instrument_key.as_str()),
            ("A", "DERIBIT:PERPETUAL:A")
        );
        let Some(stored) = &row.stored else { continue };
        assert_eq!(stored.path, object.name);
        assert_eq!(stored.record.crc32c, Some(0xabcd));
        if let Some(contents) = stored.contents {
            let expected = if contents.rows > 0 {
                [Some(10), Some(20), Some(11), Some(21)]
            } else {
                [None; 4]
            };
            assert_eq!(
                [contents.timestamp, contents.local_timestamp].concat(),
                expected,
                "{row:?}"
            );
        }
    }
}

#[test]
fn a_part_round_trips_through_parquet_with_its_nulls() {
    let unit = unit("A", BOTH);
    let lists = json!({"done_objects": ["ticks/A.csv.gz"], "facts": [facts("A", "ticks/A.csv.gz", 2)],
        "left_alone": [{"unit": id("A"), "object": "ticks/A.parquet", "reason": "x"}]});
    let stored = BTreeMap::from([(
        "ticks/A.csv.gz".to_owned(),
        StoredObject { size: 100, crc32c: Some(0xabcd), adopted: false },
    )]);
    let rows = index::rows(&[&unit], &manifest(lists), &stored);
    let object = index::index_object(DataType::Trades, DAY.parse().unwrap(), 0, 1);
    let body = index::encode(&object, &rows).unwrap();
    assert_eq!(index::decode(&object, body.into()).unwrap(), rows);
    let empty = index::encode(&object, &[]).unwrap();
    assert_eq!(index::decode(&object, empty.into()).unwrap(), Vec::<IndexRow>::new());
    let error = index::decode(&object, bytes::Bytes::from_static(b"not parquet")).unwrap_err();
    assert!(error.to_string().contains(&object), "{error}");
}

/// The union of a day's parts, by data type and day: every row's object when stored.
async fn indexed(
    sink: &gcs_sink::ObjectSink,
    pairs: &BTreeSet<(DataType, NaiveDate)>,
) -> BTreeMap<(DataType, NaiveDate), Vec<IndexRow>> {
    let mut out = BTreeMap::new();
    for (data_type, date) in pairs {
        let mut rows = index::read(sink, *data_type, *date).await.expect("the index reads");
        rows.sort_by(|a, b| (&a.file.symbol, a.format).cmp(&(&b.file.symbol, b.format)));
        out.insert((*data_type, *date), rows);
    }
    out
}

/// Raw output (the gzip check learns the facts) and Parquet output (the converter does): every stored object is
/// listed with its size, CRC32C, rows and timestamps.
#[rstest]
#[case::raw(md_config::OutputFormats::RAW)]
#[case::parquet(md_config::OutputFormats::PARQUET)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_indexes_exactly_its_stored_objects_and_a_rerun_keeps_the_index(
    #[case] formats: md_config::OutputFormats,
) {
    let setup = setup(test_support::tardis::StubConfig::default(), |config| {
        config.download.output_formats = formats;
    })
    .await;
    run(&setup, &setup.config).await;
    let pairs: BTreeSet<(DataType, NaiveDate)> =
        setup.plan.units.iter().map(|unit| (unit.data_type, unit.date)).collect();
    let first = indexed(&setup.sink, &pairs).await;
    for ((data_type, date), rows) in &first {
        let listed: BTreeSet<&str> = rows.iter().filter_map(IndexRow::path).collect();
        let planned: BTreeSet<&str> = setup
            .plan
            .units
            .iter()
            .filter(|unit| (unit.data_type, unit.date) == (*data_type, *date))
            .map(Unit::object)
            .collect();
        assert_eq!(listed, planned, "{data_type} {date}");
        for row in rows {
            assert_eq!(row.status, UnitStatus::StoredVerified, "{row:?}");
            let object = row.stored.as_ref().expect("stored");
            let stored = std::fs::read(setup.dir.path().join("sink").join(&object.path)).unwrap();
            assert_eq!(object.record.size, stored.len() as u64);
            assert_eq!(object.record.crc32c, Some(crc32c::crc32c(&stored)));
            let contents = object.contents.expect("the facts of the file");
            assert!(contents.rows > 0 && contents.local_timestamp[0].is_some(), "{row:?}");
        }
    }
    // A part an earlier fleet of three shards left behind: removed by the next run, which keeps one part per day.
    let (data_type, date) = *pairs.first().unwrap();
    let stale = index::index_object(data_type, date, 2, 3);
    let body = index::encode(&stale, &first[&(data_type, date)]).unwrap();
    setup.sink.put_bytes(&stale, body, gcs_sink::WriteMode::Replace).await.unwrap();
    run(&setup, &setup.config).await;
    assert!(!setup.dir.path().join("sink").join(&stale).exists(), "{stale} is removed");
    assert_eq!(
        indexed(&setup.sink, &pairs).await,
        first,
        "a rerun that downloads nothing keeps the index"
    );
}
