//! The process's allocator settings, applied first thing in `main`.
//!
//! md-cli's threads (the runtime's workers and each Parquet conversion's three) allocate and free megabyte-sized
//! buffers all the time (256 KiB CSV blocks, 2 MiB Arrow batches, 5 MiB upload parts, encoded pages), and glibc's
//! defaults let freed memory pile up (docs/BENCHMARKS.md, memory):
//!
//! - threads get their own arenas (up to eight per core) and each arena keeps its own high-water mark: on 2 cores,
//!   `MD_OUTPUT_FORMAT=raw,parquet` over 16 files of 32 MiB peaked at about 205 MiB of RSS, and about 130 MiB with
//!   two arenas at the same CPU time; md-cli uses [`ARENAS`] arenas;
//! - the mmap threshold rises to the largest block freed (up to 32 MiB), after which those blocks come from the
//!   arenas and fragment them: over 16 files of 1 GiB the RSS kept climbing through the run, to 160 MiB; with a
//!   fixed threshold of [`MMAP_THRESHOLD`] (blocks that large are mapped, and unmapped when freed) it stayed between
//!   110 and 135 MiB, at the same wall time.
//!
//! A setting the operator made in the environment (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, or
//! `GLIBC_TUNABLES`), which glibc has already applied, is left alone; md-config says which ones
//! ([`md_config::MallocOverrides`]).
//!
//! The `unsafe` calls of md-cli are here: `mallopt` is a C function.
#![allow(
    unsafe_code,
    reason = "mallopt is the only way to set glibc's malloc parameters from the program"
)]

/// Arenas md-cli's allocations share.
const ARENAS: i32 = 2;

/// Blocks of at least this many bytes are mapped on their own and returned to the system when freed.
const MMAP_THRESHOLD: i32 = 1 << 20;

/// Sets glibc's arena limit and mmap threshold unless the operator set them; call before any thread starts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn tune() {
    let overrides = md_config::MallocOverrides::from_env();
    if !overrides.arena_max {
        // SAFETY: `mallopt` only tunes the allocator; `M_ARENA_MAX` with a positive value is valid at any time,
        // and called before other threads exist nothing races with it.
        let applied = unsafe { libc::mallopt(libc::M_ARENA_MAX, ARENAS) };
        debug_assert_eq!(applied, 1, "glibc accepts M_ARENA_MAX");
    }
    if !overrides.mmap_threshold {
        // SAFETY: as above; `M_MMAP_THRESHOLD` accepts any value up to 32 MiB on 64-bit systems.
        let applied = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) };
        debug_assert_eq!(applied, 1, "glibc accepts M_MMAP_THRESHOLD");
    }
}

/// Other C libraries keep their defaults.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() {}
