//! Parsers for the text of one CSV cell: decimal numbers, integer timestamps and booleans.
//!
//! The number parsers take a fast path for the plain decimals Tardis writes (`-123.456`) and fall back to the standard
//! library for anything else (exponents, `NaN`, very long mantissas), so every result is correctly rounded.

/// Exact powers of ten representable as `f64`.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses a decimal number, correctly rounded to the nearest `f64`.
///
/// Returns `None` when `text` is not a number.
#[inline]
pub(crate) fn parse_f64(text: &[u8]) -> Option<f64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let mut mantissa: u64 = 0;
    let mut significant = 0usize;
    let mut fraction_digits = 0usize;
    let mut seen_point = false;
    let mut seen_digit = false;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                seen_digit = true;
                if significant > 0 || byte != b'0' {
                    significant += 1;
                }
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(byte - b'0'));
                if seen_point {
                    fraction_digits += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return parse_f64_slow(text),
        }
    }
    // Clinger's fast path: an exact mantissa divided by an exact power of ten rounds correctly.
    if !seen_digit || significant > 15 || fraction_digits >= POWERS_OF_TEN.len() {
        return parse_f64_slow(text);
    }
    // At most 15 significant digits: below 2^53, so the conversion is exact.
    let value = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some(if negative { -value } else { value })
}

/// Returns whether `input[at]` ends a cell: a comma, a line end, a `\r` before a line end, or the end of the input.
#[inline]
pub(crate) fn ends_cell(input: &[u8], at: usize) -> bool {
    match input.get(at) {
        None | Some(b',' | b'\n') => true,
        Some(b'\r') => matches!(input.get(at + 1), None | Some(b'\n')),
        Some(_) => false,
    }
}

/// Returns the position where the cell starting at `start` ends (see [`ends_cell`]).
#[inline]
pub(crate) fn cell_end(input: &[u8], start: usize) -> usize {
    let mut at = start;
    loop {
        match memchr::memchr3(b',', b'\n', b'\r', &input[at..]) {
            None => return input.len(),
            Some(offset) => {
                at += offset;
                if ends_cell(input, at) {
                    return at;
                }
                at += 1;
            }
        }
    }
}

/// Whether a `-` stands at `start`, and where the digits begin.
#[inline]
fn sign(input: &[u8], start: usize) -> (bool, usize) {
    let negative = input.get(start) == Some(&b'-');
    (negative, start + usize::from(negative))
}

/// Reads a plain decimal (`-123.456`, at most 15 significant digits) at `start`, stopping at the first other byte.
///
/// Returns the value and the position after it, or `None` when the text is not such a decimal (the caller then
/// finds the cell's end and uses [`parse_f64`], which handles every other form).
#[inline]
pub(crate) fn scan_f64(input: &[u8], start: usize) -> Option<(f64, usize)> {
    let (negative, mut at) = sign(input, start);
    let mut mantissa: u64 = 0;
    let mut significant = 0usize;
    let mut fraction_digits = 0usize;
    let mut seen_point = false;
    let digits_start = at;
    while let Some(&byte) = input.get(at) {
        match byte {
            b'0'..=b'9' => {
                if significant > 0 || byte != b'0' {
                    significant += 1;
                }
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(byte - b'0'));
                fraction_digits += usize::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        at += 1;
    }
    let digits = at - digits_start - usize::from(seen_point);
    if digits == 0 || significant > 15 || fraction_digits >= POWERS_OF_TEN.len() {
        return None;
    }
    // At most 15 significant digits: below 2^53, so the conversion is exact.
    let value = mantissa as f64 / POWERS_OF_TEN[fraction_digits];
    Some((if negative { -value } else { value }, at))
}

/// Reads an integer of at most 18 digits (with an optional `-`) at `start`, stopping at the first other byte.
#[inline]
pub(crate) fn scan_i64(input: &[u8], start: usize) -> Option<(i64, usize)> {
    let (negative, mut at) = sign(input, start);
    let digits_start = at;
    let mut value: i64 = 0;
    while let Some(&byte) = input.get(at) {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            break;
        }
        value = value * 10 + i64::from(digit);
        at += 1;
        if at - digits_start > 18 {
            return None;
        }
    }
    if at == digits_start {
        return None;
    }
    Some((if negative { -value } else { value }, at))
}

