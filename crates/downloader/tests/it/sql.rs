//! `downloader::sql`: the BigQuery DDL held to BigQuery's documented rules for hive-partitioned external tables
//! (docs/LAKE.md cites them), checked against object names the layout really renders; the DuckDB globs against the
//! same names; and the refusals.

use chrono::NaiveDate;
use downloader::sql::{Dataset, Engine, Lake, SqlError};
use md_config::{
    Config, DataType, Layout, ObjectFields, OutputFormat, OutputFormats, SinkLocation,
};
use rstest::rstest;

/// The `hive` preset (`MD_LAYOUT=hive`).
const HIVE: &str = "hive";

fn config(sink: &str, layout: &str, data_types: &[DataType]) -> Config {
    let mut config = Config::defaults();
    config.sink.location = SinkLocation::parse(sink).unwrap();
    config.download.layout = Layout::parse(layout).unwrap();
    config.download.data_types = data_types.to_vec();
    config.download.output_formats = OutputFormats::PARQUET;
    config
}

fn lake(config: &Config) -> Result<Lake, SqlError> {
    Lake::of(&config.sink, &config.download)
}

/// One `CREATE OR REPLACE EXTERNAL TABLE` statement, read back from the text.
#[derive(Debug)]
struct External {
    table: String,
    columns: Vec<(String, String)>,
    format: String,
    uris: Vec<String>,
    prefix: String,
    require_filter: bool,
}

/// Reads the statements back (one option a line, as md writes them).
fn parse(ddl: &str) -> Vec<External> {
    let value = |line: &str, option: &str| -> Option<String> {
        let rest = line.trim().strip_prefix(option)?.trim_start().strip_prefix('=')?;
        Some(rest.trim().trim_end_matches(',').to_owned())
    };
    let unquote = |text: &str| text.trim().trim_matches('\'').to_owned();
    let mut tables = Vec::new();
    for statement in ddl.split(";\n").filter(|text| text.contains("CREATE")) {
        let lines: Vec<&str> = statement.lines().filter(|line| !line.starts_with("--")).collect();
        let head = lines[0].strip_prefix("CREATE OR REPLACE EXTERNAL TABLE ").expect(lines[0]);
        assert_eq!(lines[1], "WITH PARTITION COLUMNS (", "{statement}");
        let end = lines.iter().position(|line| *line == ")").expect("columns end");
        let columns = lines[2..end]
            .iter()
            .map(|line| {
                let (name, kind) = line.trim().trim_end_matches(',').split_once(' ').unwrap();
                (name.to_owned(), kind.to_owned())
            })
            .collect();
        let option = |name: &str| lines.iter().find_map(|line| value(line, name));
        let uris = option("uris").expect("uris");
        tables.push(External {
            table: head.trim_matches('`').to_owned(),
            columns,
            format: unquote(&option("format").expect("format")),
            uris: uris.trim_matches(['[', ']']).split(',').map(unquote).collect(),
            prefix: unquote(&option("hive_partition_uri_prefix").expect("prefix")),
            require_filter: option("require_hive_partition_filter").as_deref() == Some("true"),
        });
    }
    tables
}

/// Whether `name` matches a BigQuery URI with one `*` (which matches any characters, `/` included).
fn matches(uri: &str, name: &str) -> bool {
    let (head, tail) = uri.split_once('*').expect("one wildcard");
    name.len() >= head.len() + tail.len() && name.starts_with(head) && name.ends_with(tail)
}

/// The object names of one day of a data type, for two exchanges, in the layout, as full URLs under `root`.
fn objects(root: &str, layout: &Layout, data_type: DataType, format: OutputFormat) -> Vec<String> {
    let date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    [
        ("deribit", "BTC-PERPETUAL", "DERIBIT:PERPETUAL:BTC-USD"),
        ("binance-futures", "BTCUSDT", "BINANCE-FUTURES:PERPETUAL:BTC-USDT"),
    ]
    .into_iter()
    .map(|(exchange, symbol, instrument_key)| {
        let fields = ObjectFields { date, exchange, data_type, symbol, instrument_key, format };
        format!("{root}/{}", layout.render(&fields))
    })
    .collect()
}

