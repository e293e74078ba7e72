//! The coverage page of `md-cli missing --html`: one self-contained HTML file (inline CSS and JavaScript, no
//! network fetch of any kind) showing a range's units as a heatmap, days across and one row per exchange x data
//! type down, each row expandable to its instruments. Its markup, style and script are the asset files
//! `assets/coverage.{html,css,js}` of this crate, compiled in; [`render`] fills the markup's slots.
//!
//! It takes a neutral model, [`Coverage`] (per unit its day, exchange, data type, instrument key, [`Status`] and
//! stored bytes; the range and when it was generated) and knows nothing of plans, manifests or sinks, so how
//! units are classified ([`super::Survey`]) can change without touching the page.
//!
//! Scale: a year x 500 instruments x 6 data types is about 1.1 million units. The page never holds a node per unit:
//! it embeds one JSON block (per row: the worst status and the counts and bytes of each day, the row's instrument
//! keys, one status character per instrument and day, and the stored sizes in base 36), and its script builds DOM
//! only for the aggregate rows (rows x days cells) and, for a row the user expands, one page of [`PAGE_ROWS`]
//! instruments at a time. The static markup is a few dozen elements whatever the model.
//!
//! Escaping: every `{{slot}}` of the markup is filled with escaped text ([`escape`]), except the style, the script
//! and the JSON block, whose `<`, `>` and `&` are written as `\u003c`, `\u003e` and `\u0026`, so no value can close
//! the script element; the script puts data into the DOM only as `textContent`, `title` and `data-*` attributes
//! (its one `innerHTML` is the fixed markup of the cells).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use tardis_client::facts::FileFacts;

use super::flagged;

/// The page's markup, with `{{slot}}`s and `<!-- each list -->` blocks.
const MARKUP: &str = include_str!("../../../assets/coverage.html");
/// The page's style.
const STYLE: &str = include_str!("../../../assets/coverage.css");
/// The page's script.
const SCRIPT: &str = include_str!("../../../assets/coverage.js");

/// The object the page is stored under, beside the JSON report ([`super::MissingReport::object_name`]).
pub fn object_name(from: NaiveDate, to: NaiveDate) -> String {
    format!("{}.html", super::report_stem(from, to))
}

/// Instruments shown at a time in an expanded row (the page's script reads it from the data block).
pub const PAGE_ROWS: usize = 50;

/// What the page says about one unit: [`UnitStatus`](super::UnitStatus), ordered from
/// best to worst, so an aggregate cell takes the worst status of its units (the maximum).
pub use crate::download::UnitStatus as Status;

/// The number of statuses.
const STATUSES: usize = Status::ALL.len();

/// A status's name in the page's CSS classes (`st-missing`) and data attributes: its `missing --json` name, but
/// `verified` for stored and verified (the page's name for it since the page was first drawn).
pub fn key(status: Status) -> &'static str {
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
pub struct CoverageUnit<'a> {
    /// UTC day.
    pub date: NaiveDate,
    /// Tardis exchange id.
    pub exchange: &'a str,
    /// Data type.
    pub data_type: &'a str,
    /// Canonical instrument key (or grouped object key).
    pub instrument_key: &'a str,
    /// What was found.
    pub status: Status,
    /// The size of its stored objects, when one is stored.
    pub bytes: Option<u64>,
    /// What is inside its file, when a download recorded it (docs/STATUSES.md, "Per-file facts").
    pub facts: Option<&'a FileFacts>,
}

/// Everything the page shows: the range, when, and every unit.
#[derive(Debug, Clone)]
pub struct Coverage<'a> {
    /// First day, inclusive.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// Each exchange's `exportedUntil`, as the plan saw it.
    pub exported_until: BTreeMap<String, DateTime<Utc>>,
    /// Days with nothing exported yet and no stored definitions (they have no units).
    pub days_not_exported: Vec<NaiveDate>,
    /// Every unit of the range.
    pub units: Vec<CoverageUnit<'a>>,
}

/// Counts and stored bytes per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Units per status, in [`Status::ALL`] order.
    pub units: [usize; STATUSES],
    /// Stored bytes per status, in [`Status::ALL`] order.
    pub bytes: [u64; STATUSES],
}

impl Totals {
    fn add(&mut self, status: Status, bytes: Option<u64>) {
        self.units[index(status)] += 1;
        self.bytes[index(status)] += bytes.unwrap_or(0);
    }

