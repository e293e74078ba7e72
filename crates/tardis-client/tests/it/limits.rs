//! The shared limits, as the server sees them: requests per second and requests in flight.

use std::num::{NonZeroU32, NonZeroUsize};

use futures::future::join_all;
use md_config::DataType;

use crate::support::{client, download, request, stub};

/// 60 metadata calls from 6 concurrent callers (clones of one client): the server never sees more than the limit
/// in any one-second window, and sees at least 90% of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_second_limit_is_respected_and_used() {
    let stub = stub(|_| {}).await;
    let limit = 20;
    let client = client(&stub, 0, |config| {
        config.rate_limit_per_second = NonZeroU32::new(limit).expect("non-zero");
    });
    let callers = (0..6).map(|_| {
        let client = client.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                client.exchange_details("deribit").await.expect("answers");
            }
        })
    });
    for caller in join_all(callers).await {
        caller.expect("caller finished");
    }
    let counters = stub.counters();
    assert_eq!(counters.total, 60);
    assert!(
        counters.max_per_second <= limit as usize,
        "{} > {limit} in one second",
        counters.max_per_second
    );
    assert!(
        counters.max_per_second * 10 >= limit as usize * 9,
        "only {} of {limit} per second used",
        counters.max_per_second
    );
}

/// 12 slow downloads through a client allowing 3 in flight: the server never sees more than 3 at once, and does
/// see 3 (the bound is used).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_bound_is_respected() {
    let stub = stub(|config| {
        config.bandwidth = Some(200 * 1024);
        config.file_size = 16 * 1024;
    })
    .await;
    let client = client(&stub, 0, |config| {
        config.max_concurrent = NonZeroUsize::new(3).expect("non-zero");
        config.rate_limit_per_second = NonZeroU32::new(1000).expect("non-zero");
    });
    let dates = ["2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05"];
    let symbols = ["BTC-PERPETUAL", "ETH-PERPETUAL", "BTC_USDC-PERPETUAL"];
    let downloads = dates.iter().flat_map(|date| {
        symbols.iter().map(|symbol| {
            let client = client.clone();
            let request = request("deribit", DataType::Trades, date, symbol);
            tokio::spawn(async move {
                let drained = download(&client, &request).await.expect("opens");
                drained.outcome.expect("completes");
            })
        })
    });
    for download in join_all(downloads.collect::<Vec<_>>()).await {
        download.expect("download finished");
    }
    let counters = stub.counters();
    assert_eq!(counters.total, 12);
    assert_eq!(counters.in_flight_peak, 3, "the bound of 3 is neither exceeded nor left unused");
}
