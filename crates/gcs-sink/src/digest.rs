//! Size and CRC32C of an object: computed while streaming, recorded with the object, compared on verification.
//!
//! The record is two custom-metadata keys, [`META_SIZE`] and [`META_CRC32C`] (on GCS the headers
//! `x-goog-meta-md-size` and `x-goog-meta-md-crc32c`, on S3 `x-amz-meta-...`), or, where the store cannot carry
//! them, a sidecar object holding the same two values plus the ETag of the object they describe (see
//! [`crate::names`]).

use std::fmt;

use object_store::{Attribute, AttributeValue, Attributes};

/// Custom-metadata key holding the object's size in bytes (decimal).
pub const META_SIZE: &str = "md-size";
/// Custom-metadata key holding the object's CRC32C (Castagnoli), as 8 lowercase hex digits.
pub const META_CRC32C: &str = "md-crc32c";

/// The size and CRC32C of an object's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Digest {
    /// Size in bytes.
    pub size: u64,
    /// CRC32C (Castagnoli) of the bytes.
    pub crc32c: u32,
}

impl Digest {
    /// Returns the digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Hasher::default();
        hasher.update(bytes);
        hasher.finish()
    }

    /// Returns the CRC32C as 8 lowercase hex digits, as recorded in metadata.
    pub fn crc32c_hex(&self) -> String {
        format!("{:08x}", self.crc32c)
    }

    /// Returns the custom-metadata attributes that record this digest.
    pub(crate) fn to_attributes(self) -> Attributes {
        let mut attributes = Attributes::with_capacity(2);
        attributes.insert(
            Attribute::Metadata(META_SIZE.into()),
            AttributeValue::from(self.size.to_string()),
        );
        attributes.insert(
            Attribute::Metadata(META_CRC32C.into()),
            AttributeValue::from(self.crc32c_hex()),
        );
        attributes
    }

    /// Reads a digest from custom-metadata attributes: `Ok(None)` when neither key is present.
    pub(crate) fn from_attributes(attributes: &Attributes) -> Result<Option<Self>, String> {
        let size = attributes.get(&Attribute::Metadata(META_SIZE.into()));
        let crc = attributes.get(&Attribute::Metadata(META_CRC32C.into()));
        match (size, crc) {
            (None, None) => Ok(None),
            (Some(size), Some(crc)) => Ok(Some(Digest::parse(size, crc)?)),
            _ => Err(format!("only one of {META_SIZE} and {META_CRC32C} is present")),
        }
    }

    pub(crate) fn parse(size: &str, crc32c: &str) -> Result<Self, String> {
        let size =
            size.trim().parse().map_err(|_| format!("{META_SIZE} {size:?} is not a size"))?;
        let crc = crc32c.trim();
        if crc.len() != 8 {
            return Err(format!("{META_CRC32C} {crc32c:?} is not 8 hex digits"));
        }
        let crc32c = u32::from_str_radix(crc, 16)
            .map_err(|_| format!("{META_CRC32C} {crc32c:?} is not 8 hex digits"))?;
        Ok(Digest { size, crc32c })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "size {} crc32c {:08x}", self.size, self.crc32c)
    }
}

/// Computes a [`Digest`] incrementally.
#[derive(Debug, Clone, Default)]
pub struct Hasher {
    size: u64,
    crc32c: u32,
}

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.crc32c = crc32c::crc32c_append(self.crc32c, bytes);
        self.size += bytes.len() as u64;
    }

    /// Returns the digest of everything added so far.
    pub fn finish(&self) -> Digest {
        Digest { size: self.size, crc32c: self.crc32c }
    }
}

/// Custom-metadata-style key of a sidecar naming how an object md did not write was checked before md adopted it
/// ([`crate::ObjectSink::record_adopted`]); a record with it may lack [`META_CRC32C`] (a check that read only part of
/// the object).
pub const META_CHECKED: &str = "md-checked";

/// The sidecar record: the size and CRC32C plus the identity of the object it describes (its ETag; on local disks
/// its inode, which survives in-place corruption but not a rewrite), so a stale record (the object was replaced or
/// written by someone else after it) is recognised and ignored. An adoption record also says how the object was
/// checked, and has no CRC32C when the check did not read the whole object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SidecarRecord {
    pub(crate) size: u64,
    pub(crate) crc32c: Option<u32>,
    pub(crate) identity: String,
    pub(crate) checked: Option<String>,
}

