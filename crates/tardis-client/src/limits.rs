//! The process-wide limits every request passes: requests in flight, requests started per second, requests per day.
//!
//! One [`Limits`] lives inside the client's shared state, so every clone of a [`crate::TardisClient`] and every
//! caller shares the same three limits (limiters built separately for a shared cap would double the rate).
//!
//! The rate limiters read tokio's clock ([`TokioClock`]) and wait with tokio's timer, so a test on a paused runtime
//! (`#[tokio::test(start_paused = true)]`) drives them deterministically; in a run it is the monotonic clock.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Spacing margin for the per-second limit: `n + 1` starts span at least 1.03 s, so up to 30 ms of network and
/// scheduling jitter between here and the server cannot push them into one second as the server sees it, while
/// about 97% of the rate stays usable.
const SPACING_MARGIN: f64 = 1.03;

/// governor's clock on tokio's time: the time since the limits were built, as tokio's clock tells it (the monotonic
/// clock in a run; a paused clock, which advances when every task waits, in a test).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Self {
        TokioClock { origin: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Requests in flight, per second and per day, shared by every clone of a client.
pub struct Limits {
    in_flight: Arc<Semaphore>,
    per_second: Limiter,
    per_day: Limiter,
    clock: TokioClock,
    max_in_flight: usize,
    rate_per_second: u32,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("max_in_flight", &self.max_in_flight)
            .field("rate_per_second", &self.rate_per_second)
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// Builds the limits.
    ///
    /// The per-second limit spaces request starts evenly (burst 1, one start every `1.03 / n` seconds), so no window
    /// of one second ever holds more than `n` starts while about 97% of the rate stays usable. The per-day limit
    /// allows a burst of the whole day's budget and refills evenly over 24 hours.
    pub fn new(max_in_flight: NonZeroUsize, per_second: NonZeroU32, per_day: NonZeroU32) -> Self {
        let spacing = Duration::from_secs_f64(SPACING_MARGIN / f64::from(per_second.get()));
        let per_second_quota = Quota::with_period(spacing).expect("non-zero period");
        let day_period = Duration::from_secs(86_400) / per_day.get();
        let per_day_quota = Quota::with_period(day_period.max(Duration::from_nanos(1)))
            .expect("non-zero period")
            .allow_burst(per_day);
        let clock = TokioClock::new();
        Limits {
            in_flight: Arc::new(Semaphore::new(max_in_flight.get())),
            per_second: RateLimiter::direct_with_clock(per_second_quota, clock),
            per_day: RateLimiter::direct_with_clock(per_day_quota, clock),
            clock,
            max_in_flight: max_in_flight.get(),
            rate_per_second: per_second.get(),
        }
    }

    /// Waits for a slot in flight, then for the rate limits; returns the slot, which is released when dropped.
    ///
    /// # Cancel safety
    /// Cancel safe: dropping the future gives back whatever it had taken (a rate token already taken is spent).
    pub async fn admit(&self) -> OwnedSemaphorePermit {
        let permit = Arc::clone(&self.in_flight)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        self.pace().await;
        permit
    }

    /// Waits for the rate limits only (for a further request made under a slot already held).
    ///
    /// # Cancel safety
    /// Cancel safe.
    pub async fn pace(&self) {
        if self.per_day.check().is_err() {
            tracing::info!(
                "the daily request limit (RATE_LIMIT_PER_VM) is reached; waiting for it to refill"
            );
            self.until_ready(&self.per_day).await;
        }
        self.until_ready(&self.per_second).await;
    }

    /// Takes a token of `limiter`, waiting on tokio's timer until it allows one.
    async fn until_ready(&self, limiter: &Limiter) {
        while let Err(not_until) = limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
}
