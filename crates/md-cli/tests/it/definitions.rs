//! A bucket whose definitions the system md replaces wrote: the download refuses to plan from them and says what
//! to run, and `md-cli instruments` replaces them without `--force`, after which the download plans md's keys.

use std::path::Path;

use crate::support::{
    FROM, SELECTION, TO, args, local_env, main_job_stand, ok, plan, sink_path, small_files,
};

/// The day file the original wrote for 2026-10-01 (pandas and pyarrow), shared with downloader's tests.
fn original_file() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../downloader/tests/fixtures/original/instruments_2026-10-01.parquet");
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn definitions_the_original_wrote_are_replaced_by_instruments_without_force() {
    let stand = main_job_stand(small_files());
    let env = local_env(&stand);
    let object = format!("instrument_availability/by_date/day-{FROM}/instruments.parquet");
    let path = sink_path(&env, &object);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, original_file()).unwrap();

    let run = env.run(&args("download", SELECTION));
    assert_eq!(run.code, 2, "{}", run.stderr);
    for needed in [
        object.as_str(),
        "market-tick-data-handler",
        &format!("md-cli instruments --from {FROM} --to {FROM}"),
    ] {
        assert!(run.stderr.contains(needed), "{needed}: {}", run.stderr);
    }

    let run = ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])));
    assert!(
        run.stdout.contains("replaced 1 definitions file written by market-tick-data-handler"),
        "{}",
        run.stdout
    );
    assert_ne!(std::fs::read(&path).unwrap(), original_file());
    let units = plan(&env);
    assert!(!units.is_empty());
    assert!(
        units.iter().all(|unit| !unit.object.contains(":PERP:") && !unit.object.contains("OKEX")),
        "{units:?}"
    );
    assert!(
        units.iter().any(|unit| unit.object.contains("DERIBIT:PERPETUAL:BTC-USD")),
        "{units:?}"
    );
}
