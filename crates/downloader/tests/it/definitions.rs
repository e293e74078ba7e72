//! Stored definitions: a day's `instruments.parquet`, read back with the parquet crate, has one row per instrument
//! available that day with every field, for both sources (API key, free exchange details), in a fixed schema whose
//! first columns are those of the system md replaces; files written by that system or by an earlier md are
//! recognised and replaced without `--force`, and the plan reads md's earlier files with keys normalised.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, ListBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use downloader::definitions::{self, DefinitionsStore};
use gcs_sink::ObjectSink;
use md_config::{DateRange, InstrumentType, SinkConfig, SinkLocation};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};
use tardis_client::TardisClient;
use test_support::tardis::{StubConfig, TardisStub};

const EXCHANGES: [&str; 3] = ["deribit", "binance-futures", "okex-options"];

/// A column's Arrow type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Float,
    Bool,
    Time,
}

impl Kind {
    fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Float => DataType::Float64,
            Kind::Bool => DataType::Boolean,
            Kind::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        }
    }
}

/// How many leading columns of [`SCHEMA`] are the original's.
const ORIGINAL: usize = 28;

/// `instruments.parquet`, column by column: name, type, nullable. The first 28 are the original's
/// (`canonical_key_generator.py`, docs/SCHEMAS.md), nullable as pandas writes every column; md's follow.
const SCHEMA: &[(&str, Kind, bool)] = &[
    ("instrument_key", Kind::Text, true),
    ("venue", Kind::Text, true),
    ("instrument_type", Kind::Text, true),
    ("available_from_datetime", Kind::Text, true),
    ("available_to_datetime", Kind::Text, true),
    ("data_types", Kind::Text, true),
    ("base_asset", Kind::Text, true),
    ("quote_asset", Kind::Text, true),
    ("settle_asset", Kind::Text, true),
    ("exchange_raw_symbol", Kind::Text, true),
    ("tardis_symbol", Kind::Text, true),
    ("tardis_exchange", Kind::Text, true),
    ("data_provider", Kind::Text, true),
    ("venue_type", Kind::Text, true),
    ("asset_class", Kind::Text, true),
    ("inverse", Kind::Bool, true),
    ("symbol_type", Kind::Text, true),
    ("contract_type", Kind::Text, true),
    ("strike", Kind::Text, true),
    ("option_type", Kind::Text, true),
    ("expiry", Kind::Text, true),
    ("contract_size", Kind::Float, true),
    ("tick_size", Kind::Float, true),
    ("settlement_type", Kind::Text, true),
    ("underlying", Kind::Text, true),
    ("min_size", Kind::Float, true),
    ("ccxt_symbol", Kind::Text, true),
    ("ccxt_exchange", Kind::Text, true),
    ("date", Kind::Text, false),
    ("canonical_symbol", Kind::Text, false),
    ("price_asset", Kind::Text, true),
    ("quanto", Kind::Bool, true),
    ("legs", Kind::Text, true),
    ("underlying_index", Kind::Text, true),
    ("expiry_time", Kind::Time, true),
    ("amount_increment", Kind::Float, true),
    ("min_notional", Kind::Float, true),
    ("maker_fee", Kind::Float, true),
    ("taker_fee", Kind::Float, true),
    ("available_since", Kind::Time, false),
    ("available_to", Kind::Time, true),
    ("source", Kind::Text, false),
];

/// The day file the original wrote for 2026-10-01 (pandas and pyarrow; `fixtures/original/make_definitions.py`).
const ORIGINAL_FILE: &str = "tests/fixtures/original/instruments_2026-10-01.parquet";

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

fn original_file() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(ORIGINAL_FILE)).unwrap()
}

