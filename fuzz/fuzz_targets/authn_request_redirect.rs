//! HTTP-Redirect AuthnRequest intake: raw query string -> DEFLATE/base64 decode -> strict parse ->
//! query signature check -> field reads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = saml::fuzzing::redirect_intake(data);
});
