//! The metadata API: exchanges, exchange details, instruments with a filter, the key rule, and the cache.

use std::time::Duration;

use tardis_client::InstrumentFilter;

use crate::support::{client, stub};

#[tokio::test]
async fn exchanges_and_details_parse() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 0, |_| {});
    let exchanges = client.exchanges().await.expect("exchanges");
    assert!(exchanges.len() >= 12, "{}", exchanges.len());
    let details = client.exchange_details("deribit").await.expect("details");
    let datasets = details.datasets.expect("datasets");
    assert!(datasets.exported_until.is_some());
    let options =
        datasets.symbols.iter().find(|symbol| symbol.id == "OPTIONS").expect("grouped OPTIONS");
    assert!(options.is_grouped() && options.data_types.iter().any(|t| t == "options_chain"));
    let error = client.exchange_details("nowhere").await.expect_err("unknown exchange");
    assert_eq!((error.status(), error.attempts(), error.is_retryable()), (Some(404), 1, false));
}

#[tokio::test]
async fn instruments_need_a_key_and_apply_the_filter() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 0, |_| {});
    let all =
        client.instruments("deribit", &InstrumentFilter::default()).await.expect("instruments");
    assert!(all.len() > 3);
    let filter = InstrumentFilter {
        symbol_type: vec!["perpetual".into()],
        base_currency: vec!["btc".into()],
        ..InstrumentFilter::default()
    };
    let perpetuals = client.instruments("deribit", &filter).await.expect("filtered");
    assert!(!perpetuals.is_empty() && perpetuals.len() < all.len());
    assert!(
        perpetuals
            .iter()
            .all(|i| i.symbol_type.as_str() == "perpetual" && i.base_currency == "BTC")
    );
    let query =
        stub.requests().last().and_then(|record| record.query.clone()).expect("a filter query");
    assert!(query.starts_with("filter="), "{query}");

    let keyless = crate::support::client(&stub, 0, |config| config.api_key = None);
    let error = keyless
        .instruments("deribit", &InstrumentFilter::default())
        .await
        .expect_err("needs a key");
    assert_eq!((error.status(), error.is_retryable()), (Some(401), false));
    let bitmex = keyless
        .instruments("bitmex", &InstrumentFilter::default())
        .await
        .expect("BitMEX is public");
    assert!(!bitmex.is_empty());
}

#[tokio::test]
async fn metadata_is_cached_for_the_ttl() {
    let stub = stub(|_| {}).await;
    let cached =
        client(&stub, 0, |config| config.metadata_cache_ttl = Some(Duration::from_secs(600)));
    for _ in 0..3 {
        cached.exchange_details("deribit").await.expect("details");
    }
    assert_eq!(stub.attempts("/v1/exchanges/deribit"), 1);
    let uncached = client(&stub, 0, |config| config.metadata_cache_ttl = None);
    for _ in 0..2 {
        uncached.exchange_details("deribit").await.expect("details");
    }
    assert_eq!(stub.attempts("/v1/exchanges/deribit"), 3);
}
