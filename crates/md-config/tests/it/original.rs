//! The original system's command line (`--mode download --start-date D ...`) translated into md's: the md command
//! line, the variables md has no flag for, the original's flag names in errors, and the modes md does not run.
//! md-cli's `original` tests run the same lines end to end.

use std::ffi::OsString;

use md_config::compat::{Refusal, is_original, translate};
use md_config::{LoadOptions, Override, Var};
use rstest::rstest;

fn args(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

#[rstest]
#[case::download(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-25 --venues deribit",
    true
)]
#[case::equals_and_global_first("-v --mode=instruments", true)]
#[case::mds_own("download --from 2024-01-02", false)]
#[case::a_value_named_mode("download --venues --mode", false)]
#[case::help("--help", false)]
fn the_form_is_recognised_by_mode_before_a_subcommand(#[case] line: &str, #[case] original: bool) {
    assert_eq!(is_original(&args(line)), original, "{line}");
}

#[rstest]
#[case::space_separated_lists(
    "--mode download --start-date 2023-05-23 --venues deribit BINANCE-FUTURES --data-types trades book_snapshot_5",
    "md-cli download --from 2023-05-23 --venues deribit,binance-futures --data-types trades,book_snapshot_5"
)]
#[case::venue_names_are_tardis_ids(
    "--mode instruments --start-date 2023-05-23 --venues OKX okx-swap,OKX-FUTURES -v",
    "md-cli -v instruments --from 2023-05-23 --exchanges okex,okex-swap,okex-futures"
)]
#[case::force_abbreviated(
    "--mode download --start-date 2023-05-23 --end-date 2023-05-25 --force",
    "md-cli download --from 2023-05-23 --to 2023-05-25 --force"
)]
#[case::pipeline_exchanges_from_venues(
    "--mode full-pipeline --start-date 2023-05-23 --venues deribit",
    "md-cli pipeline --from 2023-05-23 --exchanges deribit --venues deribit"
)]
#[case::files_and_globals(
    "--mode missing-reports --env-file a.env --config-file c.yaml --sink memory:// --force-download",
    "md-cli --env-file a.env --config c.yaml --sink memory:// missing"
)]
fn the_originals_line_becomes_mds(#[case] line: &str, #[case] md: &str) {
    let translation = translate(&args(line)).unwrap();
    assert_eq!(translation.argv.join(" "), md, "{line}");
    assert!(translation.notice.contains(&format!("runs as: {md}")), "{}", translation.notice);
}

#[test]
fn flags_md_lacks_become_variables_and_errors_name_the_originals_flags() {
    let translation = translate(&args(
        "--mode download --start-date 2023-05-23 --shard-index 1 --total-shards 4 --log-level DEBUG --max-workers 8",
    ))
    .unwrap();
    let md = Override { var: Var::DownloadStartDate, flag: "--from", value: "2023-05-23".into() };
    let options =
        translation.load_options(LoadOptions { overrides: vec![md], ..LoadOptions::default() });
    let flags: Vec<(&str, Var, &str)> =
        options.overrides.iter().map(|o| (o.flag, o.var, o.value.as_str())).collect();
    assert_eq!(
        flags,
        [
            ("--start-date", Var::DownloadStartDate, "2023-05-23"),
            ("--log-level", Var::LogLevel, "DEBUG"),
            ("--shard-index", Var::ShardIndex, "1"),
            ("--total-shards", Var::TotalShards, "4"),
        ]
    );
    for expected in ["with SHARD_INDEX=1 (--shard-index)", "ignored: --max-workers 8"] {
        assert!(translation.notice.contains(expected), "{}", translation.notice);
    }
}

#[rstest]
#[case::validate("validate", "md-cli missing --check")]
#[case::candles("candle-processing", "no md equivalent")]
#[case::unknown("sideways", "it is not one of the original's modes")]
fn modes_md_does_not_run_are_refused_naming_what_md_offers(
    #[case] mode: &str,
    #[case] expected: &str,
) {
    let refusal = translate(&args(&format!("--mode {mode} --start-date 2023-05-23"))).unwrap_err();
    let message = refusal.to_string();
    assert!(matches!(refusal, Refusal::Mode { .. }), "{refusal:?}");
    assert!(message.starts_with(&format!("--mode {mode} is not run by md: ")), "{message}");
    assert!(message.contains(expected), "{message}");
    assert!(message.ends_with("download (md-cli download), full-pipeline (md-cli pipeline), missing-reports (md-cli missing)"), "{message}");
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    assert!(matches!(translate(&args("--mode download --vneues deribit")), Err(Refusal::Parse(_))));
}
