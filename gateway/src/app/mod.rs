//! Putting the gateway together: the config, building the state from it (or from dev-mode
//! defaults), serving, and the CLI.

pub mod cli;
pub mod config;
pub mod dev;
pub mod logging;
mod methods;
pub mod serve;
pub mod state;

/// Environment variables for a test, as `std::env::vars()` gives them.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> std::vec::IntoIter<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect::<Vec<_>>()
        .into_iter()
}
