//! Dataset files: the request, and [`DatasetStream`], the verified byte stream of one file.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::NaiveDate;
use futures::stream::{BoxStream, Stream, StreamExt};
use md_config::DataType;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, HeaderValue, LAST_MODIFIED};
use tokio::sync::OwnedSemaphorePermit;
use url::Url;

use crate::gzip::{GzipError, GzipVerifier};
use crate::http::{self, Http, Refusal, describe_transport};
use crate::retry::Retry;
use crate::{Error, Result, urls};

/// One dataset file: exchange × data type × UTC day × symbol.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DatasetRequest {
    /// Tardis exchange id (`deribit`, `binance-futures`, ...).
    pub exchange: String,
    /// Data type.
    pub data_type: DataType,
    /// The UTC day.
    pub date: NaiveDate,
    /// Dataset symbol (`datasetId`) or a grouped id (`OPTIONS`, `PERPETUALS`, ...); normalised in the URL.
    pub symbol: String,
    /// Whether the body is inflated and its gzip CRC-32 checked on the way (the client's `TARDIS_VERIFY_GZIP`
    /// unless [`DatasetRequest::without_gzip_check`]).
    check_gzip: bool,
    /// Whether the gzip check also learns the file's facts ([`DatasetRequest::with_facts`]).
    facts: bool,
}

impl DatasetRequest {
    /// Returns a request.
    pub fn new(
        exchange: impl Into<String>,
        data_type: DataType,
        date: NaiveDate,
        symbol: impl Into<String>,
    ) -> Self {
        DatasetRequest {
            exchange: exchange.into(),
            data_type,
            date,
            symbol: symbol.into(),
            check_gzip: true,
            facts: false,
        }
    }

    /// Has the gzip check learn what is inside the file ([`crate::facts`]), returned in
    /// [`DatasetSummary::facts`]. Off unless asked for (md's download asks whenever it checks raw files, unless
    /// `MD_FILE_FACTS=false`): the scan reads every inflated row, at a cost measured in docs/BENCHMARKS.md ("Per-file
    /// facts").
    pub fn with_facts(mut self) -> Self {
        self.facts = true;
        self
    }

    /// Whether the gzip check learns the file's facts.
    pub(crate) fn learns_facts(&self) -> bool {
        self.facts
    }

    /// Skips the client's gzip check for this file, for a caller that inflates it anyway (the Parquet converter
    /// checks the same CRC-32): one inflate instead of two.
    pub fn without_gzip_check(mut self) -> Self {
        self.check_gzip = false;
        self
    }

    /// Whether the body is checked as gzip (given the client's own setting).
    pub(crate) fn checks_gzip(&self) -> bool {
        self.check_gzip
    }
}

impl fmt::Display for DatasetRequest {
    /// `deribit trades 2024-01-01 BTC-PERPETUAL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.exchange, self.data_type, self.date, self.symbol)
    }
}

/// What a completed download was: available from [`DatasetStream::summary`] once the stream ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSummary {
    /// Compressed bytes, as stored.
    pub bytes: u64,
    /// CRC32C (Castagnoli) of those bytes, as object stores check it.
    pub crc32c: u32,
    /// Bytes after decompression (checked against every gzip trailer); `None` when the gzip check was off.
    pub uncompressed_bytes: Option<u64>,
    /// The attempt number that completed the file (counting from the first attempt of the file).
    pub attempts: u32,
    /// Time from the first request of this call to the end of the body.
    pub elapsed: Duration,
    /// What is inside the file (rows, first and last timestamps, disorder, crossed books), learnt as the gzip check
    /// inflated it, for a request made [`DatasetRequest::with_facts`]; `None` otherwise, and when the gzip check was
    /// off (`TARDIS_VERIFY_GZIP=false`, or a request made `without_gzip_check()`).
    pub facts: Option<crate::facts::FileFacts>,
}

/// The summary of a [`DatasetStream`] handed on elsewhere ([`DatasetStream::summary_handle`]).
#[derive(Debug, Clone)]
pub struct SummaryHandle(Arc<Progress>);

