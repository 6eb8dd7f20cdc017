//! Compact JWS verification (`jose::verify_jws`): shape, strict base64url and header JSON, the
//! algorithm allowlist, `crit`/`jwk`/`b64`, key choice by `kid`, the signature, with fixed keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = jose::fuzzing::jws_compact(data);
});
