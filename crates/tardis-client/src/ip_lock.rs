//! The gate every request passes while Tardis says the key is in use from another IP address (HTTP 403 with
//! code 274: some plans let one key serve one IP address at a time).
//!
//! When an answer says so, the gate closes at once: no new request is sent for the pause
//! (`TARDIS_IP_LOCK_PAUSE_SECS`, or Tardis's own `retryAfterSeconds` when shorter). Then one request (the probe)
//! goes; the others wait for its answer. Any other answer opens the gate for everyone; the same answer closes it
//! for another pause. Once the key has been refused this way for `TARDIS_IP_LOCK_MAX_WAIT_SECS`, the gate stays
//! shut for the life of the client and every request fails at once with [`crate::Error::IpLocked`], so a run ends
//! instead of hammering Tardis. The waits are not retries: they never take from a file's retry budget.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a probe may stay unanswered (a request dropped, a transport failure) before another request probes.
const PROBE_GRACE: Duration = Duration::from_secs(30);

/// The gate's state, shared by every clone of the client.
#[derive(Debug)]
pub(crate) struct IpLock {
    pause: Duration,
    max_wait: Duration,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// When the key was first refused in the current spell; `None` while the key is usable.
    since: Option<Instant>,
    /// No request before this moment.
    open_at: Option<Instant>,
    /// When the probe of the current spell was let through.
    probing: Option<Instant>,
    /// Set once the spell outlasted the max wait: Tardis's message, and how long it lasted.
    gave_up: Option<(String, Duration)>,
    /// Tardis's message in the current spell.
    message: String,
}

/// What the gate says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send it.
    Go,
    /// The key stayed in use elsewhere for longer than the max wait: do not send anything.
    Shut {
        /// Tardis's message.
        message: String,
        /// How long the key was refused.
        waited: Duration,
    },
}

/// What the gate does after Tardis refused the key once more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again once the gate reopens (the next request waits for it).
    Retry,
    /// Stop: the key stayed in use elsewhere for longer than the max wait.
    GiveUp {
        /// How long the key was refused.
        waited: Duration,
    },
}

