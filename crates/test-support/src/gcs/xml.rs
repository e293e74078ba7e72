//! The few XML documents of the XML API: written with quick-xml's escaping, read with its deserializer.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

/// Escapes text for XML content (`&`, `<`, `>`, `"`, `'`).
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
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

/// A `CompleteMultipartUpload` body, as object_store writes it.
#[derive(Debug, Deserialize)]
struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    parts: Vec<Part>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Part {
    part_number: u32,
    e_tag: String,
}

/// Reads the `(PartNumber, ETag)` pairs of a `CompleteMultipartUpload` body.
pub(crate) fn complete_parts(body: &str) -> Result<Vec<(u32, String)>, String> {
    let document: CompleteMultipartUpload = quick_xml::de::from_str(body)
        .map_err(|error| format!("bad CompleteMultipartUpload: {error}"))?;
    Ok(document
        .parts
        .into_iter()
        .map(|part| (part.part_number, part.e_tag.trim().to_owned()))
        .collect())
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
        assert!(
            complete_parts(
                "<CompleteMultipartUpload><Part><ETag>x</ETag></Part></CompleteMultipartUpload>"
            )
            .is_err()
        );
    }

    #[test]
    fn escapes_keys() {
        assert_eq!(escape("a&b<c>\"'"), "a&amp;b&lt;c&gt;&quot;&apos;");
    }
}
