//! Configuration errors: every problem found, each naming its variable (or flag) and value.

use std::fmt;

/// Where a configuration value came from, highest precedence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Source {
    /// A command-line flag.
    #[serde(rename = "flag")]
    Flag,
    /// The process environment.
    #[serde(rename = "env")]
    Env,
    /// The `.env` file.
    #[serde(rename = ".env")]
    DotEnv,
    /// The YAML configuration file.
    #[serde(rename = "file")]
    File,
    /// A batch engine's task variables (Cloud Run, Cloud Batch, Kubernetes).
    #[serde(rename = "engine")]
    Engine,
    /// The built-in default.
    #[serde(rename = "default")]
    Default,
    /// Google Secret Manager (the Tardis API key, through `TARDIS_SECRET_NAME`).
    #[serde(rename = "secret-manager")]
    SecretManager,
}

impl Source {
    /// Returns the name shown by `md-cli config`: flag, env, .env, file, engine, default or secret-manager.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Flag => "flag",
            Source::Env => "env",
            Source::DotEnv => ".env",
            Source::File => "file",
            Source::Engine => "engine",
            Source::Default => "default",
            Source::SecretManager => "secret-manager",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The culprit: a variable name, a flag (`--from (INSTRUMENT_START_DATE)`) or a file path.
    pub culprit: String,
    /// The offending value, `None` for secrets or when there is no single value.
    pub value: Option<String>,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
}

impl Problem {
    /// Returns a problem with no single offending value (a file, a key, a secret).
    pub fn new(culprit: impl Into<String>, message: impl Into<String>) -> Self {
        Problem { culprit: culprit.into(), value: None, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}={value:?}: {}", self.culprit, self.message),
            None => write!(f, "{}: {}", self.culprit, self.message),
        }
    }
}

/// The configuration could not be loaded; holds every problem found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Error {
    /// Every problem, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(f, "invalid configuration ({count} problem{}):", if count == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
