//! The one place the two models meet: Tardis metadata as `tardis-client` fetches it (the wire types) mapped onto
//! the input model of `instruments`, which knows nothing of Tardis' JSON.

use chrono::{DateTime, Utc};
use instruments::{Instrument, ListedSymbol, ListedType, Listing, OptionType, Terms, TermsChange};
use tardis_client::wire::{
    DatasetSymbol, Decimal, ExchangeDetails, InstrumentInfo, InstrumentTerms, SymbolType,
};

/// Returns the `instruments` model of one exchange's listing from its Tardis metadata: the free exchange details
/// and, when an API key is available, the full instrument metadata.
///
/// Symbols are normalised as in download URLs ([`tardis_client::wire::normalize_dataset_symbol`]), grouped dataset
/// symbols (`OPTIONS`, ...) are told apart from the others, and the trading terms of each instrument are taken from
/// its current fields and from each `changes[]` entry; `changes[]` entries of fields keys are made from (`expiry`,
/// `type`, `quoteCurrency`) are left out, since keys and records come from current metadata.
pub fn listing(details: ExchangeDetails, instruments: Option<Vec<InstrumentInfo>>) -> Listing {
    let (exported_from, symbols) = details
        .datasets
        .map_or((None, Vec::new()), |datasets| (datasets.exported_from, datasets.symbols));
    let (groups, dataset_symbols): (Vec<DatasetSymbol>, Vec<DatasetSymbol>) =
        symbols.into_iter().partition(DatasetSymbol::is_grouped);
    let dataset_symbol = |symbol: DatasetSymbol| {
        let DatasetSymbol { id, symbol_type, available_since, available_to, data_types } = symbol;
        listed_symbol(id, &symbol_type, available_since, available_to, data_types)
    };
    Listing {
        exchange: details.id,
        available_since: exported_from.or(details.available_since),
        dataset_symbols: dataset_symbols.into_iter().map(dataset_symbol).collect(),
        groups: groups.into_iter().map(dataset_symbol).collect(),
        native_symbols: details
            .available_symbols
            .into_iter()
            .map(|symbol| {
                let (since, to) = (symbol.available_since, symbol.available_to);
                listed_symbol(symbol.id, &symbol.symbol_type, since, to, Vec::new())
            })
            .collect(),
        instruments: instruments
            .map(|instruments| instruments.into_iter().map(instrument).collect()),
    }
}

fn listed_symbol(
    id: String,
    symbol_type: &SymbolType,
    available_since: Option<DateTime<Utc>>,
    available_to: Option<DateTime<Utc>>,
    data_types: Vec<String>,
) -> ListedSymbol {
    ListedSymbol {
        dataset_symbol: tardis_client::wire::normalize_dataset_symbol(&id),
        id,
        symbol_type: listed_type(symbol_type),
        available_since,
        available_to,
        data_types,
    }
}

/// The type with a key grammar, or the Tardis spelling of one without.
fn listed_type(symbol_type: &SymbolType) -> ListedType {
    symbol_type
        .instrument_type()
        .map_or_else(|| ListedType::Other(symbol_type.as_str().to_owned()), ListedType::Instrument)
}

/// The trading terms of an [`InstrumentInfo`] or of one of its `changes[]` entries.
fn terms(wire: InstrumentTerms) -> Terms {
    let decimal = |value: Option<Decimal>| value.map(Decimal::get);
    Terms {
        contract_type: wire.contract_type,
        underlying_index: wire.underlying_index,
        settlement_currency: wire.settlement_currency,
        inverse: wire.inverse,
        quanto: wire.quanto,
        contract_size: decimal(wire.contract_multiplier),
        tick_size: decimal(wire.price_increment),
        amount_increment: decimal(wire.amount_increment),
        min_size: decimal(wire.min_trade_amount),
        min_notional: decimal(wire.min_notional),
        maker_fee: decimal(wire.maker_fee),
        taker_fee: decimal(wire.taker_fee),
    }
}

