//! Symbol normalisation in dataset URLs (property tests), and the server finding what the client asked for.

use md_config::DataType;
use proptest::prelude::*;
use tardis_client::encode_dataset_symbol;

use crate::support::{client, download, request, stub};

mod property_tests {
    use super::*;

    proptest! {
        /// The encoded symbol is upper case, has no ':' or '/', uses only URL-safe bytes and %XX escapes,
        /// decodes back to the normalised symbol, and normalising twice changes nothing.
        #[test]
        fn prop_symbols_normalise_and_encode(symbol in "\\PC{0,24}") {
            let encoded = encode_dataset_symbol(&symbol);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b)), "{}", encoded);
            let decoded = percent_encoding::percent_decode_str(&encoded).decode_utf8().expect("utf-8");
            prop_assert_eq!(decoded.as_ref(), tardis_client::wire::normalize_dataset_symbol(&symbol));
            prop_assert!(!decoded.contains(':') && !decoded.contains('/'));
            prop_assert!(!decoded.chars().any(|c| c.is_ascii_lowercase()));
            prop_assert_eq!(encode_dataset_symbol(&decoded), encoded.clone());
        }

        /// Exchange-style symbols map as the official clients map them.
        #[test]
        fn prop_ascii_symbols_map_like_the_official_clients(symbol in "[a-zA-Z0-9_:/-]{1,20}") {
            let expected: String = symbol.replace([':', '/'], "-").to_uppercase();
            prop_assert_eq!(encode_dataset_symbol(&symbol), expected);
        }
    }
}

/// Lower-case and `:`/`/` spellings reach the file the server knows.
#[tokio::test]
async fn normalised_symbols_reach_the_server() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 0, |_| {});
    for (exchange, symbol) in
        [("binance-futures", "btcusdt"), ("deribit", "btc-perpetual"), ("deribit", "btc_usdc")]
    {
        let request = request(exchange, DataType::Trades, "2026-10-02", symbol);
        let drained = download(&client, &request).await.expect("opens");
        drained.outcome.unwrap_or_else(|error| panic!("{symbol}: {error}"));
    }
    let url =
        client.dataset_url(&request("okex-swap", DataType::Trades, "2026-10-02", "btc/usdt:swap"));
    assert!(
        url.as_str().ends_with("/v1/okex-swap/trades/2026/10/02/BTC-USDT-SWAP.csv.gz"),
        "{url}"
    );
}
