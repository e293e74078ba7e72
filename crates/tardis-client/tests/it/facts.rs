//! Per-file facts of hand-made files with known disorder, crossed and locked books, gzipped (in one member or
//! several, cut anywhere) and read back through `GzipReader::with_facts`, fed in pieces of several sizes: the facts
//! must be exactly the ones worked out by hand below.

use std::io::{Read, Write};

use rstest::rstest;
use tardis_client::facts::FileFacts;
use tardis_client::gzip::GzipReader;

const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";
const QUOTES_HEADER: &str =
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount";
const BOOK_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,\
                           bids[0].amount,asks[1].price,asks[1].amount,bids[1].price,bids[1].amount";

/// Facts of a file whose rows are all well formed.
fn facts(
    rows: u64,
    first: (i64, i64),
    last: (i64, i64),
    backwards: (u64, u64),
    book: Option<(u64, u64)>,
) -> FileFacts {
    FileFacts {
        rows,
        first_timestamp: Some(first.0),
        first_local_timestamp: Some(first.1),
        last_timestamp: Some(last.0),
        last_local_timestamp: Some(last.1),
        timestamp_backwards: backwards.0,
        local_timestamp_backwards: backwards.1,
        malformed_rows: 0,
        crossed_rows: book.map(|(crossed, _)| crossed),
        locked_rows: book.map(|(_, locked)| locked),
    }
}

/// `text` as gzip in `members` members of about equal length (cut anywhere, even inside a row).
fn gzip(text: &str, members: usize) -> Vec<u8> {
    let bytes = text.as_bytes();
    let cut = bytes.len().div_ceil(members.max(1)).max(1);
    let mut out = Vec::new();
    // An empty text is one empty member (what Tardis serves for a day without data).
    let members: Vec<&[u8]> =
        if bytes.is_empty() { vec![bytes] } else { bytes.chunks(cut).collect() };
    for member in members {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(member).expect("in memory");
        out.extend(encoder.finish().expect("in memory"));
    }
    out
}

/// The facts `GzipReader::with_facts` learns from `gzip`, read `piece` bytes at a time.
fn read_facts(gzip: &[u8], piece: usize) -> FileFacts {
    let mut reader = GzipReader::new(std::io::BufReader::with_capacity(7, gzip)).with_facts();
    let mut buffer = vec![0; piece];
    while reader.read(&mut buffer).expect("a valid gzip") > 0 {}
    reader.facts().expect("facts once read to the end")
}

#[rstest]
#[case::trades_in_order(
    &[TRADES_HEADER,
      "binance-futures,BTCUSDT,1790812800046469,1790812800055969,989683632,buy,64582,0.138",
      "binance-futures,BTCUSDT,1790812800085932,1790812800117045,989683633,sell,64585.5,0.604",
      "binance-futures,BTCUSDT,1790812800085932,1790812800117046,989683634,sell,64585.5,0.1"],
    facts(3, (1790812800046469, 1790812800055969), (1790812800085932, 1790812800117046), (0, 0), None))]
#[case::trades_with_disorder(
    // The exchange's clock goes back twice (rows 2 and 4), the receiver's once (row 3); equal stamps are in order.
    &[TRADES_HEADER,
      "deribit,BTC-PERPETUAL,1790812800000500,1790812800001000,1,buy,5,1",
      "deribit,BTC-PERPETUAL,1790812800000400,1790812800001000,2,buy,5,1",
      "deribit,BTC-PERPETUAL,1790812800000600,1790812800000900,3,sell,5,1",
      "deribit,BTC-PERPETUAL,1790812800000100,1790812800002000,4,buy,5,1",
      "deribit,BTC-PERPETUAL,1790812800000100,1790812800002000,5,buy,5,1"],
    facts(5, (1790812800000500, 1790812800001000), (1790812800000100, 1790812800002000), (2, 1), None))]
