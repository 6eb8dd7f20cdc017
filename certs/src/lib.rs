//! Keys, certificates, key sets, the clock and the random source: the workspace's one crypto backend (aws-lc-rs).
//!
//! Nothing here does HTTP or storage beyond reading and writing key files.

mod algorithms;
mod cert;
mod clock;
mod constant_time;
mod devkeys;
mod encryption;
mod error;
mod keys;
mod keyset;
mod random;
pub mod seed_corpus;
pub mod test_pki;

pub use algorithms::{DigestAlgorithm, SignatureAlgorithm};
pub use cert::Certificate;
pub use clock::{Clock, FixedClock, ManualClock, SystemClock};
pub use constant_time::constant_time_eq;
pub use encryption::{
    rsa_oaep_encrypt, rsa_oaep_encrypt_to_spki, CbcHmacCipher, CbcHmacSealed, ContentCipher,
    DecryptionKey, KeyTransport,
};
pub use error::CertError;
pub use keys::{KeyKind, PublicKeyKind, SigningKey, VerifyingKey};
pub use keyset::{KeySet, SigningIdentity};
pub use random::{random_id, random_token, RandomSource, SeededRandomSource, SystemRandomSource};
