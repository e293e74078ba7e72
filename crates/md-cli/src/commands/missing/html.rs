//! The coverage page of `md-cli missing --html`: one self-contained HTML file (inline CSS and JavaScript, no
//! network fetch of any kind) showing a range's units as a heatmap, days across and one row per exchange x data
//! type down, each row expandable to its instruments.
//!
//! It takes a neutral model, [`Coverage`] (per unit its day, exchange, data type, instrument key, [`Status`] and
//! stored bytes; the range and when it was generated) and knows nothing of plans, manifests or sinks, so how
//! `missing` classifies units can change without touching the page.
//!
//! Scale: a year x 500 instruments x 6 data types is about 1.1 million units. The page never holds a node per unit:
//! it embeds one JSON block (per row: the worst status and the counts and bytes of each day, the row's instrument
//! keys, one status character per instrument and day, and the stored sizes in base 36), and its script builds DOM
//! only for the aggregate rows (rows x days cells) and, for a row the user expands, one page of [`PAGE_ROWS`]
//! instruments at a time. The static markup is a few dozen elements whatever the model.
//!
//! Escaping: text from data (exchange ids, data types, instrument keys) reaches the static markup only through
//! [`escape`], and the JSON block only with `<`, `>` and `&` written as `\u003c`, `\u003e` and `\u0026`, so no
//! value can close the script element; the script puts data into the DOM only as `textContent`, `title` and
//! `data-*` attributes (its one `innerHTML` is the fixed markup of the cells).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;

use crate::progress::human_bytes;

/// Instruments shown at a time in an expanded row (the page's script reads it from the data block).
pub(crate) const PAGE_ROWS: usize = 50;

/// What the page says about one unit: downloader's [`UnitStatus`](downloader::download::UnitStatus), ordered from
/// best to worst, so an aggregate cell takes the worst status of its units (the maximum).
pub(crate) use downloader::download::UnitStatus as Status;

/// The number of statuses.
const STATUSES: usize = Status::ALL.len();

/// A status's name in the page's CSS classes (`st-missing`) and data attributes: its `missing --json` name, but
/// `verified` for stored and verified (the page's name for it since the page was first drawn).
pub(crate) fn key(status: Status) -> &'static str {
    match status {
        Status::StoredVerified => "verified",
        other => other.as_str(),
    }
}

/// A status's one-character code in the data block's status strings.
fn code(status: Status) -> u8 {
    match status {
        Status::StoredVerified => b'v',
        Status::Adopted => b'a',
        Status::Empty => b'e',
        Status::NotOffered => b'o',
        Status::NotYetExported => b'n',
        Status::StoredUnverified => b'u',
        Status::Interrupted => b'i',
        Status::Missing => b'm',
        Status::Failed => b'f',
    }
}

/// A status's position in [`Status::ALL`] (and in the count arrays).
fn index(status: Status) -> usize {
    Status::ALL.iter().position(|known| *known == status).expect("every status is in ALL")
}

/// The data code of an empty cell (no unit of that row on that day).
const NONE_CODE: u8 = b'.';

/// One unit as the page shows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CoverageUnit<'a> {
    /// UTC day.
    pub(crate) date: NaiveDate,
    /// Tardis exchange id.
    pub(crate) exchange: &'a str,
    /// Data type.
    pub(crate) data_type: &'a str,
    /// Canonical instrument key (or grouped object key).
    pub(crate) instrument_key: &'a str,
    /// What was found.
    pub(crate) status: Status,
    /// The size of its stored objects, when one is stored.
    pub(crate) bytes: Option<u64>,
}

/// Everything the page shows: the range, when, and every unit.
#[derive(Debug, Clone)]
pub(crate) struct Coverage<'a> {
    /// First day, inclusive.
    pub(crate) from: NaiveDate,
    /// Last day, inclusive.
    pub(crate) to: NaiveDate,
    /// When the report was made.
    pub(crate) generated_at: DateTime<Utc>,
    /// Each exchange's `exportedUntil`, as the plan saw it.
    pub(crate) exported_until: BTreeMap<String, DateTime<Utc>>,
    /// Days with nothing exported yet and no stored definitions (they have no units).
    pub(crate) days_not_exported: Vec<NaiveDate>,
    /// Every unit of the range.
    pub(crate) units: Vec<CoverageUnit<'a>>,
}

/// Counts and stored bytes per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Units per status, in [`Status::ALL`] order.
    pub(crate) units: [usize; STATUSES],
    /// Stored bytes per status, in [`Status::ALL`] order.
    pub(crate) bytes: [u64; STATUSES],
}

impl Totals {
    fn add(&mut self, status: Status, bytes: Option<u64>) {
        self.units[index(status)] += 1;
        self.bytes[index(status)] += bytes.unwrap_or(0);
    }

    /// The statuses that have units, best first.
    pub(crate) fn present(&self) -> impl Iterator<Item = Status> + '_ {
        Status::ALL.into_iter().filter(|status| self.units[index(*status)] > 0)
    }

    /// Every unit.
    pub(crate) fn all_units(&self) -> usize {
        self.units.iter().sum()
    }

    /// Every stored byte.
    pub(crate) fn all_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

