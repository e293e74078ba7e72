//! `md-cli sql`: prints the statements that make a hive-partitioned lake queryable; the statements are the library's
//! ([`downloader::sql`]), this command takes the arguments, calls it and prints.

use std::io::Write as _;

use anyhow::anyhow;
use downloader::sql::{Dataset, Lake};
use md_config::Loaded;

use crate::cli::SqlArgs;
use crate::commands::download::ignore_broken_pipe;
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, args: &SqlArgs) -> Result<(), Failure> {
    let bad = |error: downloader::sql::SqlError| Failure::BadInput(anyhow!(error));
    let dataset = Dataset::parse(&args.dataset).map_err(bad)?;
    let config = &loaded.config;
    let lake = Lake::of(&config.sink, &config.download).map_err(bad)?;
    let statements = lake.statements(args.engine, &dataset).map_err(bad)?;
    ignore_broken_pipe(std::io::stdout().lock().write_all(statements.as_bytes()))
}
