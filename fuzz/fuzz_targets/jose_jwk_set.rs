//! JWK set reading (`jose::JwkSet::from_json`) and each accepted key's RFC 7638 thumbprint.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jose::fuzzing::jwk_set(data);
});
