//! Adopting a bucket: objects at planned names that md did not write are checked and kept (no Tardis request),
//! found under historical spellings of their key and copied, or left alone when they do not check out.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType as ArrowType, Field, Schema};
use arrow::record_batch::RecordBatch;
use downloader::download::adopt::{self, CSV_GZIP, MD_RECORD, PARQUET_FOOTER, Verdict};
use downloader::download::manifest::RunStatus;
use gcs_sink::{Digest, ObjectSink, WriteMode};
use md_config::{DataType, OutputFormats, ParquetOptions, ParquetSchema, SinkConfig, SinkLocation};
use parquet::arrow::ArrowWriter;
use rstest::rstest;
use test_support::gcs::FakeGcs;
use test_support::tardis::{StubConfig, dataset_path};

use crate::pipeline::{Setup, dataset_requests, run, setup};

/// A Parquet file of `rows` rows with `schema`, as another writer would make it (arrow-rs here; pyarrow in
/// md-cli's tests), in row groups of `group` rows.
fn parquet_file(schema: &Schema, rows: usize, group: usize) -> Vec<u8> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| -> ArrayRef {
            match field.data_type() {
                ArrowType::Int64 => Arc::new(Int64Array::from_iter_values(
                    (0..rows as i64).map(|row| 1_790_000_000_000_000 + row * 1000 + index as i64),
                )),
                ArrowType::Float64 => Arc::new(Float64Array::from_iter_values(
                    (0..rows).map(|row| (row * 7919 % 100_003) as f64 / 3.0 + index as f64),
                )),
                ArrowType::Boolean => {
                    Arc::new(BooleanArray::from_iter((0..rows).map(|row| Some(row % 2 == 0))))
                }
                ArrowType::Utf8 => {
                    Arc::new(StringArray::from_iter_values((0..rows).map(|row| format!("v{row}"))))
                }
                other => panic!("no test values for {other}"),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(Arc::new(schema.clone()), columns).expect("a batch");
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .build();
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(properties)).expect("a writer");
    writer.write(&batch).expect("written");
    writer.close().expect("closed");
    out
}

/// The schema md writes for `data_type` by default: the original system's.
fn expected(data_type: DataType) -> Schema {
    downloader::convert::tick_schema(data_type, &ParquetOptions::default()).as_ref().clone()
}

fn sink_file(setup: &Setup, object: &str) -> std::path::PathBuf {
    setup.dir.path().join("sink").join(object)
}

