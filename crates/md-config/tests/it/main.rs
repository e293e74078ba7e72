//! md-config: loading from every source, precedence, and the documented variable table.

mod compat;
mod dates;
mod deploy;
mod flags;
mod instrument_type;
mod layout;
mod original;

use std::collections::BTreeMap;
use std::path::Path;

use md_config::{LoadOptions, Loaded, Override, Source, VARS, Var};

fn load_in(
    dir: &Path,
    environment: &[(&str, &str)],
    overrides: Vec<Override>,
) -> md_config::Result<Loaded> {
    md_config::load(&LoadOptions {
        environment: Some(
            environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        ),
        working_dir: Some(dir.to_path_buf()),
        home_dir: Some(dir.join("home")),
        skip_system_config: true,
        today: Some(chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
        overrides,
        ..LoadOptions::default()
    })
}

/// A directory holding `files` (name, content): a `.env`, a `config.yaml`.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    dir
}

fn setting<'a>(loaded: &'a Loaded, name: &str) -> (Option<&'a str>, Source) {
    let setting =
        loaded.settings.iter().find(|setting| setting.name == name).expect("known variable");
    (setting.value.as_deref(), setting.source)
}

#[test]
fn precedence_is_flag_env_dotenv_file_default() {
    let dir = dir_with(&[
        (
            "config.yaml",
            "TARDIS_MAX_RETRIES: 1\nservice:\n  batch_size: 10\n  cache_ttl: 5\n  log_level: debug\n",
        ),
        (".env", "TARDIS_MAX_RETRIES=2\nBATCH_SIZE=20\nCACHE_TTL=6\n"),
    ]);
    let flag = Override { var: Var::TardisMaxRetries, flag: "--retries", value: "4".into() };
    let loaded =
        load_in(dir.path(), &[("TARDIS_MAX_RETRIES", "3"), ("BATCH_SIZE", "30")], vec![flag])
            .unwrap();
    assert_eq!(loaded.config.tardis.max_retries, 4);
    assert_eq!(setting(&loaded, "TARDIS_MAX_RETRIES"), (Some("4"), Source::Flag));
    assert_eq!(loaded.config.service.batch_size.get(), 30);
    assert_eq!(setting(&loaded, "BATCH_SIZE"), (Some("30"), Source::Env));
    assert_eq!(loaded.config.service.cache_ttl.as_secs(), 6);
    assert_eq!(setting(&loaded, "CACHE_TTL"), (Some("6"), Source::DotEnv));
    assert_eq!(loaded.config.service.log_level, md_config::LogLevel::Debug);
    assert_eq!(setting(&loaded, "LOG_LEVEL"), (Some("debug"), Source::File));
    assert_eq!(setting(&loaded, "TARDIS_TIMEOUT"), (Some("30"), Source::Default));
}

#[test]
fn yaml_in_the_seed_systems_sections_is_understood() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("home/.tick-data")).unwrap();
    std::fs::write(
        dir.path().join("home/.tick-data/config.yaml"),
        "tardis:\n  api_key: TD.from-yaml\n  base_url: http://127.0.0.1:9/\n  timeout: 12\n  max_concurrent: 7\n  rate_limit_per_vm: 500000\n\
         gcp:\n  project_id: proj\n  bucket: tick-bucket\n  region: europe-west1\n\
         service:\n  log_destination: gcp\n  memory_efficient: true\n\
         sharding:\n  shard_index: 2\n  total_shards: 30\n  instruments_per_shard: 2\n\
         download:\n  data_types: [trades, incremental_book_L2]\n  instrument_types: [option, PERP]\n",
    )
    .unwrap();
    let config = load_in(dir.path(), &[], vec![]).unwrap().config;
    assert_eq!(config.tardis.api_key.as_ref().map(|key| key.expose()), Some("TD.from-yaml"));
    assert_eq!(config.tardis.datasets_url.as_str(), "http://127.0.0.1:9/");
    assert_eq!(config.tardis.read_timeout.as_secs(), 12);
    assert_eq!(config.tardis.max_concurrent.get(), 7);
    assert_eq!(config.sink.location.to_string(), "gs://tick-bucket");
    assert_eq!(config.sink.gcs.region, "europe-west1");
    assert_eq!(
        config.sink.part_size,
        md_config::MIN_PART_SIZE,
        "MEMORY_EFFICIENT: the smallest parts"
    );
    assert_eq!(
        config.sink.buffer_memory,
        20 * 1024 * 1024,
        "MEMORY_EFFICIENT shrinks the buffer budget"
    );
    assert_eq!((config.sharding.shard_index, config.sharding.total_shards.get()), (2, 30));
    assert_eq!(config.sharding.instruments_per_shard.map(|n| n.get()), Some(2));
    assert_eq!(
        config.download.data_types,
        vec![md_config::DataType::Trades, md_config::DataType::IncrementalBookL2]
    );
    assert_eq!(config.download.data_types[1].as_str(), "incremental_book_L2");
    assert_eq!(
        config.download.instrument_types,
        vec![md_config::InstrumentType::Option, md_config::InstrumentType::Perpetual]
    );
}

