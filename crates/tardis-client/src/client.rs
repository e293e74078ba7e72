//! [`TardisClient`]: construction from the configuration, sending one request (with redirects), and the metadata calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::Datelike;
use md_config::TardisConfig;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use serde::de::DeserializeOwned;
use url::Url;

use crate::dataset::{DatasetRequest, DatasetStream};
use crate::limits::Limits;
use crate::metadata::{InstrumentFilter, MetadataCache};
use crate::retry::RetryPolicy;
use crate::urls::{self, same_origin};
use crate::wire::{ExchangeDetails, ExchangeSummary, InstrumentInfo};
use crate::{Error, Result};

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Longest error-body excerpt kept in an error.
const MAX_ERROR_MESSAGE: usize = 300;

/// A rate-limited, retrying Tardis client. Cheap to clone: every clone shares one connection pool and one set of
/// limits (requests in flight, per second, per day).
#[derive(Clone)]
pub struct TardisClient {
    pub(crate) shared: Arc<Shared>,
    pub(crate) retry: RetryPolicy,
}

pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    datasets_url: Url,
    api_url: Url,
    /// `Bearer KEY`, marked sensitive; `None` without a key.
    auth: Option<HeaderValue>,
    pub(crate) limits: Limits,
    cache: Option<MetadataCache>,
    /// `TARDIS_VERIFY_GZIP`.
    verify_gzip: bool,
}

impl std::fmt::Debug for TardisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TardisClient")
            .field("datasets_url", &self.shared.datasets_url.as_str())
            .field("api_url", &self.shared.api_url.as_str())
            .field("api_key", &self.shared.auth.as_ref().map(|_| md_config::REDACTED))
            .field("limits", &self.shared.limits)
            .field("retry", &self.retry)
            .finish()
    }
}