fn read(path: &Path) -> RecordBatch {
    let file =
        std::fs::File::open(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// The coverage a definitions file records in its key-value metadata (`md.coverage`), as exchange -> source;
/// `None` when it records none.
fn coverage_of(path: &Path) -> Sources {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let value = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .find(|kv| kv.key == definitions::COVERAGE_KEY)?
        .value
        .clone()?;
    Some(serde_json::from_str(&value).unwrap())
}

/// A recorded coverage, exchange -> source (`None`: none recorded).
type Sources = Option<BTreeMap<String, String>>;

fn sources(pairs: &[(&str, &str)]) -> Sources {
    Some(pairs.iter().map(|(e, s)| ((*e).to_owned(), (*s).to_owned())).collect())
}

/// Runs `md-cli instruments`' work for `exchanges` without an API key (the free exchange details).
async fn write_keyless(
    root: &Path,
    exchanges: &[&str],
    days: DateRange,
) -> definitions::DefinitionsReport {
    let stub = TardisStub::start(StubConfig::default()).await.unwrap();
    let client = TardisClient::new(&stub.tardis_config()).unwrap();
    let exchanges: Vec<String> = exchanges.iter().map(|e| (*e).to_owned()).collect();
    definitions::write_definitions(&client, &store(root, false), &exchanges, days).await.unwrap()
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
    try_write(api_key, root, days, false).await.unwrap()
}

fn store(root: &Path, force: bool) -> DefinitionsStore {
    let sink = ObjectSink::from_config(&SinkConfig {
        location: SinkLocation::Local { root: root.to_path_buf() },
        ..SinkConfig::default()
    })
    .unwrap();
    DefinitionsStore::new(sink, force)
}

async fn try_write(
    api_key: Option<&str>,
    root: &Path,
    days: DateRange,
    force: bool,
) -> Result<definitions::DefinitionsReport, downloader::Error> {
    let stub =
        TardisStub::start(StubConfig { api_key: Some("TD.defs".into()), ..StubConfig::default() })
            .await
            .unwrap();
    let mut tardis = stub.tardis_config();
    tardis.api_key = api_key.map(md_config::Secret::new);
    let client = TardisClient::new(&tardis).unwrap();
    let exchanges: Vec<String> = EXCHANGES.iter().map(|e| e.to_string()).collect();
    definitions::write_definitions(&client, &store(root, force), &exchanges, days).await
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

            let schema = batch.schema();
            let found: Vec<(&str, DataType, bool)> = schema
                .fields()
                .iter()
                .map(|field| {
                    (field.name().as_str(), field.data_type().clone(), field.is_nullable())
                })
                .collect();
            let expected: Vec<(&str, DataType, bool)> = SCHEMA
                .iter()
                .map(|(name, kind, nullable)| (*name, kind.data_type(), *nullable))
                .collect();
            assert_eq!(found, expected, "the fixed schema, the original's columns first");
            check_values(&batch, day, with_key);
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
    let sink = ObjectSink::from_config(&SinkConfig {
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

/// The coverage rule when writing: each file records the exchanges fetched with their source; a run for some
/// exchanges keeps the others' coverage (the union, each with its own source); an exchange whose fetch failed is
/// not covered; a file of md from before the coverage was recorded covers the exchanges of its rows, source unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_file_records_the_exchanges_it_covers_and_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let days = DateRange { start: day, end: day };
    let objects = [
        definitions::day_object(day),
        definitions::groups_object(day),
        definitions::aggregate_object(day, day),
    ];
    let path = dir.path().join(&objects[0]);
    let all_metadata = sources(&[
        ("binance-futures", "metadata"),
        ("deribit", "metadata"),
        ("okex-options", "metadata"),
    ]);
    // (the run's exchanges, with a key, the coverage of the day's files, of the aggregate)
    let steps: &[(&[&str], bool, Sources, Sources)] = &[
        (&EXCHANGES, true, all_metadata.clone(), all_metadata.clone()),
        (
            &["deribit"],
            false,
            sources(&[
                ("binance-futures", "metadata"),
                ("deribit", "symbol_parser"),
                ("okex-options", "metadata"),
            ]),
            sources(&[("deribit", "symbol_parser")]),
        ),
        (
            &["okex-options", "bitmex-nosuch"],
            false,
            sources(&[
                ("binance-futures", "metadata"),
                ("deribit", "symbol_parser"),
                ("okex-options", "symbol_parser"),
            ]),
            sources(&[("okex-options", "symbol_parser")]),
        ),
    ];
    for (exchanges, with_key, day_coverage, aggregate_coverage) in steps {
        let report = if *with_key {
            write(Some("TD.defs"), dir.path(), days).await
        } else {
            write_keyless(dir.path(), exchanges, days).await
        };
        assert!(!report.none_fetched(), "{report:?}");
        for object in &objects[..2] {
            assert_eq!(
                &coverage_of(&dir.path().join(object)),
                day_coverage,
                "{exchanges:?} {object}"
            );
        }
        assert_eq!(
            &coverage_of(&dir.path().join(&objects[2])),
            aggregate_coverage,
            "{exchanges:?}"
        );
    }
    let planned =
        definitions::read_days(&store(dir.path(), false), [day].into_iter()).await.unwrap();
    let coverage = planned[&day].coverage.clone().expect("recorded");
    assert_eq!(coverage.source("okex-options"), Some(definitions::DefinitionsSource::SymbolParser));
    assert_eq!(coverage.source("binance-futures"), Some(definitions::DefinitionsSource::Metadata));
    assert!(!planned[&day].covers("bitmex-nosuch"));

    // A file of md from before the coverage was recorded: the same columns, no key-value metadata.
    let batch = read(&path);
    let schema =
        Arc::new(batch.schema().as_ref().clone().with_metadata(std::collections::HashMap::new()));
    let batch = batch.with_schema(schema.clone()).unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(coverage_of(&path), None);
    let planned =
        definitions::read_days(&store(dir.path(), false), [day].into_iter()).await.unwrap();
    assert_eq!(planned[&day].coverage, None);
    for exchange in EXCHANGES {
        assert!(planned[&day].covers(exchange), "{exchange}: its rows cover it");
    }
    assert!(!planned[&day].covers("bitmex-nosuch"));
    write_keyless(dir.path(), &["deribit"], days).await;
    assert_eq!(
        coverage_of(&path),
        sources(&[
            ("binance-futures", "unknown"),
            ("deribit", "symbol_parser"),
            ("okex-options", "unknown"),
        ]),
        "the rows kept are covered, their source unknown"
    );
    assert_eq!(read(&path).num_rows(), expected_keys(day, true).len());
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

/// An ISO-8601 instant as the original writes one (Python's `isoformat()` of a UTC time).
fn instant(text: &str, what: &str) -> DateTime<Utc> {
    assert!(text.ends_with("+00:00"), "{what}: {text:?} is a UTC ISO-8601 instant");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("{what}: {text:?}: {error}"))
        .with_timezone(&Utc)
}

/// The values of the original's columns follow its conventions, and agree with md's typed columns.
fn check_values(batch: &RecordBatch, day: NaiveDate, with_key: bool) {
    let text = |name: &str| batch.column_by_name(name).unwrap().as_string::<i32>().clone();
    let times = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap()
            .clone()
    };
    let (keys, kinds, venues) = (text("instrument_key"), text("instrument_type"), text("venue"));
    let (from, to) = (text("available_from_datetime"), text("available_to_datetime"));
    let (since, until) = (times("available_since"), times("available_to"));
    let (symbol_types, strikes, options) =
        (text("symbol_type"), text("strike"), text("option_type"));
    let (expiry, expiry_time, underlying) =
        (text("expiry"), times("expiry_time"), text("underlying"));
    let ticks = batch.column_by_name("tick_size").unwrap();
    let inverse = batch.column_by_name("inverse").unwrap().as_boolean().clone();
    for row in 0..batch.num_rows() {
        let key = instruments::InstrumentKey::parse(keys.value(row)).unwrap();
        let context = format!("{} on {day}", keys.value(row));
        assert_eq!(key.as_str(), keys.value(row), "{context}: keys are canonical");
        assert_eq!(
            (venues.value(row), kinds.value(row)),
            (key.venue(), key.instrument_type().key_str())
        );
        assert!(!key.venue().starts_with("OKEX") && kinds.value(row) != "PERP", "{context}");
        for (column, value) in
            [("data_provider", "tardis"), ("venue_type", "exchange"), ("asset_class", "crypto")]
        {
            assert_eq!(text(column).value(row), value, "{context}: {column}");
        }
        for column in
            ["ccxt_symbol", "ccxt_exchange", "settle_asset", "contract_type", "strike", "expiry"]
        {
            assert!(
                text(column).is_valid(row),
                "{context}: the original writes '' where it has no {column}"
            );
        }
        assert_eq!(text("date").value(row), day.to_string());
        // The availability: ISO strings, equal to md's typed columns; a listed instrument ends in 2099.
        let since_micros = since.value(row);
        assert_eq!(
            instant(from.value(row), &context).timestamp_micros(),
            since_micros,
            "{context}"
        );
        if until.is_valid(row) {
            assert_eq!(
                instant(to.value(row), &context).timestamp_micros(),
                until.value(row),
                "{context}"
            );
        } else {
            assert_eq!(to.value(row), "2099-12-31T00:00:00+00:00", "{context}: still listed");
        }
        let data_types = text("data_types").value(row).to_owned();
        assert!(!data_types.is_empty() && !data_types.contains(' '), "{context}: {data_types:?}");
        for name in data_types.split(',') {
            assert!(name.parse::<md_config::DataType>().is_ok(), "{context}: {name}");
        }
        let kind = key.instrument_type();
        assert_eq!(symbol_types.value(row), kind.as_str().to_ascii_uppercase(), "{context}");
        let dated = matches!(kind, InstrumentType::Future | InstrumentType::Option);
        assert_eq!(
            text("settlement_type").value(row),
            if dated { "cash" } else { "" },
            "{context}"
        );
        if dated {
            assert_eq!(
                underlying.value(row),
                format!("{}-{}", key.base(), key.quote()),
                "{context}"
            );
            assert_eq!(
                instant(expiry.value(row), &context).timestamp_micros(),
                expiry_time.value(row),
                "{context}: the true expiry"
            );
        } else if kind != InstrumentType::Combo {
            assert_eq!((underlying.value(row), expiry.value(row)), ("", ""), "{context}");
        }
        if kind == InstrumentType::Option {
            assert_eq!(strikes.value(row), key.strike().unwrap().as_str(), "{context}");
            assert_eq!(options.value(row), key.option_type().unwrap().as_str(), "{context}");
        } else {
            assert_eq!((strikes.value(row), options.value(row)), ("", ""), "{context}");
        }
        if kind == InstrumentType::Spot {
            assert!(inverse.is_valid(row) && !inverse.value(row), "{context}: spot is not inverse");
        }
        let contract_type = text("contract_type").value(row).to_owned();
        assert_eq!(contract_type, contract_type.to_ascii_uppercase(), "{context}");
        if with_key && kind != InstrumentType::Spot {
            assert!(
                contract_type.contains('_') || kind == InstrumentType::Combo,
                "{context}: {contract_type}"
            );
        }
        assert_eq!(
            ticks.is_valid(row),
            with_key,
            "{context}: tick size comes from the metadata only"
        );
    }
}

/// The original's reader (`data_downloader/instrument_reader.py`) looks for `available_from_datetime` and
/// `available_to_datetime`, parses them with `pd.to_datetime`, and keeps the rows with `from <= day <= to`, `day`
/// being midnight UTC; without those columns it falls back to every instrument. In md's file it finds them, every value
/// parses, and it keeps every instrument listed before the day began, still-listed ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_s_reader_finds_its_date_columns() {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    write(Some("TD.defs"), dir.path(), DateRange { start: day, end: day }).await;
    let batch = read(&dir.path().join(definitions::day_object(day)));
    let midnight = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let column = |name: &str| strings(&batch, name);
    let (from, to) = (column("available_from_datetime"), column("available_to_datetime"));
    let since = batch
        .column_by_name("available_since")
        .unwrap()
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .unwrap()
        .clone();
    let mut kept = 0;
    let mut listed = 0;
    for row in 0..batch.num_rows() {
        let (from, to) = (instant(&from[row], "from"), instant(&to[row], "to"));
        let keeps = from <= midnight && midnight <= to;
        let began_before = since.value(row) <= midnight.timestamp_micros();
        assert_eq!(keeps, began_before, "row {row}: {from} {to}");
        kept += usize::from(keeps);
        listed += usize::from(to.format("%Y").to_string() == "2099");
    }
    assert!(kept > 0 && listed > 0, "{kept} kept, {listed} still listed");
}

/// The Parquet types the original's file has (written by pandas and pyarrow) are the types of md's first columns,
/// in the same order; md's columns have every original column, even those null in every row of a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_s_columns_come_first_with_its_parquet_types() {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    write(Some("TD.defs"), dir.path(), DateRange { start: day, end: day }).await;
    let bytes = std::fs::read(dir.path().join(definitions::day_object(day))).unwrap();
    let parquet_columns = |bytes: Vec<u8>| {
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        schema
            .columns()
            .iter()
            .map(|column| {
                let info = column.self_type().get_basic_info();
                (
                    column.name().to_owned(),
                    format!(
                        "{:?} {:?} {:?}",
                        column.physical_type(),
                        column.logical_type_ref(),
                        info.repetition()
                    ),
                )
            })
            .collect::<Vec<_>>()
    };
    let md = parquet_columns(bytes);
    let original = parquet_columns(original_file());
    assert!(original.len() >= 20, "{original:?}");
    let names: Vec<&str> = md.iter().map(|(name, _)| name.as_str()).collect();
    let expected: Vec<&str> = SCHEMA[..ORIGINAL].iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names[..ORIGINAL], expected[..]);
    let mut last = None;
    for (name, kind) in &original {
        let index =
            names.iter().position(|n| n == name).unwrap_or_else(|| panic!("md has no {name}"));
        assert!(index < ORIGINAL, "{name} is among the first columns");
        assert!(last < Some(index), "{name} keeps the original's order");
        last = Some(index);
        assert_eq!(&md[index].1, kind, "{name}");
    }
}

