//! The shard's share of `TARDIS_DAILY_QUOTA_BYTES`, counted per UTC day across runs.
//!
//! A fleet engine restarts a task that exits 1 (a spent share is exit 1), and an operator reruns a shard the same
//! day; neither may start from a fresh share. So the bytes a shard reserved on a UTC day are kept in the sink, in a
//! small ledger object per shard and day, `manifests/quota/day-YYYY-MM-DD/shard-NNNN-of-NNNN.json`: a run starts
//! from what earlier runs of the same shard recorded that day, and records its own total when it finishes, when its
//! share is spent, and at most every [`FLUSH_EVERY`] while it runs (so a killed process loses at most that much
//! accounting). The day is the UTC day the run started; a run that crosses midnight keeps counting on its start day.

use std::num::NonZeroU64;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use gcs_sink::{ObjectSink, WriteMode};
use md_config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{Error, LedgerProblem};

/// Where ledgers live in the sink.
pub const QUOTA_PREFIX: &str = "manifests/quota";

/// The largest ledger md reads (a ledger is a few hundred bytes).
pub const MAX_LEDGER_BYTES: u64 = 1024 * 1024;

/// How often a running shard records its usage at most.
pub const FLUSH_EVERY: Duration = Duration::from_secs(30);

/// The object name of a shard's ledger for a UTC day.
pub fn object_name(day: NaiveDate, shard: u32, total: u32) -> String {
    format!("{QUOTA_PREFIX}/day-{day}/shard-{shard:04}-of-{total:04}.json")
}

/// A shard's recorded use of its share on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The UTC day the bytes count against.
    pub day: NaiveDate,
    /// This shard.
    pub shard_index: u32,
    /// Number of shards.
    pub total_shards: u32,
    /// The shard's daily share in bytes when this was written.
    pub share_bytes: u64,
    /// Bytes reserved for downloads on `day` by every run of this shard so far.
    pub used_bytes: u64,
    /// When this was written.
    pub updated_at: DateTime<Utc>,
}

/// Returns the bytes the shard's runs recorded on `day` (0 when none ran).
///
/// # Errors
/// [`Error::Ledger`] when the ledger cannot be read or is not a ledger of that day.
///
/// # Cancel safety
/// Read-only.
pub async fn used_on(
    sink: &ObjectSink,
    day: NaiveDate,
    shard_index: u32,
    total_shards: u32,
) -> Result<u64, Error> {
    let object = object_name(day, shard_index, total_shards);
    let fail = |problem| Error::ledger(&object, problem);
    match sink.read_small(&object, MAX_LEDGER_BYTES).await {
        Ok(Some(bytes)) => {
            let ledger: Ledger = serde_json::from_slice(&bytes)
                .map_err(|error| fail(LedgerProblem::NotALedger(error)))?;
            if ledger.day != day {
                return Err(fail(LedgerProblem::WrongDay { day, found: ledger.day }));
            }
            Ok(ledger.used_bytes)
        }
        Ok(None) => Ok(0),
        Err(error) => Err(fail(LedgerProblem::Read(Box::new(error)))),
    }
}

/// The shard's share of a fleet-wide budget: an even split, rounded down.
pub fn share_of(quota: NonZeroU64, total_shards: u32) -> u64 {
    quota.get() / u64::from(total_shards.max(1))
}

/// A shard's use of its share on a UTC day, as recorded by its runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareUse {
    /// This shard.
    pub shard_index: u32,
    /// Number of shards.
    pub total_shards: u32,
    /// Bytes the shard's runs reserved that day.
    pub used: u64,
    /// The shard's daily share.
    pub share: u64,
}

impl ShareUse {
    /// Bytes of the share left.
    pub fn left(&self) -> u64 {
        self.share.saturating_sub(self.used)
    }

    /// Whether the share is spent: a run stops at once until 00:00 UTC.
    pub fn is_spent(&self) -> bool {
        self.used >= self.share
    }
}

/// This shard's use of its share of `TARDIS_DAILY_QUOTA_BYTES` on `now`'s UTC day; `None` without a quota.
///
/// # Errors
/// As [`used_on`].
///
/// # Cancel safety
/// Read-only.
pub async fn share_use(
    sink: &ObjectSink,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Option<ShareUse>, Error> {
    let Some(quota) = config.tardis.daily_quota_bytes else { return Ok(None) };
    let (shard_index, total_shards) =
        (config.sharding.shard_index, config.sharding.total_shards.get());
    let used = used_on(sink, now.date_naive(), shard_index, total_shards).await?;
    Ok(Some(ShareUse { shard_index, total_shards, used, share: share_of(quota, total_shards) }))
}

/// The running count of one shard's share.
#[derive(Debug)]
pub(crate) struct Quota {
    share: u64,
    used: AtomicU64,
    day: NaiveDate,
    object: String,
    shard_index: u32,
    total_shards: u32,
    last_flush: Mutex<Instant>,
}

impl Quota {
    /// Opens today's ledger of the shard (none yet: nothing used).
    pub(crate) async fn open(
        sink: &ObjectSink,
        share: u64,
        now: DateTime<Utc>,
        shard_index: u32,
        total_shards: u32,
    ) -> Result<Quota, Error> {
        let day = now.date_naive();
        let object = object_name(day, shard_index, total_shards);
        let used = used_on(sink, day, shard_index, total_shards).await?;
        if used > 0 {
            tracing::info!(used, share, ledger = %object, "earlier runs of this shard today already used part of the quota share");
        }
        Ok(Quota {
            share,
            used: AtomicU64::new(used),
            day,
            object,
            shard_index,
            total_shards,
            last_flush: Mutex::new(Instant::now()),
        })
    }

    /// The shard's daily share.
    pub(crate) fn share(&self) -> u64 {
        self.share
    }

    /// Bytes used today, this run and earlier ones.
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Reserves `bytes` of the share; `false` when that would exceed it.
    pub(crate) fn try_reserve(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.share)
            })
            .is_ok()
    }

    /// Records the usage when [`FLUSH_EVERY`] has passed since the last record.
    pub(crate) async fn flush_if_due(&self, sink: &ObjectSink) {
        {
            let mut last = self.last_flush.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if last.elapsed() < FLUSH_EVERY {
                return;
            }
            *last = Instant::now();
        }
        if let Err(error) = self.record(sink).await {
            tracing::warn!(error = %error, "could not record quota usage; will try again");
        }
    }

    /// Writes the ledger with the current usage (replacing the previous one).
    pub(crate) async fn record(&self, sink: &ObjectSink) -> Result<(), Error> {
        let ledger = Ledger {
            day: self.day,
            shard_index: self.shard_index,
            total_shards: self.total_shards,
            share_bytes: self.share,
            used_bytes: self.used(),
            updated_at: Utc::now(),
        };
        let body = serde_json::to_vec_pretty(&ledger).expect("a ledger serializes");
        sink.put_bytes(&self.object, body, WriteMode::Replace)
            .await
            .map(|_| ())
            .map_err(|error| Error::ledger(&self.object, LedgerProblem::Write(Box::new(error))))
    }
}
