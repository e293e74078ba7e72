//! The pipeline: one global, bounded queue over a shard's units, each streamed from Tardis straight into the sink.
//!
//! For every unit: verify what is stored (skip it, or mark it for atomic replacement), open the dataset stream,
//! (convert it), and stream it into the sink, which commits only when the stream ends cleanly. Failed attempts are
//! restarted as a whole, within the one retry budget of `TARDIS_MAX_RETRIES`. A failed unit never stops the others.
//! Cancellation stops taking units and aborts those in flight (no partial objects); a spent quota share does the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures::channel::{mpsc, oneshot};
use futures::stream::{self, BoxStream};
use futures::{FutureExt, SinkExt, StreamExt, TryStreamExt};
use gcs_sink::{ObjectSink, PutError, PutOutcome, PutStatus, StoreKind, WriteMode};
use md_config::{Config, DownloadConfig, OutputFormat, ServiceConfig};
use tardis_client::facts::FileFacts;
use tardis_client::{DatasetRequest, RetryClass, TardisClient};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::adopt::{self, AdoptedObject, LeftAlone, Verdict};
use super::index::{self, StoredObject};
use super::manifest::{
    self, FactsState, Manifest, Previous, RunStatus, UnitCounts, UnitError, UnitFacts, UnitRecord,
};
use super::plan::{Plan, Unit, UnitObject};
use super::progress::{Progress, UnitOutcome};
use super::quota::{Quota, share_of};
use super::split;
use super::status::UnitStatus;
use crate::convert::{self, ConvertError, ConvertOptions, Partition};
use crate::error::{Error, chain};

/// How stored objects are checked before a unit is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyMode {
    /// Head the object: it must carry a recorded size and CRC32C that match its actual size (remote stores).
    Head,
    /// Read the object back and check its recorded size and CRC32C (local and in-memory stores, where it is cheap).
    Full,
}

