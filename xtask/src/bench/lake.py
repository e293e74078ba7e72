"""cargo xtask bench lake: one day of one symbol's trades read with DuckDB from a lake in md's default layout (a glob
over by_date/) and in the hive layout (its views, and an explicit file list taken from the daily index).

argv: work directory, days, instruments per day, runs. Builds both lakes once (cached under the work directory):
the same small trades files (and book_snapshot_5 and quotes beside them, as a bucket holds) at the default layout's
names and at the hive preset's, and the hive lake's daily index of trades (raw_tick_data_index/data_type=trades/
date=D/part-0-of-1.parquet, the columns of md's index,
downloader::download::index::schema). Prints one JSON line per way of reading: files DuckDB
listed and read (its EXPLAIN ANALYZE profile), rows found, and the median wall seconds of `runs` fresh connections.
"""
import glob
import json
import os
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

work, days, instruments, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
DATA_TYPES = ["trades", "book_snapshot_5", "quotes"]
EXCHANGE = "binance-futures"
ROWS = 200
default_root = os.path.join(work, "default")
hive_root = os.path.join(work, "hive")
start = date(2026, 9, 1)
dates = [start + timedelta(days=n) for n in range(days)]
symbols = [f"SYM{n:04d}USDT" for n in range(instruments)]
key = lambda symbol: f"BINANCE-FUTURES:PERPETUAL:{symbol[:-4]}-USDT"
marker = os.path.join(work, f"built-v2-{days}-{instruments}")


def UTC(micros):
    return datetime.fromtimestamp(micros / 1e6, tz=timezone.utc)


def table(data_type, day, n):
    base = int(time.mktime(day.timetuple())) * 1_000_000
    ts = [base + i * 1_000 for i in range(ROWS)]
    columns = {"timestamp": ts, "local_timestamp": ts}
    if data_type == "trades":
        columns |= {"id": [str(i) for i in range(ROWS)], "side": ["buy"] * ROWS,
                    "price": [100.0 + n + i / 100 for i in range(ROWS)], "amount": [1.0] * ROWS}
    else:
        columns |= {"ask_price_1": [101.0] * ROWS, "bid_price_1": [100.0] * ROWS}
    return pa.table(columns)


if not os.path.exists(marker):
    for day in dates:
        index = []
        for data_type in DATA_TYPES:
            for n, symbol in enumerate(symbols):
                data = table(data_type, day, n)
                default = os.path.join(default_root, f"raw_tick_data/by_date/day-{day}/data_type-{data_type}/{key(symbol)}.parquet")
                relative = f"raw_tick_data/data_type={data_type}/exchange={EXCHANGE}/date={day}/{key(symbol).replace(':', '%3A')}.parquet"
                hive = os.path.join(hive_root, relative)
                hive_data = data.add_column(0, "symbol", pa.array([symbol] * ROWS)).add_column(0, "instrument_key", pa.array([key(symbol)] * ROWS))
                for path, written in ((default, data), (hive, hive_data)):
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    pq.write_table(written, path)
                if data_type == "trades":
                    first, last = UTC(data["timestamp"][0].as_py()), UTC(data["timestamp"][-1].as_py())
                    index.append({"path": relative, "format": "parquet", "instrument_key": key(symbol),
                                  "exchange": EXCHANGE, "symbol": symbol, "date": day, "data_type": data_type,
                                  "rows": ROWS, "bytes": os.path.getsize(hive), "first_timestamp": first,
                                  "last_timestamp": last, "first_local_timestamp": first,
                                  "last_local_timestamp": last, "crc32c": None, "status": "stored"})
        part = os.path.join(hive_root, f"raw_tick_data_index/data_type=trades/date={day}/part-0-of-1.parquet")
        os.makedirs(os.path.dirname(part), exist_ok=True)
        pq.write_table(pa.Table.from_pylist(index), part)
    open(marker, "w").close()

day, symbol = dates[days // 2], symbols[instruments // 2]
HIVE_VIEW = (f"read_parquet('{hive_root}/raw_tick_data/data_type=trades/*/*/*.parquet', hive_partitioning = true, "
             "hive_types = {'data_type': VARCHAR, 'exchange': VARCHAR, 'date': DATE}, hive_types_autocast = false)")


INDEX = f"{hive_root}/raw_tick_data_index/data_type=trades/date={day}/*.parquet"


def default_glob(con):
    """The default layout: a glob over by_date/ (DuckDB pushes the filename filter down, but lists every file)."""
    wanted = f"{default_root}/raw_tick_data/by_date/day-{day}/data_type-trades/{key(symbol)}.parquet"
    return [f"SELECT count(*), sum(price) FROM read_parquet('{default_root}/raw_tick_data/by_date/*/data_type-trades/*.parquet', "
            f"filename = true) WHERE filename = '{wanted}'"]


def hive_views(con):
    """The hive layout through md-cli sql's view: the day's and exchange's partition, `symbol` from the files."""
    return [f"SELECT count(*), sum(price) FROM {HIVE_VIEW} WHERE date = DATE '{day}' AND exchange = '{EXCHANGE}' AND symbol = '{symbol}'"]


def hive_index(con):
    """The hive layout with the index: the day's index parts, then exactly the files they name."""
    lookup = f"SELECT path FROM read_parquet('{INDEX}') WHERE instrument_key = '{key(symbol)}' AND format = 'parquet' AND path IS NOT NULL"
    paths = [row[0] for row in con.execute(lookup).fetchall()]
    listed = ", ".join(f"'{hive_root}/{path}'" for path in paths)
    return [lookup, f"SELECT count(*), sum(price) FROM read_parquet([{listed}])"]


def operators(node):
    yield node
    for child in node.get("children", []):
        yield from operators(child)


def files(con, query):
    """(files listed by a glob, files read) of one query, from DuckDB's profile; the index lookup reads every part of
    the day (its profile can fold the scan away when statistics answer the filter), counted on disk."""
    if INDEX in query:
        parts = len(glob.glob(INDEX))
        return parts, parts
    plan = json.loads(con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}").fetchall()[0][1])
    scans = [node["extra_info"] for node in operators(plan) if "Total Files Read" in node.get("extra_info", {})]
    listed = sum(int(scan["Scanning Files"].split("/")[1]) for scan in scans if "Scanning Files" in scan)
    return listed, sum(int(scan["Total Files Read"]) for scan in scans)


for name, way in (("default layout, glob over by_date/", default_glob), ("hive layout, md-cli sql's view", hive_views),
                  ("hive layout, file list from the daily index", hive_index)):
    seconds = []
    for _ in range(runs):
        con = duckdb.connect()
        began = time.perf_counter()
        queries = way(con)
        rows = con.execute(queries[-1]).fetchone()[0]
        seconds.append(time.perf_counter() - began)
        con.close()
    con = duckdb.connect()
    counted = [files(con, query) for query in way(con)]
    print(json.dumps({"way": name, "rows": rows, "files_listed": sum(c[0] for c in counted),
                      "files_read": sum(c[1] for c in counted), "seconds": statistics.median(seconds),
                      "lake_files": days * instruments * len(DATA_TYPES), "days": days, "instruments": instruments}))
