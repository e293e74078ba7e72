//! CSV.gz -> Parquet conversion: every data type round-trips value by value (nulls included), chunking and gzip
//! members do not change the output, and bad input fails naming the line and column, without a footer.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType as ArrowType, Date32Type, Float64Type, Int32Type, TimestampMicrosecondType,
};
use bytes::Bytes;
use downloader::convert::{self, ConvertError, ConvertOptions, Partition};
use futures::{StreamExt, TryStreamExt};
use md_config::{DataType, ParquetCompression};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rstest::rstest;

fn partition() -> Partition {
    Partition {
        date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        venue: "DERIBIT".into(),
        instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
    }
}

fn gzip(csv: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(csv).unwrap();
    encoder.finish().unwrap()
}

fn small_groups() -> ConvertOptions {
    ConvertOptions {
        row_group_size: NonZeroUsize::new(3).unwrap(),
        batch_size: NonZeroUsize::new(2).unwrap(),
        ..ConvertOptions::default()
    }
}

/// Runs the streaming converter over `chunks`; returns the Ok chunks and the error, if any.
async fn run(
    chunks: Vec<Vec<u8>>,
    data_type: DataType,
    options: ConvertOptions,
) -> (Vec<u8>, Option<ConvertError>) {
    let input = futures::stream::iter(
        chunks.into_iter().map(|chunk| Ok::<_, ConvertError>(Bytes::from(chunk))),
    );
    let mut stream = convert::convert(input, data_type, partition(), options);
    let mut output = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => output.extend_from_slice(&bytes),
            Err(error) => {
                assert!(stream.next().await.is_none(), "the stream ends after an error");
                assert!(stream.summary().is_none());
                return (output, Some(error));
            }
        }
    }
    let summary = stream.summary().expect("a finished stream has a summary");
    assert_eq!(summary.parquet_bytes, output.len() as u64);
    (output, None)
}

async fn convert_ok(gz: Vec<u8>, data_type: DataType) -> Vec<u8> {
    let (output, error) = run(vec![gz], data_type, ConvertOptions::default()).await;
    assert!(error.is_none(), "{:#}", error.unwrap());
    output
}

async fn convert_err(gz: Vec<u8>, data_type: DataType, options: ConvertOptions) -> ConvertError {
    let (output, error) = run(vec![gz], data_type, options).await;
    // A failure before the first row group leaves only the leading magic "PAR1".
    assert!(
        output == b"PAR1" || !output.ends_with(b"PAR1"),
        "no footer may be emitted when the conversion fails"
    );
    assert!(ParquetRecordBatchReaderBuilder::try_new(Bytes::from(output)).is_err());
    error.expect("the conversion fails")
}

fn read(parquet: Vec<u8>) -> Vec<RecordBatch> {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet)).unwrap().build().unwrap();
    reader.collect::<Result<_, _>>().unwrap()
}

