//! Stored definitions: a day's `instruments.parquet`, read back with the parquet crate, has one row per instrument
//! available that day with every field, for both sources (API key, free exchange details).

use std::collections::BTreeSet;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::NaiveDate;
use downloader::definitions::{self, DefinitionsStore};
use gcs_sink::GcsSink;
use md_config::{DateRange, SinkConfig, SinkLocation};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use tardis_client::TardisClient;
use test_support::tardis::{StubConfig, TardisStub};

const EXCHANGES: [&str; 3] = ["deribit", "binance-futures", "okex-options"];

fn fixture(name: &str) -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-support/fixtures/tardis").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The instruments the fixtures say are available on `day`, keyed by the instruments crate.
fn expected_keys(day: NaiveDate, with_key: bool) -> BTreeSet<String> {
    EXCHANGES
        .iter()
        .flat_map(|exchange| {
            let details: tardis_client::wire::ExchangeDetails =
                serde_json::from_str(&fixture(&format!("exchange_{exchange}.json"))).unwrap();
            let infos: Vec<tardis_client::wire::InstrumentInfo> =
                serde_json::from_str(&fixture(&format!("instruments_{exchange}.json"))).unwrap();
            let catalog = instruments::Catalog::new(&definitions::listing(
                details,
                with_key.then_some(infos),
            ))
            .unwrap();
            catalog
                .day(day)
                .records
                .into_iter()
                .map(|record| record.instrument_key.to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn read(path: &Path) -> RecordBatch {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// The values of a text column without nulls.
fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let values = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    values.as_string::<i32>().iter().map(|value| value.unwrap().to_owned()).collect()
}

async fn write(
    api_key: Option<&str>,
    root: &Path,
    days: DateRange,
) -> definitions::DefinitionsReport {
    let stub =
        TardisStub::start(StubConfig { api_key: Some("TD.defs".into()), ..StubConfig::default() })
            .await
            .unwrap();
    let mut tardis = stub.tardis_config();
    tardis.api_key = api_key.map(md_config::Secret::new);
    let client = TardisClient::new(&tardis).unwrap();
    let sink = GcsSink::from_config(&SinkConfig {
        location: SinkLocation::Local { root: root.to_path_buf() },
        ..SinkConfig::default()
    })
    .unwrap();
    let exchanges: Vec<String> = EXCHANGES.iter().map(|e| e.to_string()).collect();
    definitions::write_definitions(&client, &DefinitionsStore::new(sink, false), &exchanges, days)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_day_has_one_row_per_available_instrument_with_every_field() {
    for with_key in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let (first, last) = (
            NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
            NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        );
        let report =
            write(with_key.then_some("TD.defs"), dir.path(), DateRange { start: first, end: last })
                .await;
        assert!(report.all_fetched(), "{report:?}");
        for day in [first, last] {
            let batch = read(&dir.path().join(definitions::day_object(day)));
            let keys = strings(&batch, "instrument_key");
            let expected = expected_keys(day, with_key);
            assert!(!expected.is_empty());
            assert_eq!(
                keys.len(),
                expected.len(),
                "one row per instrument (key: {with_key}, {day})"
            );
            assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), expected);
            let mut sorted = keys.clone();
            sorted.sort();
            assert_eq!(keys, sorted, "rows are sorted by key");

            for (column, data_type) in [
                ("date", DataType::Date32),
                ("instrument_key", DataType::Utf8),
                ("venue", DataType::Utf8),
                ("instrument_type", DataType::Utf8),
                ("canonical_symbol", DataType::Utf8),
                ("base_asset", DataType::Utf8),
                ("quote_asset", DataType::Utf8),
                ("settle_asset", DataType::Utf8),
                ("inverse", DataType::Boolean),
                ("expiry", DataType::Utf8),
                ("expiry_time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
                ("strike", DataType::Utf8),
                ("option_type", DataType::Utf8),
                ("contract_size", DataType::Float64),
                ("tick_size", DataType::Float64),
                ("min_size", DataType::Float64),
                ("maker_fee", DataType::Float64),
                ("taker_fee", DataType::Float64),
                ("tardis_exchange", DataType::Utf8),
                ("tardis_symbol", DataType::Utf8),
                ("exchange_raw_symbol", DataType::Utf8),
                ("available_since", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
                ("available_to", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))),
            ] {
                let found =
                    batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
                assert_eq!(found.data_type(), &data_type, "{column}");
            }
            let data_types = batch.column_by_name("data_types").unwrap().as_list::<i32>();
            assert!(
                (0..batch.num_rows()).all(|row| !data_types.value(row).is_empty()),
                "every instrument lists its data types"
            );
            // The option rows carry strike, type and expiry; with a key, trading parameters are present.
            let kinds = batch.column_by_name("instrument_type").unwrap().as_string::<i32>();
            let strikes = batch.column_by_name("strike").unwrap().as_string::<i32>();
            let ticks = batch.column_by_name("tick_size").unwrap();
            for row in 0..batch.num_rows() {
                if kinds.value(row) == "OPTION" {
                    assert!(strikes.is_valid(row), "an option has a strike");
                }
                assert_eq!(ticks.is_valid(row), with_key, "tick size comes from the metadata only");
            }
        }
        let aggregate = read(&dir.path().join(definitions::aggregate_object(first, last)));
        assert_eq!(
            aggregate.num_rows(),
            expected_keys(first, with_key).len() + expected_keys(last, with_key).len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_a_day_keeps_other_exchanges_and_is_a_no_op_when_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let days = DateRange { start: day, end: day };
    let first = write(Some("TD.defs"), dir.path(), days).await;
    assert!(first.objects.iter().all(|object| object.changed));
    let again = write(Some("TD.defs"), dir.path(), days).await;
    assert!(
        again.objects.iter().all(|object| !object.changed),
        "identical definitions are verified, not rewritten"
    );

    // A run for one exchange replaces that exchange's rows and keeps the others.
    let stub = TardisStub::start(StubConfig::default()).await.unwrap();
    let client = TardisClient::new(&stub.tardis_config()).unwrap();
    let sink = GcsSink::from_config(&SinkConfig {
        location: SinkLocation::Local { root: dir.path().to_path_buf() },
        ..SinkConfig::default()
    })
    .unwrap();
    definitions::write_definitions(
        &client,
        &DefinitionsStore::new(sink, false),
        &["deribit".to_owned()],
        days,
    )
    .await
    .unwrap();
    let batch = read(&dir.path().join(definitions::day_object(day)));
    let exchanges: BTreeSet<String> = strings(&batch, "tardis_exchange").into_iter().collect();
    assert_eq!(exchanges, EXCHANGES.iter().map(|e| e.to_string()).collect());
    assert_eq!(batch.num_rows(), expected_keys(day, true).len());
}

/// The stored definitions are read by other tools and by other versions of md, and an unchanged day must verify
/// rather than be rewritten: their bytes are pinned (size and CRC32C of every object, both sources, a range
/// around the fixtures' `changes[]`). A change here is a change of the file format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bytes_of_stored_definitions_are_pinned() {
    let mut text = String::new();
    for (source, key) in [("metadata", Some("TD.defs")), ("symbol_parser", None)] {
        let dir = tempfile::tempdir().unwrap();
        let days = DateRange {
            start: NaiveDate::from_ymd_opt(2026, 9, 30).unwrap(),
            end: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
        };
        let report = write(key, dir.path(), days).await;
        for written in &report.objects {
            let bytes = std::fs::read(dir.path().join(&written.object)).unwrap();
            text.push_str(&format!(
                "{source}\t{}\t{}\t{}\t{:08x}\n",
                written.object,
                written.rows,
                bytes.len(),
                crc32c::crc32c(&bytes)
            ));
        }
    }
    let pinned = include_str!("../fixtures/golden/definitions.tsv");
    if pinned != text {
        let now = std::env::temp_dir().join("md-golden-definitions.tsv");
        std::fs::write(&now, &text).unwrap();
        panic!("the stored definitions' bytes changed (the new list is in {})", now.display());
    }
}
