//! Planning: filters, grouped files, object names, and deterministic, balanced sharding.

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU32, NonZeroUsize};

use chrono::NaiveDate;
use downloader::Error;
use downloader::definitions::{Coverage, DefinitionsSource};
use downloader::download::Freshness;
use downloader::download::plan::{self, DayInstruments, Plan, PlanInstrument};
use md_config::{
    DataType, DateRange, DateSpan, DaySpec, DownloadConfig, InstrumentType, OutputFormats,
    ShardingConfig,
};
use rstest::rstest;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, d).unwrap()
}

fn instrument(
    exchange: &str,
    key: &str,
    kind: &str,
    symbol: &str,
    types: &[&str],
) -> PlanInstrument {
    PlanInstrument {
        instrument_key: key.into(),
        exchange: exchange.into(),
        instrument_type: kind.parse().unwrap(),
        symbol: symbol.into(),
        data_types: types.iter().map(|t| t.parse().unwrap()).collect(),
        grouped: false,
    }
}

fn group(exchange: &str, kind: &str, symbol: &str, types: &[&str]) -> PlanInstrument {
    PlanInstrument {
        grouped: true,
        ..instrument(
            exchange,
            &format!("{}:{}:ALL", exchange.to_uppercase(), symbol),
            kind,
            symbol,
            types,
        )
    }
}

fn definitions(days: &[u32]) -> BTreeMap<NaiveDate, DayInstruments> {
    days.iter()
        .map(|&d| {
            let day_instruments = DayInstruments {
                instruments: vec![
                    instrument(
                        "deribit",
                        "DERIBIT:PERPETUAL:BTC-USD",
                        "perpetual",
                        "BTC-PERPETUAL",
                        &["trades", "book_snapshot_5", "liquidations"],
                    ),
                    instrument(
                        "deribit",
                        "DERIBIT:OPTION:BTC-USD-241225-50000-CALL",
                        "option",
                        "BTC-25DEC24-50000-C",
                        &["trades", "quotes"],
                    ),
                    instrument(
                        "deribit",
                        "DERIBIT:FUTURE:BTC-USD-241225",
                        "future",
                        "BTC-25DEC24",
                        &["trades"],
                    ),
                    instrument(
                        "binance-futures",
                        "BINANCE-FUTURES:PERPETUAL:BTC-USDT",
                        "perpetual",
                        "BTCUSDT",
                        &["trades", "book_snapshot_5"],
                    ),
                    instrument(
                        "binance-futures",
                        "BINANCE-FUTURES:PERPETUAL:ETH-USDT",
                        "perpetual",
                        "ETHUSDT",
                        &["trades"],
                    ),
                ],
                grouped: vec![
                    group("deribit", "option", "OPTIONS", &["trades", "quotes", "options_chain"]),
                    group(
                        "deribit",
                        "perpetual",
                        "PERPETUALS",
                        &["trades", "liquidations", "derivative_ticker"],
                    ),
                ],
                coverage: None,
            };
            (day(d), day_instruments)
        })
        .collect()
}

fn download(data_types: &[DataType]) -> DownloadConfig {
    DownloadConfig {
        venues: vec![],
        instrument_types: vec![],
        data_types: data_types.to_vec(),
        max_instruments: None,
        dates: DateSpan::fixed(DateRange { start: day(1), end: day(2) }),
        output_formats: OutputFormats::RAW,
        parquet: md_config::ParquetOptions {
            compression: md_config::ParquetCompression::Zstd,
            row_group_size: NonZeroUsize::new(1000).unwrap(),
            ..md_config::ParquetOptions::default()
        },
        layout: md_config::Layout::parse(
            "raw_tick_data/by_date/day-{date}/data_type-{data_type}/{instrument_key}.{ext}",
        )
        .unwrap(),
        force: false,
        file_facts: true,
        split_grouped: md_config::SplitGrouped::Off,
        split_open_parts: NonZeroUsize::new(16).unwrap(),
    }
}

fn shards(total: u32) -> ShardingConfig {
    ShardingConfig { total_shards: NonZeroU32::new(total).unwrap(), ..ShardingConfig::default() }
}

/// The download's days, which the tests spell as fixed dates.
fn range(download: &DownloadConfig) -> DateRange {
    download.dates.resolve(day(1), None).expect("fixed dates")
}

fn build(download: &DownloadConfig, sharding: &ShardingConfig) -> Result<Plan, Error> {
    let days = definitions(&[1, 2, 3]);
    let freshness = Freshness::default();
    plan::build(&days, download, range(download), sharding, &freshness, |date| {
        format!("defs/{date}")
    })
}

fn ids(plan: &Plan) -> Vec<String> {
    plan.units.iter().map(|unit| format!("{} {}", unit.id(), unit.object())).collect()
}

