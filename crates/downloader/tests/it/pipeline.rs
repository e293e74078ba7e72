//! The main job end to end against the Tardis stand-in: definitions, plan, download, resume, verification,
//! faults, sharding, quota and cancellation.

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use downloader::definitions::{self, DefinitionsStore};
use downloader::download::Freshness;
use downloader::download::manifest::RunStatus;
use downloader::download::pipeline::{Downloader, RunReport};
use downloader::download::plan::{self, Plan};
use downloader::download::progress::NoProgress;
use downloader::download::quota;
use futures::TryStreamExt;
use gcs_sink::ObjectSink;
use md_config::{Config, DataType, DateRange, DateSpan, LoadOptions, SinkConfig, SinkLocation};
use tardis_client::{RetryPolicy, TardisClient};
use test_support::tardis::{FaultRates, StubConfig, TardisStub, dataset_path};
use tokio_util::sync::CancellationToken;

const KEY: &str = "TD.pipeline-test-key";

/// The days every test plans: 2026-10-01 and 2026-10-02.
const DAYS: DateRange = DateRange {
    start: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
    end: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
};

/// A whole configuration with the defaults, then pointed at the stand-in and a local directory, storing the raw
/// `.csv.gz` (these tests hold every object to the stand-in's bytes; the default Parquet output has its own tests).
fn config(stub: &TardisStub, root: &Path) -> Config {
    let mut config = md_config::load(&LoadOptions {
        environment: Some(BTreeMap::new()),
        working_dir: Some(root.to_path_buf()),
        skip_system_config: true,
        ..LoadOptions::default()
    })
    .expect("defaults load")
    .config;
    config.tardis = stub.tardis_config();
    config.sink = SinkConfig {
        location: SinkLocation::Local { root: root.join("sink") },
        ..SinkConfig::default()
    };
    config.instruments.exchanges = vec!["deribit".into(), "binance-futures".into()];
    config.instruments.dates = DateSpan::fixed(DAYS);
    config.download.dates = config.instruments.dates;
    config.download.data_types =
        vec![DataType::Trades, DataType::BookSnapshot5, DataType::OptionsChain];
    config.download.instrument_types =
        vec![md_config::InstrumentType::Perpetual, md_config::InstrumentType::Option];
    config.service.max_concurrent_requests = NonZeroUsize::new(8).unwrap();
    config.download.output_formats = md_config::OutputFormats::RAW;
    config
}

fn fast_client(config: &Config) -> TardisClient {
    let policy = RetryPolicy {
        max_retries: 12,
        base: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        jitter: Duration::from_millis(5),
        missing_retry_after_penalty: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    TardisClient::new(&config.tardis).expect("client").with_retry_policy(policy)
}

pub(crate) struct Setup {
    pub(crate) stub: TardisStub,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: Config,
    pub(crate) sink: ObjectSink,
    pub(crate) client: TardisClient,
    pub(crate) plan: Plan,
}

pub(crate) async fn setup(stub_config: StubConfig, change: impl FnOnce(&mut Config)) -> Setup {
    let stub = TardisStub::start(StubConfig { api_key: Some(KEY.into()), ..stub_config })
        .await
        .expect("stand-in");
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&stub, dir.path());
    change(&mut config);
    let sink = ObjectSink::from_config(&config.sink).expect("sink");
    let client = fast_client(&config);
    let store = DefinitionsStore::new(sink.clone(), false);
    let report =
        definitions::write_definitions(&client, &store, &config.instruments.exchanges, DAYS)
            .await
            .expect("definitions written");
    assert!(report.all_fetched(), "{report:?}");
    let plan = build_plan(&config, &sink).await;
    Setup { stub, dir, config, sink, client, plan }
}

pub(crate) async fn build_plan(config: &Config, sink: &ObjectSink) -> Plan {
    let store = DefinitionsStore::new(sink.clone(), false);
    let days = definitions::read_days(&store, DAYS.days()).await.expect("definitions read");
    plan::build(
        &days,
        &config.download,
        DAYS,
        &config.sharding,
        &Freshness::default(),
        definitions::day_object,
    )
    .expect("plan")
}

