//! Synthetic listings for the benchmark: [`synthetic_instruments`] builds a Deribit-shaped listing (most
//! instruments are inverse options whose strike currency comes from the venue's symbol rule, as on the real venue).

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use instruments::{Instrument, InstrumentType, OptionType, Terms};

const BASES: [&str; 8] = ["BTC", "ETH", "SOL", "XRP", "AVAX", "MATIC", "DOGE", "ADA"];
const MONTHS: [&str; 12] =
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// Returns `count` synthetic Deribit instruments, numbered from `start`; every number gives a distinct key.
/// Of every 8: one spot pair, one perpetual, one future and five options.
pub(crate) fn synthetic_instruments(start: u64, count: usize) -> Vec<Instrument> {
    (start..start + count as u64).map(synthetic_instrument).collect()
}

/// Returns synthetic instrument number `index` (see [`synthetic_instruments`]).
pub(crate) fn synthetic_instrument(index: u64) -> Instrument {
    let since: DateTime<Utc> = DateTime::from_timestamp(1_546_300_800, 0).unwrap_or_default(); // 2019-01-01
    let first_expiry = NaiveDate::from_ymd_opt(2024, 1, 5).unwrap_or_default();
    let expiry_date = first_expiry + Duration::days((index % 700) as i64);
    let expiry = expiry_date.and_hms_opt(8, 0, 0).map(|time| time.and_utc());
    let deribit_date = format!(
        "{}{}{:02}",
        expiry_date.day(),
        MONTHS[expiry_date.month0() as usize],
        expiry_date.year() % 100
    );
    let coin = format!("C{index}");
    let (id, base, quote, kind, strike, option_type) = match index % 8 {
        0 => (format!("{coin}_USDC"), coin, "USDC".to_owned(), InstrumentType::Spot, None, None),
        1 => (
            format!("{coin}-PERPETUAL"),
            coin,
            "USD".to_owned(),
            InstrumentType::Perpetual,
            None,
            None,
        ),
        2 => (
            format!("{coin}-{deribit_date}"),
            coin,
            "USD".to_owned(),
            InstrumentType::Future,
            None,
            None,
        ),
        _ => {
            let base = BASES[(index % BASES.len() as u64) as usize].to_owned();
            let strike = 100.0 + (index / 8) as f64 * 0.5;
            let right = if index.is_multiple_of(2) { "C" } else { "P" };
            let strike_text = strike.to_string().replace('.', "d");
            let option_type = if right == "C" { OptionType::Call } else { OptionType::Put };
            (
                format!("{base}-{deribit_date}-{strike_text}-{right}"),
                base.clone(),
                base,
                InstrumentType::Option,
                Some(strike),
                Some(option_type),
            )
        }
    };
    let dated = matches!(kind, InstrumentType::Future | InstrumentType::Option);
    Instrument {
        expiry: if dated { expiry } else { None },
        strike,
        option_type,
        terms: Terms {
            underlying_index: dated.then(|| format!("{base}-{deribit_date}")),
            inverse: Some(kind != InstrumentType::Spot),
            contract_size: Some(1.0),
            tick_size: Some(0.5),
            amount_increment: Some(1.0),
            min_size: Some(1.0),
            maker_fee: Some(0.0),
            taker_fee: Some(0.0005),
            ..Terms::default()
        },
        ..Instrument::new("deribit", &id, kind, &base, &quote, since)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn synthetic_instruments_all_get_distinct_keys() {
        let instruments = synthetic_instruments(0, 4_000);
        let keys: Vec<String> = instruments::assign_keys("deribit", &instruments)
            .into_iter()
            .map(|key| key.unwrap().as_str().to_owned())
            .collect();
        assert_eq!(keys.len(), 4_000);
        assert_eq!(keys.iter().collect::<HashSet<_>>().len(), 4_000);
        assert!(keys.iter().all(|key| !key.contains('~')), "no variants needed");
        assert_eq!(keys[3], "DERIBIT:OPTION:XRP-USD-240108-100-PUT");
        assert_eq!(keys[0], "DERIBIT:SPOT_PAIR:C0-USDC");
        assert_eq!(synthetic_instrument(12), synthetic_instruments(12, 1)[0]);
    }
}
