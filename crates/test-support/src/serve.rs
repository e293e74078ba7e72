//! What the stand-ins share: the task that serves one, aborted when the stand-in is dropped, and the reading of a
//! `Range` header.

use std::future::Future;

/// A stand-in's serving task; dropping it aborts the task, so the stand-in stops accepting connections.
#[derive(Debug)]
pub(crate) struct ServeTask(tokio::task::JoinHandle<()>);

impl ServeTask {
    /// Spawns `serving` on the current tokio runtime.
    pub(crate) fn spawn(serving: impl Future<Output = ()> + Send + 'static) -> ServeTask {
        ServeTask(tokio::spawn(serving))
    }
}

impl Drop for ServeTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads a `Range: bytes=...` header against a body of `len` bytes: `None` when it is not a single byte range (the
/// whole body is served), `Some(Err(()))` when it is not satisfiable (416), else the inclusive `(first, last)`
/// bytes, `last` clamped to the body. Takes `a-b`, `a-` and the suffix form `-n` (the last `n` bytes).
pub(crate) fn parse_range(value: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let last = len.checked_sub(1);
    let range = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.saturating_sub(n), last?)
        }
        (start, "") => (start.parse().ok()?, len.saturating_sub(1)),
        (start, end) => {
            let end: u64 = end.parse().ok()?;
            (start.parse().ok()?, end.min(len.saturating_sub(1)))
        }
    };
    Some(if range.0 > range.1 || range.0 >= len { Err(()) } else { Ok(range) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("bytes=0-3", 10, Some(Ok((0, 3))))]
    #[case("bytes=5-", 10, Some(Ok((5, 9))))]
    #[case("bytes=-4", 10, Some(Ok((6, 9))))]
    #[case("bytes=8-20", 10, Some(Ok((8, 9))))]
    #[case("bytes=10-12", 10, Some(Err(())))]
    #[case("bytes=10-", 100, Some(Ok((10, 99))))]
    #[case("bytes=10-19", 100, Some(Ok((10, 19))))]
    #[case("bytes=100-", 100, Some(Err(())))]
    #[case("bytes=5-3", 100, Some(Err(())))]
    #[case("bytes=0-", 0, Some(Err(())))]
    #[case("items=1-2", 100, None)]
    #[case("bytes=x-2", 100, None)]
    fn ranges(
        #[case] header: &str,
        #[case] len: u64,
        #[case] expected: Option<Result<(u64, u64), ()>>,
    ) {
        assert_eq!(parse_range(header, len), expected, "{header} of {len}");
    }
}