#[rstest]
#[case::bucket_root("gs://md-lake", HIVE, &[DataType::Trades])]
#[case::prefix("gs://md-lake/tardis/v1", HIVE, &[DataType::Trades, DataType::BookSnapshot5, DataType::IncrementalBookL2])]
#[case::every_type("gs://md-lake/x", HIVE, DataType::ALL)]
#[case::custom_keys(
    "gs://md-lake/p",
    "lake/dt={data_type}/venue={venue}/year={year}/month={month}/day={day}/{symbol}.{ext}",
    &[DataType::Quotes]
)]
fn bigquery_tables_follow_the_documented_hive_rules(
    #[case] sink: &str,
    #[case] template: &str,
    #[case] data_types: &[DataType],
) {
    let config = config(sink, template, data_types);
    let dataset = Dataset::parse("my-project.tardis_lake").unwrap();
    let ddl = lake(&config).unwrap().statements(Engine::BigQuery, &dataset).unwrap();
    let tables = parse(&ddl);
    let mut names: Vec<&str> = data_types.iter().map(|data_type| data_type.as_str()).collect();
    // The definitions are partitioned by day in the preset only (a template keeps their original names).
    let preset = template == HIVE;
    if preset {
        names.push("instruments");
    }
    let got: Vec<&str> = tables.iter().map(|table| table.table.as_str()).collect();
    let expected: Vec<String> =
        names.iter().map(|name| format!("my-project.tardis_lake.{name}")).collect();
    assert_eq!(got, expected, "one table per data type, then instruments:\n{ddl}");

    let layout = &config.download.layout;
    for (table, data_type) in tables.iter().zip(data_types) {
        assert_eq!(table.format, "PARQUET", "{ddl}");
        assert!(table.require_filter, "require_hive_partition_filter = true:\n{ddl}");
        assert_eq!(table.uris.len(), 1, "{ddl}");
        let uri = &table.uris[0];
        assert_eq!(uri.matches('*').count(), 1, "one wildcard: {uri}");
        assert!(
            uri.starts_with(&format!("{}/", table.prefix)),
            "the wildcard after the prefix: {uri}"
        );
        assert!(table.columns.len() <= 10, "at most ten partition keys");
        for object in objects(sink, layout, *data_type, OutputFormat::Parquet) {
            assert!(matches(uri, &object), "{uri} must match {object}");
            // The prefix ends right before the first key=value directory after it.
            let rest =
                object.strip_prefix(&format!("{}/", table.prefix)).expect("under the prefix");
            let directories: Vec<&str> = rest.split('/').collect();
            let (_, directories) = directories.split_last().unwrap();
            let keys: Vec<(&str, &str)> =
                directories.iter().map(|segment| segment.split_once('=').expect(segment)).collect();
            let columns: Vec<&str> = table.columns.iter().map(|(name, _)| name.as_str()).collect();
            let path_keys: Vec<&str> = keys.iter().map(|(key, _)| *key).collect();
            assert_eq!(columns, path_keys, "partition columns in path order: {object}");
            for ((_, value), (name, kind)) in keys.iter().zip(&table.columns) {
                let fits = match kind.as_str() {
                    "DATE" => NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
                    "INT64" => value.parse::<i64>().is_ok(),
                    "STRING" => true,
                    other => panic!("{name}: type {other} is not one BigQuery partitions on"),
                };
                assert!(fits, "{name}={value} is not a {kind}");
            }
            assert!(
                table.prefix.rsplit('/').next().unwrap().contains(data_type.as_str()),
                "the data type is the prefix's last directory: {}",
                table.prefix
            );
        }
        for raw in objects(sink, layout, *data_type, OutputFormat::Raw) {
            assert!(!matches(uri, &raw), "{uri} must not match the raw {raw}");
        }
    }
    if !preset {
        return;
    }
    let instruments = tables.last().unwrap();
    assert_eq!(instruments.prefix, format!("{sink}/instrument_availability"));
    assert_eq!(instruments.columns, [("date".to_owned(), "DATE".to_owned())]);
    let date = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let day = format!("{sink}/{}", config.download.layout.definitions().day_object(date));
    let groups = format!("{sink}/{}", config.download.layout.definitions().groups_object(date));
    assert!(!matches(&instruments.uris[0], &groups), "not the grouped files: {groups}");
    let aggregate =
        format!("{sink}/{}", config.download.layout.definitions().aggregate_object(date, date));
    assert!(!matches(&instruments.uris[0], &aggregate), "not the aggregate: {aggregate}");
    assert!(matches(&instruments.uris[0], &day), "{}", instruments.uris[0]);
    assert!(instruments.require_filter);
}

