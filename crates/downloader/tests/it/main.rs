//! downloader: planning, sharding, the streaming pipeline and Parquet conversion, end to end.

mod convert;
mod definitions;
mod pipeline;
mod plan;
