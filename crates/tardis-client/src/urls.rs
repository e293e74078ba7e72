//! Building Tardis URLs: dataset files, metadata calls, retry markers.

use chrono::{Datelike, NaiveDate};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::Url;

/// What Python's `quote(s, safe='')` leaves alone: letters, digits and `_.-~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~');

/// Normalises and percent-encodes a dataset symbol for a download URL, as the official clients do:
/// upper case, `:` and `/` replaced by `-`, then every byte except letters, digits and `_.-~` percent-encoded.
pub fn encode_dataset_symbol(symbol: &str) -> String {
    encode_segment(&crate::wire::normalize_dataset_symbol(symbol))
}

/// Percent-encodes one path segment like Python's `quote(s, safe='')`.
pub(crate) fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, UNRESERVED).to_string()
}

/// Returns `base` with `path` (already encoded, starting with `/`) appended to its own path.
pub(crate) fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// The URL of one dataset file: `{base}/v1/{exchange}/{data_type}/{YYYY}/{MM}/{DD}/{symbol}.csv.gz`.
pub(crate) fn dataset_url(
    base: &Url,
    exchange: &str,
    data_type: &str,
    date: NaiveDate,
    symbol: &str,
) -> Url {
    let path = format!(
        "/v1/{}/{}/{:04}/{:02}/{:02}/{}.csv.gz",
        encode_segment(exchange),
        encode_segment(data_type),
        date.year(),
        date.month(),
        date.day(),
        encode_dataset_symbol(symbol),
    );
    join(base, &path)
}

/// The URL of attempt `attempt` (1-based): retries carry `?retryAttempt=N` (N = the retry number) as the official
/// clients send, so a CDN never answers a retry from a cached error.
pub(crate) fn attempt_url(url: &Url, attempt: u32) -> Url {
    if attempt <= 1 {
        return url.clone();
    }
    let mut url = url.clone();
    url.query_pairs_mut().append_pair("retryAttempt", &(attempt - 1).to_string());
    url
}

/// Returns whether two URLs share scheme, host and port.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_urls_match_the_official_clients() {
        let base = Url::parse("https://datasets.tardis.dev").unwrap();
        let date = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        for (symbol, expected) in [
            ("BTC-PERPETUAL", "BTC-PERPETUAL"),
            ("btcusdt", "BTCUSDT"),
            ("BTC/USD:BTC", "BTC-USD-BTC"),
            ("OPTIONS", "OPTIONS"),
            ("BTC USD+1", "BTC%20USD%2B1"),
        ] {
            assert_eq!(
                dataset_url(&base, "deribit", "incremental_book_L2", date, symbol).as_str(),
                format!(
                    "https://datasets.tardis.dev/v1/deribit/incremental_book_L2/2024/03/01/{expected}.csv.gz"
                )
            );
        }
        let prefixed = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        assert_eq!(
            dataset_url(&prefixed, "bitmex", "trades", date, "XBTUSD").as_str(),
            "http://127.0.0.1:9/prefix/v1/bitmex/trades/2024/03/01/XBTUSD.csv.gz"
        );
        let url = dataset_url(&base, "bitmex", "trades", date, "XBTUSD");
        assert_eq!(attempt_url(&url, 1), url);
        assert!(attempt_url(&url, 3).as_str().ends_with(".csv.gz?retryAttempt=2"));
    }
}