#[test]
fn units_only_where_tardis_has_the_type_and_groups_only_for_uncovered_types() {
    let plan = build(
        &download(&[DataType::Trades, DataType::OptionsChain, DataType::DerivativeTicker]),
        &shards(1),
    )
    .unwrap();
    let day1: Vec<String> =
        plan.units.iter().filter(|u| u.date == day(1)).map(|u| u.id()).collect();
    assert_eq!(
        day1,
        [
            "2024-03-01/binance-futures/trades/BTCUSDT",
            "2024-03-01/binance-futures/trades/ETHUSDT",
            "2024-03-01/deribit/trades/BTC-25DEC24",
            "2024-03-01/deribit/trades/BTC-25DEC24-50000-C",
            "2024-03-01/deribit/trades/BTC-PERPETUAL",
            // options_chain only exists grouped; derivative_ticker is not offered per perpetual here, so it comes
            // from PERPETUALS; group trades are never fetched since every instrument has its own.
            "2024-03-01/deribit/options_chain/OPTIONS",
            "2024-03-01/deribit/derivative_ticker/PERPETUALS",
        ]
    );
    let first = &plan.units[0];
    assert_eq!(
        first.object(),
        "raw_tick_data/by_date/day-2024-03-01/data_type-trades/BINANCE-FUTURES:PERPETUAL:BTC-USDT.csv.gz"
    );
}

#[rstest]
#[case::venues(|d: &mut DownloadConfig| d.venues = vec!["deribit".into()], 3)]
#[case::types(|d: &mut DownloadConfig| d.instrument_types = vec![InstrumentType::Perpetual], 3)]
#[case::options_only(|d: &mut DownloadConfig| d.instrument_types = vec![InstrumentType::Option], 1)]
#[case::max_one_per_venue(|d: &mut DownloadConfig| d.max_instruments = NonZeroUsize::new(1), 2)]
fn filters(#[case] change: fn(&mut DownloadConfig), #[case] units_per_day: usize) {
    let mut config = download(&[DataType::Trades]);
    change(&mut config);
    let plan = build(&config, &shards(1)).unwrap();
    assert_eq!(plan.units.len(), units_per_day * 2, "{:#?}", ids(&plan));
}

/// The coverage rule: a selected venue a day's definitions do not cover is missing definitions, not zero units.
/// `covered`: the coverage recorded for days 1 and 2 (`None`: a file of an earlier md, which covers the exchanges of
/// its rows: `deribit`, `binance-futures`); `stale`: a venue whose exports end before day 1.
#[rstest]
#[case::recorded_and_covered(Some(&["deribit", "binance-futures"][..]), &["deribit"][..], Ok(3))]
#[case::covered_without_instruments_is_a_real_zero(Some(&["deribit", "binance-futures", "kraken"][..]), &["kraken"][..], Ok(0))]
#[case::recorded_without_the_venue(Some(&["binance-futures"][..]), &["deribit"][..], Err(&["deribit"][..]))]
#[case::one_of_two_venues_uncovered(Some(&["binance-futures"][..]), &["deribit", "binance-futures", "kraken"][..], Err(&["deribit", "kraken"][..]))]
#[case::earlier_md_rows_cover(None, &["deribit", "binance-futures"][..], Ok(5))]
#[case::earlier_md_without_rows_of_the_venue(None, &["kraken"][..], Err(&["kraken"][..]))]
#[case::every_venue_is_what_the_file_covers(Some(&["deribit"][..]), &[][..], Ok(5))]
#[case::not_exported_yet_is_not_missing(Some(&["deribit"][..]), &["deribit", "stale"][..], Ok(3))]
fn a_venue_the_definitions_do_not_cover_is_missing_definitions(
    #[case] covered: Option<&[&str]>,
    #[case] venues: &[&str],
    #[case] expected: Result<usize, &[&str]>,
) {
    let mut days = definitions(&[1, 2]);
    for (index, day_instruments) in days.values_mut().enumerate() {
        let sources = [DefinitionsSource::Metadata, DefinitionsSource::SymbolParser];
        day_instruments.coverage = covered.map(|covered| {
            covered.iter().map(|e| ((*e).to_owned(), sources[index % 2])).collect::<Coverage>()
        });
    }
    let mut config = download(&[DataType::Trades]);
    config.venues = venues.iter().map(|v| (*v).to_owned()).collect();
    let mut freshness = Freshness::default();
    freshness.exchanges.insert(
        "stale".into(),
        downloader::download::freshness::Exports {
            exported_until: Some(day(1).and_hms_opt(0, 0, 0).unwrap().and_utc()),
            incidents: vec![],
        },
    );
    let result = plan::build(&days, &config, range(&config), &shards(1), &freshness, |date| {
        format!("defs/{date}")
    });
    match (result, expected) {
        (Ok(plan), Ok(per_day)) => assert_eq!(plan.units.len(), per_day * 2, "{:#?}", ids(&plan)),
        (Err(error), Err(uncovered)) => {
            assert!(
                matches!(&error, Error::MissingDefinitions { date, last, days: 2, object, exchanges }
                    if *date == day(1) && *last == day(2) && object == "defs/2024-03-01"
                        && exchanges.iter().map(String::as_str).eq(uncovered.iter().copied())),
                "{error:?}"
            );
            assert!(error.is_bad_input());
            let joined = uncovered.join(",");
            assert_eq!(
                error.to_string(),
                format!(
                    "no stored instrument definitions of {joined} for 2 days between 2024-03-01 and 2024-03-02 \
                     (defs/2024-03-01 does not cover {them}: the instruments run that wrote it could not fetch {them}): \
                     run `md-cli instruments --from 2024-03-01 --to 2024-03-02 --exchanges {joined}` first, \
                     or `md-cli pipeline` which does both",
                    them = if uncovered.len() > 1 { "them" } else { "it" },
                )
            );
        }
        (result, expected) => panic!("expected {expected:?}, got {result:?}"),
    }
}

