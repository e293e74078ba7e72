//! Every day the fixtures cover, both sources: keys are unique per venue and day, valid object names, and parse
//! back to themselves; both sources list the same instruments under the same keys.

use std::collections::HashSet;

use chrono::NaiveDate;
use instruments::key::is_valid_object_component;
use instruments::{Catalog, DayDefinitions, InstrumentKey};

use super::fixtures::fixtures;

/// From the earliest `availableSince` anywhere in the fixtures to the latest `exportedUntil`, inclusive.
fn covered_days() -> (NaiveDate, NaiveDate) {
    let mut first = NaiveDate::MAX;
    let mut last = NaiveDate::MIN;
    for fixture in fixtures() {
        let details = fixture.details();
        let instruments = fixture.instruments();
        let datasets = details.datasets.as_ref().expect("datasets");
        let since = details
            .available_since
            .into_iter()
            .chain(datasets.symbols.iter().filter_map(|symbol| symbol.available_since))
            .chain(details.available_symbols.iter().filter_map(|symbol| symbol.available_since))
            .chain(instruments.iter().map(|info| info.available_since));
        for since in since {
            first = first.min(since.date_naive());
        }
        last = last.max(datasets.exported_until.expect("exportedUntil").date_naive());
    }
    (first, last)
}

fn check_day(definitions: &DayDefinitions, source: &str) {
    let context = format!("{} {} {source}", definitions.exchange, definitions.day);
    let mut seen = HashSet::new();
    for record in &definitions.records {
        let key = record.instrument_key.to_string();
        assert!(seen.insert(key.clone()), "{context}: duplicate key {key}");
        assert!(is_valid_object_component(&key), "{context}: {key} is not a valid object name");
        assert_eq!(InstrumentKey::parse(&key).as_ref(), Ok(&record.instrument_key), "{context}");
        assert_eq!(
            key,
            format!(
                "{}:{}:{}",
                record.venue,
                record.instrument_type.key_str(),
                record.canonical_symbol
            )
        );
        assert!(
            !record.dataset.data_types.is_empty(),
            "{context}: {} has no data types",
            record.dataset.tardis_symbol
        );
    }
    let keys: Vec<&str> =
        definitions.records.iter().map(|r| r.dataset.tardis_symbol.as_str()).collect();
    let mut sorted =
        definitions.records.iter().map(|r| r.instrument_key.to_string()).collect::<Vec<_>>();
    sorted.sort();
    assert_eq!(
        definitions.records.iter().map(|r| r.instrument_key.to_string()).collect::<Vec<_>>(),
        sorted,
        "{context}: records sorted by key ({keys:?})"
    );
    assert!(definitions.unparsed.is_empty(), "{context}: {:?}", definitions.unparsed);
}

#[test]
fn keys_are_unique_on_every_day_the_fixtures_cover_with_and_without_a_key() {
    let (first, last) = covered_days();
    assert_eq!((first.to_string(), last.to_string()), ("2019-03-30".into(), "2026-11-24".into()));
    let mut checked_days = 0;
    let mut checked_records = 0;
    for fixture in fixtures() {
        let with_key = Catalog::new(&fixture.listing(true)).unwrap();
        let without_key = Catalog::new(&fixture.listing(false)).unwrap();
        for (with, without) in with_key.days(first, last).zip(without_key.days(first, last)) {
            check_day(&with, "with a key");
            check_day(&without, "without a key");
            let listed = |day: &DayDefinitions| {
                day.records
                    .iter()
                    .map(|r| (r.dataset.tardis_symbol.clone(), r.instrument_key.to_string()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                listed(&with),
                listed(&without),
                "{} {}: the sources disagree",
                fixture.exchange,
                with.day
            );
            checked_days += 1;
            checked_records += with.records.len() + without.records.len();
        }
    }
    let days = (last - first).num_days() as usize + 1;
    assert_eq!(checked_days, days * fixtures().count());
    assert!(checked_records > 100_000, "{checked_records}");
}

#[test]
fn grouped_files_are_listed_under_their_group_keys() {
    for fixture in fixtures() {
        let details = fixture.details();
        let grouped: Vec<&str> = details
            .datasets
            .iter()
            .flat_map(|datasets| &datasets.symbols)
            .filter(|symbol| symbol.is_grouped())
            .map(|symbol| symbol.id.as_str())
            .collect();
        let catalog = Catalog::new(&fixture.listing(false)).unwrap();
        let day = catalog.day(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap());
        let listed: Vec<&str> =
            day.groups.iter().map(|group| group.dataset.tardis_symbol.as_str()).collect();
        let mut expected = grouped.clone();
        expected.sort_by_key(|group| {
            instruments::grouped_object_key(fixture.exchange, group).unwrap().to_string()
        });
        assert_eq!(listed, expected, "{}", fixture.exchange);
        for group in &day.groups {
            let key = group.object_key.to_string();
            assert!(key.ends_with(":ALL") && is_valid_object_component(&key), "{key}");
            assert!(day.records.iter().all(|record| record.instrument_key.to_string() != key));
        }
    }
}
