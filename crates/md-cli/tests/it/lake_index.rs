//! The lake index through the binary: four shard processes against one stand-in and one sink each write their own
//! part of every (data type, day), and the union of a day's parts lists exactly the tick objects stored that day; a
//! rerun that downloads nothing keeps the index equal.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use downloader::download::UnitStatus;
use downloader::download::index::{self, IndexRow};
use downloader::download::summary::UnitLine;

use crate::support::{
    SELECTION, TestEnv, args, dataset_requests, files_under, run_shards, sharded_job, sink_path,
    stored_data_files,
};

const SHARDS: u32 = 4;

/// Runs the four shards of `download` at once, each of which must exit 0.
fn download_shards(env: &TestEnv) {
    for (shard, output) in run_shards(env, &args("download", SELECTION), SHARDS).iter().enumerate()
    {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "shard {shard}: {stderr}");
    }
}

/// Every part under the index prefix, by its object name, decoded.
fn parts(env: &TestEnv) -> BTreeMap<String, Vec<IndexRow>> {
    let root = env.dir.path().join("sink");
    files_under(&root, &root.join(index::INDEX_PREFIX))
        .into_iter()
        .map(|name| {
            let body = std::fs::read(root.join(&name)).unwrap();
            let rows = index::decode(&name, body.into()).unwrap_or_else(|error| panic!("{error}"));
            (name, rows)
        })
        .collect()
}

#[test]
fn four_shards_write_one_part_each_and_the_parts_list_exactly_the_stored_objects() {
    let (stand, env, units) = sharded_job(SHARDS);
    download_shards(&env);

    let mut pairs: BTreeMap<(String, NaiveDate), Vec<&UnitLine>> = BTreeMap::new();
    for unit in &units {
        pairs.entry((unit.data_type.clone(), unit.date)).or_default().push(unit);
    }
    let parts = parts(&env);
    let expected_names: BTreeSet<String> = pairs
        .keys()
        .flat_map(|(data_type, date)| {
            let data_type = data_type.parse().unwrap();
            (0..SHARDS).map(move |shard| index::index_object(data_type, *date, shard, SHARDS))
        })
        .collect();
    assert_eq!(
        parts.keys().cloned().collect::<BTreeSet<_>>(),
        expected_names,
        "4 parts per data type and day"
    );

    let mut listed: BTreeMap<String, usize> = BTreeMap::new();
    for (name, rows) in &parts {
        let shard: u32 =
            name.rsplit_once("/part-").unwrap().1.split_once("-of-").unwrap().0.parse().unwrap();
        for row in rows {
            let unit = units
                .iter()
                .find(|unit| Some(unit.object.as_str()) == row.path())
                .unwrap_or_else(|| panic!("{name}: {row:?} is not a planned, stored object"));
            assert_eq!(unit.shard, Some(shard), "{name} lists only its shard's units");
            assert_eq!(
                (unit.data_type.as_str(), unit.date),
                (row.file.data_type.as_str(), row.file.date)
            );
            assert_eq!(row.status, UnitStatus::StoredVerified);
            let stored = std::fs::read(sink_path(&env, &unit.object)).unwrap();
            let bytes = row.stored.as_ref().map(|object| object.record.size);
            assert_eq!(bytes, Some(stored.len() as u64), "{row:?}");
            *listed.entry(unit.object.clone()).or_default() += 1;
        }
    }
    assert!(listed.values().all(|count| *count == 1), "no object listed twice: {listed:?}");
    assert_eq!(
        listed.keys().cloned().collect::<BTreeSet<_>>(),
        stored_data_files(&env.dir.path().join("sink")),
        "the parts together list exactly the stored tick objects"
    );
    for ((data_type, date), day_units) in &pairs {
        let day: BTreeSet<&str> = parts
            .iter()
            .filter(|(name, _)| {
                name.starts_with(&format!(
                    "{}/data_type={data_type}/date={date}/",
                    index::INDEX_PREFIX
                ))
            })
            .flat_map(|(_, rows)| rows.iter().filter_map(IndexRow::path))
            .collect();
        let planned: BTreeSet<&str> = day_units.iter().map(|unit| unit.object.as_str()).collect();
        assert_eq!(day, planned, "{data_type} {date}");
    }

    stand.stub.reset_counters();
    download_shards(&env);
    assert_eq!(dataset_requests(&stand), 0, "the rerun downloads nothing");
    assert_eq!(self::parts(&env), parts, "the rerun keeps the index equal");
}
