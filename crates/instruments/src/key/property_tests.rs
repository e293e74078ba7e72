use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn asset() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9_.]{0,9}"
}

fn strike() -> impl Strategy<Value = Strike> {
    prop_oneof![
        (0u64..10_000_000).prop_map(|value| value as f64),
        (0u64..10_000_000, 1u32..7)
            .prop_map(|(value, scale)| value as f64 / 10f64.powi(scale as i32)),
        (0.0f64..1e9),
    ]
    .prop_map(|value| Strike::from_f64(value).unwrap())
}

prop_compose! {
    fn parts()(
        venue in "[a-z][a-z0-9-]{0,15}",
        kind in prop::sample::select(InstrumentType::ALL.to_vec()),
        base in asset(),
        quote in asset(),
        days in 0i64..36_524,
        strike in strike(),
        call in any::<bool>(),
        legs in "[A-Z0-9][A-Z0-9_.]{0,11}",
        variant in prop::option::of("[A-Za-z0-9_-][A-Za-z0-9_.-]{0,11}"),
    ) -> KeyParts {
        let expiry = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let is_option = kind == InstrumentType::Option;
        KeyParts {
            venue,
            instrument_type: kind,
            base,
            quote,
            expiry: matches!(kind, InstrumentType::Future | InstrumentType::Option).then_some(expiry),
            strike: is_option.then_some(strike),
            option_type: is_option.then_some(if call { OptionType::Call } else { OptionType::Put }),
            legs: (kind == InstrumentType::Combo).then_some(legs),
            variant,
        }
    }
}

/// The fields of one key, drawn from small sets with some values spelt in two cases, so that a few draws
/// share identities and come near each other in text (`BTC-USDC` and `BTCU-SDC`, strikes `5` and `50`,
/// venues `OKEX-SWAP` and `OKEX_SWAP`).
#[derive(Debug, Clone)]
struct Near {
    venue: &'static str,
    kind: InstrumentType,
    base: &'static str,
    quote: &'static str,
    december_day: u32,
    strike: f64,
    call: bool,
    legs: &'static str,
    variant: Option<&'static str>,
}

impl Near {
    fn parts(&self) -> KeyParts {
        let kind = self.kind;
        let is_option = kind == InstrumentType::Option;
        KeyParts {
            venue: self.venue.to_owned(),
            instrument_type: kind,
            base: self.base.to_owned(),
            quote: self.quote.to_owned(),
            expiry: matches!(kind, InstrumentType::Future | InstrumentType::Option)
                .then(|| NaiveDate::from_ymd_opt(2024, 12, self.december_day).unwrap()),
            strike: is_option.then(|| Strike::from_f64(self.strike).unwrap()),
            option_type: is_option.then_some(if self.call {
                OptionType::Call
            } else {
                OptionType::Put
            }),
            legs: (kind == InstrumentType::Combo).then(|| self.legs.to_owned()),
            variant: self.variant.map(str::to_owned),
        }
    }
}

fn near() -> impl Strategy<Value = Near> {
    use prop::sample::select;
    (
        select(&["deribit", "DERIBIT", "okex-swap", "okex_swap"][..]),
        select(InstrumentType::ALL.to_vec()),
        select(&["BTC", "btc", "BTCU"][..]),
        select(&["USDC", "usdc", "SDC"][..]),
        select(vec![1u32, 11]),
        select(vec![0.5, 5.0, 50.0]),
        any::<bool>(),
        select(&["FS_241227", "fs_241227", "FS_2412"][..]),
        prop::option::of(select(&["PF", "pf", "PF-X"][..])),
    )
        .prop_map(|(venue, kind, base, quote, december_day, strike, call, legs, variant)| {
            Near { venue, kind, base, quote, december_day, strike, call, legs, variant }
        })
}

/// The canonical identity of a key's fields, stated here independently of the builder: every text field in
/// upper case.
fn canonical(parts: &KeyParts) -> KeyParts {
    let upper = |text: &String| text.to_ascii_uppercase();
    let venue = upper(&parts.venue);
    KeyParts {
        venue: match venue.strip_prefix("OKEX") {
            Some(rest) if rest.is_empty() || rest.starts_with('-') => format!("OKX{rest}"),
            _ => venue,
        },
        base: upper(&parts.base),
        quote: upper(&parts.quote),
        legs: parts.legs.as_ref().map(upper),
        variant: parts.variant.as_ref().map(upper),
        ..parts.clone()
    }
}