impl SummaryHandle {
    /// Returns the summary once the stream has ended without error, else `None`.
    pub fn get(&self) -> Option<DatasetSummary> {
        *self.0.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, Default)]
struct Progress {
    handed_out: AtomicU64,
    summary: Mutex<Option<DatasetSummary>>,
}

/// The body of one dataset file, exactly as sent (never decompressed), verified on the way.
///
/// Every chunk passes an incremental gzip check (inflate, discard, check each member's CRC-32 and size) and the byte
/// count is checked against `Content-Length`. The stream holds back its last chunk until the body is complete and
/// the gzip checks out, so a consumer that commits only when the stream ends without error never stores a corrupt or
/// truncated file. A body cut short is resumed with `Range`/`If-Range` when the server supports it consistently;
/// otherwise the stream yields a retryable error ([`Error::BodyCutShort`], [`Error::CorruptGzip`]) and the caller
/// restarts the whole file with the same [`Retry`] (see [`crate::TardisClient::dataset_with`]). Bytes from two different responses are never
/// mixed unless the server proved them the same file.
///
/// The request's slot in flight is held until the stream ends or is dropped. Dropping the stream cancels the download.
pub struct DatasetStream {
    inner: BoxStream<'static, Result<Bytes>>,
    progress: Arc<Progress>,
    url: String,
    content_length: Option<u64>,
}

impl fmt::Debug for DatasetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatasetStream")
            .field("url", &self.url)
            .field("content_length", &self.content_length)
            .field("bytes_so_far", &self.bytes_so_far())
            .finish_non_exhaustive()
    }
}

impl DatasetStream {
    /// Returns the bytes handed out so far.
    pub fn bytes_so_far(&self) -> u64 {
        self.progress.handed_out.load(Ordering::Relaxed)
    }

