//! `md-cli sql`: the DuckDB views it prints, run in DuckDB (the PyPI package `cargo xtask test` installs into
//! `.venv`) over a hive lake md wrote from the stand-in, return exactly the rows of the raw CSVs, and a query for one
//! day of one data type opens only that partition's files; bad input exits 2 naming the culprit.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use crate::support::{
    FROM, SELECTION, TestEnv, args, files_under, json_lines, local_env, main_job_stand, ok,
    small_files,
};

/// The lake's layout: the hive preset.
const LAYOUT: &str = "hive";
/// The data types of [`SELECTION`].
const TYPES: &str = "trades,book_snapshot_5,options_chain";

/// Runs the views in DuckDB and compares them with the CSVs (see the script's docstring).
const CHECK: &str = include_str!("sql.py");

#[test]
#[allow(
    clippy::print_stderr,
    reason = "DuckDB's counts and profile, printed as the test's evidence"
)]
fn duckdb_views_return_the_csv_rows_and_read_only_the_days_partition() {
    let Some(python) =
        test_support::tools::python("the DuckDB lake suite (md-cli sql; duckdb from .venv)")
    else {
        return;
    };
    let stand = main_job_stand(small_files());
    let env = local_env(&stand).without("MD_OUTPUT_FORMAT").var("MD_LAYOUT", LAYOUT);
    ok(env.run(&args("pipeline", SELECTION)));
    let statements = ok(env.run(&["sql", "--engine", "duckdb", "--data-types", TYPES])).stdout;
    let dir = env.dir.path();
    let sink = dir.join("sink");
    assert!(
        statements.contains(&format!(
            "'{}/raw_tick_data/data_type=trades/*/*/*.parquet'",
            sink.display()
        )),
        "local absolute paths:\n{statements}"
    );

    // The raw CSVs, as the stand-in serves them, one directory per data type; the planned keys of each.
    let planned =
        json_lines(&ok(env.run(&args("plan", &[SELECTION, &["--json"]].concat()))).stdout);
    let mut keys: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    let (mut day_rows, mut worked_rows) = (0, 0);
    for (index, unit) in planned.iter().enumerate() {
        let field = |name: &str| unit[name].as_str().expect(name).to_owned();
        let (data_type, date) = (field("data_type"), field("date"));
        let served = stand.served(&field("exchange"), &data_type, &date, &field("symbol"));
        let csv_dir = dir.join("expected").join(&data_type);
        std::fs::create_dir_all(&csv_dir).unwrap();
        std::fs::write(csv_dir.join(format!("{index}.csv.gz")), &served).unwrap();
        if data_type == "trades" && date == FROM {
            day_rows += lines(&served);
            if field("exchange") == "binance-futures" && field("symbol") == "BTCUSDT" {
                worked_rows += lines(&served);
            }
        }
        keys.entry(data_type).or_default().insert(field("instrument_key"));
    }
    std::fs::write(dir.join("lake.sql"), &statements).unwrap();
    std::fs::write(dir.join("check.py"), CHECK).unwrap();
    std::fs::write(dir.join("worked.sql"), worked_query()).unwrap();
    let output = Command::new(&python)
        .args(["check.py", "lake.sql", "expected", FROM, TYPES, "worked.sql"])
        .current_dir(dir)
        .output()
        .expect("python runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}\n{stdout}");
    eprintln!("{stdout}");
    let results = json_lines(&stdout);
    assert_eq!(results.len(), TYPES.split(',').count() + 2, "{stdout}");

    for (result, data_type) in results.iter().zip(TYPES.split(',')) {
        assert_eq!(result["data_type"], data_type);
        let count = |name: &str| result[name].as_u64().expect(name);
        assert!(count("csv_rows") > 0, "{result}");
        assert_eq!(count("lake_rows"), count("csv_rows"), "the view has every CSV row: {result}");
        assert_eq!(count("only_in_lake"), 0, "no row the CSVs lack: {result}");
        assert_eq!(count("only_in_csv"), 0, "no CSV row missing: {result}");
        let seen: BTreeSet<String> =
            serde_json::from_value(result["instrument_keys"].clone()).expect("keys");
        if !seen.is_empty() {
            assert_eq!(seen, keys[data_type], "instrument_key of every planned unit: {result}");
        }
    }

    // The worked query of README and docs/LAKE.md: one day of one symbol's trades, each joined to its definition.
    let worked = &results[results.len() - 1];
    assert!(worked_rows > 0, "the stand-in serves binance-futures BTCUSDT trades on {FROM}");
    assert_eq!(
        worked["rows"], worked_rows,
        "every trade of the day, once, with its definition: {worked}"
    );
    assert_eq!(worked["instrument_types"], serde_json::json!(["PERPETUAL"]), "{worked}");

    // One day of trades: DuckDB's profile says how many files it read; the partition holds that many.
    let pruned = &results[results.len() - 2];
    let trades = sink.join("raw_tick_data/data_type=trades");
    let all = parquet_files(&sink, &trades);
    let day: BTreeSet<&String> =
        all.iter().filter(|file| file.contains(&format!("/date={FROM}/"))).collect();
    assert!(!day.is_empty() && day.len() < all.len(), "{all:?}");
    let scan = &pruned["scans"][0];
    let number = |value: &serde_json::Value| -> u64 {
        value.as_u64().or_else(|| value.as_str()?.trim().parse().ok()).expect("a number")
    };
    assert_eq!(
        number(&scan["Total Files Read"]),
        day.len() as u64,
        "DuckDB read only the {} files of date={FROM} (of {} trades files): {pruned}",
        day.len(),
        all.len()
    );
    assert_eq!(scan["Scanning Files"], format!("{}/{}", day.len(), all.len()), "{pruned}");
    assert_eq!(number(&pruned["rows"]), day_rows, "that day's CSV rows: {pruned}");
}

