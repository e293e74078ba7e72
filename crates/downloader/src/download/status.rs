//! [`UnitStatus`]: the one list of what a unit (one dataset file and its objects) can be, used by the download
//! manifest, `md-cli missing --json` and its coverage page. Documented once, in docs/STATUSES.md; each variant's
//! text here ([`UnitStatus::label`], [`UnitStatus::meaning`]) is what the reports show.

use serde::{Deserialize, Serialize};

/// What a planned unit is. The serde names are the ones `md-cli missing --json` prints and manifests record.
///
/// Declared from best to worst: a coverage cell that holds several units shows the worst ([`Ord`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitStatus {
    /// Stored, with a recorded size and CRC32C that agree with every object.
    #[serde(rename = "stored")]
    StoredVerified,
    /// Stored by another tool before md ran, checked and taken over as it is (its record written by md).
    Adopted,
    /// Tardis served a valid gzip with no rows: nothing happened that day (for example exchange downtime).
    Empty,
    /// Tardis says the file does not exist (HTTP 400 with code 140 or 300, or a 404 for a day outside the
    /// symbol's listing): never retried, never a failure, not counted by `missing --check`.
    NotOffered,
    /// The day is past the exchange's `exportedUntil`: nothing to have yet.
    NotYetExported,
    /// Stored, but an object has no record or one that disagrees: the next download replaces it.
    #[serde(rename = "unverified")]
    StoredUnverified,
    /// A run stopped before the unit was done (a signal, the quota share, the API key in use from another IP
    /// address): not stored, not failed; a rerun downloads it.
    Interrupted,
    /// Not stored, and no run said why.
    Missing,
    /// Not stored: the latest run that tried it failed after its retries.
    Failed,
}

impl UnitStatus {
    /// Every status, best first.
    pub const ALL: [UnitStatus; 9] = [
        UnitStatus::StoredVerified,
        UnitStatus::Adopted,
        UnitStatus::Empty,
        UnitStatus::NotOffered,
        UnitStatus::NotYetExported,
        UnitStatus::StoredUnverified,
        UnitStatus::Interrupted,
        UnitStatus::Missing,
        UnitStatus::Failed,
    ];

    /// Returns its name in `missing --json` and in manifests (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            UnitStatus::StoredVerified => "stored",
            UnitStatus::Adopted => "adopted",
            UnitStatus::Empty => "empty",
            UnitStatus::NotOffered => "not_offered",
            UnitStatus::NotYetExported => "not_yet_exported",
            UnitStatus::StoredUnverified => "unverified",
            UnitStatus::Interrupted => "interrupted",
            UnitStatus::Missing => "missing",
            UnitStatus::Failed => "failed",
        }
    }

    /// Returns what reports call it.
    pub fn label(self) -> &'static str {
        match self {
            UnitStatus::StoredVerified => "stored and verified",
            UnitStatus::Adopted => "adopted",
            UnitStatus::Empty => "empty at the source",
            UnitStatus::NotOffered => "not offered",
            UnitStatus::NotYetExported => "not yet exported",
            UnitStatus::StoredUnverified => "stored, unverified",
            UnitStatus::Interrupted => "interrupted",
            UnitStatus::Missing => "missing",
            UnitStatus::Failed => "failed in the last manifest",
        }
    }

    /// Returns what it means, in one sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            UnitStatus::StoredVerified => {
                "every object of the unit is stored, with a recorded size and CRC32C that agree with it"
            }
            UnitStatus::Adopted => {
                "stored by another tool before md, checked and taken over with a record md wrote"
            }
            UnitStatus::Empty => "Tardis served a valid file without rows: no data that day",
            UnitStatus::NotOffered => {
                "Tardis says this file does not exist (code 140, 300, or a day outside the symbol's listing): never retried, not a gap"
            }
            UnitStatus::NotYetExported => {
                "the day is past the exchange's exportedUntil: nothing to have yet"
            }
            UnitStatus::StoredUnverified => {
                "stored, but an object has no record or one that disagrees: the next download replaces it"
            }
            UnitStatus::Interrupted => {
                "the last run stopped before this unit (signal, quota, API key in use from another IP): a rerun downloads it"
            }
            UnitStatus::Missing => "an object of the unit is not stored",
            UnitStatus::Failed => {
                "not stored, and the latest download manifest that mentions it recorded an error"
            }
        }
    }

    /// Returns whether the unit is a gap `missing --check` reports: missing, failed, interrupted or unverified.
    /// Stored, adopted, empty, not offered and not yet exported units are not gaps.
    pub fn is_gap(self) -> bool {
        matches!(
            self,
            UnitStatus::StoredUnverified
                | UnitStatus::Interrupted
                | UnitStatus::Missing
                | UnitStatus::Failed
        )
    }
}

impl std::fmt::Display for UnitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_reports_names_and_all_is_in_order() {
        for status in UnitStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<UnitStatus>(&json).unwrap(), status);
        }
        assert!(UnitStatus::ALL.windows(2).all(|pair| pair[0] < pair[1]), "ALL is best first");
        let gaps: Vec<&str> =
            UnitStatus::ALL.into_iter().filter(|s| s.is_gap()).map(UnitStatus::as_str).collect();
        assert_eq!(gaps, ["unverified", "interrupted", "missing", "failed"]);
    }
}
