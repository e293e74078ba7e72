//! [`TardisClient`]: construction from the configuration, sending one request (with redirects), and the metadata calls.

use std::sync::Arc;

use bytes::Bytes;
use chrono::Datelike;
use md_config::TardisConfig;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use url::Url;

use crate::dataset::{DatasetRequest, DatasetStream};
use crate::gzip::GzipVerifier;
use crate::http::{self, Http, Refusal};
use crate::metadata::{InstrumentFilter, MetadataCache};
use crate::retry::{Retry, RetryPolicy};
use crate::urls;
use crate::wire::{ApiKeyAccess, ExchangeDetails, InstrumentInfo};
use crate::{Error, Result};

/// A rate-limited, retrying Tardis client. Cheap to clone: every clone shares one connection pool and one set of
/// limits (requests in flight, per second, per day).
#[derive(Clone)]
pub struct TardisClient {
    shared: Arc<Shared>,
    retry: RetryPolicy,
}

struct Shared {
    http: Arc<Http>,
    datasets_url: Url,
    api_url: Url,
    cache: Option<MetadataCache>,
    /// `TARDIS_VERIFY_GZIP`.
    verify_gzip: bool,
}

impl std::fmt::Debug for TardisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TardisClient")
            .field("datasets_url", &self.shared.datasets_url.as_str())
            .field("api_url", &self.shared.api_url.as_str())
            .field("http", &self.shared.http)
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
        Ok(TardisClient {
            shared: Arc::new(Shared {
                http: Arc::new(Http::new(config)?),
                datasets_url: config.datasets_url.clone(),
                api_url: config.api_url.clone(),
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

    /// Starts a retry budget for one piece of work (one file over all its restarts), with this client's policy:
    /// pass it to [`TardisClient::dataset_with`] and draw the caller's own restarts from it too.
    pub fn retry(&self) -> Retry {
        Retry::new(&self.retry)
    }

    /// Returns whether an API key is configured.
    pub fn has_api_key(&self) -> bool {
        self.shared.http.has_api_key()
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
        if !self.has_api_key() && request.date.day() != 1 {
            return Err(Error::ApiKeyRequired { request: request.to_string(), date: request.date });
        }
        Ok(())
    }

    /// Opens a dataset file as a verified byte stream, with a fresh retry budget.
    ///
    /// Same as [`TardisClient::dataset_with`] with [`TardisClient::retry`].
    ///
    /// # Errors
    /// See [`TardisClient::dataset_with`].
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future abandons the request and releases its slot.
    pub async fn dataset(&self, request: &DatasetRequest) -> Result<DatasetStream> {
        self.dataset_with(request, &self.retry()).await
    }

    /// Opens a dataset file, drawing every attempt from `retry`: a caller that restarts the whole file after a
    /// stream error passes the same budget again, so the file never exceeds `max_retries` retries overall and
    /// `retry.attempt()` is the exact count at the end.
    ///
    /// Retryable failures (5xx, 429, transport errors, timeouts) are retried with the budget's backoff until the
    /// first body byte arrives; nothing is handed out before that. The stream resumes cut bodies from the same
    /// budget.
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
    pub async fn dataset_with(
        &self,
        request: &DatasetRequest,
        retry: &Retry,
    ) -> Result<DatasetStream> {
        self.check_dataset_request(request)?;
        let label = request.to_string();
        let url = self.dataset_url(request);
        let http = &self.shared.http;
        loop {
            let permit = http.limits.admit().await;
            let attempt = retry.attempt();
            let attempt_url = urls::attempt_url(&url, attempt);
            tracing::debug!(url = %attempt_url, attempt, max_attempts = retry.max_attempts(), "requesting dataset");
            let outcome = match http.send(&label, &attempt_url, http::dataset_headers(None)).await {
                Ok(response) if response.status() == StatusCode::OK => {
                    return Ok(DatasetStream::start(
                        Arc::clone(http),
                        response,
                        permit,
                        label,
                        url,
                        retry.clone(),
                        (self.shared.verify_gzip && request.checks_gzip())
                            .then(|| GzipVerifier::new().learning_facts(request.learns_facts())),
                    ));
                }
                Ok(response) => {
                    match http
                        .status_error(&label, &attempt_url, response, self.retry.retry_after_limit)
                        .await
                    {
                        Refusal::Failed(error) => error,
                        // The key is in use from another IP: the gate holds the next request back; not an attempt.
                        Refusal::KeyInUse => continue,
                    }
                }
                Err(error) => error,
            };
            drop(permit);
            let error = outcome.with_attempts(attempt, retry.elapsed());
            if !retry.back_off(error.retry_class(), "dataset request", &error).await {
                return Err(error);
            }
        }
    }

    /// `GET /v1/exchanges`: every exchange Tardis knows (without symbols, incidents or datasets).
    ///
    /// # Errors
    /// The last failure after retries, or [`Error::Decode`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn exchanges(&self) -> Result<Vec<ExchangeDetails>> {
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

    /// Sends one request to a base URL and says how it went: whether an HTTP answer came back, how long it took,
    /// and the server's clock (`Date`). Any HTTP status counts as reachable; nothing is retried but a host name
    /// that does not resolve (one quick retry).
    ///
    /// # Errors
    /// [`Error::Transport`] or [`Error::Unresolved`] when no HTTP answer came back.
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn probe(&self, endpoint: Endpoint) -> Result<Probe> {
        let (label, url) = match endpoint {
            Endpoint::Datasets => ("GET datasets", urls::join(&self.shared.datasets_url, "/")),
            Endpoint::Metadata => {
                ("GET /v1/exchanges", urls::join(&self.shared.api_url, "/v1/exchanges"))
            }
        };
        let started = std::time::Instant::now();
        let response = self
            .shared
            .http
            .send(label, &url, Vec::new())
            .await
            .map_err(|error| error.with_attempts(1, started.elapsed()))?;
        let round_trip = started.elapsed();
        let server_time = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| chrono::DateTime::parse_from_rfc2822(text).ok())
            .map(|time| time.with_timezone(&chrono::Utc));
        Ok(Probe {
            url: url.to_string(),
            status: response.status().as_u16(),
            round_trip,
            server_time,
        })
    }

    /// `GET /v1/api-key-info`: what the configured key gives access to, per exchange (never cached).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] without a key; the last failure after retries (401 for a key Tardis refuses), or
    /// [`Error::Decode`].
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn api_key_info(&self) -> Result<Vec<ApiKeyAccess>> {
        let label = "GET /v1/api-key-info".to_owned();
        if !self.has_api_key() {
            return Err(Error::InvalidRequest {
                request: label,
                reason: "no API key is configured".into(),
            });
        }
        let url = urls::join(&self.shared.api_url, "/v1/api-key-info");
        let body = self.fetch_metadata(&label, &url).await?;
        decode(label, &url, &body)
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
        decode(label, &url, &body)
    }

    /// Fetches a metadata body, from the cache when fresh, with retries.
    async fn get_metadata(&self, label: &str, url: &Url) -> Result<Bytes> {
        if let Some(body) = self.shared.cache.as_ref().and_then(|cache| cache.get(url.as_str())) {
            tracing::debug!(%url, "metadata from cache");
            return Ok(body);
        }
        let body = self.fetch_metadata(label, url).await?;
        if let Some(cache) = &self.shared.cache {
            cache.put(url.as_str(), body.clone());
        }
        Ok(body)
    }

    /// Fetches a metadata body with retries, bypassing the cache.
    async fn fetch_metadata(&self, label: &str, url: &Url) -> Result<Bytes> {
        let retry = self.retry();
        let http = &self.shared.http;
        loop {
            let attempt = retry.attempt();
            let outcome = async {
                let _permit = http.limits.admit().await;
                tracing::debug!(%url, attempt, max_attempts = retry.max_attempts(), "requesting metadata");
                let response = http.send(label, url, Vec::new()).await?;
                if !response.status().is_success() {
                    return match http
                        .status_error(label, url, response, self.retry.retry_after_limit)
                        .await
                    {
                        Refusal::Failed(error) => Err(error),
                        Refusal::KeyInUse => Ok(None),
                    };
                }
                http::read_all(label, url, response).await.map(Some)
            }
            .await;
            let error = match outcome {
                Ok(Some(body)) => return Ok(body),
                // The key is in use from another IP: the gate holds the next request back; not an attempt.
                Ok(None) => continue,
                Err(error) => error.with_attempts(attempt, retry.elapsed()),
            };
            if !retry.back_off(error.retry_class(), "metadata request", &error).await {
                return Err(error);
            }
        }
    }
}

/// Parses a metadata body.
fn decode<T: DeserializeOwned>(label: String, url: &Url, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|source| Error::Decode {
        request: label,
        url: url.to_string(),
        source,
    })
}

/// A Tardis base URL, for [`TardisClient::probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The datasets service (`TARDIS_BASE_URL`).
    Datasets,
    /// The metadata API (`TARDIS_API_URL`).
    Metadata,
}

/// What one request to a base URL showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// The URL asked.
    pub url: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// From sending the request to the answer's headers.
    pub round_trip: std::time::Duration,
    /// The server's clock (`Date`), when it sent one.
    pub server_time: Option<chrono::DateTime<chrono::Utc>>,
}
