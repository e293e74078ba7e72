//! `md-cli missing --html`: the coverage page of a real bucket state (stored and verified, unverified, missing,
//! failed in the last manifest, not yet exported), rendered by headless Chromium and checked against
//! `missing --json`, the plan, the manifest and the stored objects.
//!
//! `cargo xtask test` installs Chromium (apt-get, when `chromium` is not on PATH) and passes its path as
//! `MD_TEST_CHROMIUM`. Without it the browser part prints a notice and is skipped under plain `cargo test`
//! (everything before it still runs), and fails under `MD_TEST_REQUIRE_SERVERS=1`, unless `MD_TEST_CHROMIUM_SKIP`
//! gives the reason the test command could not get a browser outside CI.

#![allow(clippy::disallowed_methods, reason = "the tests read what xtask passes")]
#![allow(
    clippy::print_stderr,
    reason = "the notice of a skipped browser and the screenshot's path"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::tardis::{Fault, StubConfig, Times};

use crate::support::{
    FROM, SELECTION, args, json_lines, local_env, main_job_stand, ok, shard_manifest, sink_path,
    small_files,
};

/// The last of four days, of which Tardis has exported the first two (`exportedUntil` 2026-10-03T06:00Z).
const TO: &str = "2026-10-04";

/// The main job's selection over the four days.
fn range() -> Vec<&'static str> {
    let mut range = SELECTION.to_vec();
    let to = range.iter().position(|arg| *arg == "--to").expect("the selection has --to") + 1;
    range[to] = TO;
    range
}

const DAYS: usize = 4;

/// The statuses of the page, best first: an aggregate cell shows the worst of its units.
const ORDER: [&str; 7] =
    ["verified", "empty", "not_offered", "not_yet_exported", "unverified", "missing", "failed"];

/// The symbol and day the stand-in serves without rows: its units are empty at the source.
const EMPTY: (&str, &str) = ("BTC-PERPETUAL", "2026-10-02");

/// The browser `cargo xtask test` passes, or `None` (after a notice) when this run has none; panics when one is
/// required.
fn chromium() -> Option<PathBuf> {
    test_support::handed_over_unless_skipped(
        "MD_TEST_CHROMIUM",
        Some("MD_TEST_CHROMIUM_SKIP"),
        "browser checks of the coverage page",
    )
    .map(PathBuf::from)
}

/// Runs headless Chromium on `url` with `extra` flags (a throwaway profile, nothing fetched in the background),
/// within a minute; returns its stdout.
fn run_chromium(browser: &Path, extra: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut child = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", browser.display()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("chromium's status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} did not finish with {url} within a minute", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("chromium's output");
    assert!(
        output.status.success(),
        "{} {url}: {}\n{}",
        browser.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One start tag of a serialized DOM.
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: BTreeMap<String, String>,
}

impl Tag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }

    fn has_class(&self, class: &str) -> bool {
        self.attribute("class").is_some_and(|classes| classes.split(' ').any(|c| c == class))
    }
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The start tags of a DOM as Chromium serializes it (attribute values double-quoted), in document order, with
/// the contents of `<script>` elements skipped.
fn tags(dom: &str) -> Vec<Tag> {
    let mut out = Vec::new();
    let mut rest = dom;
    while let Some(position) = rest.find('<') {
        rest = &rest[position + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let end =
            rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
        let name = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        let mut attributes = BTreeMap::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.starts_with('>') || rest.is_empty() {
                break;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .unwrap_or(rest.len());
            let attribute = rest[..end].to_owned();
            rest = &rest[end..];
            let value = if let Some(quoted) = rest.strip_prefix("=\"") {
                let close = quoted.find('"').expect("a closing quote");
                rest = &quoted[close + 1..];
                unescape(&quoted[..close])
            } else {
                String::new()
            };
            attributes.insert(attribute, value);
        }
        if name == "script" {
            let close = rest.find("</script>").expect("every script ends");
            rest = &rest[close..];
        }
        out.push(Tag { name, attributes });
    }
    out
}

/// One cell of the heatmap: its status, whether it shows a share of verified units, and whether it has the marker
/// of a file with crossed rows or disorder.
#[derive(Debug)]
struct Cell {
    status: String,
    share: bool,
    marked: bool,
}

/// The heatmap rows of a rendered page, in order: aggregate rows keyed `exchange/data_type`, instrument rows keyed
/// `exchange/data_type/instrument_key`, each with its cells.
fn heatmap(tags: &[Tag]) -> Vec<(String, Vec<Cell>)> {
    let mut rows: Vec<(String, Vec<Cell>)> = Vec::new();
    let mut aggregate = String::new();
    for tag in tags {
        if tag.name == "div" && tag.has_class("agg") {
            aggregate = format!(
                "{}/{}",
                tag.attribute("data-exchange").expect("data-exchange"),
                tag.attribute("data-data-type").expect("data-data-type")
            );
            rows.push((aggregate.clone(), Vec::new()));
        } else if tag.name == "div" && tag.has_class("inst") {
            let key = tag.attribute("data-instrument").expect("data-instrument");
            rows.push((format!("{aggregate}/{key}"), Vec::new()));
        } else if tag.name == "i" && tag.has_class("c") {
            let class = tag.attribute("class").unwrap_or_default();
            let status = class
                .split(' ')
                .find_map(|class| class.strip_prefix("st-"))
                .unwrap_or_else(|| panic!("a cell without a status: {class}"));
            let share =
                tag.attribute("style").is_some_and(|style| style.contains("linear-gradient"));
            rows.last_mut().expect("cells belong to a row").1.push(Cell {
                status: status.to_owned(),
                share,
                marked: tag.has_class("mk"),
            });
        }
    }
    rows
}

/// One unit as the test expects the page to show it.
#[derive(Debug, Clone)]
struct Expected {
    day: usize,
    row: String,
    instrument_key: String,
    status: &'static str,
    object: String,
}

fn day_index(date: &str) -> usize {
    let date: chrono::NaiveDate = date.parse().expect("a date");
    usize::try_from((date - FROM.parse::<chrono::NaiveDate>().unwrap()).num_days())
        .expect("in range")
}

/// As md-cli prints sizes: bytes, then KiB, MiB, ... with one decimal.
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let (mut value, mut unit) = (bytes as f64, 0);
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", units[unit]) }
}

