//! Compact JWE decryption (`jose::decrypt_jwe_with_header`): shape, header checks, key choice,
//! RSA-OAEP unwrap, A128CBC-HS256 / AES-GCM open, with a fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jose::fuzzing::jwe_compact(data);
});