/// Writes an object straight into the local sink's directory, as another program would: no md record.
fn plant(setup: &Setup, object: &str, bytes: &[u8]) {
    let path = sink_file(setup, object);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

async fn parquet_setup() -> Setup {
    setup(StubConfig::default(), |config| {
        config.download.output_formats = OutputFormats::PARQUET;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_half_written_by_another_writer_is_adopted_and_only_the_other_half_downloaded() {
    let setup = parquet_setup().await;
    let units = &setup.plan.units;
    assert!(units.len() >= 10, "{} units", units.len());
    let planted: Vec<&str> = units.iter().step_by(2).map(|unit| unit.object()).collect();
    for unit in units.iter().step_by(2) {
        plant(&setup, unit.object(), &parquet_file(&expected(unit.data_type), 50, 20));
    }

    let report = run(&setup, &setup.config).await;
    let manifest = &report.manifest;
    assert_eq!(manifest.status, RunStatus::Complete, "{:#?}", manifest.left_alone);
    assert_eq!(dataset_requests(&setup.stub), units.len() - planted.len(), "only the other half");
    assert_eq!(
        (manifest.units.adopted, manifest.units.done),
        (planted.len(), units.len() - planted.len())
    );
    let adopted: Vec<&str> =
        manifest.adopted_objects.iter().map(|object| object.object.as_str()).collect();
    let mut sorted = planted.clone();
    sorted.sort_unstable();
    assert_eq!(adopted, sorted);
    assert!(manifest.adopted_objects.iter().all(|object| object.checked == PARQUET_FOOTER));
    assert!(manifest.done_objects.iter().all(|object| !planted.contains(&object.as_str())));
    for object in &planted {
        let info = setup.sink.head(object).await.expect("head");
        assert_eq!(info.adopted.map(|adoption| adoption.checked), Some(PARQUET_FOOTER.to_owned()));
        assert_eq!(info.recorded, None, "a footer check reads no CRC32C");
    }

    setup.stub.reset_counters();
    let rerun = run(&setup, &setup.config).await;
    assert_eq!((rerun.manifest.units.skipped, rerun.manifest.units.adopted), (units.len(), 0));
    assert_eq!(
        dataset_requests(&setup.stub),
        0,
        "a rerun downloads nothing and adopts nothing again"
    );
}

/// What another writer may have left at a planned name.
#[derive(Debug, Clone, Copy)]
enum Planted {
    /// A valid file without rows: adopted.
    Empty,
    /// md's own typed schema (timestamps as TIMESTAMP, `exchange` kept, ...): not the expected one.
    OtherSchema,
    /// The first 60% of a valid file: no footer.
    Truncated,
    /// Not Parquet at all.
    Garbage,
}

#[rstest]
#[case::empty(Planted::Empty, None)]
#[case::other_schema(Planted::OtherSchema, Some("its schema is not the original schema md writes"))]
#[case::truncated(Planted::Truncated, Some("its Parquet footer does not read"))]
#[case::garbage(Planted::Garbage, Some("its Parquet footer does not read"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_that_do_not_check_out_are_left_alone_until_a_forced_run(
    #[case] planted: Planted,
    #[case] problem: Option<&str>,
) {
    let setup = parquet_setup().await;
    let unit = setup.plan.units.iter().find(|unit| unit.data_type == DataType::Trades).unwrap();
    let bytes = match planted {
        Planted::Empty => parquet_file(&expected(unit.data_type), 0, 10),
        Planted::OtherSchema => {
            let typed =
                ParquetOptions { schema: ParquetSchema::Typed, ..ParquetOptions::default() };
            let schema = downloader::convert::tick_schema(unit.data_type, &typed);
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|field| Field::new(field.name(), simple(field.data_type()), true))
                .collect();
            parquet_file(&Schema::new(fields), 10, 10)
        }
        Planted::Truncated => {
            let whole = parquet_file(&expected(unit.data_type), 500, 100);
            whole[..whole.len() * 6 / 10].to_vec()
        }
        Planted::Garbage => b"PAR1 this is not a parquet file at all, just text".to_vec(),
    };
    plant(&setup, unit.object(), &bytes);

    let report = run(&setup, &setup.config).await;
    let manifest = &report.manifest;
    let others = setup.plan.units.len() - 1;
    assert_eq!(dataset_requests(&setup.stub), others, "the planted unit is never requested");
    match problem {
        None => {
            assert_eq!(manifest.status, RunStatus::Complete);
            assert_eq!(manifest.units.adopted, 1);
            assert!(manifest.left_alone.is_empty());
        }
        Some(problem) => {
            assert_eq!(manifest.status, RunStatus::Failed, "an object left alone fails the run");
            assert_eq!((manifest.units.left_alone, manifest.units.failed), (1, 0));
            let [left] = manifest.left_alone.as_slice() else {
                panic!("{:?}", manifest.left_alone)
            };
            assert_eq!((left.object.as_str(), left.unit.clone()), (unit.object(), unit.id()));
            assert!(left.reason.contains(problem), "{}", left.reason);
            assert_eq!(
                std::fs::read(sink_file(&setup, unit.object())).unwrap(),
                bytes,
                "untouched"
            );

            setup.stub.reset_counters();
            let mut forced = setup.config.clone();
            forced.download.force = true;
            let replaced = run(&setup, &forced).await;
            assert_eq!(replaced.manifest.status, RunStatus::Complete);
            assert!(replaced.manifest.done_objects.contains(&unit.object().to_owned()));
            assert_ne!(std::fs::read(sink_file(&setup, unit.object())).unwrap(), bytes, "replaced");
        }
    }
}

/// Plain Arrow types for md's typed schema (timestamps as Int64 would be the original's: keep them apart).
fn simple(data_type: &ArrowType) -> ArrowType {
    match data_type {
        ArrowType::Timestamp(..) => ArrowType::Int64,
        ArrowType::Dictionary(..) | ArrowType::Date32 => ArrowType::Utf8,
        ArrowType::Int32 => ArrowType::Int64,
        other => other.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_gz_written_by_another_writer_is_adopted_after_a_whole_read() {
    let setup = setup(StubConfig::default(), |config| {
        config.download.output_formats = OutputFormats::RAW;
        config.download.data_types = vec![DataType::Trades, DataType::BookSnapshot5];
    })
    .await;
    let units: Vec<_> = setup.plan.units.iter().take(4).collect();
    let served = |unit: &downloader::download::Unit| {
        let path = dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol);
        let stub = &setup.stub;
        async move { stub.expected_body(&path).await.unwrap().unwrap().to_vec() }
    };
    let whole = served(units[0]).await;
    plant(&setup, units[0].object(), &whole);
    let mut cut = served(units[1]).await;
    cut.truncate(cut.len() - 5);
    plant(&setup, units[1].object(), &cut);
    let mut flipped = served(units[2]).await;
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x5a;
    plant(&setup, units[2].object(), &flipped);
    // A whole gzip of another data type: its header is not this one's.
    let other = setup
        .plan
        .units
        .iter()
        .find(|other| other.data_type != units[3].data_type)
        .expect("two data types");
    plant(&setup, units[3].object(), &served(other).await);

    let report = run(&setup, &setup.config).await;
    let manifest = &report.manifest;
    assert_eq!(dataset_requests(&setup.stub), setup.plan.units.len() - 4);
    assert_eq!(manifest.units.adopted, 1);
    assert_eq!(manifest.adopted_objects[0].checked, CSV_GZIP);
    let info = setup.sink.head(units[0].object()).await.expect("head");
    assert_eq!(info.recorded, Some(Digest::of(&whole)), "a whole read records the CRC32C too");
    let reasons: Vec<(&str, &str)> = manifest
        .left_alone
        .iter()
        .map(|left| (left.object.as_str(), left.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    let reason_of = |unit: &downloader::download::Unit| {
        reasons
            .iter()
            .find(|(object, _)| *object == unit.object())
            .map(|(_, reason)| *reason)
            .unwrap()
    };
    assert!(reason_of(units[1]).contains("does not inflate completely"), "{}", reason_of(units[1]));
    assert!(reason_of(units[2]).contains("does not inflate"), "{}", reason_of(units[2]));
    assert!(reason_of(units[3]).contains("is not the"), "{}", reason_of(units[3]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_under_a_historical_spelling_of_its_key_is_copied_to_the_planned_name() {
    let setup = parquet_setup().await;
    let spelt: Vec<_> = setup
        .plan
        .units
        .iter()
        .filter(|unit| !adopt::historical_spellings(&unit.instrument_key).is_empty())
        .take(2)
        .collect();
    assert_eq!(spelt.len(), 2, "the plan has perpetuals");
    let old_name = |unit: &downloader::download::Unit| {
        let key = &adopt::historical_spellings(&unit.instrument_key)[0];
        setup.config.download.layout.render(&md_config::ObjectFields {
            date: unit.date,
            exchange: &unit.exchange,
            data_type: unit.data_type,
            symbol: &unit.symbol,
            instrument_key: key,
            format: md_config::OutputFormat::Parquet,
        })
    };
    // One written by md under the old spelling (it has md's record), one by another writer.
    let mine = parquet_file(&expected(spelt[0].data_type), 30, 30);
    setup
        .sink
        .put_bytes(&old_name(spelt[0]), mine.clone(), WriteMode::CreateOnly)
        .await
        .expect("put");
    let theirs = parquet_file(&expected(spelt[1].data_type), 40, 40);
    plant(&setup, &old_name(spelt[1]), &theirs);

    let report = run(&setup, &setup.config).await;
    let manifest = &report.manifest;
    assert_eq!(manifest.status, RunStatus::Complete);
    assert_eq!(dataset_requests(&setup.stub), setup.plan.units.len() - 2);
    let copied: Vec<(&str, &str, Option<&str>)> = manifest
        .adopted_objects
        .iter()
        .map(|object| {
            (object.object.as_str(), object.checked.as_str(), object.copied_from.as_deref())
        })
        .collect();
    let mut expected_copies = [
        (spelt[0].object(), MD_RECORD, Some(old_name(spelt[0]))),
        (spelt[1].object(), PARQUET_FOOTER, Some(old_name(spelt[1]))),
    ];
    expected_copies.sort();
    let expected_copies: Vec<(&str, &str, Option<&str>)> =
        expected_copies.iter().map(|(a, b, c)| (*a, *b, c.as_deref())).collect();
    assert_eq!(copied, expected_copies);
    for (unit, bytes) in [(spelt[0], &mine), (spelt[1], &theirs)] {
        assert_eq!(&std::fs::read(sink_file(&setup, unit.object())).unwrap(), bytes);
        assert_eq!(
            &std::fs::read(sink_file(&setup, &old_name(unit))).unwrap(),
            bytes,
            "the old one stays"
        );
    }
    assert_eq!(setup.sink.head(spelt[0].object()).await.unwrap().recorded, Some(Digest::of(&mine)));
    assert_eq!(
        setup.sink.head(spelt[1].object()).await.unwrap().adopted.map(|adoption| adoption.checked),
        Some(PARQUET_FOOTER.to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_footer_check_reads_only_the_end_of_the_object() {
    let fake = FakeGcs::start().await.expect("the GCS fake");
    let config = SinkConfig {
        location: SinkLocation::Gcs { bucket: "adopt".into(), prefix: String::new() },
        gcs: md_config::GcsOptions {
            emulator_host: Some(fake.url().parse().unwrap()),
            ..md_config::GcsOptions::default()
        },
        ..SinkConfig::default()
    };
    let sink = ObjectSink::from_config(&config).expect("sink");
    let schema = expected(DataType::BookSnapshot5);
    let big = parquet_file(&schema, 40_000, 10_000);
    assert!(big.len() as u64 > 8 * adopt::FOOTER_READ, "{} bytes", big.len());
    let name = "raw_tick_data/by_date/day-2026-10-01/data_type-book_snapshot_5/DERIBIT:PERP:BTC-USD.parquet";
    fake.insert("adopt", name, big.clone(), &[]);
    let info = sink.head(name).await.expect("head");
    let before = fake.served_bytes();
    let settings = ParquetOptions::default();
    let verdict = adopt::check_parquet(&sink, name, &info, DataType::BookSnapshot5, &settings)
        .await
        .expect("checked");
    assert_eq!(verdict, Verdict::Fit { checked: PARQUET_FOOTER, digest: None });
    let read = fake.served_bytes() - before;
    assert!(read <= 2 * adopt::FOOTER_READ, "read {read} of {} bytes", big.len());

    // A footer that names another schema is judged from the same few bytes.
    let verdict = adopt::check_parquet(&sink, name, &info, DataType::Trades, &settings)
        .await
        .expect("checked");
    assert!(
        matches!(verdict, Verdict::Unfit(ref reason) if reason.contains("schema")),
        "{verdict:?}"
    );
}
