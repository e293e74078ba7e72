//! A small JSON reader for what the fleet simulator reads back (`md-cli plan --json` lines and shard manifests), so
//! xtask needs no JSON dependency. Complete for JSON's grammar; numbers are kept as `f64`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// Parses one JSON document (surrounding whitespace allowed).
    pub(crate) fn parse(text: &str) -> Result<Json> {
        let mut parser = Parser { bytes: text.as_bytes(), at: 0 };
        let value = parser.value()?;
        parser.whitespace();
        if parser.at != parser.bytes.len() {
            bail!("trailing characters at byte {}", parser.at);
        }
        Ok(value)
    }

    /// The member `key` of an object, or `Null`.
    pub(crate) fn get(&self, key: &str) -> &Json {
        match self {
            Json::Object(members) => members.get(key).unwrap_or(&Json::Null),
            _ => &Json::Null,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(number) if *number >= 0.0 && number.fract() == 0.0 => Some(*number as u64),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn whitespace(&mut self) {
        while self.bytes.get(self.at).is_some_and(|byte| b" \t\r\n".contains(byte)) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        if self.peek() != Some(byte) {
            bail!("expected {:?} at byte {}", byte as char, self.at);
        }
        self.at += 1;
        Ok(())
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            bail!("expected {word} at byte {}", self.at);
        }
        self.at += word.len();
        Ok(value)
    }

    fn value(&mut self) -> Result<Json> {
        self.whitespace();
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                let mut members = BTreeMap::new();
                self.whitespace();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.whitespace();
                    let key = self.string()?;
                    self.whitespace();
                    self.expect(b':')?;
                    let value = self.value()?;
                    members.insert(key, value);
                    self.whitespace();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => bail!("expected , or }} at byte {}", self.at),
                    }
                }
            }
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.whitespace();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.whitespace();
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => bail!("expected , or ] at byte {}", self.at),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.at;
                while self.peek().is_some_and(|byte| b"+-.eE0123456789".contains(&byte)) {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.at])?;
                match text.parse::<f64>() {
                    Ok(number) => Ok(Json::Number(number)),
                    Err(_) => bail!("bad number {text:?} at byte {start}"),
                }
            }
            Some(other) => bail!("unexpected {:?} at byte {}", other as char, self.at),
            None => bail!("unexpected end of input"),
        }
    }

    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(byte) = self.peek() else { bail!("unterminated string") };
            self.at += 1;
            match byte {
                b'"' => return Ok(String::from_utf8(out)?),
                b'\\' => {
                    let Some(escape) = self.peek() else { bail!("unterminated escape") };
                    self.at += 1;
                    let plain = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let first = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&first) {
                                self.expect(b'\\')?;
                                self.expect(b'u')?;
                                let second = self.hex4()?;
                                0x10000
                                    + ((first - 0xD800) << 10)
                                    + (second.wrapping_sub(0xDC00) & 0x3FF)
                            } else {
                                first
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        other => bail!("bad escape \\{} at byte {}", other as char, self.at),
                    };
                    let mut buffer = [0u8; 4];
                    out.extend_from_slice(plain.encode_utf8(&mut buffer).as_bytes());
                }
                other => out.push(other),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.bytes.get(self.at..self.at + 4).unwrap_or_default();
        let text = std::str::from_utf8(digits)?;
        let Ok(code) = u32::from_str_radix(text, 16) else {
            bail!("bad \\u escape at byte {}", self.at)
        };
        self.at += 4;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_manifest_shaped_document() {
        let text = r#" {"status":"complete","units":{"planned":3,"done":2,"skipped":1},
            "done_objects":["a/b.csv.gz","c\"d\u00e9\ud83d\ude00"],"ratio":-1.5e2,"none":null,"ok":true,"empty":[],"o":{}} "#;
        let json = Json::parse(text).unwrap();
        assert_eq!(json.get("status").as_str(), Some("complete"));
        assert_eq!(json.get("units").get("done").as_u64(), Some(2));
        let objects = json.get("done_objects").as_array().unwrap();
        assert_eq!(objects[1].as_str(), Some("c\"d\u{e9}\u{1F600}"));
        assert_eq!(json.get("ratio"), &Json::Number(-150.0));
        assert_eq!(json.get("ratio").as_u64(), None);
        assert_eq!(json.get("missing"), &Json::Null);
        assert_eq!(json.get("ok"), &Json::Bool(true));
    }

    #[test]
    fn refuses_broken_documents() {
        for broken in ["{", "[1,]", "{\"a\" 1}", "\"open", "tru", "{} x", "1.2.3"] {
            assert!(Json::parse(broken).is_err(), "{broken:?} parsed");
        }
    }
}