#[test]
fn date_defaults_are_the_latest_free_day_and_download_follows_instruments() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_in(dir.path(), &[], vec![]).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let range = loaded.config.instruments.dates.resolve(today, None).unwrap();
    assert_eq!((range.start, range.end), (day, day));
    assert_eq!(loaded.config.download.dates, loaded.config.instruments.dates);
    assert_eq!(setting(&loaded, "INSTRUMENT_START_DATE"), (Some("2026-11-01"), Source::Default));

    let loaded = load_in(
        dir.path(),
        &[("INSTRUMENT_START_DATE", "2024-01-01"), ("INSTRUMENT_END_DATE", "2024-01-03")],
        vec![],
    )
    .unwrap();
    assert_eq!(loaded.config.download.dates.resolve(today, None).unwrap().days().count(), 3);
    let loaded = load_in(dir.path(), &[("DOWNLOAD_START_DATE", "2024-02-01")], vec![]).unwrap();
    assert_eq!(
        loaded.config.download.dates.start, loaded.config.download.dates.end,
        "a start alone means one day"
    );

    for (today, free) in [
        ((2026, 11, 1), (2026, 10, 1)),
        ((2026, 1, 1), (2025, 12, 1)),
        ((2026, 3, 2), (2026, 3, 1)),
    ] {
        let today = chrono::NaiveDate::from_ymd_opt(today.0, today.1, today.2).unwrap();
        assert_eq!(
            md_config::latest_free_day(today),
            chrono::NaiveDate::from_ymd_opt(free.0, free.1, free.2).unwrap()
        );
    }
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_in(
        dir.path(),
        &[("TARDIS_API_KEY", "TD.hunter2"), ("AWS_SECRET_ACCESS_KEY", "aws-hunter3")],
        vec![],
    )
    .unwrap();
    let debug = format!("{:?}", loaded.config);
    assert!(!debug.contains("hunter2") && !debug.contains("hunter3"), "{debug}");
    assert_eq!(setting(&loaded, "TARDIS_API_KEY").0, Some("<redacted>"));
    let error =
        load_in(dir.path(), &[("TARDIS_API_KEY", "TD.hunter2"), ("TARDIS_TIMEOUT", "x")], vec![])
            .unwrap_err();
    assert!(!format!("{error} {error:?}").contains("hunter2"));
}

#[test]
fn sink_urls() {
    use md_config::SinkLocation;
    for (text, expected) in [
        ("gs://bucket", SinkLocation::Gcs { bucket: "bucket".into(), prefix: String::new() }),
        ("gs://bucket/a/b/", SinkLocation::Gcs { bucket: "bucket".into(), prefix: "a/b".into() }),
        ("s3://my.bucket/p", SinkLocation::S3 { bucket: "my.bucket".into(), prefix: "p".into() }),
        ("file:///var/ticks", SinkLocation::Local { root: "/var/ticks".into() }),
        ("./data", SinkLocation::Local { root: "./data".into() }),
        ("memory://", SinkLocation::Memory),
    ] {
        assert_eq!(SinkLocation::parse(text).unwrap(), expected, "{text}");
    }
    for text in [
        "",
        "gs://",
        "gs://a",
        "s3://Under_Score",
        "file://relative",
        "http://x/y",
        "gs://goog-ticks",
    ] {
        assert!(SinkLocation::parse(text).is_err(), "{text} should be refused");
    }
}

