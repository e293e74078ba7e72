//! The vendored Tardis fixtures (copied from `../shared/tardis/fixtures/`), compiled in so tests are hermetic.

use instruments::tardis::{ExchangeDetails, InstrumentInfo};

/// One fixture exchange: its free details and its instrument metadata.
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
}

macro_rules! fixtures {
    ($($exchange:literal),* $(,)?) => {
        &[$(Fixture {
            exchange: $exchange,
            details: include_str!(concat!("../fixtures/exchange_", $exchange, ".json")),
            instruments: include_str!(concat!("../fixtures/instruments_", $exchange, ".json")),
        }),*]
    };
}

/// Every fixture exchange.
pub(crate) const FIXTURES: &[Fixture] = fixtures![
    "binance",
    "binance-delivery",
    "binance-futures",
    "bitmex",
    "bybit",
    "bybit-options",
    "bybit-spot",
    "deribit",
    "okex",
    "okex-futures",
    "okex-options",
    "okex-swap",
];

pub(crate) fn fixture(exchange: &str) -> &'static Fixture {
    FIXTURES.iter().find(|fixture| fixture.exchange == exchange).expect("a fixture exchange")
}
