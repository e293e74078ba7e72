//! The original schema pinned per data type. The golden file `tests/fixtures/golden/tick_schemas.tsv` holds the
//! Parquet columns (name, physical, logical and converted type, repetition) the replaced system wrote; md's files
//! must have exactly those, for every data type (checked here without Python). With Python (`MD_TEST_PYTHON`, pandas
//! and pyarrow in the repository's `.venv`, passed by `cargo xtask test`), the replaced system's steps are run on the
//! same fixtures (`tests/fixtures/original/tick_parquet.py`) and must give the golden file, and pandas must read
//! md's files as the same tables.

#![allow(clippy::disallowed_methods, reason = "the tests read what xtask passes")]
#![allow(
    clippy::print_stderr,
    reason = "the notice of a skipped suite, and the versions it ran with"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use downloader::convert::{self, ConvertOptions, Partition};
use md_config::{DataType, ParquetOptions};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

/// The CSV fixtures, one per data type.
const FIXTURES: [(DataType, &str); 9] = [
    (DataType::Trades, "deribit_trades_2026-10-01_BTC-PERPETUAL.csv"),
    (DataType::BookSnapshot5, "okex-swap_book_snapshot_5_2026-10-01_BTC-USDT-SWAP.csv"),
    (DataType::DerivativeTicker, "deribit_derivative_ticker_2026-10-01_PERPETUALS.csv"),
    (DataType::Liquidations, "binance-futures_liquidations_2026-10-01_PERPETUALS.csv"),
    (DataType::OptionsChain, "deribit_options_chain_2026-10-01_OPTIONS.csv"),
    (DataType::Quotes, "bybit_quotes_2026-10-01_BTCUSD.csv"),
    (DataType::BookTicker, "binance-futures_book_ticker_2026-10-01_BTCUSDT.csv"),
    (DataType::BookSnapshot25, "binance-futures_book_snapshot_25_2026-10-01_BTCUSDT.csv"),
    (DataType::IncrementalBookL2, "binance-futures_incremental_book_L2_2026-10-01_BTCUSDT.csv"),
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// One column as the golden file writes it: name, physical, logical, converted type, repetition.
type Column = [String; 5];

fn describe(column: &ColumnDescriptor) -> Column {
    let logical = match column.logical_type_ref() {
        None => "NONE".to_owned(),
        Some(parquet::basic::LogicalType::String) => "STRING".to_owned(),
        Some(other) => format!("{other:?}").to_ascii_uppercase(),
    };
    [
        column.name().to_owned(),
        column.physical_type().to_string(),
        logical,
        column.converted_type().to_string(),
        column.self_type().get_basic_info().repetition().to_string(),
    ]
}

fn golden() -> BTreeMap<String, Vec<Column>> {
    let text = std::fs::read_to_string(fixtures_dir().join("golden/tick_schemas.tsv")).unwrap();
    let mut schemas: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let [data_type, name, physical, logical, converted, repetition] = cells[..] else {
            panic!("golden line {line:?}: 6 cells expected");
        };
        schemas
            .entry(data_type.to_owned())
            .or_default()
            .push([name, physical, logical, converted, repetition].map(str::to_owned));
    }
    schemas
}

/// Converts a fixture with the defaults (the original schema) into `path`.
fn md_file(data_type: DataType, fixture: &str, path: &Path) {
    let csv = std::fs::read(fixtures_dir().join("csv").join(fixture)).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, &csv).unwrap();
    let gzip = gzip.finish().unwrap();
    let exchange = fixture.split('_').next().unwrap();
    let symbol = fixture.rsplit('_').next().unwrap().trim_end_matches(".csv");
    let grouped = matches!(symbol, "OPTIONS" | "PERPETUALS");
    let partition = Partition {
        date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        venue: exchange.to_ascii_uppercase(),
        instrument_key: format!("{}:X:Y", exchange.to_ascii_uppercase()),
        exchange: exchange.to_owned(),
        symbol: (!grouped).then(|| symbol.to_owned()),
    };
    let file = std::fs::File::create(path).unwrap();
    convert::convert_reader(&gzip[..], file, data_type, &partition, &ConvertOptions::default())
        .unwrap();
}

fn file_columns(path: &Path) -> Vec<Column> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader.metadata().file_metadata().schema_descr().columns().iter().map(|c| describe(c)).collect()
}

fn render(data_type: &str, columns: &[Column]) -> String {
    columns.iter().map(|column| format!("{data_type}\t{}\n", column.join("\t"))).collect()
}

#[test]
fn md_writes_the_golden_schema_for_every_data_type() {
    let golden = golden();
    assert_eq!(golden.len(), DataType::ALL.len(), "every data type is pinned");
    let dir = tempfile::tempdir().unwrap();
    let settings = ParquetOptions::default();
    for (data_type, fixture) in FIXTURES {
        let expected = &golden[data_type.as_str()];
        let path = dir.path().join(format!("{data_type}.parquet"));
        md_file(data_type, fixture, &path);
        let found = file_columns(&path);
        assert_eq!(
            render(data_type.as_str(), &found),
            render(data_type.as_str(), expected),
            "{data_type}: md's file"
        );
        let declared = convert::tick_parquet_schema(data_type, &settings);
        let declared: Vec<Column> = declared.columns().iter().map(|c| describe(c)).collect();
        assert_eq!(&declared, expected, "{data_type}: tick_parquet_schema");
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(
            convert::schema_mismatch(
                data_type,
                &settings,
                reader.metadata().file_metadata().schema_descr()
            ),
            None
        );
    }
}

#[test]
fn the_replaced_systems_steps_give_the_golden_schema_and_read_md_files_alike() {
    let Some(python) =
        test_support::tools::python("the pandas reproduction of the original schema")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut arguments = vec![
        fixtures_dir().join("original/tick_parquet.py").display().to_string(),
        dir.path().display().to_string(),
    ];
    for (data_type, fixture) in FIXTURES {
        let md = dir.path().join(format!("md-{data_type}.parquet"));
        md_file(data_type, fixture, &md);
        arguments.push(format!(
            "{data_type}={}={}",
            fixtures_dir().join("csv").join(fixture).display(),
            md.display()
        ));
    }
    let output = std::process::Command::new(&python).args(&arguments).output().unwrap();
    assert!(
        output.status.success(),
        "{} tick_parquet.py failed: {}",
        python.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("the replaced system's steps run with {}", result["versions"]);
    let golden = golden();
    for (data_type, _) in FIXTURES {
        let entry = &result[data_type.as_str()];
        let columns: Vec<Column> = entry["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|column| {
                let cells: Vec<String> = column
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|cell| cell.as_str().unwrap().to_owned())
                    .collect();
                cells.try_into().unwrap()
            })
            .collect();
        assert_eq!(
            render(data_type.as_str(), &columns),
            render(data_type.as_str(), &golden[data_type.as_str()]),
            "{data_type}: the replaced system's file"
        );
        assert_eq!(entry["md_difference"], "", "{data_type}: pandas reads md's file differently");
    }
}
