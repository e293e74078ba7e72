//! `md-cli config`: the effective configuration, each value with its source, secrets redacted.

use std::io::Write;

use md_config::{Loaded, Section};

use crate::cli::ConfigArgs;
use crate::exit::Failure;

pub(crate) fn run(loaded: &Loaded, args: &ConfigArgs) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    let written =
        if args.json { write_json(loaded, &mut out) } else { write_table(loaded, &mut out) };
    // A closed pipe (`md-cli config | head`) is not an error worth reporting.
    match written {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::Work(error.into()))
        }
        _ => Ok(()),
    }
}

fn write_json(loaded: &Loaded, out: &mut impl Write) -> std::io::Result<()> {
    let mut object = serde_json::Map::new();
    for setting in &loaded.settings {
        object.insert(
            setting.name.to_owned(),
            serde_json::to_value(setting).map_err(std::io::Error::other)?,
        );
    }
    serde_json::to_writer_pretty(&mut *out, &object).map_err(std::io::Error::other)?;
    writeln!(out)
}

fn write_table(loaded: &Loaded, out: &mut impl Write) -> std::io::Result<()> {
    if let Some(path) = &loaded.config_file {
        writeln!(out, "# config file: {}", path.display())?;
    }
    if let Some(path) = &loaded.env_file {
        writeln!(out, "# .env file: {}", path.display())?;
    }
    let width = loaded.settings.iter().map(|setting| setting.name.len()).max().unwrap_or(0);
    let value_width = loaded
        .settings
        .iter()
        .filter_map(|setting| setting.value.as_deref())
        .map(str::len)
        .max()
        .unwrap_or(0)
        .min(60);
    for section in Section::all() {
        writeln!(out, "\n[{}]", section.yaml_key())?;
        for setting in loaded.settings.iter().filter(|setting| setting.section == section) {
            let value = setting.value.as_deref().unwrap_or("(unset)");
            let origin =
                setting.origin.as_deref().map(|origin| format!(" ({origin})")).unwrap_or_default();
            writeln!(
                out,
                "{:width$}  {value:value_width$}  {}{origin}",
                setting.name, setting.source
            )?;
        }
    }
    Ok(())
}