fn instrument(info: InstrumentInfo) -> Instrument {
    let dataset_symbol = info.dataset_symbol();
    let changes = info
        .changes
        .into_iter()
        .map(|change| TermsChange { until: change.until, terms: terms(change.terms) })
        .collect();
    Instrument {
        dataset_symbol,
        symbol_type: listed_type(&info.symbol_type),
        strike: info.strike_price.map(Decimal::get),
        option_type: info.option_type.as_deref().and_then(OptionType::from_tardis),
        exchange: info.exchange,
        id: info.id,
        base_currency: info.base_currency,
        quote_currency: info.quote_currency,
        available_since: info.available_since,
        available_to: info.available_to,
        expiry: info.expiry,
        terms: terms(info.terms),
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const DETAILS: &str = r#"{
        "id": "binance-futures",
        "availableSince": "2019-11-17T00:00:00.000Z",
        "availableSymbols": [
            {"id": "btcusdt", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z"},
            {"id": "will:it/rain", "type": "prediction", "availableSince": "2024-01-01T00:00:00.000Z",
             "availableTo": "2024-02-01T00:00:00.000Z"}
        ],
        "datasets": {"exportedFrom": "2019-11-18T00:00:00.000Z", "symbols": [
            {"id": "PERPETUALS", "type": "perpetual", "availableSince": "2019-11-17T00:00:00.000Z",
             "dataTypes": ["trades"]},
            {"id": "BTCUSDT", "type": "perpetual", "dataTypes": ["trades", "quotes"]}
        ]}
    }"#;

    const INSTRUMENTS: &str = r#"[{
        "id": "btcusdt_261225", "datasetId": "btcusdt_261225", "exchange": "binance-futures", "baseCurrency": "BTC",
        "quoteCurrency": "USDT", "type": "option", "contractType": "call_option", "active": true,
        "availableSince": "2025-12-26T00:00:00.000Z", "availableTo": "2026-12-25T08:00:00.000Z",
        "expiry": "2026-12-25T08:00:00.000Z", "strikePrice": "85000", "optionType": "call",
        "underlyingIndex": "BTCUSDT", "settlementCurrency": "USDT", "inverse": false, "quanto": false,
        "contractMultiplier": 1, "priceIncrement": 0.1, "amountIncrement": "0.001", "minTradeAmount": 0.01,
        "minNotional": 5, "makerFee": 0.0002, "takerFee": 0.0005,
        "changes": [{"until": "2026-01-01T00:00:00.000Z", "priceIncrement": 0.5, "inverse": true,
                     "expiry": "2026-12-26T08:00:00.000Z", "quoteCurrency": "USD", "type": "future"}]
    }]"#;

    #[test]
    fn listing_maps_the_wire_onto_the_instruments_model() {
        let details: ExchangeDetails = serde_json::from_str(DETAILS).unwrap();
        let infos: Vec<InstrumentInfo> = serde_json::from_str(INSTRUMENTS).unwrap();
        let listed = listing(details.clone(), Some(infos));
        assert_eq!(listed.exchange, "binance-futures");
        assert_eq!(
            listed.available_since,
            Some(time("2019-11-18T00:00:00Z")),
            "exportedFrom first"
        );
        let ids = |symbols: &[ListedSymbol]| -> Vec<(String, String)> {
            symbols.iter().map(|s| (s.id.clone(), s.dataset_symbol.clone())).collect()
        };
        let pair = |id: &str, dataset_symbol: &str| (id.to_owned(), dataset_symbol.to_owned());
        assert_eq!(ids(&listed.groups), [pair("PERPETUALS", "PERPETUALS")]);
        assert_eq!(ids(&listed.dataset_symbols), [pair("BTCUSDT", "BTCUSDT")]);
        assert_eq!(
            ids(&listed.native_symbols),
            [pair("btcusdt", "BTCUSDT"), pair("will:it/rain", "WILL-IT-RAIN")]
        );
        let btcusdt = &listed.dataset_symbols[0];
        assert_eq!(
            btcusdt.symbol_type,
            ListedType::Instrument(md_config::InstrumentType::Perpetual)
        );
        assert_eq!((btcusdt.available_since, btcusdt.available_to), (None, None));
        assert_eq!(btcusdt.data_types, ["trades", "quotes"]);
        let prediction = &listed.native_symbols[1];
        assert_eq!(prediction.symbol_type, ListedType::Other("prediction".into()));
        assert_eq!(prediction.available_to, Some(time("2024-02-01T00:00:00Z")));
        assert!(prediction.data_types.is_empty());

        let instrument = &listed.instruments.as_ref().unwrap()[0];
        assert_eq!(
            (instrument.id.as_str(), instrument.dataset_symbol.as_str()),
            ("btcusdt_261225", "BTCUSDT_261225")
        );
        assert_eq!(
            instrument.symbol_type,
            ListedType::Instrument(md_config::InstrumentType::Option)
        );
        assert_eq!(
            (instrument.strike, instrument.option_type),
            (Some(85000.0), Some(OptionType::Call))
        );
        assert_eq!(instrument.expiry, Some(time("2026-12-25T08:00:00Z")));
        assert_eq!(
            instrument.terms,
            Terms {
                contract_type: Some("call_option".into()),
                underlying_index: Some("BTCUSDT".into()),
                settlement_currency: Some("USDT".into()),
                inverse: Some(false),
                quanto: Some(false),
                contract_size: Some(1.0),
                tick_size: Some(0.1),
                amount_increment: Some(0.001),
                min_size: Some(0.01),
                min_notional: Some(5.0),
                maker_fee: Some(0.0002),
                taker_fee: Some(0.0005),
            }
        );
        // The change's expiry, quote and type are not terms: keys come from current metadata.
        assert_eq!(
            instrument.changes,
            [TermsChange {
                until: time("2026-01-01T00:00:00Z"),
                terms: Terms { tick_size: Some(0.5), inverse: Some(true), ..Terms::default() },
            }]
        );

        let free = listing(details, None);
        assert_eq!(free.instruments, None);
        assert_eq!(free.dataset_symbols, listed.dataset_symbols);
    }
}