#[rstest]
#[case::duckdb_local(
    "/data/lake",
    Engine::DuckDb,
    "'/data/lake/raw_tick_data/data_type=trades/*/*/*.parquet'"
)]
#[case::duckdb_gcs(
    "gs://md-lake/p",
    Engine::DuckDb,
    "CREATE OR REPLACE SECRET md_lake (TYPE gcs, KEY_ID '<HMAC access id>', SECRET '<HMAC secret>', SCOPE 'gs://md-lake/p');"
)]
#[case::duckdb_view(
    "gs://md-lake/p",
    Engine::DuckDb,
    "CREATE OR REPLACE VIEW \"trades\" AS SELECT * FROM read_parquet('gs://md-lake/p/raw_tick_data/data_type=trades/*/*/*.parquet', hive_partitioning = true, hive_types = {'data_type': VARCHAR, 'exchange': VARCHAR, 'date': DATE}, hive_types_autocast = false);"
)]
#[case::duckdb_instruments(
    "/l",
    Engine::DuckDb,
    "CREATE OR REPLACE VIEW \"instruments\" AS SELECT * FROM read_parquet('/l/instrument_availability/*/instruments.parquet', hive_partitioning = true, hive_types = {'date': DATE}, hive_types_autocast = false);"
)]
#[case::duckdb_s3("s3://md-lake/p", Engine::DuckDb, "INSTALL aws;\nLOAD aws;")]
#[case::bigquery_ddl(
    "gs://md-lake/p",
    Engine::BigQuery,
    "CREATE OR REPLACE EXTERNAL TABLE `md.trades`\nWITH PARTITION COLUMNS (\n  exchange STRING,\n  date DATE\n)\nOPTIONS (\n  format = 'PARQUET',\n  uris = ['gs://md-lake/p/raw_tick_data/data_type=trades/*.parquet'],\n  hive_partition_uri_prefix = 'gs://md-lake/p/raw_tick_data/data_type=trades',\n  require_hive_partition_filter = true\n);"
)]
fn statements_hold(#[case] sink: &str, #[case] engine: Engine, #[case] expected: &str) {
    let config = config(sink, HIVE, &[DataType::Trades]);
    let text = lake(&config).unwrap().statements(engine, &Dataset::default()).unwrap();
    assert!(text.contains(expected), "{expected}\nnot in\n{text}");
}

#[test]
fn s3_with_an_endpoint_gets_path_style_without_tls() {
    let mut config = config("s3://md-lake", HIVE, &[DataType::Trades]);
    config.sink.s3.endpoint = Some("http://127.0.0.1:9000".parse().unwrap());
    config.sink.s3.region = "eu-west-1".into();
    config.sink.s3.access_key_id = Some("AKIAEXAMPLEKEYID".into());
    let text = lake(&config).unwrap().duckdb();
    let secret = "CREATE OR REPLACE SECRET md_lake (TYPE s3, PROVIDER credential_chain, REGION 'eu-west-1', ENDPOINT '127.0.0.1:9000', URL_STYLE 'path', USE_SSL false, SCOPE 's3://md-lake');";
    assert!(text.contains(secret), "{text}");
    assert!(!text.contains("AKIAEXAMPLEKEYID"), "no credential is printed: {text}");
}

#[rstest]
#[case::memory("memory://", HIVE, OutputFormats::PARQUET, Engine::DuckDb, "MD_SINK=memory://")]
#[case::default_layout(
    "/data",
    "raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}",
    OutputFormats::PARQUET,
    Engine::DuckDb,
    "MD_LAYOUT=raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext} is not hive-partitioned"
)]
#[case::raw_only(
    "/data",
    HIVE,
    OutputFormats::RAW,
    Engine::DuckDb,
    "MD_OUTPUT_FORMAT=raw stores no Parquet"
)]
#[case::bigquery_local(
    "/data",
    HIVE,
    OutputFormats::BOTH,
    Engine::BigQuery,
    "MD_SINK=/data is not gs://"
)]
#[case::bigquery_s3(
    "s3://md-lake",
    HIVE,
    OutputFormats::PARQUET,
    Engine::BigQuery,
    "MD_SINK=s3://md-lake is not gs://"
)]
fn refusals_name_the_setting(
    #[case] sink: &str,
    #[case] template: &str,
    #[case] formats: OutputFormats,
    #[case] engine: Engine,
    #[case] message: &str,
) {
    let mut config = config(sink, template, &[DataType::Trades]);
    config.download.output_formats = formats;
    let error = lake(&config)
        .and_then(|lake| lake.statements(engine, &Dataset::default()))
        .expect_err("refused");
    assert!(error.to_string().contains(message), "{error}");
}

#[rstest]
#[case("md", true)]
#[case("my-project-1.tardis_lake", true)]
#[case("tardis-lake", false)]
#[case("", false)]
#[case("Proj.lake", false)]
#[case("short.lake", false)]
fn dataset_names(#[case] name: &str, #[case] valid: bool) {
    let parsed = Dataset::parse(name);
    assert_eq!(parsed.is_ok(), valid, "{name}: {parsed:?}");
    if let Err(error) = parsed {
        assert!(error.to_string().starts_with(&format!("--dataset {name:?}")), "{error}");
    }
}
