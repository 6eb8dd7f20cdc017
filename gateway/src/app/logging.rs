//! Logs for operators: one line per event on stderr, `RUST_LOG` filtering (default `info`), in
//! one of two formats:
//!
//! - `text` (the default): human-readable; coloured only when stderr is a terminal (and
//!   `NO_COLOR` is not set), so a log written to a file or a pipe has no escape codes;
//! - `json`: one JSON object per line, for a log collector. Every line has `timestamp`, `level`,
//!   `target` and `fields` (the event's fields, `message` among them; always under `fields`,
//!   so a field can never shadow the envelope), plus `span`/`spans` inside a span. Audit events
//!   are target `audit`, `fields.event` naming them (`authn_request`, `login`, `assertion`, ...).
//!
//! The format comes from `[log] format` in the config file (overlaid, like every key, by
//! `GATEWAY__LOG__FORMAT`); dev mode, which has no file, reads the same variable.

use super::config;
use serde::Deserialize;
use std::io::IsTerminal;
use std::path::Path;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl LogFormat {
    /// The accepted spellings, as the config and the variable take them.
    pub const NAMES: &'static [&'static str] = &["text", "json"];

    pub fn parse(name: &str) -> Option<Self> {
        [LogFormat::Text, LogFormat::Json]
            .into_iter()
            .find(|f| f.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The variable that chooses the format: the `log.format` overlay of a config file, and the
/// only way to choose it in dev mode.
pub const FORMAT_VARIABLE: &str = "GATEWAY__LOG__FORMAT";

/// Install the global subscriber. Called once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let shown = filter.to_string();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.with_ansi(colours_wanted()).try_init(),
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
    match installed {
        Ok(()) => tracing::debug!(format = format.name(), filter = %shown, "logging set up"),
        Err(e) => eprintln!("warning: logging not set up: {e}"),
    }
}

/// The format a config file asks for, read before anything logs. A file that does not load
/// gives the default: the command reports its problems itself, on stderr, whatever the format.
pub fn format_of_config(file: &Path) -> LogFormat {
    config::load(file, std::env::vars())
        .map(|c| c.log.format)
        .unwrap_or_default()
}

/// The format dev mode uses: [`FORMAT_VARIABLE`] if set, else text.
pub fn format_from_env(
    mut env: impl Iterator<Item = (String, String)>,
) -> Result<LogFormat, String> {
    match env.find(|(k, _)| k == FORMAT_VARIABLE) {
        None => Ok(LogFormat::default()),
        Some((_, v)) => LogFormat::parse(&v).ok_or_else(|| {
            format!(
                "{FORMAT_VARIABLE}: {v:?} is not a log format; expected one of {}",
                LogFormat::NAMES.join(", ")
            )
        }),
    }
}

/// Escape codes only for a person at a terminal (<https://no-color.org>: any non-empty
/// `NO_COLOR` turns them off there too).
fn colours_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::app::test_env as env;

    #[test]
    fn dev_mode_reads_the_format_from_the_variable() {
        assert_eq!(format_from_env(env(&[])).unwrap(), LogFormat::Text);
        assert_eq!(
            format_from_env(env(&[("GATEWAY__LOG__FORMAT", "json")])).unwrap(),
            LogFormat::Json
        );
        assert_eq!(
            format_from_env(env(&[("GATEWAY__LOG__FORMAT", "text")])).unwrap(),
            LogFormat::Text
        );
        let err = format_from_env(env(&[("GATEWAY__LOG__FORMAT", "yaml")])).unwrap_err();
        assert!(
            err.contains("GATEWAY__LOG__FORMAT") && err.contains("json"),
            "{err}"
        );
    }
}
