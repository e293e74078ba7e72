//! Retrying: the policy (how many attempts, how long between them), the class of an error (whether and how to wait),
//! and [`Retry`], the one budget every loop that retries a piece of work draws from.
//!
//! A piece of work is one metadata request, or one dataset file over all its restarts. The client's own loops
//! (failures before the body, resumed bodies) and the caller's whole-file restarts share one [`Retry`], so a file
//! never takes more than `TARDIS_MAX_RETRIES` retries overall and the attempt count a manifest records is exact.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

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
    /// Returns the policy of the official clients with `max_retries` from the configuration.
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

    /// Returns the most attempts one piece of work may take: `max_retries + 1`.
    pub fn max_attempts(&self) -> u32 {
        self.max_retries.saturating_add(1)
    }

    /// Returns how long to wait after attempt `attempt` (1-based) failed with an error of class `class`, or `None`
    /// when the class is [`RetryClass::Final`].
    pub fn backoff(&self, attempt: u32, class: RetryClass) -> Option<Duration> {
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            rand::rng().random_range(Duration::ZERO..self.jitter)
        };
        let exponent = attempt.saturating_sub(1).min(30);
        let exponential = self.base.saturating_mul(1u32 << exponent).min(self.max_backoff);
        let wait = match class {
            RetryClass::Final => return None,
            RetryClass::Backoff => exponential,
            RetryClass::DoubleBackoff => exponential.saturating_mul(2),
            RetryClass::RateLimited => exponential + self.missing_retry_after_penalty,
            RetryClass::After(wait) => wait,
        };
        Some(wait + jitter)
    }
}

/// How an error bears on trying again: whether it may help, and how long to wait first.
///
/// Every error type whose failures are retried says its class (`tardis_client::Error::retry_class`, and the
/// orchestrator's unit error for sink and conversion failures), by matching its own variants: wrapping an error in
/// another type keeps its class as long as the wrapper asks the inner error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Trying again cannot help (bad request, missing key, not found, spent quota, malformed data).
    Final,
    /// Trying again may help, after the policy's exponential backoff (timeouts, resets, cut bodies, corrupt gzip,
    /// 5xx other than 500, 408, transient sink failures).
    Backoff,
    /// HTTP 500: twice the policy's backoff, as the official clients wait.
    DoubleBackoff,
    /// HTTP 429 without `Retry-After`: the backoff plus the policy's penalty.
    RateLimited,
    /// The server said how long to wait (`Retry-After`).
    After(Duration),
}

impl RetryClass {
    /// Returns whether trying again may help.
    pub fn is_retryable(self) -> bool {
        self != RetryClass::Final
    }
}

/// The retry budget of one piece of work, shared by every loop that retries it (cheap to clone: clones share the
/// count).
///
/// It counts attempts from 1 (the attempt in progress). After an attempt fails, [`Retry::next`] (or
/// [`Retry::back_off`], which also logs and sleeps) decides: the wait before the next attempt, counting it, or
/// `None` when the error is final or `max_retries` retries are spent.
#[derive(Clone)]
pub struct Retry {
    policy: Arc<RetryPolicy>,
    attempt: Arc<AtomicU32>,
    started: Instant,
}

impl fmt::Debug for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("attempt", &self.attempt())
            .field("max_attempts", &self.max_attempts())
            .finish_non_exhaustive()
    }
}

impl Retry {
    /// Starts a budget: attempt 1 of `policy.max_attempts()`.
    pub fn new(policy: &RetryPolicy) -> Self {
        Retry {
            policy: Arc::new(policy.clone()),
            attempt: Arc::new(AtomicU32::new(1)),
            started: Instant::now(),
        }
    }

    /// Returns the attempt in progress, 1-based: after the work ends, the number of attempts it took.
    pub fn attempt(&self) -> u32 {
        self.attempt.load(Ordering::SeqCst)
    }

    /// Returns the most attempts the budget allows.
    pub fn max_attempts(&self) -> u32 {
        self.policy.max_attempts()
    }

    /// Returns the time since the budget was started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Returns the policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Decides after the attempt in progress failed with an error of class `class`: returns the wait before the
    /// next attempt and counts that attempt, or `None` (counting nothing) when the class is final or the budget is
    /// spent.
    pub fn next(&self, class: RetryClass) -> Option<Duration> {
        let failed = self.attempt();
        if failed >= self.max_attempts() {
            return None;
        }
        let wait = self.policy.backoff(failed, class)?;
        self.attempt.store(failed + 1, Ordering::SeqCst);
        Some(wait)
    }

    /// As [`Retry::next`], then logs the retry once (`attempt`, `max_attempts`, `sleep_ms`, the error) and sleeps;
    /// returns `false`, without waiting, when there is no next attempt.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future only cuts the wait short (the next attempt is already counted).
    pub async fn back_off(
        &self,
        class: RetryClass,
        what: &str,
        error: &(dyn fmt::Display + Sync),
    ) -> bool {
        let failed = self.attempt();
        let Some(wait) = self.next(class) else {
            tracing::debug!(attempt = failed, max_attempts = self.max_attempts(), error = %error, "{what}: giving up");
            return false;
        };
        tracing::info!(
            attempt = failed,
            max_attempts = self.max_attempts(),
            sleep_ms = wait.as_millis() as u64,
            error = %error,
            "{what} failed; retrying"
        );
        tokio::time::sleep(wait).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_retries: u32, jitter: Duration) -> RetryPolicy {
        RetryPolicy { max_retries, jitter, ..RetryPolicy::default() }
    }

    #[test]
    fn exponential_with_cap_and_jitter() {
        let policy = policy(5, Duration::from_millis(10));
        for (attempt, expected) in [(1, 1), (2, 2), (3, 4), (4, 8), (8, 120), (40, 120)] {
            let wait = policy.backoff(attempt, RetryClass::Backoff).unwrap();
            let low = Duration::from_secs(expected);
            assert!(wait >= low && wait < low + Duration::from_millis(10), "{attempt}: {wait:?}");
        }
        let doubled = policy.backoff(2, RetryClass::DoubleBackoff).unwrap();
        assert!(doubled >= Duration::from_secs(4) && doubled < Duration::from_millis(4010));
        assert_eq!(policy.backoff(1, RetryClass::Final), None);
    }

    #[test]
    fn retry_after_is_honoured_and_missing_is_penalised() {
        let policy = policy(5, Duration::ZERO);
        let after = RetryClass::After(Duration::from_secs(3));
        assert_eq!(policy.backoff(5, after), Some(Duration::from_secs(3)));
        assert_eq!(policy.backoff(1, RetryClass::RateLimited), Some(Duration::from_secs(61)));
    }

    #[test]
    fn one_budget_counts_every_attempt_of_every_holder() {
        let retry = Retry::new(&policy(2, Duration::ZERO));
        let shared = retry.clone();
        assert_eq!((retry.attempt(), retry.max_attempts()), (1, 3));
        assert_eq!(retry.next(RetryClass::Final), None, "a final error takes no attempt");
        assert_eq!(retry.attempt(), 1);
        assert_eq!(shared.next(RetryClass::Backoff), Some(Duration::from_secs(1)));
        assert_eq!(retry.next(RetryClass::Backoff), Some(Duration::from_secs(2)));
        assert_eq!((retry.attempt(), shared.attempt()), (3, 3));
        assert_eq!(shared.next(RetryClass::Backoff), None, "the budget is spent");
        assert_eq!(retry.attempt(), 3);
    }
}
