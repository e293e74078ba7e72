//! Expiry dates in keys: `YYMMDD`, years 2000 to 2099.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
/// Formats a date as `YYMMDD`.
pub(crate) fn yymmdd(date: NaiveDate) -> String {
    let mut text = String::with_capacity(6);
    push_yymmdd(&mut text, date);
    text
}

pub(super) fn push_yymmdd(out: &mut String, date: NaiveDate) {
    // Years are 2000..=2099 (checked in `InstrumentKey::new`).
    for number in [date.year().rem_euclid(100) as u32, date.month(), date.day()] {
        out.push(char::from(b'0' + (number / 10) as u8));
        out.push(char::from(b'0' + (number % 10) as u8));
    }
}

/// Reads `YYMMDD` (years 2000 to 2099).
pub(crate) fn parse_yymmdd(text: &str) -> Result<NaiveDate> {
    let number =
        |range: std::ops::Range<usize>| text.get(range).and_then(|part| part.parse::<u32>().ok());
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid_key(text, "an expiry is YYMMDD"));
    }
    match (number(0..2), number(2..4), number(4..6)) {
        (Some(year), Some(month), Some(day)) => {
            NaiveDate::from_ymd_opt(2000 + year as i32, month, day)
                .ok_or_else(|| invalid_key(text, "an expiry is a calendar date YYMMDD"))
        }
        _ => Err(invalid_key(text, "an expiry is YYMMDD")),
    }
}
