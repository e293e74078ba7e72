//! Byte-exact downloads, grouped symbols, empty days, 404s, and the free-day rule.

use md_config::DataType;
use rstest::rstest;
use tardis_client::{DatasetRequest, Error};

use crate::support::{client, download, gunzip, path_of, request, served, stub};

/// Every data type downloads byte-exact, with the right header, and the summary matches the bytes.
#[rstest]
#[case::trades("deribit", DataType::Trades, "BTC-PERPETUAL")]
#[case::liquidations("binance-futures", DataType::Liquidations, "BTCUSDT")]
#[case::incremental_book_l2("deribit", DataType::IncrementalBookL2, "BTC-PERPETUAL")]
#[case::book_snapshot_25("binance-futures", DataType::BookSnapshot25, "BTCUSDT")]
#[case::book_snapshot_5("okex-swap", DataType::BookSnapshot5, "BTC-USDT-SWAP")]
#[case::quotes("bybit", DataType::Quotes, "BTCUSD")]
#[case::book_ticker("binance-futures", DataType::BookTicker, "BTCUSDT")]
#[case::derivative_ticker("bitmex", DataType::DerivativeTicker, "XBTUSD")]
#[case::options_chain("deribit", DataType::OptionsChain, "OPTIONS")]
#[tokio::test]
async fn every_data_type_downloads_byte_exact(
    #[case] exchange: &str,
    #[case] data_type: DataType,
    #[case] symbol: &str,
) {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 0, |_| {});
    let request = request(exchange, data_type, "2026-10-02", symbol);
    let drained = download(&client, &request).await.expect("opens");
    let summary = drained.outcome.expect("completes");
    let expected = served(&stub, &request).await;
    assert!(drained.bytes == expected, "{exchange} {data_type}: bytes differ");
    assert_eq!(summary.bytes, expected.len() as u64);
    assert_eq!(summary.crc32c, crc32c::crc32c(&expected));
    assert_eq!(summary.attempts, 1);
    let text = gunzip(&drained.bytes);
    assert_eq!(summary.uncompressed_bytes, Some(text.len() as u64));
    let header = text.lines().next().expect("a header");
    assert_eq!(Some(header.to_owned()), test_support::tardis::generate::header(data_type.as_str()));
    let records = stub.requests();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].path, path_of(&request));
}

/// Grouped files (OPTIONS, PERPETUALS, FUTURES, SPOT) download like any symbol; their rows carry real symbols.
#[rstest]
#[case::options(request("deribit", DataType::Trades, "2026-10-02", "OPTIONS"), "-C")]
#[case::perpetuals(
    request("deribit", DataType::DerivativeTicker, "2026-10-02", "PERPETUALS"),
    "PERPETUAL"
)]
#[case::futures(request("binance-futures", DataType::Liquidations, "2026-10-02", "FUTURES"), "_")]
#[case::spot(request("binance", DataType::Trades, "2026-10-02", "SPOT"), "USDT")]
#[tokio::test]
async fn grouped_symbols_carry_real_row_symbols(
    #[case] request: DatasetRequest,
    #[case] hint: &str,
) {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 0, |_| {});
    let grouped = request.symbol.as_str();
    let drained = download(&client, &request).await.expect("opens");
    drained.outcome.expect("completes");
    let text = gunzip(&drained.bytes);
    let symbols: std::collections::BTreeSet<&str> =
        text.lines().skip(1).map(|line| line.split(',').nth(1).expect("a symbol cell")).collect();
    assert!(!symbols.contains(grouped), "rows carry real symbols, not {grouped}");
    assert!(symbols.iter().any(|symbol| symbol.contains(hint)), "{symbols:?}");
}

#[tokio::test]
async fn an_empty_gzip_is_a_valid_file() {
    let request = request("deribit", DataType::Trades, "2026-10-03", "BTC-PERPETUAL");
    let path = path_of(&request);
    let stub = stub(|config| {
        config.empty_paths.insert(path.clone());
    })
    .await;
    let client = client(&stub, 0, |_| {});
    let drained = download(&client, &request).await.expect("opens");
    let summary = drained.outcome.expect("an empty gzip completes");
    assert_eq!(summary.uncompressed_bytes, Some(0));
    assert_eq!(drained.bytes, served(&stub, &request).await);
    assert!(gunzip(&drained.bytes).is_empty());
}

