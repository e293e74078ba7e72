//! The few XML documents of the XML API, written and read by hand.

use chrono::{DateTime, SecondsFormat, Utc};

/// Escapes text for XML content.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// An error document.
pub(crate) fn error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    )
}

/// One listed object.
pub(crate) struct ListedEntry<'a> {
    pub(crate) key: &'a str,
    pub(crate) size: usize,
    pub(crate) last_modified: DateTime<Utc>,
    pub(crate) e_tag: String,
}

/// A `ListBucketResult` page.
pub(crate) fn list(
    bucket: &str,
    prefix: &str,
    entries: &[ListedEntry<'_>],
    common_prefixes: &[String],
    next: Option<&str>,
) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>");
    out.push_str(&format!("<Name>{}</Name><Prefix>{}</Prefix>", escape(bucket), escape(prefix)));
    out.push_str(&format!("<KeyCount>{}</KeyCount>", entries.len() + common_prefixes.len()));
    out.push_str(&format!("<IsTruncated>{}</IsTruncated>", next.is_some()));
    for entry in entries {
        out.push_str(&format!(
            "<Contents><Key>{}</Key><Size>{}</Size><LastModified>{}</LastModified><ETag>{}</ETag></Contents>",
            escape(entry.key),
            entry.size,
            entry.last_modified.to_rfc3339_opts(SecondsFormat::Millis, true),
            escape(&entry.e_tag)
        ));
    }
    for prefix in common_prefixes {
        out.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            escape(prefix)
        ));
    }
    if let Some(next) = next {
        out.push_str(&format!("<NextContinuationToken>{}</NextContinuationToken>", escape(next)));
    }
    out.push_str("</ListBucketResult>");
    out
}

/// Reads the `(PartNumber, ETag)` pairs of a `CompleteMultipartUpload` body.
pub(crate) fn complete_parts(body: &str) -> Result<Vec<(u32, String)>, String> {
    let mut parts = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("<Part>") {
        let after = &rest[start + "<Part>".len()..];
        let end = after.find("</Part>").ok_or("unterminated <Part>")?;
        let part = &after[..end];
        let number = element(part, "PartNumber").ok_or("a <Part> without <PartNumber>")?;
        let e_tag = element(part, "ETag").ok_or("a <Part> without <ETag>")?;
        let number = number.trim().parse().map_err(|_| format!("bad PartNumber {number:?}"))?;
        parts.push((number, unescape(e_tag.trim())));
        rest = &after[end..];
    }
    Ok(parts)
}

fn element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&close)? + start;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parts_as_object_store_writes_them() {
        let body = "<CompleteMultipartUpload><Part><ETag>\"a\"</ETag><PartNumber>1</PartNumber></Part>\
                    <Part><ETag>&quot;b&quot;</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>";
        assert_eq!(
            complete_parts(body),
            Ok(vec![(1, "\"a\"".to_owned()), (2, "\"b\"".to_owned())])
        );
        assert!(complete_parts("<Part><ETag>x</ETag></Part>").is_err());
    }

    #[test]
    fn escapes_keys() {
        assert_eq!(escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
        assert_eq!(unescape(&escape("a&b<c>\"'")), "a&b<c>\"'");
    }
}
