//! DuckDB: one `CREATE OR REPLACE VIEW` per table over `read_parquet(glob, hive_partitioning = true)`, after the
//! extension and secret lines a bucket needs.
//!
//! The glob has one `*` per partition level, so it matches exactly the objects of the table's layout (not the raw
//! `.csv.gz` stored beside them with `MD_OUTPUT_FORMAT=raw,parquet`, nor the index under `raw_tick_data_index/`).
//! `hive_types` gives every key its type (`date` a DATE, the others VARCHAR) and `hive_types_autocast = false` keeps
//! DuckDB from guessing others, so a filter on `date` or `exchange` is compared with the right type and prunes files
//! before they are opened (DuckDB's `EXPLAIN ANALYZE` shows `Total Files Read`).

use super::{KeyType, Lake, Root, Table, literal};

impl Lake {
    /// The DuckDB statements: extensions and a secret for a bucket, then one view per table.
    pub fn duckdb(&self) -> String {
        let root = self.root.as_text();
        let mut out =
            format!("-- DuckDB views over the lake at {root} (md-cli sql --engine duckdb).\n");
        match &self.root {
            Root::Local(_) => {}
            Root::Gcs(url) => {
                out.push_str("INSTALL httpfs;\nLOAD httpfs;\n");
                out.push_str("-- Cloud Storage through its S3-compatible API: an HMAC key of a service account that may read the bucket\n");
                out.push_str("-- (gcloud storage hmac create SERVICE_ACCOUNT_EMAIL); replace both placeholders.\n");
                out.push_str(&format!(
                    "CREATE OR REPLACE SECRET md_lake (TYPE gcs, KEY_ID '<HMAC access id>', SECRET '<HMAC secret>', SCOPE {});\n",
                    literal(url)
                ));
            }
            Root::S3 { url, region, endpoint } => {
                out.push_str("INSTALL httpfs;\nLOAD httpfs;\nINSTALL aws;\nLOAD aws;\n");
                out.push_str("-- Credentials from the AWS credential chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ~/.aws, or an instance role.\n");
                let mut options =
                    format!("TYPE s3, PROVIDER credential_chain, REGION {}", literal(region));
                if let Some(endpoint) = endpoint {
                    options.push_str(&format!(
                        ", ENDPOINT {}, URL_STYLE 'path', USE_SSL {}",
                        literal(&endpoint.host),
                        endpoint.tls
                    ));
                }
                out.push_str(&format!(
                    "CREATE OR REPLACE SECRET md_lake ({options}, SCOPE {});\n",
                    literal(url)
                ));
            }
        }
        for table in &self.tables {
            out.push_str(&view(&root, table));
        }
        out
    }
}

/// One view: `CREATE OR REPLACE VIEW "name" AS SELECT * FROM read_parquet(...)`.
fn view(root: &str, table: &Table) -> String {
    let levels = "*/".repeat(table.keys.len());
    let glob = format!("{root}/{}/{levels}{}", table.prefix, table.file);
    // The keys DuckDB reads from the path: those in the prefix (`data_type=trades`) are text, then the table's own.
    let in_prefix = table.prefix.split('/').filter_map(|segment| segment.split_once('='));
    let types: Vec<String> = in_prefix
        .map(|(key, _)| format!("{}: VARCHAR", literal(key)))
        .chain(table.keys.iter().map(|key| {
            let kind = match key.kind {
                KeyType::Text => "VARCHAR",
                KeyType::Date => "DATE",
                KeyType::Integer => "BIGINT",
            };
            format!("{}: {kind}", literal(&key.name))
        }))
        .collect();
    format!(
        "CREATE OR REPLACE VIEW \"{}\" AS SELECT * FROM read_parquet({}, hive_partitioning = true, hive_types = {{{}}}, hive_types_autocast = false);\n",
        table.name.replace('"', "\"\""),
        literal(&glob),
        types.join(", ")
    )
}