/// `(instrument_key, tardis_exchange)` of a day file, in file order.
fn rows_of(batch: &RecordBatch) -> Vec<(String, String)> {
    strings(batch, "instrument_key").into_iter().zip(strings(batch, "tardis_exchange")).collect()
}

/// A sink directory holding `bytes` as the definitions of 2026-10-01: the directory, the day and the file's path.
fn stored_day(bytes: Vec<u8>) -> (tempfile::TempDir, NaiveDate, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let path = dir.path().join(definitions::day_object(day));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    (dir, day, path)
}

/// A day file the original wrote (recognised by its columns) is not planned from (its keys are the original's,
/// some wrong), and `md-cli instruments` replaces it without `--force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_by_the_original_is_replaced_without_force() {
    let (dir, day, path) = stored_day(original_file());
    let object = definitions::day_object(day);

    let error =
        definitions::read_days(&store(dir.path(), false), [day].into_iter()).await.unwrap_err();
    assert!(matches!(error, downloader::Error::OriginalDefinitions { .. }), "{error}");
    assert!(error.is_bad_input());
    let message = error.to_string();
    for needed in [
        object.as_str(),
        "market-tick-data-handler",
        "md-cli instruments --from 2026-10-01 --to 2026-10-01",
    ] {
        assert!(message.contains(needed), "{message}");
    }

    let report = try_write(Some("TD.defs"), dir.path(), DateRange { start: day, end: day }, false)
        .await
        .expect("no --force needed");
    let written = report.objects.iter().find(|written| written.object == object).unwrap();
    assert_eq!(written.replaced, Some("market-tick-data-handler"));
    assert!(written.changed);
    let batch = read(&path);
    assert_eq!(batch.num_columns(), SCHEMA.len());
    let rows = rows_of(&batch);
    assert_eq!(
        rows.iter().map(|(key, _)| key.clone()).collect::<BTreeSet<_>>(),
        expected_keys(day, true),
        "md's rows only: the original's row of binance, not in this run, is gone"
    );
    assert!(rows.iter().all(|(_, exchange)| exchange != "binance"));
    let planned =
        definitions::read_days(&store(dir.path(), false), [day].into_iter()).await.unwrap();
    assert_eq!(planned[&day].instruments.len(), rows.len());

    // Written again: md's own file now, merged and verified as usual.
    let again = write(Some("TD.defs"), dir.path(), DateRange { start: day, end: day }).await;
    let written = again.objects.iter().find(|written| written.object == object).unwrap();
    assert_eq!((written.replaced, written.changed), (None, false));
}

