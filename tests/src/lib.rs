//! Support code for the end-to-end suite: a minimal browser, a gateway started on a free
//! loopback port, a scriptable SP for hostile requests, and independent SAML implementations
//! driven as service providers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod bank;
pub mod browser;
pub mod harness;
pub mod idcard;
pub mod ocsp;
pub mod peers;
pub mod testsp;