#[test]
fn env_example_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.env.example");
    let actual = std::fs::read_to_string(path).expect(".env.example exists at the workspace root");
    assert_eq!(
        actual,
        md_config::env_example(),
        ".env.example is stale: run `cargo xtask env-example`"
    );
    for spec in md_config::VARS {
        assert!(
            actual.contains(&format!("#{}=", spec.name)),
            "{} is not in .env.example",
            spec.name
        );
    }
}

#[test]
fn an_empty_flag_is_a_problem_but_an_empty_variable_is_unset() {
    let dir = tempfile::tempdir().unwrap();
    let flag = Override { var: Var::InstrumentExchanges, flag: "--exchanges", value: " ".into() };
    let error = load_in(dir.path(), &[], vec![flag]).unwrap_err().to_string();
    assert!(
        error.contains("--exchanges (INSTRUMENT_EXCHANGES)") && error.contains("empty"),
        "{error}"
    );
    let loaded = load_in(dir.path(), &[("INSTRUMENT_EXCHANGES", "")], vec![]).unwrap();
    assert_eq!(setting(&loaded, "INSTRUMENT_EXCHANGES").1, Source::Env);
    assert!(!loaded.config.instruments.exchanges.is_empty(), "the default applies");
}

#[test]
fn a_bad_value_from_the_yaml_file_names_its_key() {
    let dir = dir_with(&[("config.yaml", "download:\n  max_instruments: lots\n")]);
    let error = load_in(dir.path(), &[], vec![]).unwrap_err().to_string();
    assert!(error.contains("DOWNLOAD_MAX_INSTRUMENTS (download.max_instruments in "), "{error}");
}

/// The variable table is the one place a default is written: setting every variable to its table default changes
/// nothing, and each section's `Default` is what loading with nothing set gives.
#[test]
fn every_default_comes_from_the_variable_table() {
    let dir = tempfile::tempdir().unwrap();
    let nothing = load_in(dir.path(), &[], Vec::new()).unwrap().config;
    let spelt: Vec<(&str, &str)> =
        VARS.iter().filter_map(|spec| Some((spec.name, spec.default?))).collect();
    assert!(spelt.len() > 30, "the table holds the defaults: {}", spelt.len());
    let explicit = load_in(dir.path(), &spelt, Vec::new()).unwrap().config;
    assert_eq!(format!("{explicit:?}"), format!("{nothing:?}"));
    let sections = md_config::Config::defaults();
    for (name, typed, loaded) in [
        (
            "tardis",
            format!("{:?}", md_config::TardisConfig::default()),
            format!("{:?}", nothing.tardis),
        ),
        ("sink", format!("{:?}", md_config::SinkConfig::default()), format!("{:?}", nothing.sink)),
        (
            "service",
            format!("{:?}", md_config::ServiceConfig::default()),
            format!("{:?}", nothing.service),
        ),
        (
            "sharding",
            format!("{:?}", md_config::ShardingConfig::default()),
            format!("{:?}", nothing.sharding),
        ),
        (
            "parquet",
            format!("{:?}", md_config::ParquetOptions::default()),
            format!("{:?}", nothing.download.parquet),
        ),
        (
            "layout",
            format!("{:?}", sections.download.layout),
            format!("{:?}", nothing.download.layout),
        ),
    ] {
        assert_eq!(typed, loaded, "{name}");
    }
    // Spot checks that the table's text is what the typed values hold.
    assert_eq!(
        nothing.tardis.max_retries.to_string(),
        Var::TardisMaxRetries.spec().default.unwrap()
    );
    assert_eq!(nothing.sink.gcs.region, Var::GcsRegion.spec().default.unwrap());
    assert_eq!(nothing.download.layout.as_str(), Var::MdLayout.spec().default.unwrap());
}