    /// Returns the summary once the stream has ended without error, else `None`.
    pub fn summary(&self) -> Option<DatasetSummary> {
        *self.progress.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns a handle to the summary that outlives the stream, for a consumer that hands the stream on (into a
    /// sink) and wants the summary (its facts) once the stream has ended.
    pub fn summary_handle(&self) -> SummaryHandle {
        SummaryHandle(Arc::clone(&self.progress))
    }

    /// Returns the length announced by the server, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// Returns the URL of the file (never with the key).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn start(
        http: Arc<Http>,
        response: reqwest::Response,
        permit: OwnedSemaphorePermit,
        label: String,
        url: Url,
        retry: Retry,
        verifier: Option<GzipVerifier>,
    ) -> Self {
        let headers = response.headers();
        let accepts_ranges =
            headers.get(ACCEPT_RANGES).and_then(|value| value.to_str().ok()).is_some_and(|value| {
                value.split(',').any(|unit| unit.trim().eq_ignore_ascii_case("bytes"))
            });
        let etag = headers.get(ETAG).cloned();
        let strong_etag = etag.clone().filter(|tag| !tag.as_bytes().starts_with(b"W/"));
        let validator = strong_etag.or_else(|| headers.get(LAST_MODIFIED).cloned());
        let content_length = response.content_length();
        let progress = Arc::new(Progress::default());
        let body = Body {
            http,
            label,
            display_url: url.to_string(),
            url,
            chunks: response.bytes_stream().boxed(),
            permit: Some(permit),
            verifier,
            crc: 0,
            received: 0,
            expected: content_length,
            resume: if accepts_ranges { validator } else { None },
            etag,
            held: None,
            retry,
            progress: Arc::clone(&progress),
            finished: false,
        };
        let url = body.display_url.clone();
        let inner = futures::stream::unfold(body, |mut body| async move {
            let item = body.next_item().await;
            item.map(|item| (item, body))
        })
        .boxed();
        DatasetStream { inner, progress, url, content_length }
    }
}

impl Stream for DatasetStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// The state behind a [`DatasetStream`].
struct Body {
    http: Arc<Http>,
    label: String,
    url: Url,
    display_url: String,
    chunks: BoxStream<'static, reqwest::Result<Bytes>>,
    permit: Option<OwnedSemaphorePermit>,
    /// `None` when the gzip check is off for this file.
    verifier: Option<GzipVerifier>,
    crc: u32,
    received: u64,
    expected: Option<u64>,
    /// `If-Range` validator when the server allows resuming (`Accept-Ranges: bytes` plus an ETag or Last-Modified).
    resume: Option<HeaderValue>,
    etag: Option<HeaderValue>,
    held: Option<Bytes>,
    /// The file's retry budget: resumed bodies draw from it, and it counts the attempts.
    retry: Retry,
    progress: Arc<Progress>,
    finished: bool,
}

impl Body {
    async fn next_item(&mut self) -> Option<Result<Bytes>> {
        if self.finished {
            return None;
        }
        loop {
            match self.chunks.next().await {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    if let Some(expected) = self.expected
                        && self.received + chunk.len() as u64 > expected
                    {
                        let error = self.cut(format!("more bytes than the announced {expected}"));
                        return self.fail(error);
                    }
                    if let Some(Err(error)) =
                        self.verifier.as_mut().map(|verifier| verifier.update(&chunk))
                    {
                        let error = self.corrupt(error);
                        return self.fail(error);
                    }
                    self.crc = crc32c::crc32c_append(self.crc, &chunk);
                    self.received += chunk.len() as u64;
                    if let Some(previous) = self.held.replace(chunk) {
                        return Some(Ok(self.hand_out(previous)));
                    }
                }
                Some(Err(error)) => {
                    let reason = describe_transport(&error);
                    tracing::debug!(url = %self.display_url, received = self.received, error = %error.without_url(), "body failed");
                    if let Err(error) = self.resume(reason).await {
                        return self.fail(error);
                    }
                }
                None => {
                    if let Some(expected) = self.expected
                        && self.received < expected
                    {
                        if let Err(error) = self.resume("the connection closed early".into()).await
                        {
                            return self.fail(error);
                        }
                        continue;
                    }
                    if let Some(Err(error)) = self.verifier.as_ref().map(GzipVerifier::finish) {
                        let error = self.corrupt(error);
                        return self.fail(error);
                    }
                    return self.complete();
                }
            }
        }
    }

    fn hand_out(&self, chunk: Bytes) -> Bytes {
        self.progress.handed_out.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        chunk
    }

    fn complete(&mut self) -> Option<Result<Bytes>> {
        self.finished = true;
        self.permit = None;
        let summary = DatasetSummary {
            bytes: self.received,
            crc32c: self.crc,
            uncompressed_bytes: self.verifier.as_ref().map(GzipVerifier::uncompressed_bytes),
            attempts: self.retry.attempt(),
            elapsed: self.retry.elapsed(),
            facts: self.verifier.as_mut().and_then(GzipVerifier::take_facts),
        };
        tracing::debug!(
            url = %self.display_url,
            bytes = summary.bytes,
            uncompressed_bytes = ?summary.uncompressed_bytes,
            attempts = summary.attempts,
            elapsed_ms = summary.elapsed.as_millis() as u64,
            "dataset downloaded and verified"
        );
        *self.progress.summary.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(summary);
        let last = self.held.take()?;
        Some(Ok(self.hand_out(last)))
    }

    fn fail(&mut self, error: Error) -> Option<Result<Bytes>> {
        self.finished = true;
        self.permit = None;
        self.held = None;
        Some(Err(error.with_attempts(self.retry.attempt(), self.retry.elapsed())))
    }

    fn cut(&self, reason: String) -> Error {
        Error::BodyCutShort {
            request: self.label.clone(),
            url: self.display_url.clone(),
            received: self.received,
            expected: self.expected,
            reason,
            attempts: self.retry.attempt(),
            elapsed: self.retry.elapsed(),
        }
    }

