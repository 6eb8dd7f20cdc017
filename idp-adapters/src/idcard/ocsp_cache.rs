//! Where verified "good" OCSP responses wait until their nextUpdate, so that a citizen who logs
//! in again (on this process, another one, or after a restart) costs no request to the CA.
//!
//! The cache holds bytes only: [`super::OcspChecker`] verifies a cached response again at every
//! use (signature, responder authorization, our certificate, current at `now`), exactly as a
//! fresh one, and never trusts it because of where it was found. What goes in: a verified
//! "good" with a nextUpdate still ahead; never "revoked", "unknown", an error, or a response
//! without nextUpdate. Nonces: a cached response cannot echo the nonce of a request not yet
//! made, so the cache serves [`super::NonceMode::Off`] and [`super::NonceMode::IfEchoed`] (which
//! already accepts a response without our nonce while it is current, the way CAs serve
//! pre-produced responses); [`super::NonceMode::Required`] never reads or writes it.
//!
//! Every operation is best effort and fails towards asking the responder: a cache that cannot
//! be read answers `None`, and a write that fails is the implementation's to report.

use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

pub type CacheFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The gateway's revocation state, as the OCSP checker sees it. `cert` names one certificate:
/// the hex SHA-256 of its CertID (issuer name hash, issuer key hash, serial), which reveals
/// neither the certificate nor its holder.
pub trait OcspResponseCache: Send + Sync {
    /// The response stored for `cert` that has not expired at `now`; `None` when there is none
    /// or the store cannot be read (the implementation reports why).
    fn load<'a>(&'a self, cert: &'a str, now: OffsetDateTime) -> CacheFuture<'a, Option<Vec<u8>>>;

    /// Keep `der` for `cert` until `next_update` (which is after `now`), replacing any other.
    fn store<'a>(
        &'a self,
        cert: &'a str,
        der: Vec<u8>,
        next_update: OffsetDateTime,
        now: OffsetDateTime,
    ) -> CacheFuture<'a, ()>;

    /// A stored response for `cert` did not verify again and was not used (the responder was
    /// asked instead): the implementation reports it.
    fn refused(&self, cert: &str, reason: &'static str);
}
