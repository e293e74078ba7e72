//! Golden vectors: the key of every fixture instrument, pinned in `tests/fixtures/golden_keys.tsv`.
//!
//! Keys are a data contract: a change to this table breaks every table downstream, so it must be deliberate.
//! On a mismatch the test prints the whole computed table.

use instruments::Catalog;
use instruments::tardis::{ExchangeDetails, InstrumentInfo};

use crate::fixtures::FIXTURES;

const GOLDEN: &str = include_str!("../fixtures/golden_keys.tsv");
const SYNTHETIC: &[(&str, &str)] = &[
    ("cryptofacilities", include_str!("../fixtures/synthetic_cryptofacilities.json")),
    ("deribit", include_str!("../fixtures/synthetic_deribit.json")),
];

/// `(exchange, source, tardis symbol, key)`, sorted.
fn rows(exchange: &str, source: &str, catalog: &Catalog) -> Vec<String> {
    assert!(catalog.unparsed().is_empty(), "{exchange} {source}: {:?}", catalog.unparsed());
    catalog
        .records()
        .map(|record| {
            format!("{exchange}\t{source}\t{}\t{}", record.tardis_symbol, record.instrument_key)
        })
        .collect()
}

fn computed() -> Vec<String> {
    let mut table = Vec::new();
    for fixture in FIXTURES {
        let details = fixture.details();
        let with_key = Catalog::new(&details, Some(&fixture.instruments())).unwrap();
        table.extend(rows(fixture.exchange, "metadata", &with_key));
        let without_key = Catalog::new(&details, None).unwrap();
        table.extend(rows(fixture.exchange, "symbols", &without_key));
    }
    for (exchange, json) in SYNTHETIC {
        let details: ExchangeDetails =
            serde_json::from_str(&format!(r#"{{"id": "{exchange}"}}"#)).unwrap();
        let instruments: Vec<InstrumentInfo> = serde_json::from_str(json).unwrap();
        table.extend(rows(
            &format!("synthetic-{exchange}"),
            "metadata",
            &Catalog::new(&details, Some(&instruments)).unwrap(),
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
            "keys differ from tests/fixtures/golden_keys.tsv; computed table:\n{}",
            computed.join("\n")
        );
    }
}
