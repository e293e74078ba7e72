//! The hard parts of the key contract, one table or test each: the example keys, expiry from metadata, strikes,
//! inverse options, linear/inverse/quanto twins, one pair settled in two currencies, XBT, Binance's lower-case
//! ids, combos, and a full record.

use chrono::NaiveDate;
use downloader::definitions::listing;
use instruments::{
    Catalog, Instrument, InstrumentKey, InstrumentRecord, InstrumentType, Listing, OptionType,
    RecordSource, key_for_instrument, key_for_symbol,
};
use rstest::rstest;

use super::fixtures::{bare_details, fixture, synthetic};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// The listing of `exchange` with its metadata: `source` is "fixture" or "synthetic".
fn listing_with_key(source: &str, exchange: &str) -> Listing {
    if source == "fixture" {
        fixture(exchange).listing(true)
    } else {
        listing(bare_details(exchange), Some(synthetic(exchange)))
    }
}

/// The instrument `symbol` of `source` ("fixture" or "synthetic") on `exchange`.
fn instrument(source: &str, exchange: &str, symbol: &str) -> Instrument {
    listing_with_key(source, exchange)
        .instruments
        .unwrap_or_default()
        .into_iter()
        .find(|info| info.dataset_symbol == symbol)
        .expect("instrument in the listing")
}

fn record_on(catalog: &Catalog, day: &str, symbol: &str) -> InstrumentRecord {
    catalog
        .day(date(day))
        .records
        .into_iter()
        .find(|r| r.dataset.tardis_symbol == symbol)
        .expect("listed on the day")
}

/// Checks the key from metadata and, where the symbol alone is enough, from the symbol.
fn check(listing: &str, exchange: &str, symbol: &str, expected: &str) {
    let info = instrument(listing, exchange, symbol);
    let key = key_for_instrument(&info).unwrap();
    assert_eq!(key.to_string(), expected, "{exchange} {symbol} from metadata");
    assert_eq!(InstrumentKey::parse(expected).unwrap(), key);
    if exchange != "cryptofacilities" {
        let from_symbol = key_for_symbol(exchange, symbol, &info.symbol_type).unwrap();
        assert_eq!(from_symbol.to_string(), expected, "{exchange} {symbol} from the symbol");
    }
}

#[rstest]
#[case::spot("fixture", "binance", "BTCUSDT", "BINANCE:SPOT_PAIR:BTC-USDT")]
#[case::inverse_perp("fixture", "deribit", "BTC-PERPETUAL", "DERIBIT:PERPETUAL:BTC-USD")]
#[case::linear_perp("fixture", "bybit", "ETHUSDT", "BYBIT:PERPETUAL:ETH-USDT")]
#[case::future("synthetic", "deribit", "BTC-25DEC24", "DERIBIT:FUTURE:BTC-USD-241225")]
#[case::call(
    "synthetic",
    "deribit",
    "BTC-25DEC24-50000-C",
    "DERIBIT:OPTION:BTC-USD-241225-50000-CALL"
)]
#[case::put(
    "synthetic",
    "deribit",
    "BTC-29DEC23-50000-P",
    "DERIBIT:OPTION:BTC-USD-231229-50000-PUT"
)]
fn the_example_keys_come_out_exactly(
    #[case] listing: &str,
    #[case] exchange: &str,
    #[case] symbol: &str,
    #[case] expected: &str,
) {
    check(listing, exchange, symbol, expected);
}

#[rstest]
#[case::fraction("XRP_USDC-27DEC24-0D625-C", "DERIBIT:OPTION:XRP-USDC-241227-0.625-CALL")]
#[case::float_in_json("ETH-27DEC24-1500-P", "DERIBIT:OPTION:ETH-USD-241227-1500-PUT")]
#[case::integer("BTC-27DEC24-85000-C", "DERIBIT:OPTION:BTC-USD-241227-85000-CALL")]
#[case::string_in_json("BTC-29DEC23-50000-P", "DERIBIT:OPTION:BTC-USD-231229-50000-PUT")]
fn strikes_come_from_the_decimal_value_without_float_noise(
    #[case] symbol: &str,
    #[case] expected: &str,
) {
    check("synthetic", "deribit", symbol, expected);
}