proptest! {
    #[test]
    fn prop_same_input_gives_same_key(parts in parts()) {
        let first = InstrumentKey::new(parts.clone()).unwrap();
        let second = InstrumentKey::new(parts).unwrap();
        prop_assert_eq!(first.to_string(), second.to_string());
        prop_assert_eq!(first, second);
    }

    #[test]
    fn prop_canonicalize_is_idempotent(parts in parts(), raw in "[A-Za-z0-9_.]{1,12}|\\PC{0,12}") {
        let key = InstrumentKey::new(parts).unwrap();
        let again = InstrumentKey::new(key.to_parts()).unwrap();
        prop_assert_eq!(&again, &key);
        if let Ok(asset) = canonical_asset(&raw) {
            prop_assert_eq!(canonical_asset(&asset).unwrap(), asset);
        }
        if let Ok(venue) = canonical_venue(&raw) {
            prop_assert_eq!(canonical_venue(&venue).unwrap(), venue);
        }
    }

    #[test]
    fn prop_parse_format_round_trips(parts in parts()) {
        let key = InstrumentKey::new(parts).unwrap();
        let text = key.to_string();
        prop_assert_eq!(InstrumentKey::parse(&text).unwrap(), key.clone());
        prop_assert_eq!(ObjectKey::parse(&text).unwrap(), ObjectKey::Instrument(key));
    }

    #[test]
    fn prop_historical_spellings_read_back_as_the_key(parts in parts()) {
        let key = InstrumentKey::new(parts).unwrap();
        let spellings = key.historical_spellings();
        let expected = match (key.venue() == "OKX" || key.venue().starts_with("OKX-"), key.instrument_type()) {
            (true, InstrumentType::Spot | InstrumentType::Perpetual) => 3,
            (true, _) | (false, InstrumentType::Spot | InstrumentType::Perpetual) => 1,
            (false, _) => 0,
        };
        prop_assert_eq!(spellings.len(), expected, "{:?}", spellings);
        for old in &spellings {
            prop_assert_ne!(old.as_str(), key.as_str());
            prop_assert_eq!(&InstrumentKey::parse(old).unwrap(), &key, "{}", old);
        }
    }

    #[test]
    fn prop_distinct_canonical_identities_give_distinct_keys(draws in prop::collection::vec(near(), 2..40)) {
        let mut identity_of_text: HashMap<String, KeyParts> = HashMap::new();
        let mut text_of_identity: HashMap<KeyParts, String> = HashMap::new();
        for draw in draws {
            let identity = canonical(&draw.parts());
            let key = InstrumentKey::new(draw.parts()).unwrap();
            // The key keeps exactly the canonical identity ...
            prop_assert_eq!(&key.to_parts(), &identity);
            // ... and its text tells identities apart, and nothing more.
            let text = key.as_str().to_owned();
            let first_identity = identity_of_text.entry(text.clone()).or_insert_with(|| identity.clone());
            prop_assert_eq!(&*first_identity, &identity, "two identities are written {}", text);
            let first_text = text_of_identity.entry(identity).or_insert_with(|| text.clone());
            prop_assert_eq!(&*first_text, &text);
        }
    }

    #[test]
    fn prop_changing_one_field_changes_the_key(parts in parts(), field in 0usize..5, other in "[A-Z0-9]{1,6}") {
        prop_assume!(field != 4 || parts.expiry.is_some());
        let key = InstrumentKey::new(parts.clone()).unwrap();
        let mut changed = parts;
        match field {
            0 => changed.venue = format!("{}X", changed.venue),
            1 => changed.base = format!("{}{other}", changed.base),
            2 => changed.quote = format!("{other}{}", changed.quote),
            3 => changed.variant = Some(match changed.variant { Some(v) => format!("{v}{other}"), None => other }),
            _ => changed.expiry = changed.expiry.map(|expiry| expiry.succ_opt().unwrap()).filter(|e| e.year() < 2100),
        }
        if let Ok(changed) = InstrumentKey::new(changed) {
            prop_assert_ne!(changed.to_string(), key.to_string());
        }
    }

    #[test]
    fn prop_keys_are_valid_object_names(parts in parts()) {
        let key = InstrumentKey::new(parts).unwrap();
        let text = key.to_string();
        prop_assert!(is_valid_object_component(&text), "{}", text);
        prop_assert!(text.len() <= MAX_KEY_LEN);
        prop_assert!(text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b":-_.~".contains(&b)));
    }

    #[test]
    fn prop_strikes_print_like_display(
        value in prop_oneof![
            0.0f64..1e16,
            (0u64..1u64 << 53).prop_map(|v| v as f64),
            (0u64..10_000_000_000, 0i32..12).prop_map(|(v, k)| v as f64 / 10f64.powi(k)),
            (0u64..1000, 0i32..30).prop_map(|(v, k)| v as f64 / 10f64.powi(k)),
        ]
    ) {
        let shown = value.to_string();
        match Strike::from_f64(value) {
            Ok(strike) => prop_assert_eq!(strike.as_str(), shown.as_str()),
            Err(_) => prop_assert!(shown.len() > MAX_STRIKE_LEN, "{}", shown),
        }
    }

    #[test]
    fn prop_strikes_round_trip_their_value(value in 0.0f64..1e12) {
        let strike = Strike::from_f64(value).unwrap();
        prop_assert_eq!(strike.as_str().parse::<f64>().unwrap(), value);
        prop_assert_eq!(Strike::parse(strike.as_str()).unwrap(), strike);
    }

    #[test]
    fn prop_variant_tags_are_valid_variants(symbol in "\\PC{1,40}") {
        let tag = variant_tag(&symbol);
        prop_assert!(InstrumentKey::perp("x", "A", "B").unwrap().with_variant(&tag).is_ok(), "{}", tag);
        prop_assert_eq!(variant_tag(&symbol), tag);
    }
}
