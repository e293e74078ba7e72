//! downloader: instrument keys from Tardis metadata, planning, sharding, the streaming pipeline and Parquet
//! conversion, end to end.

mod adopt;
mod convert;
mod definitions;
mod errors;
mod facts;
mod index;
mod keys;
mod pipeline;
mod plan;
mod report;
mod split;
mod sql;
mod tick_schema;
