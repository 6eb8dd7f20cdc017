//! ID-card client certificate path: a framed chain through the validator (webpki, x509-parser,
//! CRLs installed, SATU lookup), or a CRL through the loader, against a fixed test PKI.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = idp_adapters::fuzzing::idcard_input(data);
});
