//! Canonical instrument keys and daily instrument definitions.
//!
//! This crate is pure: no IO, no async, no environment. It turns Tardis metadata ([`tardis`]) into canonical
//! keys (`DERIBIT:OPTION:BTC-USD-241225-50000-CALL`) and into the instruments available on each day.

pub mod tardis;
