//! `InstrumentType` spellings: the key spelling is the latest of the system md replaces (`PERPETUAL`,
//! `SPOT_PAIR`), and every spelling keys or users had before (`PERP`, `SPOT_ASSET`) reads as the same type.

use md_config::InstrumentType;
use rstest::rstest;

use super::load_in;

#[rstest]
#[case::spot(InstrumentType::Spot, "spot", "SPOT_PAIR", &["SPOT_ASSET"], "SPOT")]
#[case::perpetual(InstrumentType::Perpetual, "perpetual", "PERPETUAL", &["PERP"], "PERPETUALS")]
#[case::future(InstrumentType::Future, "future", "FUTURE", &[], "FUTURES")]
#[case::option(InstrumentType::Option, "option", "OPTION", &[], "OPTIONS")]
#[case::combo(InstrumentType::Combo, "combo", "COMBO", &[], "COMBOS")]
fn every_spelling_of_a_type(
    #[case] kind: InstrumentType,
    #[case] tardis: &str,
    #[case] key: &str,
    #[case] historical: &[&str],
    #[case] group: &str,
) {
    assert_eq!(kind.as_str(), tardis);
    assert_eq!(kind.key_str(), key);
    assert_eq!(kind.historical_key_spellings(), historical);
    assert_eq!(kind.tardis_group(), group);
    assert_eq!(InstrumentType::from_key_str(key), Some(kind));
    assert_eq!(InstrumentType::from_any_key_str(key), Some(kind));
    for old in historical {
        assert_eq!(InstrumentType::from_key_str(old), None, "{old} is not the key spelling");
        assert_eq!(InstrumentType::from_any_key_str(old), Some(kind), "{old}");
    }
    // A user or a stored file may write any of them, in any case.
    for text in [tardis, key].iter().chain(historical) {
        for spelled in [text.to_string(), text.to_ascii_lowercase(), text.to_ascii_uppercase()] {
            assert_eq!(spelled.parse::<InstrumentType>(), Ok(kind), "{spelled}");
        }
    }
}

#[rstest]
#[case::lower_case_in_a_key("perpetual")]
#[case::lower_case_historical("perp")]
#[case::tardis_plural("PERPETUALS")]
#[case::unknown("SWAP")]
fn keys_take_only_upper_case_key_spellings(#[case] text: &str) {
    assert_eq!(InstrumentType::from_any_key_str(text), None, "{text}");
}

#[test]
fn unknown_types_are_refused_naming_the_text() {
    let error = "swap".parse::<InstrumentType>().unwrap_err();
    assert!(error.contains("\"swap\""), "{error}");
}

/// `DOWNLOAD_INSTRUMENT_TYPES` (and so `--instrument-types`) takes the historical spellings as the same types.
#[rstest]
#[case::historical("SPOT_ASSET,PERP", &[InstrumentType::Spot, InstrumentType::Perpetual])]
#[case::latest("SPOT_PAIR,PERPETUAL", &[InstrumentType::Spot, InstrumentType::Perpetual])]
#[case::tardis("spot,perpetual,option", &[InstrumentType::Spot, InstrumentType::Perpetual, InstrumentType::Option])]
fn the_download_filter_reads_every_spelling(
    #[case] value: &str,
    #[case] expected: &[InstrumentType],
) {
    let dir = tempfile::tempdir().unwrap();
    let config =
        load_in(dir.path(), &[("DOWNLOAD_INSTRUMENT_TYPES", value)], vec![]).unwrap().config;
    assert_eq!(config.download.instrument_types, expected);
}
