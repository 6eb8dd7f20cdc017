//! Replays the committed `idcard_ocsp` fuzz corpus (`fuzz/corpus/idcard_ocsp/`) and crash inputs
//! (`fuzz/crashes/idcard_ocsp/`) through `idp_adapters::fuzzing::ocsp::ocsp_response`, the
//! function the fuzz target calls, so a regression shows up in `cargo test` without a fuzzing
//! toolchain.
//!
//! File names carry expectations: `valid-*` seeds must be accepted (a current, verified "good");
//! `hostile-<code>-*` seeds must be refused with exactly that code (`hostile-ocsp.stale-...`,
//! `hostile-idcard.ocsp_revoked-...`; the `ocsp.*` codes are `fuzzing::ocsp::OCSP_CODES`), and a
//! `hostile-` name without a code fails the test, so no hostile seed passes on just any error.
//! Every other file (what the fuzzer added) must not panic and must not be refused with a
//! sentence the code table lacks.
//!
//! The named seeds and the trust data they are signed with (`fuzz/seed-pki/ocsp/`) are made by
//! `ocsp_fuzz_seeds` (`tests/ocsp_fuzz_seeds/`) and written by
//! [`named_seeds_are_the_generated_ones`] only when `WRITE_OCSP_SEEDS=1` is set (see
//! fuzz/README.md); otherwise it checks the committed names are exactly the generator's. A
//! regeneration makes new keys, so the harness has to be rebuilt (any second `cargo test`) before
//! the replay passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use certs::seed_corpus::{expected_code, files_in, is_named, name_of};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use idp_adapters::fuzzing::ocsp::{self, UNLISTED};
use idp_adapters::idcard::OcspSigner;

mod ocsp_fuzz_seeds;

const TARGET: &str = "idcard_ocsp";

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn every_corpus_and_crash_input_is_handled_without_panic() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for kind in ["corpus", "crashes"] {
        for path in files_in(&fuzz_dir().join(kind).join(TARGET)).unwrap() {
            let data = std::fs::read(&path).unwrap();
            replayed += 1;
            match catch_unwind(AssertUnwindSafe(|| ocsp::ocsp_response(&data))) {
                Err(_) => failures.push(format!("{} panicked", path.display())),
                Ok(Err(code)) if code == UNLISTED => failures.push(format!(
                    "{}: refused with a sentence missing from fuzzing::ocsp::OCSP_CODES",
                    path.display()
                )),
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        replayed > 0,
        "no fuzz inputs under {}",
        fuzz_dir().display()
    );
}

#[test]
fn valid_seeds_are_accepted_and_hostile_seeds_refused_with_their_code() {
    let mut failures = Vec::new();
    let (mut valid, mut hostile) = (0, 0);
    for path in files_in(&fuzz_dir().join("corpus").join(TARGET)).unwrap() {
        let name = name_of(&path);
        let result = ocsp::ocsp_response(&std::fs::read(&path).unwrap());
        if name.starts_with("valid-") {
            valid += 1;
            if let Err(code) = result {
                failures.push(format!("{name}: refused with {code}"));
            }
        } else if name.starts_with("hostile-") {
            hostile += 1;
            match (result, expected_code(name)) {
                (_, None) => failures.push(format!("{name}: no expected code in the name")),
                (Ok(good), Some(_)) => failures.push(format!("{name}: accepted as {good:?}")),
                (Err(code), Some(want)) if code != want => {
                    failures.push(format!("{name}: refused with {code}, expected {want}"))
                }
                (Err(_), Some(_)) => {}
            }
        }
    }
    assert!(
        valid >= 5 && hostile >= 40,
        "{valid} valid, {hostile} hostile"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_valid_seeds_say_who_signed() {
    let corpus = fuzz_dir().join("corpus").join(TARGET);
    let signer = |name: &str| {
        let good = ocsp::ocsp_response(&std::fs::read(corpus.join(name)).unwrap()).unwrap();
        (good.signer, good.nonce_echoed)
    };
    assert_eq!(
        signer("valid-raw-good-by-the-issuer"),
        (OcspSigner::Issuer, true)
    );
    assert_eq!(
        signer("valid-raw-good-by-the-delegated-responder"),
        (OcspSigner::Delegated, true)
    );
    assert_eq!(
        signer("valid-raw-good-without-a-nonce"),
        (OcspSigner::Issuer, false)
    );
    assert_eq!(
        signer("valid-signed-good-by-the-delegated-responder"),
        (OcspSigner::Delegated, true)
    );
}

/// Without `WRITE_OCSP_SEEDS=1`: the named seeds on disk are exactly the ones the generator makes.
/// With it: writes the trust data and the named seeds (what the fuzzer added stays). Alone:
/// `WRITE_OCSP_SEEDS=1 cargo test -p idp-adapters --test ocsp_fuzz_corpus named_seeds_are_the_generated_ones`
#[test]
fn named_seeds_are_the_generated_ones() {
    let write = std::env::var_os("WRITE_OCSP_SEEDS").is_some_and(|v| v == "1");
    let pki = ocsp_fuzz_seeds::Pki::generate();
    let generated = ocsp_fuzz_seeds::all(&pki);
    let dir = fuzz_dir().join("corpus").join(TARGET);
    if write {
        pki.write_trust_data(&fuzz_dir().join("seed-pki/ocsp"));
        std::fs::create_dir_all(&dir).unwrap();
        for path in files_in(&dir).unwrap() {
            if is_named(name_of(&path)) {
                std::fs::remove_file(&path).unwrap();
            }
        }
        for (name, data) in &generated {
            std::fs::write(dir.join(name), data).unwrap();
        }
        return;
    }
    let want: BTreeSet<&str> = generated.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(want.len(), generated.len(), "a seed name is used twice");
    let files = files_in(&dir).unwrap();
    let have: BTreeSet<&str> = files
        .iter()
        .map(|p| name_of(p))
        .filter(|n| is_named(n))
        .collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let unknown: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "the named seeds differ from the generator's (rerun it, see fuzz/README.md): \
         missing {missing:?}, not generated {unknown:?}"
    );
}
