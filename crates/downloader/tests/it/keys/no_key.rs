//! The path without an API key: every fixture symbol is parsed, the parsers agree with the metadata, and symbols
//! no parser understands are reported by name.

use downloader::definitions::listing;
use instruments::{
    Catalog, Error, InstrumentRecord, RecordSource, key_for_instrument, key_for_symbol,
};
use tardis_client::wire::{DatasetSymbol, ExchangeDetails, SymbolType};

use super::fixtures::{fixture, fixtures};

#[test]
fn every_fixture_symbol_is_parsed_and_agrees_with_the_metadata() {
    let mut compared = 0;
    for fixture in fixtures() {
        let details = fixture.details();
        let parsed = Catalog::new(&fixture.listing(false)).unwrap();
        assert!(parsed.unparsed().is_empty(), "{}: {:?}", fixture.exchange, parsed.unparsed());
        let symbols =
            details.datasets.as_ref().unwrap().symbols.iter().filter(|s| !s.is_grouped()).count();
        assert_eq!(
            parsed.records().count(),
            symbols,
            "{}: one record per dataset symbol",
            fixture.exchange
        );
        for info in fixture.listing(true).instruments.unwrap() {
            let from_metadata = key_for_instrument(&info).unwrap();
            let from_symbol =
                key_for_symbol(&info.exchange, &info.dataset_symbol, &info.symbol_type).unwrap();
            assert_eq!(from_symbol, from_metadata, "{} {}", info.exchange, info.id);
            // The exchange-native id (lower case on Binance) gives the same key.
            assert_eq!(
                key_for_symbol(&info.exchange, &info.id, &info.symbol_type).unwrap(),
                from_metadata
            );
            let record: &InstrumentRecord = parsed
                .records()
                .find(|r| r.dataset.tardis_symbol == info.dataset_symbol)
                .expect("listed");
            assert_eq!(record.source, RecordSource::SymbolParser);
            assert_eq!(record.exchange_raw_symbol, info.id, "native id from availableSymbols");
            if let Some(inverse) = record.terms.inverse {
                assert_eq!(Some(inverse), info.terms.inverse, "{} {}", info.exchange, info.id);
            }
            if let Some(expiry) = record.expiry_time {
                assert_eq!(Some(expiry), info.expiry, "{} {}", info.exchange, info.id);
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 39);
}

#[test]
fn symbols_no_parser_understands_are_reported_by_name() {
    let mut details: ExchangeDetails = fixture("deribit").details();
    let extra = |id: &str, symbol_type: SymbolType| DatasetSymbol {
        id: id.into(),
        symbol_type,
        available_since: "2026-01-01T00:00:00Z".parse().ok(),
        available_to: None,
        data_types: vec!["trades".into()],
    };
    let symbols = &mut details.datasets.as_mut().unwrap().symbols;
    symbols.push(extra("BTC-MOVE-27NOV26", SymbolType::Future));
    symbols.push(extra("WILL-BTC-HIT-1M", SymbolType::Prediction));
    symbols.push(extra("BTC-27NOV26-1E5-C", SymbolType::Option));
    symbols.push(extra("TURBO-X", SymbolType::Other("turbo".into())));
    let catalog = Catalog::new(&listing(details, None)).unwrap();
    let reported: Vec<&str> = catalog.unparsed().iter().map(|u| u.tardis_symbol.as_str()).collect();
    assert_eq!(reported, ["BTC-27NOV26-1E5-C", "BTC-MOVE-27NOV26", "TURBO-X", "WILL-BTC-HIT-1M"]);
    assert!(catalog.unparsed().iter().all(|u| matches!(u.error, Error::UnparsedSymbol { .. })));
    let day = catalog.day("2026-10-01".parse().unwrap());
    assert_eq!(day.unparsed.len(), 4, "reported on every day they are available");
    assert_eq!(day.records.len(), 8, "the others are still listed");
    assert!(catalog.day("2025-12-31".parse().unwrap()).unparsed.is_empty());
    // BitMEX futures name neither their quote nor their day.
    let mut bitmex = fixture("bitmex").details();
    bitmex.datasets.as_mut().unwrap().symbols.push(extra("XBTZ26", SymbolType::Future));
    let catalog = Catalog::new(&listing(bitmex.clone(), None)).unwrap();
    assert_eq!(
        catalog.unparsed().iter().map(|u| u.tardis_symbol.as_str()).collect::<Vec<_>>(),
        ["XBTZ26"]
    );
    // With metadata, the same symbol is keyed.
    let mut metadata = fixture("bitmex").instruments();
    let mut future = metadata[0].clone();
    future.id = "XBTZ26".into();
    future.dataset_id = Some("XBTZ26".into());
    future.symbol_type = SymbolType::Future;
    future.expiry = "2026-12-25T12:00:00Z".parse().ok();
    metadata.push(future);
    let catalog = Catalog::new(&listing(bitmex, Some(metadata))).unwrap();
    assert!(catalog.unparsed().is_empty());
    assert!(
        catalog.records().any(|r| r.instrument_key.to_string() == "BITMEX:FUTURE:BTC-USD-261225")
    );
}
