"""Runs md-cli sql's DuckDB statements over a lake and compares every view with the raw CSVs.

argv: statements.sql, expected dir (one sub-directory of .csv.gz per data type), the day to prune on, the data
types (comma-separated), the worked query's file. Prints one JSON object per data type, one for the pruned query,
then one for the worked query (its rows, and the instrument types its definitions gave).
"""
import json
import sys

import duckdb

statements, expected, day, data_types, worked = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5]
con = duckdb.connect()
con.execute(open(statements).read())
PATH_KEYS = {"data_type", "exchange", "date"}
ADDED = {"instrument_key", "symbol"}


def cast(column, kind):
    if kind.startswith("TIMESTAMP"):
        return f"make_timestamp(CAST({column} AS BIGINT))::{kind}"
    return f"CAST({column} AS {kind})"


for data_type in data_types:
    view = con.execute(f'DESCRIBE "{data_type}"').fetchall()
    types = {name: kind for name, kind, *_ in view}
    data = [name for name, *_ in view if name not in PATH_KEYS | ADDED]
    csv = f"read_csv('{expected}/{data_type}/*.csv.gz', header = true, all_varchar = true)"
    header = [name for name, *_ in con.execute(f"DESCRIBE SELECT * FROM {csv}").fetchall()]
    csv_data = [name for name in header if name not in ("exchange", "symbol")]
    assert len(csv_data) == len(data), (data_type, csv_data, data)
    compared = ["exchange"] + (["symbol"] if "symbol" in types else [])
    mine = ", ".join(f'"{name}"' for name in compared + data)
    theirs = ", ".join(
        [f'"{name}"' for name in compared]
        + [cast(f'"{csv_column}"', types[name]) for csv_column, name in zip(csv_data, data)]
    )
    lake_rows = f'SELECT {mine} FROM "{data_type}"'
    csv_rows = f"SELECT {theirs} FROM {csv}"
    count = lambda query: con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
    checksum = lambda query: con.execute(f"SELECT sum(hash(columns(*))) FROM ({query}) t").fetchone()
    keys = []
    if "instrument_key" in types:
        keys = [row[0] for row in con.execute(f'SELECT DISTINCT instrument_key FROM "{data_type}" ORDER BY 1').fetchall()]
    print(json.dumps({
        "data_type": data_type,
        "lake_rows": count(lake_rows),
        "csv_rows": count(csv_rows),
        "only_in_lake": count(f"{lake_rows} EXCEPT ALL {csv_rows}"),
        "only_in_csv": count(f"{csv_rows} EXCEPT ALL {lake_rows}"),
        "columns": compared + data,
        "instrument_keys": keys,
    }))


def operators(node):
    yield node
    for child in node.get("children", []):
        yield from operators(child)


query = f"SELECT count(*) FROM \"{data_types[0]}\" WHERE date = DATE '{day}'"
profile = json.loads(con.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}").fetchall()[0][1])
scans = [node["extra_info"] for node in operators(profile) if "Total Files Read" in node.get("extra_info", {})]
print(json.dumps({"query": query, "rows": con.execute(query).fetchone()[0], "scans": scans}))

rows = con.execute(open(worked).read()).fetchall()
print(json.dumps({"query": "worked", "rows": len(rows), "instrument_types": sorted({row[4] for row in rows})}))
