use super::variant::fnv1a_32;
use super::*;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[test]
fn example_keys_format_exactly() {
    let expected = [
        (InstrumentKey::spot("binance", "BTC", "USDT"), "BINANCE:SPOT_PAIR:BTC-USDT"),
        (InstrumentKey::perp("deribit", "BTC", "USD"), "DERIBIT:PERPETUAL:BTC-USD"),
        (InstrumentKey::perp("bybit", "eth", "usdt"), "BYBIT:PERPETUAL:ETH-USDT"),
        (InstrumentKey::perp("okex-swap", "BTC", "USDT"), "OKX-SWAP:PERPETUAL:BTC-USDT"),
        (InstrumentKey::spot("okex", "BTC", "USDT"), "OKX:SPOT_PAIR:BTC-USDT"),
        (
            InstrumentKey::future("deribit", "BTC", "USD", date("2024-12-25")),
            "DERIBIT:FUTURE:BTC-USD-241225",
        ),
        (
            InstrumentKey::option(
                "deribit",
                "BTC",
                "USD",
                date("2024-12-25"),
                Strike::from_f64(50000.0).unwrap(),
                OptionType::Call,
            ),
            "DERIBIT:OPTION:BTC-USD-241225-50000-CALL",
        ),
        (
            InstrumentKey::option(
                "deribit",
                "BTC",
                "USD",
                date("2023-12-29"),
                Strike::from_f64(50000.0).unwrap(),
                OptionType::Put,
            ),
            "DERIBIT:OPTION:BTC-USD-231229-50000-PUT",
        ),
        (
            InstrumentKey::combo("deribit", "BTC", "USD", "FS_261225_PERP"),
            "DERIBIT:COMBO:BTC-USD-FS_261225_PERP",
        ),
    ];
    for (key, text) in expected {
        let key = key.unwrap();
        assert_eq!(key.to_string(), text);
        assert_eq!(InstrumentKey::parse(text).unwrap(), key, "{text}");
    }
}

