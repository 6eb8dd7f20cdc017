//! The JOSE subset that OpenID Connect with Finnish banks (FTN) needs, over the `certs` crypto backend:
//!
//! - JWS (RFC 7515) compact, RS256, PS256, ES256 (never `none`, never HMAC): the signatures are made and
//!   checked by `jsonwebtoken` (the workspace's one JWS implementation, on aws-lc-rs); this crate puts
//!   its own checks in front (strict header, `alg` allowlist, `crit`/`jwk`/`b64` refused, the key
//!   chosen by `kid` from the caller's set) and hands jsonwebtoken our keys (`JwsSigner`, `Jwk`).
//! - JWE (RFC 7516) compact: RSA-OAEP / RSA-OAEP-256 with A128CBC-HS256, A256GCM or A128GCM. Never `RSA1_5`.
//! - JWK (RFC 7517): public RSA and P-256 keys, key choice by `kid`, our own keys published, RFC 7638 thumbprints.
//! - JWT claim sets (RFC 7519): strict parsing, typed reads, the time checks.
//!
//! Why JWE and JWK are ours: jsonwebtoken does no JWE, and no JOSE crate on crates.io does RSA-OAEP +
//! A128CBC-HS256 on aws-lc-rs alone (`openidconnect` brings a second crypto stack,
//! `docs/design/ftn-oidc.md` §1); jsonwebtoken's JWK set would accept symmetric and private keys.
//! Nothing here does HTTP.
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
mod provider;

pub use claims::{parse_claims, Claims};
pub use error::JoseError;
pub use jwe::{
    decrypt_jwe, decrypt_jwe_with_header, encrypt_jwe, is_jwe, DecryptedJwe, JweAlg,
    JweDecryptionKey, JweEnc, JweHeader,
};
pub use jwk::{jwk_thumbprint, public_jwk_json, Jwk, JwkSet, KeyPurpose};
pub use jws::{
    sign_jws, verify_jws, verify_jwt, JwsAlg, JwsHeader, JwsSigner, VerifiedJws, VerifiedJwt,
};
