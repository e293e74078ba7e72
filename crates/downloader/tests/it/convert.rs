//! CSV.gz -> Parquet conversion, in both schemas: every data type round-trips value by value (nulls included; the
//! original schema sorted by `timestamp` with ties in file order, without `exchange` and `symbol`), chunking and gzip
//! members do not change the output, files far out of order come out sorted and complete through the spilling sort,
//! and bad input fails naming the line and column, without a footer.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Date32Type, Int32Type, Int64Type};
use bytes::Bytes;
use downloader::convert::{self, ConvertError, ConvertOptions, Partition};
use futures::{StreamExt, TryStreamExt};
use md_config::{DataType, ParquetCompression, ParquetOptions, ParquetSchema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rstest::rstest;

pub(crate) fn partition() -> Partition {
    Partition {
        date: chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
        venue: "DERIBIT".into(),
        instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
        exchange: "deribit".into(),
        symbol: Some("BTC-PERPETUAL".into()),
    }
}

/// The partition of a fixture file, from its name (`{exchange}_{data_type}_{date}_{symbol}.csv`).
fn fixture_partition(fixture: &str) -> Partition {
    let exchange = fixture.split('_').next().unwrap();
    let symbol = fixture.rsplit('_').next().unwrap().trim_end_matches(".csv");
    let grouped = matches!(symbol, "OPTIONS" | "PERPETUALS" | "FUTURES" | "SPOT");
    Partition {
        exchange: exchange.into(),
        symbol: (!grouped).then(|| symbol.into()),
        ..partition()
    }
}

pub(crate) fn gzip(csv: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(csv).unwrap();
    encoder.finish().unwrap()
}

fn options(schema: ParquetSchema) -> ConvertOptions {
    ConvertOptions { schema, ..ConvertOptions::default() }
}

fn typed() -> ConvertOptions {
    options(ParquetSchema::Typed)
}

fn small_groups(schema: ParquetSchema) -> ConvertOptions {
    ConvertOptions {
        row_group_size: NonZeroUsize::new(3).unwrap(),
        batch_size: NonZeroUsize::new(2).unwrap(),
        ..options(schema)
    }
}

fn settings(schema: ParquetSchema) -> ParquetOptions {
    ParquetOptions { schema, ..ParquetOptions::default() }
}

/// Runs the streaming converter over `chunks`; returns the Ok chunks and the error, if any.
async fn run_with(
    chunks: Vec<Vec<u8>>,
    data_type: DataType,
    partition: Partition,
    options: ConvertOptions,
) -> (Vec<u8>, Option<ConvertError>) {
    let input = futures::stream::iter(
        chunks.into_iter().map(|chunk| Ok::<_, ConvertError>(Bytes::from(chunk))),
    );
    let mut stream = convert::convert(input, data_type, partition, options);
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

async fn run(
    chunks: Vec<Vec<u8>>,
    data_type: DataType,
    options: ConvertOptions,
) -> (Vec<u8>, Option<ConvertError>) {
    run_with(chunks, data_type, partition(), options).await
}

async fn convert_ok(gz: Vec<u8>, data_type: DataType, options: ConvertOptions) -> Vec<u8> {
    let (output, error) = run(vec![gz], data_type, options).await;
    assert!(error.is_none(), "{:#}", error.unwrap());
    output
}

async fn convert_err(gz: Vec<u8>, data_type: DataType, options: ConvertOptions) -> ConvertError {
    convert_err_with(gz, data_type, partition(), options).await
}

async fn convert_err_with(
    gz: Vec<u8>,
    data_type: DataType,
    partition: Partition,
    options: ConvertOptions,
) -> ConvertError {
    let (output, error) = run_with(vec![gz], data_type, partition, options).await;
    // A failure before the first row group leaves only the leading magic "PAR1" (or nothing, when sorting).
    assert!(
        output.is_empty() || output == b"PAR1" || !output.ends_with(b"PAR1"),
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

/// The rows a file must hold, parsed here independently from the CSV: in file order (typed), or without
/// `exchange` and `symbol` and stably sorted by `timestamp` (original), or sorted, with the instrument key of
/// [`every_data_type_round_trips`] in place of `exchange` (hive).
fn expected_rows(csv: &str, schema: ParquetSchema) -> Vec<Vec<&str>> {
    let mut lines = csv.lines();
    lines.next();
    let mut rows: Vec<Vec<&str>> =
        lines.filter(|line| !line.is_empty()).map(|line| line.split(',').collect()).collect();
    if schema != ParquetSchema::Typed {
        rows.sort_by_key(|cells| cells[2].parse::<i64>().unwrap());
    }
    for cells in &mut rows {
        match schema {
            ParquetSchema::Original => drop(cells.drain(..2)),
            ParquetSchema::Hive => cells[0] = "DERIBIT:PERPETUAL:BTC-USD",
            ParquetSchema::Typed => {}
        }
    }
    rows
}

/// Compares every row and value of the Parquet file with the CSV text, parsed here independently.
fn check_round_trip(csv: &str, data_type: DataType, schema: ParquetSchema, parquet: Vec<u8>) {
    let batches = read(parquet);
    let file_schema = convert::tick_schema(data_type, &settings(schema));
    assert_eq!(csv.lines().next().unwrap_or_default(), convert::csv_header(data_type));
    let rows = expected_rows(csv, schema);
    let partition_columns = if schema == ParquetSchema::Typed { 7 } else { 0 };
    assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), rows.len(), "row count");
    let mut row_index = 0;
    for batch in &batches {
        assert_eq!(batch.schema().fields(), file_schema.fields(), "schema");
        for row in 0..batch.num_rows() {
            let cells = &rows[row_index];
            assert_eq!(cells.len() + partition_columns, batch.num_columns());
            for (column, cell) in cells.iter().enumerate() {
                let array = batch.column(column);
                let name = file_schema.field(column).name();
                let context = format!("{schema} row {row_index}, column {name}, cell {cell:?}");
                test_support::parquet::assert_cell(array, row, cell, &context);
            }
            if schema == ParquetSchema::Typed {
                check_partition(batch, row, data_type);
            }
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
async fn every_data_type_round_trips(
    #[case] fixture: &str,
    #[case] data_type: DataType,
    #[values(ParquetSchema::Original, ParquetSchema::Typed, ParquetSchema::Hive)]
    schema: ParquetSchema,
) {
    let path = format!("{}/tests/fixtures/csv/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let csv = std::fs::read_to_string(&path).unwrap();
    assert!(csv.lines().count() > 2, "{path} holds rows");
    let partition = Partition {
        instrument_key: "DERIBIT:PERPETUAL:BTC-USD".into(),
        ..fixture_partition(fixture)
    };
    for options in [options(schema), small_groups(schema)] {
        let (parquet, error) =
            run_with(vec![gzip(csv.as_bytes())], data_type, partition.clone(), options).await;
        assert!(error.is_none(), "{:#}", error.unwrap());
        check_round_trip(&csv, data_type, schema, parquet);
    }
}

/// A grouped file: rows of several instruments, whose symbols are not checked.
fn grouped() -> Partition {
    Partition { symbol: None, ..partition() }
}

#[rstest]
#[tokio::test]
async fn empty_cells_are_nulls(
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let csv = format!(
        "{TRADES_HEADER}\n\
         deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,,,,\n\
         deribit,BTC-PERPETUAL,1790812812074055,1790812812107756,7,sell,,0.5\n\
         deribit,ETH-PERPETUAL,1790812812074056,1790812812107757,,buy,3286.52,\n"
    );
    let (parquet, error) =
        run_with(vec![gzip(csv.as_bytes())], DataType::Trades, grouped(), options(schema)).await;
    assert!(error.is_none(), "{error:?}");
    check_round_trip(&csv, DataType::Trades, schema, parquet);

    let options_chain = "exchange,symbol,timestamp,local_timestamp,type,strike_price,expiration,open_interest,last_price,\
        bid_price,bid_amount,bid_iv,ask_price,ask_amount,ask_iv,mark_price,mark_iv,underlying_index,underlying_price,\
        delta,gamma,vega,theta,rho\n\
        deribit,BTC-27SEP24-140000-P,1704067200044000,1704067200047184,put,140000,1727424000000000,0,2.021,0.0001,1,,,,,\
        2.0214,72.68,BTC-27SEP24,46593.7,-0.92595,0,56.21241,-7.55606,-1017.04325\n\
        deribit,BTC-27SEP24-140000-C,1704067200044001,1704067200047185,,,,,,,,,,,,,,,,,,,,\n";
    let (parquet, error) = run_with(
        vec![gzip(options_chain.as_bytes())],
        DataType::OptionsChain,
        grouped(),
        options(schema),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
    check_round_trip(options_chain, DataType::OptionsChain, schema, parquet);
}

#[rstest]
#[case::no_csv_at_all("")]
#[case::header_only(TRADES_HEADER)]
#[case::header_and_line_end("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")]
#[tokio::test]
async fn empty_files_give_the_schema_and_no_rows(
    #[case] csv: &str,
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades, options(schema)).await;
    let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet)).unwrap();
    assert_eq!(
        builder.schema().fields(),
        convert::tick_schema(DataType::Trades, &settings(schema)).fields()
    );
    assert_eq!(builder.metadata().file_metadata().num_rows(), 0);
}

/// A small trades file, not in timestamp order: the same output must come out however the input is cut.
fn small_trades() -> String {
    let mut csv = format!("{TRADES_HEADER}\n");
    for index in 0..40 {
        csv.push_str(&format!(
            "deribit,BTC-PERPETUAL,{},{},{},{},{}.{},{}\n",
            1_790_812_812_074_054u64 + (index * 7 % 40) * 1_000,
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

/// The small trades CSV, its gzip, and the Parquet file it converts to in one chunk (the reference output).
async fn small_trades_converted(schema: ParquetSchema) -> (String, Vec<u8>, Vec<u8>) {
    let csv = small_trades();
    let gz = gzip(csv.as_bytes());
    let reference = convert_ok(gz.clone(), DataType::Trades, options(schema)).await;
    (csv, gz, reference)
}

#[rstest]
#[tokio::test]
async fn chunk_boundaries_do_not_change_the_output(
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let (csv, gz, reference) = small_trades_converted(schema).await;
    check_round_trip(&csv, DataType::Trades, schema, reference.clone());
    for split in 0..=gz.len() {
        let chunks = vec![gz[..split].to_vec(), gz[split..].to_vec()];
        let (output, error) = run(chunks, DataType::Trades, options(schema)).await;
        assert!(error.is_none(), "split at {split}");
        assert_eq!(output, reference, "split at {split}");
    }
    let bytes: Vec<Vec<u8>> = gz.iter().map(|byte| vec![*byte]).collect();
    let (output, error) = run(bytes, DataType::Trades, options(schema)).await;
    assert!(error.is_none());
    assert_eq!(output, reference, "one byte per chunk");
}

#[rstest]
#[tokio::test]
async fn gzip_members_are_concatenated(
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let (csv, _, reference) = small_trades_converted(schema).await;
    // Members split in the middle of a line, and an empty member, as concatenated gzip files may hold.
    for split in [1, 70, csv.len() / 2, csv.len() - 1] {
        let mut gz = gzip(&csv.as_bytes()[..split]);
        gz.extend(gzip(b""));
        gz.extend(gzip(&csv.as_bytes()[split..]));
        assert_eq!(
            convert_ok(gz, DataType::Trades, options(schema)).await,
            reference,
            "members split at {split}"
        );
    }
}

#[rstest]
#[tokio::test]
async fn the_synchronous_helper_writes_the_same_file(
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let (csv, gz, reference) = small_trades_converted(schema).await;
    let mut output = Vec::new();
    let summary = convert::convert_reader(
        &gz[..],
        &mut output,
        DataType::Trades,
        &partition(),
        &options(schema),
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
async fn other_codecs_round_trip(
    #[case] compression: ParquetCompression,
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let csv = small_trades();
    let options = ConvertOptions { compression, ..options(schema) };
    let (parquet, error) = run(vec![gzip(csv.as_bytes())], DataType::Trades, options).await;
    assert!(error.is_none());
    let metadata = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet.clone()))
        .unwrap()
        .metadata()
        .clone();
    let codec = metadata.row_group(0).column(0).compression();
    assert_eq!(
        codec.to_string().to_ascii_lowercase(),
        compression.as_str().replace("none", "uncompressed")
    );
    check_round_trip(&csv, DataType::Trades, schema, parquet);
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
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let error = convert_err(trades_with(line), DataType::Trades, small_groups(schema)).await;
    assert!(matches!(error, ConvertError::Cell { .. }), "{error:?}");
    assert_line_12_is_refused(&error, column, text);
}

/// Asserts that `error` refuses line 12 of [`trades_with`] for what `column` holds (`text`), says so first, and is
/// not retried: a [`ConvertError::Cell`] or [`ConvertError::NotTheUnit`].
fn assert_line_12_is_refused(error: &ConvertError, column: &str, text: &str) {
    let refused = match error {
        ConvertError::Cell { line, column, text, .. }
        | ConvertError::NotTheUnit { line, column, found: text, .. } => {
            (*line, column.as_str(), text.as_str())
        }
        other => panic!("unexpected error {other:?}"),
    };
    assert_eq!(refused, (12, column, text), "{error}");
    assert!(error.to_string().starts_with(&format!("line 12, column {column}: ")), "{error}");
    assert!(!error.is_retryable());
}

#[rstest]
#[case::too_few("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1", 7)]
#[case::too_many("deribit,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1,1", 9)]
#[tokio::test]
async fn a_wrong_field_count_names_the_line(
    #[case] line: &str,
    #[case] found: usize,
    #[values(ParquetSchema::Original, ParquetSchema::Typed)] schema: ParquetSchema,
) {
    let error = convert_err(trades_with(line), DataType::Trades, small_groups(schema)).await;
    assert!(
        matches!(error, ConvertError::FieldCount { line: 12, expected: 8, found: actual } if actual == found),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("line 12: expected 8 fields, found {found}"));
}

#[rstest]
#[case::original(ParquetSchema::Original, 2)]
#[case::typed(ParquetSchema::Typed, 4)]
#[tokio::test]
async fn a_quoted_cell_is_read_and_a_bad_quote_is_an_error(
    #[case] schema: ParquetSchema,
    #[case] id_column: usize,
) {
    let csv = format!(
        "{TRADES_HEADER}\nderibit,\"BTC-PERPETUAL\",1790812812074054,1790812812107755,\"a,b\",buy,1,2\n"
    );
    let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades, options(schema)).await;
    let batches = read(parquet);
    assert_eq!(batches[0].column(id_column).as_string::<i32>().value(0), "a,b");
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
    let error = convert_err(truncated, DataType::Trades, small_groups(ParquetSchema::Typed)).await;
    assert!(matches!(error, ConvertError::Gzip { .. }), "{error:?}");
    let mut corrupt = gz.clone();
    let middle = corrupt.len() / 2;
    corrupt[middle] ^= 0xff;
    let error = convert_err(corrupt, DataType::Trades, small_groups(ParquetSchema::Original)).await;
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
    for error in both_converters_fail(damaged).await {
        assert!(matches!(error, ConvertError::Gzip { .. }), "{target}: {error:?}");
        assert!(error.is_retryable());
    }
    // The same bytes in an intact gzip are the file's fault: not retryable.
    let mut bad_csv = csv.into_bytes();
    let in_csv = bad_csv.windows(target.len()).position(|window| window == target.as_bytes());
    bad_csv[in_csv.unwrap() + target.len() - 1] = replacement;
    for error in both_converters_fail(gzip(&bad_csv)).await {
        assert!(!error.is_retryable(), "{target}: {error:?}");
    }
}

/// The errors of the streaming converter and of [`convert::convert_reader`] on the trades file `gz`, which both
/// must refuse.
async fn both_converters_fail(gz: Vec<u8>) -> [ConvertError; 2] {
    let synchronous = convert::convert_reader(
        &gz[..],
        Vec::new(),
        DataType::Trades,
        &partition(),
        &ConvertOptions::default(),
    )
    .unwrap_err();
    [convert_err(gz, DataType::Trades, ConvertOptions::default()).await, synchronous]
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
        convert::convert(input, DataType::Trades, partition(), small_groups(ParquetSchema::Typed))
            .collect()
            .await;
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
        small_groups(ParquetSchema::Original),
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

/// A trades input that never ends (a gzip member of 2,000 rows again and again, the header in the first only), and
/// the flag its drop sets.
fn endless_trades() -> (impl futures::Stream<Item = Result<Bytes, ConvertError>>, Arc<AtomicBool>) {
    let mut rows = String::new();
    for index in 0..2_000 {
        rows.push_str(&format!("deribit,BTC-PERPETUAL,{index},{index},{index},buy,1.5,2\n"));
    }
    let first = gzip(format!("{TRADES_HEADER}\n{rows}").as_bytes());
    let dropped = Arc::new(AtomicBool::new(false));
    let endless = Endless { dropped: dropped.clone(), chunk: Bytes::from(gzip(rows.as_bytes())) };
    (futures::stream::iter([Ok(Bytes::from(first))]).chain(endless), dropped)
}

#[tokio::test]
async fn dropping_the_output_drops_the_input() {
    let (input, dropped) = endless_trades();
    let options = ConvertOptions { row_group_size: NonZeroUsize::new(10_000).unwrap(), ..typed() };
    let mut stream = convert::convert(input, DataType::Trades, partition(), options);
    let first_group = stream.try_next().await.unwrap().unwrap();
    assert_eq!(&first_group[..4], b"PAR1", "row groups stream before the input ends");
    assert!(!dropped.load(Ordering::SeqCst));
    drop(stream);
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn dropping_a_sorting_conversion_drops_the_input() {
    // A sorted file comes out only once the input ends: an endless input is still stopped by dropping the stream.
    let (input, dropped) = endless_trades();
    let mut stream =
        convert::convert(input, DataType::Trades, partition(), ConvertOptions::default());
    let waited = tokio::time::timeout(std::time::Duration::from_millis(300), stream.next()).await;
    assert!(waited.is_err(), "nothing comes out before the input ends");
    assert!(!dropped.load(Ordering::SeqCst));
    drop(stream);
    assert!(dropped.load(Ordering::SeqCst));
}

/// A trades file in arrival order (a row every 10 ms) whose exchange timestamps depart from it: a few milliseconds
/// usually, a minute for every 997th row, and a stretch near the end replayed two minutes late (thousands of rows
/// behind). Ids count rows in file order.
fn disordered_trades(rows: u64) -> String {
    let mut csv = format!("{TRADES_HEADER}\n");
    let start = 1_790_812_800_000_000u64;
    for index in 0..rows {
        let local = start + index * 10_000;
        let mut timestamp = local - 500 - (index * 7_919 % 9_000);
        if index % 997 == 0 {
            timestamp -= 60_000_000;
        }
        if (rows * 8 / 10..rows * 8 / 10 + 300).contains(&index) {
            timestamp -= 120_000_000;
        }
        // Some rows share a timestamp, so ties must keep file order.
        if index % 5 == 1 {
            timestamp = start + (index - 1) * 10_000 - 500 - ((index - 1) * 7_919 % 9_000);
        }
        csv.push_str(&format!(
            "deribit,BTC-PERPETUAL,{timestamp},{local},{index},{},{}.5,{}\n",
            if index % 3 == 0 { "sell" } else { "buy" },
            93_000 + index % 50,
            index % 13 + 1,
        ));
    }
    csv
}

/// Returns (timestamp, id) of every row of a trades file in a sorted schema (original, hive), in file order.
fn timestamps_and_ids(parquet: Vec<u8>) -> Vec<(i64, u64)> {
    read(parquet)
        .iter()
        .flat_map(|batch| {
            let column = |name: &str| batch.column_by_name(name).unwrap();
            let timestamps = column("timestamp").as_primitive::<Int64Type>().clone();
            let ids = column("id").as_string::<i32>().clone();
            (0..batch.num_rows())
                .map(move |row| (timestamps.value(row), ids.value(row).parse::<u64>().unwrap()))
        })
        .collect()
}

#[rstest]
// Everything in memory: the window holds the whole file, nothing is late.
#[case::in_memory(usize::MAX / 2, usize::MAX / 2, usize::MAX / 2, false)]
// A window far smaller than the disorder: late rows, merged from memory, the encoded rows in a temporary file.
#[case::late_rows_in_memory(64 << 10, usize::MAX / 2, 16 << 10, true)]
// And the late rows spilled as many sorted runs.
#[case::late_rows_spilled(64 << 10, 8 << 10, 16 << 10, true)]
#[tokio::test]
async fn rows_far_out_of_order_come_out_sorted_and_complete(
    #[case] window: usize,
    #[case] late: usize,
    #[case] provisional: usize,
    #[case] expect_late: bool,
    #[values(ParquetSchema::Original, ParquetSchema::Hive)] schema: ParquetSchema,
) {
    let rows = 30_000;
    let csv = disordered_trades(rows);
    let spill = tempfile::tempdir().unwrap();
    let options = ConvertOptions {
        row_group_size: NonZeroUsize::new(1_000).unwrap(),
        batch_size: NonZeroUsize::new(700).unwrap(),
        spill_dir: spill.path().to_path_buf(),
        sort_window_bytes: NonZeroUsize::new(window).unwrap(),
        late_memory_bytes: NonZeroUsize::new(late).unwrap(),
        provisional_memory_bytes: NonZeroUsize::new(provisional).unwrap(),
        ..options(schema)
    };
    let gz = gzip(csv.as_bytes());
    let parquet = convert_ok(gz.clone(), DataType::Trades, options.clone()).await;
    check_round_trip(&csv, DataType::Trades, schema, parquet.clone());
    let found = timestamps_and_ids(parquet.clone());
    assert_eq!(found.len() as u64, rows, "complete");
    assert!(
        found
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0 || (pair[0].0 == pair[1].0 && pair[0].1 < pair[1].1)),
        "sorted by timestamp, ties in file order"
    );
    let mut ids: Vec<u64> = found.iter().map(|row| row.1).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..rows).collect::<Vec<_>>(), "every row once");

    let metadata = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet.clone()))
        .unwrap()
        .metadata()
        .clone();
    let group_rows: Vec<i64> = metadata.row_groups().iter().map(|group| group.num_rows()).collect();
    // Row groups of 1,000 rows; one that late rows were merged into is written as one or two of at least 500.
    let (last, others) = group_rows.split_last().unwrap();
    assert!(*last <= 1_000, "{group_rows:?}");
    assert!(others.iter().all(|&count| (500..=1_000).contains(&count)), "{group_rows:?}");

    let summary =
        convert::convert_reader(&gz[..], Vec::new(), DataType::Trades, &partition(), &options)
            .unwrap();
    assert_eq!(summary.row_groups, group_rows.len());
    if expect_late {
        assert!(summary.late_rows >= 200, "most of the replayed stretch is late: {summary:?}");
        assert!(
            summary.rewritten_row_groups > 10,
            "late rows fall into many row groups: {summary:?}"
        );
        assert!(
            summary.rewritten_row_groups < summary.row_groups / 2,
            "untouched row groups are copied, not encoded again: {summary:?}"
        );
    } else {
        assert_eq!((summary.late_rows, summary.rewritten_row_groups), (0, 0));
    }
    assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0, "temporary files are gone");
}

#[tokio::test]
async fn the_original_files_have_the_original_layout() {
    // 250,000 rows: row groups of 100,000; timestamps delta-encoded, ids plain, the rest dictionary-encoded; zstd by
    // default, snappy on request; sorted by timestamp as the row groups declare.
    let mut csv = format!("{TRADES_HEADER}\n");
    for index in 0..250_000u64 {
        csv.push_str(&format!(
            "deribit,BTC-PERPETUAL,{},{},{},buy,{}.5,{}\n",
            1_790_812_800_000_000 + index * 100 - index % 4 * 150,
            1_790_812_800_000_000 + index * 100,
            22_000_000 + index,
            93_000 + index % 20,
            index % 7 + 1
        ));
    }
    for (compression, codec) in
        [(ParquetCompression::Zstd, "ZSTD"), (ParquetCompression::Snappy, "SNAPPY")]
    {
        let options = ConvertOptions { compression, ..ConvertOptions::default() };
        assert_eq!(options.schema, ParquetSchema::Original, "the default");
        let parquet = convert_ok(gzip(csv.as_bytes()), DataType::Trades, options).await;
        let metadata = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(parquet))
            .unwrap()
            .metadata()
            .clone();
        let groups: Vec<i64> = metadata.row_groups().iter().map(|group| group.num_rows()).collect();
        assert_eq!(groups, [100_000, 100_000, 50_000]);
        for group in metadata.row_groups() {
            assert_eq!(
                group.sorting_columns().map(|columns| columns[0].column_idx),
                Some(0),
                "sorted by timestamp"
            );
            for column in group.columns() {
                let name = column.column_descr().name();
                let encodings: Vec<String> =
                    column.encodings().map(|encoding| encoding.to_string()).collect();
                if name.ends_with("timestamp") {
                    assert!(
                        encodings.contains(&"DELTA_BINARY_PACKED".to_owned()),
                        "{name}: {encodings:?}"
                    );
                } else if name == "id" {
                    assert_eq!(encodings, ["PLAIN", "RLE"], "{name}: unique, so plain");
                } else {
                    assert!(
                        encodings.contains(&"RLE_DICTIONARY".to_owned()),
                        "{name}: {encodings:?}"
                    );
                }
                assert!(column.statistics().is_some(), "{name} has statistics");
                assert_eq!(column.compression().to_string().split('(').next().unwrap(), codec);
            }
        }
    }
}

#[rstest]
#[case::other_symbol(
    "deribit,ETH-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1",
    Some("BTC-PERPETUAL"),
    "symbol",
    "ETH-PERPETUAL"
)]
#[case::other_exchange(
    "bitmex,BTC-PERPETUAL,1790812812074054,1790812812107755,1,buy,1,1",
    Some("BTC-PERPETUAL"),
    "exchange",
    "bitmex"
)]
#[case::grouped_file_other_exchange(
    "bitmex,XBTUSD,1790812812074054,1790812812107755,1,buy,1,1",
    None,
    "exchange",
    "bitmex"
)]
#[tokio::test]
async fn rows_of_another_unit_are_refused_by_the_original_schema(
    #[case] line: &str,
    #[case] symbol: Option<&str>,
    #[case] column: &str,
    #[case] found: &str,
) {
    let partition = Partition { symbol: symbol.map(str::to_owned), ..partition() };
    let error = convert_err_with(
        trades_with(line),
        DataType::Trades,
        partition.clone(),
        ConvertOptions::default(),
    )
    .await;
    assert!(matches!(error, ConvertError::NotTheUnit { .. }), "{error:?}");
    assert_line_12_is_refused(&error, column, found);
    // The typed schema keeps both columns, so the rows say what they are: nothing to check.
    let (_, error) = run_with(vec![trades_with(line)], DataType::Trades, partition, typed()).await;
    assert!(error.is_none(), "{error:?}");
}