impl TardisClient {
    /// Builds a client from md-config's Tardis section.
    ///
    /// # Errors
    /// [`Error::Build`] when the key cannot be sent as a header or the HTTP client cannot be built.
    pub fn new(config: &TardisConfig) -> Result<Self> {
        let auth = match &config.api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    Error::Build {
                        reason: "TARDIS_API_KEY contains characters that cannot be sent in an HTTP header"
                            .into(),
                    }
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            // Bodies are handed on exactly as sent: never decode them.
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd()
            // Redirects are followed here, so each hop is rate-limited and logged, and the key stays on its origin.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            // An idle-read timeout (no byte for this long), never a whole-request one.
            .read_timeout(config.read_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("md-tardis-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::Build { reason: error.to_string() })?;
        Ok(TardisClient {
            shared: Arc::new(Shared {
                http,
                datasets_url: config.datasets_url.clone(),
                api_url: config.api_url.clone(),
                auth,
                limits: Limits::new(
                    config.max_concurrent,
                    config.rate_limit_per_second,
                    config.rate_limit_per_day,
                ),
                cache: config.metadata_cache_ttl.map(MetadataCache::new),
                verify_gzip: config.verify_gzip,
            }),
            retry: RetryPolicy::from_config(config),
        })
    }

    /// Replaces the retry policy (the limits stay shared with other clones).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Returns the retry policy, for callers that restart a whole file after a retryable stream error.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Returns whether an API key is configured.
    pub fn has_api_key(&self) -> bool {
        self.shared.auth.is_some()
    }

    /// Returns the URL of a dataset file (without `retryAttempt`).
    pub fn dataset_url(&self, request: &DatasetRequest) -> Url {
        urls::dataset_url(
            &self.shared.datasets_url,
            &request.exchange,
            request.data_type.as_str(),
            request.date,
            &request.symbol,
        )
    }

    /// Checks a dataset request before anything is sent: fields present, and a key unless the day is free.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] or [`Error::ApiKeyRequired`].
    pub fn check_dataset_request(&self, request: &DatasetRequest) -> Result<()> {
        for (field, value) in [("exchange", &request.exchange), ("symbol", &request.symbol)] {
            if value.trim().is_empty() {
                return Err(Error::InvalidRequest {
                    request: request.to_string(),
                    reason: format!("empty {field}"),
                });
            }
        }
        if self.shared.auth.is_none() && request.date.day() != 1 {
            return Err(Error::ApiKeyRequired { request: request.to_string(), date: request.date });
        }
        Ok(())
    }

    /// Opens a dataset file as a verified byte stream, retrying failures before the first byte is handed out.
    ///
    /// Same as [`TardisClient::dataset_attempt`] with `first_attempt = 1`.
    ///
    /// # Errors
    /// See [`TardisClient::dataset_attempt`].
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the request and releases its slot.
    pub async fn dataset(&self, request: &DatasetRequest) -> Result<DatasetStream> {
        self.dataset_attempt(request, 1).await
    }

    /// Opens a dataset file, numbering attempts from `first_attempt` (1-based), so a caller that restarts a whole
    /// file after a stream error continues the count and the file never exceeds `max_retries` retries overall.
    ///
    /// Retryable failures (5xx, 429, transport errors, timeouts) are retried with the backoff of
    /// [`TardisClient::retry_policy`] until the first body byte arrives; nothing is handed out before that.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] and [`Error::ApiKeyRequired`] before anything is sent; otherwise the last failure,
    /// with the attempt count and time spent.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the request and releases its slot.
    #[tracing::instrument(name = "dataset", skip_all, fields(
        exchange = %request.exchange,
        data_type = %request.data_type,
        date = %request.date,
        symbol = %request.symbol,
    ))]
    pub async fn dataset_attempt(
        &self,
        request: &DatasetRequest,
        first_attempt: u32,
    ) -> Result<DatasetStream> {
        self.check_dataset_request(request)?;
        let label = request.to_string();
        let url = self.dataset_url(request);
        let started = Instant::now();
        let max_attempts = self.retry.max_attempts();
        let mut attempt = first_attempt.max(1);
        loop {
            let permit = self.shared.limits.admit().await;
            let attempt_url = urls::attempt_url(&url, attempt);
            tracing::debug!(url = %attempt_url, attempt, max_attempts, "requesting dataset");
            let outcome = match self.send(&label, &attempt_url, dataset_headers(None)).await {
                Ok(response) if response.status() == StatusCode::OK => {
                    return Ok(DatasetStream::start(
                        self.clone(),
                        response,
                        permit,
                        label,
                        url,
                        attempt,
                        started,
                        self.shared.verify_gzip && request.checks_gzip(),
                    ));
                }
                Ok(response) => status_error(&label, &attempt_url, response, &self.retry).await,
                Err(error) => error,
            };
            drop(permit);
            let error = outcome.with_attempts(attempt, started.elapsed());
            if !self.retry.should_retry(attempt, &error) {
                tracing::debug!(attempt, max_attempts, error = %error, "giving up");
                return Err(error);
            }
            self.back_off(attempt, &error, "dataset").await;
            attempt += 1;
        }
    }

    /// `GET /v1/exchanges`: every exchange Tardis knows.
    ///
    /// # Errors
    /// The last failure after retries, or [`Error::Decode`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn exchanges(&self) -> Result<Vec<ExchangeSummary>> {
        let url = urls::join(&self.shared.api_url, "/v1/exchanges");
        self.get_json("GET /v1/exchanges".into(), url).await
    }

    /// `GET /v1/exchanges/{exchange}`: availability, dataset symbols with their data types, `exportedUntil`.
    ///
    /// # Errors
    /// The last failure after retries (404 for an unknown exchange), or [`Error::Decode`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn exchange_details(&self, exchange: &str) -> Result<ExchangeDetails> {
        let path = format!("/v1/exchanges/{}", urls::encode_segment(exchange));
        let url = urls::join(&self.shared.api_url, &path);
        self.get_json(format!("GET {path}"), url).await
    }

    /// `GET /v1/instruments/{exchange}?filter=...`: instrument definitions (needs a key, except for BitMEX).
    /// The filter is sent to the server and applied again to the answer.
    ///
    /// # Errors
    /// The last failure after retries (401 without a valid key), or [`Error::Decode`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn instruments(
        &self,
        exchange: &str,
        filter: &InstrumentFilter,
    ) -> Result<Vec<InstrumentInfo>> {
        let path = format!("/v1/instruments/{}", urls::encode_segment(exchange));
        let mut url = urls::join(&self.shared.api_url, &path);
        if !filter.is_empty() {
            url.query_pairs_mut().append_pair("filter", &filter.to_json());
        }
        let all: Vec<InstrumentInfo> = self.get_json(format!("GET {path}"), url).await?;
        Ok(all.into_iter().filter(|instrument| filter.matches(instrument)).collect())
    }

    async fn get_json<T: DeserializeOwned>(&self, label: String, url: Url) -> Result<T> {
        let body = self.get_metadata(&label, &url).await?;
        serde_json::from_slice(&body).map_err(|source| Error::Decode {
            request: label,
            url: url.to_string(),
            source,
        })
    }

    /// Fetches a metadata body, from the cache when fresh, with retries.
    async fn get_metadata(&self, label: &str, url: &Url) -> Result<Bytes> {
        if let Some(body) = self.shared.cache.as_ref().and_then(|cache| cache.get(url.as_str())) {
            tracing::debug!(%url, "metadata from cache");
            return Ok(body);
        }
        let started = Instant::now();
        let max_attempts = self.retry.max_attempts();
        let mut attempt = 1;
        loop {
            let outcome = async {
                let _permit = self.shared.limits.admit().await;
                tracing::debug!(%url, attempt, max_attempts, "requesting metadata");
                let response = self.send(label, url, Vec::new()).await?;
                if !response.status().is_success() {
                    return Err(status_error(label, url, response, &self.retry).await);
                }
                read_all(label, url, response).await
            }
            .await;
            let error = match outcome {
                Ok(body) => {
                    if let Some(cache) = &self.shared.cache {
                        cache.put(url.as_str(), body.clone());
                    }
                    return Ok(body);
                }
                Err(error) => error.with_attempts(attempt, started.elapsed()),
            };
            if !self.retry.should_retry(attempt, &error) {
                return Err(error);
            }
            self.back_off(attempt, &error, "metadata").await;
            attempt += 1;
        }
    }

    /// Waits the retry policy's backoff after failed attempt `attempt`, logging it once.
    async fn back_off(&self, attempt: u32, error: &Error, what: &'static str) {
        let sleep = self.retry.backoff(attempt, error);
        tracing::info!(
            attempt,
            max_attempts = self.retry.max_attempts(),
            sleep_ms = sleep.as_millis() as u64,
            error = %error,
            "{what} request failed; retrying"
        );
        tokio::time::sleep(sleep).await;
    }

    /// Sends one GET, following redirects; `Authorization` is sent only while the origin stays the first one.
    pub(crate) async fn send(
        &self,
        label: &str,
        url: &Url,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<reqwest::Response> {
        let mut current = url.clone();
        let mut auth = self.shared.auth.clone();
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0 {
                self.shared.limits.pace().await;
            }
            let mut builder = self.shared.http.get(current.clone());
            if let Some(auth) = &auth {
                builder = builder.header(AUTHORIZATION, auth.clone());
            }
            for (name, value) in &headers {
                builder = builder.header(name, value.clone());
            }
            let response =
                builder.send().await.map_err(|error| transport_error(label, &current, error))?;
            let status = response.status();
            if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                tracing::trace!(url = %current, status = status.as_u16(), "response headers");
                return Ok(response);
            }
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| current.join(location).ok())
                .ok_or_else(|| Error::Redirect {
                    request: label.to_owned(),
                    url: current.to_string(),
                    reason: format!("HTTP {status} without a usable Location"),
                })?;
            if !same_origin(&current, &next) && auth.is_some() {
                tracing::debug!(from = %current, to = %next, "redirect to another origin; not sending the API key there");
                auth = None;
            } else {
                tracing::debug!(from = %current, to = %next, "following redirect");
            }
            current = next;
        }
        Err(Error::Redirect {
            request: label.to_owned(),
            url: url.to_string(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }
}

/// The headers of a dataset request: the raw file (`identity`), and a range when resuming.
pub(crate) fn dataset_headers(
    range: Option<(u64, &HeaderValue)>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers =
        vec![(reqwest::header::ACCEPT_ENCODING, HeaderValue::from_static("identity"))];
    if let Some((from, validator)) = range {
        headers.push((
            reqwest::header::RANGE,
            HeaderValue::from_str(&format!("bytes={from}-")).expect("ascii"),
        ));
        headers.push((reqwest::header::IF_RANGE, validator.clone()));
    }
    headers
}

/// Maps a transport failure (no response) to an error naming what failed.
pub(crate) fn transport_error(label: &str, url: &Url, error: reqwest::Error) -> Error {
    let what = describe_transport(&error);
    Error::Transport {
        request: label.to_owned(),
        url: url.to_string(),
        what,
        attempts: 0,
        elapsed: Duration::ZERO,
        source: error.without_url(),
    }
}

/// Describes a transport failure in a few words.
pub(crate) fn describe_transport(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out (no byte within the idle timeout)".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else if error.is_body() || error.is_decode() {
        "the connection failed while reading the body".into()
    } else {
        "the request failed".into()
    }
}

/// Turns an error status into an [`Error`], reading a short message from the body.
pub(crate) async fn status_error(
    label: &str,
    url: &Url,
    mut response: reqwest::Response,
    policy: &RetryPolicy,
) -> Error {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = BytesMut::new();
    while body.len() < 4096 {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|json| json.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned());
    let message: String = message.chars().take(MAX_ERROR_MESSAGE).collect();
    if status == 429
        && let Some(retry_after) = retry_after.filter(|wait| *wait > policy.retry_after_limit)
    {
        return Error::QuotaExhausted {
            request: label.to_owned(),
            url: url.to_string(),
            retry_after,
            attempts: 0,
            elapsed: Duration::ZERO,
        };
    }
    Error::Status {
        request: label.to_owned(),
        url: url.to_string(),
        status,
        message,
        retry_after,
        attempts: 0,
        elapsed: Duration::ZERO,
    }
}

async fn read_all(label: &str, url: &Url, mut response: reqwest::Response) -> Result<Bytes> {
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body.freeze()),
            Err(error) => return Err(transport_error(label, url, error)),
        }
    }
}
