//! BigQuery: one `CREATE OR REPLACE EXTERNAL TABLE` per table, hive-partitioned, following BigQuery's documented
//! rules for externally partitioned data:
//!
//! - `hive_partition_uri_prefix` is the common path of every URI and ends immediately before the first partition key
//!   (`gs://bucket/prefix/raw_tick_data/data_type=trades`): the data type is part of the prefix, one table per data
//!   type, so its key is not a column of the table.
//! - the keys are listed with their types in path order (`WITH PARTITION COLUMNS (exchange STRING, date DATE)`,
//!   the custom schema, rather than AUTO: the types are known, and a day is a DATE whatever BigQuery would infer),
//!   at most ten, none also a column of the files (the hive preset's files carry no `exchange` or `date`);
//! - `uris` holds one URI with its one wildcard after the prefix (`.../data_type=trades/*.parquet`, which leaves out
//!   raw `.csv.gz` objects stored beside the Parquet);
//! - `require_hive_partition_filter = true`: a query without a filter on a partition key is refused instead of
//!   reading every file of the table.

use super::{KeyType, Lake, Root, SqlError, Table, literal};

/// A BigQuery dataset, `[project.]dataset`, checked against BigQuery's naming rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    project: Option<String>,
    name: String,
}

impl Dataset {
    /// The dataset `md-cli sql` writes into when none is given.
    pub const DEFAULT: &'static str = "md";

    /// Parses `[project.]dataset`.
    ///
    /// # Errors
    /// [`SqlError::Dataset`] naming the rule a part breaks: a dataset is 1 to 1,024 letters, digits and
    /// underscores; a project id 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not
    /// ending with a hyphen.
    pub fn parse(text: &str) -> Result<Dataset, SqlError> {
        let refuse =
            |reason: &str| SqlError::Dataset { name: text.to_owned(), reason: reason.into() };
        let (project, name) = match text.trim().split_once('.') {
            Some((project, name)) => (Some(project), name),
            None => (None, text.trim()),
        };
        if name.is_empty()
            || name.len() > 1024
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(refuse(
                "a dataset name is 1 to 1,024 letters, digits and underscores ([project.]dataset)",
            ));
        }
        if let Some(project) = project {
            let valid = (6..=30).contains(&project.len())
                && project.starts_with(|c: char| c.is_ascii_lowercase())
                && !project.ends_with('-')
                && project
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(refuse(
                    "a project id is 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen",
                ));
            }
        }
        Ok(Dataset { project: project.map(str::to_owned), name: name.to_owned() })
    }

    /// `project.dataset.table` or `dataset.table`, as a quoted BigQuery path.
    fn table(&self, table: &str) -> String {
        match &self.project {
            Some(project) => format!("`{project}.{}.{table}`", self.name),
            None => format!("`{}.{table}`", self.name),
        }
    }
}

impl Default for Dataset {
    fn default() -> Self {
        Dataset { project: None, name: Dataset::DEFAULT.to_owned() }
    }
}

impl Lake {
    /// The BigQuery statements: one external table per table, in `dataset`.
    ///
    /// # Errors
    /// [`SqlError::NotGcs`] when the lake is not in Cloud Storage.
    pub fn bigquery(&self, dataset: &Dataset) -> Result<String, SqlError> {
        let Root::Gcs(root) = &self.root else {
            return Err(SqlError::NotGcs(self.root.as_text()));
        };
        let mut out = format!(
            "-- BigQuery external tables over the lake at {root} (md-cli sql --engine bigquery).\n\
             -- Create the dataset first, in the bucket's location (bq mk --dataset --location=LOCATION {}).\n\
             -- Every query must filter on a partition column, e.g. WHERE date = '2026-10-01'.\n",
            match &dataset.project {
                Some(project) => format!("{project}:{}", dataset.name),
                None => dataset.name.clone(),
            }
        );
        for table in &self.tables {
            out.push_str(&external_table(root, dataset, table));
        }
        Ok(out)
    }
}

fn external_table(root: &str, dataset: &Dataset, table: &Table) -> String {
    let prefix = format!("{root}/{}", table.prefix);
    // One wildcard, after the prefix: `*.parquet`, or `*/instruments.parquet` under a single day's key.
    let wildcard = match table.file.starts_with('*') {
        true => table.file.clone(),
        false => format!("*/{}", table.file),
    };
    let columns: Vec<String> = table
        .keys
        .iter()
        .map(|key| {
            let kind = match key.kind {
                KeyType::Text => "STRING",
                KeyType::Date => "DATE",
                KeyType::Integer => "INT64",
            };
            format!("  {} {kind}", key.name)
        })
        .collect();
    format!(
        "CREATE OR REPLACE EXTERNAL TABLE {}\nWITH PARTITION COLUMNS (\n{}\n)\nOPTIONS (\n  format = 'PARQUET',\n  uris = [{}],\n  hive_partition_uri_prefix = {},\n  require_hive_partition_filter = true\n);\n",
        dataset.table(&table.name),
        columns.join(",\n"),
        literal(&format!("{prefix}/{wildcard}")),
        literal(&prefix),
    )
}