#[test]
fn every_variable_has_one_entry_in_the_table() {
    assert_eq!(VARS.len(), Var::ALL.len());
    for (spec, var) in VARS.iter().zip(Var::ALL) {
        assert_eq!(spec.var, *var, "VARS is in Var order");
        assert_eq!(spec.name, var.name());
        assert_eq!(Var::from_name(spec.name), Some(*var));
    }
}

/// `MD_OUTPUT_FORMAT` is a set: one format or both (in any order, any case), each at most once.
#[test]
fn output_formats_are_one_or_both() {
    use md_config::{OutputFormat, OutputFormats};
    let dir = tempfile::tempdir().unwrap();
    for (text, expected) in [
        ("raw", Ok(OutputFormats::RAW)),
        ("csv.gz", Ok(OutputFormats::RAW)),
        ("parquet", Ok(OutputFormats::PARQUET)),
        ("raw,parquet", Ok(OutputFormats::BOTH)),
        (" Parquet , RAW ", Ok(OutputFormats::BOTH)),
        ("raw,csv", Err("raw is named twice")),
        ("raw,,parquet", Err("empty item")),
        ("parquet,xlsx", Err("unknown value \"xlsx\"")),
    ] {
        let loaded = load_in(dir.path(), &[("MD_OUTPUT_FORMAT", text)], vec![]);
        match (loaded, expected) {
            (Ok(loaded), Ok(formats)) => {
                assert_eq!(loaded.config.download.output_formats, formats, "{text}");
                let listed: Vec<OutputFormat> = formats.iter().collect();
                assert_eq!(listed.len(), formats.len());
                assert!(listed.windows(2).all(|pair| pair[0] < pair[1]), "raw first: {listed:?}");
            }
            (Err(error), Err(wanted)) => {
                let error = error.to_string();
                assert!(
                    error.contains("MD_OUTPUT_FORMAT") && error.contains(wanted),
                    "{text}: {error}"
                );
            }
            (got, wanted) => panic!("{text}: got {got:?}, wanted {wanted:?}"),
        }
    }
    assert_eq!(OutputFormats::BOTH.to_string(), "raw,parquet");
}

/// `MD_SPLIT_GROUPED`: off by default; `underlying_expiry` with Parquet output only; `MD_SPLIT_OPEN_PARTS` positive.
#[test]
fn split_grouped_needs_parquet_alone() {
    use md_config::SplitGrouped;
    let dir = tempfile::tempdir().unwrap();
    let defaults = load_in(dir.path(), &[], vec![]).unwrap().config.download;
    assert_eq!((defaults.split_grouped, defaults.split_open_parts.get()), (SplitGrouped::Off, 128));
    for (vars, expected) in [
        (
            &[("MD_SPLIT_GROUPED", "underlying_expiry"), ("MD_OUTPUT_FORMAT", "parquet")][..],
            Ok(SplitGrouped::UnderlyingExpiry),
        ),
        (
            &[("MD_SPLIT_GROUPED", "underlying_expiry"), ("MD_OUTPUT_FORMAT", "raw,parquet")][..],
            Err("MD_SPLIT_GROUPED"),
        ),
        (&[("MD_SPLIT_GROUPED", "expiry")][..], Err("MD_SPLIT_GROUPED")),
        (&[("MD_SPLIT_OPEN_PARTS", "0")][..], Err("MD_SPLIT_OPEN_PARTS")),
    ] {
        match (load_in(dir.path(), vars, vec![]), expected) {
            (Ok(loaded), Ok(split)) => assert_eq!(loaded.config.download.split_grouped, split),
            (Err(error), Err(variable)) => {
                assert!(error.to_string().contains(variable), "{vars:?}: {error}");
            }
            (got, wanted) => panic!("{vars:?}: got {got:?}, wanted {wanted:?}"),
        }
    }
}

