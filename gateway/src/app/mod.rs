//! Putting the gateway together: the config, building the state from it (or from dev-mode
//! defaults), serving, and the CLI.

pub mod cli;
pub mod config;
pub mod dev;
pub mod logging;
mod methods;
pub mod serve;
pub mod state;
