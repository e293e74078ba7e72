//! md-cli end to end: the binary run as a user runs it.

mod adopt;
mod chaos;
mod config;
mod container;
mod coverage;
mod daily;
mod definitions;
mod doctor;
mod download;
mod fetch;
mod formats;
mod hive;
mod lake_index;
mod original;
mod proxy;
mod run_days;
mod secret;
mod split;
mod sql;
mod statuses;
mod support;