#[test]
fn days_without_definitions_are_one_error_that_says_what_to_run_for_all_of_them() {
    // Definitions are stored for days 1 to 3.
    let cases: &[(u32, u32, &str)] = &[
        (
            4,
            4,
            "no stored instrument definitions for 2024-03-04 (looked for defs/2024-03-04): \
             run `md-cli instruments --from 2024-03-04 --to 2024-03-04` first",
        ),
        (
            2,
            6,
            "no stored instrument definitions for 3 days between 2024-03-04 and 2024-03-06 (looked for \
             defs/2024-03-04): run `md-cli instruments --from 2024-03-04 --to 2024-03-06` first",
        ),
    ];
    for &(start, end, expected) in cases {
        let mut config = download(&[DataType::Trades]);
        config.dates.start = DaySpec::Date(day(start));
        config.dates.end = DaySpec::Date(day(end));
        let error = build(&config, &shards(1)).unwrap_err();
        let first = day(4);
        let days = (end - 3) as usize;
        assert!(
            matches!(&error, Error::MissingDefinitions { date, last, days: n, object, exchanges }
                if *date == first && *last == day(end) && *n == days && object == "defs/2024-03-04"
                    && exchanges.is_empty()),
            "days {start} to {end}: {error:?}"
        );
        assert!(error.is_bad_input());
        let message = error.to_string();
        assert!(message.starts_with(expected), "days {start} to {end}: {message}");
        assert!(message.ends_with("or `md-cli pipeline` which does both"), "{message}");
    }
}

#[test]
fn the_plan_is_deterministic() {
    let config = download(&[DataType::Trades, DataType::BookSnapshot5, DataType::Quotes]);
    let first = build(&config, &shards(7)).unwrap();
    let second = build(&config, &shards(7)).unwrap();
    assert_eq!(ids(&first), ids(&second));
    assert_eq!(first.fingerprint(), second.fingerprint());
    let shards_of = |plan: &Plan| plan.units.iter().map(|unit| unit.shard).collect::<Vec<_>>();
    assert_eq!(shards_of(&first), shards_of(&second));
}

#[rstest]
fn balanced_shards_cover_every_unit_exactly_once(#[values(1, 2, 3, 4, 7, 13, 60)] total: u32) {
    let config = download(&[
        DataType::Trades,
        DataType::BookSnapshot5,
        DataType::Quotes,
        DataType::OptionsChain,
    ]);
    let plan = build(&config, &shards(total)).unwrap();
    let counts = plan.counts_per_shard();
    assert_eq!(counts.iter().sum::<usize>(), plan.units.len());
    assert!(counts.iter().max().unwrap() - counts.iter().min().unwrap() <= 1, "{counts:?}");
    let mut seen = BTreeSet::new();
    for shard in 0..total {
        for unit in plan.shard(shard) {
            assert!(seen.insert(unit.id()), "{} in two shards", unit.id());
        }
    }
    assert_eq!(seen.len(), plan.units.len());
    assert_eq!(plan.uncovered, 0);
}

