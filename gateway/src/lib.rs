//! The gateway service: configuration, HTTP routes, login flows, SSO sessions, pages, demo SP.
//! Protocol work lives in the crates below. Inside, modules by role with imports pointing one
//! way: `app` builds everything; `web` and `upstream` call `flows`; `flows` uses `stores`.

pub mod app;
pub mod flows;
pub mod stores;
pub mod upstream;
pub mod web;

pub use app::{config, dev, serve, state};
