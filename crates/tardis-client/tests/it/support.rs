//! Shared set-up: a stand-in, a client with a fast retry policy, and a helper that drains a dataset stream.

use std::time::Duration;

use chrono::NaiveDate;
use futures::StreamExt;
use md_config::DataType;
use tardis_client::{DatasetRequest, DatasetSummary, Error, Retry, RetryPolicy, TardisClient};
use test_support::tardis::{StubConfig, TardisStub};

pub(crate) const KEY: &str = "TD.test-key-0123456789";

pub(crate) fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// A fast policy: waits of tens of milliseconds, so retries do not slow the suite.
pub(crate) fn fast_policy(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
        jitter: Duration::from_millis(5),
        ..RetryPolicy::default()
    }
}

/// Starts a stand-in that requires [`KEY`], with `edit` applied to its configuration.
pub(crate) async fn stub(edit: impl FnOnce(&mut StubConfig)) -> TardisStub {
    let mut config =
        StubConfig { api_key: Some(KEY.into()), file_size: 16 * 1024, ..StubConfig::default() };
    edit(&mut config);
    TardisStub::start(config).await.expect("the stand-in starts")
}

/// A client for `stub` with the key, `max_retries` and the fast policy; `edit` adjusts the configuration.
pub(crate) fn client(
    stub: &TardisStub,
    max_retries: u32,
    edit: impl FnOnce(&mut md_config::TardisConfig),
) -> TardisClient {
    let mut config = stub.tardis_config();
    config.max_retries = max_retries;
    edit(&mut config);
    TardisClient::new(&config).expect("client").with_retry_policy(fast_policy(max_retries))
}

pub(crate) fn request(
    exchange: &str,
    data_type: DataType,
    date: &str,
    symbol: &str,
) -> DatasetRequest {
    DatasetRequest::new(exchange, data_type, day(date), symbol)
}

/// What one download produced: the bytes handed out, and the summary or the error that ended it.
pub(crate) struct Drained {
    pub(crate) bytes: Vec<u8>,
    pub(crate) outcome: Result<DatasetSummary, Error>,
}

impl std::fmt::Debug for Drained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drained")
            .field("bytes", &self.bytes.len())
            .field("outcome", &self.outcome)
            .finish()
    }
}

/// Opens and drains one dataset stream with a fresh retry budget (no whole-file restarts).
pub(crate) async fn download(
    client: &TardisClient,
    request: &DatasetRequest,
) -> Result<Drained, Error> {
    download_with(client, request, &client.retry()).await
}

/// Opens and drains one dataset stream, drawing its attempts from `retry`.
pub(crate) async fn download_with(
    client: &TardisClient,
    request: &DatasetRequest,
    retry: &Retry,
) -> Result<Drained, Error> {
    let mut stream = client.dataset_with(request, retry).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(error) => {
                assert_eq!(stream.bytes_so_far(), bytes.len() as u64);
                assert!(stream.summary().is_none(), "no summary after an error");
                assert!(stream.next().await.is_none(), "the stream ends after an error");
                return Ok(Drained { bytes, outcome: Err(error) });
            }
        }
    }
    let summary = stream.summary().expect("a summary after a clean end");
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(stream.bytes_so_far(), bytes.len() as u64);
    Ok(Drained { bytes, outcome: Ok(summary) })
}

/// Downloads a file the way the downloader does: restart the whole file on a retryable stream error, drawing every
/// attempt from one retry budget.
pub(crate) async fn fetch_with_restarts(
    client: &TardisClient,
    request: &DatasetRequest,
) -> Result<(Vec<u8>, DatasetSummary), Error> {
    let retry = client.retry();
    loop {
        let drained = download_with(client, request, &retry).await?;
        match drained.outcome {
            Ok(summary) => return Ok((drained.bytes, summary)),
            Err(error) => {
                if !retry.back_off(error.retry_class(), "test download", &error).await {
                    return Err(error);
                }
            }
        }
    }
}

/// The bytes the stand-in serves for a request (no faults).
pub(crate) async fn served(stub: &TardisStub, request: &DatasetRequest) -> Vec<u8> {
    let path = path_of(request);
    stub.expected_body(&path)
        .await
        .expect("readable")
        .expect("the stand-in serves this path")
        .to_vec()
}

pub(crate) fn path_of(request: &DatasetRequest) -> String {
    test_support::tardis::dataset_path(
        &request.exchange,
        request.data_type.as_str(),
        request.date,
        &request.symbol,
    )
}

pub(crate) fn gunzip(body: &[u8]) -> String {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(body).read_to_string(&mut text).expect("valid gzip");
    text
}
