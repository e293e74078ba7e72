//! Streaming conversion of Tardis `.csv.gz` files into typed Parquet.
