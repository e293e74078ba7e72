//! Progress of a download: a bar (units, bytes, rate, ETA) on a terminal, a log line every few seconds otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use downloader::download::plan::Unit;
use downloader::download::progress::{Progress, UnitOutcome};
use indicatif::{BinaryBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts the pipeline's events and shows them.
#[derive(Debug)]
pub(crate) struct CliProgress {
    total: AtomicUsize,
    finished: AtomicUsize,
    done: AtomicUsize,
    skipped: AtomicUsize,
    failed: AtomicUsize,
    bytes: AtomicU64,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl CliProgress {
    /// A bar when stderr is a terminal, periodic log lines otherwise.
    pub(crate) fn new() -> Arc<Self> {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{wide_bar}] {pos}/{len} units  {msg}  ETA {eta}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Arc::new(CliProgress {
            total: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            skipped: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            bytes: AtomicU64::new(0),
            started: Instant::now(),
            bar,
        })
    }

    /// Refreshes the display until the returned task is aborted: every 250 ms on a terminal, every 10 s in logs.
    pub(crate) fn spawn_ticker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let progress = self.clone();
        tokio::spawn(async move {
            let period = if progress.bar.is_some() {
                Duration::from_millis(250)
            } else {
                Duration::from_secs(10)
            };
            let mut interval = tokio::time::interval(period);
            interval.tick().await;
            loop {
                interval.tick().await;
                progress.refresh();
            }
        })
    }

    fn refresh(&self) {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = (bytes as f64 / elapsed) as u64;
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{}  {}/s", BinaryBytes(bytes), BinaryBytes(rate)))
            }
            None => {
                let (finished, total) =
                    (self.finished.load(Ordering::Relaxed), self.total.load(Ordering::Relaxed));
                let eta = (finished > 0 && finished < total).then(|| {
                    Duration::from_secs_f64(elapsed / finished as f64 * (total - finished) as f64)
                });
                tracing::info!(
                    units_finished = finished,
                    units_total = total,
                    done = self.done.load(Ordering::Relaxed),
                    skipped = self.skipped.load(Ordering::Relaxed),
                    failed = self.failed.load(Ordering::Relaxed),
                    bytes,
                    rate_bytes_per_sec = rate,
                    eta_secs = eta.map(|eta| eta.as_secs()),
                    "progress: {finished}/{total} units, {}, {}/s",
                    BinaryBytes(bytes),
                    BinaryBytes(rate),
                );
            }
        }
    }

    /// Clears the bar before the summary is printed.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            self.refresh();
            bar.finish_and_clear();
        }
    }
}

impl Progress for CliProgress {
    fn start(&self, units: usize) {
        self.total.store(units, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(units as u64);
        }
    }

    fn bytes(&self, count: u64) {
        self.bytes.fetch_add(count, Ordering::Relaxed);
    }

    fn unit_finished(&self, unit: &Unit, outcome: &UnitOutcome) {
        self.finished.fetch_add(1, Ordering::Relaxed);
        match outcome {
            UnitOutcome::Done { .. } => self.done.fetch_add(1, Ordering::Relaxed),
            UnitOutcome::Skipped | UnitOutcome::Adopted => {
                self.skipped.fetch_add(1, Ordering::Relaxed)
            }
            UnitOutcome::LeftAlone { .. } => self.failed.fetch_add(1, Ordering::Relaxed),
            UnitOutcome::Failed { attempts, error } => {
                tracing::error!(unit = %unit, object = %unit.object(), attempts, error = %error, "unit failed");
                self.failed.fetch_add(1, Ordering::Relaxed)
            }
            UnitOutcome::NotOffered { status, code, message } => {
                tracing::info!(unit = %unit, status, code, message = %message, "not offered by Tardis");
                0
            }
            UnitOutcome::NotStarted => 0,
        };
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}