pub(crate) async fn run(setup: &Setup, config: &Config) -> RunReport {
    Downloader::new(config, setup.client.clone(), setup.sink.clone())
        .run(&setup.plan, Arc::new(NoProgress), CancellationToken::new())
        .await
        .expect("run")
}

/// Every object of the plan holds exactly the bytes the stand-in serves.
async fn assert_byte_exact(setup: &Setup) {
    for unit in &setup.plan.units {
        let path = dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol);
        let expected = setup
            .stub
            .expected_body(&path)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{path} is served"));
        let stored = std::fs::read(setup.dir.path().join("sink").join(unit.object()))
            .unwrap_or_else(|error| panic!("{} missing: {error}", unit.object()));
        assert!(stored == expected.as_ref(), "{} differs from {path}", unit.object());
    }
}

pub(crate) fn dataset_requests(stub: &TardisStub) -> usize {
    stub.requests().iter().filter(|record| record.path.ends_with(".csv.gz")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_day_multi_venue_download_lands_byte_exact_and_a_rerun_downloads_nothing() {
    let setup = setup(StubConfig::default(), |_| {}).await;
    let units = setup.plan.units.len();
    assert!(units >= 12, "a real plan: {units} units");
    let venues: BTreeSet<&str> =
        setup.plan.units.iter().map(|unit| unit.exchange.as_str()).collect();
    assert_eq!(venues.len(), 2);
    assert!(
        setup
            .plan
            .units
            .iter()
            .any(|unit| unit.grouped && unit.data_type == DataType::OptionsChain)
    );

    let report = run(&setup, &setup.config).await;
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert_eq!(report.manifest.units.done, units);
    assert_byte_exact(&setup).await;
    let manifest =
        std::fs::read_to_string(setup.dir.path().join("sink").join(&report.manifest_object))
            .unwrap();
    assert!(manifest.contains("\"status\": \"complete\""), "{manifest}");

    setup.stub.reset_counters();
    let rerun = run(&setup, &setup.config).await;
    assert_eq!(rerun.manifest.status, RunStatus::Complete);
    assert_eq!((rerun.manifest.units.skipped, rerun.manifest.units.done), (units, 0));
    assert_eq!(dataset_requests(&setup.stub), 0, "a rerun downloads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_corrupted_in_the_sink_is_detected_and_replaced() {
    let setup =
        setup(StubConfig::default(), |config| config.download.data_types = vec![DataType::Trades])
            .await;
    assert_eq!(run(&setup, &setup.config).await.manifest.status, RunStatus::Complete);
    let victims: Vec<String> =
        setup.plan.units.iter().take(2).map(|unit| unit.object().to_owned()).collect();
    // One object keeps its length with one byte flipped; the other is truncated.
    let first = setup.dir.path().join("sink").join(&victims[0]);
    let mut bytes = std::fs::read(&first).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&first, bytes).unwrap();
    let second = setup.dir.path().join("sink").join(&victims[1]);
    let bytes = std::fs::read(&second).unwrap();
    std::fs::write(&second, &bytes[..bytes.len() / 3]).unwrap();

    setup.stub.reset_counters();
    let report = run(&setup, &setup.config).await;
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert_eq!((report.manifest.units.done, report.manifest.units.replaced), (2, 2));
    assert_eq!(dataset_requests(&setup.stub), 2, "only the two bad units are downloaded again");
    assert_byte_exact(&setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_every_object_is_byte_exact_and_none_is_corrupt() {
    let rates = FaultRates {
        status_500: 0.10,
        too_many_requests: 0.05,
        drop_mid_body: 0.05,
        corrupt_byte: 0.02,
        truncated_gzip: 0.01,
        stall: 0.01,
        ..FaultRates::default()
    };
    let stub_config = StubConfig {
        fault_rates: rates,
        seed: 7,
        retry_after_secs: 0,
        stall: Duration::from_millis(200),
        ranges: false,
        ..StubConfig::default()
    };
    let setup = setup(stub_config, |_| {}).await;
    let report = run(&setup, &setup.config).await;
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert!(report.manifest.retries > 0, "faults were injected and retried");
    assert_byte_exact(&setup).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_parquet_output_the_converter_is_the_gzip_check_and_corrupt_files_are_retried() {
    // The client skips its own inflate for Parquet output; a corrupt or cut gzip must still be retried, never stored.
    let rates = FaultRates { corrupt_byte: 0.25, truncated_gzip: 0.1, ..FaultRates::default() };
    let stub_config =
        StubConfig { fault_rates: rates, seed: 11, ranges: false, ..StubConfig::default() };
    let setup = setup(stub_config, |config| {
        config.download.output_formats = md_config::OutputFormats::PARQUET;
        config.download.data_types = vec![DataType::Trades];
    })
    .await;
    let report = run(&setup, &setup.config).await;
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert!(report.manifest.retries > 0, "corrupt files were served and retried");
    for unit in &setup.plan.units {
        let path = dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol);
        let served = setup.stub.expected_body(&path).await.unwrap().expect("served");
        let mut csv = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::MultiGzDecoder::new(served.as_ref()),
            &mut csv,
        )
        .unwrap();
        let file = std::fs::File::open(setup.dir.path().join("sink").join(unit.object())).unwrap();
        let rows = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        let rows = parquet::file::reader::FileReader::metadata(&rows).file_metadata().num_rows();
        assert_eq!(rows as usize, csv.lines().count() - 1, "{}", unit.object());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_gzip_check_off_a_raw_download_stores_what_was_sent() {
    // TARDIS_VERIFY_GZIP=false trades the inflate for CPU: a corrupt byte is then only caught downstream.
    let rates = FaultRates { corrupt_byte: 1.0, ..FaultRates::default() };
    let stub_config =
        StubConfig { fault_rates: rates, seed: 3, ranges: false, ..StubConfig::default() };
    let setup = setup(stub_config, |config| {
        config.tardis.verify_gzip = false;
        config.download.data_types = vec![DataType::Trades];
    })
    .await;
    let client = TardisClient::new(&setup.config.tardis).unwrap();
    let report = Downloader::new(&setup.config, client, setup.sink.clone())
        .run(&setup.plan, Arc::new(NoProgress), CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(report.manifest.status, RunStatus::Complete, "{:#?}", report.manifest.errors);
    assert_eq!(report.manifest.retries, 0, "nothing checked, nothing retried");
    let unit = &setup.plan.units[0];
    let stored = std::fs::read(setup.dir.path().join("sink").join(unit.object())).unwrap();
    let mut text = Vec::new();
    let inflated = std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(stored.as_slice()),
        &mut text,
    );
    assert!(inflated.is_err(), "the stand-in corrupted every body, and it was stored as sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_over_one_plan_cover_every_unit_exactly_once() {
    let setup = setup(StubConfig::default(), |_| {}).await;
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for shard in 0..4 {
        let mut config = setup.config.clone();
        config.sharding.total_shards = NonZeroU32::new(4).unwrap();
        config.sharding.shard_index = shard;
        let plan = build_plan(&config, &setup.sink).await;
        let report = Downloader::new(&config, setup.client.clone(), setup.sink.clone())
            .run(&plan, Arc::new(NoProgress), CancellationToken::new())
            .await
            .unwrap();
        assert_eq!(report.manifest.status, RunStatus::Complete);
        assert_eq!(
            report.manifest.units.skipped, 0,
            "shard {shard} skipped a unit another shard did"
        );
        for object in report.manifest.done_objects {
            *seen.entry(object).or_default() += 1;
        }
    }
    let planned: BTreeSet<String> =
        setup.plan.units.iter().map(|unit| unit.object().to_owned()).collect();
    assert_eq!(seen.keys().cloned().collect::<BTreeSet<_>>(), planned);
    assert!(seen.values().all(|count| *count == 1), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_share_stops_the_shard_cleanly() {
    let setup = setup(StubConfig::default(), |_| {}).await;
    let mut config = setup.config.clone();
    // About three 64 KiB files' worth for the whole fleet of one shard.
    config.tardis.daily_quota_bytes = NonZeroU64::new(200_000);
    config.service.max_concurrent_requests = NonZeroUsize::new(1).unwrap();
    let report = run(&setup, &config).await;
    assert_eq!(report.manifest.status, RunStatus::QuotaExhausted);
    assert!(
        report.manifest.units.done >= 1 && report.manifest.units.not_started >= 1,
        "{:?}",
        report.manifest.units
    );
    assert!(report.manifest.bytes_downloaded <= 200_000, "{}", report.manifest.bytes_downloaded);

    // The share is per UTC day, not per run: the day's ledger holds what this run reserved, and a rerun the same
    // day (a fleet engine retrying the exit-1 task) starts from it instead of from a fresh share.
    let today = chrono::Utc::now().date_naive();
    let ledger = read_ledger(&setup.sink, &quota::object_name(today, 0, 1)).await;
    assert_eq!((ledger.day, ledger.share_bytes), (today, 200_000));
    assert!(
        ledger.used_bytes >= report.manifest.bytes_downloaded && ledger.used_bytes <= 200_000,
        "{ledger:?} after {} bytes",
        report.manifest.bytes_downloaded
    );
    let requests_before = setup.stub.counters().total;
    let rerun = run(&setup, &config).await;
    assert_eq!(rerun.manifest.status, RunStatus::QuotaExhausted);
    assert_eq!(
        rerun.manifest.units.skipped, report.manifest.units.done,
        "{:?}",
        rerun.manifest.units
    );
    let reserved_again =
        read_ledger(&setup.sink, &quota::object_name(today, 0, 1)).await.used_bytes;
    assert!(reserved_again <= 200_000, "the rerun went over the day's share: {reserved_again}");
    assert!(
        setup.stub.counters().total - requests_before <= 1,
        "the rerun may open at most the one request it finds no room for"
    );

    // A ledger that is not one stops the run with an error naming it, before any download.
    let object = quota::object_name(today, 0, 1);
    setup
        .sink
        .put_bytes(&object, b"not json".to_vec(), gcs_sink::WriteMode::Replace)
        .await
        .unwrap();
    let error = Downloader::new(&config, setup.client.clone(), setup.sink.clone())
        .run(&setup.plan, Arc::new(NoProgress), CancellationToken::new())
        .await
        .expect_err("a broken ledger is an error");
    assert!(error.to_string().contains(&object), "{error}");
    assert!(
        matches!(
            &error,
            downloader::Error::Ledger { problem: downloader::LedgerProblem::NotALedger(_), .. }
        ),
        "{error:?}"
    );
    assert!(!error.is_bad_input(), "a damaged ledger is work that failed (exit 1)");
}

async fn read_ledger(sink: &ObjectSink, object: &str) -> quota::Ledger {
    let body: Vec<u8> = sink
        .get(object)
        .await
        .expect("the ledger is stored")
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .unwrap();
    serde_json::from_slice(&body).expect("a ledger")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_aborts_in_flight_units_and_a_rerun_completes() {
    let stub_config =
        StubConfig { bandwidth: Some(256 * 1024), file_size: 256 * 1024, ..StubConfig::default() };
    let setup =
        setup(stub_config, |config| config.download.data_types = vec![DataType::Trades]).await;
    let cancel = CancellationToken::new();
    let downloader = Downloader::new(&setup.config, setup.client.clone(), setup.sink.clone());
    let canceller = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        canceller.cancel();
    });
    let report = downloader.run(&setup.plan, Arc::new(NoProgress), cancel).await.unwrap();
    assert_eq!(report.manifest.status, RunStatus::Interrupted);
    assert!(report.manifest.units.not_started > 0);
    // Whatever is stored is complete: every present object is byte-exact.
    for unit in &setup.plan.units {
        let stored = setup.dir.path().join("sink").join(unit.object());
        if let Ok(bytes) = std::fs::read(&stored) {
            let path =
                dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol);
            assert!(
                bytes == setup.stub.expected_body(&path).await.unwrap().unwrap().as_ref(),
                "partial {}",
                unit.object()
            );
        }
    }
    let rerun = run(&setup, &setup.config).await;
    assert_eq!(rerun.manifest.status, RunStatus::Complete);
    assert_byte_exact(&setup).await;
}
