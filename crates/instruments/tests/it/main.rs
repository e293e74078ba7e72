//! instruments: data-driven tests over the vendored Tardis fixtures.

mod days;
mod fixtures;
mod golden;
mod hard_parts;
mod no_key;