/// The worked query of docs/LAKE.md, which README shows too (the same text).
fn worked_query() -> String {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lake = std::fs::read_to_string(docs.join("docs/LAKE.md")).unwrap();
    let section = &lake[lake.find("## A worked query").expect("the section")..];
    let start = section.find("```sql\n").expect("a sql block") + "```sql\n".len();
    let query = &section[start..start + section[start..].find("```").unwrap()];
    let readme = std::fs::read_to_string(docs.join("README.md")).unwrap();
    assert!(readme.contains(query), "README shows docs/LAKE.md's worked query:\n{query}");
    query.to_owned()
}

/// Data lines (the header and empty lines aside) of a served `.csv.gz`.
fn lines(gz: &[u8]) -> u64 {
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(gz), &mut csv).unwrap();
    csv.lines().skip(1).filter(|line| !line.is_empty()).count() as u64
}

fn parquet_files(root: &Path, dir: &Path) -> BTreeSet<String> {
    files_under(root, dir).into_iter().filter(|file| file.ends_with(".parquet")).collect()
}

#[rstest::rstest]
#[case::default_layout(&[], &["sql", "--engine", "duckdb"], "MD_LAYOUT=raw_tick_data/by_date/")]
#[case::raw_only(&[("MD_LAYOUT", LAYOUT), ("MD_OUTPUT_FORMAT", "raw")], &["sql", "--engine", "duckdb"], "MD_OUTPUT_FORMAT=raw")]
#[case::bigquery_local(&[("MD_LAYOUT", LAYOUT)], &["sql", "--engine", "bigquery"], "is not gs://bucket[/prefix]; use --engine duckdb")]
#[case::memory(&[("MD_LAYOUT", LAYOUT), ("MD_SINK", "memory://")], &["sql", "--engine", "duckdb"], "MD_SINK=memory://")]
#[case::dataset(&[("MD_LAYOUT", LAYOUT), ("MD_SINK", "gs://md-lake")], &["sql", "--engine", "bigquery", "--dataset", "a-b"], "--dataset \"a-b\"")]
#[case::engine(&[], &["sql", "--engine", "spark"], "unknown engine \"spark\"")]
fn bad_input_exits_2_naming_it(
    #[case] vars: &[(&str, &str)],
    #[case] line: &[&str],
    #[case] message: &str,
) {
    let env = vars.iter().fold(TestEnv::new(), |env, (name, value)| env.var(name, value));
    let run = env.run(line);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(message), "{message:?} not in {}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing printed: {}", run.stdout);
}
