//! instruments: data-driven tests over the vendored Tardis fixtures.
