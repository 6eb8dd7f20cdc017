//! Keys for unit tests, generated once per test process.

use certs::{KeyKind, SigningIdentity};
use std::sync::OnceLock;
use time::OffsetDateTime;

fn make(cn: &str, kind: KeyKind) -> SigningIdentity {
    match SigningIdentity::generate_self_signed(cn, kind, OffsetDateTime::now_utc(), 365) {
        Ok(id) => id,
        Err(e) => unreachable!("test key generation failed: {e}"),
    }
}

pub fn rsa() -> &'static SigningIdentity {
    static K: OnceLock<SigningIdentity> = OnceLock::new();
    K.get_or_init(|| make("test-rsa", KeyKind::Rsa2048))
}

pub fn rsa_other() -> &'static SigningIdentity {
    static K: OnceLock<SigningIdentity> = OnceLock::new();
    K.get_or_init(|| make("attacker-rsa", KeyKind::Rsa2048))
}

pub fn ec() -> &'static SigningIdentity {
    static K: OnceLock<SigningIdentity> = OnceLock::new();
    K.get_or_init(|| make("test-ec", KeyKind::EcdsaP256))
}
