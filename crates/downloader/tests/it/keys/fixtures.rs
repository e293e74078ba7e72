//! The Tardis metadata fixtures the stand-in serves (test-support's copy of `../shared/tardis/fixtures/`, which a
//! test-support test holds equal to it), compiled in so tests are hermetic, and their mapping onto the instruments
//! model.

use downloader::definitions::listing;
use instruments::Listing;
use tardis_client::wire::{ExchangeDetails, InstrumentInfo};

/// One fixture exchange: its free details and its instrument metadata.
#[derive(Clone, Copy)]
pub(crate) struct Fixture {
    pub(crate) exchange: &'static str,
    details: &'static str,
    instruments: &'static str,
}

impl Fixture {
    pub(crate) fn details(&self) -> ExchangeDetails {
        serde_json::from_str(self.details)
            .unwrap_or_else(|error| panic!("{}: {error}", self.exchange))
    }

    pub(crate) fn instruments(&self) -> Vec<InstrumentInfo> {
        serde_json::from_str(self.instruments)
            .unwrap_or_else(|error| panic!("{}: {error}", self.exchange))
    }

    /// The listing with the instrument metadata (an API key), or with the free exchange details only.
    pub(crate) fn listing(&self, with_key: bool) -> Listing {
        listing(self.details(), with_key.then(|| self.instruments()))
    }
}

/// Every fixture exchange: the table the stand-in serves.
pub(crate) fn fixtures() -> impl Iterator<Item = Fixture> {
    test_support::tardis::FIXTURE_EXCHANGES
        .iter()
        .map(|&(exchange, details, instruments)| Fixture { exchange, details, instruments })
}

pub(crate) fn fixture(exchange: &str) -> Fixture {
    fixtures().find(|fixture| fixture.exchange == exchange).expect("a fixture exchange")
}

/// The synthetic instrument metadata of `exchange` (`tests/fixtures/keys/synthetic_*.json`): hard cases no
/// fixture exchange has.
pub(crate) fn synthetic(exchange: &str) -> Vec<InstrumentInfo> {
    let json = match exchange {
        "deribit" => include_str!("../../fixtures/keys/synthetic_deribit.json"),
        "cryptofacilities" => include_str!("../../fixtures/keys/synthetic_cryptofacilities.json"),
        other => panic!("no synthetic listing for {other}"),
    };
    serde_json::from_str(json).unwrap()
}

/// Exchange details that name the exchange and list nothing, for the synthetic metadata.
pub(crate) fn bare_details(exchange: &str) -> ExchangeDetails {
    serde_json::from_str(&format!(r#"{{"id": "{exchange}"}}"#)).unwrap()
}