/// Why a unit's source stream stopped; travels through the sink as its source error.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    /// Tardis failed (a body cut short, a corrupt gzip, ...).
    #[error(transparent)]
    Tardis(#[from] tardis_client::Error),
    /// The Parquet conversion failed.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// The run is stopping (signal or quota).
    #[error("stopped: {0}")]
    Stopped(&'static str),
    /// With two output formats: the other object of the unit (in this format) was not stored, so this one is not
    /// either. Never the error an attempt reports: the other branch's own error is.
    #[error("the unit's {0} object was not stored")]
    Sibling(OutputFormat),
    /// Splitting a grouped options file (or converting one of its parts) failed.
    #[error(transparent)]
    Split(#[from] crate::convert::split::SplitError),
}

/// The result of a shard's run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The manifest that was written to the sink.
    pub manifest: Manifest,
    /// Its object name.
    pub manifest_object: String,
}

/// Runs a shard's units from Tardis into the sink.
#[derive(Debug, Clone)]
pub struct Downloader {
    client: TardisClient,
    sink: ObjectSink,
    download: DownloadConfig,
    service: ServiceConfig,
    shard_index: u32,
    total_shards: u32,
    quota_share: Option<u64>,
    verify: VerifyMode,
    /// Whether raw downloads learn their files' facts, and if not, why (the manifest says it).
    facts_state: FactsState,
    /// Parquet conversions in flight: each uses three threads and tens of MiB, so at most one per core (one with
    /// `MEMORY_EFFICIENT`) runs at once, however many units are downloading.
    conversions: Arc<Semaphore>,
    /// Units writing two objects at once (`MD_OUTPUT_FORMAT=raw,parquet`) in flight: each holds up to two part
    /// buffers of the sink's budget until it commits, so at most half the budget's parts' worth of them run, and no
    /// unit can wait for room that only the other units' half-written objects hold.
    pairs: Arc<Semaphore>,
}

/// Chunks queued between the download and each of a unit's two writers.
const TEE_DEPTH: usize = 8;

/// One object of a unit that this run writes, and how.
#[derive(Debug, Clone)]
struct Target {
    format: OutputFormat,
    name: String,
    mode: WriteMode,
}

impl Downloader {
    /// Builds a downloader from the configuration and the clients built from it.
    ///
    /// The verify mode is [`VerifyMode::Full`] for local and in-memory sinks and [`VerifyMode::Head`] otherwise.
    pub fn new(config: &Config, client: TardisClient, sink: ObjectSink) -> Self {
        let total_shards = config.sharding.total_shards.get();
        let verify = match sink.options().kind {
            StoreKind::Local { .. } | StoreKind::Memory => VerifyMode::Full,
            _ => VerifyMode::Head,
        };
        let pairs = pair_slots(sink.options().buffer_memory, sink.options().part_size);
        Downloader {
            client,
            sink,
            download: config.download.clone(),
            service: config.service.clone(),
            shard_index: config.sharding.shard_index,
            total_shards,
            quota_share: config.tardis.daily_quota_bytes.map(|quota| share_of(quota, total_shards)),
            verify,
            facts_state: FactsState::of(
                config.tardis.verify_gzip,
                config.download.file_facts,
                config.download.output_formats,
            ),
            conversions: Arc::new(Semaphore::new(conversion_slots(
                config.service.memory_efficient,
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            ))),
            pairs: Arc::new(Semaphore::new(pairs)),
        }
    }

    /// Runs this process's shard of `plan`, then writes the shard's manifest.
    ///
    /// Units run `MAX_CONCURRENT_REQUESTS` at a time from one queue over the whole shard. Each unit is skipped when
    /// its object is stored and verifies, else downloaded and stored; a failed unit is retried as a whole within the
    /// retry budget and then counted as failed, without stopping the others.
    ///
    /// # Errors
    /// [`Error::Manifest`] when the manifest cannot be written; the units' own failures are in the report.
    ///
    /// # Cancel safety
    /// Cancel through `cancel`, not by dropping the future: cancellation aborts uploads in flight, stops taking
    /// units and still writes the manifest (status [`RunStatus::Interrupted`]).
    pub async fn run(
        &self,
        plan: &Plan,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<RunReport, Error> {
        let started_at = Utc::now();
        let clock = Instant::now();
        self.clean_up_staging().await;
        let units: Vec<&Unit> = plan.shard(self.shard_index).collect();
        progress.start(units.len());
        tracing::info!(
            shard = self.shard_index,
            total_shards = self.total_shards,
            units = units.len(),
            plan_units = plan.units.len(),
            "starting"
        );
        let state = Arc::new(self.open_run(plan, started_at, progress, cancel).await?);
        let outcomes = self.run_units(&units, &state).await;
        let tally = Tally::of(&outcomes, &state.stop_reason(), &state.previous.facts);
        let manifest = self.manifest(plan, tally, &state, started_at, clock);
        self.finish(plan, manifest, &state).await
    }

    /// Removes the staging leftovers of interrupted runs (best effort: a failure is logged).
    async fn clean_up_staging(&self) {
        match self.sink.cleanup_staging(Duration::from_secs(6 * 3600)).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed staging leftovers of interrupted runs"),
            Err(error) => tracing::warn!(error = %error, "could not clean up staging leftovers"),
        }
    }

    /// The state the run's units share: the quota ledger, the units known not offered, the stop tokens.
    async fn open_run(
        &self,
        plan: &Plan,
        started_at: chrono::DateTime<Utc>,
        progress: Arc<dyn Progress>,
        cancel: CancellationToken,
    ) -> Result<RunState, Error> {
        let quota = match self.quota_share {
            Some(share) => Some(
                Quota::open(&self.sink, share, started_at, self.shard_index, self.total_shards)
                    .await?,
            ),
            None => None,
        };
        Ok(RunState {
            previous: self.previous(plan).await,
            quota,
            quota_exhausted: AtomicBool::new(false),
            ip_locked: std::sync::OnceLock::new(),
            downloaded: Arc::new(AtomicU64::new(0)),
            stop: cancel.child_token(),
            cancel,
            progress,
            adopted: std::sync::Mutex::new(Vec::new()),
            left_alone: std::sync::Mutex::new(Vec::new()),
            stored: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// What this shard's previous run of the range recorded that this run keeps (nothing when forced): the units
    /// it found not offered (not asked for again) and the facts of the files it stored (carried over for the units
    /// this run skips).
    async fn previous(&self, plan: &Plan) -> Previous {
        if self.download.force {
            return Previous::default();
        }
        let object = manifest::object_name(
            plan.range.start,
            plan.range.end,
            self.shard_index,
            self.total_shards,
        );
        Previous::read(&self.sink, &object).await
    }

    /// Runs `units` through one queue, `MAX_CONCURRENT_REQUESTS` at a time, returning each with its outcome.
    ///
    /// Each unit is a task of its own, so the CPU work of the units in flight (gzip verification, CRC32C, Parquet
    /// conversion) spreads over every worker thread instead of sharing the one task that polls the queue.
    async fn run_units<'p>(
        &self,
        units: &[&'p Unit],
        state: &Arc<RunState>,
    ) -> Vec<(&'p Unit, UnitOutcome)> {
        let this = Arc::new(self.clone());
        stream::iter(units.iter().enumerate())
            .map(|(index, unit)| {
                this.spawn_unit((*unit).clone(), state.clone()).map(move |joined| {
                    let outcome = joined.unwrap_or_else(|error| UnitOutcome::Failed {
                        attempts: 0,
                        error: format!("the unit's task failed: {error}"),
                    });
                    (index, outcome)
                })
            })
            .buffer_unordered(self.service.max_concurrent_requests.get())
            .map(|(index, outcome)| (units[index], outcome))
            .collect()
            .await
    }

    /// One unit as a task of its own: processed, the quota ledger flushed when due, the progress told.
    fn spawn_unit(self: &Arc<Self>, unit: Unit, state: Arc<RunState>) -> AbortOnDrop<UnitOutcome> {
        let span = tracing::info_span!("unit", date = %unit.date, exchange = %unit.exchange, data_type = %unit.data_type, symbol = %unit.symbol);
        let this = self.clone();
        AbortOnDrop(tokio::spawn(
            async move {
                let outcome = this.process(&unit, &state).await;
                if let Some(quota) = &state.quota {
                    quota.flush_if_due(&this.sink).await;
                }
                state.progress.unit_finished(&unit, &outcome);
                outcome
            }
            .instrument(span),
        ))
    }

    /// The shard's manifest from the units' tally and what the run's state recorded.
    fn manifest(
        &self,
        plan: &Plan,
        mut tally: Tally,
        state: &RunState,
        started_at: chrono::DateTime<Utc>,
        clock: Instant,
    ) -> Manifest {
        let mut adopted_objects = std::mem::take(&mut *lock(&state.adopted));
        let mut left_alone = std::mem::take(&mut *lock(&state.left_alone));
        // An object adopted with its unit's other one downloaded, or already stored, is in neither list.
        let adopted = |name: &String| adopted_objects.iter().any(|adopted| &adopted.object == name);
        tally.done_objects.retain(|name| !adopted(name));
        tally.skipped_objects.retain(|name| !adopted(name));
        adopted_objects.sort_by(|a, b| a.object.cmp(&b.object));
        left_alone.sort_by(|a, b| a.object.cmp(&b.object));
        Manifest {
            version: Manifest::VERSION,
            from: plan.range.start,
            to: plan.range.end,
            plan_fingerprint: plan.fingerprint(),
            plan_units: plan.units.len(),
            shard_index: self.shard_index,
            total_shards: self.total_shards,
            status: state.status(&tally.counts, &left_alone),
            started_at,
            finished_at: Utc::now(),
            duration_secs: clock.elapsed().as_secs_f64(),
            units: tally.counts,
            bytes_downloaded: state.downloaded.load(Ordering::Relaxed),
            bytes_written: tally.bytes_written,
            retries: tally.retries,
            errors: tally.errors,
            not_offered: tally.not_offered,
            interrupted: tally.interrupted,
            done_objects: tally.done_objects,
            skipped_objects: tally.skipped_objects,
            adopted_objects,
            left_alone,
            days: plan.days.clone(),
            exported_until: plan.exported_until.clone(),
            not_yet_exported: plan.not_yet_exported.len(),
            facts_state: self.facts_state,
            facts: tally.facts,
        }
    }

    /// Records the quota ledger, writes the manifest, then the shard's parts of the lake index ([`index`]), and
    /// reports the ledger's failure after them, so the manifest and the index are kept either way.
    async fn finish(
        &self,
        plan: &Plan,
        manifest: Manifest,
        state: &RunState,
    ) -> Result<RunReport, Error> {
        let recorded = match &state.quota {
            Some(quota) => quota.record(&self.sink).await,
            None => Ok(()),
        };
        let manifest_object = manifest.write(&self.sink).await?;
        let stored = std::mem::take(&mut *lock(&state.stored));
        let parts = index::parts(plan, self.shard_index, &manifest, &stored);
        let concurrency = self.service.max_concurrent_requests.get();
        let index_objects =
            index::write(&self.sink, &parts, self.shard_index, self.total_shards, concurrency)
                .await?;
        let counts = &manifest.units;
        tracing::info!(
            status = ?manifest.status,
            done = counts.done,
            skipped = counts.skipped,
            adopted = counts.adopted,
            left_alone = manifest.left_alone.len(),
            failed = counts.failed,
            not_offered = counts.not_offered,
            not_started = counts.not_started,
            bytes = manifest.bytes_downloaded,
            manifest = %manifest_object,
            index_parts = index_objects.len(),
            "shard finished"
        );
        recorded?;
        Ok(RunReport { manifest, manifest_object })
    }

    /// Takes one unit from its stored objects to its outcome: what to write, whether Tardis offers it, the
    /// conversion and pair slots, then the download.
    async fn process(&self, unit: &Unit, state: &RunState) -> UnitOutcome {
        if state.stop.is_cancelled() || state.ip_locked.get().is_some() {
            return UnitOutcome::NotStarted;
        }
        let targets = match self.targets(unit, state).await {
            Ok(targets) => targets,
            Err(outcome) => return outcome,
        };
        if let Some(known) = state.previous.not_offered.get(&unit.id()) {
            tracing::debug!(unit = %unit, "not offered, as the previous run found; not asked again");
            return UnitOutcome::NotOffered {
                status: known.http_status.unwrap_or(400),
                code: known.code,
                message: known.message.clone(),
            };
        }
        let converting = targets.list.iter().any(|target| target.format == OutputFormat::Parquet);
        let request = DatasetRequest::new(&unit.exchange, unit.data_type, unit.date, &unit.symbol);
        // The converter inflates the file and checks every gzip member's CRC-32 itself: one inflate, not two (with
        // both formats too: the raw object commits only after the converter has checked the whole file).
        let request = if converting {
            request.without_gzip_check()
        } else if self.facts_state == FactsState::Learnt {
            // The check inflates every byte anyway: the facts cost one pass over its output (docs/BENCHMARKS.md).
            request.with_facts()
        } else {
            request
        };
        let Some(_slots) = self.slots(converting, targets.list.len() > 1, state).await else {
            return UnitOutcome::NotStarted;
        };
        self.download(unit, &request, &targets, state).await
    }

    /// What to write: every object of the unit that is not stored and verified, adopted or left alone (all of them
    /// with `force`). When there is nothing to write, the unit's outcome instead (or a failure to check).
    async fn targets(&self, unit: &Unit, state: &RunState) -> Result<Targets, UnitOutcome> {
        let mut targets = Targets { list: Vec::with_capacity(unit.objects.len()), replaced: false };
        let (mut adopted, mut left_alone) = (false, None);
        for object in &unit.objects {
            let mode = match self.object_step(unit, object, state).await? {
                ObjectStep::Stored => continue,
                ObjectStep::Adopted => {
                    adopted = true;
                    continue;
                }
                ObjectStep::LeftAlone(reason) => {
                    left_alone = Some(reason);
                    continue;
                }
                ObjectStep::Write { mode, replaces } => {
                    targets.replaced |= replaces;
                    mode
                }
            };
            targets.list.push(Target { format: object.format, name: object.name.clone(), mode });
        }
        if targets.list.is_empty() {
            return Err(match (left_alone, adopted) {
                (Some(reason), _) => UnitOutcome::LeftAlone { reason },
                (None, true) => UnitOutcome::Adopted,
                (None, false) => UnitOutcome::Skipped,
            });
        }
        Ok(targets)
    }

    /// What one object of the unit needs, from what is stored under its name (or an older spelling of it).
    async fn object_step(
        &self,
        unit: &Unit,
        object: &UnitObject,
        state: &RunState,
    ) -> Result<ObjectStep, UnitOutcome> {
        if self.download.force {
            return Ok(ObjectStep::Write { mode: WriteMode::Replace, replaces: false });
        }
        Ok(match self.check_stored(&object.name).await {
            Stored::Verified(found) if split::is_part_list(&object.name) => {
                let read_back = self.verify == VerifyMode::Full;
                match split::parts_intact(&self.sink, &object.name, read_back).await {
                    Ok(None) => {
                        lock(&state.stored).insert(object.name.clone(), found);
                        ObjectStep::Stored
                    }
                    Ok(Some(reason)) => {
                        tracing::warn!(object = %object.name, reason = %reason, "a split unit's part failed verification; writing the unit again");
                        ObjectStep::Write { mode: WriteMode::Replace, replaces: true }
                    }
                    Err(error) => return Err(unchecked(&object.name, &chain(&error))),
                }
            }
            Stored::Verified(found) => {
                lock(&state.stored).insert(object.name.clone(), found);
                ObjectStep::Stored
            }
            Stored::Missing => match self.adopt_historical(unit, object, state).await {
                Ok(true) => ObjectStep::Adopted,
                Ok(false) => ObjectStep::Write { mode: WriteMode::CreateOnly, replaces: false },
                Err(error) => return Err(unchecked(&object.name, &chain(&error))),
            },
            Stored::Unrecorded(info) => match self.adopt(unit, object, &info, state).await {
                Ok(None) => ObjectStep::Adopted,
                Ok(Some(reason)) => ObjectStep::LeftAlone(reason),
                Err(error) => return Err(unchecked(&object.name, &chain(&error))),
            },
            Stored::Invalid(reason) => {
                tracing::warn!(object = %object.name, reason = %reason, "stored object failed verification; replacing it");
                ObjectStep::Write { mode: WriteMode::Replace, replaces: true }
            }
            Stored::Unknown(error) => return Err(unchecked(&object.name, &error)),
        })
    }

    /// Takes a conversion slot (then a pair slot) before the Tardis request, so no connection idles while waiting
    /// for a core; always in this order, so two units never wait on each other's slot. `None` when the run stops
    /// first.
    async fn slots(&self, converting: bool, pair: bool, state: &RunState) -> Option<Slots> {
        let conversion =
            if converting { Some(acquire(&self.conversions, &state.stop).await?) } else { None };
        let pair = if pair { Some(acquire(&self.pairs, &state.stop).await?) } else { None };
        Some((conversion, pair))
    }

    /// Downloads the unit's file into its targets, restarting the whole file within one retry budget: the client's
    /// retries (before the body, resumed bodies) and the restarts here all draw from it, so its count is the unit's
    /// exact number of attempts.
    async fn download(
        &self,
        unit: &Unit,
        request: &DatasetRequest,
        targets: &Targets,
        state: &RunState,
    ) -> UnitOutcome {
        let retry = self.client.retry();
        loop {
            let opened = tokio::select! {
                opened = self.client.dataset_with(request, &retry) => opened,
                () = state.stop.cancelled() => return UnitOutcome::NotStarted,
            };
            let dataset = match opened {
                Ok(dataset) => dataset,
                Err(error) => return self.refused(unit, error, state).await,
            };
            if !state.reserve(unit, &dataset) {
                return UnitOutcome::NotStarted;
            }
            let summary = dataset.summary_handle();
            let converted = std::sync::OnceLock::new();
            let file = self.received(dataset, state);
            let error = match self.store(unit, file, &targets.list, &converted).await {
                Ok(outcomes) => {
                    let mut stored = lock(&state.stored);
                    for (target, outcome) in targets.list.iter().zip(&outcomes) {
                        stored.insert(target.name.clone(), StoredObject::written(outcome.digest));
                    }
                    drop(stored);
                    // The converter's scan when it inflated the file, else the client's gzip check's.
                    let facts = converted
                        .get()
                        .and_then(convert::FactsHandle::get)
                        .or_else(|| summary.get().and_then(|summary| summary.facts));
                    return targets.stored(unit, &outcomes, retry.attempt(), facts);
                }
                Err(PutError::Source { source: SourceError::Stopped(_), .. }) => {
                    return UnitOutcome::NotStarted;
                }
                Err(PutError::Source { source: SourceError::Tardis(error), .. })
                    if error.is_ip_locked() =>
                {
                    state.lock_out(&error);
                    return UnitOutcome::NotStarted;
                }
                Err(error) => error,
            };
            // Another whole-file attempt, within the one budget, when the error's class says it can help.
            let failed = retry.attempt();
            let message = chain(&error);
            tokio::select! {
                again = retry.back_off(retry_class(&error), "unit (whole file)", &message) => {
                    if !again {
                        return UnitOutcome::Failed { attempts: failed, error: message };
                    }
                }
                () = state.stop.cancelled() => return UnitOutcome::NotStarted,
            }
        }
    }

    /// What a unit is when Tardis would not serve its file: not offered (a code that says the file does not exist,
    /// or a 404 for a day Tardis's own listing leaves out), stopped (the key in use from another IP address past the
    /// max wait: the run stops), or failed.
    async fn refused(
        &self,
        unit: &Unit,
        error: tardis_client::Error,
        state: &RunState,
    ) -> UnitOutcome {
        if error.is_ip_locked() {
            state.lock_out(&error);
            return UnitOutcome::NotStarted;
        }
        if let (Some(status), true) = (error.status(), error.is_not_offered()) {
            return UnitOutcome::NotOffered {
                status,
                code: error.code(),
                message: error.message().unwrap_or_default().to_owned(),
            };
        }
        if error.status() == Some(404) {
            match self.client.exchange_details(&unit.exchange).await {
                Ok(details) => {
                    if let Some(why) = super::listing::excludes(
                        &details,
                        &unit.symbol,
                        unit.data_type.as_str(),
                        unit.date,
                    ) {
                        let message = match error.message() {
                            Some(message) => format!("{message} ({why})"),
                            None => why,
                        };
                        return UnitOutcome::NotOffered {
                            status: 404,
                            code: error.code(),
                            message,
                        };
                    }
                }
                Err(details_error) => tracing::warn!(
                    error = %details_error,
                    "a 404, and Tardis's listing cannot be read to tell whether the file exists: counted as failed"
                ),
            }
        }
        UnitOutcome::Failed { attempts: error.attempts(), error: chain(&error) }
    }

    /// The file as it arrives from Tardis, counted, and stopped (with an error, so the sink aborts) when the run
    /// stops.
    fn received(
        &self,
        dataset: tardis_client::DatasetStream,
        state: &RunState,
    ) -> BoxStream<'static, Result<Bytes, SourceError>> {
        let progress = state.progress.clone();
        let downloaded = state.downloaded.clone();
        let raw = dataset.map_err(SourceError::from).inspect_ok(move |chunk| {
            progress.bytes(chunk.len() as u64);
            downloaded.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        });
        stop_on_cancel(raw.boxed(), state.stop.clone())
    }

    /// The file as an object of `format` stores it: the bytes as received, or Parquet converted on the way (the
    /// converter's facts then go to `facts`).
    fn encode(
        &self,
        unit: &Unit,
        format: OutputFormat,
        file: BoxStream<'static, Result<Bytes, SourceError>>,
        facts: &std::sync::OnceLock<convert::FactsHandle>,
    ) -> BoxStream<'static, Result<Bytes, SourceError>> {
        match format {
            OutputFormat::Raw => file,
            OutputFormat::Parquet => {
                let partition = Partition {
                    date: unit.date,
                    venue: unit.exchange.to_ascii_uppercase(),
                    instrument_key: unit.instrument_key.clone(),
                    exchange: unit.exchange.clone(),
                    symbol: (!unit.grouped).then(|| unit.symbol.clone()),
                };
                let options = ConvertOptions {
                    file_facts: self.facts_state == FactsState::Learnt,
                    ..ConvertOptions::new(
                        &self.download.parquet,
                        conversion_batch_rows(self.service.batch_size),
                    )
                };
                // Tardis errors pass through the converter as they came; its own errors become `Convert`.
                let converted = convert::convert(file, unit.data_type, partition, options);
                let _set_once = facts.set(converted.facts_handle());
                converted.boxed()
            }
        }
    }

    /// Streams one download of the file into every target, returning their outcomes in target order; a conversion's
    /// facts go to `facts`.
    async fn store(
        &self,
        unit: &Unit,
        file: BoxStream<'static, Result<Bytes, SourceError>>,
        targets: &[Target],
        facts: &std::sync::OnceLock<convert::FactsHandle>,
    ) -> Result<Vec<PutOutcome>, PutError<SourceError>> {
        match targets {
            [target]
                if split::splits(
                    &self.download,
                    unit.grouped,
                    unit.instrument_type,
                    target.format,
                ) =>
            {
                let options = ConvertOptions::new(
                    &self.download.parquet,
                    conversion_batch_rows(self.service.batch_size),
                );
                let list = split::store_split(
                    &self.sink,
                    &self.download,
                    unit,
                    file,
                    &target.name,
                    target.mode,
                    options,
                );
                Ok(vec![list.await?])
            }
            [target] => {
                let body = self.encode(unit, target.format, file, facts);
                Ok(vec![self.sink.put_stream(&target.name, body, target.mode).await?])
            }
            [raw, parquet]
                if raw.format == OutputFormat::Raw && parquet.format == OutputFormat::Parquet =>
            {
                self.store_both(unit, file, raw, parquet, facts).await
            }
            _ => unreachable!("a unit's targets are one format, or raw then parquet"),
        }
    }

    /// One download, two objects: the file is teed into the raw writer and the converter. The Parquet object
    /// commits when the converter has checked the whole file; the raw object holds back its end until then, and
    /// aborts if the Parquet object was not stored. A failure of either writer stops the other before it commits
    /// (and an object committed by this attempt is deleted if the other one then fails to commit), so an attempt
    /// stores both or neither.
    async fn store_both(
        &self,
        unit: &Unit,
        file: BoxStream<'static, Result<Bytes, SourceError>>,
        raw: &Target,
        parquet: &Target,
        facts: &std::sync::OnceLock<convert::FactsHandle>,
    ) -> Result<Vec<PutOutcome>, PutError<SourceError>> {
        let (raw_tx, raw_rx) = mpsc::channel::<Result<Bytes, SourceError>>(TEE_DEPTH);
        let (convert_tx, convert_rx) = mpsc::channel::<Result<Bytes, SourceError>>(TEE_DEPTH);
        let (stored_tx, stored_rx) = oneshot::channel::<bool>();
        let raw_body = raw_rx.chain(
            stream::once(async move {
                match stored_rx.await {
                    Ok(true) => None,
                    Ok(false) | Err(_) => Some(Err(SourceError::Sibling(OutputFormat::Parquet))),
                }
            })
            .filter_map(std::future::ready),
        );
        let parquet_put = async {
            let body = self.encode(unit, OutputFormat::Parquet, convert_rx.boxed(), facts);
            let result = self.sink.put_stream(&parquet.name, body, parquet.mode).await;
            // The receiver is gone only if the raw writer already failed.
            let _ = stored_tx.send(result.is_ok());
            result
        };
        let raw_put = self.sink.put_stream(&raw.name, raw_body, raw.mode);
        let ((), raw_result, parquet_result) =
            tokio::join!(tee(file, raw_tx, convert_tx), raw_put, parquet_put);
        match (raw_result, parquet_result) {
            (Ok(raw_outcome), Ok(parquet_outcome)) => Ok(vec![raw_outcome, parquet_outcome]),
            (Ok(stored), Err(error)) => {
                self.roll_back(&raw.name, &stored).await;
                Err(error)
            }
            (Err(error), Ok(stored)) => {
                self.roll_back(&parquet.name, &stored).await;
                Err(error)
            }
            // The error that stopped the attempt, not the one it caused in the other writer.
            (Err(raw_error), Err(parquet_error)) => Err(
                if matches!(parquet_error, PutError::Source { source: SourceError::Sibling(_), .. })
                {
                    raw_error
                } else {
                    parquet_error
                },
            ),
        }
    }

    /// Deletes an object this attempt created when the unit's other object was not stored, so the attempt leaves
    /// neither (an object it replaced, or found stored, is kept).
    async fn roll_back(&self, name: &str, stored: &PutOutcome) {
        if stored.status != PutStatus::Created {
            return;
        }
        match self.sink.delete(name).await {
            Ok(()) => {
                tracing::warn!(object = %name, "deleted: the unit's other object was not stored");
            }
            Err(error) => tracing::error!(
                object = %name,
                error = %error,
                "the unit's other object was not stored, and this one could not be deleted"
            ),
        }
    }

    /// What is stored under `name`: verified (by md's record, or an adoption record), unrecorded (md did not write
    /// it: a candidate for adoption), invalid (a record that disagrees: md replaces it) or missing.
    async fn check_stored(&self, name: &str) -> Stored {
        let info = match self.sink.head(name).await {
            Ok(info) => info,
            Err(gcs_sink::Error::NotFound { .. }) => return Stored::Missing,
            Err(gcs_sink::Error::BadRecord { detail, .. }) => return Stored::Invalid(detail),
            Err(error) => return Stored::Unknown(chain(&error)),
        };
        match (&info.recorded, &info.adopted) {
            (None, None) => Stored::Unrecorded(info),
            // An adoption from the footer alone has no CRC32C to read back against.
            (None, Some(adoption)) if adoption.size == info.size => {
                Stored::Verified(StoredObject { size: info.size, crc32c: None, adopted: true })
            }
            (None, Some(adoption)) => Stored::Invalid(format!(
                "size {} differs from the {} recorded when it was adopted",
                info.size, adoption.size
            )),
            (Some(recorded), _) if recorded.size != info.size => Stored::Invalid(format!(
                "size {} differs from the recorded {}",
                info.size, recorded
            )),
            (Some(recorded), adopted) => {
                let found = StoredObject {
                    size: recorded.size,
                    crc32c: Some(recorded.crc32c),
                    adopted: adopted.is_some(),
                };
                self.verified(name, info.clone(), found).await
            }
        }
    }

    /// Checks a recorded object's bytes against its record where that is cheap ([`VerifyMode::Full`]).
    async fn verified(
        &self,
        name: &str,
        info: gcs_sink::ObjectInfo,
        found: StoredObject,
    ) -> Stored {
        match self.verify {
            VerifyMode::Head => Stored::Verified(found),
            VerifyMode::Full => match self.sink.verify(name).await {
                Ok(verified) if verified.recorded => Stored::Verified(found),
                Ok(_) => Stored::Unrecorded(info),
                Err(gcs_sink::Error::NotFound { .. }) => Stored::Missing,
                Err(
                    error @ (gcs_sink::Error::Corrupt { .. } | gcs_sink::Error::BadRecord { .. }),
                ) => Stored::Invalid(error.to_string()),
                Err(error) => Stored::Unknown(chain(&error)),
            },
        }
    }

    /// Checks an object md did not write at a planned name ([`adopt`]): records its adoption and returns `None`
    /// when it is fit, else reports it and returns why it is left alone.
    async fn adopt(
        &self,
        unit: &Unit,
        object: &UnitObject,
        info: &gcs_sink::ObjectInfo,
        state: &RunState,
    ) -> Result<Option<String>, gcs_sink::Error> {
        match self.candidate(unit, object.format, &object.name, info).await? {
            Verdict::Fit { checked, digest } => {
                self.sink.record_adopted(&object.name, info, checked, digest).await?;
                tracing::info!(object = %object.name, checked, "adopted an object md did not write");
                lock(&state.stored)
                    .insert(object.name.clone(), StoredObject::adopted(info, digest));
                lock(&state.adopted).push(AdoptedObject {
                    object: object.name.clone(),
                    checked: checked.to_owned(),
                    copied_from: None,
                });
                Ok(None)
            }
            Verdict::Unfit(reason) => {
                tracing::warn!(object = %object.name, reason = %reason, "an object md did not write is at a planned name and does not check out: left alone (--force replaces it)");
                lock(&state.left_alone).push(LeftAlone {
                    unit: unit.id(),
                    object: object.name.clone(),
                    reason: reason.clone(),
                });
                Ok(Some(reason))
            }
        }
    }

    /// Checks a candidate by its format: a Parquet footer, or a whole `.csv.gz`.
    async fn candidate(
        &self,
        unit: &Unit,
        format: OutputFormat,
        name: &str,
        info: &gcs_sink::ObjectInfo,
    ) -> Result<Verdict, gcs_sink::Error> {
        match format {
            OutputFormat::Parquet => {
                let settings = &self.download.parquet;
                adopt::check_parquet(&self.sink, name, info, unit.data_type, settings).await
            }
            OutputFormat::Raw => {
                adopt::check_csv_gzip(&self.sink, name, info, unit.data_type).await
            }
        }
    }

    /// Looks for the missing `object` under the historical spellings of the unit's key; the first one md wrote,
    /// or that checks out, is copied to the planned name on the store's side (create-only; the old object stays).
    /// Returns whether the object is now stored.
    async fn adopt_historical(
        &self,
        unit: &Unit,
        object: &UnitObject,
        state: &RunState,
    ) -> Result<bool, gcs_sink::Error> {
        for key in adopt::historical_spellings(&unit.instrument_key) {
            let old = self.download.layout.render(&md_config::ObjectFields {
                date: unit.date,
                exchange: &unit.exchange,
                data_type: unit.data_type,
                symbol: &unit.symbol,
                instrument_key: &key,
                format: object.format,
            });
            if old == object.name {
                continue;
            }
            let info = match self.sink.head(&old).await {
                Ok(info) => info,
                Err(gcs_sink::Error::NotFound { .. } | gcs_sink::Error::BadRecord { .. }) => {
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mut digest = info.recorded;
            let checked = match (&info.recorded, &info.adopted) {
                (Some(recorded), _) if recorded.size == info.size => info
                    .adopted
                    .as_ref()
                    .map_or(adopt::MD_RECORD.to_owned(), |adoption| adoption.checked.clone()),
                (None, Some(adoption)) if adoption.size == info.size => adoption.checked.clone(),
                (None, None) => match self.candidate(unit, object.format, &old, &info).await? {
                    Verdict::Fit { checked, digest: read } => {
                        // Recorded where it lies, so the copy carries the record and a rerun need not check again.
                        self.sink.record_adopted(&old, &info, checked, read).await?;
                        digest = read;
                        checked.to_owned()
                    }
                    Verdict::Unfit(reason) => {
                        tracing::info!(object = %old, reason = %reason, "an object under an older spelling of the key does not check out: not copied");
                        continue;
                    }
                },
                _ => continue,
            };
            match self.sink.copy_create(&old, &object.name).await? {
                gcs_sink::CopyStatus::Copied => {
                    tracing::info!(object = %object.name, from = %old, checked = %checked, "adopted an object stored under an older spelling of its key");
                    lock(&state.stored)
                        .insert(object.name.clone(), StoredObject::adopted(&info, digest));
                    lock(&state.adopted).push(AdoptedObject {
                        object: object.name.clone(),
                        checked,
                        copied_from: Some(old),
                    });
                    return Ok(true);
                }
                // Someone stored the planned name meanwhile: the write that follows verifies it.
                gcs_sink::CopyStatus::Exists => return Ok(false),
            }
        }
        Ok(false)
    }
}

/// A unit whose stored object could not be judged (a read failed): it fails, to be tried by the next run.
fn unchecked(name: &str, error: &str) -> UnitOutcome {
    UnitOutcome::Failed {
        attempts: 0,
        error: format!("cannot check the stored object {name}: {error}"),
    }
}

/// The objects a unit writes, and whether one of them replaces a stored object that failed verification.
struct Targets {
    list: Vec<Target>,
    replaced: bool,
}

impl Targets {
    /// The unit's outcome once every target's write ended cleanly: done, or skipped when every object turned out
    /// to be stored already (another writer won each create-only write with the same bytes).
    /// `facts`: what the client learnt about the file (a raw object's facts are recorded with its name and digest).
    fn stored(
        &self,
        unit: &Unit,
        outcomes: &[PutOutcome],
        attempts: u32,
        facts: Option<FileFacts>,
    ) -> UnitOutcome {
        let written: Vec<(&Target, &PutOutcome)> = self
            .list
            .iter()
            .zip(outcomes)
            .filter(|(_, outcome)| outcome.status != PutStatus::AlreadyPresent)
            .collect();
        if written.is_empty() {
            return UnitOutcome::Skipped;
        }
        let facts = facts.and_then(|facts| {
            // With the raw object when this attempt wrote it, else with the object it wrote.
            let raw = written.iter().find(|(target, _)| target.format == OutputFormat::Raw);
            let (target, outcome) = raw.or_else(|| written.first())?;
            Some(Box::new(UnitFacts::new(unit.id(), target.name.clone(), outcome.digest, facts)))
        });
        UnitOutcome::Done {
            bytes: written.iter().map(|(_, outcome)| outcome.digest.size).sum(),
            replaced: self.replaced,
            attempts,
            written: written.iter().map(|(target, _)| target.name.clone()).collect(),
            facts,
        }
    }
}

/// What a unit does with one of its objects.
enum ObjectStep {
    /// Stored and verified: nothing to do.
    Stored,
    /// Stored by someone else and adopted (or copied from an older spelling of its key).
    Adopted,
    /// Stored by someone else and not fit: left alone, for the reason given.
    LeftAlone(String),
    /// To be written (`replaces`: over a stored object that failed verification).
    Write { mode: WriteMode, replaces: bool },
}

/// The conversion and pair slots a unit holds while it downloads.
type Slots = (Option<OwnedSemaphorePermit>, Option<OwnedSemaphorePermit>);

/// A permit of `slots`, or `None` when the run stops first.
async fn acquire(slots: &Arc<Semaphore>, stop: &CancellationToken) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        permit = slots.clone().acquire_owned() => Some(permit.expect("the semaphore is never closed")),
        () = stop.cancelled() => None,
    }
}

/// What a shard's unit outcomes add up to, in the manifest's terms (sorted).
#[derive(Default)]
struct Tally {
    counts: UnitCounts,
    bytes_written: u64,
    retries: u64,
    errors: Vec<UnitError>,
    not_offered: Vec<UnitRecord>,
    interrupted: Vec<UnitRecord>,
    done_objects: Vec<String>,
    skipped_objects: Vec<String>,
    facts: Vec<UnitFacts>,
}

impl Tally {
    /// Adds up `outcomes`; `stop_reason` is why the units not started were not; `previous_facts` are the facts the
    /// previous manifest recorded, by object name, kept for the units skipped.
    fn of(
        outcomes: &[(&Unit, UnitOutcome)],
        stop_reason: &str,
        previous_facts: &BTreeMap<String, UnitFacts>,
    ) -> Tally {
        let mut tally = Tally {
            counts: UnitCounts { planned: outcomes.len(), ..UnitCounts::default() },
            ..Tally::default()
        };
        for (unit, outcome) in outcomes {
            tally.add(unit, outcome, stop_reason);
            if *outcome == UnitOutcome::Skipped {
                let kept = unit.object_names().filter_map(|name| previous_facts.get(name));
                tally.facts.extend(kept.cloned());
            }
        }
        tally.facts.sort_by(|a, b| (&a.unit, &a.object).cmp(&(&b.unit, &b.object)));
        tally.not_offered.sort_by(|a, b| a.unit.cmp(&b.unit));
        tally.interrupted.sort_by(|a, b| a.unit.cmp(&b.unit));
        tally.errors.sort_by(|a, b| a.unit.cmp(&b.unit));
        tally.done_objects.sort();
        tally.skipped_objects.sort();
        tally
    }

    fn add(&mut self, unit: &Unit, outcome: &UnitOutcome, stop_reason: &str) {
        let counts = &mut self.counts;
        match outcome {
            UnitOutcome::Done { bytes, replaced, attempts, written, facts } => {
                self.retries += u64::from(attempts.saturating_sub(1));
                counts.done += 1;
                if let Some(facts) = facts {
                    counts.empty += usize::from(facts.status == UnitStatus::Empty);
                    self.facts.push(UnitFacts::clone(facts));
                }
                counts.replaced += usize::from(*replaced);
                self.bytes_written += bytes;
                // With two formats, the object that was already stored and verified is listed as skipped.
                for name in unit.object_names() {
                    if written.iter().any(|written| written == name) {
                        self.done_objects.push(name.to_owned());
                    } else {
                        self.skipped_objects.push(name.to_owned());
                    }
                }
            }
            UnitOutcome::Skipped => {
                counts.skipped += 1;
                self.skipped_objects.extend(unit.object_names().map(str::to_owned));
            }
            UnitOutcome::Failed { attempts, error } => {
                self.retries += u64::from(attempts.saturating_sub(1));
                counts.failed += 1;
                self.errors.push(UnitError {
                    unit: unit.id(),
                    object: unit.object().to_owned(),
                    attempts: *attempts,
                    error: error.clone(),
                });
            }
            UnitOutcome::NotOffered { status, code, message } => {
                counts.not_offered += 1;
                self.not_offered.push(UnitRecord {
                    unit: unit.id(),
                    object: unit.object().to_owned(),
                    status: UnitStatus::NotOffered,
                    http_status: Some(*status),
                    code: *code,
                    message: message.clone(),
                });
            }
            UnitOutcome::Adopted => counts.adopted += 1,
            UnitOutcome::LeftAlone { .. } => counts.left_alone += 1,
            UnitOutcome::NotStarted => {
                counts.not_started += 1;
                self.interrupted.push(UnitRecord {
                    unit: unit.id(),
                    object: unit.object().to_owned(),
                    status: UnitStatus::Interrupted,
                    http_status: None,
                    code: None,
                    message: stop_reason.to_owned(),
                });
            }
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct RunState {
    /// What the previous manifest of this shard and range recorded that this run keeps.
    previous: Previous,
    quota: Option<Quota>,
    quota_exhausted: AtomicBool,
    /// Set when Tardis refused the key past the max wait (it is in use from another IP address): the client sends
    /// nothing more, and no unit starts.
    ip_locked: std::sync::OnceLock<String>,
    /// Compressed bytes received from Tardis over all attempts.
    downloaded: Arc<AtomicU64>,
    /// Cancelled on a signal (the parent) or when the quota share is spent.
    stop: CancellationToken,
    cancel: CancellationToken,
    progress: Arc<dyn Progress>,
    /// Objects adopted by this run.
    adopted: std::sync::Mutex<Vec<AdoptedObject>>,
    /// Objects md did not write that did not check out.
    left_alone: std::sync::Mutex<Vec<LeftAlone>>,
    /// Every object of the shard found stored and verified, adopted or written by this run, with its size and
    /// CRC32C (for the lake index).
    stored: std::sync::Mutex<BTreeMap<String, StoredObject>>,
}

impl RunState {
    /// Records that the key stayed in use from another IP address: no unit starts from now on.
    fn lock_out(&self, error: &tardis_client::Error) {
        if self.ip_locked.set(error.to_string()).is_ok() {
            tracing::error!(error = %error, "the Tardis API key is in use from another IP address: stopping");
        }
    }

    /// How the run ended, from why it stopped and what its units did.
    fn status(&self, counts: &UnitCounts, left_alone: &[LeftAlone]) -> RunStatus {
        if self.cancel.is_cancelled() {
            RunStatus::Interrupted
        } else if self.ip_locked.get().is_some() {
            RunStatus::IpLocked
        } else if self.quota_exhausted.load(Ordering::SeqCst) {
            RunStatus::QuotaExhausted
        } else if counts.failed > 0 || counts.not_started > 0 || !left_alone.is_empty() {
            RunStatus::Failed
        } else {
            RunStatus::Complete
        }
    }

    /// Reserves the file's size in the quota share (the file is counted once, however many objects it becomes).
    /// `false` when the share would be exceeded: the run stops.
    fn reserve(&self, unit: &Unit, dataset: &tardis_client::DatasetStream) -> bool {
        let Some(quota) = &self.quota else { return true };
        if quota.try_reserve(dataset.content_length().unwrap_or(0)) {
            return true;
        }
        if !self.quota_exhausted.swap(true, Ordering::SeqCst) {
            tracing::warn!(share = quota.share(), used = quota.used(), object = %unit.object(), "this shard's share of TARDIS_DAILY_QUOTA_BYTES would be exceeded: stopping");
        }
        self.stop.cancel();
        false
    }

    /// Why units were not started or not finished, for the manifest's `interrupted` list.
    fn stop_reason(&self) -> String {
        if self.cancel.is_cancelled() {
            "the run was interrupted (SIGINT or SIGTERM)".to_owned()
        } else if let Some(error) = self.ip_locked.get() {
            format!("the run stopped: {error}")
        } else if self.quota_exhausted.load(Ordering::SeqCst) {
            "the run stopped: this shard's share of TARDIS_DAILY_QUOTA_BYTES is spent".to_owned()
        } else {
            "the run stopped before this unit".to_owned()
        }
    }
}

enum Stored {
    /// Stored, with its record (or adoption record) agreeing: its size and CRC32C as recorded.
    Verified(StoredObject),
    Missing,
    /// Stored without any md record: a candidate for adoption.
    Unrecorded(gcs_sink::ObjectInfo),
    Invalid(String),
    Unknown(String),
}

/// Parquet conversions that may run at once: one per core (a conversion's three threads keep about one core busy,
/// its stages being in series), or one with `MEMORY_EFFICIENT`, since each holds tens of MiB (docs/BENCHMARKS.md).
fn conversion_slots(memory_efficient: bool, cores: usize) -> usize {
    if memory_efficient { 1 } else { cores.max(1) }
}

/// Unit pairs (two objects written at once) that fit the sink's buffer budget: two part buffers each.
fn pair_slots(buffer_memory: usize, part_size: usize) -> usize {
    (buffer_memory / part_size.max(1) / 2).max(1)
}

/// Feeds every chunk of `file` to both writers, in step (each waits for the slower one). The converter gets the
/// file's own error if it fails; if the raw writer stops first, the converter gets [`SourceError::Sibling`] instead
/// of a clean end, which could pass for a whole file at a gzip member boundary. The raw writer learns of the
/// converter's failure through its end gate.
async fn tee(
    mut file: BoxStream<'static, Result<Bytes, SourceError>>,
    mut raw: mpsc::Sender<Result<Bytes, SourceError>>,
    mut convert: mpsc::Sender<Result<Bytes, SourceError>>,
) {
    while let Some(item) = file.next().await {
        match item {
            Ok(chunk) => {
                if raw.send(Ok(chunk.clone())).await.is_err() {
                    let _ = convert.send(Err(SourceError::Sibling(OutputFormat::Raw))).await;
                    return;
                }
                if convert.send(Ok(chunk)).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = convert.send(Err(error)).await;
                return;
            }
        }
    }
}

/// A spawned unit that is aborted when its handle is dropped (the run's future was dropped), so no unit outlives
/// its run.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(context)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Ends `body` with [`SourceError::Stopped`] as soon as `stop` is cancelled, so the sink aborts its upload.
fn stop_on_cancel(
    body: BoxStream<'static, Result<Bytes, SourceError>>,
    stop: CancellationToken,
) -> BoxStream<'static, Result<Bytes, SourceError>> {
    stream::unfold(Some((body, stop)), |state| async move {
        let (mut body, stop) = state?;
        tokio::select! {
            biased;
            () = stop.cancelled() => Some((Err(SourceError::Stopped("the run is stopping")), None)),
            item = body.next() => item.map(|item| (item, Some((body, stop)))),
        }
    })
    .boxed()
}

/// How another whole-file attempt bears on a failed write: every variant is typed, so the class is a match on
/// the error itself (the source's own error, through the converter and the sink), never a downcast.
fn retry_class(error: &PutError<SourceError>) -> RetryClass {
    match error {
        PutError::Source { source, .. } => source.retry_class(),
        PutError::Sink(sink) if sink.is_retryable() => RetryClass::Backoff,
        PutError::Sink(_) => RetryClass::Final,
    }
}

impl SourceError {
    /// Tardis says for its own errors; a corrupt or cut gzip found by the converter may arrive whole next time
    /// (with Parquet output the converter is the one gzip check); malformed data and a stopping run are final.
    fn retry_class(&self) -> RetryClass {
        match self {
            SourceError::Tardis(error) => error.retry_class(),
            SourceError::Convert(error) if error.is_retryable() => RetryClass::Backoff,
            SourceError::Split(error) if error.is_retryable() => RetryClass::Backoff,
            SourceError::Convert(_)
            | SourceError::Split(_)
            | SourceError::Stopped(_)
            | SourceError::Sibling(_) => RetryClass::Final,
        }
    }
}

/// The fewest rows per Arrow batch a conversion uses, whatever `BATCH_SIZE` says.
const MIN_BATCH_ROWS: usize = 1024;

/// Rows per batch of a conversion: `BATCH_SIZE`, at least [`MIN_BATCH_ROWS`]. The system md replaces used
/// `BATCH_SIZE` for its upload batching, and its `env.example` sets `BATCH_SIZE=1` ("upload at once", which md always
/// does): read as rows per batch, a migrated `.env` would convert row by row.
fn conversion_batch_rows(batch_size: std::num::NonZeroUsize) -> std::num::NonZeroUsize {
    batch_size.max(std::num::NonZeroUsize::new(MIN_BATCH_ROWS).expect("non-zero"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_batch_size_of_one_converts_in_batches_of_1024() {
        for (batch_size, rows) in [(1, 1024), (1023, 1024), (1024, 1024), (65536, 65536)] {
            let batch_size = std::num::NonZeroUsize::new(batch_size).unwrap();
            assert_eq!(
                super::conversion_batch_rows(batch_size).get(),
                rows,
                "BATCH_SIZE={batch_size}"
            );
        }
    }

    use std::time::Duration;

    use super::*;

    fn cut_body() -> tardis_client::Error {
        tardis_client::Error::BodyCutShort {
            request: "deribit trades 2024-03-02 BTC-PERPETUAL".into(),
            url: "http://127.0.0.1/v1/deribit/trades/2024/03/02/BTC-PERPETUAL.csv.gz".into(),
            received: 10,
            expected: Some(20),
            reason: "the connection closed early".into(),
            attempts: 1,
            elapsed: Duration::ZERO,
        }
    }

    fn through_the_sink(source: SourceError) -> PutError<SourceError> {
        PutError::Source { name: "raw_tick_data/x.csv.gz".into(), bytes: 10, source }
    }

    /// However deep a source error sits (the client's error, through the converter, through the sink), its class is
    /// read from its own variant: wrapping it cannot silently stop retries.
    #[test]
    fn wrapped_errors_keep_their_retry_class() {
        let gzip = || ConvertError::Gzip {
            uncompressed_bytes: 5,
            source: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "cut"),
        };
        let cell = || ConvertError::Cell {
            line: 2,
            column: "price".into(),
            problem: "not a number",
            text: "x".into(),
        };
        let not_found =
            || gcs_sink::Error::NotFound { name: "x".into(), store: "memory://".into() };
        for (error, expected) in [
            (through_the_sink(SourceError::Tardis(cut_body())), RetryClass::Backoff),
            (through_the_sink(SourceError::from(gzip())), RetryClass::Backoff),
            (through_the_sink(SourceError::from(cell())), RetryClass::Final),
            (through_the_sink(SourceError::Stopped("the run is stopping")), RetryClass::Final),
            (PutError::Sink(not_found()), RetryClass::Final),
        ] {
            assert_eq!(retry_class(&error), expected, "{}", chain(&error));
        }
    }

    /// The same error, one level deeper: a Tardis error that passed through the Parquet converter's stream.
    #[tokio::test]
    async fn a_tardis_error_through_the_converter_is_still_retried() {
        let input = stream::iter([Err::<Bytes, SourceError>(SourceError::Tardis(cut_body()))]);
        let partition = Partition {
            date: chrono::NaiveDate::from_ymd_opt(2024, 3, 2).expect("a date"),
            venue: "DERIBIT".into(),
            instrument_key: "DERIBIT:PERP:BTC-USD".into(),
            exchange: "deribit".into(),
            symbol: Some("BTC-PERPETUAL".into()),
        };
        let converted: Vec<Result<Bytes, SourceError>> = convert::convert(
            input,
            md_config::DataType::Trades,
            partition,
            ConvertOptions::default(),
        )
        .collect()
        .await;
        let Some(Err(error)) = converted.into_iter().last() else {
            panic!("the input error ends it")
        };
        assert!(matches!(error, SourceError::Tardis(tardis_client::Error::BodyCutShort { .. })));
        assert_eq!(retry_class(&through_the_sink(error)), RetryClass::Backoff);
    }
}
