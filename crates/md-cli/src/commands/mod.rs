//! One module per subcommand, plus [`job`], what the main job's commands share.
//!
//! Dependencies run one way: `pipeline` uses `instruments` and `download`, `missing` uses `download`; all use `job`.

pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod download;
pub(crate) mod fetch;
pub(crate) mod instruments;
pub(crate) mod job;
pub(crate) mod missing;
pub(crate) mod pipeline;
