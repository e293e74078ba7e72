//! `downloader::download::report` as a library user calls it: a shard downloaded with a unit Tardis does not offer
//! and one that failed, then an object deleted and one grown; the survey gives every unit its status, counts the
//! gaps `missing --check` counts, and writes the report objects under their names.

use downloader::download::UnitStatus;
use downloader::download::manifest::FactsState;
use downloader::download::report::{Found, MissingReport, Survey, UnitLine, UnitReport, page};
use test_support::tardis::{Fault, StubConfig, Times, dataset_path};

use crate::pipeline::{run, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_gives_every_unit_its_status_from_the_objects_and_the_manifest() {
    let setup = setup(StubConfig::default(), |_| {}).await;
    let units = &setup.plan.units;
    let path = |index: usize| {
        let unit = &units[index];
        dataset_path(&unit.exchange, unit.data_type.as_str(), unit.date, &unit.symbol)
    };
    setup.stub.script_path(&path(0), Fault::invalid_symbol(), Times::Always);
    setup.stub.script_path(&path(1), Fault::Status(404), Times::Always);
    run(&setup, &setup.config).await;
    let sink_file = |index: usize| setup.dir.path().join("sink").join(units[index].object());
    std::fs::remove_file(sink_file(2)).expect("delete an object");
    let mut grown = std::fs::read(sink_file(3)).expect("an object");
    grown.push(0);
    std::fs::write(sink_file(3), grown).unwrap();

    let survey = Survey::of(&setup.sink, &setup.plan).await.expect("survey");
    assert_eq!(survey.units.len(), units.len() + setup.plan.not_yet_exported.len());
    let status = |index: usize| survey.units[index].status;
    assert_eq!(
        [status(0), status(1), status(2), status(3), status(4)],
        [
            UnitStatus::NotOffered,
            UnitStatus::Failed,
            UnitStatus::Missing,
            UnitStatus::StoredUnverified,
            UnitStatus::StoredVerified
        ]
    );
    let not_offered = survey.units[0].last_run.as_ref().expect("what the manifest said");
    assert_eq!((not_offered.http_status, not_offered.code), (Some(400), Some(300)));
    assert_eq!(
        survey.units[1].line().last_run.as_deref(),
        Some("failed"),
        "a failed unit is missing, last run failed"
    );
    assert_eq!(survey.units[2].found, Found::Missing);
    assert_eq!(survey.units[2].last_run, None, "the manifest said done: deleted since");
    let grown_size = std::fs::metadata(sink_file(3)).unwrap().len();
    assert_eq!(survey.units[3].bytes, Some(grown_size));
    assert_eq!(survey.gaps(), (2, 1), "missing (failed and deleted), unverified");
    let verified = &survey.units[4];
    assert_eq!(verified.facts_state, Some(FactsState::Learnt));
    assert!(verified.facts.is_some_and(|facts| facts.rows > 0), "the file's facts");
    assert_eq!(
        (survey.units[3].facts, survey.units[3].facts_state),
        (None, Some(FactsState::NotRecorded)),
        "the grown object is not the file the facts describe"
    );
    assert_eq!(survey.units[2].facts_state, None, "a unit not stored has no facts to speak of");
    assert_eq!(survey.count(UnitStatus::StoredVerified), units.len() - 4);

    let generated_at = chrono::Utc::now();
    let written = survey
        .write_reports(&setup.sink, &setup.config.download, generated_at)
        .await
        .expect("reports written");
    let (from, to) = (setup.plan.range.start, setup.plan.range.end);
    assert_eq!(written.object, format!("reports/missing/missing_{from}_{to}.json"));
    assert_eq!(written.object, MissingReport::object_name(from, to));
    assert_eq!(written.days, 2);
    let stored: serde_json::Value = serde_json::from_slice(
        &setup.sink.read_small(&written.object, 1 << 20).await.unwrap().expect("the report"),
    )
    .unwrap();
    assert_eq!(stored["missing"].as_array().unwrap().len(), 2);
    assert_eq!(stored["not_offered"][0]["code"], 300);
    // The report's lines read back as the lines written, what `missing` adds included.
    let read_back: Vec<UnitLine> = serde_json::from_value(stored["missing"].clone()).unwrap();
    let written: Vec<UnitLine> =
        survey.units.iter().filter(|unit| unit.is_missing()).map(UnitReport::line).collect();
    assert_eq!(read_back, written);
    assert_eq!(read_back[0].last_run.as_deref(), Some("failed"));
    let not_offered: UnitLine = serde_json::from_value(stored["not_offered"][0].clone()).unwrap();
    assert_eq!(
        (not_offered.status.as_deref(), not_offered.http_status, not_offered.code),
        (Some("not_offered"), Some(400), Some(300))
    );
    assert_eq!(stored["present"], units.len() - 3);
    let page = survey.page(generated_at);
    let object = survey.write_page(&setup.sink, page.clone()).await.expect("page written");
    assert_eq!(object, page::object_name(from, to));
    assert_eq!(object, format!("reports/missing/missing_{from}_{to}.html"));
    assert!(page.contains("data-status=\"not_offered\" data-units=\"1\""), "the page's totals");
}

/// With the gzip check off nothing is inflated: a stored unit has no facts, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survey_says_why_a_stored_unit_has_no_facts() {
    let setup = setup(StubConfig::default(), |config| config.tardis.verify_gzip = false).await;
    run(&setup, &setup.config).await;
    let survey = Survey::of(&setup.sink, &setup.plan).await.expect("survey");
    let stored: Vec<_> = survey.units.iter().filter(|unit| unit.found == Found::Verified).collect();
    assert_eq!(stored.len(), setup.plan.units.len());
    for unit in stored {
        assert_eq!((unit.facts, unit.facts_state), (None, Some(FactsState::GzipCheckOff)));
        let line = serde_json::to_value(unit.line()).unwrap();
        assert_eq!(line["facts_state"], "gzip_check_off");
        assert!(line.get("facts").is_none(), "{line}");
    }
}