    /// The statuses that have units, best first.
    pub fn present(&self) -> impl Iterator<Item = Status> + '_ {
        Status::ALL.into_iter().filter(|status| self.units[index(*status)] > 0)
    }

    /// Every unit.
    pub fn all_units(&self) -> usize {
        self.units.iter().sum()
    }

    /// Every stored byte.
    pub fn all_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

impl Coverage<'_> {
    /// The number of days of the range.
    pub fn days(&self) -> usize {
        usize::try_from((self.to - self.from).num_days() + 1).unwrap_or(0)
    }

    /// The counts and bytes of every unit inside the range.
    pub fn totals(&self) -> Totals {
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
    /// Per day, the rows of the units' files whose facts are recorded.
    day_rows: Vec<u64>,
    /// Per day, the units whose files have crossed rows or `local_timestamp` going backwards ([`flagged`]).
    day_marked: Vec<u32>,
    /// Per instrument then day, the file's facts ([`push_facts`]), comma-separated (empty: none recorded).
    facts: String,
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
    facts: Vec<Option<&'a FileFacts>>,
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
            let build = RowBuild {
                keys,
                index,
                status: vec![NONE_CODE; cells],
                sizes: vec![None; cells],
                facts: vec![None; cells],
            };
            (row, build)
        })
        .collect();
    let mut row_totals: BTreeMap<(&str, &str), (Totals, Vec<Totals>)> = BTreeMap::new();
    // Per row and day: the rows of the files with facts, and the files worth a marker.
    let mut row_facts: BTreeMap<(&str, &str), Vec<(u64, u32)>> = BTreeMap::new();
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
        if let Some(facts) = unit.facts {
            build.facts[cell] = Some(facts);
            let per_day = row_facts.entry(row).or_insert_with(|| vec![(0, 0); days]);
            per_day[day].0 += facts.rows;
            per_day[day].1 += u32::from(flagged(facts));
        }
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
            let day_facts = row_facts.remove(&row).unwrap_or_else(|| vec![(0, 0); days]);
            let mut facts = String::with_capacity(build.facts.len());
            for (position, cell) in build.facts.iter().enumerate() {
                if position > 0 {
                    facts.push(',');
                }
                if let Some(cell) = cell {
                    let day_start = (coverage.from + chrono::Days::new((position % days) as u64))
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc();
                    push_facts(&mut facts, cell, day_start.timestamp_micros());
                }
            }
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
                day_rows: day_facts.iter().map(|(rows, _)| *rows).collect(),
                day_marked: day_facts.iter().map(|(_, marked)| *marked).collect(),
                facts,
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