/// The columns md wrote before this version, with their types.
fn earlier_md_schema() -> Schema {
    let time = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    Schema::new(
        [
            Field::new("date", DataType::Date32, false),
            text("instrument_key", false),
            text("venue", false),
            text("instrument_type", false),
            text("canonical_symbol", false),
            text("base_asset", false),
            text("quote_asset", false),
            text("price_asset", true),
            text("settle_asset", true),
            Field::new("inverse", DataType::Boolean, true),
            Field::new("quanto", DataType::Boolean, true),
            text("contract_type", true),
            text("expiry", true),
            Field::new("expiry_time", time(), true),
            text("strike", true),
            text("option_type", true),
            text("legs", true),
            text("underlying", true),
            float("contract_size"),
            float("tick_size"),
            float("amount_increment"),
            float("min_size"),
            float("min_notional"),
            float("maker_fee"),
            float("taker_fee"),
            text("tardis_exchange", false),
            text("tardis_symbol", false),
            text("tardis_symbol_type", false),
            text("exchange_raw_symbol", false),
        ]
        .into_iter()
        .chain(earlier_md_availability())
        .chain([text("source", false)])
        .collect::<Vec<_>>(),
    )
}

/// The availability columns of both of an earlier md's files: since, to, and the data types.
fn earlier_md_availability() -> [Field; 3] {
    let time = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let types = DataType::List(Arc::new(Field::new("item", DataType::Utf8, false)));
    [
        Field::new("available_since", time(), false),
        Field::new("available_to", time(), true),
        Field::new("data_types", types, false),
    ]
}

