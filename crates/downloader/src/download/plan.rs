//! The plan: every unit of work (one dataset file) for a date range, in a deterministic order, each with its
//! object name and shard.
//!
//! A plan is a pure function of the stored instrument definitions and the download configuration: the same inputs
//! give the same units in the same order, with the same shards, on every machine (no process-seeded hashing).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use md_config::{
    DataType, DateRange, DownloadConfig, InstrumentType, ObjectFields, OutputFormat, ShardingConfig,
};
use serde::Serialize;
use tardis_client::wire::IncidentReport;

use super::days::RunDays;
use super::freshness::{Exports, Freshness};
use super::split;
use crate::definitions::Coverage;
use crate::error::Error;

/// One downloadable symbol of one day, as read from the stored definitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInstrument {
    /// Canonical key (`DERIBIT:PERP:BTC-USD`), or the grouped object key for grouped files.
    pub instrument_key: String,
    /// Tardis exchange id (`deribit`).
    pub exchange: String,
    /// Instrument type (of the group's instruments, for a grouped file).
    pub instrument_type: InstrumentType,
    /// Dataset id used in download URLs (`BTC-PERPETUAL`, `OPTIONS`).
    pub symbol: String,
    /// Data types Tardis has for this symbol (those this version knows; others cannot be planned).
    pub data_types: Vec<DataType>,
    /// Whether this is a grouped file (`OPTIONS`, `PERPETUALS`, ...) rather than one instrument.
    pub grouped: bool,
}

/// Everything downloadable on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayInstruments {
    /// Real instruments.
    pub instruments: Vec<PlanInstrument>,
    /// Grouped dataset files (`OPTIONS`, ...).
    pub grouped: Vec<PlanInstrument>,
    /// The exchanges the day's definitions cover, as the file records them; `None` for a file written before md
    /// recorded it, which covers the exchanges of its rows.
    pub coverage: Option<Coverage>,
}

impl DayInstruments {
    /// Returns whether the day's definitions cover `exchange`: it is in the recorded coverage (an `md-cli
    /// instruments` run fetched it, even if it had no instrument that day), or, for a file that records none, it
    /// has a row (an instrument or a grouped file).
    pub fn covers(&self, exchange: &str) -> bool {
        match &self.coverage {
            Some(coverage) => coverage.covers(exchange),
            None => self.instruments.iter().chain(&self.grouped).any(|i| i.exchange == exchange),
        }
    }
}

/// One unit of work: one dataset file and the object it becomes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// UTC day.
    pub date: NaiveDate,
    /// Tardis exchange id.
    pub exchange: String,
    /// Data type.
    pub data_type: DataType,
    /// Dataset id in the download URL.
    pub symbol: String,
    /// Canonical instrument key (or grouped object key).
    pub instrument_key: String,
    /// Instrument type (serialised in the Tardis spelling, `perpetual`).
    pub instrument_type: InstrumentType,
    /// Whether the file is a grouped one.
    pub grouped: bool,
    /// The objects the unit is stored as, one per output format (`MD_OUTPUT_FORMAT`), in format order (raw
    /// first); names relative to the sink's root. Never empty.
    pub objects: Vec<UnitObject>,
    /// The shard that owns the unit; `None` when `INSTRUMENTS_PER_SHARD` leaves it to no shard, and for a unit
    /// not yet exported.
    pub shard: Option<u32>,
    /// The incident Tardis reports on the unit's day for its exchange, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<IncidentReport>,
}

/// One object a unit is stored as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitObject {
    /// The format it is stored in.
    pub format: OutputFormat,
    /// Object name, relative to the sink's root.
    pub name: String,
}

impl Unit {
    /// Returns the name of the unit's first object (its only one unless it is stored in several formats).
    pub fn object(&self) -> &str {
        &self.objects[0].name
    }

