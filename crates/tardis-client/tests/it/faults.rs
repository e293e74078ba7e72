//! Each fault class, recovered or reported as the rules say, with the number of attempts asserted.

use std::time::Duration;

use md_config::DataType;
use rstest::rstest;
use tardis_client::{DatasetRequest, Error, TardisClient};
use test_support::tardis::{AuthSeen, Fault, StubConfig, TardisStub};

use crate::support::{
    client, download, download_with, fetch_with_restarts, path_of, request, served, stub,
};

fn trades() -> DatasetRequest {
    request("deribit", DataType::Trades, "2026-10-02", "BTC-PERPETUAL")
}

/// A stand-in without range support that cuts the first `cuts` bodies mid-way, a client allowing `max_retries`,
/// and the trades request.
async fn cut_without_ranges(
    cuts: usize,
    max_retries: u32,
) -> (TardisStub, TardisClient, DatasetRequest) {
    let stub = stub(|config| config.ranges = false).await;
    stub.push_faults(Fault::DropMidBody, cuts);
    let client = client(&stub, max_retries, |_| {});
    (stub, client, trades())
}

/// Failures before the first byte are retried inside `dataset()` while the policy allows, then reported.
/// `(fault, times injected, max_retries) -> (attempts seen by the server, success?)`.
#[rstest]
#[case::one_500(Fault::Status(500), 1, 3, 2, true)]
#[case::three_503(Fault::Status(503), 3, 3, 4, true)]
#[case::bad_gateway_until_exhausted(Fault::Status(502), 10, 3, 4, false)]
#[case::no_retries(Fault::Status(500), 1, 0, 1, false)]
#[case::too_many_with_retry_after(Fault::TooManyRequests { retry_after_secs: 0 }, 2, 3, 3, true)]
#[case::quota_spent(Fault::TooManyRequests { retry_after_secs: 301 }, 1, 3, 1, false)]
#[case::bad_request(Fault::Status(400), 1, 3, 1, false)]
#[case::unauthorized(Fault::Status(401), 1, 3, 1, false)]
#[case::forbidden(Fault::Status(403), 1, 3, 1, false)]
#[case::not_found(Fault::Status(404), 1, 3, 1, false)]
#[tokio::test]
async fn failures_before_the_body(
    #[case] fault: Fault,
    #[case] times: usize,
    #[case] max_retries: u32,
    #[case] expected_attempts: u32,
    #[case] succeeds: bool,
) {
    let stub = stub(|_| {}).await;
    stub.push_faults(fault.clone(), times);
    let client = client(&stub, max_retries, |_| {});
    let request = trades();
    let outcome = download(&client, &request).await;
    assert_eq!(stub.attempts(&path_of(&request)), expected_attempts as usize, "{fault:?}");
    match outcome {
        Ok(drained) => {
            assert!(succeeds, "{fault:?} should fail");
            let summary = drained.outcome.expect("completes");
            assert_eq!(summary.attempts, expected_attempts);
            assert_eq!(drained.bytes, served(&stub, &request).await);
        }
        Err(error) => {
            assert!(!succeeds, "{fault:?} should succeed: {error}");
            assert_eq!(error.attempts(), expected_attempts, "{error}");
            assert!(
                error.to_string().contains(&format!("{expected_attempts} attempt(s)")),
                "{error}"
            );
            if matches!(fault, Fault::TooManyRequests { .. }) {
                assert!(matches!(error, Error::QuotaExhausted { .. }), "{error:?}");
            }
        }
    }
    // Retries carry ?retryAttempt=N, the first attempt none.
    let queries: Vec<Option<String>> =
        stub.requests().into_iter().map(|record| record.query).collect();
    for (index, query) in queries.iter().enumerate() {
        let expected = (index > 0).then(|| format!("retryAttempt={index}"));
        assert_eq!(query, &expected);
    }
}