#[case::quotes_crossed_and_locked(
    // ask_price, bid_price: in order by a half tick (either cell the longer), locked as `100.5`/`100.50`, crossed
    // by a half tick, locked as `70225`/`70225.0`, then across a digit: bid `99.9` under ask `100` is in order, bid
    // `100` over ask `99.9` is crossed.
    &[QUOTES_HEADER,
      "bybit,BTCUSD,1790812800000001,1790812800000011,1.16,70225,70224.5,2.288",
      "bybit,BTCUSD,1790812800000002,1790812800000012,1.16,70225.5,70225,2.288",
      "bybit,BTCUSD,1790812800000003,1790812800000013,1.16,100.5,100.50,2.288",
      "bybit,BTCUSD,1790812800000004,1790812800000014,1.16,70225,70225.5,2.288",
      "bybit,BTCUSD,1790812800000005,1790812800000015,1.16,70225,70225.0,2.288",
      "bybit,BTCUSD,1790812800000006,1790812800000016,1.16,100,99.9,2.288",
      "bybit,BTCUSD,1790812800000007,1790812800000017,1.16,99.9,100,2.288"],
    facts(7, (1790812800000001, 1790812800000011), (1790812800000007, 1790812800000017), (0, 0), Some((2, 2))))]
#[case::book_snapshot_with_a_side_empty(
    // Best ask, then best bid: crossed, in order, an empty bid side (never counts), locked.
    &[BOOK_HEADER,
      "okex-swap,BTC-USDT-SWAP,1790812800000001,1790812800000002,75955.5,0.793,75956,1.084,75956,2.841,75954.5,1.384",
      "okex-swap,BTC-USDT-SWAP,1790812800000003,1790812800000004,75955.5,0.793,75955,1.084,75956,2.841,75954.5,1.384",
      "okex-swap,BTC-USDT-SWAP,1790812800000005,1790812800000006,75955.5,0.793,,,75956,2.841,,",
      "okex-swap,BTC-USDT-SWAP,1790812800000007,1790812800000008,75955,0.793,75955,1.084,75956,2.841,75954.5,1.384"],
    facts(4, (1790812800000001, 1790812800000002), (1790812800000007, 1790812800000008), (0, 0), Some((1, 1))))]
#[case::grouped_symbols_interleaved(
    // A grouped file: every row's symbol differs from the one before; the receiver's clock goes back once.
    &[TRADES_HEADER,
      "deribit,BTC-27DEC26-100000-C,1790812800000010,1790812800000020,1,buy,0.05,1",
      "deribit,ETH-27DEC26-4000-P,1790812800000005,1790812800000030,2,sell,0.1,2",
      "deribit,BTC-27DEC26-100000-C,1790812800000040,1790812800000025,3,buy,0.05,1",
      "deribit,SOL-27DEC26-200-C,1790812800000050,1790812800000060,4,buy,0.5,3"],
    facts(4, (1790812800000010, 1790812800000020), (1790812800000050, 1790812800000060), (1, 1), None))]
fn hand_made_files_have_exactly_their_facts(
    #[case] lines: &[&str],
    #[case] expected: FileFacts,
    #[values(1, 2, 5)] members: usize,
    #[values(1, 13, 4096)] piece: usize,
) {
    let text = lines.join("\n") + "\n";
    assert_eq!(read_facts(&gzip(&text, members), piece), expected);
    // CRLF line ends and no final line end: the same facts.
    let crlf = lines.join("\r\n");
    assert_eq!(read_facts(&gzip(&crlf, members), piece), expected, "CRLF, no final newline");
}

#[rstest]
#[case::nothing("", FileFacts::default())]
#[case::header_only(&(TRADES_HEADER.to_owned() + "\n"), FileFacts::default())]
#[case::quotes_header_only(
    &(QUOTES_HEADER.to_owned() + "\n"),
    FileFacts { crossed_rows: Some(0), locked_rows: Some(0), ..FileFacts::default() })]
#[case::malformed_rows(
    // A timestamp with a fraction, a row cut short, then a good row.
    &[TRADES_HEADER, "x,S,1790812800000001.5,1790812800000002,1,buy,5,1", "x,S,1790812800000003", "x,S,1790812800000004,1790812800000005,2,buy,5,1", ""].join("\n"),
    FileFacts { rows: 3, malformed_rows: 2, ..facts(3, (1790812800000004, 1790812800000005), (1790812800000004, 1790812800000005), (0, 0), None) })]
fn empty_and_malformed_files(#[case] text: &str, #[case] expected: FileFacts) {
    let facts = read_facts(&gzip(text, 1), 64);
    assert_eq!(facts, expected);
    assert_eq!(facts.is_empty(), expected.rows == 0);
}