/// The Parquet settings: the schema picks the row-group default, and a bad value names the variable and the value.
#[rstest::rstest]
#[case::defaults(&[], Ok(("original", "zstd", 100_000)))]
#[case::typed(&[("MD_PARQUET_SCHEMA", "typed")], Ok(("typed", "zstd", 1 << 20)))]
#[case::any_case(&[("MD_PARQUET_SCHEMA", " Original ")], Ok(("original", "zstd", 100_000)))]
#[case::snappy(&[("MD_PARQUET_COMPRESSION", "snappy")], Ok(("original", "snappy", 100_000)))]
#[case::uncompressed(&[("MD_PARQUET_COMPRESSION", "uncompressed")], Ok(("original", "none", 100_000)))]
#[case::explicit_rows(
    &[("MD_PARQUET_SCHEMA", "typed"), ("MD_PARQUET_ROW_GROUP_SIZE", "5000")],
    Ok(("typed", "zstd", 5000))
)]
#[case::bad_schema(&[("MD_PARQUET_SCHEMA", "pandas")], Err(("MD_PARQUET_SCHEMA", "\"pandas\"")))]
#[case::bad_codec(&[("MD_PARQUET_COMPRESSION", "lzo")], Err(("MD_PARQUET_COMPRESSION", "\"lzo\"")))]
#[case::zero_rows(&[("MD_PARQUET_ROW_GROUP_SIZE", "0")], Err(("MD_PARQUET_ROW_GROUP_SIZE", "0")))]
fn parquet_settings(
    #[case] environment: &[(&str, &str)],
    #[case] expected: Result<(&str, &str, usize), (&str, &str)>,
) {
    let dir = tempfile::tempdir().unwrap();
    match (load_in(dir.path(), environment, vec![]), expected) {
        (Ok(loaded), Ok((schema, compression, rows))) => {
            let parquet = &loaded.config.download.parquet;
            assert_eq!(
                (
                    parquet.schema.as_str(),
                    parquet.compression.as_str(),
                    parquet.row_group_size.get()
                ),
                (schema, compression, rows)
            );
            assert_eq!(parquet.spill_dir, std::env::temp_dir(), "unset: the system's");
        }
        (Err(error), Err((name, value))) => {
            let error = error.to_string();
            assert!(error.contains(name) && error.contains(value), "{error}");
        }
        (got, wanted) => panic!("{environment:?}: got {got:?}, wanted {wanted:?}"),
    }
    let spill = load_in(dir.path(), &[("MD_PARQUET_SPILL_DIR", "/var/tmp/md")], vec![]).unwrap();
    assert_eq!(spill.config.download.parquet.spill_dir, Path::new("/var/tmp/md"));
}

#[test]
fn malloc_settings_the_operator_made_are_recognised() {
    use md_config::MallocOverrides;
    // (MALLOC_ARENA_MAX set, MALLOC_MMAP_THRESHOLD_ set, GLIBC_TUNABLES, arena_max, mmap_threshold)
    let cases = [
        (false, false, "", false, false),
        (true, false, "", true, false),
        (false, true, "", false, true),
        (false, false, "glibc.malloc.arena_max=4", true, false),
        (false, false, "glibc.malloc.mmap_threshold=65536", false, true),
        (false, false, "glibc.malloc.tcache_count=0:glibc.malloc.mmap_threshold=1", false, true),
        (false, false, "glibc.malloc.arena_max_x=4:glibc.malloc.trim_threshold=0", false, false),
        (false, false, "glibc.malloc.arena_max", false, false),
    ];
    for (arena, mmap, tunables, arena_max, mmap_threshold) in cases {
        assert_eq!(
            MallocOverrides::from_values(arena, mmap, tunables),
            MallocOverrides { arena_max, mmap_threshold },
            "MALLOC_ARENA_MAX set: {arena}, MALLOC_MMAP_THRESHOLD_ set: {mmap}, GLIBC_TUNABLES={tunables:?}"
        );
    }
}