#[rstest]
#[case::deribit_index_is_a_future(
    "deribit",
    "BTC-27NOV26-100000-C",
    "DERIBIT:OPTION:BTC-USD-261127-100000-CALL"
)]
#[case::okex_index_is_a_pair(
    "okex-options",
    "BTC-USD-261127-100000-P",
    "OKX-OPTIONS:OPTION:BTC-USD-261127-100000-PUT"
)]
fn inverse_options_are_keyed_in_their_strike_currency(
    #[case] exchange: &str,
    #[case] symbol: &str,
    #[case] expected: &str,
) {
    let info = instrument("fixture", exchange, symbol);
    assert_eq!(info.quote_currency, "BTC", "Tardis quotes the premium currency");
    check("fixture", exchange, symbol, expected);
    let catalog = Catalog::new(&fixture(exchange).listing(true)).unwrap();
    let record = record_on(&catalog, "2026-10-01", symbol);
    assert_eq!(
        (
            record.quote_asset.as_str(),
            record.price_asset.as_deref(),
            record.settle_asset.as_deref()
        ),
        ("USD", Some("BTC"), Some("BTC"))
    );
    assert_eq!(record.terms.inverse, Some(true));
}

#[test]
fn expiry_comes_from_metadata_in_utc_never_from_the_symbol_when_metadata_has_it() {
    let mut info = instrument("fixture", "deribit", "BTC-25DEC26");
    assert_eq!(key_for_instrument(&info).unwrap().to_string(), "DERIBIT:FUTURE:BTC-USD-261225");
    // An expiry at 23:30 in New York on 25 Dec is 26 Dec in UTC; the symbol still says 25DEC26.
    info.expiry = "2026-12-25T23:30:00-05:00".parse().ok();
    assert_eq!(key_for_instrument(&info).unwrap().to_string(), "DERIBIT:FUTURE:BTC-USD-261226");
    info.expiry = None;
    assert_eq!(
        key_for_instrument(&info).unwrap().to_string(),
        "DERIBIT:FUTURE:BTC-USD-261225",
        "symbol fallback"
    );
}

#[rstest]
#[case::deribit_inverse(
    "deribit",
    "BTC-PERPETUAL",
    "DERIBIT:PERPETUAL:BTC-USD",
    Some(true),
    None,
    "BTC"
)]
#[case::deribit_linear(
    "deribit",
    "BTC_USDC-PERPETUAL",
    "DERIBIT:PERPETUAL:BTC-USDC",
    Some(false),
    None,
    "USDC"
)]
#[case::bybit_inverse("bybit", "BTCUSD", "BYBIT:PERPETUAL:BTC-USD", Some(true), None, "BTC")]
#[case::bybit_linear("bybit", "BTCUSDT", "BYBIT:PERPETUAL:BTC-USDT", Some(false), None, "USDT")]
#[case::bybit_inverse_future(
    "bybit",
    "BTCUSDZ26",
    "BYBIT:FUTURE:BTC-USD-261225",
    Some(true),
    None,
    "BTC"
)]
#[case::bybit_usdc_future(
    "bybit",
    "BTC-25DEC26",
    "BYBIT:FUTURE:BTC-USDC-261225",
    Some(false),
    None,
    "USDC"
)]
#[case::bitmex_inverse("bitmex", "XBTUSD", "BITMEX:PERPETUAL:BTC-USD", Some(true), None, "BTC")]
#[case::bitmex_quanto(
    "bitmex",
    "ETHUSD",
    "BITMEX:PERPETUAL:ETH-USD",
    Some(false),
    Some(true),
    "BTC"
)]
#[case::okex_inverse(
    "okex-swap",
    "BTC-USD-SWAP",
    "OKX-SWAP:PERPETUAL:BTC-USD",
    Some(true),
    None,
    "BTC"
)]
#[case::okex_linear(
    "okex-swap",
    "BTC-USDT-SWAP",
    "OKX-SWAP:PERPETUAL:BTC-USDT",
    Some(false),
    None,
    "USDT"
)]
fn linear_inverse_and_quanto_twins_are_told_apart(
    #[case] exchange: &str,
    #[case] symbol: &str,
    #[case] expected: &str,
    #[case] inverse: Option<bool>,
    #[case] quanto: Option<bool>,
    #[case] settle: &str,
) {
    check("fixture", exchange, symbol, expected);
    let catalog = Catalog::new(&fixture(exchange).listing(true)).unwrap();
    let record = record_on(&catalog, "2026-10-01", symbol);
    assert_eq!(record.terms.inverse, inverse, "{symbol}");
    assert_eq!(
        record.terms.quanto.filter(|quanto| *quanto),
        quanto.filter(|quanto| *quanto),
        "{symbol}"
    );
    assert_eq!(record.settle_asset.as_deref(), Some(settle), "{symbol}");
}

