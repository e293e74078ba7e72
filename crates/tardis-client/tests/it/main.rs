//! tardis-client against the Tardis stand-in (`test_support::tardis`), on 127.0.0.1.

mod datasets;
mod faults;
mod limits;
mod metadata;
mod readiness;
mod redaction;
mod support;
mod symbols;
