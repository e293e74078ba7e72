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
            format!("{exchange}\t{source}\t{}\t{}", record.tardis_symbol, record.instrument_key)
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