/// Not-found answers (unknown exchange, symbol, type not offered, day outside availability) are final: one attempt.
#[rstest]
#[case::unknown_exchange(request("nowhere", DataType::Trades, "2026-10-02", "BTC-PERPETUAL"))]
#[case::unknown_symbol(request("deribit", DataType::Trades, "2026-10-02", "DOGE-PERPETUAL"))]
#[case::type_not_offered(request(
    "deribit",
    DataType::OptionsChain,
    "2026-10-02",
    "BTC-PERPETUAL"
))]
#[case::before_listing(request("deribit", DataType::Trades, "2019-03-01", "BTC-PERPETUAL"))]
#[case::after_delisting(request("deribit", DataType::Trades, "2025-10-01", "BTC-26SEP25"))]
#[case::not_yet_exported(request("deribit", DataType::Trades, "2026-12-01", "BTC-PERPETUAL"))]
#[tokio::test]
async fn not_found_is_final(#[case] request: DatasetRequest) {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 3, |_| {});
    let error = download(&client, &request).await.expect_err("fails");
    assert_eq!(error.status(), Some(404), "{error}");
    assert!(!error.is_retryable());
    assert_eq!(error.attempts(), 1);
    assert_eq!(stub.counters().total, 1);
    let text = error.to_string();
    assert!(text.contains(&request.to_string()) && text.contains("1 attempt"), "{text}");
}

/// Without a key: the first of a month downloads, any other day fails before a request, saying why.
#[tokio::test]
async fn free_day_rule_without_a_key() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 2, |config| config.api_key = None);
    assert!(!client.has_api_key());
    let free = request("deribit", DataType::Trades, "2026-10-01", "BTC-PERPETUAL");
    let drained = download(&client, &free).await.expect("opens");
    drained.outcome.expect("a free day downloads without a key");
    assert_eq!(drained.bytes, served(&stub, &free).await);

    let paid = request("deribit", DataType::Trades, "2026-10-02", "BTC-PERPETUAL");
    let error = download(&client, &paid).await.expect_err("not a free day");
    assert!(matches!(error, Error::ApiKeyRequired { .. }), "{error:?}");
    assert!(error.is_bad_input() && !error.is_retryable());
    let text = error.to_string();
    assert!(text.contains("first day") && text.contains("TARDIS_API_KEY"), "{text}");
    assert_eq!(stub.counters().total, 1, "nothing was sent for the paid day");
    assert_eq!(stub.counters().with_authorization, 0);
}

/// With a key: any available day downloads and every request carries the key; a wrong key is a final 401.
#[tokio::test]
async fn free_day_rule_with_a_key() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 2, |_| {});
    for date in ["2026-10-01", "2026-10-17"] {
        let request = request("deribit", DataType::Trades, date, "BTC-PERPETUAL");
        let drained = download(&client, &request).await.expect("opens");
        drained.outcome.expect("completes");
    }
    assert_eq!(stub.counters().with_authorization, 2);

    let wrong = crate::support::client(&stub, 2, |config| {
        config.api_key = Some(md_config::Secret::new("TD.wrong"));
    });
    let request = request("deribit", DataType::Trades, "2026-10-17", "BTC-PERPETUAL");
    let error = download(&wrong, &request).await.expect_err("a wrong key fails");
    assert_eq!((error.status(), error.attempts()), (Some(401), 1), "{error}");
    assert!(!error.is_retryable());
}

/// The downloader spawns these: the stream and the futures must be `Send + 'static`.
#[test]
fn streams_and_futures_are_send() {
    fn send_static<T: Send + 'static>(_: &T) {}
    fn stream<T: futures::Stream<Item = tardis_client::Result<bytes::Bytes>> + Send + 'static>() {}
    stream::<tardis_client::DatasetStream>();
    let client =
        tardis_client::TardisClient::new(&md_config::TardisConfig::default()).expect("client");
    let request = request("deribit", DataType::Trades, "2026-10-01", "BTC-PERPETUAL");
    let metadata = client.clone();
    send_static(&async move { client.dataset(&request).await.map(|_| ()) });
    send_static(
        &async move { metadata.instruments("deribit", &Default::default()).await.map(|_| ()) },
    );
}

/// The stand-in itself enforces the rule: without a key, 401 with a Tardis-like JSON body except on the 1st.
#[tokio::test]
async fn the_stand_in_answers_401_without_a_key_on_other_days() {
    let stub = stub(|_| {}).await;
    let http = reqwest::Client::new();
    for (date, expected) in [("2026-10-02", 401), ("2026-10-01", 200)] {
        let path = path_of(&request("deribit", DataType::Trades, date, "BTC-PERPETUAL"));
        let response =
            http.get(format!("{}{path}", stub.base_url())).send().await.expect("answers");
        assert_eq!(response.status().as_u16(), expected, "{date}");
        if expected == 401 {
            let body: serde_json::Value = response.json_or_text().await;
            assert_eq!(body["code"], 401, "{body}");
            assert!(body["message"].as_str().is_some_and(|m| m.contains("first day")), "{body}");
        }
    }
}

trait JsonOrText {
    async fn json_or_text(self) -> serde_json::Value;
}

impl JsonOrText for reqwest::Response {
    async fn json_or_text(self) -> serde_json::Value {
        let text = self.text().await.expect("a body");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
    }
}
