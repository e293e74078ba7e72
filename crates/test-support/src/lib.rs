//! Test support, never part of the product: stand-in servers (Tardis, GCS XML API) and fault injection
//! that tests and `cargo xtask` run on 127.0.0.1.

pub mod gcs;
pub mod tardis;
