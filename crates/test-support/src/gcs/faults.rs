//! Fault injection and request counters for the fake.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// What a request is, as the fake classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// `GET` of an object.
    Get,
    /// `HEAD` of an object.
    Head,
    /// `GET /{bucket}?list-type=2`.
    List,
    /// `PUT` of an object (not a part, not a copy).
    Put,
    /// `PUT` with `x-goog-copy-source`.
    Copy,
    /// `POST ?uploads`.
    InitiateMultipart,
    /// `PUT ?partNumber=&uploadId=`.
    UploadPart,
    /// `POST ?uploadId=`.
    CompleteMultipart,
    /// `DELETE ?uploadId=`.
    AbortMultipart,
    /// `DELETE` of an object.
    Delete,
    /// Anything else (answered 400).
    Other,
}

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (with an XML error body) without touching the state.
    Status(u16),
    /// Close the connection without answering, before the request takes effect.
    DropBefore,
    /// Let the request take effect, then close the connection without answering (the client cannot know).
    DropAfter,
    /// Hold the request this long before handling it (a slow or hung server).
    Stall(std::time::Duration),
}

/// Request and fault counts: a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests received, by kind (faulted ones included).
    pub requests: BTreeMap<RequestKind, u64>,
    /// Faults injected.
    pub faults: u64,
}

impl Counters {
    /// Returns how many requests of a kind were received.
    pub fn of(&self, kind: RequestKind) -> u64 {
        self.requests.get(&kind).copied().unwrap_or(0)
    }

    /// Returns the number of requests of every kind.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

#[derive(Debug, Default)]
struct State {
    scripted: VecDeque<(Option<RequestKind>, Fault)>,
    random: Option<Random>,
    counters: Counters,
}

#[derive(Debug)]
struct Random {
    probability: f64,
    fault: Fault,
    only: Option<RequestKind>,
    state: u64,
}

/// The fake's fault injector. Faults apply to requests in arrival order.
#[derive(Debug, Default)]
pub struct Faults {
    state: Mutex<State>,
}

impl Faults {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes the next `count` requests of `kind` (any kind with `None`) fail with `fault`, after those already
    /// scripted.
    pub fn inject(&self, kind: Option<RequestKind>, count: usize, fault: Fault) {
        let mut state = self.state();
        state.scripted.extend(std::iter::repeat_n((kind, fault), count));
    }

    /// Makes each request of `kind` (any with `None`) fail with `fault` with the given probability, drawn from a
    /// seeded generator: the same seed and request sequence give the same faults.
    pub fn random(&self, kind: Option<RequestKind>, probability: f64, fault: Fault, seed: u64) {
        self.state().random = Some(Random {
            probability: probability.clamp(0.0, 1.0),
            fault,
            only: kind,
            state: seed.max(1),
        });
    }

    /// Removes every scripted and random fault (counters stay).
    pub fn clear(&self) {
        let mut state = self.state();
        state.scripted.clear();
        state.random = None;
    }

    /// Returns how many scripted faults are still waiting for a request.
    pub fn pending(&self) -> usize {
        self.state().scripted.len()
    }

    /// Returns a snapshot of the counters.
    pub fn counters(&self) -> Counters {
        self.state().counters.clone()
    }

    /// Resets the counters.
    pub fn reset_counters(&self) {
        self.state().counters = Counters::default();
    }

    /// Counts a request and decides its fault.
    pub(crate) fn on_request(&self, kind: RequestKind) -> Option<Fault> {
        let mut state = self.state();
        *state.counters.requests.entry(kind).or_default() += 1;
        let scripted = state
            .scripted
            .iter()
            .position(|(only, _)| only.is_none_or(|only| only == kind))
            .and_then(|at| state.scripted.remove(at))
            .map(|(_, fault)| fault);
        let fault = scripted.or_else(|| {
            let random = state.random.as_mut()?;
            if random.only.is_some_and(|only| only != kind) {
                return None;
            }
            // xorshift64*: deterministic for a seed.
            random.state ^= random.state >> 12;
            random.state ^= random.state << 25;
            random.state ^= random.state >> 27;
            let draw = (random.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64
                / (1u64 << 53) as f64;
            (draw < random.probability).then_some(random.fault)
        });
        if fault.is_some() {
            state.counters.faults += 1;
        }
        fault
    }
}
