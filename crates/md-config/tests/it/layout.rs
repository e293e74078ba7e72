//! `MD_LAYOUT`: the `hive` preset's object names, its `{instrument}` encoding, and the schema it implies.

use chrono::NaiveDate;
use md_config::{
    DataType, DefinitionsLayout, Layout, ObjectFields, OutputFormat, ParquetSchema, Preset, Source,
    decode_instrument_key, encode_instrument_key,
};
use rstest::rstest;

use super::{dir_with, load_in, setting};

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The object of one unit under `layout`.
fn name(
    layout: &str,
    exchange: &str,
    data_type: DataType,
    key: &str,
    format: OutputFormat,
) -> String {
    let fields = ObjectFields {
        date: day("2024-03-01"),
        exchange,
        data_type,
        symbol: "BTCUSDT",
        instrument_key: key,
        format,
    };
    Layout::parse(layout).unwrap().render(&fields)
}

#[rstest]
#[case::hive_parquet(
    "hive",
    "binance-futures",
    DataType::Trades,
    "BINANCE-FUTURES:PERPETUAL:BTC-USDT",
    OutputFormat::Parquet,
    "raw_tick_data/data_type=trades/exchange=binance-futures/date=2024-03-01/BINANCE-FUTURES%3APERPETUAL%3ABTC-USDT.parquet"
)]
#[case::hive_raw(
    "hive",
    "deribit",
    DataType::IncrementalBookL2,
    "DERIBIT:OPTION:BTC-USD-241225-50000-CALL",
    OutputFormat::Raw,
    "raw_tick_data/data_type=incremental_book_L2/exchange=deribit/date=2024-03-01/DERIBIT%3AOPTION%3ABTC-USD-241225-50000-CALL.csv.gz"
)]
#[case::hive_spaces_around_the_name(
    " hive ",
    "deribit",
    DataType::Quotes,
    "DERIBIT:OPTIONS",
    OutputFormat::Parquet,
    "raw_tick_data/data_type=quotes/exchange=deribit/date=2024-03-01/DERIBIT%3AOPTIONS.parquet"
)]
#[case::default_template(
    "raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}",
    "binance-futures",
    DataType::Trades,
    "BINANCE-FUTURES:PERPETUAL:BTC-USDT",
    OutputFormat::Parquet,
    "raw_tick_data/by_date/day-2024-03-01/data_type-trades/BINANCE-FUTURES:PERPETUAL:BTC-USDT.parquet"
)]
#[case::instrument_in_any_template(
    "ticks/{date}/{data_type}/{instrument}.{ext}",
    "bitmex",
    DataType::BookSnapshot5,
    "BITMEX:PERPETUAL:BTC-USD",
    OutputFormat::Raw,
    "ticks/2024-03-01/book_snapshot_5/BITMEX%3APERPETUAL%3ABTC-USD.csv.gz"
)]
fn object_names(
    #[case] layout: &str,
    #[case] exchange: &str,
    #[case] data_type: DataType,
    #[case] key: &str,
    #[case] format: OutputFormat,
    #[case] expected: &str,
) {
    assert_eq!(name(layout, exchange, data_type, key, format), expected);
}

#[rstest]
#[case::original(
    "raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}",
    DefinitionsLayout::Original,
    [
        "instrument_availability/by_date/day-2024-03-01/instruments.parquet",
        "instrument_availability/by_date/day-2024-03-01/grouped_datasets.parquet",
        "instrument_availability/aggregate/instruments_20240301_20240331.parquet",
    ]
)]
#[case::a_template_keeps_the_original_definitions(
    "{date}/{data_type}/{instrument}.{ext}",
    DefinitionsLayout::Original,
    [
        "instrument_availability/by_date/day-2024-03-01/instruments.parquet",
        "instrument_availability/by_date/day-2024-03-01/grouped_datasets.parquet",
        "instrument_availability/aggregate/instruments_20240301_20240331.parquet",
    ]
)]
#[case::hive(
    "hive",
    DefinitionsLayout::Hive,
    [
        "instrument_availability/date=2024-03-01/instruments.parquet",
        "instrument_availability/grouped_datasets/date=2024-03-01/grouped_datasets.parquet",
        "instrument_availability/aggregate/instruments_20240301_20240331.parquet",
    ]
)]
fn definitions_names(
    #[case] layout: &str,
    #[case] expected_layout: DefinitionsLayout,
    #[case] expected: [&str; 3],
) {
    let definitions = Layout::parse(layout).unwrap().definitions();
    assert_eq!(definitions, expected_layout);
    let names = [
        definitions.day_object(day("2024-03-01")),
        definitions.groups_object(day("2024-03-01")),
        definitions.aggregate_object(day("2024-03-01"), day("2024-03-31")),
    ];
    assert_eq!(names, expected);
}

#[rstest]
#[case::perpetual("BINANCE-FUTURES:PERPETUAL:BTC-USDT", "BINANCE-FUTURES%3APERPETUAL%3ABTC-USDT")]
#[case::option(
    "DERIBIT:OPTION:BTC-USD-241225-50000-CALL",
    "DERIBIT%3AOPTION%3ABTC-USD-241225-50000-CALL"
)]
#[case::no_colon("PLAIN_NAME.~-", "PLAIN_NAME.~-")]
#[case::empty("", "")]
fn keys_encode_and_decode(#[case] key: &str, #[case] encoded: &str) {
    assert_eq!(encode_instrument_key(key), encoded);
    assert_eq!(decode_instrument_key(encoded).unwrap(), key);
}

#[rstest]
#[case::raw_colon("BINANCE:SPOT:BTC-USDT")]
#[case::other_escape("BINANCE%2FSPOT")]
#[case::lower_case_escape("BINANCE%3aSPOT")]
#[case::cut_escape("BINANCE%3")]
fn names_that_are_not_encoded_keys(#[case] name: &str) {
    let error = decode_instrument_key(name).unwrap_err();
    assert!(error.to_string().contains(name), "{error}");
}

#[test]
fn the_hive_preset_implies_the_hive_schema() {
    let dir = dir_with(&[]);
    let loaded = load_in(dir.path(), &[("MD_LAYOUT", "hive")], Vec::new()).unwrap();
    let download = &loaded.config.download;
    assert_eq!(download.layout.preset(), Some(Preset::Hive));
    assert_eq!(download.layout.to_string(), "hive");
    assert_eq!(download.parquet.schema, ParquetSchema::Hive);
    assert_eq!(download.parquet.row_group_size.get(), 1 << 18);
    assert_eq!(setting(&loaded, "MD_PARQUET_SCHEMA"), (Some("hive"), Source::Default));
    let explicit =
        load_in(dir.path(), &[("MD_LAYOUT", "hive"), ("MD_PARQUET_SCHEMA", "hive")], Vec::new())
            .unwrap();
    assert_eq!(explicit.config.download.parquet.schema, ParquetSchema::Hive);
}

#[rstest]
#[case::original_schema(&[("MD_LAYOUT", "hive"), ("MD_PARQUET_SCHEMA", "original")], "MD_PARQUET_SCHEMA")]
#[case::typed_schema(&[("MD_LAYOUT", "hive"), ("MD_PARQUET_SCHEMA", "typed")], "leave MD_PARQUET_SCHEMA unset")]
#[case::unknown_preset(&[("MD_LAYOUT", "hiv")], "nor a preset (hive)")]
fn hive_refuses(#[case] environment: &[(&str, &str)], #[case] expected: &str) {
    let dir = dir_with(&[]);
    let error = load_in(dir.path(), environment, Vec::new()).unwrap_err();
    assert!(error.to_string().contains(expected), "{error}");
}
