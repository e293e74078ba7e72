//! The crate's error type: what went wrong, for which request, after how many attempts, and whether a retry can help.

use std::time::Duration;

use crate::RetryClass;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to Tardis.
///
/// Every variant that follows a request names it (`request`: exchange, data type, date and symbol, or the metadata
/// call), the URL (which never contains the API key), the number of attempts made so far and the time spent.
/// Ask [`Error::is_retryable`] whether trying again can help; never match on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built from the configuration.
    #[error("cannot build the Tardis client: {reason}")]
    Build {
        /// What is wrong.
        reason: String,
    },

    /// The request itself is invalid; nothing was sent.
    #[error("invalid request {request}: {reason}")]
    InvalidRequest {
        /// The request.
        request: String,
        /// What is wrong.
        reason: String,
    },

    /// No API key is configured and the day is not a free one; nothing was sent.
    #[error(
        "{request}: {date} is not the first day of a month, and without an API key Tardis serves only the first day \
         of each month (free days); set TARDIS_API_KEY to download other days"
    )]
    ApiKeyRequired {
        /// The request.
        request: String,
        /// The requested day.
        date: chrono::NaiveDate,
    },

    /// Tardis answered with an error status.
    #[error(
        "{request}: HTTP {status} from {url} after {attempts} attempt(s) in {elapsed:.1?}{}{}",
        code.map_or_else(String::new, |code| format!(" (code {code})")),
        detail(message)
    )]
    Status {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// The status.
        status: u16,
        /// Tardis's error code, from a `{"code": N, "message": ...}` body.
        code: Option<u32>,
        /// The error message from the body, if any (shortened).
        message: String,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
    },

    /// Tardis says the data does not exist (a code of [`codes::NOT_OFFERED`], such as 140: the day is outside the
    /// symbol's listing, or 300: no such symbol): the file is not offered, and asking again cannot change that.
    #[error(
        "{request}: not offered by Tardis (HTTP {status}, code {code} from {url}){}",
        detail(message)
    )]
    NotOffered {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// The status (400).
        status: u16,
        /// Tardis's error code.
        code: u32,
        /// Tardis's message (shortened).
        message: String,
    },

    /// Tardis refused the API key because it is in use from another IP address (HTTP 403, code 274; some plans let
    /// one key serve one IP address at a time), for longer than `TARDIS_IP_LOCK_MAX_WAIT_SECS`. The client sends
    /// nothing more; the work is not done, not failed.
    #[error(
        "{request}: Tardis refused the API key for {waited:.0?}: it is in use from another IP address (HTTP 403, \
         code 274 from {url}){}",
        detail(message)
    )]
    IpLocked {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// Tardis's message.
        message: String,
        /// How long the key was refused before the client gave up.
        waited: Duration,
    },

    /// Tardis answered 429 with a `Retry-After` beyond what is worth waiting for: the quota is spent.
    #[error(
        "{request}: the Tardis quota is spent (429 from {url} with Retry-After {retry_after:?}) after {attempts} \
         attempt(s) in {elapsed:.1?}"
    )]
    QuotaExhausted {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// The `Retry-After` the server asked for.
        retry_after: Duration,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
    },

    /// No connection, a reset, or another transport failure before the response headers.
    #[error("{request}: {what} for {url} after {attempts} attempt(s) in {elapsed:.1?}")]
    Transport {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// What failed (connect failed, timed out, ...).
        what: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },

    /// The host name does not resolve (no network, or a wrong URL), after one quick retry.
    #[error(
        "{request}: cannot resolve the host {host} of {url} (tried twice): no network or DNS here, or a wrong \
         TARDIS_BASE_URL / TARDIS_API_URL"
    )]
    Unresolved {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// The host name that does not resolve.
        host: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
    },

    /// The body ended (or stalled past the idle timeout) before it was complete, and it could not be resumed.
    /// Restart the whole file.
    #[error(
        "{request}: the body from {url} was cut short after {received} of {} bytes ({reason}) after {attempts} \
         attempt(s) in {elapsed:.1?}", expected.map_or_else(|| "?".to_owned(), |n| n.to_string())
    )]
    BodyCutShort {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// Bytes received before the cut.
        received: u64,
        /// Bytes announced by `Content-Length`, if any.
        expected: Option<u64>,
        /// Why it counts as cut.
        reason: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
    },

    /// The body is not a valid, complete gzip file. Restart the whole file.
    #[error(
        "{request}: the body from {url} is not a valid gzip file at byte {offset}: {reason} (after {attempts} \
         attempt(s) in {elapsed:.1?})"
    )]
    CorruptGzip {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// Compressed offset where the problem was found.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent over all attempts.
        elapsed: Duration,
    },

    /// A redirect could not be followed.
    #[error("{request}: bad redirect from {url}: {reason}")]
    Redirect {
        /// The request.
        request: String,
        /// The URL that redirected.
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// A metadata response is not the JSON expected.
    #[error("{request}: cannot parse the response from {url}")]
    Decode {
        /// The request.
        request: String,
        /// The URL (without the key).
        url: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

/// Tardis's error codes that md acts on (from `{"code": N, "message": ...}` bodies). Tardis does not publish a table
/// of them; these are the codes reported from the field (see docs/TARDIS_ERRORS.md).
pub mod codes {
    /// 400: the day is outside the symbol's listing ("Data available only up to ...").
    pub const DATE_OUTSIDE_LISTING: u32 = 140;
    /// 400: the symbol is not valid for the exchange.
    pub const INVALID_SYMBOL: u32 = 300;
    /// 403: the API key is active from another IP address ("Use one API key from one IP address at a time").
    pub const KEY_IN_USE_ELSEWHERE: u32 = 274;
    /// The codes that mean the data does not exist (with HTTP 400): the file is not offered.
    pub const NOT_OFFERED: [u32; 2] = [DATE_OUTSIDE_LISTING, INVALID_SYMBOL];
}

fn detail(message: &str) -> String {
    if message.is_empty() { String::new() } else { format!(": {message}") }
}

impl Error {
    /// Returns how trying again (the same request, or the whole file) bears on this error.
    ///
    /// Retryable: 5xx, 408, 429 (unless the quota is spent), transport failures and timeouts, bodies cut short,
    /// corrupt or truncated gzip; a `Retry-After` is waited for, 500 doubles the backoff, a 429 without
    /// `Retry-After` adds the policy's penalty. Never retried: 400, 401, 403, 404 and other 4xx, missing key, bad
    /// requests, undecodable metadata.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Error::Status { status, retry_after, .. } => {
                let retryable = *status >= 500 || *status == 429 || *status == 408;
                match (retryable, *status, retry_after) {
                    (false, _, _) => RetryClass::Final,
                    (true, _, Some(wait)) => RetryClass::After(*wait),
                    (true, 500, None) => RetryClass::DoubleBackoff,
                    (true, 429, None) => RetryClass::RateLimited,
                    (true, _, None) => RetryClass::Backoff,
                }
            }
            Error::Transport { .. } | Error::BodyCutShort { .. } | Error::CorruptGzip { .. } => {
                RetryClass::Backoff
            }
            Error::Build { .. }
            | Error::InvalidRequest { .. }
            | Error::ApiKeyRequired { .. }
            | Error::NotOffered { .. }
            | Error::IpLocked { .. }
            | Error::QuotaExhausted { .. }
            | Error::Unresolved { .. }
            | Error::Redirect { .. }
            | Error::Decode { .. } => RetryClass::Final,
        }
    }

    /// Returns whether trying again (the same request, or the whole file) can help; see [`Error::retry_class`].
    pub fn is_retryable(&self) -> bool {
        self.retry_class().is_retryable()
    }

    /// Returns the HTTP status, when the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } | Error::NotOffered { status, .. } => Some(*status),
            Error::IpLocked { .. } => Some(403),
            Error::QuotaExhausted { .. } => Some(429),
            _ => None,
        }
    }

    /// Returns Tardis's error code, when the answer's body carried one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Error::Status { code, .. } => *code,
            Error::NotOffered { code, .. } => Some(*code),
            Error::IpLocked { .. } => Some(codes::KEY_IN_USE_ELSEWHERE),
            _ => None,
        }
    }

    /// Returns Tardis's message, when the answer's body carried one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::Status { message, .. }
            | Error::NotOffered { message, .. }
            | Error::IpLocked { message, .. } => {
                Some(message).filter(|text| !text.is_empty()).map(String::as_str)
            }
            _ => None,
        }
    }

    /// Returns whether Tardis says the data does not exist ([`Error::NotOffered`]).
    pub fn is_not_offered(&self) -> bool {
        matches!(self, Error::NotOffered { .. })
    }

    /// Returns whether the client stopped because the key stayed in use from another IP address
    /// ([`Error::IpLocked`]): the work was interrupted, not failed.
    pub fn is_ip_locked(&self) -> bool {
        matches!(self, Error::IpLocked { .. })
    }

    /// Returns whether Tardis refused the API key itself (401, or 403 for a reason other than the key being in use
    /// from another IP address).
    pub fn is_key_refused(&self) -> bool {
        matches!(self, Error::Status { status: 401 | 403, .. })
    }

    /// Returns the number of attempts made (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Status { attempts, .. }
            | Error::QuotaExhausted { attempts, .. }
            | Error::Unresolved { attempts, .. }
            | Error::Transport { attempts, .. }
            | Error::BodyCutShort { attempts, .. }
            | Error::CorruptGzip { attempts, .. } => *attempts,
            _ => 0,
        }
    }

    /// Returns whether Tardis could not be reached at all: the host name does not resolve, or no connection could be
    /// made (no network, a firewall, a wrong `TARDIS_BASE_URL` / `TARDIS_API_URL`). No server answered, so nothing
    /// about the request itself is known to be wrong.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Error::Unresolved { .. } => true,
            Error::Transport { source, .. } => source.is_connect(),
            _ => false,
        }
    }

    /// Returns whether nothing was sent because the request itself is unacceptable (bad input, missing key).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Error::InvalidRequest { .. } | Error::ApiKeyRequired { .. })
    }

    /// Sets the attempt count and elapsed time, where the variant carries them.
    pub(crate) fn with_attempts(mut self, count: u32, spent: Duration) -> Self {
        match &mut self {
            Error::Status { attempts, elapsed, .. }
            | Error::QuotaExhausted { attempts, elapsed, .. }
            | Error::Unresolved { attempts, elapsed, .. }
            | Error::Transport { attempts, elapsed, .. }
            | Error::BodyCutShort { attempts, elapsed, .. }
            | Error::CorruptGzip { attempts, elapsed, .. } => {
                *attempts = count;
                *elapsed = spent;
            }
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> Error {
        Error::Status {
            request: "deribit trades 2024-01-02 BTC-PERPETUAL".into(),
            url: "http://127.0.0.1/v1/x".into(),
            status: code,
            code: None,
            message: String::new(),
            retry_after: None,
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn status_classes() {
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(status(code).is_retryable(), "{code}");
        }
        assert_eq!(status(500).retry_class(), RetryClass::DoubleBackoff);
        assert_eq!(status(429).retry_class(), RetryClass::RateLimited);
        assert_eq!(status(503).retry_class(), RetryClass::Backoff);
        let mut after = status(503);
        if let Error::Status { retry_after, .. } = &mut after {
            *retry_after = Some(Duration::from_secs(7));
        }
        assert_eq!(after.retry_class(), RetryClass::After(Duration::from_secs(7)));
        for code in [400, 401, 403, 404, 410, 422] {
            assert!(!status(code).is_retryable(), "{code}");
        }
    }

    #[test]
    fn messages_name_request_attempts_and_status() {
        let text = status(503).with_attempts(6, Duration::from_millis(2500)).to_string();
        assert!(text.contains("deribit trades 2024-01-02 BTC-PERPETUAL"), "{text}");
        assert!(text.contains("HTTP 503") && text.contains("6 attempt(s)"), "{text}");
    }
}
