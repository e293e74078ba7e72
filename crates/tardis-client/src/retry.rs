//! The retry policy: how many attempts, and how long to wait between them.
//!
//! The client applies it to every request; callers that restart a whole file (after [`Error::BodyCutShort`] or
//! [`Error::CorruptGzip`]) reuse it through [`crate::TardisClient::retry_policy`] so one file never exceeds
//! `TARDIS_MAX_RETRIES` retries overall.

use std::time::Duration;

use rand::Rng;

use crate::Error;

/// Attempt limits and backoff, after the official Tardis clients.
///
/// The wait after failed attempt `n` (1-based) is `min(base * 2^(n-1), max_backoff)` plus a uniform jitter in
/// `[0, jitter)`; HTTP 500 doubles it (as the official clients do). A 429 waits exactly its `Retry-After` plus
/// jitter, or the exponential wait plus `missing_retry_after_penalty` when it has none; a `Retry-After` above
/// `retry_after_limit` means the quota is spent and is never waited for.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`TARDIS_MAX_RETRIES`).
    pub max_retries: u32,
    /// The first wait. Default 1 s.
    pub base: Duration,
    /// The longest exponential wait. Default 120 s.
    pub max_backoff: Duration,
    /// Upper bound of the random jitter added to every wait. Default 500 ms.
    pub jitter: Duration,
    /// A 429 with a longer `Retry-After` is final: the quota is spent. Default 300 s.
    pub retry_after_limit: Duration,
    /// Added to the wait after a 429 that carries no `Retry-After`. Default 60 s.
    pub missing_retry_after_penalty: Duration,
}

impl Default for RetryPolicy {
    /// `TARDIS_MAX_RETRIES`'s default retries, 1 s doubling to 120 s, 500 ms jitter, `Retry-After` up to 300 s.
    fn default() -> Self {
        RetryPolicy::from_config(&md_config::TardisConfig::default())
    }
}

impl RetryPolicy {
    /// Returns the default policy with `max_retries` from the configuration.
    pub fn from_config(config: &md_config::TardisConfig) -> Self {
        RetryPolicy {
            max_retries: config.max_retries,
            base: Duration::from_secs(1),
            max_backoff: Duration::from_secs(120),
            jitter: Duration::from_millis(500),
            retry_after_limit: Duration::from_secs(300),
            missing_retry_after_penalty: Duration::from_secs(60),
        }
    }

    /// Returns the number of retries allowed after the first attempt.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// Returns the most attempts one request (or one file, over restarts) may take: `max_retries + 1`.
    pub fn max_attempts(&self) -> u32 {
        self.max_retries.saturating_add(1)
    }

    /// Returns whether to try again after `attempt` (1-based) failed with `error`.
    pub fn should_retry(&self, attempt: u32, error: &Error) -> bool {
        error.is_retryable() && attempt < self.max_attempts()
    }

    /// Returns how long to wait after attempt `attempt` (1-based) failed with `error`.
    pub fn backoff(&self, attempt: u32, error: &Error) -> Duration {
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..self.jitter)
        };
        if let Some(retry_after) = error.retry_after() {
            return retry_after + jitter;
        }
        let exponent = attempt.saturating_sub(1).min(30);
        let mut wait = self.base.saturating_mul(1u32 << exponent).min(self.max_backoff);
        match error.status() {
            Some(500) => wait = wait.saturating_mul(2),
            Some(429) => wait += self.missing_retry_after_penalty,
            _ => {}
        }
        wait + jitter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> Error {
        Error::Status {
            request: "r".into(),
            url: "u".into(),
            status: code,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn exponential_with_cap_and_jitter() {
        let policy = RetryPolicy { jitter: Duration::from_millis(10), ..RetryPolicy::default() };
        let error = status(503, None);
        for (attempt, expected) in [(1, 1), (2, 2), (3, 4), (4, 8), (8, 120), (40, 120)] {
            let wait = policy.backoff(attempt, &error);
            let low = Duration::from_secs(expected);
            assert!(wait >= low && wait < low + Duration::from_millis(10), "{attempt}: {wait:?}");
        }
        let doubled = policy.backoff(2, &status(500, None));
        assert!(doubled >= Duration::from_secs(4) && doubled < Duration::from_millis(4010));
    }

    #[test]
    fn retry_after_is_honoured_and_missing_is_penalised() {
        let policy = RetryPolicy { jitter: Duration::ZERO, ..RetryPolicy::default() };
        assert_eq!(policy.backoff(5, &status(429, Some(3))), Duration::from_secs(3));
        assert_eq!(policy.backoff(1, &status(429, None)), Duration::from_secs(61));
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy { max_retries: 2, ..RetryPolicy::default() };
        let error = status(503, None);
        assert!(policy.should_retry(1, &error) && policy.should_retry(2, &error));
        assert!(!policy.should_retry(3, &error));
        assert!(!policy.should_retry(1, &status(404, None)));
    }
}