    fn corrupt(&self, error: GzipError) -> Error {
        Error::CorruptGzip {
            request: self.label.clone(),
            url: self.display_url.clone(),
            offset: error.offset,
            reason: error.reason,
            attempts: self.retry.attempt(),
            elapsed: self.retry.elapsed(),
        }
    }

    /// Continues a cut body with a `Range` request, or explains why it cannot.
    async fn resume(&mut self, reason: String) -> Result<()> {
        let Some(validator) = self.resume.clone() else {
            return Err(self.cut(format!(
                "{reason}; the server does not offer resuming (Accept-Ranges: bytes with an ETag or Last-Modified)"
            )));
        };
        let mut last = self.cut(reason);
        loop {
            let failed = self.retry.attempt();
            let Some(sleep) = self.retry.next(last.retry_class()) else {
                return Err(last);
            };
            tracing::info!(
                attempt = failed,
                max_attempts = self.retry.max_attempts(),
                sleep_ms = sleep.as_millis() as u64,
                received = self.received,
                url = %self.display_url,
                error = %last,
                "dataset body cut short; resuming with a Range request"
            );
            tokio::time::sleep(sleep).await;
            self.http.limits.pace().await;
            let url = urls::attempt_url(&self.url, self.retry.attempt());
            let headers = http::dataset_headers(Some((self.received, &validator)));
            let response = match self.http.send(&self.label, &url, headers).await {
                Ok(response) => response,
                Err(error) if error.is_retryable() => {
                    last = error.with_attempts(self.retry.attempt(), self.retry.elapsed());
                    continue;
                }
                Err(error) => return Err(error),
            };
            match response.status() {
                StatusCode::PARTIAL_CONTENT => {
                    match self.check_partial(&response) {
                        Ok(total) => self.expected = self.expected.or(total),
                        Err(reason) => return Err(self.cut(reason)),
                    }
                    self.chunks = response.bytes_stream().boxed();
                    return Ok(());
                }
                StatusCode::OK | StatusCode::RANGE_NOT_SATISFIABLE => {
                    return Err(self.cut(format!(
                        "the server answered the Range request with HTTP {}: the file must be restarted",
                        response.status().as_u16()
                    )));
                }
                _ => {
                    let limit = self.retry.policy().retry_after_limit;
                    let error = match self
                        .http
                        .status_error(&self.label, &url, response, limit)
                        .await
                    {
                        Refusal::Failed(error) => error,
                        // The key is in use from another IP: the whole file is restarted, behind the gate.
                        Refusal::KeyInUse => {
                            return Err(self.cut(
                                "the resumed request was refused: the API key is in use from another IP address"
                                    .into(),
                            ));
                        }
                    };
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    last = error.with_attempts(self.retry.attempt(), self.retry.elapsed());
                }
            }
        }
    }

    /// Checks that a 206 continues exactly where the body was cut, for the same file; returns the total length.
    fn check_partial(
        &self,
        response: &reqwest::Response,
    ) -> std::result::Result<Option<u64>, String> {
        let range = response
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|value| value.to_str().ok())
            .ok_or("a 206 without Content-Range")?;
        let (start, total) = parse_content_range(range)
            .ok_or_else(|| format!("unusable Content-Range {range:?}"))?;
        if start != self.received {
            return Err(format!("the resumed range starts at {start}, not {}", self.received));
        }
        if let (Some(expected), Some(total)) = (self.expected, total)
            && expected != total
        {
            return Err(format!("the resumed file is {total} bytes, not {expected}"));
        }
        if let (Some(first), Some(now)) = (&self.etag, response.headers().get(ETAG))
            && first != now
        {
            return Err("the ETag changed between the first response and the resumed one".into());
        }
        Ok(total)
    }
}

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`) into `(START, TOTAL)`.
fn parse_content_range(text: &str) -> Option<(u64, Option<u64>)> {
    let rest = text.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    Some((start.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(parse_content_range("bytes 5-9/*"), Some((5, None)));
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }
}
