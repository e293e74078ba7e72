//! Progress events from the pipeline; md-cli renders them (a bar on a terminal, periodic log lines on a server).

use super::plan::Unit;

/// How one unit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Downloaded and stored (`replaced`: an object that failed verification was replaced).
    Done {
        /// Bytes stored.
        bytes: u64,
        /// Whether an existing, unverifiable object was replaced.
        replaced: bool,
        /// Attempts used.
        attempts: u32,
        /// The objects written (with two output formats, one of them may have been stored already).
        written: Vec<String>,
        /// What is inside the file, with the raw object it was stored as, when the download learnt it
        /// ([`super::manifest::FactsState::Learnt`]).
        facts: Option<Box<super::manifest::UnitFacts>>,
    },
    /// Already stored and verified.
    Skipped,
    /// Stored without a download: at least one object md did not write was adopted, the others were stored.
    Adopted,
    /// Not stored: an object md did not write is at a planned name and did not check out, and nothing else was
    /// to be done.
    LeftAlone {
        /// Why.
        reason: String,
    },
    /// Failed after retries.
    Failed {
        /// Attempts used.
        attempts: u32,
        /// The error chain.
        error: String,
    },
    /// Tardis says the file does not exist: not a failure, never retried.
    NotOffered {
        /// The HTTP status Tardis answered.
        status: u16,
        /// Tardis's error code, when its answer carried one.
        code: Option<u32>,
        /// Tardis's message.
        message: String,
    },
    /// Not run, or stopped before done: the shard was interrupted, its quota share is spent, or the API key is in
    /// use from another IP address.
    NotStarted,
}

/// Receives progress events. Implementations must be cheap: `bytes` is called for every chunk.
pub trait Progress: Send + Sync {
    /// The shard's work is known: `units` to look at.
    fn start(&self, units: usize) {
        let _ = units;
    }

    /// `count` more compressed bytes arrived from Tardis.
    fn bytes(&self, count: u64) {
        let _ = count;
    }

    /// A unit ended.
    fn unit_finished(&self, unit: &Unit, outcome: &UnitOutcome) {
        let _ = (unit, outcome);
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