/// Compares every row and value of the Parquet file with the CSV text, parsed here independently.
fn check_round_trip(csv: &str, data_type: DataType, parquet: Vec<u8>) {
    let batches = read(parquet);
    let schema = convert::schema(data_type);
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap_or_default(), convert::csv_header(data_type));
    let rows: Vec<Vec<&str>> =
        lines.filter(|line| !line.is_empty()).map(|line| line.split(',').collect()).collect();
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), rows.len(), "row count");
    let mut row_index = 0;
    for batch in &batches {
        assert_eq!(batch.schema().fields(), schema.fields(), "schema");
        for row in 0..batch.num_rows() {
            let cells = &rows[row_index];
            assert_eq!(cells.len() + 7, batch.num_columns());
            for (column, cell) in cells.iter().enumerate() {
                let array = batch.column(column);
                let name = schema.field(column).name();
                let context = format!("row {row_index}, column {name}, cell {cell:?}");
                if cell.is_empty() {
                    assert!(array.is_null(row), "{context}: expected a null");
                    continue;
                }
                assert!(array.is_valid(row), "{context}: unexpected null");
                match array.data_type() {
                    ArrowType::Float64 => {
                        let expected: f64 = cell.parse().unwrap();
                        let actual = array.as_primitive::<Float64Type>().value(row);
                        assert_eq!(actual.to_bits(), expected.to_bits(), "{context}: {actual}");
                    }
                    ArrowType::Timestamp(_, Some(zone)) if zone.as_ref() == "UTC" => {
                        let expected: i64 = cell.parse().unwrap();
                        assert_eq!(
                            array.as_primitive::<TimestampMicrosecondType>().value(row),
                            expected,
                            "{context}"
                        );
                    }
                    ArrowType::Boolean => {
                        assert_eq!(array.as_boolean().value(row).to_string(), *cell, "{context}");
                    }
                    ArrowType::Utf8 => {
                        assert_eq!(array.as_string::<i32>().value(row), *cell, "{context}")
                    }
                    ArrowType::Dictionary(_, _) => {
                        let dictionary = array.as_dictionary::<Int32Type>();
                        let key = usize::try_from(dictionary.keys().value(row)).unwrap();
                        assert_eq!(
                            dictionary.values().as_string::<i32>().value(key),
                            *cell,
                            "{context}"
                        );
                    }
                    other => panic!("{context}: unexpected type {other}"),
                }
            }
            check_partition(batch, row, data_type);
            row_index += 1;
        }
    }
}

fn check_partition(batch: &RecordBatch, row: usize, data_type: DataType) {
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let text = |name: &str| {
        let array = column(name);
        let dictionary = array.as_dictionary::<Int32Type>();
        let key = usize::try_from(dictionary.keys().value(row)).unwrap();
        dictionary.values().as_string::<i32>().value(key).to_owned()
    };
    let int = |name: &str| column(name).as_primitive::<Int32Type>().value(row);
    assert_eq!(
        column("date").as_primitive::<Date32Type>().value(row),
        20_727,
        "2026-10-01 as days since 1970"
    );
    assert_eq!(text("venue"), "DERIBIT");
    assert_eq!(text("instrument_key"), "DERIBIT:PERPETUAL:BTC-USD");
    assert_eq!(text("data_type"), data_type.as_str());
    assert_eq!((int("year"), int("month"), int("day")), (2026, 10, 1));
}

const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";

#[rstest]
#[case::trades("deribit_trades_2026-10-01_BTC-PERPETUAL.csv", DataType::Trades)]
#[case::liquidations(
    "binance-futures_liquidations_2026-10-01_PERPETUALS.csv",
    DataType::Liquidations
)]
#[case::incremental_book_l2(
    "binance-futures_incremental_book_L2_2026-10-01_BTCUSDT.csv",
    DataType::IncrementalBookL2
)]
#[case::book_snapshot_5(
    "okex-swap_book_snapshot_5_2026-10-01_BTC-USDT-SWAP.csv",
    DataType::BookSnapshot5
)]
#[case::book_snapshot_25(
    "binance-futures_book_snapshot_25_2026-10-01_BTCUSDT.csv",
    DataType::BookSnapshot25
)]
#[case::quotes("bybit_quotes_2026-10-01_BTCUSD.csv", DataType::Quotes)]
#[case::book_ticker("binance-futures_book_ticker_2026-10-01_BTCUSDT.csv", DataType::BookTicker)]
#[case::derivative_ticker(
    "deribit_derivative_ticker_2026-10-01_PERPETUALS.csv",
    DataType::DerivativeTicker
)]
#[case::options_chain("deribit_options_chain_2026-10-01_OPTIONS.csv", DataType::OptionsChain)]
#[tokio::test]
async fn every_data_type_round_trips(#[case] fixture: &str, #[case] data_type: DataType) {
    let path = format!("{}/tests/fixtures/csv/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let csv = std::fs::read_to_string(&path).unwrap();
    assert!(csv.lines().count() > 2, "{path} holds rows");
    let parquet = convert_ok(gzip(csv.as_bytes()), data_type).await;
    check_round_trip(&csv, data_type, parquet);
    // Tiny row groups and batches give the same values.
    let (parquet, error) = run(vec![gzip(csv.as_bytes())], data_type, small_groups()).await;
    assert!(error.is_none());
    check_round_trip(&csv, data_type, parquet);
}

#[tokio::test]
async fn empty_cells_are_nulls() {
    let csv = format!(
        "{TRADES_HEADER}\n\
         deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,,,,\n\
         deribit,BTC-PERPETUAL,1790812812074055,1790812812107756,7,sell,,0.5\n\
         deribit,ETH-PERPETUAL,1790812812074056,1790812812107757,,buy,3286.52,\n"
    );
    let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades).await;
    check_round_trip(&csv, DataType::Trades, parquet);

    let options = "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,\
        bid_price,bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,\
        delta,gamma,vega,theta,rho\n\
        deribit,BTC-27SEP24-140000-P,1704067200044000,1704067200047184,put,140000,1727424000000000,0,2.021,0.0001,1,,,,,\
        2.0214,72.68,BTC-27SEP24,46593.7,-0.92595,0,56.21241,-7.55606,-1017.04325\n\
        deribit,BTC-27SEP24-140000-C,1704067200044001,1704067200047185,,,,,,,,,,,,,,,,,,,,\n";
    let parquet = convert_ok(gzip(options.as_bytes()), DataType::OptionsChain).await;
    check_round_trip(options, DataType::OptionsChain, parquet);
}