#[cold]
fn parse_f64_slow(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    // Rust accepts `inf`, `infinity` and `nan` in any case, and a leading `+`; so do pandas and DuckDB.
    text.parse::<f64>().ok()
}

/// Parses a base-10 integer with an optional leading `-`.
#[inline]
pub(crate) fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(digit))?;
    }
    if negative { 0i64.checked_sub_unsigned(value) } else { i64::try_from(value).ok() }
}

/// Parses `true` or `false`.
#[inline]
pub(crate) fn parse_bool(text: &[u8]) -> Option<bool> {
    match text {
        b"true" => Some(true),
        b"false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_match_the_standard_library() {
        let cases = [
            "0",
            "-0",
            "1",
            "98926.2",
            "0.001",
            "-0.92595",
            "0.00009499",
            "1790812800000000",
            "123456789012345",
            "1234567890123456789",
            "0.1234567890123456789",
            "1e5",
            "1.5E-7",
            "NaN",
            "inf",
            "-infinity",
            "+3.5",
            "9007199254740993",
            "0.30000000000000004",
            "00012.5000",
            ".5",
            "5.",
            "100057.3",
            "3286.52",
        ];
        for case in cases {
            let expected: f64 = case.parse().unwrap();
            let actual = parse_f64(case.as_bytes()).unwrap();
            assert!(
                actual.to_bits() == expected.to_bits() || (actual.is_nan() && expected.is_nan()),
                "{case}: {actual} != {expected}"
            );
        }
        for bad in ["", "-", ".", "1.2.3", "abc", "1,5", "1-2", " 1"] {
            assert_eq!(parse_f64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_round_correctly_over_many_decimals() {
        let mut state: u64 = 1;
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let digits = (state >> 33) % 1_000_000_000_000_000;
            let scale = ((state >> 20) % 16) as usize;
            let text = format!("{digits}");
            let text = if scale > 0 && scale < text.len() {
                format!("{}.{}", &text[..text.len() - scale], &text[text.len() - scale..])
            } else {
                text
            };
            let expected: f64 = text.parse().unwrap();
            assert_eq!(parse_f64(text.as_bytes()).unwrap().to_bits(), expected.to_bits(), "{text}");
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"1790812800000000"), Some(1_790_812_800_000_000));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in ["", "-", "9223372036854775808", "1.5", "12a", "+1", "99999999999999999999"] {
            assert_eq!(parse_i64(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn scanning_stops_at_the_cell_end() {
        assert_eq!(scan_f64(b"98926.2,1", 0), Some((98926.2, 7)));
        assert_eq!(scan_f64(b"x,-0.5\n", 2), Some((-0.5, 6)));
        assert_eq!(
            scan_f64(b"1e5,", 0),
            Some((1.0, 1)),
            "stops at the exponent; the caller checks the end"
        );
        assert_eq!(scan_f64(b"-,", 0), None);
        assert_eq!(scan_f64(b".,", 0), None);
        assert_eq!(scan_f64(b"1234567890.1234567,", 0), None, "too many digits for the fast path");
        assert_eq!(scan_i64(b"1790812800000000,", 0), Some((1_790_812_800_000_000, 16)));
        assert_eq!(scan_i64(b"-12\r\n", 0), Some((-12, 3)));
        assert_eq!(scan_i64(b"1234567890123456789", 0), None);
        assert_eq!(scan_i64(b"a", 0), None);
        assert!(ends_cell(b"1\r\n", 1));
        assert!(ends_cell(b"1\r", 1));
        assert!(!ends_cell(b"1\rx", 1));
        assert_eq!(cell_end(b"ab\rc,d", 0), 4);
        assert_eq!(cell_end(b"ab\r\n", 0), 2);
        assert_eq!(cell_end(b"abc", 0), 3);
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"true"), Some(true));
        assert_eq!(parse_bool(b"false"), Some(false));
        assert_eq!(parse_bool(b"True"), None);
    }
}
