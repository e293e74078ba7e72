//! How keys spell venues and instrument types, now and before: the OKEX -> OKX rename, the historical type
//! spellings (`PERP`, `SPOT_ASSET`), and every other spelling of one object name.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;

/// Reads the `INSTRUMENT_TYPE` part of a key: exactly a key spelling, now (`PERPETUAL`) or before (`PERP`,
/// `SPOT_ASSET`), nothing else.
pub(super) fn key_type(text: &str) -> Result<InstrumentType> {
    InstrumentType::from_any_key_str(text)
        .ok_or_else(|| invalid_key(text, "unknown instrument type"))
}

/// Venues renamed since keys were first written, as `(historical, canonical)` spellings: the system md replaces
/// names Tardis' OKX exchanges `OKX`, `OKX-FUTURES`, `OKX-SWAP` (its key specification's Venue enum), while md
/// once wrote the Tardis ids upper-cased (`OKEX`, `OKEX-SWAP`). A venue is renamed when it equals the historical
/// spelling or starts with it followed by `-`, so every Tardis `okex*` id follows one rule: `okex-options` is
/// `OKX-OPTIONS`, `okex-spreads` `OKX-SPREADS`. Tardis has no `okx*` ids, so no two exchanges share a venue.
pub(super) const VENUE_RENAMES: &[(&str, &str)] = &[("OKEX", "OKX")];

/// Renames an upper-cased venue spelt the historical way (`OKEX-SWAP` gives `OKX-SWAP`); `None` when it is not.
pub(super) fn renamed_venue(upper: &str) -> Option<String> {
    VENUE_RENAMES.iter().find_map(|(old, new)| {
        let rest = upper.strip_prefix(old)?;
        (rest.is_empty() || rest.starts_with('-')).then(|| format!("{new}{rest}"))
    })
}

/// Returns the historical spellings of a canonical venue (`OKX-SWAP` gives `OKEX-SWAP`); empty for most venues.
pub(super) fn historical_venues(canonical: &str) -> Vec<String> {
    VENUE_RENAMES
        .iter()
        .filter_map(|(old, new)| {
            let rest = canonical.strip_prefix(new)?;
            (rest.is_empty() || rest.starts_with('-')).then(|| format!("{old}{rest}"))
        })
        .collect()
}

/// Returns whether `text` is how a key spells the canonical venue `canonical`: exactly, or historically.
pub(super) fn spells_venue(text: &str, canonical: &str) -> bool {
    text == canonical || historical_venues(canonical).iter().any(|old| old == text)
}

/// Every `VENUE:TYPE:SYMBOL` spelling of one object name but the canonical one: the canonical venue and its
/// historical spellings, crossed with the type's key spelling and its historical ones, canonical first.
pub(super) fn other_spellings(venue: &str, kind: InstrumentType, symbol: &str) -> Vec<String> {
    let venues: Vec<String> =
        std::iter::once(venue.to_owned()).chain(historical_venues(venue)).collect();
    let kinds: Vec<&str> = std::iter::once(kind.key_str())
        .chain(kind.historical_key_spellings().iter().copied())
        .collect();
    let mut spellings = Vec::with_capacity(venues.len() * kinds.len() - 1);
    for (v, venue) in venues.iter().enumerate() {
        for (k, kind) in kinds.iter().enumerate() {
            if v + k > 0 {
                spellings.push(format!("{venue}:{kind}:{symbol}"));
            }
        }
    }
    spellings
}