/// Appends a file's facts as the page's script reads them: `:`-separated base-36 numbers, `rows`, then the first
/// and last `timestamp` and `local_timestamp` in whole seconds from the start of the cell's day (`day_start`, µs;
/// a `-` for a moment before it), then the rows whose `local_timestamp` and `timestamp` go backwards, the malformed
/// rows, and the crossed and locked rows of a book (empty for other data types and for absent timestamps).
fn push_facts(out: &mut String, facts: &FileFacts, day_start: i64) {
    let signed = |out: &mut String, value: Option<i64>| {
        if let Some(value) = value {
            let seconds = (value - day_start).div_euclid(1_000_000);
            if seconds < 0 {
                out.push('-');
            }
            push_base36(out, seconds.unsigned_abs());
        }
    };
    push_base36(out, facts.rows);
    for moment in [
        facts.first_timestamp,
        facts.last_timestamp,
        facts.first_local_timestamp,
        facts.last_local_timestamp,
    ] {
        out.push(':');
        signed(out, moment);
    }
    for count in [
        Some(facts.local_timestamp_backwards),
        Some(facts.timestamp_backwards),
        Some(facts.malformed_rows),
        facts.crossed_rows,
        facts.locked_rows,
    ] {
        out.push(':');
        if let Some(count) = count {
            push_base36(out, count);
        }
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
pub fn escape(text: &str) -> String {
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

/// Formats a byte count with binary units and one decimal (`1.5 GiB`), rounded as the page's script rounds its
/// tooltips (indicatif's `BinaryBytes` has two decimals, and rounding its text again could differ by a tenth).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// What fills a `{{slot}}` of the markup: text, escaped when filled, or the page's own style, script and data block.
enum Slot<'a> {
    Text(String),
    Trusted(&'a str),
}

/// The slots of the page, or of one item of an `<!-- each -->` block.
type Slots<'a> = HashMap<&'static str, Slot<'a>>;

/// Fills `template`: each block from a line `<!-- each NAME -->` to a line `<!-- /each -->` once per item of
/// `lists[NAME]` (with that item's slots), every other `{{slot}}` from `slots`.
///
/// # Panics
/// On a slot or list the page does not have, or an unclosed block: a fault of the markup asset, which the tests
/// render.
fn fill_template(
    template: &str,
    slots: &Slots<'_>,
    lists: &HashMap<&str, Vec<Slots<'_>>>,
) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("<!-- each ") {
        fill_slots(&mut out, &rest[..start], slots);
        let (name, after) = rest[start + "<!-- each ".len()..]
            .split_once(" -->\n")
            .expect("an each block names its list");
        let (block, after) = after.split_once("<!-- /each -->\n").expect("an each block ends");
        for item in lists.get(name).unwrap_or_else(|| panic!("no list {name} for the page")) {
            fill_slots(&mut out, block, item);
        }
        rest = after;
    }
    fill_slots(&mut out, rest, slots);
    out
}

fn fill_slots(out: &mut String, template: &str, slots: &Slots<'_>) {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let (name, after) = rest[start + 2..].split_once("}}").expect("a slot ends");
        match slots.get(name).unwrap_or_else(|| panic!("no slot {name} for the page")) {
            Slot::Text(text) => out.push_str(&escape(text)),
            Slot::Trusted(markup) => out.push_str(markup),
        }
        rest = after;
    }
    out.push_str(rest);
}

/// Renders the page.
pub fn render(coverage: &Coverage<'_>) -> String {
    let data = page_data(coverage);
    let totals = coverage.totals();
    let json = script_json(&data);
    let text = |value: String| Slot::Text(value);
    // The legend, the rule and the totals name the statuses the page's units have (docs/STATUSES.md lists them all).
    let present: Vec<Status> = totals.present().collect();
    let statuses = present
        .iter()
        .map(|status| {
            let (units, bytes) = (totals.units[index(*status)], totals.bytes[index(*status)]);
            Slots::from([
                ("key", text(key(*status).to_owned())),
                ("label", text(status.label().to_owned())),
                ("meaning", text(status.meaning().to_owned())),
                ("units", text(units.to_string())),
                ("bytes", text(bytes.to_string())),
                ("human", text(human_bytes(bytes))),
            ])
        })
        .collect();
    let exported = (!coverage.exported_until.is_empty()).then(|| {
        let until: Vec<String> = coverage
            .exported_until
            .iter()
            .map(|(exchange, until)| format!("{exchange} {}", until.format("%Y-%m-%d %H:%M UTC")))
            .collect();
        Slots::from([("until", text(until.join(" · ")))])
    });
    let title = format!("Coverage {} to {}", coverage.from, coverage.to);
    let meta = format!(
        "{} day(s), {} row(s) (exchange x data type), {} unit(s); generated {} by md-cli missing",
        coverage.days(),
        data.rows.len(),
        totals.all_units(),
        coverage.generated_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
    let order: Vec<&str> = present.iter().rev().map(|status| status.label()).collect();
    let slots = Slots::from([
        ("title", text(title)),
        ("meta", text(meta)),
        ("order", text(order.join(" > "))),
        ("units", text(totals.all_units().to_string())),
        ("bytes", text(totals.all_bytes().to_string())),
        ("human", text(human_bytes(totals.all_bytes()))),
        ("style", Slot::Trusted(STYLE)),
        ("script", Slot::Trusted(SCRIPT)),
        ("data", Slot::Trusted(&json)),
    ]);
    let marked: u32 = data.rows.iter().flat_map(|row| &row.day_marked).sum();
    let marker = (marked > 0).then(|| Slots::from([("marked", text(marked.to_string()))]));
    let lists = HashMap::from([
        ("status", statuses),
        ("exported", exported.into_iter().collect()),
        ("marker", marker.into_iter().collect()),
    ]);
    fill_template(MARKUP, &slots, &lists)
}

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
        CoverageUnit {
            date: date(day),
            exchange,
            data_type,
            instrument_key: key,
            status,
            bytes,
            facts: None,
        }
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

    /// A file's facts reach the data block exactly (moments in seconds of the cell's day), the cells whose files
    /// have crossed rows or `local_timestamp` disorder are counted for the marker, and the legend names the marker
    /// only when a file has one.
    #[test]
    fn report_facts_travel_to_the_cells_and_mark_crossed_or_disordered_files() {
        let day_start = 1_790_812_800_000_000; // 2026-10-01T00:00:00Z in µs
        let plain = FileFacts {
            rows: 40,
            first_timestamp: Some(day_start - 2_500_000),
            last_timestamp: Some(day_start + 3_600_000_000),
            first_local_timestamp: Some(day_start + 1_000_000),
            last_local_timestamp: Some(day_start + 86_399_000_000),
            timestamp_backwards: 3,
            ..FileFacts::default()
        };
        let crossed = FileFacts { crossed_rows: Some(2), locked_rows: Some(37), ..plain };
        let disordered = FileFacts { local_timestamp_backwards: 1, ..plain };
        let empty = FileFacts::default();
        let with = |key, status, facts| CoverageUnit {
            facts: Some(facts),
            ..unit("2026-10-01", "deribit", "book_snapshot_5", key, status, Some(10))
        };
        let units = vec![
            with("A", Status::StoredVerified, &plain),
            with("B", Status::StoredVerified, &crossed),
            with("C", Status::StoredVerified, &disordered),
            with("D", Status::Empty, &empty),
            unit("2026-10-01", "deribit", "book_snapshot_5", "E", Status::StoredVerified, Some(1)),
        ];
        let page = render(&coverage("2026-10-01", "2026-10-01", units));
        let data = data_block(&page);
        let row = &data["rows"][0];
        // -2.5 s is the second before the day (-3 in whole seconds, floored), 3600 s is "2s0", 86399 s is "1unz".
        assert_eq!(
            row["facts"],
            "14:-3:2s0:1:1unz:0:3:0::,14:-3:2s0:1:1unz:0:3:0:2:11,14:-3:2s0:1:1unz:1:3:0::,0:::::0:0:0::,"
        );
        assert_eq!(row["day_rows"], serde_json::json!([120]));
        assert_eq!(row["day_marked"], serde_json::json!([2]), "crossed and disordered");
        assert!(page.contains("<li id=\"marker\">"), "the marker's legend");
        assert!(page.contains("(2 file(s))"), "the marked files counted");
        assert!(page.contains("data-status=\"empty\" data-units=\"1\""), "the empty file's status");
        let unmarked = render(&coverage(
            "2026-10-01",
            "2026-10-01",
            vec![with("A", Status::StoredVerified, &plain)],
        ));
        assert!(!unmarked.contains("id=\"marker\""), "no marker, no legend line");
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
        let mut cells = Vec::with_capacity(DAYS as usize * INSTRUMENTS * DATA_TYPES.len());
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
                    // Sizes of real files: 100 KiB to 1 GiB, and facts as a download records them: up to 10
                    // million rows over the whole day, a few disorders, crossed rows for books.
                    let bytes = matches!(status, Status::StoredVerified | Status::StoredUnverified)
                        .then(|| 100 * 1024 + seed % (1 << 30));
                    let day_start =
                        date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_micros();
                    let book = data_type.starts_with("book") || data_type == "quotes";
                    let facts = (status == Status::StoredVerified).then(|| FileFacts {
                        rows: seed % 10_000_000,
                        first_timestamp: Some(day_start - 1_000 + (seed % 900_000) as i64),
                        last_timestamp: Some(day_start + 86_399_000_000 + (seed % 999_999) as i64),
                        first_local_timestamp: Some(day_start + (seed % 1_000_000) as i64),
                        last_local_timestamp: Some(day_start + 86_399_999_999),
                        local_timestamp_backwards: u64::from(seed.is_multiple_of(97)),
                        timestamp_backwards: seed % 5_000,
                        malformed_rows: 0,
                        crossed_rows: book.then_some(seed % 3),
                        locked_rows: book.then_some(seed % 40),
                    });
                    cells.push((date, data_type, key, status, bytes, facts));
                }
            }
        }
        let units: Vec<CoverageUnit<'_>> = cells
            .iter()
            .map(|(date, data_type, key, status, bytes, facts)| CoverageUnit {
                date: *date,
                exchange: "binance-futures",
                data_type,
                instrument_key: key,
                status: *status,
                bytes: *bytes,
                facts: facts.as_ref(),
            })
            .collect();
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
        // One status character and at most 7 base-36 size characters (up to 78 GB) per unit, its facts in at most 32
        // (rows, four moments in seconds of the day, five counts), and the keys once per row.
        let bound = 41 * model.units.len() + 1024 * 1024;
        assert!(page.len() < bound, "{} bytes, bound {bound}", page.len());
        assert!(page.len() > model.units.len(), "every unit is in the data");
        let elements = static_elements(&page);
        assert!(elements < 120, "{elements} elements in the static markup");
        let data = data_block(&page);
        assert_eq!(data["rows"].as_array().unwrap().len(), DATA_TYPES.len());
        assert_eq!(data["rows"][0]["worst"].as_str().unwrap().len(), DAYS as usize);
    }
}
