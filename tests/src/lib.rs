//! Support code for the end-to-end suite (see `tests/README.md`): a minimal browser, gateways
//! started on loopback listeners bound first, the captured gateway log, one world per login
//! method (bank, ID card), a scriptable SP for hostile requests, and independent SAML
//! implementations and other peers driven as child processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod assertion_names;
pub mod bank;
pub mod browser;
pub mod devproc;
pub mod gateway_log;
pub mod harness;
pub mod idcard;
pub mod ocsp;
pub mod peers;
pub mod redis;
pub mod testsp;