/// The columns of `grouped_datasets.parquet` as md wrote it before this version.
fn earlier_md_groups_schema() -> Schema {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Schema::new(
        [
            Field::new("date", DataType::Date32, false),
            text("object_key"),
            text("venue"),
            text("instrument_type"),
            text("tardis_exchange"),
            text("tardis_symbol"),
            text("tardis_symbol_type"),
        ]
        .into_iter()
        .chain(earlier_md_availability())
        .collect::<Vec<_>>(),
    )
}

/// A day file as an earlier md wrote it, in `schema`: `(key, instrument_type, tardis_exchange, tardis_symbol, data
/// types)` per row; `object_key` is filled like `instrument_key`.
fn earlier_md_file(
    schema: Schema,
    day: NaiveDate,
    rows: &[(&str, &str, &str, &str, &[&str])],
) -> Vec<u8> {
    let schema = Arc::new(schema);
    let n = rows.len();
    let column = |index: usize| -> Vec<&str> {
        rows.iter()
            .map(|row| match index {
                0 => row.0,
                1 => row.1,
                2 => row.2,
                _ => row.3,
            })
            .collect()
    };
    let days = (day - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32;
    let arrays: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| -> ArrayRef {
            match (field.name().as_str(), field.data_type()) {
                ("date", _) => Arc::new(Date32Array::from(vec![days; n])),
                ("instrument_key" | "object_key", _) => Arc::new(StringArray::from(column(0))),
                ("instrument_type", _) => Arc::new(StringArray::from(column(1))),
                ("tardis_exchange", _) => Arc::new(StringArray::from(column(2))),
                ("tardis_symbol" | "exchange_raw_symbol", _) => {
                    Arc::new(StringArray::from(column(3)))
                }
                ("data_types", _) => {
                    let mut builder = ListBuilder::new(StringBuilder::new())
                        .with_field(Field::new("item", DataType::Utf8, false));
                    for row in rows {
                        row.4.iter().for_each(|name| builder.values().append_value(name));
                        builder.append(true);
                    }
                    Arc::new(builder.finish())
                }
                (_, DataType::Utf8) if !field.is_nullable() => {
                    Arc::new(StringArray::from(vec!["x"; n]))
                }
                (_, DataType::Utf8) => Arc::new(StringArray::from(vec![None::<&str>; n])),
                (_, DataType::Boolean) => Arc::new(BooleanArray::from(vec![None; n])),
                (_, DataType::Float64) => Arc::new(Float64Array::from(vec![None; n])),
                (_, DataType::Timestamp(..)) if !field.is_nullable() => {
                    Arc::new(TimestampMicrosecondArray::from(vec![0; n]).with_timezone("UTC"))
                }
                (_, DataType::Timestamp(..)) => {
                    Arc::new(TimestampMicrosecondArray::from(vec![None; n]).with_timezone("UTC"))
                }
                (name, other) => panic!("{name}: {other}"),
            }
        })
        .collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    out
}

