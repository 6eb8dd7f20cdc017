//! The JOSE subset that OpenID Connect with Finnish banks (FTN) needs, over the `certs` crypto backend:
//!
//! - JWS (RFC 7515) compact: verify and sign RS256, PS256, ES256. Never `none`, never HMAC.
//! - JWE (RFC 7516) compact: RSA-OAEP / RSA-OAEP-256 with A128CBC-HS256, A256GCM or A128GCM. Never `RSA1_5`.
//! - JWK (RFC 7517): public RSA and P-256 keys, key choice by `kid`, our own keys published, RFC 7638 thumbprints.
//! - JWT claim sets (RFC 7519): strict parsing, typed reads, the time checks.
//!
//! Why not a JOSE crate: none on crates.io does RSA-OAEP + A128CBC-HS256 on aws-lc-rs alone, and
//! `openidconnect` brings a second crypto stack (`docs/design/ftn-oidc.md` §1). Nothing here does HTTP.
//!
//! Everything read is hostile: sizes are capped by the caller, base64url and JSON are strict (no padding, no
//! duplicate members), algorithms come from the caller's allowlist before any key is looked at, and keys come
//! only from the caller's set, never from the token (`jwk`, `jku`, `x5u`, `x5c` are not followed).

mod claims;
mod encoding;
mod error;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod jwe;
mod jwk;
mod jws;

pub use claims::{parse_claims, Claims};
pub use error::JoseError;
pub use jwe::{
    decrypt_jwe, decrypt_jwe_with_header, encrypt_jwe, is_jwe, DecryptedJwe, JweAlg,
    JweDecryptionKey, JweEnc, JweHeader,
};
pub use jwk::{jwk_thumbprint, public_jwk_json, Jwk, JwkSet, KeyPurpose};
pub use jws::{sign_jws, verify_jws, JwsAlg, JwsHeader, VerifiedJws};