impl Coverage<'_> {
    /// The number of days of the range.
    pub(crate) fn days(&self) -> usize {
        usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    /// The counts and bytes of every unit inside the range.
    pub(crate) fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for unit in self.units.iter().filter(|unit| self.day_index(unit.date).is_some()) {
            totals.add(unit.status, unit.bytes);
        }
        totals
    }

    fn day_index(&self, date: NaiveDate) -> Option<usize> {
        let index = usize::try_from((date - self.from).num_days()).ok()?;
        (index < self.days()).then_some(index)
    }
}

/// One row of the heatmap (exchange x data type) in the data block.
#[derive(Debug, Serialize)]
struct RowData<'a> {
    exchange: &'a str,
    data_type: &'a str,
    /// Units per status, in [`Status::ALL`] order.
    units: [usize; STATUSES],
    /// Stored bytes.
    bytes: u64,
    /// Per day, the worst status code (`.`: no unit).
    worst: String,
    /// Per day, the units per status.
    day_units: Vec<[u32; STATUSES]>,
    /// Per day, the stored bytes.
    day_bytes: Vec<u64>,
    /// The row's instrument keys, sorted.
    keys: Vec<&'a str>,
    /// Per instrument then day, the status code (`.`: no unit).
    status: String,
    /// Per instrument then day, the stored size in base 36, comma-separated (empty: nothing stored).
    sizes: String,
}

/// The data block the page's script reads.
#[derive(Debug, Serialize)]
struct PageData<'a> {
    from: NaiveDate,
    to: NaiveDate,
    days: usize,
    generated_at: String,
    page_rows: usize,
    statuses: Vec<StatusData>,
    days_not_exported: Vec<usize>,
    rows: Vec<RowData<'a>>,
}

#[derive(Debug, Serialize)]
struct StatusData {
    code: char,
    key: &'static str,
    label: &'static str,
    /// Whether "problems only" shows it (a gap `missing --check` counts).
    gap: bool,
}

/// One row's cells while they are filled.
struct RowBuild<'a> {
    keys: Vec<&'a str>,
    /// Each key's position in `keys`.
    index: HashMap<&'a str, usize>,
    status: Vec<u8>,
    sizes: Vec<Option<u64>>,
}

/// Builds the data block of the model: rows by exchange then data type, instruments by key.
fn page_data<'a>(coverage: &Coverage<'a>) -> PageData<'a> {
    let days = coverage.days();
    let mut keys: BTreeMap<(&'a str, &'a str), BTreeSet<&'a str>> = BTreeMap::new();
    for unit in &coverage.units {
        if coverage.day_index(unit.date).is_some() {
            keys.entry((unit.exchange, unit.data_type)).or_default().insert(unit.instrument_key);
        }
    }
    let mut builds: BTreeMap<(&'a str, &'a str), RowBuild<'a>> = keys
        .into_iter()
        .map(|(row, keys)| {
            let keys: Vec<&str> = keys.into_iter().collect();
            let index = keys.iter().enumerate().map(|(index, key)| (*key, index)).collect();
            let cells = keys.len() * days;
            let build =
                RowBuild { keys, index, status: vec![NONE_CODE; cells], sizes: vec![None; cells] };
            (row, build)
        })
        .collect();
    let mut row_totals: BTreeMap<(&str, &str), (Totals, Vec<Totals>)> = BTreeMap::new();
    for unit in &coverage.units {
        let Some(day) = coverage.day_index(unit.date) else {
            tracing::warn!(date = %unit.date, instrument_key = unit.instrument_key, "unit outside the report's range; not shown");
            continue;
        };
        let row = (unit.exchange, unit.data_type);
        let build = builds.get_mut(&row).expect("every row was keyed above");
        let cell = build.index[unit.instrument_key] * days + day;
        // Two units in one cell (not expected: keys are unique per venue and day) show the worse status and the
        // sum of their sizes.
        let previous = Status::ALL.into_iter().find(|status| code(*status) == build.status[cell]);
        let status = previous.map_or(unit.status, |previous| previous.max(unit.status));
        build.status[cell] = code(status);
        build.sizes[cell] = match (build.sizes[cell], unit.bytes) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        let (totals, per_day) = row_totals
            .entry(row)
            .or_insert_with(|| (Totals::default(), vec![Totals::default(); days]));
        totals.add(unit.status, unit.bytes);
        per_day[day].add(unit.status, unit.bytes);
    }
    let rows = builds
        .into_iter()
        .map(|(row, build)| {
            let (totals, per_day) = row_totals.remove(&row).unwrap_or_default();
            let worst = per_day
                .iter()
                .map(|day| {
                    Status::ALL
                        .into_iter()
                        .rev()
                        .find(|status| day.units[index(*status)] > 0)
                        .map_or(NONE_CODE, code) as char
                })
                .collect();
            let mut sizes = String::with_capacity(build.sizes.len() * 6);
            for (position, size) in build.sizes.iter().enumerate() {
                if position > 0 {
                    sizes.push(',');
                }
                if let Some(size) = size {
                    push_base36(&mut sizes, *size);
                }
            }
            RowData {
                exchange: row.0,
                data_type: row.1,
                units: totals.units,
                bytes: totals.all_bytes(),
                worst,
                day_units: per_day
                    .iter()
                    .map(|day| day.units.map(|count| u32::try_from(count).unwrap_or(u32::MAX)))
                    .collect(),
                day_bytes: per_day.iter().map(Totals::all_bytes).collect(),
                keys: build.keys,
                status: String::from_utf8(build.status).expect("status codes are ASCII"),
                sizes,
            }
        })
        .collect();
    PageData {
        from: coverage.from,
        to: coverage.to,
        days,
        generated_at: coverage.generated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        page_rows: PAGE_ROWS,
        statuses: Status::ALL
            .into_iter()
            .map(|status| StatusData {
                code: code(status) as char,
                key: key(status),
                label: status.label(),
                gap: status.is_gap(),
            })
            .collect(),
        days_not_exported: coverage
            .days_not_exported
            .iter()
            .filter_map(|date| coverage.day_index(*date))
            .collect(),
        rows,
    }
}

