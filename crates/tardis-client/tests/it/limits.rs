//! The shared limits: requests per second and per day on tokio's paused clock (deterministic), and requests in
//! flight as the server sees them.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use md_config::DataType;
use tardis_client::limits::Limits;

use crate::support::{client, download, request, stub};

/// Starts of `callers` concurrent callers, `each` admissions each, through one set of limits, as offsets from the
/// first moment on tokio's (paused) clock, sorted.
async fn starts(limits: Limits, callers: usize, each: usize) -> Vec<Duration> {
    let limits = Arc::new(limits);
    let origin = tokio::time::Instant::now();
    let callers = (0..callers).map(|_| {
        let limits = Arc::clone(&limits);
        tokio::spawn(async move {
            let mut starts = Vec::new();
            for _ in 0..each {
                let _slot = limits.admit().await;
                starts.push(origin.elapsed());
            }
            starts
        })
    });
    let mut starts: Vec<Duration> =
        join_all(callers).await.into_iter().flat_map(|caller| caller.expect("caller")).collect();
    starts.sort();
    starts
}

fn limits(per_second: u32, per_day: u32) -> Limits {
    Limits::new(
        NonZeroUsize::new(100).expect("non-zero"),
        NonZeroU32::new(per_second).expect("non-zero"),
        NonZeroU32::new(per_day).expect("non-zero"),
    )
}

/// 60 starts from 6 concurrent callers: no one-second window holds more than the limit, and one holds at least 90%
/// of it; the starts are evenly spaced, 1.03 / limit seconds apart. On a paused clock, which moves only when every
/// caller waits: deterministic.
#[tokio::test(start_paused = true)]
async fn per_second_limit_is_respected_and_used() {
    let limit = 20;
    let starts = starts(limits(limit, 1_000_000), 6, 10).await;
    assert_eq!(starts.len(), 60);
    let window = Duration::from_secs(1);
    let most = starts
        .iter()
        .map(|first| {
            starts.iter().filter(|start| (*first..*first + window).contains(start)).count()
        })
        .max()
        .expect("starts");
    assert!(most <= limit as usize, "{most} > {limit} in one second");
    assert!(most * 10 >= limit as usize * 9, "only {most} of {limit} per second used");
    let spacing = Duration::from_secs_f64(1.03 / f64::from(limit));
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap + Duration::from_micros(1) >= spacing, "starts {gap:?} apart: {starts:?}");
    }
}

/// The daily limit allows its whole budget at once, then one more start per 24 h / budget.
#[tokio::test(start_paused = true)]
async fn per_day_limit_allows_its_budget_then_waits_for_the_refill() {
    let starts = starts(limits(1000, 3), 1, 4).await;
    let refill = Duration::from_secs(86_400 / 3);
    assert!(starts[..3].iter().all(|start| *start < Duration::from_millis(10)), "{starts:?}");
    assert!(starts[3] >= refill, "the fourth start waits for the refill: {starts:?}");
    assert!(starts[3] < refill + Duration::from_secs(1), "and no longer: {starts:?}");
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
