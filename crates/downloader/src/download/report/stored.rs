//! What is stored of a plan's objects: found by listing the directories they live in, each checked against its
//! recorded size and CRC32C (or its adoption record).

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt as _, TryStreamExt as _};
use gcs_sink::ObjectSink;

use crate::download::plan::{Plan, Unit};
use crate::download::split;
use crate::error::Error;

/// What was found of a stored object (and so, taking the worst of its objects, of a unit); ordered best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Found {
    /// Stored, with a recorded size and CRC32C that agree with the object.
    Verified,
    /// Stored by another writer and adopted by a download (checked, recorded): its adoption record agrees with the
    /// object.
    Adopted,
    /// Stored, but without a record, or with one that disagrees (the next download replaces it).
    Unverified,
    /// Not stored.
    Missing,
}

/// What was found of one stored object: how it checked, its size, and its recorded CRC32C when it has a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct StoredObject {
    pub(super) found: Found,
    pub(super) size: u64,
    pub(super) crc32c: Option<u32>,
}

impl Found {
    /// A unit is as good as the worst of its objects (one per output format): missing if any is, else unverified
    /// if any is, else adopted if any is.
    pub(super) fn of(unit: &Unit, objects: &BTreeMap<String, StoredObject>) -> Found {
        unit.object_names()
            .map(|name| objects.get(name).map_or(Found::Missing, |object| object.found))
            .max()
            .unwrap_or(Found::Missing)
    }
}

/// Finds the plan's stored objects (listing the directories they live in) and checks each one's recorded size and
/// CRC32C against the object; returns what was found of each present object.
///
/// # Errors
/// [`Error::Sink`] naming the directory that cannot be listed or the object that cannot be checked.
pub(super) async fn check(
    sink: &ObjectSink,
    plan: &Plan,
) -> Result<BTreeMap<String, StoredObject>, Error> {
    let planned: BTreeSet<&str> = plan.units.iter().flat_map(Unit::object_names).collect();
    let directories: BTreeSet<&str> = planned
        .iter()
        .map(|object| object.rsplit_once('/').map_or("", |(directory, _)| directory))
        .collect();
    let listed: Vec<Vec<(String, u64)>> = futures::stream::iter(directories)
        .map(|directory| async move {
            sink.list(directory)
                .map_ok(|object| (object.name, object.size))
                .try_collect::<Vec<(String, u64)>>()
                .await
                .map_err(|source| Error::sink("list", directory, source))
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    let present = listed.into_iter().flatten().filter(|(name, _)| planned.contains(name.as_str()));
    futures::stream::iter(present)
        .map(|(name, size)| async move {
            let (found, size, crc32c) = match sink.head(&name).await {
                Ok(info)
                    if info.adopted.as_ref().is_some_and(|adoption| adoption.size == info.size) =>
                {
                    (Found::Adopted, info.size, None)
                }
                Ok(info) if info.recorded.is_some_and(|recorded| recorded.size == info.size) => {
                    (Found::Verified, info.size, info.recorded.map(|recorded| recorded.crc32c))
                }
                Ok(info) => (Found::Unverified, info.size, None),
                Err(gcs_sink::Error::BadRecord { .. }) => (Found::Unverified, size, None),
                Err(gcs_sink::Error::NotFound { .. }) => (Found::Missing, 0, None),
                Err(source) => return Err(Error::sink("check", &name, source)),
            };
            // A split unit is stored only when every part its list names is (docs/SCHEMAS.md).
            let found = if found == Found::Verified && split::is_part_list(&name) {
                match split::parts_intact(sink, &name, false).await {
                    Ok(None) => found,
                    Ok(Some(_)) => Found::Missing,
                    Err(error) => {
                        return Err(Error::sink("check", &name, error));
                    }
                }
            } else {
                found
            };
            Ok((name, StoredObject { found, size, crc32c }))
        })
        .buffer_unordered(32)
        .try_collect()
        .await
}