/// Appends `value` in base 36 (lower case), as the page's script reads it with `parseInt(text, 36)`.
fn push_base36(out: &mut String, mut value: u64) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut buffer = [0u8; 13];
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = DIGITS[(value % 36) as usize];
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buffer[start..]).expect("ASCII digits"));
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element: no `<`, `>` or `&` (they only occur inside strings, where
/// their `\u` escapes mean the same), and no U+2028/U+2029.
fn script_json(data: &PageData<'_>) -> String {
    let json = serde_json::to_string(data).expect("the page data serializes");
    let mut out = String::with_capacity(json.len() + json.len() / 64);
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the page.
pub(crate) fn render(coverage: &Coverage<'_>) -> String {
    let data = page_data(coverage);
    let totals = coverage.totals();
    let days = coverage.days();
    let title = format!("Coverage {} to {}", coverage.from, coverage.to);
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <h1>{title}</h1>\n<p class=\"meta\" id=\"meta\">{meta}</p>\n",
        title = escape(&title),
        meta = escape(&format!(
            "{} day(s), {} row(s) (exchange x data type), {} unit(s); generated {} by md-cli missing",
            days,
            data.rows.len(),
            totals.all_units(),
            coverage.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
        )),
    );
    if !coverage.exported_until.is_empty() {
        page.push_str("<p class=\"meta\" id=\"exported\">Exported until: ");
        let until: Vec<String> = coverage
            .exported_until
            .iter()
            .map(|(exchange, until)| {
                format!("{} {}", escape(exchange), until.format("%Y-%m-%d %H:%M UTC"))
            })
            .collect();
        page.push_str(&until.join(" · "));
        page.push_str("</p>\n");
    }
    // The legend, the rule and the totals name the statuses the page's units have (docs/STATUSES.md lists them all).
    let present: Vec<Status> = totals.present().collect();
    page.push_str("<div class=\"panels\">\n<section id=\"legend\" aria-label=\"Legend\">\n<h2>Legend</h2>\n<ul>\n");
    for status in &present {
        let _ = writeln!(
            page,
            "<li data-status=\"{key}\"><i class=\"sw st-{key}\"></i><b>{label}</b>: {meaning}</li>",
            key = key(*status),
            label = escape(status.label()),
            meaning = escape(status.meaning()),
        );
    }
    let order: Vec<String> = present.iter().rev().map(|status| escape(status.label())).collect();
    let _ = write!(
        page,
        "<li data-status=\"none\"><i class=\"sw st-none\"></i><b>no unit</b>: nothing of this row is \
         listed that day</li>\n</ul>\n<p class=\"rule\" id=\"rule\">A row's cell takes the colour of the <b>worst</b> \
         status among its units, in the order {order}: a cell that is not all green has at least one unit that is \
         not stored and verified. When some of its units are stored and verified, a green base shows their share \
         (at most two thirds of the cell, so the worst colour always shows). Hover a cell for its counts and bytes; \
         click a row (or open the page with <code>#expand=exchange/data_type</code>) to show its instruments.</p>\n\
         </section>\n",
        order = order.join(" &gt; "),
    );
    page.push_str(
        "<section id=\"totals\" aria-label=\"Totals\">\n<h2>Totals</h2>\n<table>\n\
         <thead><tr><th>status</th><th>units</th><th>stored bytes</th></tr></thead>\n<tbody>\n",
    );
    for status in &present {
        let _ = writeln!(
            page,
            "<tr data-status=\"{key}\" data-units=\"{units}\" data-bytes=\"{bytes}\"><td><i class=\"sw \
             st-{key}\"></i>{label}</td><td class=\"n\">{units}</td><td class=\"n\">{human}</td></tr>",
            key = key(*status),
            label = escape(status.label()),
            units = totals.units[index(*status)],
            bytes = totals.bytes[index(*status)],
            human = human_bytes(totals.bytes[index(*status)]),
        );
    }
    let _ = write!(
        page,
        "</tbody>\n<tfoot><tr data-status=\"all\" data-units=\"{units}\" data-bytes=\"{bytes}\"><td>all \
         units</td><td class=\"n\">{units}</td><td class=\"n\">{human}</td></tr></tfoot>\n</table>\n\
         </section>\n</div>\n</header>\n<main>\n\
         <div id=\"grid\" class=\"grid\" role=\"grid\" aria-label=\"Coverage heatmap\">\
         <noscript>The heatmap needs JavaScript; the legend and totals above do not.</noscript></div>\n\
         <div id=\"tip\" class=\"tip\" hidden></div>\n</main>\n\
         <script type=\"application/json\" id=\"coverage-data\">",
        units = totals.all_units(),
        bytes = totals.all_bytes(),
        human = human_bytes(totals.all_bytes()),
    );
    page.push_str(&script_json(&data));
    page.push_str("</script>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

/// The page's style: Okabe-Ito colours (told apart with the common colour-vision deficiencies), a hatch for not
/// yet exported, sticky row headers and day labels.
const STYLE: &str = r#"
:root { --cw: 16px; --rh: 390px; --ink: #1d232b; --muted: #5b6470; --line: #d8dde3;
  --verified: #009e73; --unverified: #f0e442; --missing: #d55e00; --failed: #6a1b5a; --nye: #c9ced6; --none: #f1f3f5;
  --adopted: #56b4e9; --empty: #a6dcc9; --offered: #8c96a3; --interrupted: #e69f00; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
header { padding: 12px 16px 4px; }
h1 { font-size: 18px; margin: 0 0 2px; }
h2 { font-size: 13px; margin: 0 0 4px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.meta { margin: 0 0 2px; color: var(--muted); }
.panels { display: flex; flex-wrap: wrap; gap: 12px 32px; margin-top: 8px; }
#legend ul { list-style: none; margin: 0; padding: 0; columns: 2; column-gap: 24px; }
#legend li { margin: 0 0 2px; break-inside: avoid; max-width: 430px; }
#legend .rule { max-width: 880px; margin: 4px 0 0; color: var(--muted); }
#totals table { border-collapse: collapse; }
#totals th, #totals td { padding: 1px 10px 1px 0; text-align: left; white-space: nowrap; }
#totals th { color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--line); }
#totals tfoot td { border-top: 1px solid var(--line); font-weight: 600; }
#totals .n { text-align: right; font-variant-numeric: tabular-nums; }
.sw { display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; }
main { padding: 6px 16px 16px; }
.grid { overflow: auto; max-height: calc(100vh - 24px); border: 1px solid var(--line); border-radius: 4px; position: relative; }
.row { display: flex; width: max-content; min-width: 100%; }
.rh { position: sticky; left: 0; z-index: 1; flex: none; width: var(--rh); background: #fff; border-right: 1px solid var(--line);
  padding: 0 8px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; display: flex; align-items: center; gap: 6px; }
.hdr { position: sticky; top: 0; z-index: 3; background: #fff; border-bottom: 1px solid var(--line); }
.hdr .rh { z-index: 4; color: var(--muted); font-weight: 600; height: 40px; }
.days { position: relative; height: 40px; flex: none; }
.days span { position: absolute; white-space: nowrap; color: var(--muted); font-size: 11px; }
.days .mo { top: 3px; font-weight: 600; color: var(--ink); }
.days .dd { top: 21px; width: var(--cw); text-align: center; }
.days .dne { position: absolute; top: 36px; height: 4px; width: var(--cw); background: repeating-linear-gradient(45deg, var(--nye) 0 2px, #fff 2px 4px); }
.cells { display: flex; flex: none; }
.c { display: block; flex: none; width: var(--cw); height: 20px; border-right: 1px solid #fff; border-bottom: 1px solid #fff; }
.agg { cursor: pointer; }
.agg:hover .rh, .agg.open .rh { background: #eef3f8; }
.agg .rh { font-weight: 600; height: 20px; padding-left: 14px; }
.grp .rh { height: 22px; font-weight: 700; font-size: 13px; background: #f4f6f8; }
.grp { background: #f4f6f8; border-top: 1px solid var(--line); }
.grp .sum { margin-left: auto; color: var(--muted); font-weight: 400; font-size: 11px; }
.agg .name { overflow: hidden; text-overflow: ellipsis; }
.agg .sum { margin-left: auto; color: var(--muted); font-weight: 400; font-size: 11px; }
.tog { flex: none; width: 16px; height: 16px; padding: 0; border: 0; background: none; font: inherit; color: var(--muted); cursor: pointer; }
.inst .rh { padding-left: 38px; font-size: 11px; height: 15px; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.inst .c { height: 15px; }
.block { border-bottom: 1px solid var(--line); background: #fafbfc; }
.pager { display: flex; width: max-content; min-width: 100%; }
.pager .rh { padding-left: 38px; height: 24px; background: #fafbfc; font-size: 11px; color: var(--muted); overflow: visible; }
.pager button { font: inherit; font-size: 11px; padding: 0 6px; border: 1px solid var(--line); border-radius: 3px; background: #fff; cursor: pointer; }
.pager button:disabled { opacity: .4; cursor: default; }
.pager label { display: inline-flex; align-items: center; gap: 3px; }
.st-verified { background: var(--verified); }
.st-unverified { background: var(--unverified); box-shadow: inset 0 0 0 1px #b8a900; }
.st-missing { background: var(--missing); }
.st-failed { background: var(--failed); }
.st-adopted { background: var(--adopted); }
.st-empty { background: repeating-linear-gradient(135deg, var(--verified) 0 2px, var(--empty) 2px 5px); }
.st-not_offered { background: repeating-linear-gradient(90deg, var(--offered) 0 2px, #dde1e6 2px 4px); }
.st-interrupted { background: var(--interrupted); }
.st-not_yet_exported { background: repeating-linear-gradient(45deg, var(--nye) 0 3px, #eef0f3 3px 6px); }
.st-none { background: var(--none); }
.tip { position: fixed; z-index: 10; pointer-events: none; background: #1d232b; color: #fff; padding: 6px 8px; border-radius: 4px;
  font-size: 12px; line-height: 1.45; white-space: pre; box-shadow: 0 2px 8px rgba(0,0,0,.25); max-width: 520px; }
"#;

/// The page's script: builds the header and the aggregate rows from the data block, expands rows on click or from
/// `#expand=exchange/data_type[,...]`, paginates instruments, and shows a tooltip on hover.
const SCRIPT: &str = r##""use strict";
(function () {
  var data = JSON.parse(document.getElementById("coverage-data").textContent);
  var grid = document.getElementById("grid");
  var tip = document.getElementById("tip");
  var N = data.days, PAGE = data.page_rows;
  var statusByCode = {};
  data.statuses.forEach(function (s, i) { s.index = i; statusByCode[s.code] = s; });
  var cellHtml = { ".": '<i class="c st-none"></i>' };
  var gapCodes = data.statuses.filter(function (s) { return s.gap; }).map(function (s) { return s.code; }).join("");
  var gapPattern = new RegExp("[" + gapCodes + "]");
  data.statuses.forEach(function (s) { cellHtml[s.code] = '<i class="c st-' + s.key + '"></i>'; });
  var start = Date.parse(data.from + "T00:00:00Z");
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  function dayOf(i) { return new Date(start + i * 86400000); }
  function iso(i) { return dayOf(i).toISOString().slice(0, 10); }
  function human(n) {
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], v = n, u = 0;
    while (v >= 1024 && u + 1 < units.length) { v /= 1024; u++; }
    return u === 0 ? n + " B" : v.toFixed(1) + " " + units[u];
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function cells(codes) {
    var parts = new Array(codes.length);
    for (var i = 0; i < codes.length; i++) parts[i] = cellHtml[codes.charAt(i)];
    var div = el("div", "cells");
    div.innerHTML = parts.join("");
    return div;
  }

  var headerWidth = parseFloat(getComputedStyle(grid).getPropertyValue("--rh")) || 390;
  var cw = Math.max(14, Math.min(72, Math.floor((grid.clientWidth - headerWidth - 2) / N)));
  grid.style.setProperty("--cw", cw + "px");

  var hdr = el("div", "row hdr");
  hdr.appendChild(el("div", "rh", "exchange · data type"));
  var days = el("div", "days");
  days.style.width = N * cw + "px";
  var lastMonth = -1e9, lastDay = -1e9, step = Math.ceil(20 / cw);
  for (var i = 0; i < N; i++) {
    var d = dayOf(i), x = i * cw;
    if ((i === 0 || d.getUTCDate() === 1) && x - lastMonth >= 64) {
      var mo = el("span", "mo", MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear());
      mo.style.left = x + "px";
      days.appendChild(mo);
      lastMonth = x;
    }
    if ((d.getUTCDate() - 1) % step === 0 && x - lastDay >= 20) {
      var dd = el("span", "dd", (cw >= 44 ? WEEKDAYS[d.getUTCDay()] + " " : "") + d.getUTCDate());
      dd.style.left = x + "px";
      dd.title = iso(i) + " " + WEEKDAYS[d.getUTCDay()];
      days.appendChild(dd);
      lastDay = x;
    }
  }
  data.days_not_exported.forEach(function (i) {
    var mark = el("span", "dne");
    mark.style.left = i * cw + "px";
    mark.title = iso(i) + ": nothing exported yet";
    days.appendChild(mark);
  });
  hdr.appendChild(days);
  grid.appendChild(hdr);

  var exchanges = {};
  data.rows.forEach(function (row) {
    var e = exchanges[row.exchange] || (exchanges[row.exchange] = { rows: 0, keys: 0, bytes: 0 });
    e.rows++;
    e.keys += row.keys.length;
    e.bytes += row.bytes;
  });
  var lastExchange = null;
  var rows = data.rows.map(function (row, r) {
    if (row.exchange !== lastExchange) {
      lastExchange = row.exchange;
      var e = exchanges[row.exchange];
      var group = el("div", "row grp");
      group.dataset.exchange = row.exchange;
      var gh = el("div", "rh");
      gh.appendChild(el("span", "name", row.exchange));
      gh.appendChild(el("span", "sum", e.rows + " data type(s) · " + human(e.bytes)));
      group.appendChild(gh);
      grid.appendChild(group);
    }
    var div = el("div", "row agg");
    div.dataset.row = r;
    div.dataset.exchange = row.exchange;
    div.dataset.dataType = row.data_type;
    div.setAttribute("role", "row");
    var rh = el("div", "rh");
    var tog = el("button", "tog", "▸");
    tog.setAttribute("aria-expanded", "false");
    tog.setAttribute("aria-label", "show the instruments of " + row.exchange + " " + row.data_type);
    rh.appendChild(tog);
    rh.appendChild(el("span", "name", row.data_type));
    rh.appendChild(el("span", "sum", row.keys.length + (row.keys.length === 1 ? " instrument · " : " instruments · ") + human(row.bytes)));
    rh.title = row.exchange + " · " + row.data_type + ": " + row.keys.length + " instrument(s), " +
      row.units.reduce(function (a, b) { return a + b; }, 0) + " unit(s), " + human(row.bytes) + " stored";
    div.appendChild(rh);
    var strip = cells(row.worst);
    // A cell whose worst status is not "stored and verified" but that has verified units shows their share as a
    // green base, at most two thirds of the cell, so the worst colour always shows.
    for (var d = 0; d < N; d++) {
      var counts = row.day_units[d], total = counts.reduce(function (a, b) { return a + b; }, 0);
      if (counts[0] > 0 && counts[0] < total) {
        var share = Math.min(67, Math.round(100 * counts[0] / total));
        strip.children[d].style.backgroundImage =
          "linear-gradient(to top, var(--verified) " + share + "%, transparent " + share + "%)";
      }
    }
    div.appendChild(strip);
    grid.appendChild(div);
    var block = el("div", "block");
    block.dataset.row = r;
    block.hidden = true;
    grid.appendChild(block);
    div.addEventListener("click", function () { toggle(r); });
    return { data: row, div: div, tog: tog, block: block, open: false, page: 0, problems: false, sizes: null };
  });

  function problemOnly(row) {
    var list = [];
    for (var k = 0; k < row.data.keys.length; k++) {
      var s = row.data.status.substr(k * N, N);
      if (gapPattern.test(s)) list.push(k);
    }
    return list;
  }
  function renderBlock(row) {
    var block = row.block;
    block.textContent = "";
    var list = row.problems ? problemOnly(row) : null;
    var count = list ? list.length : row.data.keys.length;
    var pages = Math.max(1, Math.ceil(count / PAGE));
    row.page = Math.min(row.page, pages - 1);
    var first = row.page * PAGE, last = Math.min(count, first + PAGE);
    var pager = el("div", "pager");
    var ph = el("div", "rh");
    var prev = el("button", "prev", "◂"), next = el("button", "next", "▸");
    prev.disabled = row.page === 0;
    next.disabled = row.page >= pages - 1;
    prev.addEventListener("click", function (e) { e.stopPropagation(); row.page--; renderBlock(row); });
    next.addEventListener("click", function (e) { e.stopPropagation(); row.page++; renderBlock(row); });
    ph.appendChild(prev);
    ph.appendChild(el("span", "range", count === 0 ? "no instrument" : "instruments " + (first + 1) + "–" + last + " of " + count));
    ph.appendChild(next);
    var label = el("label");
    var box = el("input");
    box.type = "checkbox";
    box.checked = row.problems;
    box.addEventListener("change", function () { row.problems = box.checked; row.page = 0; renderBlock(row); });
    label.appendChild(box);
    label.appendChild(document.createTextNode("problems only"));
    label.addEventListener("click", function (e) { e.stopPropagation(); });
    ph.appendChild(label);
    pager.appendChild(ph);
    block.appendChild(pager);
    for (var j = first; j < last; j++) {
      var k = list ? list[j] : j;
      var key = row.data.keys[k];
      var div = el("div", "row inst");
      div.dataset.row = row.div.dataset.row;
      div.dataset.instrument = key;
      div.dataset.index = k;
      var rh = el("div", "rh", key);
      rh.title = key;
      div.appendChild(rh);
      div.appendChild(cells(row.data.status.substr(k * N, N)));
      block.appendChild(div);
    }
  }
  function syncHash() {
    var open = rows.filter(function (row) { return row.open; })
      .map(function (row) { return row.data.exchange + "/" + row.data.data_type; });
    var hash = open.length ? "#expand=" + open.join(",") : "";
    if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname + location.search);
  }
  function toggle(r, noSync) {
    var row = rows[r];
    row.open = !row.open;
    row.div.classList.toggle("open", row.open);
    row.tog.textContent = row.open ? "▾" : "▸";
    row.tog.setAttribute("aria-expanded", String(row.open));
    if (row.open) renderBlock(row); else row.block.textContent = "";
    row.block.hidden = !row.open;
    if (!noSync) syncHash();
  }
  function fromHash() {
    var match = /(?:^#|&)expand=([^&]*)/.exec(location.hash);
    if (!match) return;
    var wanted = decodeURIComponent(match[1]).split(",");
    rows.forEach(function (row, r) {
      if (!row.open && wanted.indexOf(row.data.exchange + "/" + row.data.data_type) >= 0) toggle(r, true);
    });
  }
  fromHash();

  function tipText(cell) {
    var rowDiv = cell.closest(".row");
    var row = rows[+rowDiv.dataset.row];
    var day = Array.prototype.indexOf.call(cell.parentNode.children, cell);
    var date = iso(day) + " " + WEEKDAYS[dayOf(day).getUTCDay()];
    var head = row.data.exchange + " · " + row.data.data_type;
    if (rowDiv.classList.contains("inst")) {
      var k = +rowDiv.dataset.index, code = row.data.status.charAt(k * N + day);
      if (!row.sizes) row.sizes = row.data.sizes.split(",");
      var size = row.sizes[k * N + day];
      var lines = [row.data.keys[k], head + " · " + date];
      lines.push(code === "." ? "no unit that day" : statusByCode[code].label + (size ? " · " + human(parseInt(size, 36)) : ""));
      return lines.join("\n");
    }
    var counts = row.data.day_units[day], total = 0, out = [head + " · " + date];
    for (var s = data.statuses.length - 1; s >= 0; s--) {
      total += counts[s];
      if (counts[s] > 0) out.push(data.statuses[s].label + ": " + counts[s]);
    }
    if (total === 0) out.push("no unit that day");
    else out.splice(1, 0, total + " unit(s), worst: " + statusByCode[row.data.worst.charAt(day)].label);
    if (row.data.day_bytes[day] > 0) out.push("stored: " + human(row.data.day_bytes[day]));
    return out.join("\n");
  }
  grid.addEventListener("mousemove", function (e) {
    var cell = e.target;
    if (!cell.classList || !cell.classList.contains("c")) { tip.hidden = true; return; }
    tip.textContent = tipText(cell);
    tip.hidden = false;
    var x = e.clientX + 14, y = e.clientY + 14;
    if (x + tip.offsetWidth > innerWidth - 4) x = e.clientX - tip.offsetWidth - 10;
    if (y + tip.offsetHeight > innerHeight - 4) y = e.clientY - tip.offsetHeight - 10;
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });
  grid.addEventListener("mouseleave", function () { tip.hidden = true; });
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn coverage<'a>(from: &str, to: &str, units: Vec<CoverageUnit<'a>>) -> Coverage<'a> {
        Coverage {
            from: date(from),
            to: date(to),
            generated_at: "2026-10-05T12:00:00Z".parse().expect("a moment"),
            exported_until: BTreeMap::new(),
            days_not_exported: Vec::new(),
            units,
        }
    }

    fn unit<'a>(
        day: &str,
        exchange: &'a str,
        data_type: &'a str,
        key: &'a str,
        status: Status,
        bytes: Option<u64>,
    ) -> CoverageUnit<'a> {
        CoverageUnit { date: date(day), exchange, data_type, instrument_key: key, status, bytes }
    }

    /// The JSON block of a rendered page, parsed back.
    fn data_block(page: &str) -> serde_json::Value {
        let open = "<script type=\"application/json\" id=\"coverage-data\">";
        let start = page.find(open).expect("the data block") + open.len();
        let end = start + page[start..].find("</script>").expect("the data block ends");
        serde_json::from_str(&page[start..end]).expect("the data block is JSON")
    }

    /// The start tags of the static markup (script contents skipped).
    fn static_elements(page: &str) -> usize {
        let mut count = 0;
        let mut rest = page;
        while let Some(position) = rest.find('<') {
            rest = &rest[position + 1..];
            if rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
                count += 1;
                if rest.starts_with("script") {
                    let end = rest.find("</script>").expect("every script ends");
                    rest = &rest[end + "</script>".len()..];
                }
            }
        }
        count
    }

    #[test]
    fn report_cells_take_the_worst_status_with_every_count_and_the_stored_bytes() {
        use Status::*;
        let units = vec![
            unit("2026-10-01", "deribit", "trades", "B", StoredVerified, Some(100)),
            unit("2026-10-01", "deribit", "trades", "A", Missing, None),
            unit("2026-10-02", "deribit", "trades", "A", StoredVerified, Some(7)),
            unit("2026-10-02", "deribit", "trades", "B", StoredUnverified, Some(36)),
            unit("2026-10-03", "deribit", "trades", "A", Failed, None),
            unit("2026-10-03", "deribit", "trades", "B", Missing, None),
            unit("2026-10-04", "deribit", "trades", "B", NotYetExported, None),
            unit("2026-10-01", "binance", "trades", "C", StoredVerified, Some(1)),
        ];
        let mut model = coverage("2026-10-01", "2026-10-04", units);
        model.days_not_exported = vec![date("2026-10-04"), date("2026-10-09")];
        let page = render(&model);
        let data = data_block(&page);
        assert_eq!(data["days"], 4);
        assert_eq!(data["days_not_exported"], serde_json::json!([3]), "by index, inside the range");
        let rows = data["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 2, "one row per exchange x data type");
        assert_eq!(rows[0]["exchange"], "binance", "rows sorted by exchange");
        let deribit = &rows[1];
        assert_eq!(deribit["keys"], serde_json::json!(["A", "B"]));
        assert_eq!(
            deribit["worst"], "mufn",
            "failed > missing > unverified > not yet exported > verified"
        );
        assert_eq!(rows[0]["worst"], "v...");
        // Status order: verified, adopted, empty, not offered, not yet exported, unverified, interrupted, missing,
        // failed.
        assert_eq!(deribit["day_units"][0], serde_json::json!([1, 0, 0, 0, 0, 0, 0, 1, 0]));
        assert_eq!(deribit["day_units"][2], serde_json::json!([0, 0, 0, 0, 0, 0, 0, 1, 1]));
        assert_eq!(deribit["day_bytes"], serde_json::json!([100, 43, 0, 0]));
        assert_eq!(deribit["status"], "mvf.vumn");
        assert_eq!(deribit["sizes"], ",7,,,2s,10,,");
        assert_eq!(deribit["units"], serde_json::json!([2, 0, 0, 0, 1, 1, 0, 2, 1]));
        assert_eq!(deribit["bytes"], 143);
        assert!(page.contains("data-status=\"missing\" data-units=\"2\""), "totals: missing");
        assert!(page.contains("data-status=\"all\" data-units=\"8\" data-bytes=\"144\""), "totals");
    }

    /// Every status of docs/STATUSES.md has its colour, code and place in the order; the legend, the rule and the
    /// totals name the statuses the page's units have, and "problems only" shows the gaps.
    #[test]
    fn report_legend_and_totals_name_the_statuses_present() {
        let units = vec![
            unit("2026-10-01", "deribit", "trades", "A", Status::NotOffered, None),
            unit("2026-10-01", "deribit", "trades", "B", Status::Interrupted, None),
            unit("2026-10-02", "deribit", "trades", "A", Status::StoredVerified, Some(5)),
        ];
        let page = render(&coverage("2026-10-01", "2026-10-02", units));
        let legend: Vec<&str> = page
            .match_indices("<li data-status=\"")
            .map(|(at, prefix)| {
                let rest = &page[at + prefix.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(legend, ["verified", "not_offered", "interrupted", "none"], "best first");
        assert!(
            page.contains("in the order interrupted &gt; not offered &gt; stored and verified"),
            "the rule names the present statuses, worst first"
        );
        assert!(page.contains("data-status=\"not_offered\" data-units=\"1\""));
        assert!(!page.contains("data-status=\"failed\""), "no row for an absent status");
        for status in Status::ALL {
            assert!(STYLE.contains(&format!(".st-{} {{", key(status))), "a colour for {status}");
        }
        let data = data_block(&page);
        assert_eq!(
            data["rows"][0]["status"], "ovi.",
            "A: not offered, verified; B: interrupted, none"
        );
        let gaps: Vec<&str> = data["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|status| status["gap"] == true)
            .map(|status| status["key"].as_str().unwrap())
            .collect();
        assert_eq!(gaps, ["unverified", "interrupted", "missing", "failed"]);
    }

    #[test]
    fn report_text_from_data_cannot_escape_its_place() {
        let hostile = "X:</script><img src=x onerror=alert(1)>&\"'\u{2028}";
        let units = vec![unit("2026-10-01", "ex<b>", "trades", hostile, Status::Missing, None)];
        let mut model = coverage("2026-10-01", "2026-10-01", units);
        model.exported_until.insert("ex<b>".into(), "2026-10-02T00:00:00Z".parse().unwrap());
        let page = render(&model);
        assert!(!page.contains("<img"), "no markup from data");
        assert!(!page.contains("ex<b>"), "exchange escaped");
        assert!(page.contains("ex&lt;b&gt;"), "exchange shown escaped");
        assert_eq!(page.matches("</script>").count(), 2, "only the two scripts end");
        let data = data_block(&page);
        assert_eq!(data["rows"][0]["keys"][0], hostile, "the key survives the round trip");
    }

    #[test]
    fn report_page_fetches_nothing() {
        let units =
            vec![unit("2026-10-01", "deribit", "trades", "A", Status::StoredVerified, Some(1))];
        let page = render(&coverage("2026-10-01", "2026-10-01", units)).to_ascii_lowercase();
        for reference in [
            "src=",
            "href=",
            "http:",
            "https:",
            "//cdn",
            "@import",
            "url(",
            "fetch(",
            "xmlhttprequest",
        ] {
            assert!(!page.contains(reference), "the page refers to {reference}");
        }
    }

    /// A year x 500 instruments x 6 data types (about 1.1 million units) makes a page of sane size whose static
    /// markup stays a few dozen elements: the browser builds the rest, a bounded part at a time.
    #[test]
    fn report_of_a_year_of_500_instruments_and_6_data_types_stays_small() {
        const DAYS: u32 = 365;
        const INSTRUMENTS: usize = 500;
        const DATA_TYPES: [&str; 6] = [
            "trades",
            "incremental_book_L2",
            "book_snapshot_25",
            "quotes",
            "derivative_ticker",
            "liquidations",
        ];
        let keys: Vec<String> = (0..INSTRUMENTS)
            .map(|index| format!("BINANCE-FUTURES:PERP:COIN{index:03}-USDT"))
            .collect();
        let from = date("2025-01-01");
        let mut units = Vec::with_capacity(DAYS as usize * INSTRUMENTS * DATA_TYPES.len());
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for day in 0..DAYS {
            let date = from + chrono::Days::new(u64::from(day));
            for data_type in DATA_TYPES {
                for key in &keys {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let status = match seed % 1000 {
                        0..=4 => Status::Missing,
                        5 => Status::Failed,
                        6 => Status::StoredUnverified,
                        _ if day >= DAYS - 2 => Status::NotYetExported,
                        _ => Status::StoredVerified,
                    };
                    // Sizes of real files: 100 KiB to 1 GiB.
                    let bytes = matches!(status, Status::StoredVerified | Status::StoredUnverified)
                        .then(|| 100 * 1024 + seed % (1 << 30));
                    units.push(CoverageUnit {
                        date,
                        exchange: "binance-futures",
                        data_type,
                        instrument_key: key,
                        status,
                        bytes,
                    });
                }
            }
        }
        let model = Coverage {
            from,
            to: from + chrono::Days::new(u64::from(DAYS - 1)),
            generated_at: Utc::now(),
            exported_until: BTreeMap::new(),
            days_not_exported: Vec::new(),
            units,
        };
        assert_eq!(model.units.len(), 1_095_000);
        let page = render(&model);
        // One status character and at most 7 base-36 size characters (up to 78 GB) per unit, and the keys once per row.
        let bound = 9 * model.units.len() + 1024 * 1024;
        assert!(page.len() < bound, "{} bytes, bound {bound}", page.len());
        assert!(page.len() > model.units.len(), "every unit is in the data");
        let elements = static_elements(&page);
        assert!(elements < 120, "{elements} elements in the static markup");
        let data = data_block(&page);
        assert_eq!(data["rows"].as_array().unwrap().len(), DATA_TYPES.len());
        assert_eq!(data["rows"][0]["worst"].as_str().unwrap().len(), DAYS as usize);
    }
}
