//! Per-file facts in the download manifest (issue 25): learnt while the gzip check (or the converter) inflates each file, recorded
//! per stored unit with its object's size and CRC32C, carried over for the units a rerun skips, and absent (the
//! manifest says why) when nothing is inflated or the scan is turned off.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use downloader::download::UnitStatus;
use downloader::download::manifest::{FactsState, Manifest, RunStatus, UnitFacts};
use md_config::{Config, DataType, OutputFormats};
use rstest::rstest;
use tardis_client::facts::FileFacts;
use tardis_client::gzip::GzipReader;
use test_support::tardis::{StubConfig, dataset_path};

use crate::pipeline::{Setup, dataset_requests, run, setup};

/// The symbol and day the stand-in serves without rows in [`with_an_empty_file`].
const EMPTY: (&str, NaiveDate) = ("BTC-PERPETUAL", NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());

fn with_an_empty_file() -> StubConfig {
    StubConfig {
        empty_symbol_days: HashSet::from([(EMPTY.0.to_owned(), EMPTY.1)]),
        ..StubConfig::default()
    }
}

/// What the stand-in serves for every unit of the plan, read by the plainest means: the rows and the first and last
/// timestamps by splitting the inflated text, and the scanner's other counts through `GzipReader::with_facts` (the
/// scanner's own exactness is tardis-client's tests').
async fn served_facts(setup: &Setup) -> BTreeMap<String, (String, FileFacts)> {
    let mut expected = BTreeMap::new();
    for unit in &setup.plan.units {
        let path = dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol);
        let body = setup.stub.expected_body(&path).await.unwrap().expect("served");
        let mut reader = GzipReader::new(body.as_ref()).with_facts();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut reader, &mut text).expect("a valid gzip");
        let facts = reader.facts().expect("facts once read to the end");
        let rows: Vec<&str> = text.lines().skip(1).filter(|line| !line.is_empty()).collect();
        let cell = |row: Option<&&str>, index: usize| -> Option<i64> {
            row.and_then(|row| row.split(',').nth(index)).map(|cell| cell.parse().expect("digits"))
        };
        assert_eq!(facts.rows, rows.len() as u64, "{path}");
        assert_eq!(facts.first_timestamp, cell(rows.first(), 2), "{path}");
        assert_eq!(facts.last_local_timestamp, cell(rows.last(), 3), "{path}");
        expected.insert(unit.id(), (unit.object().to_owned(), facts));
    }
    expected
}

/// The facts a manifest records, by unit, each checked against its stored object's bytes.
fn recorded(setup: &Setup, manifest: &Manifest) -> BTreeMap<String, (String, FileFacts)> {
    let mut recorded = BTreeMap::new();
    for UnitFacts { unit, object, size, crc32c, status, facts } in &manifest.facts {
        let stored = std::fs::read(setup.dir.path().join("sink").join(object)).expect("stored");
        assert_eq!(
            (*size, crc32c.clone()),
            (stored.len() as u64, format!("{:08x}", crc32c::crc32c(&stored)))
        );
        let expected_status =
            if facts.rows == 0 { UnitStatus::Empty } else { UnitStatus::StoredVerified };
        assert_eq!(*status, expected_status, "{unit}");
        recorded.insert(unit.clone(), (object.clone(), *facts));
    }
    assert_eq!(recorded.len(), manifest.facts.len(), "one record per unit");
    recorded
}

/// A raw download with the gzip check on, and a Parquet one (the converter scans what it inflates), records every
/// stored unit's facts, exactly as the served file's (before the converter's sort), with the unit's first object
/// (the raw one when there are both); the file served without rows is `empty`; a rerun that skips every unit keeps
/// the same facts without downloading.
#[rstest]
#[case::raw(OutputFormats::RAW)]
#[case::parquet(OutputFormats::PARQUET)]
#[case::raw_and_parquet(OutputFormats::BOTH)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_download_records_every_files_facts_and_a_rerun_keeps_them(
    #[case] formats: OutputFormats,
) {
    let setup = setup(with_an_empty_file(), |config| {
        config.download.data_types =
            vec![DataType::Trades, DataType::BookSnapshot5, DataType::Quotes];
        config.download.output_formats = formats;
    })
    .await;
    let expected = served_facts(&setup).await;
    let empty: Vec<&String> =
        expected.iter().filter(|(_, (_, facts))| facts.is_empty()).map(|(unit, _)| unit).collect();
    assert_eq!(empty.len(), 3, "the stand-in's empty symbol-day, in each data type: {empty:?}");
    assert!(
        expected.values().any(|(_, facts)| facts.crossed_rows.is_some()),
        "books and quotes are in the plan"
    );

    let report = run(&setup, &setup.config).await;
    let manifest = &report.manifest;
    assert_eq!(manifest.status, RunStatus::Complete, "{:#?}", manifest.errors);
    assert_eq!(manifest.facts_state, FactsState::Learnt);
    assert_eq!(recorded(&setup, manifest), expected);
    assert_eq!(manifest.units.empty, empty.len());
    // As written to the sink, and read back.
    let written = Manifest::read(&setup.sink, &report.manifest_object).await.unwrap().unwrap();
    assert_eq!(written.facts, manifest.facts);

    setup.stub.reset_counters();
    let rerun = run(&setup, &setup.config).await;
    assert_eq!((rerun.manifest.units.skipped, dataset_requests(&setup.stub)), (expected.len(), 0));
    assert_eq!(
        rerun.manifest.facts, manifest.facts,
        "a rerun carries the facts of the units it skips"
    );
    assert_eq!(rerun.manifest.units.empty, 0, "counted by the run that stored them");
}

/// Where nothing learns facts, the manifest has none and says why.
#[rstest]
#[case::gzip_check_off(|config: &mut Config| config.tardis.verify_gzip = false, FactsState::GzipCheckOff)]
#[case::facts_turned_off(|config: &mut Config| config.download.file_facts = false, FactsState::TurnedOff)]
#[case::parquet_facts_turned_off(|config: &mut Config| { config.download.output_formats = OutputFormats::PARQUET; config.download.file_facts = false; }, FactsState::TurnedOff)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_scan_the_manifest_has_no_facts_and_says_why(
    #[case] change: fn(&mut Config),
    #[case] state: FactsState,
) {
    let setup = setup(with_an_empty_file(), |config| {
        config.download.data_types = vec![DataType::Trades];
        change(config);
    })
    .await;
    let report = run(&setup, &setup.config).await;
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert_eq!(report.manifest.facts_state, state);
    assert!(report.manifest.facts.is_empty(), "{:?}", report.manifest.facts);
    assert_eq!(report.manifest.units.empty, 0, "unknown without facts");
    let written =
        std::fs::read_to_string(setup.dir.path().join("sink").join(&report.manifest_object))
            .unwrap();
    let state_name = serde_json::to_value(state).unwrap();
    assert!(written.contains(&format!("\"facts_state\": {state_name}")), "{written}");
}
