//! Names of grouped dataset files ([`GroupKey`], `VENUE:INSTRUMENT_TYPE:ALL`) and [`ObjectKey`], any name this
//! crate gives a dataset object.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
/// The object name of a grouped Tardis dataset file (`OPTIONS`, `PERPETUALS`, `FUTURES`, `SPOT`, `COMBOS`):
/// `VENUE:INSTRUMENT_TYPE:ALL`, for example `DERIBIT:OPTION:ALL`.
///
/// It can never equal an [`InstrumentKey`]: the SYMBOL of an instrument always holds a `-`, `ALL` does not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupKey {
    venue: String,
    instrument_type: InstrumentType,
}

impl GroupKey {
    /// Returns the key of the grouped file holding every instrument of `instrument_type` on `venue`.
    ///
    /// # Errors
    /// Fails when the venue is not a valid key venue.
    pub fn new(venue: &str, instrument_type: InstrumentType) -> Result<GroupKey> {
        Ok(GroupKey { venue: canonical_venue(venue)?, instrument_type })
    }

    /// Reads a group key: canonical text, or text with a historical spelling of its venue or type, which gives the
    /// canonical key (`BINANCE:PERP:ALL` reads as `BINANCE:PERPETUAL:ALL`).
    ///
    /// # Errors
    /// Fails on anything that is not `VENUE:INSTRUMENT_TYPE:ALL`.
    pub fn parse(text: &str) -> Result<GroupKey> {
        let Some((venue, kind, GROUP_SYMBOL)) = three_parts(text) else {
            return Err(invalid_key(text, "a group key is VENUE:INSTRUMENT_TYPE:ALL"));
        };
        let key = GroupKey::new(venue, key_type(kind)?)?;
        if !spells_venue(venue, &key.venue) {
            return Err(invalid_key(text, "not in canonical form (keys are upper case)"));
        }
        Ok(key)
    }

    /// Returns the other names under which a bucket written before may hold this grouped file
    /// (`BINANCE:PERPETUAL:ALL` gives `["BINANCE:PERP:ALL"]`), as [`InstrumentKey::historical_spellings`].
    pub fn historical_spellings(&self) -> Vec<String> {
        other_spellings(&self.venue, self.instrument_type, GROUP_SYMBOL)
    }

    /// Returns the venue.
    pub fn venue(&self) -> &str {
        &self.venue
    }

    /// Returns the instrument type the group holds.
    pub fn instrument_type(&self) -> InstrumentType {
        self.instrument_type
    }

    /// Returns the Tardis grouped dataset symbol (`OPTIONS`).
    pub fn tardis_group(&self) -> &'static str {
        self.instrument_type.tardis_group()
    }
}

impl fmt::Display for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{GROUP_SYMBOL}", self.venue, self.instrument_type.key_str())
    }
}

/// Returns the object name of a grouped Tardis dataset file: `grouped_object_key("deribit", "OPTIONS")` is
/// `DERIBIT:OPTION:ALL`.
///
/// # Errors
/// Fails on a group other than `OPTIONS`, `FUTURES`, `PERPETUALS`, `SPOT` and `COMBOS`, and on an invalid venue.
pub fn grouped_object_key(venue: &str, group: &str) -> Result<GroupKey> {
    let kind = InstrumentType::from_tardis_group(group)
        .ok_or_else(|| Error::UnknownGroup { group: group.to_owned() })?;
    GroupKey::new(venue, kind)
}

/// Any name this crate gives a dataset object: one instrument, or a grouped file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// One instrument.
    Instrument(InstrumentKey),
    /// A grouped file.
    Group(GroupKey),
}

impl ObjectKey {
    /// Reads either kind of key, accepting historical spellings as [`InstrumentKey::parse`] does.
    ///
    /// # Errors
    /// Fails when the text is neither an instrument key nor a group key.
    pub fn parse(text: &str) -> Result<ObjectKey> {
        if text.ends_with(":ALL") {
            GroupKey::parse(text).map(ObjectKey::Group)
        } else {
            InstrumentKey::parse(text).map(ObjectKey::Instrument)
        }
    }

    /// Returns the other names under which a bucket written before may hold this object's data (see
    /// [`InstrumentKey::historical_spellings`]).
    pub fn historical_spellings(&self) -> Vec<String> {
        match self {
            ObjectKey::Instrument(key) => key.historical_spellings(),
            ObjectKey::Group(key) => key.historical_spellings(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectKey::Instrument(key) => key.fmt(f),
            ObjectKey::Group(key) => key.fmt(f),
        }
    }
}
