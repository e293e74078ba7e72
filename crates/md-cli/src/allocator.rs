//! The process's allocator settings, applied first thing in `main`.
//!
//! glibc's malloc gives threads their own arenas (up to eight per core) and keeps freed memory in the arena that
//! allocated it. md-cli's threads (the runtime's workers and each Parquet conversion's three) allocate and free
//! megabyte-sized buffers all the time, so with the default every arena keeps its own high-water mark: on 2 cores,
//! `MD_OUTPUT_FORMAT=raw,parquet` over 16 files of 32 MiB peaked at about 205 MiB of RSS, and about 130 MiB with
//! two arenas at the same CPU time (docs/BENCHMARKS.md, memory). So md-cli limits itself to [`ARENAS`] arenas,
//! unless the operator set `MALLOC_ARENA_MAX`, which glibc has already applied and is left alone.
//!
//! The one `unsafe` call of md-cli is here: `mallopt` is a C function.
#![allow(
    unsafe_code,
    reason = "mallopt is the only way to set glibc's arena limit from the program"
)]

/// Arenas md-cli's allocations share.
const ARENAS: i32 = 2;

/// Limits glibc's malloc to [`ARENAS`] arenas unless `MALLOC_ARENA_MAX` is set; call before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn limit_arenas() {
    if !md_config::malloc_arena_max_is_set() {
        // SAFETY: `mallopt` only tunes the allocator; `M_ARENA_MAX` with a positive value is valid at any time,
        // and called before other threads exist nothing races with it.
        let applied = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
        debug_assert_eq!(applied, 1, "glibc accepts M_ARENA_MAX");
    }
}

/// Other C libraries keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn limit_arenas() {}
