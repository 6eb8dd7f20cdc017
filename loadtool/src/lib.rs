//! `gateway-load`: drives a gateway on loopback and reports what it measured. See `main.rs` for
//! the command line and the README's "Load tool" for how to use it.

pub mod citizen;
pub mod client;
pub mod cpu;
pub mod login;
pub mod pages;
pub mod redis_memory;
pub mod report;
pub mod rss;
pub mod run;
pub mod target;