/// md's earlier files spelt perpetuals `PERP` and OKX venues `OKEX...`: the plan reads them under the canonical
/// keys and types, with their list of data types; `md-cli instruments` replaces them without `--force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_of_an_earlier_md_is_planned_under_canonical_keys_and_replaced_without_force() {
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let (dir, _, path) = stored_day(earlier_md_file(
        earlier_md_schema(),
        day,
        &[
            (
                "DERIBIT:PERP:BTC-USD",
                "PERP",
                "deribit",
                "BTC-PERPETUAL",
                &["trades", "liquidations"],
            ),
            (
                "OKEX-SWAP:PERP:BTC-USDT",
                "PERP",
                "okex-swap",
                "BTC-USDT-SWAP",
                &["trades", "someday_type"],
            ),
            ("OKEX:SPOT_PAIR:BTC-USDT", "SPOT_PAIR", "okex", "BTC-USDT", &[]),
            (
                "DERIBIT:OPTION:BTC-USD-261127-100000-CALL",
                "OPTION",
                "deribit",
                "BTC-27NOV26-100000-C",
                &["trades"],
            ),
        ],
    ));
    let groups = definitions::groups_object(day);
    std::fs::write(
        dir.path().join(&groups),
        earlier_md_file(
            earlier_md_groups_schema(),
            day,
            &[("DERIBIT:PERP:ALL", "PERP", "deribit", "PERPETUALS", &["derivative_ticker"])],
        ),
    )
    .unwrap();
    let planned =
        definitions::read_days(&store(dir.path(), false), [day].into_iter()).await.unwrap();
    let grouped: Vec<(String, InstrumentType, bool)> = planned[&day]
        .grouped
        .iter()
        .map(|g| (g.instrument_key.clone(), g.instrument_type, g.grouped))
        .collect();
    assert_eq!(grouped, [("DERIBIT:PERPETUAL:ALL".to_owned(), InstrumentType::Perpetual, true)]);
    let found: Vec<(String, InstrumentType, String, Vec<String>)> = planned[&day]
        .instruments
        .iter()
        .map(|i| {
            let types = i.data_types.iter().map(|t| t.to_string()).collect();
            (i.instrument_key.clone(), i.instrument_type, i.symbol.clone(), types)
        })
        .collect();
    let row = |key: &str, kind, symbol: &str, types: &[&str]| {
        (
            key.to_owned(),
            kind,
            symbol.to_owned(),
            types.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        found,
        [
            row(
                "DERIBIT:PERPETUAL:BTC-USD",
                InstrumentType::Perpetual,
                "BTC-PERPETUAL",
                &["trades", "liquidations"]
            ),
            row(
                "OKX-SWAP:PERPETUAL:BTC-USDT",
                InstrumentType::Perpetual,
                "BTC-USDT-SWAP",
                &["trades"]
            ),
            row("OKX:SPOT_PAIR:BTC-USDT", InstrumentType::Spot, "BTC-USDT", &[]),
            row(
                "DERIBIT:OPTION:BTC-USD-261127-100000-CALL",
                InstrumentType::Option,
                "BTC-27NOV26-100000-C",
                &["trades"]
            ),
        ]
    );

    let report = try_write(Some("TD.defs"), dir.path(), DateRange { start: day, end: day }, false)
        .await
        .expect("no --force needed");
    for name in [&definitions::day_object(day), &groups] {
        let written = report.objects.iter().find(|written| &written.object == name).unwrap();
        assert_eq!(written.replaced, Some("an earlier md"), "{name}");
    }
    let group_keys = strings(&read(&dir.path().join(&groups)), "object_key");
    assert!(group_keys.contains(&"DERIBIT:PERPETUAL:ALL".to_owned()), "{group_keys:?}");
    let batch = read(&path);
    assert_eq!(batch.num_columns(), SCHEMA.len());
    assert_eq!(
        rows_of(&batch).into_iter().map(|(key, _)| key).collect::<BTreeSet<_>>(),
        expected_keys(day, true)
    );
}

/// A file that is neither md's nor the original's is left alone unless `--force` says otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_file_still_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let object = definitions::day_object(day);
    let path = dir.path().join(&object);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("instrument_key", DataType::Utf8, false),
        Field::new("tardis_exchange", DataType::Utf8, false),
        Field::new("notes", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec!["DERIBIT:PERPETUAL:BTC-USD"])),
            Arc::new(StringArray::from(vec!["deribit"])),
            Arc::new(StringArray::from(vec!["mine"])),
        ],
    )
    .unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let days = DateRange { start: day, end: day };
    let error = try_write(Some("TD.defs"), dir.path(), days, false).await.unwrap_err();
    assert!(matches!(error, downloader::Error::Foreign { .. }), "{error}");
    assert!(error.to_string().contains(&object), "{error}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left alone");
    let report = try_write(Some("TD.defs"), dir.path(), days, true).await.unwrap();
    let written = report.objects.iter().find(|written| written.object == object).unwrap();
    assert_eq!(written.replaced, None);
    assert_eq!(read(&path).num_columns(), SCHEMA.len());
}
