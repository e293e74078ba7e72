//! The characters and lengths each component of a key may have, and the canonical spellings of assets and venues.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
/// For each byte, a bit per [`Component`] that may hold it (letters in either case: components are upper-cased).
pub(super) const ALLOWED: [u8; 256] = {
    const VENUE: u8 = 1 << Component::Venue as u8;
    const ASSET: u8 = 1 << Component::Asset as u8;
    const LEGS: u8 = 1 << Component::Legs as u8;
    const VARIANT: u8 = 1 << Component::Variant as u8;
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = if b.is_ascii_alphanumeric() || b == b'_' {
            VENUE | ASSET | LEGS | VARIANT
        } else if b == b'-' {
            VENUE | VARIANT
        } else if b == b'.' {
            ASSET | LEGS | VARIANT
        } else {
            0
        };
        byte += 1;
    }
    table
};

/// What a component may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Component {
    Venue,
    Asset,
    Legs,
    Variant,
}

impl Component {
    fn max_len(self) -> usize {
        match self {
            Component::Venue => MAX_VENUE_LEN,
            Component::Asset => MAX_ASSET_LEN,
            Component::Legs => MAX_LEGS_LEN,
            Component::Variant => MAX_VARIANT_LEN,
        }
    }

    /// Bit `self as u8` of `ALLOWED[byte]` says whether the byte (either case) may appear.
    fn allows(self, byte: u8) -> bool {
        ALLOWED[usize::from(byte)] & (1 << self as u8) != 0
    }

    fn rule(self) -> &'static str {
        match self {
            Component::Venue => {
                "a venue is a Tardis exchange id: 1 to 64 characters from A-Z 0-9 - _"
            }
            Component::Asset => "an asset code has 1 to 40 characters from A-Z 0-9 _ .",
            Component::Legs => "combo legs have 1 to 120 characters from A-Z 0-9 _ .",
            Component::Variant => "a variant has 1 to 120 characters from A-Z 0-9 _ . -",
        }
    }
}

/// Appends the canonical venue of `raw` (upper-cased, historical spellings renamed) to `out` if it is valid.
pub(super) fn push_venue(out: &mut String, raw: &str) -> Result<()> {
    let start = out.len();
    push_component(out, raw, Component::Venue)?;
    if let Some(renamed) = renamed_venue(&out[start..]) {
        out.truncate(start);
        out.push_str(&renamed);
    }
    Ok(())
}

/// Appends `raw`, upper-cased, to `out` if it is a valid `component`.
pub(super) fn push_component(out: &mut String, raw: &str, component: Component) -> Result<()> {
    let valid = !raw.is_empty()
        && raw.len() <= component.max_len()
        && raw != "."
        && raw != ".."
        && raw.bytes().all(|b| component.allows(b));
    if !valid {
        return Err(invalid_key(raw, component.rule()));
    }
    let start = out.len();
    out.push_str(raw);
    out.as_mut_str()[start..].make_ascii_uppercase();
    Ok(())
}

/// Returns the canonical spelling of an asset code: upper case, characters `A-Z 0-9 _ .`, 1 to 40 of them.
/// Idempotent: `canonical_asset(canonical_asset(x)?) == canonical_asset(x)`.
///
/// # Errors
/// Fails on empty or over-long codes, on `.` and `..`, and on any other character (non-ASCII, `-`, `/`, `:`,
/// spaces...): such a code is reported, never rewritten into a guess.
pub fn canonical_asset(raw: &str) -> Result<String> {
    let mut asset = String::with_capacity(raw.len());
    push_component(&mut asset, raw, Component::Asset)?;
    Ok(asset)
}

/// Returns the canonical venue of a Tardis exchange id: upper case, characters `A-Z 0-9 - _`, with the OKX
/// exchanges under their current name (`okex` is `OKX`, `okex-swap` is `OKX-SWAP`). Idempotent.
///
/// # Errors
/// Fails on empty or over-long ids and on any other character.
pub fn canonical_venue(raw: &str) -> Result<String> {
    let mut venue = String::with_capacity(raw.len());
    push_venue(&mut venue, raw)?;
    Ok(venue)
}

/// Returns whether `text` can be used as one component of a GCS object name: 1 to 1024 bytes of UTF-8, no `/`,
/// no control characters (so no CR or LF), not `.` or `..`, and none of the characters GCS advises against
/// (`#`, `[`, `]`, `*`, `?`).
pub fn is_valid_object_component(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 1024
        && text != "."
        && text != ".."
        && !text.chars().any(|c| c.is_control() || matches!(c, '/' | '#' | '[' | ']' | '*' | '?'))
}

/// The three `:`-separated parts of a key or group key (`VENUE`, `INSTRUMENT_TYPE`, `SYMBOL`); `None` for any other
/// number of parts.
pub(super) fn three_parts(text: &str) -> Option<(&str, &str, &str)> {
    let mut fields = text.split(':');
    match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some(venue), Some(kind), Some(symbol), None) => Some((venue, kind, symbol)),
        _ => None,
    }
}
