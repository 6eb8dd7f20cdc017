//! The gateway service: configuration, HTTP routes, login flows, SSO sessions, pages, demo SP.
//! Protocol work lives in the crates below; handlers here extract, call one flow, and map.

pub mod bank;
pub mod bank_http;
pub mod config;
pub mod demo;
pub mod dev;
pub mod error;
pub mod http;
pub mod i18n;
pub mod idcard;
pub mod idcard_table;
pub mod login;
pub mod sso;
pub mod state;
pub mod store;
pub mod ui;
