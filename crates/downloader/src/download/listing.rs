//! Whether Tardis's own dataset listing (`datasets.symbols` of `GET /v1/exchanges/{exchange}`) leaves a unit out:
//! a 404 for such a unit means the file does not exist (not offered), while a 404 for a unit the listing covers is
//! a failure worth a look.

use chrono::NaiveDate;
use tardis_client::wire::{ExchangeDetails, normalize_dataset_symbol};

/// Returns why the listing leaves out `symbol`'s `data_type` on `date` (the symbol not listed, the data type not
/// listed for it, or the day outside its `availableSince`..`availableTo`), or `None` when the listing covers it.
pub fn excludes(
    details: &ExchangeDetails,
    symbol: &str,
    data_type: &str,
    date: NaiveDate,
) -> Option<String> {
    let Some(datasets) = &details.datasets else {
        return Some(format!("{}'s details list no datasets", details.id));
    };
    let wanted = normalize_dataset_symbol(symbol);
    let Some(listed) =
        datasets.symbols.iter().find(|listed| normalize_dataset_symbol(&listed.id) == wanted)
    else {
        return Some(format!("{} does not list {symbol} for datasets", details.id));
    };
    if !listed.data_types.is_empty() && !listed.data_types.iter().any(|listed| listed == data_type)
    {
        return Some(format!("{} lists no {data_type} for {symbol}", details.id));
    }
    let start = date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let end = start + chrono::Duration::days(1);
    let outside = listed.available_since.is_some_and(|since| since >= end)
        || listed.available_to.is_some_and(|to| to <= start);
    outside.then(|| {
        let shown = |moment: Option<chrono::DateTime<chrono::Utc>>| {
            moment.map_or_else(
                || "-".to_owned(),
                |moment| moment.format("%Y-%m-%d %H:%M UTC").to_string(),
            )
        };
        format!(
            "{} lists {symbol} from {} to {}, which leaves out {date}",
            details.id,
            shown(listed.available_since),
            shown(listed.available_to)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(symbols: serde_json::Value) -> ExchangeDetails {
        serde_json::from_value(serde_json::json!({
            "id": "deribit", "name": "Deribit", "enabled": true,
            "availableSymbols": [], "incidentReports": [],
            "datasets": { "formats": ["csv"], "symbols": symbols },
        }))
        .expect("details")
    }

    #[test]
    fn a_day_outside_the_listing_or_an_unlisted_symbol_or_type_is_left_out() {
        let details = details(serde_json::json!([{
            "id": "BTC-PERPETUAL", "type": "perpetual",
            "availableSince": "2026-10-01T00:00:00.000Z", "availableTo": "2026-10-04T00:00:00.000Z",
            "dataTypes": ["trades", "quotes"],
        }]));
        let day = |text: &str| text.parse::<NaiveDate>().unwrap();
        for (symbol, data_type, date, left_out) in [
            ("BTC-PERPETUAL", "trades", "2026-10-01", false),
            ("btc-perpetual", "trades", "2026-10-03", false),
            ("BTC-PERPETUAL", "trades", "2026-10-04", true),
            ("BTC-PERPETUAL", "trades", "2026-09-30", true),
            ("BTC-PERPETUAL", "book_snapshot_5", "2026-10-02", true),
            ("ETH-PERPETUAL", "trades", "2026-10-02", true),
        ] {
            let why = excludes(&details, symbol, data_type, day(date));
            assert_eq!(why.is_some(), left_out, "{symbol} {data_type} {date}: {why:?}");
        }
        let why = excludes(&details, "BTC-PERPETUAL", "trades", day("2026-10-05")).unwrap();
        assert!(why.contains("from 2026-10-01 00:00 UTC to 2026-10-04 00:00 UTC"), "{why}");
    }
}