#[test]
fn strikes_print_without_float_noise() {
    for (value, text) in [
        (0.625, "0.625"),
        (1500.0, "1500"),
        (85000.0, "85000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (0.3, "0.3"),
        (1e-7, "0.0000001"),
        (-0.0, "0"),
        (1e21, "1000000000000000000000"),
    ] {
        assert_eq!(Strike::from_f64(value).unwrap().as_str(), text, "{value}");
    }
    assert_eq!(Strike::from_decimal_text("0.6250").unwrap().as_str(), "0.625");
    assert_eq!(Strike::from_decimal_text("1500.0").unwrap().as_str(), "1500");
    for bad in [f64::NAN, f64::INFINITY, -1.0, 1e40, 5e-324] {
        assert!(Strike::from_f64(bad).is_err(), "{bad}");
    }
    for bad in ["", "01", "1.", ".5", "1.50", "1e3", "-1", "1,5", "+1"] {
        assert!(Strike::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Strike::parse("0.625").unwrap().value(), 0.625);
}

#[test]
fn parse_rejects_everything_outside_the_grammar() {
    for bad in [
        "",
        "DERIBIT",
        "DERIBIT:PERPETUAL",
        "DERIBIT:PERPETUAL:BTC-USD:X",
        "deribit:PERPETUAL:BTC-USD",
        "DERIBIT:perpetual:BTC-USD",
        "DERIBIT:perp:BTC-USD",
        "DERIBIT:Perp:BTC-USD",
        "DERIBIT:PERPETUALS:BTC-USD",
        "DERIBIT:SPOT:BTC-USD",
        "okex-swap:PERP:BTC-USDT",
        "Okex-Swap:PERPETUAL:BTC-USDT",
        "DERIBIT:PERPETUAL:btc-USD",
        "DERIBIT:PERP:btc-USD",
        "DERIBIT:PERPETUAL:BTC",
        "DERIBIT:PERPETUAL:BTC-USD-241225",
        "DERIBIT:FUTURE:BTC-USD",
        "DERIBIT:FUTURE:BTC-USD-241232",
        "DERIBIT:FUTURE:BTC-USD-20241225",
        "DERIBIT:OPTION:BTC-USD-241225-50000-C",
        "DERIBIT:OPTION:BTC-USD-241225-50000.0-CALL",
        "DERIBIT:OPTION:BTC-USD-241225-CALL",
        "DERIBIT:COMBO:BTC-USD",
        "DERIBIT:PERPETUAL:BTC-USD~",
        "DERIBIT:PERPETUAL:BTC-USD~a",
        "DERIBIT:PERPETUAL:BTC-USD~X~Y",
        "DERIBIT:PERPETUAL:BTC/X-USD",
        "DERIBIT:PERPETUAL:-USD",
        "DER IBIT:PERPETUAL:BTC-USD",
        "DERIBIT:OPTION:ALL",
    ] {
        assert!(InstrumentKey::parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn fields_must_match_the_type() {
    let mut parts = InstrumentKey::perp("deribit", "BTC", "USD").unwrap().to_parts();
    parts.expiry = Some(date("2024-12-25"));
    assert!(InstrumentKey::new(parts.clone()).is_err());
    parts.instrument_type = InstrumentType::Future;
    assert!(InstrumentKey::new(parts.clone()).is_ok());
    parts.strike = Some(Strike::from_f64(1.0).unwrap());
    assert!(InstrumentKey::new(parts.clone()).is_err());
    parts.instrument_type = InstrumentType::Option;
    assert!(InstrumentKey::new(parts.clone()).is_err(), "an option needs its option type");
    parts.option_type = Some(OptionType::Put);
    assert!(InstrumentKey::new(parts.clone()).is_ok());
    parts.expiry = Some(date("2100-01-01"));
    assert!(InstrumentKey::new(parts).is_err(), "YYMMDD cannot hold 2100");
}

#[test]
fn variants_extend_the_symbol() {
    let key = InstrumentKey::perp("cryptofacilities", "BTC", "USD")
        .unwrap()
        .with_variant(&variant_tag("PF_XBTUSD"))
        .unwrap();
    assert_eq!(key.to_string(), "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD");
    assert_eq!(InstrumentKey::parse(&key.to_string()).unwrap(), key);
    assert_eq!(key.without_variant().to_string(), "CRYPTOFACILITIES:PERPETUAL:BTC-USD");
    assert_eq!(key.historical_spellings(), ["CRYPTOFACILITIES:PERP:BTC-USD~PF_XBTUSD"]);
    assert_eq!(variant_tag("BTC-27NOV26-100000-C"), "BTC-27NOV26-100000-C");
    let odd = variant_tag("btc usd#1");
    assert_eq!(odd, format!("BTC_USD_1.{:08X}", fnv1a_32(b"btc usd#1")));
    assert!(InstrumentKey::perp("x", "A", "B").unwrap().with_variant(&odd).is_ok());
}

#[test]
fn group_keys_are_distinct_from_instrument_keys() {
    let group = grouped_object_key("deribit", "OPTIONS").unwrap();
    assert_eq!(group.to_string(), "DERIBIT:OPTION:ALL");
    assert_eq!(GroupKey::parse("DERIBIT:OPTION:ALL").unwrap(), group);
    assert_eq!(group.tardis_group(), "OPTIONS");
    for (group, text) in [
        ("SPOT", "BINANCE:SPOT_PAIR:ALL"),
        ("PERPETUALS", "BINANCE:PERPETUAL:ALL"),
        ("FUTURES", "BINANCE:FUTURE:ALL"),
        ("COMBOS", "BINANCE:COMBO:ALL"),
    ] {
        assert_eq!(grouped_object_key("binance", group).unwrap().to_string(), text);
        assert!(matches!(ObjectKey::parse(text).unwrap(), ObjectKey::Group(_)));
    }
    assert_eq!(
        grouped_object_key("deribit", "PREDICTIONS"),
        Err(Error::UnknownGroup { group: "PREDICTIONS".into() })
    );
    assert!(GroupKey::parse("deribit:OPTION:ALL").is_err());
    assert!(GroupKey::parse("okex:SPOT_PAIR:ALL").is_err());
    assert!(matches!(
        ObjectKey::parse("DERIBIT:PERPETUAL:BTC-USD").unwrap(),
        ObjectKey::Instrument(_)
    ));
}

/// Keys written before (by the system md replaces, or by earlier md) read as the canonical key, and the
/// canonical key lists them: `(text written before, canonical key)`.
#[test]
fn historical_spellings_read_as_the_canonical_key() {
    for (old, canonical) in [
        ("DERIBIT:PERP:BTC-USD", "DERIBIT:PERPETUAL:BTC-USD"),
        ("BINANCE:SPOT_ASSET:BTC-USDT", "BINANCE:SPOT_PAIR:BTC-USDT"),
        ("OKEX:SPOT_PAIR:BTC-USDT", "OKX:SPOT_PAIR:BTC-USDT"),
        ("OKEX:SPOT_ASSET:BTC-USDT", "OKX:SPOT_PAIR:BTC-USDT"),
        ("OKEX-SWAP:PERP:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
        ("OKX-SWAP:PERP:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
        ("OKEX-SWAP:PERPETUAL:BTC-USDT", "OKX-SWAP:PERPETUAL:BTC-USDT"),
        ("OKEX-FUTURES:FUTURE:BTC-USD-241227", "OKX-FUTURES:FUTURE:BTC-USD-241227"),
        (
            "OKEX-OPTIONS:OPTION:BTC-USD-261127-100000-PUT",
            "OKX-OPTIONS:OPTION:BTC-USD-261127-100000-PUT",
        ),
        ("CRYPTOFACILITIES:PERP:BTC-USD~PF_XBTUSD", "CRYPTOFACILITIES:PERPETUAL:BTC-USD~PF_XBTUSD"),
        ("BINANCE:PERP:ALL", "BINANCE:PERPETUAL:ALL"),
        ("OKEX-SWAP:PERP:ALL", "OKX-SWAP:PERPETUAL:ALL"),
        ("OKEX:SPOT_ASSET:ALL", "OKX:SPOT_PAIR:ALL"),
    ] {
        let key = ObjectKey::parse(old).unwrap_or_else(|error| panic!("{old}: {error}"));
        assert_eq!(key.to_string(), canonical, "{old}");
        assert!(key.historical_spellings().contains(&old.to_owned()), "{canonical} lists {old}");
        assert!(!key.historical_spellings().contains(&canonical.to_owned()));
        assert_eq!(ObjectKey::parse(canonical).unwrap(), key);
    }
}

/// `(canonical key, every other spelling, in order)`.
#[test]
fn historical_spellings_are_every_combination_in_a_fixed_order() {
    for (canonical, expected) in [
        ("DERIBIT:PERPETUAL:BTC-USD", &["DERIBIT:PERP:BTC-USD"][..]),
        ("BINANCE:SPOT_PAIR:BTC-USDT", &["BINANCE:SPOT_ASSET:BTC-USDT"][..]),
        ("DERIBIT:OPTION:BTC-USD-241225-50000-CALL", &[][..]),
        ("DERIBIT:FUTURE:BTC-USD-241225", &[][..]),
        ("DERIBIT:COMBO:BTC-USD-FS_261225_PERP", &[][..]),
        (
            "OKX-SWAP:PERPETUAL:BTC-USDT",
            &["OKX-SWAP:PERP:BTC-USDT", "OKEX-SWAP:PERPETUAL:BTC-USDT", "OKEX-SWAP:PERP:BTC-USDT"]
                [..],
        ),
        (
            "OKX:SPOT_PAIR:BTC-USDT",
            &["OKX:SPOT_ASSET:BTC-USDT", "OKEX:SPOT_PAIR:BTC-USDT", "OKEX:SPOT_ASSET:BTC-USDT"][..],
        ),
        ("OKX-FUTURES:FUTURE:BTC-USD-241227", &["OKEX-FUTURES:FUTURE:BTC-USD-241227"][..]),
        ("DERIBIT:OPTION:ALL", &[][..]),
        ("BINANCE:PERPETUAL:ALL", &["BINANCE:PERP:ALL"][..]),
    ] {
        let key = ObjectKey::parse(canonical).unwrap();
        assert_eq!(key.to_string(), canonical);
        assert_eq!(key.historical_spellings(), expected, "{canonical}");
    }
}

/// `(Tardis exchange id, venue)`: every `okex*` id by one rule, others upper-cased.
#[test]
fn okx_exchanges_have_their_current_name() {
    for (exchange, venue) in [
        ("okex", "OKX"),
        ("okex-futures", "OKX-FUTURES"),
        ("okex-swap", "OKX-SWAP"),
        ("okex-options", "OKX-OPTIONS"),
        ("okex-spreads", "OKX-SPREADS"),
        ("OKEX-SWAP", "OKX-SWAP"),
        ("okx", "OKX"),
        ("okexchange", "OKEXCHANGE"),
        ("okex_swap", "OKEX_SWAP"),
        ("okcoin", "OKCOIN"),
        ("binance-futures", "BINANCE-FUTURES"),
        ("deribit", "DERIBIT"),
    ] {
        assert_eq!(canonical_venue(exchange).unwrap(), venue, "{exchange}");
        assert_eq!(canonical_venue(venue).unwrap(), venue, "idempotent: {venue}");
    }
}

#[test]
fn fnv1a_32_matches_the_published_test_vectors() {
    assert_eq!(fnv1a_32(b""), 0x811c_9dc5);
    assert_eq!(fnv1a_32(b"a"), 0xe40c_292c);
    assert_eq!(fnv1a_32(b"foobar"), 0xbf9c_f968);
}

#[test]
fn object_component_validity() {
    assert!(is_valid_object_component("DERIBIT:OPTION:BTC-USD-241225-0.625-CALL~X.Y-Z"));
    for bad in ["", ".", "..", "a/b", "a\nb", "a\rb", "a#b", "a?b", "a*b", "a[b", "a]b", "\u{7f}"] {
        assert!(!is_valid_object_component(bad), "{bad:?}");
    }
}