#[test]
fn one_pair_settled_in_two_currencies_gets_one_variant() {
    let catalog = Catalog::new(&listing_with_key("synthetic", "cryptofacilities")).unwrap();
    let day = catalog.day(date("2024-10-01"));
    let listed: Vec<(String, String, Option<String>)> = day
        .records
        .iter()
        .map(|r| {
            (r.instrument_key.to_string(), r.dataset.tardis_symbol.clone(), r.settle_asset.clone())
        })
        .collect();
    let row = |key: &str, symbol: &str, settle: &str| {
        (key.to_owned(), symbol.to_owned(), Some(settle.to_owned()))
    };
    assert_eq!(
        listed,
        [
            row("CRYPTOFACILITIES:FUTURE:BTC-USD-241227", "FF_XBTUSD_241227", "USD"),
            row(
                "CRYPTOFACILITIES:FUTURE:BTC-USD-241227~FI_XBTUSD_241227",
                "FI_XBTUSD_241227",
                "BTC"
            ),
            row("CRYPTOFACILITIES:PERPETUAL:BTC-USD", "PI_XBTUSD", "BTC"),
            row("CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD", "PF_XBTUSD", "USD"),
            row("CRYPTOFACILITIES:PERPETUAL:ETH-USD", "PF_ETHUSD", "USD"),
        ]
    );
    // PI_ETHUSD ended when PF_ETHUSD began: they never share a day, so they share the plain key.
    assert_eq!(
        record_on(&catalog, "2022-12-31", "PI_ETHUSD").instrument_key.to_string(),
        "CRYPTOFACILITIES:PERPETUAL:ETH-USD"
    );
    assert!(
        catalog
            .day(date("2022-12-31"))
            .records
            .iter()
            .all(|r| r.dataset.tardis_symbol != "PF_ETHUSD")
    );
    // The plain key goes to the first listed whatever the input order.
    let mut reversed = synthetic("cryptofacilities");
    reversed.reverse();
    let again = Catalog::new(&listing(bare_details("cryptofacilities"), Some(reversed))).unwrap();
    assert_eq!(again.day(date("2024-10-01")).records, day.records);
}

#[test]
fn xbt_is_already_btc_and_binance_ids_are_lower_case() {
    check("fixture", "bitmex", "XBTUSD", "BITMEX:PERPETUAL:BTC-USD");
    for with_key in [true, false] {
        let catalog = Catalog::new(&fixture("binance").listing(with_key)).unwrap();
        let record = record_on(&catalog, "2026-10-01", "BTCUSDT");
        assert_eq!(
            (record.exchange_raw_symbol.as_str(), record.dataset.tardis_symbol.as_str()),
            ("btcusdt", "BTCUSDT")
        );
        assert_eq!(record.instrument_key.to_string(), "BINANCE:SPOT_PAIR:BTC-USDT");
    }
    let futures = fixture("binance-futures");
    let mut without_dataset_id: Vec<_> = futures.instruments();
    without_dataset_id.retain(|info| info.id == "btcusdt");
    without_dataset_id[0].dataset_id = None;
    assert_eq!(without_dataset_id[0].dataset_symbol(), "BTCUSDT");
    let listed = listing(futures.details(), Some(without_dataset_id));
    let without_dataset_id = &listed.instruments.as_ref().unwrap()[0];
    assert_eq!(without_dataset_id.dataset_symbol, "BTCUSDT");
    assert_eq!(
        key_for_instrument(without_dataset_id).unwrap().to_string(),
        "BINANCE-FUTURES:PERPETUAL:BTC-USDT"
    );
}

#[rstest]
#[case::future_spread("fixture", "BTC-FS-25DEC26_PERP", "DERIBIT:COMBO:BTC-USD-FS_261225_PERP")]
#[case::call_spread(
    "synthetic",
    "BTC-CS-27DEC24-60000_65000",
    "DERIBIT:COMBO:BTC-USD-CS_241227_60000_65000"
)]
fn combos_are_keyed_by_their_legs(
    #[case] listing: &str,
    #[case] symbol: &str,
    #[case] expected: &str,
) {
    check(listing, "deribit", symbol, expected);
    let key = InstrumentKey::parse(expected).unwrap();
    assert_eq!(key.instrument_type(), InstrumentType::Combo);
}