/// Proxies are variables like any other: from `.env` or YAML too, each upper-case spelling winning over its
/// lower-case one, handed to both the Tardis and the sink sections, and the password of a proxy URL never shown
/// (`md-cli config`, `Debug`, errors).
#[test]
fn proxies_come_from_every_source_with_their_password_hidden() {
    let dir = dir_with(&[
        (
            ".env",
            "https_proxy=http://ops:s3cret-pass@proxy.corp:3128\nno_proxy=.internal,10.0.0.0/8\n",
        ),
        ("config.yaml", "service:\n  http_proxy: proxy.corp:8080\n"),
    ]);
    let loaded = load_in(dir.path(), &[("NO_PROXY", "localhost")], vec![]).unwrap();
    let tardis = &loaded.config.tardis.proxy;
    assert_eq!(tardis, &loaded.config.sink.proxy, "one proxy setting for Tardis and the sink");
    let https = tardis.https.as_ref().expect("from the lower-case spelling in .env");
    assert_eq!(https.expose().as_str(), "http://ops:s3cret-pass@proxy.corp:3128/");
    assert_eq!(
        tardis.http.as_ref().expect("from YAML").expose().as_str(),
        "http://proxy.corp:8080/",
        "a URL without a scheme is http://"
    );
    assert_eq!(tardis.no_proxy.as_deref(), Some("localhost"), "NO_PROXY wins over no_proxy");
    assert_eq!(
        setting(&loaded, "https_proxy"),
        (Some("http://ops:<redacted>@proxy.corp:3128"), Source::DotEnv)
    );
    assert_eq!(setting(&loaded, "HTTP_PROXY"), (Some("proxy.corp:8080"), Source::File));
    let shown = format!("{:?} {https}", loaded.config);
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("http://ops:<redacted>@proxy.corp:3128"), "{shown}");

    let error =
        load_in(dir.path(), &[("HTTPS_PROXY", "socks5://ops:s3cret-pass@proxy.corp:1080")], vec![])
            .unwrap_err()
            .to_string();
    assert!(
        error.contains("HTTPS_PROXY") && error.contains("unsupported proxy scheme socks5"),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

/// The key-in-use pause and wait have documented defaults and take seconds; 0 means stop at the first answer.
#[test]
fn the_ip_lock_settings_are_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = load_in(dir.path(), &[], vec![]).unwrap().config.tardis;
    assert_eq!(defaults.ip_lock_pause.as_secs(), 60);
    assert_eq!(defaults.ip_lock_max_wait.as_secs(), 900);
    let set = load_in(
        dir.path(),
        &[("TARDIS_IP_LOCK_PAUSE_SECS", "0.5"), ("TARDIS_IP_LOCK_MAX_WAIT_SECS", "0")],
        vec![],
    )
    .unwrap()
    .config
    .tardis;
    assert_eq!(set.ip_lock_pause.as_millis(), 500);
    assert!(set.ip_lock_max_wait.is_zero());
    let error = load_in(dir.path(), &[("TARDIS_IP_LOCK_PAUSE_SECS", "0")], vec![]).unwrap_err();
    assert!(error.to_string().contains("TARDIS_IP_LOCK_PAUSE_SECS"), "{error}");
}

/// Every source of the shard index (and of the shard count) that is set must agree; each disagreement is named.
#[test]
fn shard_sources_that_disagree_are_each_named() {
    let dir = dir_with(&[]);
    let environment = [
        ("SHARD_INDEX", "1"),
        ("BATCH_TASK_INDEX", "2"),
        ("TOTAL_SHARDS", "4"),
        ("BATCH_TASK_COUNT", "5"),
        ("CLOUD_RUN_TASK_COUNT", "4"),
    ];
    let error = load_in(dir.path(), &environment, vec![]).unwrap_err().to_string();
    for expected in [
        "SHARD_INDEX and BATCH_TASK_INDEX=\"1 vs 2\": two shard sources disagree on the shard index",
        "TOTAL_SHARDS and BATCH_TASK_COUNT=\"4 vs 5\": two shard sources disagree on the number of shards",
    ] {
        assert!(error.contains(expected), "no {expected:?} in {error}");
    }
    assert!(!error.contains("CLOUD_RUN_TASK_COUNT"), "{error}");
}