/// 429 waits at least its Retry-After before the next attempt (as the server's clock sees it).
#[tokio::test]
async fn retry_after_is_honoured() {
    let stub = stub(|_| {}).await;
    stub.push_faults(Fault::TooManyRequests { retry_after_secs: 1 }, 1);
    let client = client(&stub, 2, |_| {});
    let drained = download(&client, &trades()).await.expect("opens");
    assert_eq!(drained.outcome.expect("completes").attempts, 2);
    let records = stub.requests();
    assert_eq!(records.len(), 2);
    let waited = records[1].at - records[0].at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
}

/// A body cut mid-way resumes with Range + If-Range when the server supports ranges: one file, exact bytes.
#[rstest]
#[case::dropped(Fault::DropMidBody)]
#[case::stalled(Fault::Stall)]
#[tokio::test]
async fn cut_bodies_resume_with_range(#[case] fault: Fault) {
    let stub = stub(|config| {
        config.stall = Duration::from_secs(2);
        config.file_size = 48 * 1024;
    })
    .await;
    let request = trades();
    // Generate the file before the clock matters: the idle timeout below is short.
    let expected = served(&stub, &request).await;
    stub.push_faults(fault.clone(), 1);
    let client = client(&stub, 3, |config| config.read_timeout = Duration::from_millis(400));
    let drained = download(&client, &request).await.expect("opens");
    let summary = drained.outcome.expect("resumed and completed");
    assert!(drained.bytes == expected, "{fault:?}: bytes differ after resume");
    assert_eq!(summary.attempts, 2);
    assert_eq!(summary.crc32c, crc32c::crc32c(&expected));
    let records = stub.requests();
    assert_eq!(records.len(), 2);
    let range = records[1].range.as_deref().expect("the second request asks for a range");
    let from: usize =
        range.trim_start_matches("bytes=").trim_end_matches('-').parse().expect("bytes=N-");
    assert!(from > 0 && from < expected.len(), "{range}");
    assert_eq!(records[1].status, 206);
    assert_eq!(records[1].query.as_deref(), Some("retryAttempt=1"));
}