#[rstest]
#[case::no_csv_at_all("")]
#[case::header_only(TRADES_HEADER)]
#[case::header_and_line_end("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")]
#[tokio::test]
async fn empty_files_give_the_schema_and_no_rows(#[case] csv: &str) {
    let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades).await;
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet)).unwrap();
    assert_eq!(builder.schema().fields(), convert::schema(DataType::Trades).fields());
    assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
}

/// A small trades file: the same output must come out however the input is cut.
fn small_trades() -> String {
    let mut csv = format!("{TRADES_HEADER}\n");
    for index in 0..40 {
        csv.push_str(&format!(
            "deribit,BTC-PERPETUAL,{},{},{},{},{}.{},{}\n",
            1_790_812_812_074_054u64 + index * 1_000,
            1_790_812_812_107_755u64 + index * 1_000,
            22_072_000_000_000u64 + index,
            if index % 3 == 0 { "sell" } else { "buy" },
            93_429 + index % 7,
            index % 10,
            if index % 5 == 0 { String::new() } else { format!("{}", index * 10) },
        ));
    }
    csv
}

#[tokio::test]
async fn chunk_boundaries_do_not_change_the_output() {
    let csv = small_trades();
    let gz = gzip(csv.as_bytes());
    let reference = convert_ok(gz.clone(), DataType::Trades).await;
    check_round_trip(&csv, DataType::Trades, reference.clone());
    for split in 0..=gz.len() {
        let chunks = vec![gz[..split].to_vec(), gz[split..].to_vec()];
        let (output, error) = run(chunks, DataType::Trades, ConvertOptions::default()).await;
        assert!(error.is_none(), "split at {split}");
        assert_eq!(output, reference, "split at {split}");
    }
    let bytes: Vec<Vec<u8>> = gz.iter().map(|byte| vec![*byte]).collect();
    let (output, error) = run(bytes, DataType::Trades, ConvertOptions::default()).await;
    assert!(error.is_none());
    assert_eq!(output, reference, "one byte per chunk");
}

#[tokio::test]
async fn gzip_members_are_concatenated() {
    let csv = small_trades();
    let reference = convert_ok(gzip(csv.as_bytes()), DataType::Trades).await;
    // Members split in the middle of a line, and an empty member, as concatenated gzip files may hold.
    for split in [1, 70, csv.len() / 2, csv.len() - 1] {
        let mut gz = gzip(&csv.as_bytes()[..split]);
        gz.extend(gzip(b""));
        gz.extend(gzip(&csv.as_bytes()[split..]));
        assert_eq!(convert_ok(gz, DataType::Trades).await, reference, "members split at {split}");
    }
}

