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

use crate::error::codes;
use crate::ip_lock::{Admission, IpLock, Verdict};
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
    /// Closed while Tardis says the key is in use from another IP address.
    ip_lock: IpLock,
}

/// What an error status means for the request that got it.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The request failed: this is why.
    Failed(Error),
    /// Tardis refused the key because it is in use from another IP address, and the client waits: send the request
    /// again (the gate holds it back until the pause is over). Not an attempt of the request.
    KeyInUse,
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
            .user_agent(concat!("md-tardis-client/", env!("CARGO_PKG_VERSION")));
        let client = with_proxies(client, &config.proxy)?
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
            ip_lock: IpLock::new(config.ip_lock_pause, config.ip_lock_max_wait),
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
        if let Admission::Shut { message, waited } = self.ip_lock.admit().await {
            return Err(Error::IpLocked {
                request: label.to_owned(),
                url: url.to_string(),
                message,
                waited,
            });
        }
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
            if status != reqwest::StatusCode::FORBIDDEN {
                self.ip_lock.answered();
            }
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

    /// Turns an error status into what it means, reading Tardis's error body (`{"code": N, "message": ...}`):
    /// 400 with a code that says the data does not exist is [`Error::NotOffered`]; 403 with code 274 (the key is in
    /// use from another IP address) closes the gate ([`Refusal::KeyInUse`]) until it has lasted the max wait, then is
    /// [`Error::IpLocked`]; a 429 whose `Retry-After` exceeds `retry_after_limit` means the quota is spent.
    pub(crate) async fn status_error(
        &self,
        label: &str,
        url: &Url,
        mut response: reqwest::Response,
        retry_after_limit: Duration,
    ) -> Refusal {
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
        let body = ErrorBody::parse(&body);
        let message: String = body.message.chars().take(MAX_ERROR_MESSAGE).collect();
        let request = label.to_owned();
        let url_text = url.to_string();
        match (status, body.code) {
            (403, Some(codes::KEY_IN_USE_ELSEWHERE)) => {
                return match self.ip_lock.refused(&message, body.retry_after) {
                    Verdict::Retry => Refusal::KeyInUse,
                    Verdict::GiveUp { waited } => {
                        Refusal::Failed(Error::IpLocked { request, url: url_text, message, waited })
                    }
                };
            }
            (403, _) => self.ip_lock.answered(),
            (400, Some(code)) if codes::NOT_OFFERED.contains(&code) => {
                return Refusal::Failed(Error::NotOffered {
                    request,
                    url: url_text,
                    status,
                    code,
                    message,
                });
            }
            _ => {}
        }
        if status == 429
            && let Some(retry_after) = retry_after.filter(|wait| *wait > retry_after_limit)
        {
            return Refusal::Failed(Error::QuotaExhausted {
                request,
                url: url_text,
                retry_after,
                attempts: 0,
                elapsed: Duration::ZERO,
            });
        }
        Refusal::Failed(Error::Status {
            request,
            url: url_text,
            status,
            code: body.code,
            message,
            retry_after,
            attempts: 0,
            elapsed: Duration::ZERO,
        })
    }
}

/// What an error answer's body says: Tardis sends `{"code": N, "message": "...", "retryAfterSeconds": S}` (the last
/// with code 274); anything else is kept as text.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<u32>,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
}

impl ErrorBody {
    pub(crate) fn parse(body: &[u8]) -> ErrorBody {
        let text = String::from_utf8_lossy(body);
        let Ok(serde_json::Value::Object(json)) = serde_json::from_str::<serde_json::Value>(&text)
        else {
            return ErrorBody { message: text.trim().to_owned(), ..ErrorBody::default() };
        };
        // Numbers may come as JSON numbers or as strings.
        let number = |key: &str| match json.get(key) {
            Some(serde_json::Value::Number(number)) => number.as_f64(),
            Some(serde_json::Value::String(text)) => text.trim().parse::<f64>().ok(),
            _ => None,
        };
        ErrorBody {
            code: number("code")
                .filter(|code| code.fract() == 0.0 && *code >= 0.0 && *code <= f64::from(u32::MAX))
                .map(|code| code as u32),
            message: match json.get("message") {
                Some(serde_json::Value::String(message)) => message.clone(),
                _ => text.trim().to_owned(),
            },
            retry_after: number("retryAfterSeconds")
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(Duration::from_secs_f64),
        }
    }
}

/// Adds the configured proxies to the client (explicitly: reqwest's own reading of the environment is turned off, so
/// a `.env` or YAML value applies and nothing else does).
fn with_proxies(
    builder: reqwest::ClientBuilder,
    proxies: &md_config::ProxyConfig,
) -> Result<reqwest::ClientBuilder> {
    let mut builder = builder.no_proxy();
    let no_proxy = proxies.no_proxy.as_deref().and_then(reqwest::NoProxy::from_string);
    for (scheme, proxy) in [("https", &proxies.https), ("http", &proxies.http)] {
        let Some(proxy) = proxy else { continue };
        let url = proxy.expose().as_str();
        let built =
            if scheme == "https" { reqwest::Proxy::https(url) } else { reqwest::Proxy::http(url) };
        let built = built.map_err(|_| Error::Build {
            reason: format!("the {} proxy {proxy} cannot be used", scheme.to_ascii_uppercase()),
        })?;
        builder = builder.proxy(built.no_proxy(no_proxy.clone()));
    }
    Ok(builder)
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::ErrorBody;

    #[test]
    fn error_bodies() {
        let parse = |text: &str| ErrorBody::parse(text.as_bytes());
        assert_eq!(
            parse(r#"{"code": 274, "message": "in use", "retryAfterSeconds": 893}"#),
            ErrorBody {
                code: Some(274),
                message: "in use".into(),
                retry_after: Some(Duration::from_secs(893))
            }
        );
        assert_eq!(
            parse(r#"{"code":"140","message":"Data available only up to 2024-01-01"}"#).code,
            Some(140)
        );
        assert_eq!(parse(r#"{"code": -1, "message": "x"}"#).code, None);
        assert_eq!(
            parse("<html>bad gateway</html>\n"),
            ErrorBody { code: None, message: "<html>bad gateway</html>".into(), retry_after: None }
        );
        assert_eq!(parse(r#"{"error": "x"}"#).message, r#"{"error": "x"}"#);
    }
}
