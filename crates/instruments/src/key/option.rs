//! The option parts of a key: [`OptionType`] (`CALL`, `PUT`) and [`Strike`], a canonical decimal held inline.

#[allow(
    clippy::wildcard_imports,
    reason = "the key grammar's parts share one namespace, the parent module's"
)]
use super::*;
/// `CALL` or `PUT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OptionType {
    /// A call.
    Call,
    /// A put.
    Put,
}

impl OptionType {
    /// Returns the key spelling (`CALL`, `PUT`).
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::Call => "CALL",
            OptionType::Put => "PUT",
        }
    }

    /// Reads Tardis and exchange spellings: `call`, `put`, `C`, `P` (any case).
    pub fn from_tardis(text: &str) -> Option<OptionType> {
        if text.eq_ignore_ascii_case("call") || text.eq_ignore_ascii_case("c") {
            Some(OptionType::Call)
        } else if text.eq_ignore_ascii_case("put") || text.eq_ignore_ascii_case("p") {
            Some(OptionType::Put)
        } else {
            None
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An option strike in canonical decimal text: no exponent, no float noise, no trailing zeros
/// (`0.625`, `1500`, `85000`). Held inline (no allocation), at most 40 characters.
#[derive(Clone, Copy)]
pub struct Strike {
    len: u8,
    bytes: [u8; MAX_STRIKE_LEN],
}

impl Strike {
    /// Returns the strike of a decimal value, printed as the shortest text that reads back as the same `f64`.
    ///
    /// # Errors
    /// Rejects negative, infinite and NaN values, and values whose text would be longer than 40 characters.
    pub fn from_f64(value: f64) -> Result<Strike> {
        if !value.is_finite() || value < 0.0 {
            return Err(invalid_key(
                &value.to_string(),
                "a strike must be a finite, non-negative number",
            ));
        }
        // `-0.0` compares equal to `0.0` but prints as `-0`.
        let value = if value == 0.0 { 0.0 } else { value };
        let mut strike = Strike { len: 0, bytes: [0; MAX_STRIKE_LEN] };
        if strike.write_short_decimal(value) {
            // Canonical by construction: digits, and no trailing zero after a point.
            return Ok(strike);
        }
        // Rust prints floats as the shortest round-trip text and never with an exponent.
        if write!(strike, "{value}").is_err() {
            return Err(invalid_key(&value.to_string(), "a strike has 1 to 40 characters"));
        }
        Strike::parse(strike.as_str())
    }

    /// Writes `value` (finite, non-negative) as `m / 10^k` for the smallest `k <= 9` that reads back exactly, with
    /// `m < 2^50`; returns `false`, writing nothing, when there is none. The text equals what `Display` prints (the
    /// shortest round-trip text), without its cost: every integer below 2^53 needs all its digits, and a shorter
    /// fraction would have been found at a smaller `k`. A property test holds the two equal.
    fn write_short_decimal(&mut self, value: f64) -> bool {
        const POWERS: [f64; 10] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
        const LIMIT: f64 = (1u64 << 50) as f64;
        for (decimals, power) in POWERS.iter().enumerate() {
            let scaled = (value * power).round();
            if scaled >= LIMIT {
                return false;
            }
            if scaled / power == value {
                let scaled = scaled as u64;
                if decimals > 0 && scaled.is_multiple_of(10) {
                    // Not the shortest: leave it to `Display`.
                    return false;
                }
                self.push_scaled(scaled, decimals);
                return true;
            }
        }
        false
    }

    /// Writes `scaled / 10^decimals` in fixed notation without trailing zeros.
    fn push_scaled(&mut self, scaled: u64, decimals: usize) {
        let mut digits = [0u8; 20];
        let mut count = 0;
        let mut rest = scaled;
        loop {
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        // Digits are in reverse order; pad with zeros so that there is an integer digit.
        while count <= decimals {
            digits[count] = b'0';
            count += 1;
        }
        let mut len = 0;
        for position in (0..count).rev() {
            if position + 1 == decimals {
                self.bytes[len] = b'.';
                len += 1;
            }
            self.bytes[len] = digits[position];
            len += 1;
        }
        self.len = len as u8;
    }

    /// Reads a decimal number in any notation Rust's `f64` parser accepts (`100000`, `0.50`, `1e3`) and
    /// returns its canonical strike.
    ///
    /// # Errors
    /// Fails on text that is not a number, and on the values [`Strike::from_f64`] rejects.
    pub fn from_decimal_text(text: &str) -> Result<Strike> {
        let value: f64 =
            text.parse().map_err(|_| invalid_key(text, "a strike must be a decimal number"))?;
        Strike::from_f64(value)
    }

    /// Reads a strike in canonical form only: `0` or digits without a leading zero, optionally followed by `.`
    /// and digits without a trailing zero.
    ///
    /// # Errors
    /// Fails on any other text, including non-canonical spellings of valid numbers (`1500.0`, `01`).
    pub fn parse(text: &str) -> Result<Strike> {
        if text.is_empty() || text.len() > MAX_STRIKE_LEN {
            return Err(invalid_key(text, "a strike has 1 to 40 characters"));
        }
        let (integer, fraction) = match text.split_once('.') {
            Some((integer, fraction)) => (integer, Some(fraction)),
            None => (text, None),
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let canonical_integer = digits(integer) && (integer == "0" || !integer.starts_with('0'));
        let canonical_fraction = fraction.is_none_or(|part| digits(part) && !part.ends_with('0'));
        if !(canonical_integer && canonical_fraction) {
            return Err(invalid_key(
                text,
                "a strike is a canonical decimal such as 0.625, 1500 or 85000",
            ));
        }
        let mut bytes = [0; MAX_STRIKE_LEN];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Ok(Strike { len: text.len() as u8, bytes })
    }

    /// Returns the canonical text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and `.` are ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Returns the value.
    pub fn value(&self) -> f64 {
        // Canonical text always parses.
        self.as_str().parse().unwrap_or(f64::NAN)
    }
}

impl fmt::Write for Strike {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let start = usize::from(self.len);
        let end = start + text.len();
        if end > MAX_STRIKE_LEN {
            return Err(fmt::Error);
        }
        self.bytes[start..end].copy_from_slice(text.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl PartialEq for Strike {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Strike {}

impl std::hash::Hash for Strike {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Strike").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Strike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