    /// Returns the object names, in format order.
    pub fn object_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.objects.iter().map(|object| object.name.as_str())
    }

    /// A stable identity, `date/exchange/data_type/symbol`, used for sharding and in reports.
    pub fn id(&self) -> String {
        format!("{}/{}/{}/{}", self.date, self.exchange, self.data_type, self.symbol)
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {} {}", self.date, self.exchange, self.data_type, self.symbol)
    }
}

/// A whole plan over every shard.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The days planned.
    pub range: DateRange,
    /// Every unit to download, in plan order.
    pub units: Vec<Unit>,
    /// Units of days Tardis has not exported yet for their exchange: not planned for download, not missing.
    pub not_yet_exported: Vec<Unit>,
    /// Days with no stored definitions that no selected exchange has exported yet (nothing to plan, nothing missing).
    pub days_not_exported: Vec<NaiveDate>,
    /// Each exchange's `exportedUntil` the plan was made against.
    pub exported_until: BTreeMap<String, DateTime<Utc>>,
    /// How the run resolved its days, when the caller did (recorded in the manifest).
    pub days: Option<RunDays>,
    /// Number of shards the plan was cut into.
    pub total_shards: u32,
    /// Units owned by no shard (only with `INSTRUMENTS_PER_SHARD` when the shards cannot hold every instrument).
    pub uncovered: usize,
}

impl Plan {
    /// Returns the units of one shard, in plan order.
    pub fn shard(&self, shard: u32) -> impl Iterator<Item = &Unit> + '_ {
        self.units.iter().filter(move |unit| unit.shard == Some(shard))
    }

    /// Returns the number of units per shard, indexed by shard.
    pub fn counts_per_shard(&self) -> Vec<usize> {
        let mut counts = vec![0; self.total_shards as usize];
        for shard in self.units.iter().filter_map(|unit| unit.shard) {
            counts[shard as usize] += 1;
        }
        counts
    }

    /// A fingerprint of the plan (units and shards), equal on every machine for equal plans.
    pub fn fingerprint(&self) -> String {
        let mut hash = Fnv1a::default();
        for unit in &self.units {
            hash.write(unit.id().as_bytes());
            for object in &unit.objects {
                hash.write(object.name.as_bytes());
            }
            hash.write(&unit.shard.map_or(u32::MAX, |shard| shard).to_le_bytes());
        }
        format!("{:016x}", hash.finish())
    }
}