#[test]
fn a_record_carries_every_field() {
    let exchange = fixture("deribit");
    let catalog = Catalog::new(&exchange.listing(true)).unwrap();
    let record = record_on(&catalog, "2026-10-01", "BTC-27NOV26-100000-C");
    assert_eq!(record.instrument_key.to_string(), "DERIBIT:OPTION:BTC-USD-261127-100000-CALL");
    assert_eq!(
        (record.venue.as_str(), record.instrument_type),
        ("DERIBIT", InstrumentType::Option)
    );
    assert_eq!(record.canonical_symbol, "BTC-USD-261127-100000-CALL");
    assert_eq!((record.base_asset.as_str(), record.quote_asset.as_str()), ("BTC", "USD"));
    assert_eq!(record.expiry.as_deref(), Some("261127"));
    assert_eq!(
        record.expiry_time.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-11-27T08:00:00+00:00")
    );
    assert_eq!(record.strike.as_ref().map(|s| s.as_str()), Some("100000"));
    assert_eq!(record.option_type, Some(OptionType::Call));
    assert_eq!(record.terms.contract_type.as_deref(), Some("call_option"));
    assert_eq!(record.terms.underlying_index.as_deref(), Some("BTC-27NOV26"));
    assert_eq!(
        (
            record.terms.contract_size,
            record.terms.tick_size,
            record.terms.min_size,
            record.terms.maker_fee,
            record.terms.taker_fee
        ),
        (Some(1.0), Some(0.0001), Some(0.1), Some(0.0003), Some(0.0003))
    );
    assert_eq!(
        (record.dataset.tardis_exchange.as_str(), record.exchange_raw_symbol.as_str()),
        ("deribit", "BTC-27NOV26-100000-C")
    );
    assert_eq!(record.dataset.available_since.to_rfc3339(), "2026-08-28T00:00:00+00:00");
    assert_eq!(record.dataset.available_to, None);
    assert_eq!(
        record.dataset.data_types,
        ["trades", "incremental_book_L2", "quotes", "book_snapshot_25", "book_snapshot_5"]
    );
    assert_eq!(record.source, RecordSource::Metadata);
}

/// The original lost digits of base assets (`1000SHIBUSDT` became `SHIB`, `API3USDT` `API`) and kept only USDT quotes
/// outside Deribit and Upbit: md keys the currencies Tardis gives, from metadata and from the symbol alike.
/// `(exchange, symbol, type, base, quote, key)`.
#[rstest]
#[case::leading_digits(
    "binance-futures",
    "1000SHIBUSDT",
    InstrumentType::Perpetual,
    "1000SHIB",
    "USDT",
    "BINANCE-FUTURES:PERPETUAL:1000SHIB-USDT"
)]
#[case::trailing_digit(
    "binance",
    "API3USDT",
    InstrumentType::Spot,
    "API3",
    "USDT",
    "BINANCE:SPOT_PAIR:API3-USDT"
)]
#[case::usdc_quote(
    "binance",
    "ETHUSDC",
    InstrumentType::Spot,
    "ETH",
    "USDC",
    "BINANCE:SPOT_PAIR:ETH-USDC"
)]
#[case::okx_spot("okex", "ETH-BTC", InstrumentType::Spot, "ETH", "BTC", "OKX:SPOT_PAIR:ETH-BTC")]
fn base_assets_keep_their_digits_and_every_quote_is_keyed(
    #[case] exchange: &str,
    #[case] symbol: &str,
    #[case] kind: InstrumentType,
    #[case] base: &str,
    #[case] quote: &str,
    #[case] expected: &str,
) {
    let since = "2021-05-10T00:00:00Z".parse().unwrap();
    let info = Instrument::new(exchange, symbol, kind, base, quote, since);
    assert_eq!(key_for_instrument(&info).unwrap().to_string(), expected, "from metadata");
    let from_symbol = key_for_symbol(exchange, symbol, &kind.into()).unwrap();
    assert_eq!(from_symbol.to_string(), expected, "from the symbol");
}
