//! Tardis metadata to keys and records, the whole path: the fixtures' JSON, parsed into tardis-client's wire types,
//! mapped onto the instruments model by `downloader::definitions::listing`, keyed and cut into days by
//! `instruments`.

mod days;
mod fixtures;
mod golden;
mod hard_parts;
mod no_key;
