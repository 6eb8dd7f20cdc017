//! Strict parse and enveloped-signature verification of the root element against a fixed key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = saml::fuzzing::verify_signature(data);
});