#[tokio::test]
async fn the_synchronous_helper_writes_the_same_file() {
    let csv = small_trades();
    let gz = gzip(csv.as_bytes());
    let reference = convert_ok(gz.clone(), DataType::Trades).await;
    let mut output = Vec::new();
    let summary = convert::convert_reader(
        &gz[..],
        &mut output,
        DataType::Trades,
        &partition(),
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(output, reference);
    assert_eq!(summary.rows, 40);
    assert_eq!(summary.csv_bytes, csv.len() as u64);
    assert_eq!(summary.parquet_bytes, output.len() as u64);
}

#[rstest]
#[case::snappy(ParquetCompression::Snappy)]
#[case::none(ParquetCompression::None)]
#[tokio::test]
async fn other_codecs_round_trip(#[case] compression: ParquetCompression) {
    let csv = small_trades();
    let options = ConvertOptions { compression, ..ConvertOptions::default() };
    let (parquet, error) = run(vec![gzip(csv.as_bytes())], DataType::Trades, options).await;
    assert!(error.is_none());
    check_round_trip(&csv, DataType::Trades, parquet);
}

fn trades_with(line: &str) -> Vec<u8> {
    let good = "deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,93429.7,380";
    // Line 1 is the header and lines 2 to 11 are good: with groups of 3 rows, some row groups are emitted first.
    let mut csv = format!("{TRADES_HEADER}\n");
    for _ in 0..10 {
        csv.push_str(good);
        csv.push('\n');
    }
    csv.push_str(line);
    csv.push('\n');
    csv.push_str(good);
    csv.push('\n');
    gzip(csv.as_bytes())
}

#[rstest]
#[case::bad_price(
    "deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,93x29.7,380",
    "price",
    "93x29.7"
)]
#[case::bad_timestamp(
    "deribit,BTC-PERPETUAL,17908128.5,1790812812107755,1,buy,1,1",
    "timestamp",
    "17908128.5"
)]
#[case::empty_symbol("deribit,,1790812812074054,1790812812107755,1,buy,1,1", "symbol", "")]
#[case::bad_amount(
    "deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1e",
    "amount",
    "1e"
)]
#[tokio::test]
async fn a_bad_cell_names_line_and_column(
    #[case] line: &str,
    #[case] column: &str,
    #[case] text: &str,
) {
    let error = convert_err(trades_with(line), DataType::Trades, small_groups()).await;
    match &error {
        ConvertError::Cell { line, column: found, text: found_text, .. } => {
            assert_eq!((*line, found.as_str(), found_text.as_str()), (12, column, text), "{error}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(error.to_string().starts_with(&format!("line 12, column {column}: ")), "{error}");
    assert!(!error.is_retryable());
}

#[rstest]
#[case::too_few("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1", 7)]
#[case::too_many("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1,1", 9)]
#[tokio::test]
async fn a_wrong_field_count_names_the_line(#[case] line: &str, #[case] found: usize) {
    let error = convert_err(trades_with(line), DataType::Trades, small_groups()).await;
    assert!(
        matches!(error, ConvertError::FieldCount { line: 12, expected: 8, found: actual } if actual == found),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("line 12: expected 8 fields, found {found}"));
}

#[tokio::test]
async fn a_quoted_cell_is_read_and_a_bad_quote_is_an_error() {
    let csv = format!(
        "{TRADES_HEADER}\nderibit,\"BTC-PERPETUAL\",1790812812074054,1790812812107755,\"a,b\",buy,1,2\n"
    );
    let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades).await;
    let batches = read(parquet);
    assert_eq!(batches[0].column(4).as_string::<i32>().value(0), "a,b");
    let bad = format!("{TRADES_HEADER}\nderibit,BTC-PERPETUAL,1,2,\"a,buy,1,2\n");
    let error =
        convert_err(gzip(bad.as_bytes()), DataType::Trades, ConvertOptions::default()).await;
    assert!(matches!(error, ConvertError::Cell { line: 2, .. }), "{error:?}");
}

#[rstest]
#[case::other_type(DataType::Quotes, 5, "ask_amount", "id")]
#[case::extra_column(DataType::Trades, 9, "(end of line)", "extra")]
#[tokio::test]
async fn a_header_that_does_not_match_the_data_type_is_an_error(
    #[case] data_type: DataType,
    #[case] column: usize,
    #[case] expected: &str,
    #[case] found: &str,
) {
    let csv = format!("{TRADES_HEADER},extra\nderibit,BTC-PERPETUAL,1,2,3,buy,1,1\n");
    let csv = if data_type == DataType::Quotes { csv.replace(",extra", "") } else { csv };
    let error = convert_err(gzip(csv.as_bytes()), data_type, ConvertOptions::default()).await;
    match &error {
        ConvertError::Header { column: actual, expected: want, found: got, .. } => {
            assert_eq!(
                (*actual, want.as_str(), got.as_str()),
                (column, expected, found),
                "{error}"
            );
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn bad_gzip_is_an_error_without_a_footer() {
    let gz = trades_with("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1");
    let truncated = gz[..gz.len() - 20].to_vec();
    let error = convert_err(truncated, DataType::Trades, small_groups()).await;
    assert!(matches!(error, ConvertError::Gzip { .. }), "{error:?}");
    let mut corrupt = gz.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    let error = convert_err(corrupt, DataType::Trades, small_groups()).await;
    assert!(matches!(error, ConvertError::Gzip { .. }), "{error:?}");
    let error = convert_err(Vec::new(), DataType::Trades, ConvertOptions::default()).await;
    assert!(matches!(error, ConvertError::Gzip { uncompressed_bytes: 0, .. }), "{error:?}");
    let error =
        convert_err(b"exchange,symbol\n".to_vec(), DataType::Trades, ConvertOptions::default())
            .await;
    assert!(matches!(error, ConvertError::Gzip { .. }), "plain text is not gzip: {error:?}");
}

/// A trades file of about 1 MiB, stored uncompressed inside gzip (deflate's stored blocks), so a byte of its CSV
/// can be damaged in place: the inflate then goes on, the row is garbled, and only the CRC-32 at the end tells.
fn stored_trades() -> (String, Vec<u8>) {
    let mut csv = format!("{TRADES_HEADER}\n");
    for index in 0..14_000u64 {
        csv.push_str(&format!(
            "deribit,BTC-PERPETUAL,{},{},{},buy,93429.{},380\n",
            1_790_812_812_074_054u64 + index,
            1_790_812_812_107_755u64 + index,
            22_072_000_000_000u64 + index,
            index % 10,
        ));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    encoder.write_all(csv.as_bytes()).unwrap();
    (csv, encoder.finish().unwrap())
}

#[rstest]
#[case::garbled_cell("1790812812081054", b'x')]
#[case::garbled_header("exchange", 0xff)]
#[case::lost_separator("22072000009003,", b';')]
#[tokio::test]
async fn a_row_garbled_on_the_way_is_a_gzip_error_not_bad_data(
    #[case] target: &str,
    #[case] replacement: u8,
) {
    // Damage that shows as a bad row long before the gzip's CRC-32 is read must be retried, never blamed on the
    // file: both converters read on to the end and report the gzip.
    let (csv, gz) = stored_trades();
    assert!(csv.len() > 4 * (256 << 10), "the damage is blocks before the end");
    let at = gz.windows(target.len()).position(|window| window == target.as_bytes()).unwrap();
    let at = at + target.len() - 1;
    let mut damaged = gz.clone();
    damaged[at] = replacement;
    let error = convert_err(damaged.clone(), DataType::Trades, ConvertOptions::default()).await;
    assert!(matches!(error, ConvertError::Gzip { .. }), "{target}: {error:?}");
    assert!(error.is_retryable());
    let error = convert::convert_reader(
        &damaged[..],
        &mut Vec::new(),
        DataType::Trades,
        &partition(),
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(error, ConvertError::Gzip { .. }), "{target}: {error:?}");
    // The same bytes in an intact gzip are the file's fault: not retryable.
    let mut bad_csv = csv.into_bytes();
    let in_csv = bad_csv.windows(target.len()).position(|window| window == target.as_bytes());
    bad_csv[in_csv.unwrap() + target.len() - 1] = replacement;
    let intact = gzip(&bad_csv);
    let error = convert_err(intact.clone(), DataType::Trades, ConvertOptions::default()).await;
    assert!(!error.is_retryable(), "{target}: {error:?}");
    let error = convert::convert_reader(
        &intact[..],
        &mut Vec::new(),
        DataType::Trades,
        &partition(),
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(!error.is_retryable(), "{target}: {error:?}");
}

/// The caller's one error type for the converted stream: its input's errors and the conversion's.
#[derive(Debug)]
enum Failure {
    Input(std::io::Error),
    Convert(ConvertError),
}

impl From<ConvertError> for Failure {
    fn from(error: ConvertError) -> Self {
        Failure::Convert(error)
    }
}

#[tokio::test]
async fn an_input_error_ends_the_stream_without_a_footer() {
    let gz = trades_with("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1");
    let (first, _) = gz.split_at(gz.len() / 2);
    let input = futures::stream::iter([
        Ok(Bytes::from(first.to_vec())),
        Err(Failure::Input(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"))),
    ]);
    let items: Vec<_> =
        convert::convert(input, DataType::Trades, partition(), small_groups()).collect().await;
    let error = items.last().unwrap().as_ref().unwrap_err();
    assert!(
        matches!(error, Failure::Input(input) if input.kind() == std::io::ErrorKind::ConnectionReset),
        "the input's own error comes back as it was yielded: {error:?}"
    );
    let output: Vec<u8> = items
        .iter()
        .filter_map(|item| item.as_ref().ok())
        .flat_map(|bytes| bytes.to_vec())
        .collect();
    assert!(!output.ends_with(b"PAR1"));
    let corrupt = convert::convert(
        futures::stream::iter([Ok::<_, Failure>(Bytes::from_static(b"not gzip"))]),
        DataType::Trades,
        partition(),
        small_groups(),
    );
    let items: Vec<_> = corrupt.collect().await;
    assert!(
        matches!(items.last(), Some(Err(Failure::Convert(ConvertError::Gzip { .. })))),
        "conversion errors arrive as the caller's type: {items:?}"
    );
}

#[test]
fn the_stream_can_move_between_tasks() {
    fn spawnable<T: futures::Stream + Send + Unpin + 'static>(_: &T) {}
    let input = futures::stream::iter([Ok::<_, ConvertError>(Bytes::from(gzip(b"")))]);
    let stream = convert::convert(input, DataType::Trades, partition(), ConvertOptions::default());
    spawnable(&stream);
}

/// An input that never ends, and says when it is dropped.
struct Endless {
    dropped: Arc<AtomicBool>,
    chunk: Bytes,
}

impl futures::Stream for Endless {
    type Item = Result<Bytes, ConvertError>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(Some(Ok(self.chunk.clone())))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn dropping_the_output_drops_the_input() {
    // One gzip member per chunk, each a header-less run of rows would be malformed: use the header in the first only.
    let mut rows = String::new();
    for index in 0..2_000 {
        rows.push_str(&format!("deribit,BTC-PERPETUAL,{index},{index},{index},buy,1.5,2\n"));
    }
    let first = gzip(format!("{TRADES_HEADER}\n{rows}").as_bytes());
    let dropped = Arc::new(AtomicBool::new(false));
    let endless = Endless { dropped: dropped.clone(), chunk: Bytes::from(gzip(rows.as_bytes())) };
    let input = futures::stream::iter([Ok(Bytes::from(first))]).chain(endless);
    let options = ConvertOptions {
        row_group_size: NonZeroUsize::new(10_000).unwrap(),
        ..ConvertOptions::default()
    };
    let mut stream = convert::convert(input, DataType::Trades, partition(), options);
    let first_group = stream.try_next().await.unwrap().unwrap();
    assert_eq!(&first_group[..4], b"PAR1", "row groups stream before the input ends");
    assert!(!dropped.load(Ordering::SeqCst));
    drop(stream);
    assert!(dropped.load(Ordering::SeqCst));
}