/// Builds the plan for every day of `range` from the stored definitions of each day.
///
/// Filters by venue, instrument type and data type (each only where Tardis has that type for that symbol), keeps at
/// most `max_instruments` instruments per venue and day (in key order), and adds a grouped file (`OPTIONS`, ...) for
/// a data type only when no instrument of that group's type has the type itself (so `options_chain` comes from
/// `OPTIONS`, while `trades` come per instrument and are never downloaded twice). A unit of a day its exchange has
/// not exported yet (`freshness`) is set apart in [`Plan::not_yet_exported`]; a unit of a day inside an incident
/// carries it. Shards are dealt over the units to download only.
///
/// A selected venue (`download.venues`) a day's definitions do not cover (see [`DayInstruments::covers`]) is
/// missing definitions too, unless it has not exported that day yet.
///
/// # Errors
/// [`Error::MissingDefinitions`] naming the first and last of the days of the range absent from `days` that some
/// exchange has exported, and how many there are; when every day has definitions but some do not cover a selected
/// venue, the same error with those days and the venues (`exchanges`);
/// [`Error::ObjectCollision`] when the layout maps two units to one object.
pub fn build(
    days: &BTreeMap<NaiveDate, DayInstruments>,
    download: &DownloadConfig,
    range: DateRange,
    sharding: &ShardingConfig,
    freshness: &Freshness,
    definitions_object: impl Fn(NaiveDate) -> String,
) -> Result<Plan, Error> {
    let venue_wanted = |exchange: &str| {
        download.venues.is_empty() || download.venues.iter().any(|venue| venue == exchange)
    };
    let type_wanted = |instrument_type: InstrumentType| {
        download.instrument_types.is_empty() || download.instrument_types.contains(&instrument_type)
    };
    let mut units = Vec::new();
    let mut not_yet_exported = Vec::new();
    let mut days_not_exported = Vec::new();
    let mut missing = Vec::new();
    let mut uncovered: Vec<NaiveDate> = Vec::new();
    let mut uncovered_exchanges: BTreeSet<&str> = BTreeSet::new();
    for date in range.days() {
        let Some(day) = days.get(&date) else {
            // A day nothing is exported for yet has no definitions to plan from, and nothing is missing.
            let known: Vec<&Exports> = freshness
                .exchanges
                .iter()
                .filter(|(e, _)| venue_wanted(e))
                .map(|(_, x)| x)
                .collect();
            if !known.is_empty() && known.iter().all(|exports| !exports.has_exported(date)) {
                days_not_exported.push(date);
                continue;
            }
            missing.push(date);
            continue;
        };
        let not_covered: Vec<&str> = download
            .venues
            .iter()
            .map(String::as_str)
            .filter(|venue| !day.covers(venue) && freshness.of(venue).has_exported(date))
            .collect();
        if !not_covered.is_empty() {
            uncovered.push(date);
            uncovered_exchanges.extend(not_covered);
        }
        let exchanges: BTreeSet<&str> = day
            .instruments
            .iter()
            .chain(&day.grouped)
            .filter(|i| venue_wanted(&i.exchange) && type_wanted(i.instrument_type))
            .map(|i| i.exchange.as_str())
            .collect();
        for exchange in exchanges {
            let exports = freshness.of(exchange);
            let incident = exports.incident_on(date).cloned();
            let planned =
                if exports.has_exported(date) { &mut units } else { &mut not_yet_exported };
            let mut instruments: Vec<&PlanInstrument> = day
                .instruments
                .iter()
                .filter(|i| i.exchange == exchange && type_wanted(i.instrument_type))
                .collect();
            instruments.sort_by(|a, b| {
                (&a.instrument_key, &a.symbol).cmp(&(&b.instrument_key, &b.symbol))
            });
            instruments.dedup_by(|a, b| a.symbol == b.symbol);
            if let Some(max) = download.max_instruments {
                instruments.truncate(max.get());
            }
            // Data types some instrument of a given type has on its own: its group file would duplicate them.
            let covered: BTreeSet<(InstrumentType, DataType)> = day
                .instruments
                .iter()
                .filter(|i| i.exchange == exchange)
                .flat_map(|i| {
                    i.data_types.iter().map(move |data_type| (i.instrument_type, *data_type))
                })
                .collect();
            let mut grouped: Vec<&PlanInstrument> = day
                .grouped
                .iter()
                .filter(|group| group.exchange == exchange && type_wanted(group.instrument_type))
                .collect();
            grouped.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            for instrument in instruments {
                for &data_type in &download.data_types {
                    if instrument.data_types.contains(&data_type) {
                        planned.push(unit(date, instrument, data_type, download, &incident));
                    }
                }
            }
            for group in grouped {
                for &data_type in &download.data_types {
                    if group.data_types.contains(&data_type)
                        && !covered.contains(&(group.instrument_type, data_type))
                    {
                        planned.push(unit(date, group, data_type, download, &incident));
                    }
                }
            }
        }
    }
    // Every such day at once, so that one `md-cli instruments` run mends the range: days without definitions
    // first, then days whose definitions do not cover a selected venue.
    let uncovered_exchanges = uncovered_exchanges.into_iter().map(str::to_owned).collect();
    for (days, exchanges) in [(missing, Vec::new()), (uncovered, uncovered_exchanges)] {
        if let (Some(&date), Some(&last)) = (days.first(), days.last()) {
            let (days, object) = (days.len(), definitions_object(date));
            return Err(Error::MissingDefinitions { date, last, days, object, exchanges });
        }
    }
    check_collisions(&units)?;
    let uncovered = assign_shards(&mut units, sharding);
    Ok(Plan {
        range,
        units,
        not_yet_exported,
        days_not_exported,
        exported_until: freshness.exported_until(),
        days: None,
        total_shards: sharding.total_shards.get(),
        uncovered,
    })
}

