//! Splitting a grouped options file by underlying × expiry: the set of parts, each part equal (byte for byte) to
//! the conversion of the grouped file's rows of that underlying and expiry, the rows adding up, the writers bounded
//! by `open_parts`, and a row naming no option refused with its line.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use downloader::convert::split::{self, SplitError, SplitOptions};
use downloader::convert::{self, ConvertOptions, Partition};
use md_config::{DataType, ParquetSchema};
use rstest::rstest;
use test_support::tardis::generate::{FileSpec, generate, option_symbols};

use crate::convert::gzip;

/// A grouped options file's partition.
fn partition() -> Partition {
    Partition {
        instrument_key: "DERIBIT:OPTION:ALL".into(),
        symbol: None,
        ..crate::convert::partition()
    }
}

fn gunzip(body: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(body).read_to_string(&mut text).unwrap();
    text
}

/// The part key of a Deribit option symbol, worked out here without the instruments crate:
/// `BTC-2OCT26-100000-C` is `DERIBIT:OPTION:BTC-USD-261002:ALL`.
fn expected_key(symbol: &str) -> String {
    let mut segments = symbol.split('-');
    let underlying = segments.next().unwrap();
    let expiry = chrono::NaiveDate::parse_from_str(segments.next().unwrap(), "%d%b%y").unwrap();
    format!("DERIBIT:OPTION:{underlying}-USD-{}:ALL", expiry.format("%y%m%d"))
}

/// The grouped CSV's rows by part key, each part a CSV of its own (the header, then its rows in file order).
fn expected_parts(csv: &str) -> BTreeMap<String, String> {
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let mut parts: BTreeMap<String, String> = BTreeMap::new();
    for line in lines.filter(|line| !line.is_empty()) {
        let key = expected_key(line.split(',').nth(1).unwrap());
        let part = parts.entry(key).or_insert_with(|| format!("{header}\n"));
        part.push_str(line);
        part.push('\n');
    }
    parts
}

/// Splits `csv` and checks every part against the direct conversion of its rows; returns the most open writers.
fn check_split(
    csv: &str,
    data_type: DataType,
    options: &ConvertOptions,
    split: SplitOptions,
) -> usize {
    let spill = tempfile::tempdir().unwrap();
    let parts = split::split_reader(&gzip(csv.as_bytes())[..], "deribit", split, spill.path())
        .unwrap_or_else(|error| panic!("{error:#}"));
    let expected = expected_parts(csv);
    let keys: Vec<&str> = parts.parts().iter().map(split::SplitPart::key).collect();
    assert_eq!(keys, expected.keys().map(String::as_str).collect::<Vec<_>>(), "the set of parts");
    let source_rows = csv.lines().skip(1).filter(|line| !line.is_empty()).count() as u64;
    assert_eq!(parts.parts().iter().map(split::SplitPart::rows).sum::<u64>(), source_rows);
    for (index, (key, part_csv)) in expected.iter().enumerate() {
        let (parquet, summary) = parts
            .convert(index, Vec::new(), data_type, &partition(), options)
            .unwrap_or_else(|error| panic!("{key}: {error:#}"));
        let part_rows = part_csv.lines().count() as u64 - 1;
        assert_eq!((parts.parts()[index].rows(), summary.rows), (part_rows, part_rows), "{key}");
        let part_partition = Partition { instrument_key: key.clone(), ..partition() };
        let mut direct = Vec::new();
        convert::convert_reader(
            &gzip(part_csv.as_bytes())[..],
            &mut direct,
            data_type,
            &part_partition,
            options,
        )
        .unwrap();
        assert!(parquet == direct, "{key}: the part differs from the conversion of its rows");
    }
    parts.most_open()
}

fn options(schema: ParquetSchema) -> ConvertOptions {
    ConvertOptions { schema, ..ConvertOptions::default() }
}

fn open(open_parts: usize, buffer_bytes: usize) -> SplitOptions {
    SplitOptions {
        open_parts: NonZeroUsize::new(open_parts).unwrap(),
        buffer_bytes: NonZeroUsize::new(buffer_bytes).unwrap(),
    }
}

#[rstest]
fn the_fixture_splits_into_its_expiries(
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
    #[values(open(2, 64), open(16, 256 << 10))] split: SplitOptions,
) {
    let path = format!(
        "{}/tests/fixtures/csv/deribit_options_chain_2026-10-01_OPTIONS.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let csv = std::fs::read_to_string(path).unwrap();
    assert_eq!(expected_parts(&csv).len(), 4, "the fixture holds four expiries");
    let most_open = check_split(&csv, DataType::OptionsChain, &options(schema), split.clone());
    assert_eq!(most_open, split.open_parts.get().min(4));
}

/// A generated grouped file of eight parts (two underlyings, four expiries) interleaved row by row: with two
/// writers, nearly every row takes the least recently used writer from another part.
#[rstest]
#[case::options_chain("options_chain", DataType::OptionsChain)]
#[case::trades("trades", DataType::Trades)]
fn two_writers_serve_eight_parts(#[case] name: &str, #[case] data_type: DataType) {
    let date = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let body = generate(&FileSpec {
        exchange: "deribit".into(),
        data_type: name.into(),
        date,
        symbol: "OPTIONS".into(),
        row_symbols: option_symbols("deribit", date),
        target_size: 200_000,
        empty: false,
    });
    let csv = gunzip(&body);
    assert_eq!(expected_parts(&csv).len(), 8);
    for schema in [ParquetSchema::Original, ParquetSchema::Typed] {
        assert_eq!(check_split(&csv, data_type, &options(schema), open(2, 4096)), 2, "{schema}");
    }
}

#[rstest]
#[case::perpetual("deribit,BTC-PERPETUAL,1,2,put,1,2,,,,,,,,,,,,,,,,,", 3)]
#[case::no_symbol("deribit", 3)]
fn a_row_naming_no_option_is_refused(#[case] row: &str, #[case] line: u64) {
    let csv = format!(
        "{}\nderibit,BTC-2OCT26-100000-C,1,2,put,1,2,,,,,,,,,,,,,,,,,\n{row}\n",
        convert::csv_header(DataType::OptionsChain)
    );
    let spill = tempfile::tempdir().unwrap();
    let error =
        split::split_reader(&gzip(csv.as_bytes())[..], "deribit", open(2, 64), spill.path())
            .unwrap_err();
    match &error {
        SplitError::Symbol { line: at, symbol, .. } => {
            assert_eq!((*at, symbol.as_str()), (line, "BTC-PERPETUAL"));
        }
        SplitError::NoSymbol { line: at, text } => assert_eq!((*at, text.as_str()), (line, row)),
        SplitError::Convert(other) => panic!("{other:#}"),
    }
    assert!(!error.is_retryable());
}