fn lock(mutex: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl IpLock {
    pub(crate) fn new(pause: Duration, max_wait: Duration) -> Self {
        IpLock {
            pause: pause.max(Duration::from_millis(1)),
            max_wait,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// Waits until a request may be sent.
    ///
    /// # Cancel safety
    /// Cancel safe: a dropped waiter takes nothing (a probe that is dropped is replaced after a grace period).
    pub(crate) async fn admit(&self) -> Admission {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let mut state = lock(&self.state);
                if let Some((message, waited)) = &state.gave_up {
                    return Admission::Shut { message: message.clone(), waited: *waited };
                }
                if state.since.is_none() {
                    return Admission::Go;
                }
                let now = Instant::now();
                match (state.open_at, state.probing) {
                    (Some(open_at), _) if now < open_at => open_at,
                    (_, Some(probing)) if now < probing + PROBE_GRACE => probing + PROBE_GRACE,
                    _ => {
                        state.probing = Some(now);
                        tracing::info!(
                            "the Tardis API key was in use from another IP address; trying one request again"
                        );
                        return Admission::Go;
                    }
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake_at) => {}
                () = &mut notified => {}
            }
        }
    }

    /// Records that Tardis refused the key because it is in use from another IP address: closes the gate for the
    /// pause (or Tardis's shorter `retry_after`), or for good once the spell has lasted the max wait.
    pub(crate) fn refused(&self, message: &str, retry_after: Option<Duration>) -> Verdict {
        let verdict = {
            let mut state = lock(&self.state);
            if let Some((_, waited)) = &state.gave_up {
                return Verdict::GiveUp { waited: *waited };
            }
            let now = Instant::now();
            let first = state.since.is_none();
            let since = *state.since.get_or_insert(now);
            state.message = message.to_owned();
            state.probing = None;
            let waited = now - since;
            if waited >= self.max_wait {
                tracing::error!(
                    waited_secs = waited.as_secs(),
                    message,
                    "the Tardis API key stayed in use from another IP address past TARDIS_IP_LOCK_MAX_WAIT_SECS; no more requests"
                );
                state.gave_up = Some((message.to_owned(), waited));
                Verdict::GiveUp { waited }
            } else {
                let pause = retry_after
                    .map_or(self.pause, |wait| wait.min(self.pause))
                    .min(self.max_wait - waited);
                let reopen = now + pause;
                state.open_at = Some(state.open_at.map_or(reopen, |open_at| open_at.max(reopen)));
                if first {
                    tracing::warn!(
                        pause_secs = pause.as_secs_f64(),
                        max_wait_secs = self.max_wait.as_secs(),
                        message,
                        "Tardis says the API key is in use from another IP address (HTTP 403, code 274): new requests wait"
                    );
                } else {
                    tracing::info!(
                        pause_secs = pause.as_secs_f64(),
                        waited_secs = waited.as_secs(),
                        "the Tardis API key is still in use from another IP address; waiting again"
                    );
                }
                Verdict::Retry
            }
        };
        self.changed.notify_waiters();
        verdict
    }

    /// Records an answer that was not the refusal: the key is usable again.
    pub(crate) fn answered(&self) {
        {
            let mut state = lock(&self.state);
            let Some(since) = state.since else { return };
            if state.gave_up.is_some() {
                return;
            }
            tracing::info!(
                waited_secs = since.elapsed().as_secs(),
                "the Tardis API key is usable again; requests resume"
            );
            state.since = None;
            state.open_at = None;
            state.probing = None;
        }
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_refusal_holds_every_request_for_the_pause_then_one_probes() {
        let gate = Arc::new(IpLock::new(Duration::from_secs(10), Duration::from_secs(60)));
        assert_eq!(gate.admit().await, Admission::Go, "open while nothing was refused");
        let start = Instant::now();
        assert_eq!(gate.refused("in use", None), Verdict::Retry);
        assert_eq!(gate.admit().await, Admission::Go);
        assert_eq!(start.elapsed(), Duration::from_secs(10), "the probe waited the pause");
        // While the probe is out, others wait for its answer.
        let waiter = tokio::spawn({
            let gate = Arc::clone(&gate);
            async move {
                gate.admit().await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        gate.answered();
        let released = waiter.await.unwrap();
        assert_eq!(released - start, Duration::from_secs(13), "released by the probe's answer");
        assert_eq!(gate.admit().await, Admission::Go);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_retry_after_shortens_the_pause_and_the_spell_ends_at_the_max_wait() {
        let gate = IpLock::new(Duration::from_secs(10), Duration::from_secs(25));
        let start = Instant::now();
        assert_eq!(gate.refused("in use", Some(Duration::from_secs(4))), Verdict::Retry);
        gate.admit().await;
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        let mut refusals = 1;
        loop {
            match gate.refused("in use", Some(Duration::from_secs(900))) {
                Verdict::Retry => {
                    refusals += 1;
                    gate.admit().await;
                }
                Verdict::GiveUp { waited } => {
                    assert_eq!(waited, Duration::from_secs(25));
                    break;
                }
            }
        }
        // 4 s, then 10 s pauses (Tardis's 900 s is longer), the last one cut to 1 s to end at the max wait.
        assert_eq!(refusals, 4);
        assert_eq!(
            gate.admit().await,
            Admission::Shut { message: "in use".into(), waited: Duration::from_secs(25) }
        );
        gate.answered();
        assert!(matches!(gate.admit().await, Admission::Shut { .. }), "shut for good");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_probe_is_replaced() {
        let gate = IpLock::new(Duration::from_secs(1), Duration::from_secs(600));
        gate.refused("in use", None);
        gate.admit().await; // the probe, never answered
        let start = Instant::now();
        gate.admit().await;
        assert_eq!(start.elapsed(), PROBE_GRACE);
    }
}
