//! Upstream authentication for the gateway.
//!
//! Every upstream method (test bank, FTN bank OIDC, eIDAS SAML, ...) implements [`AuthAdapter`]:
//! `start` returns a value describing what the web layer should do next, `finish` turns the
//! callback fields into a [`VerifiedIdentity`]. Nothing here performs I/O or imports a web
//! framework, so every state machine is testable with plain values and a pinned clock.

pub mod adapter;
pub mod ftn;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod hetu;
pub mod idcard;
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

/// Test helpers shared by the adapters' unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// Drive a future whose I/O is all fake and always ready (no runtime needed).
    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
        }
    }
}
