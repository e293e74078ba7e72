//! Golden vectors: the key of every fixture instrument, pinned in `tests/fixtures/keys/golden_keys.tsv`.
//!
//! Keys are a data contract: a change to this table breaks every table downstream, so it must be deliberate.
//! On a mismatch the test prints the whole computed table.

use downloader::definitions::listing;
use instruments::Catalog;

use super::fixtures::{bare_details, fixtures, synthetic};

const GOLDEN: &str = include_str!("../../fixtures/keys/golden_keys.tsv");
const SYNTHETIC: &[&str] = &["cryptofacilities", "deribit"];

/// `(exchange, source, tardis symbol, key)`, sorted.
fn rows(exchange: &str, source: &str, catalog: &Catalog) -> Vec<String> {
    assert!(catalog.unparsed().is_empty(), "{exchange} {source}: {:?}", catalog.unparsed());
    catalog
        .records()
        .map(|record| {
            format!(
                "{exchange}\t{source}\t{}\t{}",
                record.dataset.tardis_symbol, record.instrument_key
            )
        })
        .collect()
}

fn computed() -> Vec<String> {
    let mut table = Vec::new();
    for fixture in fixtures() {
        let with_key = Catalog::new(&fixture.listing(true)).unwrap();
        table.extend(rows(fixture.exchange, "metadata", &with_key));
        let without_key = Catalog::new(&fixture.listing(false)).unwrap();
        table.extend(rows(fixture.exchange, "symbols", &without_key));
    }
    for exchange in SYNTHETIC {
        let listing = listing(bare_details(exchange), Some(synthetic(exchange)));
        table.extend(rows(
            &format!("synthetic-{exchange}"),
            "metadata",
            &Catalog::new(&listing).unwrap(),
        ));
    }
    table.sort();
    table
}

#[test]
fn keys_match_the_golden_vectors() {
    let golden: Vec<String> = GOLDEN
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let computed = computed();
    if computed != golden {
        panic!(
            "keys differ from tests/fixtures/keys/golden_keys.tsv; computed table:\n{}",
            computed.join("\n")
        );
    }
}

/// Every fixture key lists the spellings earlier md wrote it under (`PERP`, `OKEX...`), and the ones the system md
/// replaces wrote (`PERP`, `SPOT_ASSET`), and each of them reads back as the key.
#[test]
fn every_golden_key_lists_its_historical_spellings() {
    use instruments::InstrumentKey;
    let mut checked = 0;
    for line in GOLDEN.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let text = line.rsplit('\t').next().unwrap();
        let key = InstrumentKey::parse(text).unwrap();
        assert_eq!(key.as_str(), text, "golden keys are canonical");
        let spellings = key.historical_spellings();
        let venue = key.venue();
        let (okx, rest) = match venue.strip_prefix("OKX") {
            Some(rest) if rest.is_empty() || rest.starts_with('-') => (true, rest),
            _ => (false, ""),
        };
        let old_venue = if okx { format!("OKEX{rest}") } else { venue.to_owned() };
        let types: &[&str] = match key.instrument_type().key_str() {
            "PERPETUAL" => &["PERPETUAL", "PERP"],
            "SPOT_PAIR" => &["SPOT_PAIR", "SPOT_ASSET"],
            other => &[other][..],
        };
        let mut expected = Vec::new();
        for venue in std::iter::once(venue.to_owned()).chain(okx.then_some(old_venue)) {
            for kind in types {
                expected.push(format!("{venue}:{kind}:{}", key.symbol()));
            }
        }
        expected.remove(0);
        assert_eq!(spellings, expected, "{text}");
        for old in &spellings {
            assert_eq!(InstrumentKey::parse(old).as_ref(), Ok(&key), "{old}");
        }
        checked += 1;
    }
    assert!(checked > 80, "{checked}");
}

/// The hive layout's `{instrument}`: every fixture key (and every grouped object key) is written without `:` and
/// reads back as itself.
#[test]
fn every_key_round_trips_through_its_object_name() {
    let mut keys: Vec<String> =
        computed().iter().map(|row| row.rsplit('\t').next().unwrap().to_owned()).collect();
    for fixture in fixtures() {
        for group in ["OPTIONS", "PERPETUALS", "FUTURES", "SPOT"] {
            if let Ok(key) = instruments::grouped_object_key(fixture.exchange, group) {
                keys.push(key.to_string());
            }
        }
    }
    assert!(keys.len() > 100, "{} keys", keys.len());
    for key in keys {
        let encoded = md_config::encode_instrument_key(&key);
        assert!(
            encoded.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"%-_.~".contains(&byte)),
            "{key}: {encoded}"
        );
        assert_eq!(md_config::decode_instrument_key(&encoded).as_deref(), Ok(key.as_str()));
    }
}