impl SidecarRecord {
    /// The record of an object md wrote (or read whole): its full digest.
    pub(crate) fn of_digest(digest: Digest, identity: String) -> Self {
        SidecarRecord { size: digest.size, crc32c: Some(digest.crc32c), identity, checked: None }
    }

    /// The full digest, when the record has a CRC32C.
    pub(crate) fn digest(&self) -> Option<Digest> {
        self.crc32c.map(|crc32c| Digest { size: self.size, crc32c })
    }

    pub(crate) fn encode(&self) -> String {
        let mut text = format!("{META_SIZE}={}\n", self.size);
        if let Some(crc32c) = self.crc32c {
            text.push_str(&format!("{META_CRC32C}={crc32c:08x}\n"));
        }
        text.push_str(&format!("identity={}\n", self.identity));
        if let Some(checked) = &self.checked {
            text.push_str(&format!("{META_CHECKED}={checked}\n"));
        }
        text
    }

    pub(crate) fn decode(text: &str) -> Result<Self, String> {
        let (mut size, mut crc, mut identity, mut checked) = (None, None, None, None);
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let (key, value) =
                line.split_once('=').ok_or_else(|| format!("sidecar line {line:?} has no '='"))?;
            match key {
                META_SIZE => size = Some(value),
                META_CRC32C => crc = Some(value),
                "identity" => identity = Some(value.to_owned()),
                META_CHECKED if !value.trim().is_empty() => checked = Some(value.trim().to_owned()),
                _ => return Err(format!("unknown sidecar key {key:?}")),
            }
        }
        let (Some(size), Some(identity)) = (size, identity) else {
            return Err(format!("sidecar needs {META_SIZE}, {META_CRC32C} and identity"));
        };
        let crc32c = match (crc, &checked) {
            (Some(crc), _) => Some(Digest::parse(size, crc)?.crc32c),
            (None, Some(_)) => None,
            (None, None) => {
                return Err(format!("sidecar needs {META_SIZE}, {META_CRC32C} and identity"));
            }
        };
        let size =
            size.trim().parse().map_err(|_| format!("{META_SIZE} {size:?} is not a size"))?;
        Ok(SidecarRecord { size, crc32c, identity, checked })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // RFC 3720 B.4 / the CRC catalogue's check value for CRC-32C.
        assert_eq!(Digest::of(b"123456789"), Digest { size: 9, crc32c: 0xe306_9283 });
    }

    #[test]
    fn incremental_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut hasher = Hasher::default();
        for chunk in data.chunks(333) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finish(), Digest::of(&data));
    }

    #[test]
    fn attributes_round_trip() {
        let digest = Digest { size: 42, crc32c: 0x00ab_cdef };
        assert_eq!(Digest::from_attributes(&digest.to_attributes()), Ok(Some(digest)));
        assert_eq!(Digest::from_attributes(&Attributes::new()), Ok(None));
    }

    #[test]
    fn sidecar_round_trips_and_rejects_garbage() {
        let record = SidecarRecord::of_digest(Digest { size: 7, crc32c: 1 }, "\"abc\"".into());
        assert_eq!(SidecarRecord::decode(&record.encode()), Ok(record));
        // An adoption record without a CRC32C (a footer-only check), and one with it (a whole read).
        for crc32c in [None, Some(0xdead_beef)] {
            let adopted = SidecarRecord {
                size: 9,
                crc32c,
                identity: "inode:7".into(),
                checked: Some("parquet-footer".into()),
            };
            assert_eq!(SidecarRecord::decode(&adopted.encode()), Ok(adopted));
        }
        assert!(SidecarRecord::decode("md-size=1\n").is_err());
        assert!(SidecarRecord::decode("md-size=1\nidentity=e\n").is_err(), "no CRC32C, no check");
        assert!(SidecarRecord::decode("md-size=x\nmd-crc32c=00000000\nidentity=e\n").is_err());
        assert!(SidecarRecord::decode("md-size=1\nmd-crc32c=zz\nidentity=e\n").is_err());
    }
}