/// Without range support a cut body is a retryable BodyCutShort; the caller restarts the file and the attempt
/// count continues.
#[tokio::test]
async fn cut_bodies_without_ranges_restart_the_file() {
    let (stub, client, request) = cut_without_ranges(1, 3).await;
    let retry = client.retry();
    let first = download_with(&client, &request, &retry).await.expect("opens");
    let error = first.outcome.expect_err("the cut is reported");
    assert!(matches!(error, Error::BodyCutShort { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert_eq!(error.attempts(), 1);
    let expected = served(&stub, &request).await;
    assert!(first.bytes.len() < expected.len(), "the last chunk is held back");
    assert!(retry.next(error.retry_class()).is_some(), "the budget allows a restart");
    let second = download_with(&client, &request, &retry).await.expect("opens");
    let summary = second.outcome.expect("completes");
    assert_eq!(summary.attempts, 2);
    assert!(second.bytes == expected);
    assert_eq!(stub.attempts(&path_of(&request)), 2);
}

/// Corrupt and truncated gzip (with a matching Content-Length) are caught before the last byte is handed out;
/// the error is retryable and a restart succeeds.
#[rstest]
#[case::corrupt_byte(Fault::CorruptByte)]
#[case::truncated(Fault::TruncatedGzip)]
#[tokio::test]
async fn bad_gzip_is_caught_and_restarted(#[case] fault: Fault) {
    let stub = stub(|_| {}).await;
    stub.push_faults(fault.clone(), 1);
    let client = client(&stub, 3, |_| {});
    let request = trades();
    let expected = served(&stub, &request).await;
    let first = download(&client, &request).await.expect("opens");
    let error = first.outcome.expect_err("bad gzip is reported");
    assert!(matches!(error, Error::CorruptGzip { .. }), "{fault:?}: {error:?}");
    assert!(error.is_retryable() && error.attempts() == 1);
    assert!(first.bytes.len() < expected.len(), "not the whole file");
    let (bytes, summary) =
        fetch_with_restarts(&client, &request).await.expect("a restart succeeds");
    assert!(bytes == expected);
    assert_eq!(summary.attempts, 1, "a fresh call counts from 1");
    assert_eq!(stub.attempts(&path_of(&request)), 2);
}

/// Restarts count against one budget: a file that keeps failing stops after max_retries + 1 attempts overall.
#[tokio::test]
async fn whole_file_restarts_share_one_budget() {
    let (stub, client, request) = cut_without_ranges(10, 2).await;
    let error = fetch_with_restarts(&client, &request).await.expect_err("gives up");
    assert!(matches!(error, Error::BodyCutShort { .. }), "{error:?}");
    assert_eq!(error.attempts(), 3);
    assert_eq!(stub.attempts(&path_of(&request)), 3);
}

/// A resume that meets a server that no longer honours the range (answers 200) is a restart, never a splice.
#[tokio::test]
async fn a_resume_answered_with_the_whole_file_is_not_spliced() {
    // First request: cut mid-body; second (the Range request): redirected to a stand-in without ranges.
    let plain = TardisStub::start(StubConfig {
        ranges: false,
        file_size: 16 * 1024,
        ..StubConfig::default()
    })
    .await
    .expect("starts");
    let stub = crate::support::stub(|config| config.redirect_to = Some(plain.base_url())).await;
    stub.push_faults(Fault::DropMidBody, 1);
    stub.push_faults(Fault::Redirect, 1);
    let client = client(&stub, 3, |_| {});
    let request = trades();
    let drained = download(&client, &request).await.expect("opens");
    let error = drained.outcome.expect_err("no splice");
    assert!(matches!(error, Error::BodyCutShort { .. }) && error.is_retryable(), "{error:?}");
    assert_eq!(error.attempts(), 2);
}

/// A cross-origin redirect is followed without the key; the same-origin first hop carried it.
#[tokio::test]
async fn cross_origin_redirects_drop_the_key() {
    let second = TardisStub::start(StubConfig { file_size: 16 * 1024, ..StubConfig::default() })
        .await
        .expect("starts");
    let first = stub(|config| config.redirect_to = Some(second.base_url())).await;
    first.push_faults(Fault::Redirect, 1);
    let client = client(&first, 1, |_| {});
    let request = request("deribit", DataType::Trades, "2026-10-01", "BTC-PERPETUAL");
    let drained = download(&client, &request).await.expect("opens");
    let summary = drained.outcome.expect("completes through the redirect");
    assert_eq!(summary.attempts, 1, "following a redirect is not a retry");
    assert!(drained.bytes == served(&second, &request).await);
    let first_seen = first.requests();
    assert_eq!(
        (first_seen.len(), first_seen[0].auth, first_seen[0].status),
        (1, AuthSeen::Valid, 302)
    );
    let second_seen = second.requests();
    assert_eq!(second_seen.len(), 1);
    assert_eq!(
        second_seen[0].auth,
        AuthSeen::Absent,
        "the key must not follow a redirect to another origin"
    );
    assert_eq!(second.counters().with_authorization, 0);
}

/// Metadata calls retry too.
#[tokio::test]
async fn metadata_calls_are_retried() {
    let stub = stub(|_| {}).await;
    stub.push_faults(Fault::Status(503), 2);
    let client = client(&stub, 3, |_| {});
    let exchanges = client.exchanges().await.expect("retried to success");
    assert!(exchanges.iter().any(|exchange| exchange.id == "deribit"));
    assert_eq!(stub.attempts("/v1/exchanges"), 3);
    stub.push_faults(Fault::DropMidBody, 1);
    let details = client.exchange_details("deribit").await.expect("a cut body is retried");
    assert_eq!(details.id, "deribit");
    assert_eq!(stub.attempts("/v1/exchanges/deribit"), 2);
}

/// Tardis's error bodies are read into typed errors: a code that says the data does not exist is
/// `Error::NotOffered` (final, one attempt), any other code stays a status error that carries it.
#[rstest]
#[case::date_outside_listing(Fault::date_outside_listing(), Some(140))]
#[case::invalid_symbol(Fault::invalid_symbol(), Some(300))]
#[case::other_code(Fault::Coded { status: 400, code: 999, message: "odd".into(), retry_after_secs: None }, None)]
#[tokio::test]
async fn coded_errors_are_typed(#[case] fault: Fault, #[case] not_offered: Option<u32>) {
    let stub = stub(|_| {}).await;
    let request = trades();
    stub.script_path(&path_of(&request), fault, test_support::tardis::Times::Always);
    let client = client(&stub, 3, |_| {});
    let error = download(&client, &request).await.expect_err("refused");
    assert_eq!(stub.attempts(&path_of(&request)), 1, "never retried: {error}");
    assert!(!error.is_retryable());
    match not_offered {
        Some(code) => {
            assert!(error.is_not_offered(), "{error:?}");
            assert_eq!((error.status(), error.code()), (Some(400), Some(code)));
            assert!(error.to_string().contains(&format!("code {code}")), "{error}");
        }
        None => {
            assert!(
                matches!(error, Error::Status { status: 400, code: Some(999), .. }),
                "{error:?}"
            );
        }
    }
}

/// 403 with code 274 (the key is in use from another IP address) holds every request back for the pause and then
/// tries again, without taking from the file's retry budget: a lock that clears costs no attempt.
#[tokio::test]
async fn a_key_in_use_elsewhere_pauses_and_then_serves() {
    let stub = stub(|_| {}).await;
    let request = trades();
    stub.script_path(
        &path_of(&request),
        Fault::key_in_use(None),
        test_support::tardis::Times::Next(3),
    );
    let client = client(&stub, 0, |config| {
        config.ip_lock_pause = Duration::from_millis(100);
        config.ip_lock_max_wait = Duration::from_secs(30);
    });
    let started = std::time::Instant::now();
    let drained = download(&client, &request).await.expect("served once the lock clears");
    let summary = drained.outcome.expect("completes");
    assert_eq!(summary.attempts, 1, "the waits are not attempts");
    assert_eq!(stub.attempts(&path_of(&request)), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "three pauses: {:?}",
        started.elapsed()
    );
    assert_eq!(drained.bytes, served(&stub, &request).await);
}

/// A lock that outlasts TARDIS_IP_LOCK_MAX_WAIT_SECS ends in `Error::IpLocked`, and from then on the client sends
/// nothing: every request, dataset or metadata, fails at once.
#[tokio::test]
async fn a_key_in_use_for_good_shuts_the_client() {
    let stub = stub(|_| {}).await;
    stub.set_standing_fault(Some(Fault::key_in_use(Some(900))));
    let client = client(&stub, 5, |config| {
        config.ip_lock_pause = Duration::from_millis(50);
        config.ip_lock_max_wait = Duration::from_millis(300);
    });
    let started = std::time::Instant::now();
    let error = download(&client, &trades()).await.expect_err("locked");
    assert!(error.is_ip_locked(), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!((error.status(), error.code()), (Some(403), Some(274)));
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    let text = error.to_string();
    assert!(text.contains("in use from another IP address"), "{text}");
    let seen = stub.counters().total;
    assert!((6..=9).contains(&seen), "about one request per pause: {seen}");
    stub.set_standing_fault(None);
    let other = request("deribit", DataType::Trades, "2026-10-03", "BTC-PERPETUAL");
    assert!(download(&client, &other).await.expect_err("shut").is_ip_locked());
    let metadata = client.exchange_details("deribit").await.expect_err("shut");
    assert!(metadata.is_ip_locked(), "{metadata:?}");
    assert_eq!(stub.counters().total, seen, "nothing more was sent");
}

/// During the metadata fetch the same answer is the same wait, then the same stop: never a plain 403 that a caller
/// could take for a refused key.
#[tokio::test]
async fn a_key_in_use_stops_metadata_too() {
    let stub = stub(|_| {}).await;
    stub.set_standing_fault(Some(Fault::key_in_use(None)));
    let client = client(&stub, 5, |config| {
        config.ip_lock_pause = Duration::from_millis(20);
        config.ip_lock_max_wait = Duration::ZERO;
    });
    let error = client
        .instruments("deribit", &tardis_client::InstrumentFilter::default())
        .await
        .expect_err("locked");
    assert!(error.is_ip_locked() && !error.is_key_refused(), "{error:?}");
    assert_eq!(stub.counters().total, 1, "0 s of waiting: the first answer stops");
}
