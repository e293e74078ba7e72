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

/// The details carry `exportedUntil` and the incident reports; `api-key-info` says what the key covers, and a key
/// Tardis refuses is a final 401.
#[tokio::test]
async fn freshness_incidents_and_what_the_key_covers() {
    let until: chrono::DateTime<chrono::Utc> = "2026-10-05T06:00:00Z".parse().unwrap();
    let stub = stub(|config| {
        config.exported_until = Some(until);
        config.incidents.push(test_support::tardis::StubIncident {
            exchange: "deribit".into(),
            from: "2026-10-02T10:00:00Z".parse().unwrap(),
            to: "2026-10-02T11:30:00Z".parse().unwrap(),
            status: "unresolved".into(),
            details: "recorder gap".into(),
        });
    })
    .await;
    let client = client(&stub, 0, |_| {});
    let details = client.exchange_details("deribit").await.expect("details");
    assert_eq!(details.datasets.expect("datasets").exported_until, Some(until));
    let incident = details.incident_reports.last().expect("the incident is listed");
    assert_eq!(
        (incident.status.as_str(), incident.details.as_str()),
        ("unresolved", "recorder gap")
    );

    let access = client.api_key_info().await.expect("the key is accepted");
    assert!(access.iter().any(|entry| entry.exchange == "deribit" && entry.symbols.is_empty()));

    let refused = crate::support::client(&stub, 3, |config| {
        config.api_key = Some(md_config::Secret::new("TD.wrong"));
    });
    let error = refused.api_key_info().await.expect_err("a wrong key is refused");
    assert_eq!((error.status(), error.attempts(), error.is_retryable()), (Some(401), 1, false));
    let keyless = crate::support::client(&stub, 3, |config| config.api_key = None);
    assert!(keyless.api_key_info().await.expect_err("no key").is_bad_input());
}

/// A host name that does not resolve fails after one quick retry with an error that says so, instead of the whole
/// retry policy (which is for resets and timeouts).
#[tokio::test]
async fn a_name_that_does_not_resolve_fails_fast_and_says_so() {
    let stub = stub(|_| {}).await;
    let client = client(&stub, 5, |config| {
        config.api_url = "http://md-no-such-host.invalid".parse().unwrap();
    });
    let error = client.exchanges().await.expect_err("unresolvable");
    assert!(matches!(error, tardis_client::Error::Unresolved { .. }), "{error:?}");
    assert_eq!((error.attempts(), error.is_retryable()), (1, false));
    let message = error.to_string();
    assert!(
        message.contains("md-no-such-host.invalid") && message.contains("resolve"),
        "{message}"
    );
    assert_eq!(stub.counters().total, 0, "nothing reached a server");
}
