//! Object names: the sink prefix, and the two reserved prefixes under it.
//!
//! - [`STAGING_DIR`] (`.md-staging/`): objects larger than one part are uploaded here first (multipart), then copied
//!   to their final name with a create-only copy, then deleted. Local sinks stage every write here. Names are
//!   `.md-staging/<unix millis, 13 digits>-<16 hex random>`, so [`crate::ObjectSink::cleanup_staging`] can remove
//!   leftovers of killed processes by age.
//! - [`SIDECAR_DIR`] (`.md-meta/`): where a store cannot carry custom metadata (local directories always; other
//!   stores for objects published by copy), `.md-meta/<name>` records the size, CRC32C and ETag of `<name>`.
//!
//! Both are hidden from [`crate::ObjectSink::list`]; data object names may not start with them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use object_store::path::Path;

use crate::error::{Error, Result};

/// The reserved directory (under the sink prefix) for uploads in progress.
pub const STAGING_DIR: &str = ".md-staging";
/// The reserved directory (under the sink prefix) for sidecar digest records.
pub const SIDECAR_DIR: &str = ".md-meta";

/// Joins the sink prefix and names, and tells data objects from reserved ones.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    prefix: String,
}

impl Names {
    pub(crate) fn new(prefix: &str) -> Self {
        Names { prefix: prefix.trim_matches('/').to_owned() }
    }

    /// Checks a data object name and returns its full store path.
    pub(crate) fn object(&self, name: &str) -> Result<Path> {
        let invalid =
            |reason: &str| Error::InvalidName { name: name.to_owned(), reason: reason.into() };
        if name.is_empty() {
            return Err(invalid("empty name"));
        }
        if name.starts_with('/') || name.ends_with('/') {
            return Err(invalid("names may not start or end with '/'"));
        }
        let first = name.split('/').next().unwrap_or_default();
        if first == STAGING_DIR || first == SIDECAR_DIR {
            return Err(invalid("the first segment is reserved by the sink"));
        }
        if name.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
            return Err(invalid("empty, '.' and '..' segments are not allowed"));
        }
        if name.chars().any(|c| c.is_control()) {
            return Err(invalid("control characters are not allowed"));
        }
        Path::parse(self.full(name)).map_err(|error| invalid(&error.to_string()))
    }

    /// Returns the full path of a listing prefix (`""` lists everything).
    pub(crate) fn list_prefix(&self, prefix: &str) -> Result<Option<Path>> {
        let prefix = prefix.trim_matches('/');
        let full = match (self.prefix.is_empty(), prefix.is_empty()) {
            (true, true) => return Ok(None),
            (false, true) => self.prefix.clone(),
            _ => self.full(prefix),
        };
        Path::parse(&full).map(Some).map_err(|error| Error::InvalidName {
            name: prefix.to_owned(),
            reason: error.to_string(),
        })
    }

    /// Returns the sink-relative name of a full path, or `None` for reserved objects and paths outside the prefix.
    pub(crate) fn relative(&self, path: &Path) -> Option<String> {
        let full = path.as_ref();
        let relative = if self.prefix.is_empty() {
            full
        } else {
            full.strip_prefix(self.prefix.as_str())?.strip_prefix('/')?
        };
        let first = relative.split('/').next().unwrap_or_default();
        (first != STAGING_DIR && first != SIDECAR_DIR).then(|| relative.to_owned())
    }

    /// Returns the full path of the staging directory.
    pub(crate) fn staging_dir(&self) -> Path {
        Path::from(self.full(STAGING_DIR))
    }

    /// Returns a fresh, unique staging path.
    pub(crate) fn new_staging(&self) -> Path {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis())
            .unwrap_or_default();
        // RandomState is seeded randomly per process; hashing a sequence number gives unique-enough ids across a fleet.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(SEQUENCE.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        Path::from(self.full(&format!("{STAGING_DIR}/{millis:013}-{:016x}", hasher.finish())))
    }

    /// Returns the sidecar path for an object's full path.
    pub(crate) fn sidecar(&self, name: &str) -> Path {
        Path::from(self.full(&format!("{SIDECAR_DIR}/{name}")))
    }

    fn full(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}/{name}", self.prefix) }
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case("", "a/b.csv.gz", Some("a/b.csv.gz"))]
    #[case("p/q", "a/b.csv.gz", Some("p/q/a/b.csv.gz"))]
    #[case("p", "", None)]
    #[case("p", "/a", None)]
    #[case("p", "a/", None)]
    #[case("p", "a//b", None)]
    #[case("p", "a/../b", None)]
    #[case("p", ".md-staging/x", None)]
    #[case("p", ".md-meta/x", None)]
    #[case("p", "a/.md-meta/x", Some("p/a/.md-meta/x"))]
    fn object_names(#[case] prefix: &str, #[case] name: &str, #[case] expected: Option<&str>) {
        let actual = Names::new(prefix).object(name).ok().map(|path| path.to_string());
        assert_eq!(actual.as_deref(), expected);
    }

    #[rstest]
    #[case("", "a/b", Some("a/b"))]
    #[case("p", "p/a/b", Some("a/b"))]
    #[case("p", "pq/a", None)]
    #[case("p", "p/.md-staging/1", None)]
    #[case("p", "p/.md-meta/a/b", None)]
    #[case("", ".md-meta/a", None)]
    fn relative_names(#[case] prefix: &str, #[case] full: &str, #[case] expected: Option<&str>) {
        assert_eq!(Names::new(prefix).relative(&Path::from(full)).as_deref(), expected);
    }

    #[test]
    fn staging_names_are_unique_and_reserved() {
        let names = Names::new("p");
        let a = names.new_staging();
        let b = names.new_staging();
        assert_ne!(a, b);
        assert!(a.as_ref().starts_with("p/.md-staging/"));
        assert_eq!(names.relative(&a), None);
    }
}
