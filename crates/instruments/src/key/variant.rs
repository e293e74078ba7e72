//! The variant segment of a key (`~TAG`): [`variant_tag`] from a Tardis dataset symbol, with the FNV-1a-32 hash
//! that keeps tags apart (part of the stored keys: never to change).

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
/// FNV-1a, 32 bits, with its published constants (offset basis 0x811c9dc5, prime 0x01000193): a fixed hash that
/// gives the same value on every run and machine, unlike `std`'s randomly seeded hashers.
pub(crate) fn fnv1a_32(bytes: &[u8]) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in bytes {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// Returns the variant segment for an instrument: its Tardis dataset symbol, upper case, with every character
/// outside `A-Z 0-9 _ . -` replaced by `_`; when anything was replaced (or the symbol is over 100 characters), the
/// 8 upper-case hex digits of FNV-1a-32 of the original symbol follow after a `.`, so two symbols never share a
/// variant by accident.
pub fn variant_tag(tardis_symbol: &str) -> String {
    let upper = tardis_symbol.to_ascii_uppercase();
    let mut changed = false;
    let mut tag: String = upper
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                changed = true;
                '_'
            }
        })
        .collect();
    if tag.len() > 100 {
        tag.truncate(100);
        changed = true;
    }
    if changed || tag.is_empty() || tag == "." || tag == ".." {
        let _ = write!(tag, ".{:08X}", fnv1a_32(tardis_symbol.as_bytes()));
    }
    tag
}
