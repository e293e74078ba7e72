//! One module per subcommand.

pub(crate) mod config;
pub(crate) mod download;
pub(crate) mod fetch;
pub(crate) mod instruments;