fn worst(statuses: impl IntoIterator<Item = &'static str>) -> &'static str {
    statuses
        .into_iter()
        .max_by_key(|status| ORDER.iter().position(|known| known == status).expect("a status"))
        .unwrap_or("none")
}

#[test]
fn coverage_report_html_shows_the_bucket_as_the_json_report_does() {
    let stand = main_job_stand(StubConfig {
        exported_until: Some("2026-10-03T06:00:00Z".parse().expect("a moment")),
        empty_symbol_days: [(EMPTY.0.to_owned(), EMPTY.1.parse().expect("a day"))].into(),
        ..small_files()
    });
    let env = local_env(&stand);
    ok(env.run(&args("instruments", &["--from", FROM, "--to", TO])));
    let range = range();
    let plan = json_lines(&ok(env.run(&args("plan", &[&range[..], &["--json"]].concat()))).stdout);
    let is_empty = |unit: &serde_json::Value| unit["symbol"] == EMPTY.0 && unit["date"] == EMPTY.1;
    assert!(plan.iter().any(is_empty), "the empty file is planned");
    // One unit Tardis does not offer (400, code 300), and one that fails for good (a 404 is final), so the
    // manifest records both.
    let offered = |unit: &&serde_json::Value| unit["date"] == FROM && !is_empty(unit);
    let not_offered = plan.iter().find(offered).expect("a unit of the first day");
    let not_offered_object = not_offered["object"].as_str().unwrap().to_owned();
    let path_of = |unit: &serde_json::Value| {
        let text = |field: &str| unit[field].as_str().unwrap().to_owned();
        test_support::tardis::dataset_path(
            &text("exchange"),
            &text("data_type"),
            text("date").parse().unwrap(),
            &text("symbol"),
        )
    };
    stand.stub.script_path(&path_of(not_offered), Fault::invalid_symbol(), Times::Always);
    stand.stub.push_dataset_faults(Fault::Status(404), 1);
    let download = env.run(&args("download", &range));
    assert_eq!(download.code, 1, "one unit fails: {}\n{}", download.stdout, download.stderr);
    let mut manifest = shard_manifest(&env, FROM, TO);
    let errors = manifest["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{manifest}");
    let failed_object = errors[0]["object"].as_str().expect("the failed object").to_owned();

    let stored: Vec<&serde_json::Value> = plan
        .iter()
        .filter(|unit| {
            unit["object"] != failed_object.as_str()
                && unit["object"] != not_offered_object.as_str()
                && !is_empty(unit)
        })
        .collect();
    assert!(stored.len() >= 10, "{} stored units", stored.len());
    // One object deleted (missing, though its last manifest says done), one grown by a byte (unverified), each in
    // an aggregate cell (exchange, data type, day) of its own: a cell shows its worst unit, and which unit got the
    // 404 depends on the order of concurrent requests.
    let cell_of = |unit: &serde_json::Value| {
        (unit["exchange"].clone(), unit["data_type"].clone(), unit["date"].clone())
    };
    let failed_cell = plan
        .iter()
        .find(|unit| unit["object"] == failed_object.as_str())
        .map(cell_of)
        .expect("the failed unit is planned");
    // One stored file of the failed unit's row (another day) gets crossed rows in its record, as a download records
    // a crossed book, for the marker; it is chosen first, so that the deleted and grown units (chosen after it, in
    // cells of their own) never take the only other day of that row, whichever unit got the 404.
    let row_of = |unit: &serde_json::Value| (unit["exchange"].clone(), unit["data_type"].clone());
    let failed_unit = plan.iter().find(|unit| unit["object"] == failed_object.as_str()).unwrap();
    let crossed_unit = *stored
        .iter()
        .find(|unit| row_of(unit) == row_of(failed_unit) && cell_of(unit) != failed_cell)
        .expect("a stored unit in the failed unit's row");
    let crossed = crossed_unit["object"].as_str().unwrap().to_owned();
    let deleted_unit = *stored
        .iter()
        .find(|unit| cell_of(unit) != failed_cell && cell_of(unit) != cell_of(crossed_unit))
        .expect("a unit in another cell");
    let deleted = deleted_unit["object"].as_str().unwrap().to_owned();
    std::fs::remove_file(sink_path(&env, &deleted)).expect("delete an object");
    let grown = stored
        .iter()
        .rev()
        .find(|unit| {
            cell_of(unit) != failed_cell
                && cell_of(unit) != cell_of(crossed_unit)
                && cell_of(unit) != cell_of(deleted_unit)
        })
        .expect("a unit in a fourth cell")["object"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes = std::fs::read(sink_path(&env, &grown)).unwrap();
    bytes.push(0);
    std::fs::write(sink_path(&env, &grown), bytes).unwrap();
    let records = manifest["facts"].as_array_mut().expect("the recorded facts");
    let record = records.iter_mut().find(|record| record["object"] == crossed.as_str()).unwrap();
    record["facts"]["crossed_rows"] = 3.into();
    record["facts"]["locked_rows"] = 1.into();
    let facts: BTreeMap<String, serde_json::Value> = records
        .iter()
        .map(|record| (record["object"].as_str().unwrap().to_owned(), record["facts"].clone()))
        .collect();
    let manifest_path =
        sink_path(&env, &format!("manifests/download/{FROM}_{TO}/shard-0000-of-0001.json"));
    std::fs::write(manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();

    let missing =
        json_lines(&ok(env.run(&args("missing", &[&range[..], &["--json"]].concat()))).stdout);
    let page_run =
        ok(env.run(&args("missing", &[&range[..], &["--html", "coverage.html"]].concat())));
    assert!(
        page_run.stdout.contains(&format!(
            "coverage page written to coverage.html and reports/missing/missing_{FROM}_{TO}.html"
        )),
        "{}",
        page_run.stdout
    );
    let page_path = env.dir.path().join("coverage.html");
    let page = std::fs::read(&page_path).expect("the page");
    assert_eq!(
        std::fs::read(sink_path(&env, &format!("reports/missing/missing_{FROM}_{TO}.html")))
            .expect("the page in the sink"),
        page,
        "the same page goes to the sink"
    );

    // What the page must show, from the plan, `missing --json` and the manifest.
    let listed: BTreeMap<String, &str> = missing
        .iter()
        .map(|line| {
            let status = match line["status"].as_str().expect("a status") {
                "missing" => "missing",
                "unverified" => "unverified",
                "not_yet_exported" => "not_yet_exported",
                "not_offered" => "not_offered",
                "empty" => "empty",
                // A stored file with crossed rows is listed with its facts.
                "stored" => "verified",
                other => panic!("unexpected status {other}: {line}"),
            };
            (line["object"].as_str().unwrap().to_owned(), status)
        })
        .collect();
    let expected: Vec<Expected> = plan
        .iter()
        .chain(missing.iter().filter(|line| line["status"] == "not_yet_exported"))
        .map(|unit| {
            let object = unit["object"].as_str().unwrap().to_owned();
            let status = match listed.get(&object).copied() {
                Some("missing") if object == failed_object => "failed",
                Some(status) => status,
                None => "verified",
            };
            Expected {
                day: day_index(unit["date"].as_str().unwrap()),
                row: format!(
                    "{}/{}",
                    unit["exchange"].as_str().unwrap(),
                    unit["data_type"].as_str().unwrap()
                ),
                instrument_key: unit["instrument_key"].as_str().unwrap().to_owned(),
                status,
                object,
            }
        })
        .collect();
    let status_of =
        |object: &str| expected.iter().find(|unit| unit.object == object).unwrap().status;
    assert_eq!(status_of(&deleted), "missing");
    assert_eq!(status_of(&grown), "unverified");
    assert_eq!(status_of(&failed_object), "failed");
    assert_eq!(status_of(&not_offered_object), "not_offered");
    let flagged: Vec<&serde_json::Value> =
        missing.iter().filter(|line| line["status"] == "stored").collect();
    assert_eq!(flagged.len(), 1, "only the crossed file is listed while stored: {flagged:?}");
    assert_eq!(flagged[0]["object"], crossed.as_str());
    assert_eq!(flagged[0]["facts"]["crossed_rows"], 3);
    assert_eq!(flagged[0]["facts_state"], "learnt");
    for line in missing.iter().filter(|line| line["status"] == "empty") {
        assert_eq!(line["facts"]["rows"], 0, "{line}");
        assert!(is_empty(line), "{line}");
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for unit in &expected {
        *counts.entry(unit.status).or_default() += 1;
    }
    assert!(counts["not_yet_exported"] > 0 && counts["verified"] > 0, "{counts:?}");
    // Only stored objects have bytes.
    let stored_bytes = |status: &str| -> u64 {
        expected
            .iter()
            .filter(|unit| {
                unit.status == status && matches!(status, "verified" | "unverified" | "empty")
            })
            .map(|unit| std::fs::metadata(sink_path(&env, &unit.object)).unwrap().len())
            .sum()
    };

    // The static page: totals (counts and stored bytes) as the bucket has them.
    let page_text = String::from_utf8(page).expect("UTF-8");
    let static_tags = tags(&page_text);
    for status in ORDER {
        let row = static_tags
            .iter()
            .find(|tag| tag.name == "tr" && tag.attribute("data-status") == Some(status))
            .unwrap_or_else(|| panic!("no totals row for {status}"));
        let units = counts.get(status).copied().unwrap_or(0).to_string();
        assert_eq!(row.attribute("data-units"), Some(units.as_str()), "{status} units");
        let bytes = stored_bytes(status).to_string();
        assert_eq!(row.attribute("data-bytes"), Some(bytes.as_str()), "{status} bytes");
    }

    let Some(browser) = chromium() else { return };
    let url = format!("file://{}", page_path.display());
    let dom = run_chromium(&browser, &["--dump-dom"], &url);
    let dom_tags = tags(&dom);
    let legend: BTreeSet<&str> = dom_tags
        .iter()
        .filter(|tag| tag.name == "li" && tag.attribute("data-status").is_some())
        .filter_map(|tag| tag.attribute("data-status"))
        .collect();
    assert_eq!(legend, ORDER.iter().copied().chain(["none"]).collect(), "the legend");
    assert!(
        dom.contains("id=\"rule\"") && dom.contains("<b>worst</b>"),
        "the legend states the rule"
    );
    let all =
        dom_tags.iter().find(|tag| tag.attribute("data-status") == Some("all")).expect("totals");
    assert_eq!(
        all.attribute("data-units"),
        Some(expected.len().to_string().as_str()),
        "total units"
    );
    let day_labels =
        dom_tags.iter().filter(|tag| tag.name == "span" && tag.has_class("dd")).count();
    assert_eq!(day_labels, DAYS, "one label per day (wide cells)");

    let rows = heatmap(&dom_tags);
    let expected_rows: BTreeSet<String> = expected.iter().map(|unit| unit.row.clone()).collect();
    assert_eq!(
        rows.iter().map(|(row, _)| row.clone()).collect::<Vec<_>>(),
        expected_rows.iter().cloned().collect::<Vec<_>>(),
        "one aggregate row per exchange x data type, sorted, and no instrument row before a click"
    );
    let mut cell_counts: BTreeMap<String, usize> = BTreeMap::new();
    for (row, cells) in &rows {
        assert_eq!(cells.len(), DAYS, "{row}: one cell per day");
        for (day, cell) in cells.iter().enumerate() {
            let statuses: Vec<&str> = expected
                .iter()
                .filter(|unit| &unit.row == row && unit.day == day)
                .map(|unit| unit.status)
                .collect();
            assert_eq!(cell.status, worst(statuses.iter().copied()), "{row} day {day}");
            let mixed = statuses.contains(&"verified")
                && statuses.iter().any(|status| *status != "verified");
            assert_eq!(
                cell.share, mixed,
                "{row} day {day}: the verified share shows exactly on mixed cells"
            );
            *cell_counts.entry(cell.status.clone()).or_default() += 1;
        }
    }
    for status in ["failed", "missing", "unverified", "not_yet_exported", "verified"] {
        assert!(cell_counts.contains_key(status), "a {status} cell: {cell_counts:?}");
    }
    // The crossed file's aggregate cell carries the marker, and no other does.
    let crossed_unit = expected.iter().find(|unit| unit.object == crossed).unwrap();
    let marked: Vec<(String, usize)> = rows
        .iter()
        .flat_map(|(row, cells)| {
            cells
                .iter()
                .enumerate()
                .filter(|(_, cell)| cell.marked)
                .map(move |(day, _)| (row.clone(), day))
        })
        .collect();
    assert_eq!(marked, [(crossed_unit.row.clone(), crossed_unit.day)], "the marked cells");
    assert!(dom.contains("id=\"marker\""), "the marker's legend line");

    // Expanded through the URL (the rows of the failed and of the unverified unit): their instruments, each unit
    // in its cell; and the tooltips of the failed unit's aggregate cell and of the unverified unit's own cell.
    let failed = expected.iter().find(|unit| unit.status == "failed").unwrap();
    let unverified = expected.iter().find(|unit| unit.status == "unverified").unwrap();
    let expanded: BTreeSet<&str> = [failed.row.as_str(), unverified.row.as_str()].into();
    let fragment = format!("#expand={}", expanded.iter().copied().collect::<Vec<_>>().join(","));
    let (failed_exchange, failed_data_type) = failed.row.split_once('/').unwrap();
    let (unit_exchange, unit_data_type) = unverified.row.split_once('/').unwrap();
    let hover = format!(
        "<script>(function () {{
  function hover(cell) {{
    var r = cell.getBoundingClientRect();
    cell.dispatchEvent(new MouseEvent('mousemove', {{ bubbles: true, clientX: r.left + 1, clientY: r.top + 1 }}));
    return document.getElementById('tip').textContent;
  }}
  function find(selector, test) {{ return Array.prototype.find.call(document.querySelectorAll(selector), test); }}
  function aggregate(exchange, dataType) {{
    return find('.agg', function (row) {{ return row.dataset.exchange === exchange && row.dataset.dataType === dataType; }});
  }}
  document.body.dataset.tipAggregate = hover(aggregate({}, {}).querySelectorAll('.c')[{}]);
  var parent = aggregate({}, {});
  var unit = find('.inst', function (row) {{ return row.dataset.row === parent.dataset.row && row.dataset.instrument === {}; }});
  document.body.dataset.tipUnit = hover(unit.querySelectorAll('.c')[{}]);
  var failedRow = aggregate({}, {});
  var crossed = find('.inst', function (row) {{ return row.dataset.row === failedRow.dataset.row && row.dataset.instrument === {}; }});
  document.body.dataset.tipCrossed = hover(crossed.querySelectorAll('.c')[{}]);
}})();</script></body>",
        serde_json::json!(failed_exchange),
        serde_json::json!(failed_data_type),
        failed.day,
        serde_json::json!(unit_exchange),
        serde_json::json!(unit_data_type),
        serde_json::json!(unverified.instrument_key),
        unverified.day,
        serde_json::json!(failed_exchange),
        serde_json::json!(failed_data_type),
        serde_json::json!(crossed_unit.instrument_key),
        crossed_unit.day,
    );
    let hovered_path = env.dir.path().join("coverage-hovered.html");
    std::fs::write(&hovered_path, page_text.replace("</body>", &hover)).unwrap();
    let dom = run_chromium(
        &browser,
        &["--dump-dom"],
        &format!("file://{}{fragment}", hovered_path.display()),
    );
    let tags = tags(&dom);
    let rows = heatmap(&tags);
    for row in &expanded {
        let prefix = format!("{row}/");
        let instruments: Vec<(&str, &Vec<Cell>)> = rows
            .iter()
            .filter_map(|(name, cells)| name.strip_prefix(&prefix).map(|key| (key, cells)))
            .collect();
        let keys: BTreeSet<&str> = expected
            .iter()
            .filter(|unit| &unit.row == row)
            .map(|unit| unit.instrument_key.as_str())
            .collect();
        assert_eq!(
            instruments.iter().map(|(key, _)| *key).collect::<Vec<_>>(),
            keys.iter().copied().collect::<Vec<_>>(),
            "the instruments of {row}, sorted"
        );
        for (key, cells) in &instruments {
            assert_eq!(cells.len(), DAYS, "{key}");
            for (day, cell) in cells.iter().enumerate() {
                let want = worst(
                    expected
                        .iter()
                        .filter(|unit| {
                            &unit.row == row && unit.instrument_key == *key && unit.day == day
                        })
                        .map(|unit| unit.status),
                );
                assert_eq!(cell.status, want, "{row} {key} day {day}");
            }
        }
    }
    assert_eq!(
        rows.iter().filter(|(row, _)| row.split('/').count() > 2).count(),
        expected
            .iter()
            .filter(|unit| expanded.contains(unit.row.as_str()))
            .map(|unit| (&unit.row, &unit.instrument_key))
            .collect::<BTreeSet<_>>()
            .len(),
        "only the expanded rows show instruments"
    );
    let body = tags.iter().find(|tag| tag.name == "body").expect("a body");
    let tip = body.attribute("data-tip-aggregate").expect("the aggregate cell's tooltip");
    let in_cell: Vec<&Expected> =
        expected.iter().filter(|unit| unit.row == failed.row && unit.day == failed.day).collect();
    assert!(
        tip.contains(&format!("{} unit(s), worst: failed in the last manifest", in_cell.len())),
        "{tip}"
    );
    assert!(tip.contains("failed in the last manifest: 1"), "{tip}");
    let verified_here: Vec<&&Expected> =
        in_cell.iter().filter(|unit| unit.status == "verified").collect();
    if !verified_here.is_empty() {
        assert!(tip.contains(&format!("stored and verified: {}", verified_here.len())), "{tip}");
        let bytes: u64 = verified_here
            .iter()
            .map(|unit| std::fs::metadata(sink_path(&env, &unit.object)).unwrap().len())
            .sum();
        assert!(tip.contains(&format!("stored: {}", human_bytes(bytes))), "{tip}");
    }
    let tip = body.attribute("data-tip-unit").expect("the unit's tooltip");
    let size = std::fs::metadata(sink_path(&env, &unverified.object)).unwrap().len();
    assert!(tip.starts_with(&unverified.instrument_key), "{tip}");
    assert!(tip.contains(&format!("stored, unverified · {}", human_bytes(size))), "{tip}");
    // The crossed file's own cell: marked, and its tooltip gives the facts the manifest recorded.
    let crossed_cells = &rows
        .iter()
        .find(|(row, _)| *row == format!("{}/{}", crossed_unit.row, crossed_unit.instrument_key))
        .expect("the crossed unit's instrument row")
        .1;
    assert!(crossed_cells[crossed_unit.day].marked, "the crossed file's cell is marked");
    let tip = body.attribute("data-tip-crossed").expect("the crossed file's tooltip");
    let recorded = &facts[&crossed];
    assert!(tip.contains(&format!("rows: {}", recorded["rows"])), "{tip}");
    assert!(tip.contains("crossed book: 3 row(s), locked: 1 row(s)"), "{tip}");
    assert!(tip.contains("local_timestamp: "), "{tip}");
    let expanded_url = format!("{url}{fragment}");

    // A picture of it, kept in the target directory.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("coverage-report.png");
    let _ = std::fs::remove_file(&screenshot);
    run_chromium(
        &browser,
        &[&format!("--screenshot={}", screenshot.display()), "--window-size=1400,900"],
        &expanded_url,
    );
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 20 * 1024, "{} bytes: an empty page?", png.len());
    eprintln!("coverage page screenshot: {}", screenshot.display());
}
