//! `MD_SPLIT_GROUPED=underlying_expiry` through the binary: a grouped options file is stored as one Parquet object
//! per underlying × expiry and a part list (each part's name, rows, size and CRC32C); a rerun downloads nothing;
//! a deleted part makes `missing` report the unit, and the next download restores it.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{
    FROM, Stand, TO, TestEnv, args, dataset_requests, json_field, local_env, main_job_stand, ok,
    plan_of, selection, sink_path, small_files, write_definitions,
};
use downloader::download::summary::UnitLine;

/// The grouped options chain of deribit over the main job's days.
fn options_chain() -> Vec<&'static str> {
    selection([FROM, TO], "deribit", "option", "options_chain")
}

/// Rows of the served CSV by expected part key (`BTC-2OCT26-100000-C` is in `DERIBIT:OPTION:BTC-USD-261002:ALL`).
fn served_parts(stand: &Stand, unit: &UnitLine) -> BTreeMap<String, u64> {
    let served = stand.served_unit(unit);
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&served[..]), &mut csv)
        .unwrap();
    let mut parts = BTreeMap::new();
    for line in csv.lines().skip(1).filter(|line| !line.is_empty()) {
        let mut segments = line.split(',').nth(1).unwrap().split('-');
        let underlying = segments.next().unwrap();
        let expiry = chrono::NaiveDate::parse_from_str(segments.next().unwrap(), "%d%b%y").unwrap();
        let key = format!("DERIBIT:OPTION:{underlying}-USD-{}:ALL", expiry.format("%y%m%d"));
        *parts.entry(key).or_insert(0) += 1;
    }
    parts
}

/// Checks the unit's part list against the served file and the stored parts; returns the parts' names.
fn check_parts(stand: &Stand, env: &TestEnv, unit: &UnitLine) -> Vec<String> {
    assert!(unit.object.ends_with("DERIBIT:OPTION:ALL.parts.json"), "{}", unit.object);
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sink_path(env, &unit.object)).unwrap()).unwrap();
    let mut listed = BTreeMap::new();
    let mut names = Vec::new();
    for part in list["parts"].as_array().unwrap() {
        let (key, name) = (part["key"].as_str().unwrap(), part["name"].as_str().unwrap());
        assert!(name.contains(key), "{name} is named by its part key {key}");
        let bytes = std::fs::read(sink_path(env, name)).unwrap();
        assert_eq!(part["size"].as_u64(), Some(bytes.len() as u64), "{name}");
        assert_eq!(part["crc32c"].as_str().unwrap(), format!("{:08x}", crc32c::crc32c(&bytes)));
        let rows = parquet::file::reader::FileReader::metadata(
            &parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::from(bytes))
                .unwrap(),
        )
        .file_metadata()
        .num_rows();
        assert_eq!(part["rows"].as_u64(), Some(rows as u64), "{name}");
        listed.insert(key.to_owned(), rows as u64);
        names.push(name.to_owned());
    }
    assert_eq!(listed, served_parts(stand, unit), "{}: parts and their rows", unit.object);
    names
}

#[test]
fn a_split_unit_is_its_parts_and_part_list_resumed_and_restored() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand)
        .var("MD_OUTPUT_FORMAT", "parquet")
        .var("MD_SPLIT_GROUPED", "underlying_expiry")
        .var("MD_SPLIT_OPEN_PARTS", "2");
    write_definitions(&env);
    let selection = options_chain();
    let units = plan_of(&env, &selection);
    let grouped: Vec<&UnitLine> = units.iter().filter(|unit| unit.symbol == "OPTIONS").collect();
    assert_eq!(grouped.len(), 2, "one grouped options chain a day: {units:?}");
    ok(env.run(&args("download", &selection)));
    let parts: Vec<Vec<String>> =
        grouped.iter().map(|unit| check_parts(&stand, &env, unit)).collect();
    assert!(parts.iter().all(|names| names.len() > 2), "{parts:?}");

    stand.stub.reset_counters();
    ok(env.run(&args("download", &selection)));
    assert_eq!(dataset_requests(&stand), 0, "a rerun downloads nothing");

    std::fs::remove_file(sink_path(&env, &parts[0][1])).unwrap();
    let report = ok(env.run(&args("missing", &[&selection[..], &["--json"]].concat())));
    let reported = json_field(&report.stdout, "object");
    assert_eq!(reported, BTreeSet::from([grouped[0].object.clone()]));

    stand.stub.reset_counters();
    ok(env.run(&args("download", &selection)));
    assert_eq!(dataset_requests(&stand), 1, "only the unit of the deleted part");
    assert_eq!(check_parts(&stand, &env, grouped[0]), parts[0]);
    let report = ok(env.run(&args("missing", &[&selection[..], &["--json"]].concat())));
    assert_eq!(report.stdout.trim(), "", "nothing is missing once restored");
}
