//! The tokio runtime and shutdown: SIGINT or SIGTERM cancel one [`CancellationToken`] that async commands watch.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::exit::Failure;

/// Runs an async command on a new multi-threaded runtime. SIGINT or SIGTERM cancel the token handed to the command
/// and, unless the command finishes first, drop it (its destructors clean up) and yield [`Failure::Interrupted`].
pub(crate) fn run<T, F>(command: impl FnOnce(CancellationToken) -> F) -> Result<T, Failure>
where
    F: Future<Output = Result<T, Failure>>,
{
    // Do not wait for blocking tasks (a file write in flight) beyond a moment.
    block_on_watched(Duration::from_secs(2), cancel_on_signal, |token| async move {
        tokio::select! {
            biased;
            () = token.cancelled() => Err(Failure::Interrupted),
            outcome = command(token.clone()) => outcome,
        }
    })
}

/// Runs an async command that handles cancellation itself (it finishes its bookkeeping, then returns
/// [`Failure::Interrupted`]): SIGINT or SIGTERM cancel the token, and a second signal exits at once with 130.
pub(crate) fn run_graceful<T, F>(command: impl FnOnce(CancellationToken) -> F) -> Result<T, Failure>
where
    F: Future<Output = Result<T, Failure>>,
{
    let watcher = |token| async move {
        cancel_on_signal(token).await;
        // A second signal: the user insists; uploads in flight are abandoned (never published).
        cancel_on_signal(CancellationToken::new()).await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    };
    block_on_watched(Duration::from_secs(5), watcher, command)
}

/// Builds a runtime and runs `work` on it while the spawned `watcher` (given a clone of the same token) listens for
/// signals; the watcher is aborted once the work ends, and blocking tasks get `grace` to finish at shutdown.
fn block_on_watched<T, W, F>(
    grace: Duration,
    watcher: impl FnOnce(CancellationToken) -> W,
    work: impl FnOnce(CancellationToken) -> F,
) -> Result<T, Failure>
where
    W: Future<Output = ()> + Send + 'static,
    F: Future<Output = Result<T, Failure>>,
{
    let runtime = build_runtime()?;
    let token = CancellationToken::new();
    let outcome = runtime.block_on(async {
        let watcher = tokio::spawn(watcher(token.clone()));
        let outcome = work(token).await;
        watcher.abort();
        outcome
    });
    runtime.shutdown_timeout(grace);
    outcome
}

fn build_runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|error| {
        Failure::Work(anyhow::Error::new(error).context("cannot start the tokio runtime"))
    })
}

/// Cancels `token` on the first SIGINT (Ctrl-C) or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
    tracing::info!("interrupted; stopping");
    token.cancel();
}
