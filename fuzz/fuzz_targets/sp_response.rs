//! SP-side Response validation: signatures on Response and Assertion, conditions, audience, fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = saml::fuzzing::sp_response(data);
});
