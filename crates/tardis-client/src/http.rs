//! One HTTP exchange with Tardis: the shared connection pool, the key, the limits, sending a GET (following
//! redirects by hand), and turning a failure into an [`Error`].
//!
//! Both the client's requests ([`crate::client`]) and a dataset stream's resumed bodies ([`crate::dataset`]) go
//! through [`Http`], so neither module needs the other's internals.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use md_config::TardisConfig;
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use url::Url;

use crate::limits::Limits;
use crate::urls::same_origin;
use crate::{Error, Result};

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;
/// Longest error-body excerpt kept in an error.
const MAX_ERROR_MESSAGE: usize = 300;
/// The wait before the one retry of a host name that does not resolve.
const QUICK_RETRY: Duration = Duration::from_secs(1);
/// How long a name lookup may take before it counts as failed.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection pool, the key and the limits every request shares.
pub(crate) struct Http {
    client: reqwest::Client,
    /// `Bearer KEY`, marked sensitive; `None` without a key.
    auth: Option<HeaderValue>,
    pub(crate) limits: Limits,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("api_key", &self.auth.as_ref().map(|_| md_config::REDACTED))
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// Builds the pool from md-config's Tardis section.
    ///
    /// # Errors
    /// [`Error::Build`] when the key cannot be sent as a header or the HTTP client cannot be built.
    pub(crate) fn new(config: &TardisConfig) -> Result<Http> {
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
        let client = reqwest::Client::builder()
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
        Ok(Http {
            client,
            auth,
            limits: Limits::new(
                config.max_concurrent,
                config.rate_limit_per_second,
                config.rate_limit_per_day,
            ),
        })
    }

    /// Returns whether an API key is configured.
    pub(crate) fn has_api_key(&self) -> bool {
        self.auth.is_some()
    }

    /// Sends one GET, following redirects; `Authorization` is sent only while the origin stays the first one.
    pub(crate) async fn send(
        &self,
        label: &str,
        url: &Url,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<reqwest::Response> {
        let mut current = url.clone();
        let mut auth = self.auth.clone();
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0 {
                self.limits.pace().await;
            }
            let response = match self.send_once(&current, auth.as_ref(), &headers).await {
                Ok(response) => response,
                Err(error) if error.is_connect() && !resolves(&current).await => {
                    // A name that does not resolve now will not in a minute either: one quick retry, then say so.
                    tracing::debug!(url = %current, "the host name does not resolve; one quick retry");
                    tokio::time::sleep(QUICK_RETRY).await;
                    match self.send_once(&current, auth.as_ref(), &headers).await {
                        Ok(response) => response,
                        Err(error) if error.is_connect() && !resolves(&current).await => {
                            return Err(Error::Unresolved {
                                request: label.to_owned(),
                                url: current.to_string(),
                                host: current.host_str().unwrap_or_default().to_owned(),
                                attempts: 0,
                                elapsed: Duration::ZERO,
                            });
                        }
                        Err(error) => return Err(transport_error(label, &current, error)),
                    }
                }
                Err(error) => return Err(transport_error(label, &current, error)),
            };
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

    /// Sends one GET to `url`, without following anything.
    async fn send_once(
        &self,
        url: &Url,
        auth: Option<&HeaderValue>,
        headers: &[(HeaderName, HeaderValue)],
    ) -> reqwest::Result<reqwest::Response> {
        let mut builder = self.client.get(url.clone());
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth.clone());
        }
        for (name, value) in headers {
            builder = builder.header(name, value.clone());
        }
        builder.send().await
    }

    /// Turns an error status into an [`Error`], reading a short message from the body; a 429 whose `Retry-After`
    /// exceeds `retry_after_limit` means the quota is spent.
    pub(crate) async fn status_error(
        label: &str,
        url: &Url,
        mut response: reqwest::Response,
        retry_after_limit: Duration,
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
            && let Some(retry_after) = retry_after.filter(|wait| *wait > retry_after_limit)
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
}

/// Returns whether the host of `url` resolves to an address (a literal address always does).
async fn resolves(url: &Url) -> bool {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
        Ok(Ok(mut addresses)) => addresses.next().is_some(),
        Ok(Err(_)) | Err(_) => false,
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

/// Reads a whole (small, metadata) body.
pub(crate) async fn read_all(
    label: &str,
    url: &Url,
    mut response: reqwest::Response,
) -> Result<Bytes> {
    let mut body = BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body.freeze()),
            Err(error) => return Err(transport_error(label, url, error)),
        }
    }
}
