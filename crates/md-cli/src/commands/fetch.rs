//! `md-cli fetch`: one dataset file byte-exact, verified, written atomically ([`downloader::fetch`]).

use anyhow::anyhow;
use downloader::fetch::{FetchError, FetchOutput, fetch};
use md_config::Loaded;
use tardis_client::{DatasetRequest, TardisClient};

use crate::cli::FetchArgs;
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, args: &FetchArgs) -> Result<(), Failure> {
    let request = DatasetRequest::new(&args.exchange, args.data_type, args.date, &args.symbol);
    let mut config = loaded.config.clone();
    if config.api_key_secret.is_some() {
        // Reading the key is a request: logged like the others.
        crate::logging::init(&config.service).map_err(Failure::BadInput)?;
        crate::commands::api_key::resolve(loaded, &mut config)
            .map_err(crate::commands::api_key::failure)?;
    }
    let bad = |error: tardis_client::Error| Failure::BadInput(anyhow!(error));
    let client = TardisClient::new(&config.tardis).map_err(bad)?;
    // Everything that can be refused is refused before a request is sent.
    client.check_dataset_request(&request).map_err(bad)?;
    crate::logging::init(&loaded.config.service).map_err(Failure::BadInput)?;
    let config = &loaded.config;
    let output =
        FetchOutput::parse(&args.output, &config.sink, config.download.force).map_err(failure)?;
    let summary = crate::runtime::run(move |token| async move {
        fetch(&client, &request, &output, token).await.map_err(failure)
    })?;
    tracing::info!(
        output = %args.output.display(),
        bytes = summary.bytes,
        uncompressed_bytes = ?summary.uncompressed_bytes,
        crc32c = format!("{:08x}", summary.crc32c),
        attempts = summary.attempts,
        elapsed_ms = summary.elapsed.as_millis() as u64,
        "fetched"
    );
    Ok(())
}

fn failure(error: FetchError) -> Failure {
    match error {
        FetchError::Interrupted => Failure::Interrupted,
        error if error.is_bad_input() => Failure::BadInput(anyhow!(error)),
        error => Failure::Work(anyhow!(error)),
    }
}
