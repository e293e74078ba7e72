//! Settings the original system parsed but never applied, and md applies: the sharding variables (`SHARD_INDEX`,
//! `TOTAL_SHARDS`, `INSTRUMENTS_PER_SHARD`) and `DOWNLOAD_MAX_INSTRUMENTS`. Its `env.example`, which its run
//! script copies to `.env`, sets all four, so a migrated `.env` makes md download 1/30 of the plan, 10 instruments
//! per venue and day. `doctor` points them out, and a run whose shard settings come from a file says what share of
//! the plan it did, at its start and in its summary.

use super::plan::Plan;
use md_config::{Loaded, Setting, ShardingConfig, Source, Var};

/// The variables the original ignored and md applies.
const APPLIED: [Var; 4] =
    [Var::ShardIndex, Var::TotalShards, Var::InstrumentsPerShard, Var::DownloadMaxInstruments];

fn setting(loaded: &Loaded, var: Var) -> Option<&Setting> {
    loaded.settings.iter().find(|setting| setting.name == var.name() && setting.value.is_some())
}

/// Where a setting came from, as `doctor` says it: `.env (/path/.env)`, `env`, `file (/path/config.yaml)`.
fn source(setting: &Setting) -> String {
    match (&setting.origin, setting.source) {
        (Some(origin), Source::DotEnv | Source::File) => format!("{} ({origin})", setting.source),
        _ => setting.source.to_string(),
    }
}

/// The shard settings a file (`.env` or YAML) gave, with the files: `SHARD_INDEX=0, TOTAL_SHARDS=30 from .env
/// (/srv/md/.env)`; `None` when no file set any.
pub fn shard_settings_from_files(loaded: &Loaded) -> Option<String> {
    let from_files: Vec<&Setting> = APPLIED[..3]
        .iter()
        .filter_map(|&var| setting(loaded, var))
        .filter(|setting| matches!(setting.source, Source::DotEnv | Source::File))
        .collect();
    let first = from_files.first()?;
    let values: Vec<String> = from_files
        .iter()
        .map(|setting| format!("{}={}", setting.name, setting.value.as_deref().unwrap_or_default()))
        .collect();
    Some(format!("{} from {}", values.join(", "), source(first)))
}

/// What share of `plan` this shard takes: `shard 0 of 30: 1/30 of the plan (12 of 360 units)`, or with
/// `INSTRUMENTS_PER_SHARD`, the instruments it takes.
pub fn describe(plan: &Plan, sharding: &ShardingConfig) -> String {
    let index = sharding.shard_index;
    let total = sharding.total_shards.get();
    let mine = plan.units.iter().filter(|unit| unit.shard == Some(index)).count();
    let units = format!("{mine} of {} units", plan.units.len());
    match sharding.instruments_per_shard {
        None => format!("shard {index} of {total}: 1/{total} of the plan ({units})"),
        Some(per_shard) => {
            let first = index as usize * per_shard.get() + 1;
            let last = first + per_shard.get() - 1;
            let uncovered = if plan.uncovered > 0 {
                format!("; {} units belong to no shard", plan.uncovered)
            } else {
                String::new()
            };
            format!(
                "shard {index} of {total} with INSTRUMENTS_PER_SHARD={per_shard}: instruments {first} to {last} of the plan's list, {units}{uncovered}"
            )
        }
    }
}

/// One sentence per variable the original ignored and md applies, set by anything but md's own flags: the
/// variable, its value and source, and what md does with it (`SHARD_INDEX` and `TOTAL_SHARDS` share one). Empty when
/// none is set.
pub fn applied_settings(loaded: &Loaded) -> Vec<String> {
    let sharding = &loaded.config.sharding;
    // md's own flags mean what they say; engine-set shards are a fleet's.
    let set = |var: Var| {
        setting(loaded, var).filter(|setting| {
            !matches!(setting.source, Source::Flag | Source::Engine | Source::Default)
        })
    };
    let given = |setting: &Setting| {
        format!(
            "{}={} from {}",
            setting.name,
            setting.value.as_deref().unwrap_or_default(),
            source(setting)
        )
    };
    let mut sentences = Vec::new();
    let shards: Vec<String> =
        [Var::ShardIndex, Var::TotalShards].into_iter().filter_map(set).map(given).collect();
    if !shards.is_empty() {
        let total = sharding.total_shards;
        sentences.push(format!(
            "{}: md downloads only shard {} of {total}, 1/{total} of the plan",
            shards.join(" and "),
            sharding.shard_index
        ));
    }
    if let Some(setting) = set(Var::InstrumentsPerShard) {
        let per_shard = sharding.instruments_per_shard.map_or(0, |n| n.get());
        let total = sharding.total_shards.get();
        sentences.push(format!(
            "{}: md gives each shard {per_shard} instruments of the plan's list, so {total} shard(s) cover {} instruments and the rest belong to no shard",
            given(setting),
            total as usize * per_shard
        ));
    }
    if let Some(setting) = set(Var::DownloadMaxInstruments) {
        sentences.push(format!(
            "{}: md downloads at most {} instruments per venue and day",
            given(setting),
            setting.value.as_deref().unwrap_or_default()
        ));
    }
    sentences
}