#[test]
fn instruments_per_shard_keeps_the_seed_meaning() {
    let config = download(&[DataType::Trades]);
    let sharding = ShardingConfig { instruments_per_shard: NonZeroUsize::new(2), ..shards(2) };
    let plan = build(&config, &sharding).unwrap();
    // Five instruments in key order, two per shard: shard 0 takes the first two, shard 1 the next two.
    let keys =
        |shard| plan.shard(shard).map(|unit| unit.instrument_key.clone()).collect::<BTreeSet<_>>();
    assert_eq!(
        keys(0),
        BTreeSet::from([
            "BINANCE-FUTURES:PERPETUAL:BTC-USDT".into(),
            "BINANCE-FUTURES:PERPETUAL:ETH-USDT".into()
        ])
    );
    assert_eq!(
        keys(1),
        BTreeSet::from([
            "DERIBIT:FUTURE:BTC-USD-241225".into(),
            "DERIBIT:OPTION:BTC-USD-241225-50000-CALL".into()
        ])
    );
    assert_eq!(plan.uncovered, 2, "the fifth instrument's two days are beyond two shards of two");
}

#[test]
fn parquet_output_and_custom_layouts() {
    let mut config = download(&[DataType::Trades]);
    config.output_formats = OutputFormats::PARQUET;
    config.layout =
        md_config::Layout::parse("{exchange}/{year}/{month}/{day}/{data_type}/{symbol}.{ext}")
            .unwrap();
    let plan = build(&config, &shards(1)).unwrap();
    assert_eq!(plan.units[0].object(), "binance-futures/2024/03/01/trades/BTCUSDT.parquet");
}

#[test]
fn a_layout_that_merges_units_is_refused() {
    // md-config refuses templates that cannot tell units apart (`{date}/{instrument_key}.{ext}`); one that runs two
    // placeholders together can still merge two units, and the plan refuses it.
    let mut config = download(&[DataType::Trades]);
    config.layout = md_config::Layout::parse("{date}/{data_type}/{venue}{symbol}.{ext}").unwrap();
    let ambiguous = DayInstruments {
        instruments: vec![
            instrument("ab", "AB:PERPETUAL:X-USD", "perpetual", "X", &["trades"]),
            instrument("a", "A:PERPETUAL:BX-USD", "perpetual", "BX", &["trades"]),
        ],
        grouped: vec![],
        coverage: None,
    };
    let days = BTreeMap::from([(day(1), ambiguous.clone()), (day(2), ambiguous)]);
    let freshness = Freshness::default();
    let error = plan::build(&days, &config, range(&config), &shards(1), &freshness, |date| {
        date.to_string()
    })
    .unwrap_err();
    assert!(matches!(error, Error::ObjectCollision { .. }), "{error}");
}

/// What every task of a fleet must agree on, whatever version each runs: the identity of each unit, its object
/// name, and its shard, for a fixed plan in both sharding modes. A change that would rename objects or re-deal
/// units across a running fleet changes this file; update it only with a deliberate, documented migration.
#[test]
fn unit_ids_object_names_and_shards_are_pinned() {
    let mut text = String::new();
    let every_type = download(&[
        DataType::Trades,
        DataType::BookSnapshot5,
        DataType::Quotes,
        DataType::OptionsChain,
        DataType::DerivativeTicker,
        DataType::Liquidations,
    ]);
    let mut parquet = download(&[DataType::Trades]);
    parquet.output_formats = OutputFormats::PARQUET;
    let per_instrument =
        ShardingConfig { instruments_per_shard: NonZeroUsize::new(2), ..shards(3) };
    for (name, config, sharding) in [
        ("balanced over 4 shards", &every_type, shards(4)),
        ("balanced over 7 shards, parquet", &parquet, shards(7)),
        ("INSTRUMENTS_PER_SHARD=2 over 3 shards", &every_type, per_instrument),
    ] {
        let plan = build(config, &sharding).unwrap();
        text.push_str(&format!("# {name}: fingerprint {}\n", plan.fingerprint()));
        for unit in &plan.units {
            let shard = unit.shard.map_or_else(|| "-".to_owned(), |shard| shard.to_string());
            text.push_str(&format!("{shard}\t{}\t{}\n", unit.id(), unit.object()));
        }
    }
    let pinned = include_str!("../fixtures/golden/plan.tsv");
    if pinned != text {
        // The new plan, for a deliberate update of the golden file.
        let now = std::env::temp_dir().join("md-golden-plan.tsv");
        std::fs::write(&now, &text).unwrap();
        panic!(
            "the plan's unit ids, object names or shards changed: a fleet of mixed versions would disagree\n{}\n\
             (the new plan is in {})",
            first_difference(pinned, &text),
            now.display()
        );
    }
}

fn first_difference(pinned: &str, now: &str) -> String {
    pinned.lines().zip(now.lines()).enumerate().find(|(_, (a, b))| a != b).map_or_else(
        || format!("{} lines pinned, {} now", pinned.lines().count(), now.lines().count()),
        |(line, (a, b))| format!("line {}: pinned {a:?}, now {b:?}", line + 1),
    )
}