#[tokio::test]
async fn symbols_compare_as_tardis_forms_dataset_ids() {
    // Tardis upper-cases dataset ids and writes `-` for `/` and `:`; a grouped file's rows carry many symbols.
    let csv = format!(
        "{TRADES_HEADER}\nbitfinex,btc/usd,1790812812074054,1790812812107755,1,buy,1,1\n\
         bitfinex,BTC:USD,1790812812074055,1790812812107756,2,buy,1,1\n"
    );
    let unit =
        Partition { exchange: "bitfinex".into(), symbol: Some("BTC-USD".into()), ..partition() };
    let (_, error) =
        run_with(vec![gzip(csv.as_bytes())], DataType::Trades, unit, ConvertOptions::default())
            .await;
    assert!(error.is_none(), "{error:?}");
    let grouped = Partition { exchange: "bitfinex".into(), symbol: None, ..partition() };
    let mixed = format!("{csv}bitfinex,ETH-USD,1790812812074056,1790812812107757,3,buy,1,1\n");
    let (_, error) = run_with(
        vec![gzip(mixed.as_bytes())],
        DataType::Trades,
        grouped,
        ConvertOptions::default(),
    )
    .await;
    assert!(error.is_none(), "{error:?}");
}

#[tokio::test]
async fn a_spill_directory_that_cannot_be_written_is_named() {
    let options = ConvertOptions {
        spill_dir: "/nonexistent/md-spill".into(),
        provisional_memory_bytes: NonZeroUsize::new(1).unwrap(),
        ..ConvertOptions::default()
    };
    let error = convert_err(gzip(small_trades().as_bytes()), DataType::Trades, options).await;
    assert!(
        matches!(&error, ConvertError::Spill { dir, .. } if dir.to_str() == Some("/nonexistent/md-spill")),
        "{error:?}"
    );
    assert!(error.to_string().contains("/nonexistent/md-spill"), "{error}");
}
