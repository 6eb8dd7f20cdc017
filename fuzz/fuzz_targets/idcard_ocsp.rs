//! OCSP response for the ID card: the strict DER reader, responder and signature checks,
//! freshness, nonce and status, for a fixed request against a fixed test PKI. A mode byte lets the
//! harness sign mutated response data, so mutations get past the signature to the field reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = idp_adapters::fuzzing::ocsp::ocsp_response(data);
});
