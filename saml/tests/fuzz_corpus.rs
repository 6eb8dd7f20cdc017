//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and crash inputs
//! (`fuzz/crashes/<target>/`) through the entry points the fuzz targets call, so that a regression
//! shows up in `cargo test` without a nightly toolchain or a fuzzing run.
//!
//! File names carry expectations: `valid-*` seeds must be accepted; `hostile-<code>-*` seeds
//! must be refused with exactly `<code>` (as in `hostile-saml.dtd-doctype.xml`), and a hostile
//! name without a code fails: no seed is satisfied by any error. Every other file (what the
//! fuzzer added) must only not panic.
//!
//! The named seeds are made by `cargo run -p saml --features fuzzing --example regenerate_fuzz_seeds` (see fuzz/README.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::seed_corpus::{expected_code, files_in, name_of};
use saml::fuzzing;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const TARGETS: [&str; 4] = [
    "authn_request_redirect",
    "authn_request_post",
    "signature_verify",
    "sp_response",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Runs one input the way the target's fuzz harness does; `Ok` when an entry point accepted it,
/// else the error code of the (last) refusal.
fn run(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "authn_request_redirect" => fuzzing::redirect_intake(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        "authn_request_post" => {
            let field = fuzzing::post_intake(data).map(|_| ());
            let xml = fuzzing::post_intake_xml(data).map(|_| ());
            match (field, xml) {
                (Ok(()), _) | (_, Ok(())) => Ok(()),
                // The form-field reading refuses raw XML as bad base64; report the more telling one.
                (Err(f), Err(x)) if f.code() == "saml.base64" => Err(x.code().to_owned()),
                (Err(f), Err(_)) => Err(f.code().to_owned()),
            }
        }
        "signature_verify" => fuzzing::verify_signature(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        "sp_response" => fuzzing::sp_response(data)
            .map(|_| ())
            .map_err(|e| e.code().to_owned()),
        other => panic!("no entry point for fuzz target {other}"),
    }
}

#[test]
fn every_corpus_and_crash_input_is_handled_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        for kind in ["corpus", "crashes"] {
            for path in files_in(&fuzz_dir().join(kind).join(target)).unwrap() {
                let data = std::fs::read(&path).unwrap();
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| run(target, &data))).is_err() {
                    failures.push(format!("{target}: {} panicked", path.display()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replayed > 0,
        "no fuzz inputs found under {}",
        fuzz_dir().display()
    );
}

#[test]
fn every_target_has_a_corpus_with_valid_and_hostile_seeds() {
    for target in TARGETS {
        let files = files_in(&fuzz_dir().join("corpus").join(target)).unwrap();
        let names: Vec<&str> = files.iter().map(|p| name_of(p)).collect();
        assert!(
            names.iter().any(|n| n.starts_with("valid-")),
            "{target}: no valid-* seed in {names:?}"
        );
        assert!(
            names.iter().filter(|n| n.starts_with("hostile-")).count() >= 3,
            "{target}: fewer than 3 hostile-* seeds in {names:?}"
        );
    }
}

#[test]
fn valid_seeds_are_accepted_and_hostile_seeds_refused() {
    let mut failures = Vec::new();
    for target in TARGETS {
        for path in files_in(&fuzz_dir().join("corpus").join(target)).unwrap() {
            let name = name_of(&path);
            let data = std::fs::read(&path).unwrap();
            let outcome = run(target, &data);
            if name.starts_with("valid-") {
                if let Err(code) = &outcome {
                    failures.push(format!("{target}/{name}: refused with {code}"));
                }
            } else if name.starts_with("hostile-") {
                match (&outcome, expected_code(name)) {
                    (Ok(()), _) => failures.push(format!("{target}/{name}: accepted")),
                    (Err(code), None) => failures.push(format!(
                        "{target}/{name}: refused with {code}, but names no expected code"
                    )),
                    (Err(code), Some(want)) if code != want => failures.push(format!(
                        "{target}/{name}: refused with {code}, expected {want}"
                    )),
                    (Err(_), Some(_)) => {}
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn signed_seeds_are_read_as_signed() {
    let corpus = fuzz_dir().join("corpus");
    let redirect =
        std::fs::read(corpus.join("authn_request_redirect/valid-signed-redirect")).unwrap();
    let request = fuzzing::redirect_intake(&redirect).unwrap();
    assert!(
        request.signed,
        "a verified query signature must mark the request signed"
    );
    assert_eq!(request.issuer, fuzzing::SP_ENTITY_ID);
    assert_eq!(request.id, "_fuzz-authn-redirect-1");

    let unsigned =
        std::fs::read(corpus.join("authn_request_redirect/valid-unsigned-redirect")).unwrap();
    assert!(!fuzzing::redirect_intake(&unsigned).unwrap().signed);

    let post = std::fs::read(corpus.join("authn_request_post/valid-signed-post.b64")).unwrap();
    let request = fuzzing::post_intake(&post).unwrap();
    assert!(request.signed);
    assert_eq!(request.acs_url.as_deref(), Some(fuzzing::SP_ACS_URL));

    let response = std::fs::read(corpus.join("sp_response/valid-signed-response.xml")).unwrap();
    let assertion = fuzzing::sp_response(&response).unwrap();
    assert_eq!(assertion.name_id, "fuzz-subject-1");
    assert_eq!(assertion.attributes.len(), 3);
}
