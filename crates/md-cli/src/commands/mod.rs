//! One module per subcommand, plus [`job`], what the main job's commands share, and [`api_key`], where the Tardis
//! API key comes from (the configuration or Secret Manager).
//!
//! Dependencies run one way: `pipeline` uses `instruments` and `download`, `missing` uses `download`; all use `job`.

pub(crate) mod api_key;
pub(crate) mod config;
pub(crate) mod doctor;
pub(crate) mod download;
pub(crate) mod fetch;
pub(crate) mod instruments;
pub(crate) mod job;
pub(crate) mod missing;
pub(crate) mod pipeline;
pub(crate) mod sql;
