//! Upstream authentication for the gateway.
//!
//! Every upstream method (test bank, FTN bank OIDC, eIDAS SAML, ...) implements [`AuthAdapter`]:
//! `start` returns a value describing what the web layer should do next, `finish` turns the
//! callback fields into a [`VerifiedIdentity`]. Nothing here performs I/O or imports a web
//! framework, so every state machine is testable with plain values and a pinned clock.

pub mod adapter;
pub mod ftn;
pub mod hetu;
pub mod identity;
pub mod language;
pub mod loa;
pub mod testbank;

pub use adapter::{
    AdapterError, AdapterFuture, AuthAdapter, CallbackInput, FinishContext, StartAction,
    StartContext, TestBankPage, TestPerson, UpstreamPending,
};
pub use hetu::{HetuError, PersonalIdentityCode};
pub use identity::{NationalId, VerifiedIdentity};
pub use language::Language;
pub use loa::LevelOfAssurance;
pub use testbank::TestBank;
