//! HTTP-POST AuthnRequest intake, both as the base64 form field and as the decoded XML, so that
//! mutations reach the parser and the enveloped-signature check without first having to stay
//! valid base64.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = saml::fuzzing::post_intake(data);
    let _ = saml::fuzzing::post_intake_xml(data);
});
