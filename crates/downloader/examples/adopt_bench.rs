//! The adoption benchmark's worker, driven by `cargo xtask bench adopt`:
//! `adopt_bench [--objects N] [--rows R] [--concurrency C]`.
//!
//! Starts test-support's GCS fake in this process (on its own runtime), fills it with N Parquet objects written by
//! another writer (arrow-rs, in the schema md expects of trades, R rows in row groups of 100,000, snappy, as the
//! original system wrote them; one file's bytes under N names, no md record), plans one unit per object and runs
//! `Downloader::run` over them with `MAX_CONCURRENT_REQUESTS=C` and a Tardis URL where nothing listens (a Tardis
//! request would fail its unit, and the run checks none did). Prints one JSON line: objects, adopted, seconds,
//! objects per second, the process's CPU seconds during the run (md and the fake together), the fake's requests
//! by kind and the bytes its GETs served.

#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a command-line tool")]

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use downloader::download::Downloader;
use downloader::download::adopt;
use downloader::download::plan::{Plan, Unit, UnitObject};
use downloader::download::progress::NoProgress;
use gcs_sink::ObjectSink;
use md_config::{
    Config, DataType, DateRange, InstrumentType, ObjectFields, OutputFormat, OutputFormats,
    SinkConfig, SinkLocation,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use test_support::gcs::{FakeGcs, RequestKind};
use tokio_util::sync::CancellationToken;

type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

const BUCKET: &str = "adopt-bench";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> Result<usize> {
        match args.iter().position(|arg| arg == name) {
            Some(index) => {
                Ok(args.get(index + 1).ok_or(format!("{name} needs a value"))?.parse()?)
            }
            None => Ok(default),
        }
    };
    let objects = flag("--objects", 10_000)?;
    let rows = flag("--rows", 100_000)?;
    let concurrency =
        NonZeroUsize::new(flag("--concurrency", 16)?).ok_or("--concurrency must be positive")?;

    let fake_runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let fake = fake_runtime.block_on(FakeGcs::start())?;

    let mut config = Config::defaults();
    config.sink = SinkConfig {
        location: SinkLocation::Gcs { bucket: BUCKET.into(), prefix: String::new() },
        ..config.sink.clone()
    };
    config.sink.gcs.emulator_host = Some(fake.url().parse()?);
    config.tardis.datasets_url = "http://127.0.0.1:9/".parse()?;
    config.tardis.api_url = "http://127.0.0.1:9/".parse()?;
    config.tardis.max_retries = 0;
    config.download.output_formats = OutputFormats::PARQUET;
    config.download.data_types = vec![DataType::Trades];
    config.service.max_concurrent_requests = concurrency;

    let file = original_file(rows)?;
    let plan = plan(&config, objects);
    for unit in &plan.units {
        fake.insert(BUCKET, unit.object(), file.clone(), &[]);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        let sink = ObjectSink::from_config(&config.sink)?;
        let client = tardis_client::TardisClient::new(&config.tardis)?;
        let downloader = Downloader::new(&config, client, sink);
        let before = fake.counters();
        let served_before = fake.served_bytes();
        let cpu_before = cpu_ticks()?;
        let started = Instant::now();
        let report = downloader.run(&plan, Arc::new(NoProgress), CancellationToken::new()).await?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu_ticks = cpu_ticks()? - cpu_before;
        let after = fake.counters();
        let requests: BTreeMap<String, u64> = [
            RequestKind::Head,
            RequestKind::Get,
            RequestKind::Put,
            RequestKind::List,
            RequestKind::Copy,
        ]
        .into_iter()
        .map(|kind| (format!("{kind:?}").to_lowercase(), after.of(kind) - before.of(kind)))
        .collect();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            report,
            seconds,
            cpu_ticks,
            requests,
            fake.served_bytes() - served_before,
        ))
    })?;
    let (report, seconds, cpu_ticks, requests, served) = report;
    let manifest = &report.manifest;
    let units = manifest.units;
    if units.adopted != objects
        || units.failed + units.done + units.left_alone + units.not_started != 0
    {
        return Err(
            format!("expected {objects} objects adopted and nothing else, got {units:?}").into()
        );
    }
    if !manifest.adopted_objects.iter().all(|object| object.checked == adopt::PARQUET_FOOTER) {
        return Err("an object was not adopted from its footer".into());
    }
    println!(
        "{}",
        serde_json::json!({
            "objects": objects,
            "adopted": units.adopted,
            "rows": rows,
            "object_bytes": file.len(),
            "concurrency": concurrency.get(),
            "seconds": seconds,
            "objects_per_second": objects as f64 / seconds,
            "cpu_ticks": cpu_ticks,
            "requests_total": requests.values().sum::<u64>(),
            "requests": requests,
            "served_bytes": served,
        })
    );
    drop(fake);
    Ok(())
}

/// A trades file as the original system wrote it: its columns and types, snappy, row groups of 100,000 rows.
fn original_file(rows: usize) -> Result<bytes::Bytes> {
    let schema =
        downloader::convert::tick_schema(DataType::Trades, &md_config::ParquetOptions::default());
    let base = 1_704_067_200_000_000i64;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values((0..rows as i64).map(|row| base + row * 853))),
        Arc::new(Int64Array::from_iter_values((0..rows as i64).map(|row| base + row * 853 + 1200))),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| format!("{}", 300_000_000 + row)),
        )),
        Arc::new(StringArray::from_iter_values(
            (0..rows).map(|row| if row % 3 == 0 { "sell" } else { "buy" }),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|row| 42_000.0 + (row * 7919 % 2_000) as f64 / 2.0),
        )),
        Arc::new(Float64Array::from_iter_values(
            (0..rows).map(|row| (row * 104_729 % 10_000) as f64 / 1000.0),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(100_000))
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, schema, Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(bytes::Bytes::from(out))
}

/// One trades unit per object: 100 instruments a day over as many days as it takes.
fn plan(config: &Config, objects: usize) -> Plan {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
    let days = objects.div_ceil(100).max(1) as u64;
    let units = (0..objects)
        .map(|index| {
            let date = first + chrono::Days::new((index / 100) as u64);
            let symbol = format!("S{:03}-PERPETUAL", index % 100);
            let instrument_key = format!("DERIBIT:PERPETUAL:S{:03}-USD", index % 100);
            let name = config.download.layout.render(&ObjectFields {
                date,
                exchange: "deribit",
                data_type: DataType::Trades,
                symbol: &symbol,
                instrument_key: &instrument_key,
                format: OutputFormat::Parquet,
            });
            Unit {
                date,
                exchange: "deribit".into(),
                data_type: DataType::Trades,
                symbol,
                instrument_key,
                instrument_type: InstrumentType::Perpetual,
                grouped: false,
                objects: vec![UnitObject { format: OutputFormat::Parquet, name }],
                shard: Some(0),
                incident: None,
            }
        })
        .collect();
    Plan {
        range: DateRange { start: first, end: first + chrono::Days::new(days - 1) },
        units,
        not_yet_exported: Vec::new(),
        days_not_exported: Vec::new(),
        exported_until: BTreeMap::new(),
        days: None,
        total_shards: 1,
        uncovered: 0,
    }
}

/// This process's CPU time so far (user + system, every thread), in clock ticks, from `/proc/self/stat`.
fn cpu_ticks() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after_name = &stat[stat.rfind(')').ok_or("no command name in /proc/self/stat")? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next().ok_or("no utime")?.parse()?;
    let system: u64 = fields.next().ok_or("no stime")?.parse()?;
    Ok(user + system)
}