fn unit(
    date: NaiveDate,
    instrument: &PlanInstrument,
    data_type: DataType,
    download: &DownloadConfig,
    incident: &Option<IncidentReport>,
) -> Unit {
    let mut unit = Unit {
        date,
        exchange: instrument.exchange.clone(),
        data_type,
        symbol: instrument.symbol.clone(),
        instrument_key: instrument.instrument_key.clone(),
        instrument_type: instrument.instrument_type,
        grouped: instrument.grouped,
        objects: Vec::with_capacity(download.output_formats.len()),
        shard: None,
        incident: incident.clone(),
    };
    unit.objects = download
        .output_formats
        .iter()
        .map(|format| {
            let name = download.layout.render(&ObjectFields {
                date,
                exchange: &unit.exchange,
                data_type,
                symbol: &unit.symbol,
                instrument_key: &unit.instrument_key,
                format,
            });
            // A split unit is stored when its part list is (docs/SCHEMAS.md "Split grouped options files").
            let name = if split::splits(download, unit.grouped, unit.instrument_type, format) {
                split::part_list_name(&name)
            } else {
                name
            };
            UnitObject { format, name }
        })
        .collect();
    unit
}

fn check_collisions(units: &[Unit]) -> Result<(), Error> {
    let mut seen: BTreeMap<&str, &Unit> = BTreeMap::new();
    for unit in units {
        for object in unit.object_names() {
            if let Some(first) = seen.insert(object, unit) {
                return Err(Error::ObjectCollision {
                    object: object.to_owned(),
                    first: first.id(),
                    second: unit.id(),
                });
            }
        }
    }
    Ok(())
}

/// Assigns shards; returns the number of units left to no shard.
///
/// Balanced mode (default): units are ranked by a fixed FNV-1a hash of their identity and dealt round-robin, so
/// shard sizes differ by at most one and large and small files spread evenly. `INSTRUMENTS_PER_SHARD = N`: the
/// distinct instruments of the plan, in key order, are cut into blocks of N; shard i takes block i with all its units.
fn assign_shards(units: &mut [Unit], sharding: &ShardingConfig) -> usize {
    let total = sharding.total_shards.get();
    match sharding.instruments_per_shard {
        None => {
            let mut order: Vec<(u64, String, usize)> = units
                .iter()
                .enumerate()
                .map(|(index, unit)| (fnv1a(unit.id().as_bytes()), unit.id(), index))
                .collect();
            order.sort();
            for (rank, (_, _, index)) in order.into_iter().enumerate() {
                units[index].shard = Some((rank % total as usize) as u32);
            }
            0
        }
        Some(per_shard) => {
            let instruments: BTreeSet<(String, String)> = units
                .iter()
                .map(|unit| (unit.exchange.clone(), unit.instrument_key.clone()))
                .collect();
            let block: BTreeMap<(String, String), usize> = instruments
                .into_iter()
                .enumerate()
                .map(|(index, instrument)| (instrument, index / per_shard.get()))
                .collect();
            let mut uncovered = 0;
            for unit in units.iter_mut() {
                let shard = block[&(unit.exchange.clone(), unit.instrument_key.clone())];
                unit.shard = u32::try_from(shard).ok().filter(|shard| *shard < total);
                uncovered += usize::from(unit.shard.is_none());
            }
            uncovered
        }
    }
}

/// FNV-1a, 64-bit, with the standard fixed constants: stable across processes, machines and releases.
#[derive(Debug)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::default();
    hash.write(bytes);
    hash.finish()
}
